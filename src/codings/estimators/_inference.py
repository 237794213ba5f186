"""Batched inference from numpy to numpy: the one path every estimator method takes.

float64 input on CPU runs on a float64 twin of the network, so results do not depend on batch
size or row order beyond ~1e-15 (what scikit-learn's subset-invariance check needs); float32
input runs the float32 network itself. The twin is made once and cached on the module, keyed
by the parameters' version counters, so it is rebuilt only when the weights change (a new
fit, or your own in-place update), never per call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from codings.training.inference import INFERENCE_BATCH

_TWIN = "_codings_float64_twin"


def _weights_key(module: nn.Module) -> tuple[Any, ...]:
    tensors = [*module.parameters(), *module.buffers()]
    return tuple((id(t), t._version) for t in tensors)


def float64_twin(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` (eval mode), cached until its weights change."""
    key = _weights_key(module)
    cached = module.__dict__.get(_TWIN)
    if cached is not None and cached[0] == key:
        return cached[1]
    stash = module.__dict__.pop(_TWIN, None)
    try:
        twin = copy.deepcopy(module).double().eval()
    finally:
        if stash is not None:
            module.__dict__[_TWIN] = stash
    # A plain tuple in __dict__: not a registered submodule, so state_dict is unchanged.
    module.__dict__[_TWIN] = (key, twin)
    return twin


def module_for(module: nn.Module, dtype: np.dtype) -> tuple[nn.Module, torch.dtype]:
    """The module to run on ``dtype`` input, and the tensor dtype to feed it."""
    device = next(module.parameters()).device
    if np.dtype(dtype) == np.float64 and device.type == "cpu":
        return float64_twin(module), torch.float64
    return module.eval(), torch.float32


@torch.inference_mode()
def map_batches(module: nn.Module, X: np.ndarray, function: Callable[[Any, torch.Tensor], Any],
                out: np.ndarray | None = None, *, flatten: bool = True,
                out_dtype: Any = None) -> np.ndarray:
    """``function(module, x)`` over tensor batches of ``X``; numpy in X's float dtype out.

    With ``out`` (for example a memory-mapped array), each batch's result is written there as
    it is computed, so nothing of size ``n_samples`` is held in memory. ``flatten`` gives the
    function flat rows ``(batch, n_features)``.
    """
    net, dtype = module_for(module, X.dtype)
    device = next(net.parameters()).device
    if out_dtype is None:
        out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    for start in range(0, X.shape[0], INFERENCE_BATCH):
        batch = np.ascontiguousarray(X[start:start + INFERENCE_BATCH])
        if flatten:
            batch = batch.reshape(len(batch), -1)
        numpy_dtype = np.float64 if dtype == torch.float64 else np.float32
        if batch.dtype == numpy_dtype and batch.flags.writeable:
            x = torch.from_numpy(batch).to(device)  # no copy when nothing needs converting
        else:
            x = torch.tensor(batch, dtype=dtype, device=device)
        result = function(net, x).cpu().numpy()
        if out is None:
            # Results go straight into one array: keeping each batch's small result alive
            # would pin the allocator's heap between the batches' large temporaries (seen:
            # ~1 MB retained per 4,096-row batch, unbounded on a large file).
            out = np.empty((X.shape[0], *result.shape[1:]), dtype=out_dtype)
        out[start:start + len(result)] = result
    if out is None:  # no rows
        out = np.empty((0,), dtype=out_dtype)
    return out

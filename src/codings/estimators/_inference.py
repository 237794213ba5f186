"""Batched inference from numpy to numpy: the one path every estimator method takes.

Rows are read ``INFERENCE_BATCH`` at a time (bounded memory for memory maps and ``.npy``
paths) and pushed through the network in blocks of exactly ``GEMM_ROWS`` rows, the last one
padded. Every matrix product then has the same shape whatever the caller passed, and a row's
result depends only on that row: outputs are bit-identical for any batch size, row order or
subset (what scikit-learn's invariance checks ask), for float32 and float64 input alike.
(Products of different shapes pick different kernels, whose rounding differs by ~1e-7.)
Computation is float32, the dtype the network was trained in; outputs come back in the
input's float dtype. Measured on 784-300-150 with one thread: 256-row blocks ran 30% faster
than 4,096-row ones (they stay in cache), and float64 input costs only its conversion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from codings.training.inference import INFERENCE_BATCH

GEMM_ROWS = 256  # rows per network call: one shape for every product


def _fixed_blocks(function: Callable[[Any, torch.Tensor], Any], module: nn.Module,
                  x: torch.Tensor) -> torch.Tensor:
    """``function(module, x)`` in blocks of exactly ``GEMM_ROWS`` rows (last one padded)."""
    parts = []
    for start in range(0, x.shape[0], GEMM_ROWS):
        block = x[start:start + GEMM_ROWS]
        n = block.shape[0]
        if n < GEMM_ROWS:  # pad with copies of the first row: finite, in the data's range
            block = torch.cat([block, block[:1].expand(GEMM_ROWS - n, *block.shape[1:])])
        parts.append(function(module, block)[:n])
    return torch.cat(parts)


@torch.inference_mode()
def map_batches(module: nn.Module, X: np.ndarray, function: Callable[[Any, torch.Tensor], Any],
                out: np.ndarray | None = None, *, flatten: bool = True,
                out_dtype: Any = None,
                post: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                ) -> np.ndarray:
    """``function(module, x)`` over float32 tensor batches of ``X``; numpy out in X's float
    dtype (or ``out_dtype``).

    With ``out`` (for example a memory-mapped array), each batch's result is written there as
    it is computed, so nothing of size ``n_samples`` is held in memory. ``flatten`` gives the
    function flat rows ``(batch, n_features)``. ``post(result, x_in)``, when given, maps each
    batch's result together with the batch in the input's own precision (a reconstruction
    error of float64 rows is computed in float64, row by row).
    """
    module.eval()
    device = next(module.parameters()).device
    if out_dtype is None:
        out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    for start in range(0, X.shape[0], INFERENCE_BATCH):
        batch = np.ascontiguousarray(X[start:start + INFERENCE_BATCH])
        if flatten:
            batch = batch.reshape(len(batch), -1)
        x_in = batch
        if batch.dtype != np.float32 or not batch.flags.writeable:
            # One vectorised copy (torch.tensor(..., dtype=) converts 2.6x slower).
            batch = batch.astype(np.float32)
        x = torch.from_numpy(batch).to(device)  # no copy when nothing needs converting
        result_t = _fixed_blocks(function, module, x)
        if post is not None:
            precise = np.asarray(x_in, dtype=out_dtype) if x_in.dtype != out_dtype else x_in
            if not precise.flags.writeable:
                precise = precise.copy()
            result_t = post(result_t, torch.from_numpy(precise).to(device))
        result = result_t.cpu().numpy()
        if out is None:
            # Results go straight into one array: keeping each batch's small result alive
            # would pin the allocator's heap between the batches' large temporaries (seen:
            # ~1 MB retained per 4,096-row batch, unbounded on a large file).
            out = np.empty((X.shape[0], *result.shape[1:]), dtype=out_dtype)
        out[start:start + len(result)] = result
    if out is None:  # no rows
        out = np.empty((0,), dtype=out_dtype)
    return out

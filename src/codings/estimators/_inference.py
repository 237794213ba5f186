"""Batched inference from numpy to numpy: the one path every estimator method takes.

Rows are read ``INFERENCE_BATCH`` at a time (bounded memory for memory maps and ``.npy``
paths) and pushed through the network in blocks of ``GEMM_ROWS`` rows, the last one padded:
every product has one shape, which on this CPU ran 30% faster than 4,096-row products (the
blocks stay in cache).

float64 input gets float64 output whose rows do not depend on batch size, row order or
subset (what scikit-learn's invariance checks ask, to 1e-9). Two ways to that, chosen per
network, function and thread count:

- **float32 arithmetic** (the network's own weights; the input cast once): with every block
  the same shape, a row's float32 result does not depend on where it sits in the block or on
  the other rows *if* this CPU's kernels treat every row alike. That is probed, not assumed:
  once per (weights, function, row shape, threads), the function runs on a fixed random
  block, on the same block permuted and on a block with half its rows replaced, and the fast
  path is taken only if the shared rows come out bit-identical. Results then carry float32
  rounding (~1e-7 relative), the precision the weights were trained in, at float32 speed.
- **a float64 twin** of the network otherwise (and for functions that draw random numbers,
  which a probe would disturb): made once and cached on the module, keyed by the parameters'
  version counters, so it is rebuilt only when the weights change (a new fit, or your own
  in-place update), never per call; exact to ~1e-15, at float64 arithmetic's speed (about
  half of float32's on CPU).

float32 input always runs the float32 network itself.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from codings.training.inference import INFERENCE_BATCH

GEMM_ROWS = 256  # rows per network call: one shape for every product
_CACHE = "_codings_inference_cache"
_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


_uncached = itertools.count()


def _weights_key(module: nn.Module) -> tuple[Any, ...]:
    """Changes when any weight does: in place (the version counter), replaced, or moved to
    another dtype or device (the storage). Tensors made under ``torch.inference_mode`` keep
    no version counter: a model loaded there gets a key that never matches, so its caches
    are rebuilt per call rather than trusted stale. Writes through ``.data`` bypass the
    counter and are not seen."""
    tensors = [*module.parameters(), *module.buffers()]
    return tuple((id(t), t.data_ptr(), t.dtype, t.device,
                  next(_uncached) if t.is_inference() else t._version) for t in tensors)


def _cache(module: nn.Module) -> dict[Any, Any]:
    """What inference keeps per module and weights (the float64 twin, probe results),
    emptied when the weights change. A plain tuple in ``__dict__``: not a registered
    submodule, so ``state_dict`` is unchanged."""
    key = _weights_key(module)
    entry = module.__dict__.get(_CACHE)
    if entry is None or entry[0] != key:
        entry = (key, {})
        module.__dict__[_CACHE] = entry
    cache: dict[Any, Any] = entry[1]
    return cache


def float64_twin(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` (eval mode), cached until its weights change."""
    cache = _cache(module)
    if "twin" not in cache:
        stash = module.__dict__.pop(_CACHE)  # not copied into the twin
        try:
            cache["twin"] = copy.deepcopy(module).double().eval()
        finally:
            module.__dict__[_CACHE] = stash
    twin: nn.Module = cache["twin"]
    return twin


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled
        return None


def _function_key(function: Callable[..., Any]) -> tuple[Any, ...]:
    """The code a function runs and what its closure holds (closures made per call over the
    same objects share a key; two closures of one factory over different values do not);
    strings and integers only, so a fitted estimator still pickles."""
    code = getattr(function, "__code__", None)
    if code is None:
        return (repr(function),)
    cells = tuple(id(_contents(cell)) for cell in getattr(function, "__closure__", None) or ())
    return (code.co_filename, code.co_firstlineno, code.co_name,
            getattr(function, "__qualname__", ""), cells)


def rows_independent(module: nn.Module, function: Callable[[Any, torch.Tensor], Any],
                     row_shape: tuple[int, ...]) -> bool:
    """Whether ``function(module, block)`` in float32 gives every row a result that does
    not depend on its position in a ``GEMM_ROWS`` block or on the other rows (probed once
    per weights, function, row shape and thread count; see the module docstring)."""
    key = ("probe", _function_key(function), tuple(row_shape), torch.get_num_threads())
    cache = _cache(module)
    if key not in cache:
        net = module.eval()
        device = next(net.parameters()).device
        generator = torch.Generator().manual_seed(0)
        block = torch.rand((GEMM_ROWS, *row_shape), generator=generator)
        mixed = block.clone()
        mixed[::2] = torch.rand((GEMM_ROWS, *row_shape), generator=generator)[::2]
        order = torch.randperm(GEMM_ROWS, generator=generator)
        first, permuted, other = (function(net, b.to(device)) for b in (block, block[order],
                                                                         mixed))
        cache[key] = (torch.equal(permuted, first[order.to(first.device)])
                      and torch.equal(other[1::2], first[1::2]))
    return bool(cache[key])


def module_for(module: nn.Module, dtype: np.dtype,
               probe: tuple[Callable[[Any, torch.Tensor], Any], tuple[int, ...]] | None = None,
               ) -> tuple[nn.Module, np.dtype]:
    """The module to run on ``dtype`` input and the numpy dtype to feed it: float64 input
    on CPU runs in float32 when ``probe`` (a function and its row shape; None for functions
    that draw random numbers) passes :func:`rows_independent`, on the float64 twin
    otherwise."""
    device = next(module.parameters()).device
    if np.dtype(dtype) == np.float64 and device.type == "cpu" and (
            probe is None or not rows_independent(module, *probe)):
        return float64_twin(module), np.dtype(np.float64)
    return module.eval(), np.dtype(np.float32)


def _fixed_blocks(function: Callable[[Any, torch.Tensor], Any], module: nn.Module,
                  x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``function(module, x)`` in blocks of exactly ``GEMM_ROWS`` rows (last one padded),
    each block cast to ``dtype`` as it goes, into one reused buffer (while the block is in
    cache, and without a fresh allocation per block: casting whole batches first, or into
    new tensors, cost float64 input a tenth of its speed)."""
    parts = []
    buffer = None if x.dtype == dtype else torch.empty((GEMM_ROWS, *x.shape[1:]), dtype=dtype,
                                                       device=x.device)
    for start in range(0, x.shape[0], GEMM_ROWS):
        block = x[start:start + GEMM_ROWS]
        n = block.shape[0]
        if buffer is not None:
            block = buffer[:n].copy_(block)
        if n < GEMM_ROWS:  # pad with copies of the first row: finite, in the data's range
            block = torch.cat([block, block[:1].expand(GEMM_ROWS - n, *block.shape[1:])])
        result = function(module, block)[:n]
        if buffer is not None and _shares_memory(result, buffer):
            result = result.clone()  # a function that returns its input (an identity)
        parts.append(result)
    return torch.cat(parts)


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr())


@torch.inference_mode()
def map_batches(module: nn.Module, X: np.ndarray, function: Callable[[Any, torch.Tensor], Any],
                out: np.ndarray | None = None, *, flatten: bool = True,
                out_dtype: Any = None,
                post: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                draws_random: bool = False,
                probe: tuple[Callable[[Any, torch.Tensor], Any], tuple[int, ...]] | None = None,
                ) -> np.ndarray:
    """``function(module, x)`` over tensor batches of ``X``; numpy out in X's float dtype (or
    ``out_dtype``).

    With ``out`` (for example a memory-mapped array), each batch's result is written there as
    it is computed, so nothing of size ``n_samples`` is held in memory. ``flatten`` gives the
    function flat rows ``(batch, n_features)``. ``post(result, x_in)``, when given, maps each
    batch's result together with the batch in the input's own precision (a reconstruction
    error of float64 rows is computed in float64, row by row). ``draws_random``: the function
    draws random numbers, so float64 input runs on the twin without a probe. ``probe``:
    ``(function, row_shape)`` that decides the float64 path instead of ``function`` itself,
    so that every method of one model takes the same path (an autoencoder probes its whole
    round trip: then ``inverse_transform(transform(X))`` equals ``reconstruct(X)`` bit for
    bit in float32, and to float64 rounding on the twin).
    """
    if probe is None:
        probe = (function, (int(np.prod(X.shape[1:])),) if flatten else tuple(X.shape[1:]))
    net, compute = module_for(module, X.dtype, None if draws_random else probe)
    device = next(net.parameters()).device
    if out_dtype is None:
        out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    for start in range(0, X.shape[0], INFERENCE_BATCH):
        batch = np.ascontiguousarray(X[start:start + INFERENCE_BATCH])
        if flatten:
            batch = batch.reshape(len(batch), -1)
        x_in = batch
        blockwise = batch.dtype == np.float64 and compute == np.float32 and \
            batch.flags.writeable and device.type == "cpu"
        if not blockwise and (batch.dtype != compute or not batch.flags.writeable):
            # One vectorised copy (torch.tensor(..., dtype=) converts 2.6x slower).
            batch = batch.astype(compute)
        x = torch.from_numpy(batch).to(device)  # no copy when nothing needs converting
        result_t = _fixed_blocks(function, net, x, _TORCH_DTYPES[compute])
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

"""Where training batches come from: one in-memory tensor, or a memory-mapped array streamed
in shuffled chunks so that data larger than memory trains without being loaded whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

CHUNK_BYTES = 64 * 2**20  # per chunk copied out of the memory map


class Source(Protocol):
    """A training set: its size and, each epoch, its batches in a fresh random order."""

    n: int

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Any]: ...

    def ordered(self, batch_size: int) -> Iterator[Any]:
        """Every row once, in order (evaluation)."""
        ...

    def head(self, rows: int) -> TensorSource:
        """The first ``rows`` rows, in memory."""
        ...

    def rows_seen(self, world_size: int) -> int:
        """Rows one epoch visits, across ranks."""
        ...


def split_batches(perm: Tensor, batch_size: int) -> list[Tensor]:
    """The one batch splitter: consecutive slices of ``batch_size`` rows, except that a last
    batch of one row is folded into the one before (a 1-row batch breaks BatchNorm and
    gives a one-sample gradient), deterministically."""
    parts = list(perm.split(batch_size))
    if batch_size > 1 and len(parts) > 1 and parts[-1].shape[0] == 1:
        parts[-2:] = [torch.cat(parts[-2:])]
    return parts


def shard(perm: Tensor, batch_size: int, rank: int, world_size: int) -> Iterator[Tensor]:
    """This rank's rows of each global batch of ``batch_size * world_size`` rows.

    The permutation is truncated to a multiple of ``world_size`` so every rank gets the same
    number of rows in every step (a short last global batch is split evenly, and one that
    would give each rank a single row is folded into the one before).
    """
    if world_size == 1:
        yield from split_batches(perm, batch_size)
        return
    perm = perm[: perm.numel() - perm.numel() % world_size]
    for groups in split_batches(perm.view(-1, world_size), batch_size):
        yield groups.reshape(world_size, -1)[rank]  # rank r: the r-th block of the batch


def validation_split(n: int, fraction: float, generator: torch.Generator,
                     cap: int | None = None) -> tuple[Tensor, Tensor]:
    """The one rule for holding out validation rows: ``round(n * fraction)`` rows (at least
    one, at most ``n - 1`` and ``cap``), drawn first from the run's generator so that a
    resumed run splits the same way. Returns (training rows, validation rows)."""
    perm = torch.randperm(n, generator=generator)
    n_val = min(max(1, round(n * fraction)), n - 1)
    if cap is not None:
        n_val = min(n_val, cap)
    return perm[n_val:], perm[:n_val]


def rows_per_epoch(n: int, world_size: int) -> int:
    """Rows seen in one epoch by all ranks together."""
    return n - n % world_size


class TensorSource:
    """Batches by slicing a shuffled index of contiguous tensors (no per-sample work).

    With several tensors (inputs and targets), each batch is a tuple of their rows.
    """

    def __init__(self, *tensors: Tensor) -> None:
        self.tensors = tensors
        self.x = tensors[0]
        self.n = int(self.x.shape[0])

    def _take(self, rows: Tensor) -> Any:
        if len(self.tensors) == 1:
            return self.x.index_select(0, rows)
        return tuple(t.index_select(0, rows) for t in self.tensors)

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Any]:
        perm = torch.randperm(self.n, generator=generator).to(self.x.device)
        for rows in shard(perm, batch_size, rank, world_size):
            yield self._take(rows)

    def ordered(self, batch_size: int) -> Iterator[Any]:
        for start in range(0, self.n, batch_size):
            part = tuple(t[start:start + batch_size] for t in self.tensors)
            yield part[0] if len(part) == 1 else part

    def head(self, rows: int) -> TensorSource:
        return TensorSource(*(t[:rows] for t in self.tensors))

    def rows_seen(self, world_size: int) -> int:
        return rows_per_epoch(self.n, world_size)


class MemmapSource:
    """Streams rows of a (memory-mapped) 2-D array in shuffled chunks.

    Each epoch visits the chunks (contiguous row ranges of about ``CHUNK_BYTES``) in a random
    order and the rows of each chunk in a random order, so only one chunk is ever copied into
    process memory; the rest stays in the page cache, which the OS can drop.

    Parameters
    ----------
    array : ndarray or np.memmap of shape (n_rows, n_features)
    exclude : ndarray of int, optional
        Rows to leave out (a validation set).
    """

    def __init__(self, array: np.ndarray, device: torch.device, batch_size: int,
                 exclude: np.ndarray | None = None) -> None:
        self.array = array
        self.device = device
        row_bytes = max(int(np.prod(array.shape[1:])) * 4, 1)
        rows = max(batch_size, CHUNK_BYTES // row_bytes)
        self.chunk_rows = max(batch_size, rows - rows % batch_size)
        self.keep = None
        if exclude is not None and len(exclude):
            self.keep = np.ones(array.shape[0], dtype=bool)
            self.keep[exclude] = False
        self.n = int(array.shape[0] if self.keep is None else self.keep.sum())

    def _chunk(self, start: int) -> Tensor:
        stop = min(start + self.chunk_rows, self.array.shape[0])
        block = np.array(self.array[start:stop], dtype=np.float32)  # a private copy
        if self.keep is not None:
            block = block[self.keep[start:stop]]
        block = block.reshape(block.shape[0], -1)
        return torch.from_numpy(np.ascontiguousarray(block)).to(self.device)

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Tensor]:
        starts = torch.arange(0, self.array.shape[0], self.chunk_rows)
        for index in torch.randperm(len(starts), generator=generator).tolist():
            chunk = self._chunk(int(starts[index]))
            yield from TensorSource(chunk).batches(generator, batch_size, rank, world_size)

    def ordered(self, batch_size: int) -> Iterator[Tensor]:
        for start in range(0, self.array.shape[0], self.chunk_rows):
            yield from TensorSource(self._chunk(start)).ordered(batch_size)

    def head(self, rows: int) -> TensorSource:
        return TensorSource(self._chunk(0)[:rows])

    def rows_seen(self, world_size: int) -> int:
        """Rows per epoch across ranks: each chunk is truncated to a multiple of the ranks."""
        if world_size == 1:
            return self.n
        total = 0
        for start in range(0, self.array.shape[0], self.chunk_rows):
            stop = min(start + self.chunk_rows, self.array.shape[0])
            rows = stop - start if self.keep is None else int(self.keep[start:stop].sum())
            total += rows_per_epoch(rows, world_size)
        return total


def streamed_rows(array: np.ndarray, rows: np.ndarray) -> Tensor:
    """A float32 tensor of the given rows (sorted reads keep the memory map sequential)."""
    block = np.asarray(array[np.sort(rows)], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(block.reshape(len(rows), -1)))

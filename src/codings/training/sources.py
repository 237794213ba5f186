"""Where training batches come from: one in-memory tensor, or a memory-mapped array streamed
in shuffled chunks so that data larger than memory trains without being loaded whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

CHUNK_BYTES = 64 * 2**20  # per chunk copied out of the memory map


class Source(Protocol):
    """A training set: its size and, each epoch, its batches in a fresh random order."""

    n: int

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Tensor]: ...


def shard(perm: Tensor, batch_size: int, rank: int, world_size: int) -> Iterator[Tensor]:
    """This rank's rows of each global batch of ``batch_size * world_size`` rows.

    The permutation is truncated to a multiple of ``world_size`` so every rank gets the same
    number of rows in every step (a short last global batch is split evenly).
    """
    if world_size == 1:
        yield from perm.split(batch_size)
        return
    perm = perm[: perm.numel() - perm.numel() % world_size]
    for global_batch in perm.split(batch_size * world_size):
        yield global_batch.view(world_size, -1)[rank]


def rows_per_epoch(n: int, world_size: int) -> int:
    """Rows seen in one epoch by all ranks together."""
    return n - n % world_size


class TensorSource:
    """Batches by slicing a shuffled index of one contiguous tensor (no per-sample work)."""

    def __init__(self, x: Tensor) -> None:
        self.x = x
        self.n = int(x.shape[0])

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Tensor]:
        perm = torch.randperm(self.n, generator=generator).to(self.x.device)
        for rows in shard(perm, batch_size, rank, world_size):
            yield self.x.index_select(0, rows)


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

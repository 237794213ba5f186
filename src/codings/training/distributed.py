"""Training on several processes and machines with ``torchrun`` (DistributedDataParallel).

Under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``) the same code trains with DDP: gloo on CPU, nccl on GPU. Every rank draws the
same permutation each epoch (same seed), truncates it to a multiple of the number of
processes, and takes its own ``batch_size`` rows of every global batch of
``batch_size * world_size`` rows; DDP averages the gradients, so the update equals one
process stepping on the global batch. Loss terms are summed across ranks once per epoch.
Without ``torchrun`` nothing changes.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    created_group: bool  # this library initialised the process group, so it tears it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_main_process() -> bool:
    """True outside ``torchrun`` and on rank 0: the one process that writes files."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def device_for_rank(device: torch.device) -> torch.device:
    """Each process on a machine gets its own GPU (``LOCAL_RANK``); CPU stays CPU."""
    if device.type == "cuda" and device.index is None and launched_by_torchrun():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def setup(device: torch.device) -> DistContext | None:
    """Join the process group when launched by torchrun; None otherwise."""
    if not launched_by_torchrun() or not dist.is_available():
        return None
    created = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        created = True
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                       created_group=created)


def wrap(module: nn.Module, context: DistContext | None, device: torch.device) -> nn.Module:
    if context is None:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # No buffer sync in each forward pass: every rank starts from the same seed, and a
    # user's BatchNorm keeps per-rank statistics as in plain DDP usage. torch >= 2.12 names
    # this forward_sync_buffers (broadcast_buffers is deprecated there).
    import inspect

    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def all_reduce_sum(values: Tensor, context: DistContext | None) -> Tensor:
    if context is not None:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def teardown(wrapper: nn.Module | None, context: DistContext | None) -> None:
    """Drop the DDP wrapper before destroying the group: gloo threads still holding tensors
    at interpreter exit have crashed rank 1 after correct runs."""
    if context is None:
        return  # nothing distributed was set up: nothing to collect or destroy
    del wrapper
    gc.collect()
    if context.created_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

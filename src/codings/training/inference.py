"""Batched inference on tensors: the one helper that runs a function over a bounded number
of rows at a time, without gradients and in eval mode."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

INFERENCE_BATCH = 4096  # rows per call: bounded memory, large enough to keep kernels busy


@torch.no_grad()
def batched(function: Callable[[Tensor], Tensor], x: Tensor,
            batch_size: int = INFERENCE_BATCH) -> Tensor:
    """``function(x)`` computed ``batch_size`` rows at a time and concatenated.

    A module ``function`` runs in eval mode (restored afterwards), so corruption and
    dropout are off.
    """
    module = function if isinstance(function, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        return torch.cat([function(x[start:start + batch_size])
                          for start in range(0, x.shape[0], batch_size)])
    finally:
        if module is not None:
            module.train(was_training)

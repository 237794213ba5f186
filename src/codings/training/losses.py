"""Reconstruction losses, per sample, so training, scoring and anomaly detection share them."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from codings._params import LOSSES  # the table is the source

__all__ = ["LOSSES", "reconstruction_error"]


def reconstruction_error(x_hat: Tensor, x: Tensor, loss: str, reduction: str = "mean") -> Tensor:
    """Per-sample reconstruction error, shape ``(N,)``.

    ``loss="bce"`` treats ``x_hat`` as logits: ``binary_cross_entropy_with_logits`` is stable
    where ``sigmoid`` followed by ``log`` would give ``-inf``. ``reduction`` says whether the
    per-feature errors are averaged ("mean", the chapter's MSE) or summed ("sum", a negative
    log-likelihood in nats per sample for variational models).
    """
    if loss == "bce":
        per_feature = F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")
    else:
        per_feature = (x_hat - x).square()
    flat = per_feature.reshape(per_feature.shape[0], -1)
    return flat.sum(dim=1) if reduction == "sum" else flat.mean(dim=1)

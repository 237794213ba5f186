"""Sparsity: push the batch-mean activation of each coding unit towards a small target.

KL (Ng, "Sparse autoencoder", CS294A lecture notes, 2011; Géron eq. 15-1): with
``q_j = mean_batch z_j`` clamped to ``[eps, 1 - eps]`` and target ``p``,
``penalty = weight * sum_j [p log(p / q_j) + (1 - p) log((1 - p) / (1 - q_j))]``.
L1 (activity regularisation): ``penalty = weight * sum_j mean_batch |z_j|``.
KL needs activations in (0, 1): use ``coding_activation="sigmoid"``; otherwise the mean is
clamped, which keeps the loss finite but is rarely what you want, so ``build`` warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from codings.constraints.base import Constraint
from codings.nn.module import AutoEncoderModule, Output

KINDS = ("kl", "l1")
EPS = 1e-7


def kl_divergence(target: float, q: Tensor) -> Tensor:
    """Summed Bernoulli KL(target || q) over units; ``q`` is clamped into (0, 1)."""
    q = q.clamp(EPS, 1 - EPS)
    p = torch.as_tensor(target, dtype=q.dtype, device=q.device)
    return (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum()


@dataclass(frozen=True)
class Sparsity(Constraint, name="sparsity"):
    """Penalise coding activations: ``kind="kl"`` towards ``target``, or ``kind="l1"``."""

    weight_parameter = "weight"  # named when its penalty makes training diverge

    kind: str = "kl"
    target: float = 0.1
    weight: float = 0.2

    layerwise = "last"  # a property of the codings, not of hidden layers
    incompatible: ClassVar[dict[str, str]] = {
        "variational": "a Gaussian coding has no activation in (0, 1) to make sparse; use "
                       "Sparsity on a deterministic autoencoder."}

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be 'kl' or 'l1', got {self.kind!r}")
        if not 0 < self.target < 1:
            raise ValueError(f"target must be in (0, 1), got {self.target!r}")
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight!r}")

    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        last = list(module.encoder.modules())[-1]
        if self.kind == "kl" and not isinstance(last, nn.Sigmoid):
            warnings.warn(
                "Sparsity(kind='kl') needs coding activations in (0, 1), but the encoder "
                f"does not end in a sigmoid (it ends in {type(last).__name__}); the mean "
                "activations will be clamped to [1e-7, 1 - 1e-7]. Set "
                "coding_activation='sigmoid'.", UserWarning, stacklevel=2)

    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        if self.kind == "kl":
            value = kl_divergence(self.target, out.z.mean(dim=0))
        else:
            value = out.z.abs().mean(dim=0).sum()
        return {"sparsity": self.weight * value}

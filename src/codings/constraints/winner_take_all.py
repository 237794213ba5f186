"""Winner-take-all: lifetime sparsity over the batch.

Makhzani & Frey, "Winner-take-all autoencoders", NeurIPS 2015. In training, each coding unit
keeps its ``ceil(k * batch_size)`` largest activations across the batch and the rest are set
to zero: ``z_bj <- z_bj * [z_bj >= kth_largest_b'(z_b'j)]``. In eval mode the coding is left
alone, so ``transform`` is deterministic and dense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from codings.constraints.base import Constraint
from codings.nn.module import Output


@dataclass(frozen=True)
class WinnerTakeAll(Constraint, name="winner_take_all"):
    """Keep each unit's top ``k`` fraction of activations across the batch (training only)."""

    k: float = 0.05

    layerwise = "last"
    incompatible: ClassVar[dict[str, str]] = {
        "variational": "zeroing most of a Gaussian coding breaks the reparameterisation; "
                       "winner-take-all needs a deterministic coding."}

    def __post_init__(self) -> None:
        if not 0 < self.k <= 1:
            raise ValueError(f"k must be in (0, 1], got {self.k!r}")

    def latent(self, out: Output, training: bool, generator: torch.Generator | None) -> Tensor:
        z = out.z
        if not training:
            return z
        # The small slack keeps float error (0.07 * 100 = 7.000000000000001) from adding one.
        keep = max(1, math.ceil(self.k * z.shape[0] - 1e-9))
        # Indices (not a threshold) so ties never keep more than `keep` per unit.
        winners = z.topk(keep, dim=0).indices
        mask = torch.zeros_like(z).scatter_(0, winners, 1.0)
        return z * mask

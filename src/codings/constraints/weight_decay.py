"""Weight decay: an L2 penalty on weights only, never on biases.

As in the chapter's regularised stacks (TensorFlow's ``l2_regularizer``):
``penalty = l2 * sum_W ||W||_F^2 / 2`` over every weight matrix and convolution kernel.
Tied weights are counted once, since they are one parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from codings.constraints.base import Constraint
from codings.nn.module import AutoEncoderModule, Output


@dataclass(frozen=True)
class WeightDecay(Constraint, name="weight_decay"):
    """``l2 * sum(W ** 2) / 2`` over weights (tensors with 2 or more dimensions)."""

    weight_parameter = "l2"  # named when its penalty makes training diverge

    l2: float = 1e-4

    def __post_init__(self) -> None:
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2!r}")

    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        # The autoencoder's weights only: a constraint's own network (an adversarial
        # discriminator, trained by its own step) is not the autoencoder's to regularise.
        auxiliary = {id(p) for c in module.constraints for p in c.auxiliary_parameters(module)}
        weights = [p for p in module.parameters() if p.dim() > 1 and id(p) not in auxiliary]
        total = torch.stack([w.square().sum() for w in weights]).sum()
        return {"weight_decay": 0.5 * self.l2 * total}

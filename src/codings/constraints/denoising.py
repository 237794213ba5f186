"""Denoising: corrupt the input in training, reconstruct the clean one.

Vincent, Larochelle, Bengio & Manzagol, "Extracting and composing robust features with
denoising autoencoders", ICML 2008. Gaussian noise: ``x_tilde = x + std * eps``, eps ~ N(0, I).
Dropout (masking) noise: ``x_tilde = x * m / (1 - rate)``, m ~ Bernoulli(1 - rate), the
inverted-dropout scaling so the expected input is unchanged. The loss compares ``x_hat``
with the clean ``x``; in eval mode nothing is corrupted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from codings.constraints.base import Constraint

NOISES = ("gaussian", "dropout")


@dataclass(frozen=True)
class Denoising(Constraint, name="denoising"):
    """Corrupt training inputs with Gaussian noise (``std``) or dropout (``rate``)."""

    noise: str = "gaussian"
    std: float | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if self.noise not in NOISES:
            raise ValueError(f"noise must be 'gaussian' or 'dropout', got {self.noise!r}")
        if self.noise == "gaussian":
            if self.rate is not None:
                raise ValueError("rate applies to noise='dropout'; use std for Gaussian noise")
            if self.std is not None and not self.std > 0:
                raise ValueError(f"std must be > 0, got {self.std!r}")
        else:
            if self.std is not None:
                raise ValueError("std applies to noise='gaussian'; use rate for dropout")
            if self.rate is not None and not 0 < self.rate < 1:
                raise ValueError(f"rate must be in (0, 1), got {self.rate!r}")

    @property
    def resolved_std(self) -> float:
        return 0.1 if self.std is None else float(self.std)

    @property
    def resolved_rate(self) -> float:
        return 0.3 if self.rate is None else float(self.rate)

    def corrupt(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.noise == "gaussian":
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            return x + self.resolved_std * eps.to(x.device)
        keep = 1.0 - self.resolved_rate
        mask = torch.rand(x.shape, generator=generator, dtype=x.dtype) < keep
        return x * mask.to(x.device) / keep

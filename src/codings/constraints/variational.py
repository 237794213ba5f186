"""Variational: a Gaussian coding with a standard normal prior (VAE and beta-VAE).

Kingma & Welling, "Auto-encoding variational Bayes", ICLR 2014; beta-VAE: Higgins et al.,
ICLR 2017. The encoder outputs ``mu`` and ``log_var`` (two linear heads); in training
``z = mu + exp(log_var / 2) * eps`` with eps ~ N(0, I), in eval mode ``z = mu``.
``loss = sum_features NLL(x | x_hat) + beta * KL``, with
``KL = 1/2 * sum_j (mu_j^2 + exp(log_var_j) - 1 - log_var_j)``, both per sample and
averaged over the batch, so the figures are nats per sample. ``log_var`` is clamped to
[-30, 20] so ``exp`` cannot overflow in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from codings.constraints.base import Constraint
from codings.exceptions import InvalidInputError
from codings.nn.layers import init_linear
from codings.nn.module import AutoEncoderModule, Output

LOG_VAR_MIN, LOG_VAR_MAX = -30.0, 20.0


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """Per-sample KL(N(mu, exp(log_var)) || N(0, I)), summed over coding units."""
    return 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)


@dataclass(frozen=True)
class Variational(Constraint, name="variational"):
    """Gaussian codings; ``beta`` weighs the KL term (1 is the VAE, > 1 a beta-VAE)."""

    weight_parameter = "beta"  # named when its penalty makes training diverge

    beta: float = 1.0

    reconstruction_reduction = "sum"
    build_order = 0  # reshape the coding head before anything reads it
    layerwise = "refuse"

    def __post_init__(self) -> None:
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")

    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        """Replace the encoder's last Linear by a head of twice the width (mu, log_var)."""
        encoder = module.encoder
        if not module.builtin:
            return  # your own encoder outputs 2 * n_components columns (mu, log_var) itself
        children = list(encoder.children())
        last = max((i for i, m in enumerate(children) if isinstance(m, nn.Linear)),
                   default=None)
        if last is None:
            raise InvalidInputError("Variational needs an encoder whose coding layer is an "
                                    "nn.Linear, to give it mu and log_var heads.")
        coding = children[last]
        assert isinstance(coding, nn.Linear)
        head = nn.Linear(coding.in_features, 2 * coding.out_features)
        init_linear(head, "glorot", module.generator)
        # The heads are linear: mu and log_var take any real value.
        module.encoder = nn.Sequential(*children[:last], head).to(coding.weight.device)

    def latent(self, out: Output, training: bool, generator: torch.Generator | None) -> Tensor:
        if out.h.shape[1] % 2:
            raise InvalidInputError(
                f"Variational needs the encoder to output 2 * n_components columns (mu and "
                f"log_var); it outputs {out.h.shape[1]}.")
        mu, log_var = out.h.chunk(2, dim=1)
        out.mu, out.log_var = mu, log_var.clamp(LOG_VAR_MIN, LOG_VAR_MAX)
        if not training:
            return mu
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        return mu + torch.exp(0.5 * out.log_var) * eps

    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        assert out.mu is not None and out.log_var is not None  # set by latent()
        return {"kl": self.beta * gaussian_kl(out.mu, out.log_var).mean()}

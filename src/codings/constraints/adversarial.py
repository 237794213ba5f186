"""Adversarial: a discriminator makes the codings' aggregate distribution match a prior.

Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial autoencoders", arXiv:1511.05644
(2015). A discriminator ``D`` (an MLP from a coding to one logit) learns to tell draws
``z_p ~ p(z)`` of the prior from codings ``z = encoder(x)``, and the encoder learns to fool it,
so that ``q(z) = E_x[q(z | x)]`` matches ``p(z)`` and decoding prior draws generates data.
Each batch alternates two steps (the GAN objective of Goodfellow et al., 2014, with the
non-saturating generator loss):

- the autoencoder step minimises ``reconstruction + weight * L_G`` over the encoder and the
  decoder, with ``L_G = mean_b BCE(D(z_b), 1) = mean_b softplus(-D(z_b))`` (the "generator"
  term; the reconstruction is the per-feature mean for MSE/BCE, as ``history_`` reports it);
- the discriminator step minimises
  ``L_D = 1/2 [mean_b BCE(D(z_p,b), 1) + mean_b BCE(D(z_b), 0)]`` over ``D``'s parameters
  only, with ``z`` detached (the "discriminator" term; log 2 = 0.693 when ``D`` cannot tell),
  plus the R1 gradient penalty ``gradient_penalty / 2 * mean_b ||grad_z D(z_p,b)||^2`` on the
  prior draws (Mescheder, Geiger & Nowozin, "Which training methods for GANs do actually
  converge?", ICML 2018; the "gradient_penalty" term). Without it the cloud of codings tends
  to orbit the prior as one tight cluster instead of spreading over it: on the digits, 2 to 4
  seeds in 10 ended collapsed; with it, none of 10 did.

Priors (``d`` coding units):

- ``"normal"``: ``N(0, I_d)``;
- ``"mixture"``: ``n_modes`` Gaussians with means on a ring of radius 2 in the plane of the
  first two units, ``mean_k = 2 (cos 2 pi k / K, sin 2 pi k / K, 0, ..., 0)``, standard deviation
  0.3 in that plane and 1 along the other units (the paper's 10-component 2-D mixture when
  ``d = 2``; neighbouring modes are more than 4 standard deviations apart);
- ``"uniform"``: uniform on ``[-1, 1]^d``.

The coding layer is linear whatever ``coding_activation`` says: a bounded activation (sigmoid,
tanh) cannot reach a prior with unbounded support and a rectifier cannot reach its negative
half, so ``build`` drops the built-in encoder's last activation (as under ``Variational``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codings.constraints.base import Constraint
from codings.exceptions import InvalidInputError
from codings.nn.layers import init_linear
from codings.nn.module import AutoEncoderModule, Output

PRIORS = ("normal", "mixture", "uniform")
MIXTURE_RADIUS, MIXTURE_STD = 2.0, 0.3
_WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)


def draw_prior(prior: str, n: int, d: int, generator: torch.Generator | None,
               n_modes: int = 10) -> Tensor:
    """``n`` draws of the ``d``-dimensional prior, float32 on the CPU (see the module doc)."""
    if prior == "uniform":
        return 2.0 * torch.rand(n, d, generator=generator) - 1.0
    z = torch.randn(n, d, generator=generator)
    if prior == "mixture":
        angle = 2 * math.pi / n_modes * torch.randint(n_modes, (n,), generator=generator)
        centre = MIXTURE_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1)
        z[:, :2] = centre + MIXTURE_STD * z[:, :2]
    return z


def coding_size(encoder: nn.Module) -> int | None:
    """Width of the encoder's last ``nn.Linear`` (the coding layer), or None."""
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def make_discriminator(n_components: int, width: int, layers: int,
                       generator: torch.Generator | None) -> nn.Sequential:
    """``n_components -> width (x layers, leaky ReLU) -> 1 logit``, He-initialised."""
    sizes = [n_components] + [width] * layers
    modules: list[nn.Module] = []
    for n_in, n_out in pairwise(sizes):
        linear = nn.Linear(n_in, n_out)
        init_linear(linear, "he", generator)
        modules += [linear, nn.LeakyReLU(0.2)]
    head = nn.Linear(sizes[-1], 1)
    init_linear(head, "glorot", generator)
    return nn.Sequential(*modules, head)


@dataclass(frozen=True)
class Adversarial(Constraint, name="adversarial"):
    """Match the codings' distribution to ``prior`` with a discriminator (an AAE).

    Parameters
    ----------
    prior : {"normal", "mixture", "uniform"}, default="normal"
        The distribution the codings are pushed towards and :meth:`sample_prior` draws from.
    weight : float, default=1.0
        Multiplies the generator loss against the per-feature reconstruction loss.
    discriminator_width, discriminator_layers : int, default=64 and 2
        The discriminator's hidden layers (``layers`` of ``width`` units, leaky ReLU).
    learning_rate : float, default=5e-3
        Of the discriminator's Adam (betas 0.5, 0.999 as for GANs); faster than the
        autoencoder's 1e-3, so the discriminator stays close to its best response.
    gradient_penalty : float, default=1.0
        Weight of the R1 penalty on the discriminator's gradient at prior draws (0: none).
    n_modes : int, default=10
        Components of the ``"mixture"`` prior.
    """

    prior: str = "normal"
    weight: float = 1.0
    discriminator_width: int = 64
    discriminator_layers: int = 2
    learning_rate: float = 5e-3
    gradient_penalty: float = 1.0
    n_modes: int = 10

    build_order = 0  # make the coding layer linear before anything reads the encoder
    # Layer-wise phases learn reconstruction only; the prior is matched in fine-tuning.
    layerwise = "skip"
    weight_parameter = "weight"
    incompatible: ClassVar[dict[str, str]] = {
        "variational": "both put a prior on the codings (a KL term on a Gaussian posterior "
                       "versus a discriminator); use one of them.",
        "sparsity": "sparsity pulls the codings towards zero or a small mean in (0, 1), "
                    "against the prior the discriminator matches; use one of them.",
        "winner_take_all": "zeroing most codings in training makes them unlike any "
                           "continuous prior; use one of them.",
        "coding_noise": "coding noise saturates a sigmoid coding layer to binary codes, but "
                        "an adversarial coding is linear and matched to a continuous prior.",
    }

    def __post_init__(self) -> None:
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(map(repr, PRIORS))}, "
                             f"got {self.prior!r}")
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight!r}")
        for name in ("discriminator_width", "discriminator_layers", "n_modes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.gradient_penalty >= 0:
            raise ValueError(f"gradient_penalty must be >= 0, got {self.gradient_penalty!r}")

    # -- building --------------------------------------------------------------------------
    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        """Drop the coding activation and attach ``module.discriminator``."""
        if module.builtin:
            children = list(module.encoder.children())
            last = max((i for i, m in enumerate(children) if isinstance(m, _WEIGHT_LAYERS)),
                       default=len(children) - 1)
            module.encoder = nn.Sequential(*children[:last + 1])
        d = coding_size(module.encoder)
        if d is None:
            raise InvalidInputError("Adversarial needs an encoder whose coding layer is an "
                                    "nn.Linear, to size its discriminator.")
        if self.prior == "mixture" and d < 2:
            raise InvalidInputError("Adversarial(prior='mixture') places its modes on a ring "
                                    "in the first two coding units: use n_components >= 2.")
        device = next(module.encoder.parameters()).device
        module.discriminator = make_discriminator(
            d, self.discriminator_width, self.discriminator_layers, module.generator).to(device)

    def sample_prior(self, n: int, n_components: int,
                     generator: torch.Generator | None) -> Tensor:
        """``n`` draws from the prior, shape ``(n, n_components)``, float32 on the CPU."""
        return draw_prior(self.prior, n, n_components, generator, self.n_modes)

    # -- the two losses --------------------------------------------------------------------
    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        logits = discriminate(module, out.z)
        return {"generator": self.weight * F.softplus(-logits).mean()}

    def auxiliary_parameters(self, module: AutoEncoderModule) -> list[nn.Parameter]:
        return list(discriminator_of(module).parameters())

    def auxiliary_optimizer(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(parameters, lr=self.learning_rate, betas=(0.5, 0.999))

    def auxiliary_loss(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        z = out.z.detach()
        z_prior = self.sample_prior(z.shape[0], z.shape[1], module.generator).to(z.device)
        penalise = self.gradient_penalty > 0 and torch.is_grad_enabled()
        z_prior.requires_grad_(penalise)
        real, fake = discriminate(module, z_prior), discriminate(module, z)
        # BCE(l, 1) = softplus(-l) and BCE(l, 0) = softplus(l), stable for any logit.
        terms = {"discriminator": 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean())}
        if penalise:
            (grad,) = torch.autograd.grad(real.sum(), z_prior, create_graph=True)
            terms["gradient_penalty"] = 0.5 * self.gradient_penalty * grad.square().sum(1).mean()
        return terms


def discriminator_of(module: AutoEncoderModule) -> nn.Module:
    discriminator = module.discriminator
    assert isinstance(discriminator, nn.Module)  # attached by Adversarial.build
    return discriminator


def discriminate(module: AutoEncoderModule, z: Tensor) -> Tensor:
    """``D(z)``, shape ``(N,)``, in the discriminator's own dtype (float32 under autocast)."""
    discriminator = discriminator_of(module)
    dtype = next(discriminator.parameters()).dtype
    return discriminator(z.to(dtype)).squeeze(1)

"""Activations, initialisation and the MLP encoder/decoder builders."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from codings import _params

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}
INITS = _params.INITS  # the parameter table is the source
# He init keeps the variance of rectifier-like units; Glorot suits symmetric saturating ones.
_HE_ACTIVATIONS = frozenset({"relu", "elu", "selu"})


def make_activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def resolve_init(init: str, activation: str) -> str:
    if init != "auto":
        return init
    return "he" if activation in _HE_ACTIVATIONS else "glorot"


def init_linear(layer: nn.Linear | nn.modules.conv._ConvNd, scheme: str,
                generator: torch.Generator | None = None) -> None:
    """Initialise weights with He normal or Glorot uniform, biases with zeros."""
    if layer.weight.is_meta:
        # A shapes-only build (load checks a file's architecture this way): there are no
        # values to draw, and drawing on meta tensors with a generator would import torch's
        # compiler (seconds) for nothing.
        return
    with torch.no_grad():
        if scheme == "he":
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
        else:
            nn.init.xavier_uniform_(layer.weight, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()


def dense_stack(sizes: Sequence[int], activations: Sequence[str], init: Sequence[str],
                generator: torch.Generator | None = None) -> nn.Sequential:
    """Linear layers ``sizes[i] -> sizes[i+1]``, each followed by ``activations[i]``.

    ``init[i]`` names the scheme of layer ``i`` ("he" or "glorot"). Identity activations are
    left out so that ``print(module)`` stays short and tied-weight lookups find Linear layers
    at predictable positions via :func:`linear_layers`.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        linear = nn.Linear(n_in, n_out)
        init_linear(linear, init[i], generator)
        layers.append(linear)
        if activations[i] != "identity":
            layers.append(make_activation(activations[i]))
    return nn.Sequential(*layers)


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``module`` in forward order."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def build_mlp(n_features: int, hidden_layer_sizes: Sequence[int], n_components: int,
              activation: str, coding_activation: str, output_activation: str, init: str,
              generator: torch.Generator | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder ``n_features -> hidden... -> n_components`` and its mirrored decoder."""
    hidden = list(hidden_layer_sizes)
    enc_sizes = [n_features, *hidden, n_components]
    enc_acts = [activation] * len(hidden) + [coding_activation]
    dec_sizes = enc_sizes[::-1]
    dec_acts = [activation] * len(hidden) + [output_activation]
    enc_init = [resolve_init(init, a) for a in enc_acts]
    dec_init = [resolve_init(init, a) for a in dec_acts]
    encoder = dense_stack(enc_sizes, enc_acts, enc_init, generator)
    decoder = dense_stack(dec_sizes, dec_acts, dec_init, generator)
    return encoder, decoder


class GaussianNoise(nn.Module):
    """``x + std * eps``, eps ~ N(0, I), in training mode; the identity in eval mode.

    Draws from ``generator`` (the model's own), so training stays reproducible without
    touching torch's global RNG. It has no parameters or buffers.
    """

    def __init__(self, std: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.std = std
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        eps = torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return x + self.std * eps.to(x.device)

    def extra_repr(self) -> str:
        return f"std={self.std}"

"""Contractive: penalise the sensitivity of the coding to the input.

Rifai, Vincent, Muller, Glorot & Bengio, "Contractive auto-encoders: explicit invariance
during feature extraction", ICML 2011. With ``J(x) = dh/dx`` the encoder's Jacobian,
``penalty = weight * mean_batch ||J(x)||_F^2``. For a one-layer encoder
``h = s(W x + b)`` with an elementwise activation ``s`` the norm has the closed form
``sum_j s'(a_j)^2 * sum_i W_ji^2`` (for a sigmoid ``s' = h (1 - h)``), one pass with no extra
backward; any other encoder uses autograd, one backward pass per coding unit. For a
variational encoder the Jacobian is that of the mean ``mu``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from codings.constraints.base import Constraint
from codings.nn.module import AutoEncoderModule, Output

# Derivative of the activation, written in terms of its output h or its input a.
_DERIVATIVES: dict[type[nn.Module], Callable[[Tensor, Tensor], Tensor]] = {
    nn.Sigmoid: lambda a, h: h * (1 - h),
    nn.Tanh: lambda a, h: 1 - h.square(),
    nn.Identity: lambda a, h: torch.ones_like(h),
    nn.ReLU: lambda a, h: (a > 0).to(h.dtype),
}


def _one_layer(encoder: nn.Module) -> tuple[nn.Linear, nn.Module] | None:
    layers = list(encoder.children()) if isinstance(encoder, nn.Sequential) else []
    if len(layers) == 1 and isinstance(layers[0], nn.Linear):
        return layers[0], nn.Identity()
    if (len(layers) == 2 and isinstance(layers[0], nn.Linear)
            and type(layers[1]) in _DERIVATIVES):
        return layers[0], layers[1]
    return None


def jacobian_norm_closed_form(linear: nn.Linear, activation: nn.Module, x: Tensor) -> Tensor:
    """Per-sample ``||dh/dx||_F^2`` for ``h = activation(linear(x))``."""
    a = linear(x)
    h = activation(a)
    slope = _DERIVATIVES[type(activation)](a, h)
    return slope.square() @ linear.weight.square().sum(dim=1)


def jacobian_norm_autograd(encode: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Per-sample ``||dh/dx||_F^2`` by one backward pass per output unit.

    Samples do not interact in the encoder, so the gradient of ``h[:, j].sum()`` with
    respect to ``x`` holds row ``j`` of every sample's Jacobian at once.
    """
    x = x.detach().requires_grad_(True)
    h = encode(x)
    total = x.new_zeros(x.shape[0])
    for j in range(h.shape[1]):
        (row,) = torch.autograd.grad(h[:, j].sum(), x, create_graph=True)
        total = total + row.reshape(x.shape[0], -1).square().sum(dim=1)
    return total


@dataclass(frozen=True)
class Contractive(Constraint, name="contractive"):
    """``weight * mean ||J_encoder(x)||_F^2``."""

    weight_parameter = "weight"  # named when its penalty makes training diverge

    weight: float = 0.1

    def __post_init__(self) -> None:
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight!r}")

    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        with torch.enable_grad():  # evaluation runs under no_grad; the Jacobian needs autograd
            x = out.x_tilde
            one_layer = _one_layer(module.encoder) if out.mu is None else None
            if one_layer is not None:
                norms = jacobian_norm_closed_form(*one_layer, x)
            else:
                width = out.mu.shape[1] if out.mu is not None else None
                norms = jacobian_norm_autograd(lambda v: module.encoder(v)[:, :width], x)
        return {"contractive": self.weight * norms.mean()}

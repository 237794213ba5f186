"""The autoencoder module: encoder, constraints, decoder, and the record a forward pass returns.

Symbols (used the same way in every constraint): ``x`` the clean input, ``x_tilde`` the
(possibly corrupted) input the encoder sees, ``h`` the encoder output, ``z`` the coding,
``mu`` and ``log_var`` the Gaussian coding parameters of a variational model, ``x_hat`` the
decoder output (logits when the reconstruction loss is binary cross-entropy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn


@dataclass
class Output:
    """Everything one forward pass produced; constraints read and extend it."""

    x: Tensor
    x_tilde: Tensor
    h: Tensor
    z: Tensor
    x_hat: Tensor
    mu: Tensor | None = None
    log_var: Tensor | None = None
    penalties: dict[str, Tensor] = field(default_factory=dict)


class Constraint(Protocol):
    """The hooks the module calls; :class:`codings.constraints.Constraint` implements them."""

    build_order: int

    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None: ...
    def corrupt(self, x: Tensor, generator: torch.Generator | None) -> Tensor: ...
    def latent(self, out: Output, training: bool, generator: torch.Generator | None) -> Tensor: ...
    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]: ...


class AutoEncoderModule(nn.Module):
    """``x -> corrupt -> encoder -> latent -> decoder -> x_hat``, with constraint penalties.

    Parameters
    ----------
    encoder, decoder : nn.Module
        Any modules with ``decoder(encoder(x)).shape == x.shape`` once the constraints'
        ``build`` hooks have adjusted them.
    constraints : sequence of Constraint
        Applied in order; each ``build`` hook runs once here.
    generator : torch.Generator, optional
        Source of randomness for corruption and sampling, so training is reproducible
        without touching torch's global RNG.
    builtin : bool, default=False
        True for the library's own architectures, which constraints may reshape (the
        variational heads); your own encoder is left as it is.

    Shape
    -----
    - Input: ``(N, *input_shape)``
    - Output: an :class:`Output` whose ``z`` is ``(N, n_components)`` for the built-in
      architectures and whose ``x_hat`` has the input's shape.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 constraints: Sequence[Any] = (),
                 generator: torch.Generator | None = None, builtin: bool = False) -> None:
        super().__init__()
        self.builtin = builtin
        self.encoder = encoder
        self.decoder = decoder
        self.constraints = tuple(constraints)
        self.generator = generator
        # which constraint produced each penalty term (a divergence message names it)
        self.penalty_owners: dict[str, Any] = {}
        ordered = sorted(self.constraints, key=lambda c: c.build_order)
        for constraint in ordered:
            constraint.build(self, self.constraints)

    def encode(self, x: Tensor) -> Output:
        """Run the first half of the pass (corruption only in training mode)."""
        x_tilde = x
        if self.training:
            for constraint in self.constraints:
                x_tilde = constraint.corrupt(x_tilde, self.generator)
        h = self.encoder(x_tilde)
        out = Output(x=x, x_tilde=x_tilde, h=h, z=h, x_hat=h)
        for constraint in self.constraints:
            out.z = constraint.latent(out, self.training, self.generator)
        return out

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Output:
        out = self.encode(x)
        out.x_hat = self.decode(out.z)
        for constraint in self.constraints:
            for name, value in constraint.penalty(out, self).items():
                out.penalties[name] = value
                self.penalty_owners[name] = constraint
        return out

    def set_generator(self, generator: torch.Generator) -> None:
        """Draw every random number (corruption, sampling, noise layers) from ``generator``
        from now on; layers that captured the old one (``GaussianNoise``) follow too."""
        previous = self.generator
        self.generator = generator
        for sub in self.modules():
            if sub is not self and getattr(sub, "generator", None) is previous:
                sub.generator = generator  # type: ignore[assignment]

    def extra_repr(self) -> str:
        return f"constraints={self.constraints!r}" if self.constraints else ""

"""Tied weights: each decoder weight is the transpose of its mirror encoder weight.

Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural networks",
Science 313 (2006); as in Géron, ch. 15: with N weight layers, ``W[N - L + 1] = W[L]^T``.
The decoder keeps its own biases. Halves the number of weights and acts as a regulariser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from torch import nn

from codings.constraints.base import Constraint
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.nn.tied import TiedConvTranspose2d, TiedLinear

_WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def _weight_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in module.named_modules() if isinstance(m, _WEIGHT_LAYERS)]


@dataclass(frozen=True)
class TiedWeights(Constraint, name="tied_weights"):
    """Share each encoder weight, transposed, with the mirror decoder layer."""

    build_order = 20  # after Variational has doubled the coding head
    layerwise = "skip"  # the tie lives in the shared layers themselves

    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        encoder = _weight_layers(module.encoder)
        decoder = _weight_layers(module.decoder)
        if len(encoder) != len(decoder) or not encoder:
            raise InvalidInputError(
                "TiedWeights needs a decoder that mirrors the encoder layer by layer; got "
                f"{len(encoder)} encoder and {len(decoder)} decoder weight layers.")
        for (_, source), (name, target) in zip(reversed(encoder), decoder, strict=True):
            module.decoder.set_submodule(name, self._tie(source, target))

    @staticmethod
    def _tie(source: nn.Module, target: nn.Module) -> nn.Module:
        if isinstance(source, nn.Linear) and isinstance(target, nn.Linear):
            rows = target.in_features
            if source.in_features != target.out_features or source.out_features < rows:
                raise InvalidInputError(
                    f"TiedWeights cannot tie {target} to the transpose of {source}: the "
                    "shapes do not mirror each other.")
            return TiedLinear(source, rows=rows)
        if isinstance(source, nn.Conv2d) and isinstance(target, nn.ConvTranspose2d):
            padding = cast(tuple[int, int], target.output_padding)
            return TiedConvTranspose2d(source, output_padding=padding)
        raise InvalidInputError(f"TiedWeights cannot tie {type(target).__name__} to "
                                f"{type(source).__name__}: layer kinds do not mirror.")

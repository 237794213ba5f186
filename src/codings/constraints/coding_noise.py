"""Coding noise: Gaussian noise on the coding layer's input, so binary codings saturate.

Salakhutdinov & Hinton, "Semantic hashing", Int. J. Approximate Reasoning 50 (2009); Géron,
ch. 15, exercise. In training, the input of the coding layer (the last hidden layer's output,
or ``x`` with no hidden layer) becomes ``h + std * eps``, eps ~ N(0, I); in eval mode nothing
changes. To get its signal through the noise, the network makes that input large, which
drives a sigmoid coding layer into saturation, so rounding the codings to bits
(:func:`codings.estimators.hashing.semantic_hashes`) loses little.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from codings.constraints.base import Constraint
from codings.exceptions import InvalidInputError
from codings.nn.layers import GaussianNoise
from codings.nn.module import AutoEncoderModule

_WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)


@dataclass(frozen=True)
class CodingNoise(Constraint, name="coding_noise"):
    """Add Gaussian noise of ``std`` to the coding layer's input, in training only."""

    std: float = 15.0

    build_order = 5  # after Variational's heads (noise feeds them), before TiedWeights
    layerwise = "refuse"  # the noise sits inside the encoder, between two phases' layers

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std!r}")

    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        """Insert a :class:`GaussianNoise` layer just before the encoder's last weight layer."""
        children = list(module.encoder.children())
        coding = max((i for i, m in enumerate(children) if isinstance(m, _WEIGHT_LAYERS)),
                     default=None)
        if not module.builtin or coding is None:
            raise InvalidInputError(
                "CodingNoise needs the built-in architecture (an encoder whose coding layer "
                "is its last nn.Linear); with your own encoder, add the noise inside it.")
        noise = GaussianNoise(self.std, module.generator)
        module.encoder = nn.Sequential(*children[:coding], noise, *children[coding:])

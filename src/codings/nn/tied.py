"""Layers that reuse another layer's weight, transposed: the decoder half of tied weights."""

from __future__ import annotations

from typing import cast

import torch.nn.functional as F
from torch import Tensor, nn


class TiedLinear(nn.Module):
    """``y = x @ W[rows] + b`` where ``W`` is the weight of ``source`` (an ``nn.Linear``).

    The source is held outside the module tree (in a tuple) so its weight is stored and
    optimised once, under the encoder; only the bias belongs to this layer. ``rows`` selects
    part of the source's outputs (the mean head of a variational encoder).
    """

    def __init__(self, source: nn.Linear, rows: int | None = None) -> None:
        super().__init__()
        self._source = (source,)
        self.rows = rows if rows is not None else source.out_features
        self.bias = nn.Parameter(source.weight.new_zeros(source.in_features))

    @property
    def weight(self) -> Tensor:
        return self._source[0].weight[: self.rows].t()

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.rows}, out_features={self.bias.shape[0]}, tied=True"


class TiedConvTranspose2d(nn.Module):
    """The transposed convolution that shares the weight of ``source`` (an ``nn.Conv2d``)."""

    def __init__(self, source: nn.Conv2d, output_padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self._source = (source,)
        self.output_padding = output_padding
        self.bias = nn.Parameter(source.weight.new_zeros(source.in_channels))

    @property
    def weight(self) -> Tensor:
        return self._source[0].weight

    def forward(self, x: Tensor) -> Tensor:
        conv = self._source[0]
        padding = cast(tuple[int, int], conv.padding)  # always numeric for our layers
        return F.conv_transpose2d(x, conv.weight, self.bias, stride=conv.stride,
                                  padding=padding, output_padding=self.output_padding)

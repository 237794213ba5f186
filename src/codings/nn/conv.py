"""A strided convolutional encoder and its transposed-convolution decoder, on flat inputs.

Both halves take and return flat vectors (``Unflatten`` first, ``Flatten`` last), so the
estimator, the training loop and every constraint see the same ``(N, n_features)`` tensors
as for the MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from codings.nn.layers import init_linear, make_activation, resolve_init


def _conv_out(size: int) -> int:
    """Output size of a 3x3 convolution with stride 2 and padding 1."""
    return (size - 1) // 2 + 1


def build_conv(image_shape: Sequence[int], channels: Sequence[int], n_components: int,
               activation: str, coding_activation: str, output_activation: str, init: str,
               generator: torch.Generator | None = None) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder ``(C, H, W) -> conv(3x3, stride 2) per channel count -> n_components``.

    The decoder mirrors it with transposed convolutions whose ``output_padding`` restores the
    exact height and width, odd sizes included (25x25 faces, 28x28 digits).
    """
    c, h, w = (int(s) for s in image_shape)
    sizes = [(h, w)]
    for _ in channels:
        sizes.append((_conv_out(sizes[-1][0]), _conv_out(sizes[-1][1])))
    scheme = resolve_init(init, activation)
    encoder: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
    for n_in, n_out in zip([c, *channels[:-1]], channels, strict=True):
        conv = nn.Conv2d(n_in, n_out, kernel_size=3, stride=2, padding=1)
        init_linear(conv, scheme, generator)
        encoder += [conv, make_activation(activation)]
    flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
    coding = nn.Linear(flat, n_components)
    init_linear(coding, resolve_init(init, coding_activation), generator)
    encoder += [nn.Flatten(), coding]
    if coding_activation != "identity":
        encoder.append(make_activation(coding_activation))

    expand = nn.Linear(n_components, flat)
    init_linear(expand, scheme, generator)
    decoder: list[nn.Module] = [expand, make_activation(activation),
                                nn.Unflatten(1, (channels[-1], *sizes[-1]))]
    outs = [c, *channels[:-1]]
    for i in reversed(range(len(channels))):
        target, current = sizes[i], sizes[i + 1]
        padding = (target[0] - (2 * current[0] - 1), target[1] - (2 * current[1] - 1))
        deconv = nn.ConvTranspose2d(channels[i], outs[i], kernel_size=3, stride=2, padding=1,
                                    output_padding=padding)
        last = i == 0
        init_linear(deconv, resolve_init(init, output_activation if last else activation),
                    generator)
        decoder.append(deconv)
        act = output_activation if last else activation
        if act != "identity":
            decoder.append(make_activation(act))
    decoder.append(nn.Flatten())
    return nn.Sequential(*encoder), nn.Sequential(*decoder)

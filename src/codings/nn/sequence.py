"""Sequence encoders and decoders: recurrent (LSTM, GRU) and 1-D convolutional, on flat inputs.

A sequence is ``(timesteps, channels)``. As in :mod:`codings.nn.conv`, both halves take and
return flat vectors ``(N, timesteps * channels)`` (the encoder also accepts ``(N, timesteps,
channels)``), so the estimator, the training loop and every constraint see the same
``(N, n_features)`` tensors as for the MLP, and the coding layer is a plain ``nn.Linear``
that constraints can find and replace (the variational heads, the coding noise).

Recurrent (Srivastava, Mansimov & Salakhutdinov, "Unsupervised learning of video
representations using LSTMs", ICML 2015; Géron, 2nd ed., ch. 17): the encoder's stacked
layers read ``x_1 .. x_T`` and the last layer's final output ``h_T`` becomes the coding
``z = W h_T + b``. The decoder unrolls ``z`` back to ``T`` steps without teacher forcing: ``z``
is the input at every step and ``tanh(V z + c)`` the first layer's initial state, so no step
sees the input it reconstructs; a per-step linear layer maps each output to the channels.

Temporal convolution: ``Conv1d(kernel 3, stride 2, padding 1)`` per entry of
``hidden_layer_sizes`` and a mirrored ``ConvTranspose1d`` decoder whose ``output_padding``
restores the exact length, odd lengths included.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

from codings.nn.layers import init_linear, make_activation, resolve_init

RECURRENT: dict[str, type[nn.LSTM] | type[nn.GRU]] = {"lstm": nn.LSTM, "gru": nn.GRU}
SEQUENCE_ARCHITECTURES = ("lstm", "gru", "conv1d")
#: The gradient-norm clip recommended for the recurrent architectures: an occasional large
#: gradient through the unrolled steps otherwise throws Adam off a periodic signal.
CLIP_GRAD_NORM = 1.0
State = Tensor | tuple[Tensor, Tensor]  # a GRU's hidden state, or an LSTM's (hidden, cell)


class ToSequence(nn.Module):
    """``(N, T * C)`` or ``(N, T, C)`` -> ``(N, T, C)``."""

    def __init__(self, timesteps: int, channels: int) -> None:
        super().__init__()
        self.timesteps = timesteps
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], self.timesteps, self.channels)

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}, channels={self.channels}"


def _recurrent_layer(cell: str, n_in: int, n_out: int,
                     generator: torch.Generator | None) -> nn.LSTM | nn.GRU:
    """One layer: Glorot input weights, orthogonal recurrent weights, zero biases (an LSTM's
    forget gate at 1, so it remembers from the start: Jozefowicz et al., ICML 2015)."""
    layer = RECURRENT[cell](n_in, n_out, batch_first=True)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            if name.startswith("weight_ih"):
                for block in param.chunk(param.shape[0] // n_out):
                    nn.init.xavier_uniform_(block, generator=generator)
            elif name.startswith("weight_hh"):
                for block in param.chunk(param.shape[0] // n_out):
                    nn.init.orthogonal_(block, generator=generator)
            else:
                param.zero_()
                if cell == "lstm" and name.startswith("bias_ih"):
                    param[n_out:2 * n_out] = 1.0
    return layer


def _stack(cell: str, sizes: Sequence[int], generator: torch.Generator | None) -> nn.ModuleList:
    """Recurrent layers ``sizes[i] -> sizes[i + 1]``."""
    return nn.ModuleList(_recurrent_layer(cell, n_in, n_out, generator)
                         for n_in, n_out in pairwise(sizes))


def _run(layer: nn.Module, x: Tensor, state: State | None = None) -> Tensor:
    """The layer's output sequence ``(N, T, hidden)``."""
    if torch.is_autocast_enabled(x.device.type):
        # The recurrence runs in the weights' precision (float32) under bf16 autocast: a bf16
        # state gathers rounding error over the steps, and oneDNN has no bf16 LSTM on CPUs
        # without bf16 units. The layers after it are autocast as usual.
        dtype = next(layer.parameters()).dtype
        if isinstance(state, tuple):
            state = (state[0].to(dtype), state[1].to(dtype))
        elif state is not None:
            state = state.to(dtype)
        with torch.autocast(x.device.type, enabled=False):
            return _run(layer, x.to(dtype), state)
    # cuDNN's recurrent kernels have no double backward, which the contractive penalty takes
    # through the encoder (it differentiates d h / d x): use the native kernels then.
    with torch.backends.cudnn.flags(enabled=not x.requires_grad):
        return layer(x, state)[0]


class RecurrentEncoder(nn.Module):
    """Stacked recurrent layers; returns the last layer's output at the last step.

    Shape
    -----
    - Input: ``(N, T, C)``
    - Output: ``(N, hidden_sizes[-1])``
    """

    def __init__(self, cell: str, channels: int, hidden_sizes: Sequence[int],
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.cell = cell
        self.layers = _stack(cell, [channels, *hidden_sizes], generator)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = _run(layer, x)
        return x[:, -1]

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"


class RecurrentDecoder(nn.Module):
    """Unrolls a coding into ``timesteps`` steps, without teacher forcing.

    The coding is the input at every step and, through ``initial`` and a tanh, the first
    layer's initial hidden state (an LSTM's cell state starts at zero).

    Shape
    -----
    - Input: ``(N, n_components)``
    - Output: ``(N, timesteps, hidden_sizes[-1])``
    """

    def __init__(self, cell: str, n_components: int, hidden_sizes: Sequence[int],
                 timesteps: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.cell = cell
        self.timesteps = timesteps
        self.initial = nn.Linear(n_components, hidden_sizes[0])
        init_linear(self.initial, "glorot", generator)
        self.layers = _stack(cell, [n_components, *hidden_sizes], generator)

    def forward(self, z: Tensor) -> Tensor:
        h0 = torch.tanh(self.initial(z)).unsqueeze(0)
        state: State | None = (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0
        x = z.unsqueeze(1).expand(-1, self.timesteps, -1)
        for layer in self.layers:
            x = _run(layer, x, state)
            state = None
        return x

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, timesteps={self.timesteps}"


def _coding_layer(n_in: int, n_components: int, coding_activation: str, init: str,
                  generator: torch.Generator | None) -> list[nn.Module]:
    coding = nn.Linear(n_in, n_components)
    init_linear(coding, resolve_init(init, coding_activation), generator)
    if coding_activation == "identity":
        return [coding]
    return [coding, make_activation(coding_activation)]


def _output_activation(name: str) -> list[nn.Module]:
    return [] if name == "identity" else [make_activation(name)]


def build_recurrent(cell: str, sequence_shape: Sequence[int], hidden_layer_sizes: Sequence[int],
                    n_components: int, coding_activation: str, output_activation: str,
                    init: str, generator: torch.Generator | None = None
                    ) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder ``(T, C) -> recurrent layers -> last step -> n_components`` and its decoder.

    ``cell`` is "lstm" or "gru"; ``hidden_layer_sizes`` are the recurrent layers' widths
    (the decoder's are mirrored). The layers have their own gate nonlinearities and their
    own initialisation (Glorot input weights, orthogonal recurrent ones), so the estimator's
    hidden ``activation`` does not apply here and ``init`` applies to the linear layers only.

    Shape
    -----
    - Encoder: ``(N, T * C)`` or ``(N, T, C)`` -> ``(N, n_components)``
    - Decoder: ``(N, n_components)`` -> ``(N, T * C)``
    """
    timesteps, channels = (int(s) for s in sequence_shape)
    hidden = list(hidden_layer_sizes)
    encoder = nn.Sequential(ToSequence(timesteps, channels),
                            RecurrentEncoder(cell, channels, hidden, generator),
                            *_coding_layer(hidden[-1], n_components, coding_activation, init,
                                           generator))
    per_step = nn.Linear(hidden[0], channels)  # applied to each step's output
    init_linear(per_step, resolve_init(init, output_activation), generator)
    decoder = nn.Sequential(
        RecurrentDecoder(cell, n_components, hidden[::-1], timesteps, generator), per_step,
        *_output_activation(output_activation), nn.Flatten())
    return encoder, decoder


class ChannelsFirst(nn.Module):
    """``(N, T, C)`` <-> ``(N, C, T)``: the layout ``Conv1d`` takes."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


def _conv_out(size: int) -> int:
    """Output length of a convolution with kernel 3, stride 2 and padding 1."""
    return (size - 1) // 2 + 1


def build_conv1d(sequence_shape: Sequence[int], channels: Sequence[int], n_components: int,
                 activation: str, coding_activation: str, output_activation: str, init: str,
                 generator: torch.Generator | None = None
                 ) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder ``(T, C) -> Conv1d(3, stride 2) per channel count -> n_components``.

    The decoder mirrors it with transposed convolutions whose ``output_padding`` restores the
    exact length (47, 48 and 49 steps all come back as they went in).

    Shape
    -----
    - Encoder: ``(N, T * C)`` or ``(N, T, C)`` -> ``(N, n_components)``
    - Decoder: ``(N, n_components)`` -> ``(N, T * C)``
    """
    timesteps, n_channels = (int(s) for s in sequence_shape)
    lengths = [timesteps]
    for _ in channels:
        lengths.append(_conv_out(lengths[-1]))
    scheme = resolve_init(init, activation)
    encoder: list[nn.Module] = [ToSequence(timesteps, n_channels), ChannelsFirst()]
    for n_in, n_out in zip([n_channels, *channels[:-1]], channels, strict=True):
        conv = nn.Conv1d(n_in, n_out, kernel_size=3, stride=2, padding=1)
        init_linear(conv, scheme, generator)
        encoder += [conv, make_activation(activation)]
    flat = channels[-1] * lengths[-1]
    encoder += [nn.Flatten(), *_coding_layer(flat, n_components, coding_activation, init,
                                            generator)]

    expand = nn.Linear(n_components, flat)
    init_linear(expand, scheme, generator)
    decoder: list[nn.Module] = [expand, make_activation(activation),
                                nn.Unflatten(1, (channels[-1], lengths[-1]))]
    outs = [n_channels, *channels[:-1]]
    for i in reversed(range(len(channels))):
        last = i == 0
        act = output_activation if last else activation
        deconv = nn.ConvTranspose1d(channels[i], outs[i], kernel_size=3, stride=2, padding=1,
                                    output_padding=lengths[i] - (2 * lengths[i + 1] - 1))
        init_linear(deconv, resolve_init(init, act), generator)
        decoder += [deconv, *_output_activation(act)]
    decoder += [ChannelsFirst(), nn.Flatten()]
    return nn.Sequential(*encoder), nn.Sequential(*decoder)

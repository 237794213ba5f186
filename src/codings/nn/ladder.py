"""The ladder network: a denoising autoencoder at every layer of a classifier.

Rasmus, Valpola, Honkala, Berglund & Raiko 2015, "Semi-supervised learning with ladder
networks" (NeurIPS, arXiv:1507.02672); the combinator and its initialisation as in Pezeshki et
al. 2016, "Deconstructing the ladder network architecture" (arXiv:1511.06430).

Encoder, layer ``l = 1..L`` (``h_0 = x``; the corrupted path adds ``n ~ N(0, std^2)``)::

    z_l = batchnorm(W_l h_{l-1}) (+ n)     h_l = relu(z_l + beta_l)   (top: gamma (z_L + beta_L))

(the top layer's output is the logits). The decoder denoises every ``z_l`` of the corrupted
path, top down, from the corrupted ``z~_l`` (the lateral connection) and the layer above::

    u_L = batchnorm(softmax(logits~))          u_l = batchnorm(V_{l+1} z^_{l+1})
    z^_l = (z~_l - mu(u_l)) * v(u_l) + mu(u_l)
    mu(u) = a1 sigmoid(a2 u + a3) + a4 u + a5,   v(u) = a6 sigmoid(a7 u + a8) + a9 u + a10

and the denoising cost of layer ``l`` is ``lambda_l * mean((z^_l - z_l)^2)`` against the clean
path's ``z_l``, with ``z^_l`` normalised by the clean path's batch statistics. The classifier
is the clean encoder: in eval mode it normalises with running averages of those statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# a1..a10 of the combinator start so that z^ = z~ (v = 1 would need a10 = 1; the paper's
# initial values give mu = 0, v = 0 and let the training find the mix).
_COMBINATOR_INIT = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
_EPS = 1e-5


@dataclass
class LadderPass:
    """One pass through the encoder: each layer's normalised ``z`` (``z[0]`` is the input),
    the clean pass's batch mean and std of each layer, and the logits."""

    z: list[Tensor] = field(default_factory=list)
    mean: list[Tensor] = field(default_factory=list)
    std: list[Tensor] = field(default_factory=list)
    logits: Tensor | None = None


def _normalise(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    # Two plain passes: torch.var_mean over the batch dimension took 8x as long on CPU.
    mean = x.mean(dim=0)
    centred = x - mean
    std = (centred.square().mean(dim=0) + _EPS).sqrt()
    return centred / std, mean, std


class Combinator(nn.Module):
    """The vanilla combinator ``g(z~, u)`` of Rasmus et al.: 10 parameters per unit."""

    def __init__(self, n_units: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(_COMBINATOR_INIT).unsqueeze(1).repeat(1, n_units))

    def forward(self, z_tilde: Tensor, u: Tensor) -> Tensor:
        # The same sums as written above, in fused multiply-adds: the combinator runs on
        # every unit of every layer, and its elementwise kernels were a third of a step.
        a = self.a
        mu = torch.addcmul(torch.addcmul(a[4], a[3], u), a[0],
                           torch.sigmoid(torch.addcmul(a[2], a[1], u)))
        v = torch.addcmul(torch.addcmul(a[9], a[8], u), a[5],
                          torch.sigmoid(torch.addcmul(a[7], a[6], u)))
        return torch.addcmul(mu, z_tilde - mu, v)


class LadderNetwork(nn.Module):
    """A ladder network ``sizes[0] -> ... -> sizes[-1]`` (inputs to classes).

    Parameters
    ----------
    sizes : sequence of int
        Widths from the input to the number of classes.
    noise_std : float
        Standard deviation of the Gaussian noise added to every layer of the corrupted path.
    generator : torch.Generator, optional
        Draws the noise (the estimator's own, so training leaves torch's global RNG alone).

    Shape:
        - Input: ``(N, sizes[0])``
        - Output: ``(N, sizes[-1])`` logits of the clean encoder.
    """

    running_mean: list[Tensor]

    def __init__(self, sizes: Sequence[int], noise_std: float = 0.3,
                 generator: torch.Generator | None = None, momentum: float = 0.1) -> None:
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        self.noise_std = float(noise_std)
        self.generator = generator
        self.momentum = momentum
        pairs = list(pairwise(self.sizes))
        self.weights = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in pairs)
        self.decoder = nn.ModuleList(nn.Linear(b, a, bias=False) for a, b in pairs)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(b)) for _, b in pairs)
        self.gamma = nn.Parameter(torch.ones(self.sizes[-1]))
        self.combinators = nn.ModuleList(Combinator(n) for n in self.sizes)
        for i, (_, b) in enumerate(pairs):
            self.register_buffer(f"running_mean_{i}", torch.zeros(b))
            self.register_buffer(f"running_var_{i}", torch.ones(b))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Weights ~ N(0, 1/fan_in), as in the paper (the batch normalisation that follows
        each layer makes the scale matter little)."""
        with torch.no_grad():
            for layer in [*self.weights, *self.decoder]:
                n_in = layer.weight.shape[1]
                layer.weight.normal_(0.0, n_in ** -0.5, generator=generator)

    def _noise(self, x: Tensor) -> Tensor:
        eps = torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return torch.add(x, eps.to(x.device), alpha=self.noise_std)

    def _running(self, i: int) -> tuple[Tensor, Tensor]:
        return getattr(self, f"running_mean_{i}"), getattr(self, f"running_var_{i}")

    def encode(self, x: Tensor, noisy: bool) -> LadderPass:
        """A training pass (batch statistics); the clean one updates the running averages."""
        out = LadderPass()
        h = self._noise(x) if noisy else x
        out.z.append(h)
        last = len(self.weights) - 1
        for i, (layer, beta) in enumerate(zip(self.weights, self.beta, strict=True)):
            z, mean, std = _normalise(layer(h))
            if not noisy and self.training:
                self._update_running(i, mean, std)
            out.mean.append(mean)
            out.std.append(std)
            if noisy:
                z = self._noise(z)
            out.z.append(z)
            h = self.gamma * (z + beta) if i == last else F.relu(z + beta)
        out.logits = h
        return out

    @torch.no_grad()
    def _update_running(self, i: int, mean: Tensor, std: Tensor) -> None:
        running_mean, running_var = self._running(i)
        running_mean.lerp_(mean.detach(), self.momentum)
        running_var.lerp_(std.detach() ** 2, self.momentum)

    def decode(self, noisy: LadderPass) -> list[Tensor]:
        """``z^_l`` for every layer, top down (returned bottom up: ``[z^_0, ..., z^_L]``)."""
        assert noisy.logits is not None
        u = _normalise(torch.softmax(noisy.logits, dim=1))[0]
        z_hat = [self.combinators[-1](noisy.z[-1], u)]
        for i in range(len(self.weights) - 1, -1, -1):
            u = _normalise(self.decoder[i](z_hat[0]))[0]
            z_hat.insert(0, self.combinators[i](noisy.z[i], u))
        return z_hat

    def denoising_costs(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(the corrupted pass's logits, the mean squared denoising error of every layer)."""
        clean = self.encode(x, noisy=False)
        noisy = self.encode(x, noisy=True)
        z_hat = self.decode(noisy)
        costs = [F.mse_loss(z_hat[0], clean.z[0])]
        for i in range(1, len(z_hat)):
            normalised = (z_hat[i] - clean.mean[i - 1]) / clean.std[i - 1]
            costs.append(F.mse_loss(normalised, clean.z[i]))
        assert noisy.logits is not None
        return noisy.logits, costs

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the clean encoder (running statistics in eval mode)."""
        if self.training:
            logits = self.encode(x, noisy=False).logits
            assert logits is not None
            return logits
        h = x
        last = len(self.weights) - 1
        for i, (layer, beta) in enumerate(zip(self.weights, self.beta, strict=True)):
            mean, var = self._running(i)
            z = (layer(h) - mean) / (var + _EPS).sqrt()
            h = self.gamma * (z + beta) if i == last else F.relu(z + beta)
        return h

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, noise_std={self.noise_std}"

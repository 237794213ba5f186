"""The classifier on a pretrained encoder: ``logits = head(standardize(encoder(x)))``.

Used by :class:`~codings.EncoderClassifier` when it is given an autoencoder (Hinton &
Salakhutdinov, Science 2006; Erhan et al., JMLR 2010): the encoder is copied with its
constraints' coding hooks, and a softmax head learns on its standardised codings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codings.nn.module import Output


class EncoderNet(nn.Module):
    """A pretrained encoder and its constraints' ``latent`` hooks, always in eval semantics.

    ``forward(x)`` is ``AutoEncoderModule.encode(x).z`` in eval mode (no corruption, the mean
    coding of a variational model), with gradients, so the encoder can be fine-tuned.
    """

    def __init__(self, encoder: nn.Module, constraints: Sequence[Any]) -> None:
        super().__init__()
        self.encoder = encoder
        self.constraints = tuple(constraints)

    def forward(self, x: Tensor) -> Tensor:
        h = self.encoder(x)
        out = Output(x=x, x_tilde=x, h=h, z=h, x_hat=h)
        for constraint in self.constraints:
            out.z = constraint.latent(out, False, None)
        return out.z


class Standardize(nn.Module):
    """``(z - mean) / scale`` with fixed statistics: the head sees unit-scale codings.

    Codings can be tiny or huge (a coding layer's scale is arbitrary), and a softmax layer
    trained by Adam on badly scaled inputs learns slowly; the statistics are those of the
    training codings when training starts, and stay fixed (fine-tuning can move the codings).
    """

    mean: Tensor
    scale: Tensor

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def set_statistics(self, z: Tensor) -> None:
        std = z.std(dim=0, unbiased=False) if z.shape[0] > 1 else torch.ones_like(z[0])
        self.mean.copy_(z.mean(dim=0))
        self.scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def forward(self, z: Tensor) -> Tensor:
        return (z - self.mean) / self.scale


class ClassifierNet(nn.Module):
    """``logits = head(standardize(encoder(x)))``; their softmax gives class probabilities."""

    def __init__(self, encoder: EncoderNet, head: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    @property
    def standardize(self) -> Standardize:
        first = self.head[0]
        assert isinstance(first, Standardize)
        return first

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


def classification_loss(module: nn.Module, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """Cross-entropy of the logits ``module(x)`` (the minimised ``"loss"``) and accuracy."""
    x, y = batch
    logits = module(x)
    return {"loss": F.cross_entropy(logits, y),
            "accuracy": (logits.argmax(dim=1) == y).float().mean()}

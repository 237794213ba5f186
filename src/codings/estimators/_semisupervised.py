"""Semi-supervised training: the batches and objectives that learn from labelled and
unlabelled rows at once, through the one trainer.

Every batch is ``(x, x_labelled, y_labelled)``: ``batch_size`` rows drawn from all rows (their
labels, if any, unused: the unsupervised stream) and ``labelled_batch`` labelled rows, cycled
through in a fresh random order (with 100 labels and 60,000 rows, each labelled row is seen in
every step, as in Rasmus et al. 2015). An objective minimises the classification loss of the
labelled rows plus the autoencoder's loss on the stream:

- :class:`LadderObjective`: the ladder network's cross-entropy of its corrupted path plus its
  weighted denoising costs (see :mod:`codings.nn.ladder`);
- :class:`JointObjective`: a given autoencoder's own loss (reconstruction and its
  constraints' penalties) plus the cross-entropy of a head on its codings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codings.training.callbacks import Callback, LRSchedule
from codings.training.loop import (
    Trainer,
    TrainState,
    loss_terms,
    make_optimizer,
    reconstruction_reduction,
)
from codings.training.recipe import standard_callbacks
from codings.training.sources import TensorSource, rows_per_epoch, shard

Batch = tuple[Tensor, Tensor, Tensor]


class LabelledAndUnlabelled:
    """A :class:`~codings.training.sources.Source` of ``(x, x_labelled, y_labelled)`` batches.

    An epoch is one pass over all rows ``x``; the labelled rows are cycled through alongside.
    """

    def __init__(self, x: Tensor, x_labelled: Tensor, y_labelled: Tensor,
                 labelled_batch: int) -> None:
        self.x, self.x_labelled, self.y_labelled = x, x_labelled, y_labelled
        self.n = int(x.shape[0])
        self.labelled_batch = max(1, min(int(labelled_batch), int(x_labelled.shape[0])))

    def _labelled_rows(self, generator: torch.Generator) -> Iterator[Tensor]:
        n = int(self.x_labelled.shape[0])
        while True:
            perm = torch.randperm(n, generator=generator).to(self.x.device)
            stop = n - n % self.labelled_batch
            yield from perm[:stop].split(self.labelled_batch)

    def batches(self, generator: torch.Generator, batch_size: int, rank: int = 0,
                world_size: int = 1) -> Iterator[Batch]:
        perm = torch.randperm(self.n, generator=generator).to(self.x.device)
        labelled = self._labelled_rows(generator)
        for rows in shard(perm, batch_size, rank, world_size):
            picked = next(labelled)
            yield (self.x.index_select(0, rows), self.x_labelled.index_select(0, picked),
                   self.y_labelled.index_select(0, picked))

    def ordered(self, batch_size: int) -> Iterator[Batch]:
        for start in range(0, self.n, batch_size):
            yield (self.x[start:start + batch_size],
                   self.x_labelled[:batch_size], self.y_labelled[:batch_size])

    def head(self, rows: int) -> TensorSource:
        return TensorSource(self.x[:rows], self.x_labelled[:rows], self.y_labelled[:rows])

    def rows_seen(self, world_size: int) -> int:
        return rows_per_epoch(self.n, world_size)


def labelled_validation(x: Tensor, y: Tensor) -> TensorSource:
    """Held-out labelled rows as ``(x, x, y)`` batches: every term is measured on them."""
    return TensorSource(x, x, y)


def _accuracy(logits: Tensor, y: Tensor) -> Tensor:
    return (logits.argmax(dim=1) == y).float().mean()


class LadderObjective:
    """Cross-entropy of the corrupted path on the labelled rows (the clean path in eval
    mode: validation) plus ``sum_l weights[l] * denoising_cost_l`` on the stream."""

    def __init__(self, weights: Sequence[float]) -> None:
        self.weights = tuple(float(w) for w in weights)

    def __call__(self, module: Any, batch: Batch) -> dict[str, Tensor]:
        x, x_labelled, y_labelled = batch
        if module.training:
            logits = module.encode(x_labelled, noisy=True).logits
        else:
            logits = module(x_labelled)
        cross_entropy = F.cross_entropy(logits, y_labelled)
        terms = {"cross_entropy": cross_entropy, "accuracy": _accuracy(logits, y_labelled)}
        loss = cross_entropy
        if any(self.weights):
            _, costs = module.denoising_costs(x)
            denoising = sum((w * c for w, c in zip(self.weights, costs, strict=True)),
                            torch.zeros((), device=x.device))
            terms["denoising"] = denoising
            loss = loss + denoising
        elif module.training:
            # Without the denoising cost no clean pass runs, yet the clean encoder predicts
            # with the running statistics that pass keeps: run it (no noise, no gradient).
            with torch.no_grad():
                module.encode(x, noisy=False)
        terms["loss"] = loss
        return terms


class JointNet(nn.Module):
    """A whole autoencoder module and a classifier whose encoder is the autoencoder's own
    (shared weights): ``classifier`` is what predicts."""

    def __init__(self, autoencoder: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        self.classifier = classifier


class JointObjective:
    """The autoencoder's loss on the stream (``weight`` times reconstruction plus penalties)
    plus the cross-entropy of the classifier on the labelled rows. ``detach`` stops the
    cross-entropy's gradient at the codings: the encoder then learns from the
    autoencoder's loss alone (``freeze="frozen"``)."""

    def __init__(self, loss: str, module: nn.Module, weight: float) -> None:
        self.loss = loss
        self.reduction = reconstruction_reduction(module)
        self.weight = float(weight)
        self.detach = False

    def __call__(self, module: nn.Module, batch: Batch) -> dict[str, Tensor]:
        x, x_labelled, y_labelled = batch
        net: Any = module
        terms = loss_terms(net.autoencoder(x), self.loss, self.reduction)
        z = net.classifier.encoder(x_labelled)
        logits = net.classifier.head(z.detach() if self.detach else z)
        cross_entropy = F.cross_entropy(logits, y_labelled)
        unsupervised = terms.pop("loss")
        terms.update(cross_entropy=cross_entropy, accuracy=_accuracy(logits, y_labelled),
                     frozen=torch.tensor(float(self.detach), device=x.device),
                     loss=cross_entropy + self.weight * unsupervised)
        return terms


# The paper's denoising weights for 100 labels: the input, the first hidden layer, the rest.
LADDER_WEIGHTS = (1000.0, 10.0, 0.1)
LADDER_HIDDEN = (500, 250)
LADDER_NOISE = 0.3


def ladder_weights(n_layers: int, scale: float) -> list[float]:
    """``lambda_l`` for ``n_layers`` layers (input and top included), times ``scale``."""
    first, second, rest = LADDER_WEIGHTS
    weights = [first, second, *[rest] * max(n_layers - 2, 0)][:n_layers]
    return [scale * w for w in weights]


def ladder_epochs(n_rows: int, batch_size: int, steps: int = 10_000) -> int:
    """Epochs for about ``steps`` steps of ``batch_size`` rows, between 10 and 200."""
    per_epoch = -(-n_rows // max(batch_size, 1))
    return int(min(max(round(steps / per_epoch), 10), 200))


def linear_decay(optimizer: torch.optim.Optimizer, max_iter: int,
                 decay_epochs: int) -> LRSchedule:
    """The learning rate held, then decayed linearly to 0 over the last ``decay_epochs``
    (the schedule of Rasmus et al.)."""
    start = max_iter - decay_epochs

    def factor(epoch: int) -> float:
        return 1.0 if epoch < start else max(max_iter - epoch - 1, 0) / decay_epochs

    return LRSchedule(torch.optim.lr_scheduler.LambdaLR(optimizer, factor))


def train(module: nn.Module, objective: Any, source: Any, validation: Any, *,
          learning_rate: float, max_iter: int, batch_size: int | None,
          generator: torch.Generator, callbacks: Sequence[Callback],
          early_stopping: tuple[int, float] | None, decay_epochs: int = 0) -> TrainState:
    """One run of the trainer with Adam, the divergence guard, and optionally early stopping
    (``(n_iter_no_change, tol)``) and a linear decay of the rate."""
    optimizer = make_optimizer(module.parameters(), "adam", learning_rate)
    standard = standard_callbacks(
        learning_rate, early_stopping=early_stopping if validation is not None else None,
        schedule=linear_decay(optimizer, max_iter, decay_epochs) if decay_epochs else None)
    trainer = Trainer(module, objective, optimizer, generator=generator,
                      callbacks=[*standard, *callbacks])
    trainer.fit(source, max_iter, batch_size, validation)
    return trainer.state

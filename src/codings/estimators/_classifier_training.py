"""How :class:`~codings.EncoderClassifier` trains: its three modes, on the one trainer.

- supervised on a pretrained encoder (:func:`train_supervised`): the head on cached codings
  while the encoder is frozen, then the whole network;
- semi-supervised with a given autoencoder (:func:`train_joint`): the autoencoder's loss on
  every row plus the labelled rows' cross-entropy, one objective;
- the ladder network (:func:`fit_ladder`, Rasmus et al. 2015) when no autoencoder is given.

Each function reads the classifier's parameters (``clf``) and leaves its fitted network and
history to ``clf._finish``; the objectives are in :mod:`._semisupervised`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from codings.estimators._semisupervised import (
    LADDER_HIDDEN,
    LADDER_NOISE,
    JointNet,
    JointObjective,
    LabelledAndUnlabelled,
    LadderObjective,
    labelled_validation,
    ladder_epochs,
    ladder_weights,
    train,
)
from codings.estimators.validation import check_sizes
from codings.exceptions import InvalidInputError
from codings.nn.classifier import ClassifierNet, EncoderNet, Standardize, classification_loss
from codings.nn.ladder import LadderNetwork
from codings.nn.layers import dense_stack, resolve_init
from codings.training.callbacks import Callback
from codings.training.inference import batched
from codings.training.loop import Trainer, TrainState, make_optimizer
from codings.training.recipe import standard_callbacks
from codings.training.sources import TensorSource, validation_split

UNLABELLED = -1


class Unfreeze(Callback):
    """Lets the cross-entropy's gradient into the encoder after ``epochs`` epochs of joint
    training (``freeze="unfreeze"``; 0: from the start; ``max_iter``: never)."""

    def __init__(self, objective: JointObjective, epochs: int) -> None:
        self.objective = objective
        self.epochs = epochs
        objective.detach = epochs > 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if epoch + 1 >= self.epochs:
            self.objective.detach = False


def labelled_split(clf: Any, x: Tensor, y: Tensor, generator: torch.Generator) -> tuple[
        Tensor, Tensor, Any]:
    """The labelled rows to train on, and the held-out ones (early stopping) as a
    validation source, or None."""
    labelled = y != UNLABELLED
    x_lab, y_lab = x[labelled], y[labelled]
    if not clf.early_stopping:
        return x_lab, y_lab, None
    if x_lab.shape[0] < 2:
        raise InvalidInputError("early_stopping needs at least 2 labelled samples: one "
                                "to train on and one to validate.")
    train_rows, val_rows = validation_split(x_lab.shape[0], clf.validation_fraction,
                                            generator)
    validation = labelled_validation(x_lab[val_rows], y_lab[val_rows])
    return x_lab[train_rows], y_lab[train_rows], validation


def training_kwargs(clf: Any, learning_rate: float, max_iter: int, generator: torch.Generator,
                     callbacks: Sequence[Callback]) -> dict[str, Any]:
    return {"learning_rate": learning_rate, "max_iter": max_iter,
            "batch_size": clf.batch_size, "generator": generator,
            "callbacks": callbacks,
            "early_stopping": (int(clf.n_iter_no_change), float(clf.tol))}


def fit_ladder(clf: Any, x: Tensor, y: Tensor, generator: torch.Generator, seed: int,
                callbacks: Sequence[Callback]) -> None:
    """Build the ladder network for ``x`` and the classes, and train it on every row
    (denoising) and the labelled ones (cross-entropy)."""
    hidden = LADDER_HIDDEN if clf.hidden_layer_sizes is None else check_sizes(
        type(clf).__name__, "hidden_layer_sizes", clf.hidden_layer_sizes)
    sizes = [x.shape[1], *hidden, len(clf.classes_)]
    network = LadderNetwork(sizes, LADDER_NOISE, generator=generator)
    network.reset_parameters(generator)
    clf.network_ = network
    x_lab, y_lab, validation = labelled_split(clf, x, y, generator)
    batch = x.shape[0] if clf.batch_size is None else int(clf.batch_size)
    source = LabelledAndUnlabelled(x, x_lab, y_lab, batch)
    objective = LadderObjective(ladder_weights(len(sizes), float(clf.unsupervised_weight)))
    max_iter = ladder_epochs(x.shape[0], batch) if clf.max_iter is None \
        else int(clf.max_iter)
    learning_rate = 2e-3 if clf.learning_rate is None else float(clf.learning_rate)
    state = train(network, objective, source, validation, **training_kwargs(clf,
        learning_rate, max_iter, generator, callbacks), decay_epochs=max_iter // 3)
    clf._finish(state)


def train_joint(clf: Any, autoencoder: Any, x: Tensor, y: Tensor,
                 generator: torch.Generator, callbacks: Sequence[Callback]) -> None:
    """The autoencoder (a copy whose encoder is the classifier's) on every row, the
    classifier on the labelled rows, in one objective."""
    module = copy.deepcopy(autoencoder.module_).float().to(x.device)
    clf.network_.encoder.encoder = module.encoder  # shared: one encoder, two losses
    clf.network_.standardize.set_statistics(batched(clf.network_.encoder, x))
    x_lab, y_lab, validation = labelled_split(clf, x, y, generator)
    batch = x.shape[0] if clf.batch_size is None else int(clf.batch_size)
    source = LabelledAndUnlabelled(x, x_lab, y_lab, batch)
    objective = JointObjective(str(autoencoder.loss), module,
                               float(clf.unsupervised_weight))
    frozen = clf._frozen_epochs(supervised=False)
    learning_rate = clf._learning_rate()
    state = train(JointNet(module, clf.network_), objective, source, validation,
                  **training_kwargs(clf, learning_rate, clf._max_iter(), generator,
                                          [Unfreeze(objective, frozen), *callbacks]))
    clf._finish(state)


def build_network(clf: Any, autoencoder: Any, n_classes: int,
                   generator: torch.Generator, seed: int) -> ClassifierNet:
    """A copy of the encoder (float32, eval mode) and a freshly initialised head.

    ``nn.Linear`` draws its default initialisation from the global RNG before
    ``dense_stack`` redraws it from ``generator``: construction runs in a forked RNG.
    """
    module = autoencoder.module_
    encoder = EncoderNet(copy.deepcopy(module.encoder), module.constraints).float()
    n_codings = int(autoencoder.n_components)
    hidden = () if clf.hidden_layer_sizes is None else check_sizes(
        type(clf).__name__, "hidden_layer_sizes", clf.hidden_layer_sizes)
    activations = [clf.activation] * len(hidden) + ["identity"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = dense_stack([n_codings, *hidden, n_classes], activations,
                             [resolve_init("auto", a) for a in activations], generator)
    head = nn.Sequential(Standardize(n_codings), *layers)
    return ClassifierNet(encoder, head).eval()


def train_supervised(clf: Any, x: Tensor, y: Tensor, generator: torch.Generator,
           callbacks: Sequence[Callback]) -> None:
    """The frozen phase trains the head on cached codings, the unfrozen one the whole
    network on inputs: two runs of the one trainer, sharing optimizer and history."""
    x_val = y_val = None
    if clf.early_stopping:
        if x.shape[0] < 2:
            raise InvalidInputError("early_stopping needs at least 2 samples "
                                    "(n_samples=1): one to train on and one to validate.")
        train, val = (rows.to(x.device) for rows in validation_split(
            x.shape[0], clf.validation_fraction, generator))
        x, x_val, y, y_val = x[train], x[val], y[train], y[val]
    encoder, head = clf.network_.encoder, clf.network_.head
    codings = batched(encoder, x)
    clf.network_.standardize.set_statistics(codings)
    optimizer = make_optimizer(head.parameters(), "adam", clf._learning_rate())
    n_frozen, state = clf._frozen_epochs(supervised=True), TrainState()
    if n_frozen:
        encoder.requires_grad_(False)
        validation = None if x_val is None or y_val is None else TensorSource(
            batched(encoder, x_val), y_val)
        state = run_phase(clf, head, TensorSource(codings, y), validation, optimizer,
                                generator,
                                callbacks, state, n_frozen, frozen=True)
    if state.epoch < clf._max_iter():
        encoder.requires_grad_(True)
        optimizer.add_param_group({"params": list(encoder.parameters())})
        validation = None if x_val is None or y_val is None else TensorSource(x_val, y_val)
        state = run_phase(clf, clf.network_, TensorSource(x, y), validation, optimizer,
                                generator, callbacks, state, clf._max_iter(),
                                frozen=False)
    clf._finish(state)


def run_phase(clf: Any, model: nn.Module, source: TensorSource, validation: Any,
               optimizer: torch.optim.Optimizer, generator: torch.Generator,
               callbacks: Sequence[Callback], previous: TrainState, until: int,
               frozen: bool) -> TrainState:
    standard = standard_callbacks(
        clf._learning_rate(), early_stopping=(int(clf.n_iter_no_change), float(clf.tol))
        if validation is not None else None)
    trainer = Trainer(model, classification_loss, optimizer, generator=generator,
                      callbacks=[*standard, *callbacks])
    # The epoch count and history go on from the previous phase; the best weights are
    # this phase's own (a phase restores the best of its own epochs).
    trainer.state = TrainState(epoch=previous.epoch, history=previous.history)
    trainer.fit(source, until, clf.batch_size, validation,
                tags={"frozen": float(frozen)})
    return trainer.state

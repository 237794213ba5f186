"""Callbacks: small objects with no-op hooks that the trainer calls around each epoch.

A callback may stop training (``self.trainer.stop("early_stopping")``); the trainer then
finishes the epoch's callbacks and goes through its one finalisation step. Stateful callbacks
(early stopping's counter, the divergence guard's reference loss, a learning-rate schedule)
give ``state_dict()`` / ``load_state_dict()`` so a checkpoint resumes them exactly.

Writing your own::

    class PrintEvery10(Callback):
        def on_epoch_end(self, epoch, logs):
            if (epoch + 1) % 10 == 0:
                print(epoch + 1, logs["loss"])

    AutoEncoder().fit(X, callbacks=[PrintEvery10()])

``self.module`` is the model being trained and ``self.trainer`` the trainer (its ``state``
holds the history so far; ``stop(reason)`` ends training after this epoch).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from codings.exceptions import TrainingDivergedError


class TrainingDivergedWarning(UserWarning):
    """The loss diverged; training stopped and the best weights were restored."""


class Callback:
    """Base class; override the hooks you need.

    ``priority`` orders callbacks (lower first, stable): the divergence guard runs before
    anything that would act on a diverged epoch, checkpoints after everything else.
    """

    module: Any = None
    trainer: Any = None
    priority: int = 0
    #: key of this callback's state in a checkpoint; None when it has no state to resume
    state_key: str | None = None

    def set_trainer(self, trainer: Any) -> None:
        """Called by the trainer before ``on_train_begin``."""
        self.trainer = trainer
        self.set_module(trainer.module)

    def set_module(self, module: Any) -> None:
        self.module = module

    def on_train_begin(self, max_iter: int) -> None:
        """Called once before the first epoch (of this ``fit`` call, after a resume too)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with that epoch's history row."""

    def on_train_stopping(self) -> None:
        """Called once after the last epoch, before the best weights are restored; may
        still call ``trainer.stop(...)`` (the divergence guard checks the final weights)."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once after training, whether it finished, stopped early or diverged."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _monitored(trainer: Any, logs: dict[str, float]) -> float:
    return logs["val_loss"] if trainer.monitor_validation else logs["loss"]


class EarlyStopping(Callback):
    """Stop when the monitored loss (``val_loss`` with a validation set, else ``loss``) has
    not improved by ``tol`` for ``patience`` epochs."""

    state_key = "early_stopping"

    def __init__(self, patience: int = 10, tol: float = 1e-4) -> None:
        self.patience = patience
        self.tol = tol
        self.best = math.inf
        self.no_change = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.trainer.state.stop_reason is not None:
            return
        value = _monitored(self.trainer, logs)
        self.no_change = 0 if value < self.best - self.tol else self.no_change + 1
        self.best = min(self.best, value)
        if self.no_change >= self.patience:
            self.trainer.stop("early_stopping")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "no_change": self.no_change, "patience": self.patience}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.no_change = float(state["best"]), int(state["no_change"])


class LRSchedule(Callback):
    """Steps a torch learning-rate scheduler once per epoch (``ReduceLROnPlateau`` on the
    monitored loss)."""

    state_key = "lr_schedule"
    priority = 10

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    @classmethod
    def create(cls, name: str, optimizer: torch.optim.Optimizer, max_iter: int,
               patience: int) -> LRSchedule | None:
        """``"cosine"`` anneals over ``max_iter`` epochs; ``"plateau"`` halves the rate after
        ``patience // 2`` epochs without improvement; ``"constant"`` gives None."""
        if name == "cosine":
            return cls(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                                  T_max=max(max_iter, 1)))
        if name == "plateau":
            return cls(torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=0.5, patience=max(patience // 2, 1)))
        return None

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.trainer.state.stop_reason is not None:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(_monitored(self.trainer, logs))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return dict(self.scheduler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)

    def set_rate(self, learning_rate: float, max_iter: int) -> None:
        """Apply a learning rate (and horizon) given at resume from the resumed epoch on."""
        scheduler = self.scheduler
        if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            scheduler.base_lrs = [learning_rate for _ in scheduler.base_lrs]
            scheduler.T_max = max(max_iter, 1)
            step = scheduler.last_epoch
            rate = scheduler.eta_min + (learning_rate - scheduler.eta_min) * (
                1 + math.cos(math.pi * step / scheduler.T_max)) / 2
            for group in scheduler.optimizer.param_groups:
                group["lr"] = rate
            scheduler._last_lr = [rate for _ in scheduler.base_lrs]


class DivergenceGuard(Callback):
    """Ends training when the loss diverges: a NaN or infinite term, or a loss that explodes
    (more than ``factor`` times the untrained model's, measured first: on the first batch,
    before any step); and checks the final weights, since the last epoch's training loss was
    measured before its steps (non-finite weights, or weights that grew a hundredfold and
    whose loss exploded). Then the trainer restores the best weights, and this warns
    (:class:`TrainingDivergedWarning`) or raises (:class:`TrainingDivergedError`) with what
    to change: the learning rate, or a constraint's weight when its penalty exploded.

    Parameters
    ----------
    policy : {"warn", "raise"}
    learning_rate : float
        Named in the advice.
    describe : callable, optional
        ``describe(term)`` -> "Variational's beta (now 100)" for a penalty term, or None.
    factor : float, default=1e4
    """

    state_key = "divergence"
    priority = -100

    def __init__(self, policy: str = "warn", learning_rate: float | None = None,
                 describe: Callable[[str], str | None] | None = None,
                 factor: float = 1e4) -> None:
        self.policy = policy
        self.learning_rate = learning_rate
        self.describe = describe
        self.factor = factor
        self.reference: dict[str, float] | None = None
        self.cause: dict[str, Any] | None = None
        self._initial_scale = 0.0

    def on_train_begin(self, max_iter: int) -> None:
        self._initial_scale = self._weight_scale()

    def _limit(self) -> float:
        reference = (self.reference or {}).get("loss", 1.0)
        return self.factor * max(abs(reference), 1e-3) if math.isfinite(reference) \
            else math.inf

    def _diverged(self, terms: dict[str, float]) -> dict[str, Any] | None:
        values = {k: v for k, v in terms.items() if k not in {"lr", "time"}}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        loss = values.get("loss", 0.0)
        if not bad and abs(loss) <= self._limit():
            return None
        return {"terms": values, "nonfinite": bad}

    def _weight_scale(self) -> float:
        return max((float(p.detach().abs().max()) for p in self.trainer.module.parameters()
                    if p.numel()), default=0.0)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.reference is None:  # the untrained terms (a resumed run keeps its own)
            self.reference = self.trainer.untrained
        if self.trainer.state.stop_reason is not None:
            return
        cause = self._diverged(logs)
        if cause is not None:
            self.cause = {**cause, "epoch": epoch, "final": False}
            self.trainer.stop("diverged")

    def on_train_stopping(self) -> None:
        trainer = self.trainer
        if trainer.state.stop_reason is not None or trainer.monitor_validation:
            return  # the best weights will be restored: the last ones do not matter
        if trainer.state.epoch == 0:
            return
        # The last epoch's loss was measured before its last steps: look at the weights.
        # Non-finite ones diverged; ones that grew a hundredfold get their loss measured.
        scale = self._weight_scale()
        if math.isfinite(scale) and scale <= 100 * max(self._initial_scale, 1.0):
            return
        terms = trainer.probe_terms() if math.isfinite(scale) else {"loss": math.nan}
        cause = self._diverged(terms)
        if cause is not None:
            self.cause = {**cause, "epoch": trainer.state.epoch - 1, "final": True}
            trainer.stop("diverged")

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if logs["stop_reason"] != "diverged" or self.cause is None:
            return
        message = self.message(self.trainer.state.best_epoch)
        self.cause = None
        if self.policy == "raise":
            raise TrainingDivergedError(message)
        warnings.warn(message, TrainingDivergedWarning, stacklevel=6)

    def message(self, best_epoch: int) -> str:
        assert self.cause is not None
        terms, epoch = self.cause["terms"], self.cause["epoch"] + 1
        reference = self.reference or {}
        when = (f"after the last step of epoch {epoch}" if self.cause["final"]
                else f"at epoch {epoch}")
        if self.cause["nonfinite"]:
            what = f"became NaN or infinite {when}"
        else:
            what = (f"exploded {when} (from {reference.get('loss', math.nan):.3g} untrained "
                    f"to {terms['loss']:.3g})")
        if best_epoch < 0:
            restored = "the initial weights were restored"
        elif self.trainer is not None and self.trainer.monitor_validation:
            restored = (f"the weights with the lowest loss (validation, after epoch "
                        f"{best_epoch + 1}) were restored")
        else:  # a training loss describes the weights its epoch started from
            restored = (f"the weights with the lowest loss (those epoch {best_epoch + 1} "
                        "started from) were restored")
        return f"The training loss {what}; {restored}. {self._advice(terms, reference)}"

    def _advice(self, terms: dict[str, float], reference: dict[str, float]) -> str:
        rate = f" (now {self.learning_rate:g})" if self.learning_rate is not None else ""
        penalty = self._blamed_penalty(terms, reference)
        if penalty is not None:
            return (f"Its {penalty[0]!r} penalty dominates the loss: lower {penalty[1]}, or the "
                    f"learning rate{rate}.")
        return (f"Lower the learning rate{rate}, scale the inputs (for example with "
                "StandardScaler), or use loss='bce' only for data in [0, 1].")

    def _blamed_penalty(self, terms: dict[str, float],
                        reference: dict[str, float]) -> tuple[str, str] | None:
        """The term that dominates the diverged loss (a non-finite one first), when it is a
        penalty whose constraint has a weight."""
        if self.describe is None:
            return None

        def size(name: str) -> tuple[float, float]:
            # Ties (all infinite or NaN) go to the term that dominated the untrained loss.
            value, start = terms[name], reference.get(name, 0.0)
            return (math.inf if not math.isfinite(value) else abs(value),
                    abs(start) if math.isfinite(start) else math.inf)

        candidates = [k for k in terms if k != "loss" and not k.startswith("val_")]
        if not candidates:
            return None
        # A penalty that made up most of the untrained loss sets the gradients' scale: its
        # weight is the cause, whatever grew fastest afterwards.
        start = abs(reference.get("loss", math.nan))
        dominant = [k for k in candidates if math.isfinite(start) and start > 0
                    and abs(reference.get(k, 0.0)) > 0.5 * start]
        worst = dominant[0] if dominant else max(candidates, key=size)
        described = self.describe(worst)
        return (worst, described) if described else None

    def state_dict(self) -> dict[str, Any]:
        return {"reference": self.reference}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reference = state.get("reference")

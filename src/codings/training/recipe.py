"""How an autoencoder trains, from its estimator's parameters: the one place they are read.

``autoencoder_trainer(module, settings, generator)`` turns the parameters (a mapping with the
names of :data:`codings._params.AUTOENCODER_PARAMS`) into a :class:`Trainer`: the objective,
the optimizer, each constraint's auxiliary step, and the standard callbacks (divergence guard,
early stopping, learning-rate schedule, checkpoints). The estimator's ``fit`` and every
layer-wise pretraining phase build their trainers here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from codings.training.callbacks import Callback, DivergenceGuard, EarlyStopping, LRSchedule
from codings.training.checkpoint import Checkpoint, Checkpointer
from codings.training.distributed import DistContext
from codings.training.loop import (
    AuxiliaryStep,
    ReconstructionObjective,
    Trainer,
    make_optimizer,
    reconstruction_reduction,
)


def describe_penalty(module: nn.Module) -> Callable[[str], str | None]:
    """``term -> "Variational's beta (now 100)"`` for a penalty whose constraint has a
    weight, from the constraint that produced it; None for other terms."""

    def describe(term: str) -> str | None:
        owner = getattr(module, "penalty_owners", {}).get(term)
        param = owner.weight_parameter if owner is not None else None
        if param is None:
            return None
        return f"{type(owner).__name__}'s {param} (now {getattr(owner, param)!r})"

    return describe


def _auxiliary_steps(module: nn.Module, objective: ReconstructionObjective
                     ) -> tuple[list[AuxiliaryStep], set[int]]:
    steps: list[AuxiliaryStep] = []
    claimed: set[int] = set()
    for constraint in getattr(module, "constraints", ()):
        parameters = list(constraint.auxiliary_parameters(module))
        if not parameters:
            continue
        claimed.update(id(p) for p in parameters)

        def loss(constraint: Any = constraint) -> dict[str, torch.Tensor]:
            return dict(constraint.auxiliary_loss(objective.last, module))

        steps.append(AuxiliaryStep(constraint.auxiliary_optimizer(parameters), loss))
    return steps, claimed


def standard_callbacks(learning_rate: float, *, on_nonfinite: str = "warn",
                       describe: Any = None, early_stopping: tuple[int, float] | None = None,
                       schedule: Callback | None = None,
                       checkpointer: Checkpointer | None = None) -> list[Callback]:
    """The callbacks every fit runs, in order: the divergence guard, early stopping
    (``(n_iter_no_change, tol)``, when asked), a learning-rate schedule, a checkpoint.

    One assembly for the autoencoder, the classifier on an encoder, the joint
    semi-supervised objective and the ladder network.
    """
    standard: list[Callback] = [DivergenceGuard(on_nonfinite, learning_rate, describe)]
    if early_stopping is not None:
        standard.append(EarlyStopping(int(early_stopping[0]), float(early_stopping[1])))
    if schedule is not None:
        standard.append(schedule)
    if checkpointer is not None:
        standard.append(Checkpoint(checkpointer))
    return standard


def autoencoder_trainer(module: nn.Module, settings: Mapping[str, Any],
                        generator: torch.Generator, *, callbacks: Sequence[Callback] = (),
                        parameters: Sequence[nn.Parameter] | None = None,
                        checkpointer: Checkpointer | None = None,
                        context: DistContext | None = None) -> Trainer:
    """A trainer for an :class:`~codings.nn.module.AutoEncoderModule`.

    ``parameters`` restricts what the main optimizer trains (a layer-wise phase); by default
    every parameter not claimed by a constraint's auxiliary step.
    """
    objective = ReconstructionObjective(settings["loss"], reconstruction_reduction(module))
    auxiliary, claimed = _auxiliary_steps(module, objective)
    if parameters is None:
        parameters = [p for p in module.parameters() if id(p) not in claimed]
    optimizer = make_optimizer(parameters, settings["optimizer"],
                               float(settings["learning_rate"]), float(settings["momentum"]))
    schedule = LRSchedule.create(settings["lr_schedule"], optimizer, int(settings["max_iter"]),
                                 int(settings["n_iter_no_change"]))
    standard = standard_callbacks(
        float(settings["learning_rate"]), on_nonfinite=settings["on_nonfinite"],
        describe=describe_penalty(module), schedule=schedule, checkpointer=checkpointer,
        early_stopping=(int(settings["n_iter_no_change"]), float(settings["tol"]))
        if settings["early_stopping"] else None)
    return Trainer(module, objective, optimizer, generator=generator,
                   callbacks=[*standard, *callbacks], auxiliary=auxiliary,
                   precision=settings["precision"], context=context,
                   clip_grad_norm=settings.get("clip_grad_norm"))


def apply_resumed_settings(trainer: Trainer, settings: Mapping[str, Any],
                           recorded: Mapping[str, Any]) -> None:
    """Parameters changed at resume apply from the resumed epoch on: the learning rate and
    momentum (in every parameter group, and a cosine schedule's base rate; an unchanged
    rate keeps the checkpoint's scheduled value), early stopping's patience and tolerance.
    ``recorded`` holds the values the checkpointed run used."""
    if settings["momentum"] != recorded.get("momentum", settings["momentum"]):
        for group in trainer.optimizer.param_groups:
            if "momentum" in group:
                group["momentum"] = float(settings["momentum"])
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping):
            callback.patience = int(settings["n_iter_no_change"])
            callback.tol = float(settings["tol"])
    rate = float(settings["learning_rate"])
    if rate == recorded.get("learning_rate", rate):
        return
    schedule = next((c for c in trainer.callbacks if isinstance(c, LRSchedule)), None)
    if schedule is not None and isinstance(
            schedule.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        schedule.set_rate(rate, int(settings["max_iter"]))
    else:
        for group in trainer.optimizer.param_groups:
            group["lr"] = rate
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping):
            callback.patience = int(settings["n_iter_no_change"])
            callback.tol = float(settings["tol"])

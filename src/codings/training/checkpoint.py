"""Checkpoints: everything needed to resume training exactly, written atomically.

One safetensors file per checkpoint (``checkpoint-000012.safetensors`` after epoch 12):
tensors for the module, the best weights so far, every optimizer's state and the generators'
states; a JSON header for the epoch, history, best epoch, the callbacks' state (early
stopping, learning-rate schedule, divergence reference), the optimizers' hyperparameters and
the run's identity (its parameters and a fingerprint of its data), which a resume checks.
Nothing is pickled. Resuming and training on gives weights bit-identical to a run that was
never interrupted.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from codings.exceptions import InvalidInputError, ModelFileError
from codings.formats.container import read_container, write_container
from codings.training.callbacks import Callback
from codings.training.loop import Trainer, TrainState

_PATTERN = re.compile(r"checkpoint-(\d+)\.safetensors$")
FORMAT_VERSION = 2
_KEY = "checkpoint"


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older one was used instead."""


# -- what a trainer's state is, as tensors and JSON -------------------------------------
def _optimizer_state(optimizer: torch.optim.Optimizer,
                     prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       meta: dict[str, Any], prefix: str) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            index, name = key.removeprefix(prefix + ".").split(".", 1)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _prefix(index: int) -> str:
    return "optimizer" if index == 0 else f"optimizer{index}"


def trainer_state(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, header) describing ``trainer`` between two epochs."""
    state = trainer.state
    tensors = {f"module.{k}": v.detach().cpu().contiguous()
               for k, v in trainer.module.state_dict().items()}
    tensors.update({f"best.{k}": v.detach().cpu().contiguous()
                    for k, v in state.best_state.items()})
    optimizers = []
    for index, optimizer in enumerate(trainer.optimizers):
        optimizer_tensors, meta = _optimizer_state(optimizer, _prefix(index))
        tensors.update(optimizer_tensors)
        optimizers.append(meta)
    tensors["rng.generator"] = trainer.generator.get_state()
    noise = getattr(trainer.module, "generator", None)
    if noise is not None and noise is not trainer.generator:  # per-rank noise under torchrun
        tensors["rng.module"] = noise.get_state()
    header = {
        "format_version": FORMAT_VERSION, "epoch": state.epoch, "history": state.history,
        "best_loss": state.best_loss, "best_epoch": state.best_epoch,
        "stop_reason": state.stop_reason, "diverged_epoch": state.diverged_epoch,
        "optimizers": optimizers,
        "callbacks": {c.state_key: c.state_dict() for c in trainer.callbacks
                      if getattr(c, "state_key", None)},
    }
    return tensors, header


def restore_trainer(trainer: Trainer, tensors: dict[str, torch.Tensor],
                    header: dict[str, Any], path: Path | None = None) -> None:
    """Load a checkpoint into a trainer built like the one that wrote it.

    Raises
    ------
    ModelFileError
        When the checkpoint does not fit the trainer (its module, optimizers or state).
    """
    try:
        _restore(trainer, tensors, header)
    except ModelFileError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        where = f"{path}: " if path is not None else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{where}the checkpoint does not fit this run ({first}).") from exc


def _restore(trainer: Trainer, tensors: dict[str, torch.Tensor],
             header: dict[str, Any]) -> None:
    module = trainer.module
    device = next(module.parameters()).device
    try:
        module.load_state_dict({k.removeprefix("module."): v for k, v in tensors.items()
                                if k.startswith("module.")})
    except RuntimeError as exc:
        raise ModelFileError("The checkpoint does not fit this model (different architecture "
                             "or constraints): " + str(exc).splitlines()[0]) from exc
    if len(header["optimizers"]) != len(trainer.optimizers):
        raise ModelFileError("The checkpoint has a different number of optimizers than this "
                             "model trains with.")
    for index, (optimizer, meta) in enumerate(zip(trainer.optimizers, header["optimizers"],
                                                  strict=True)):
        _restore_optimizer(optimizer, tensors, meta, _prefix(index))
    trainer.generator.set_state(tensors["rng.generator"])
    noise = getattr(module, "generator", None)
    if "rng.module" in tensors and noise is not None and noise is not trainer.generator:
        noise.set_state(tensors["rng.module"])
    states = header.get("callbacks") or {}
    for callback in trainer.callbacks:
        key = getattr(callback, "state_key", None)
        if key and key in states:
            callback.load_state_dict(states[key])
    best = {k.removeprefix("best."): v.to(device) for k, v in tensors.items()
            if k.startswith("best.")}
    stop_reason = header.get("stop_reason")
    trainer.state = TrainState(
        epoch=int(header["epoch"]), history={k: list(v) for k, v in header["history"].items()},
        best_loss=float(header["best_loss"]), best_epoch=int(header["best_epoch"]),
        best_state=best, diverged_epoch=header.get("diverged_epoch"),
        # A run that ended at max_iter may be extended (a larger max_iter): not final.
        stop_reason=None if stop_reason == "max_iter" else stop_reason)


# -- files ------------------------------------------------------------------------------
_STOP_REASONS = (None, "max_iter", "early_stopping", "diverged")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_header(header: dict[str, Any]) -> None:
    """The checkpoint header's schema: keys, types and sizes, before anything uses it."""
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ValueError(f"format_version {version!r} is not one this codings reads "
                         f"(format {FORMAT_VERSION})")
    epoch, best_epoch = header.get("epoch"), header.get("best_epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
    if not isinstance(best_epoch, int) or isinstance(best_epoch, bool) or \
            not -1 <= best_epoch < max(epoch, 1):
        raise ValueError(f"best_epoch must be an int in [-1, epoch), got {best_epoch!r}")
    if not _number(header.get("best_loss")):
        raise ValueError("best_loss must be a number")
    if header.get("stop_reason") not in _STOP_REASONS:
        raise ValueError(f"stop_reason {header.get('stop_reason')!r} is unknown")
    diverged = header.get("diverged_epoch")
    if diverged is not None and (not isinstance(diverged, int) or isinstance(diverged, bool)):
        raise ValueError("diverged_epoch must be an int or null")
    history = header.get("history")
    if not isinstance(history, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and len(v) <= epoch
            and all(_number(x) for x in v) for k, v in history.items()):
        raise ValueError("history must map names to lists of at most 'epoch' numbers")
    optimizers = header.get("optimizers")
    if not isinstance(optimizers, list) or not optimizers or not all(
            isinstance(o, dict) and isinstance(o.get("param_groups"), list)
            and all(isinstance(g, dict) for g in o["param_groups"])
            and isinstance(o.get("scalars"), dict) for o in optimizers):
        raise ValueError("optimizers must be a list of {param_groups, scalars} objects")
    for name in ("callbacks", "identity", "settings"):
        if not isinstance(header.get(name), dict):
            raise ValueError(f"{name} must be an object")
    if not all(isinstance(v, dict) for v in header["callbacks"].values()):
        raise ValueError("each callback's state must be an object")


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and header of a checkpoint, checked (digest over both, header schema).

    Raises
    ------
    ModelFileError
        For a file that is not a regular file, is truncated, oversized, foreign, corrupted
        (the digest covers the header and the tensors) or fails the header schema.
    """
    tensors, header = read_container(Path(path), key=_KEY, what="checkpoint",
                                     validate=validate_header)
    if "rng.generator" not in tensors:
        raise ModelFileError(f"{path} is not a complete checkpoint: it has no generator "
                             "state.")
    return tensors, header


@dataclass
class Checkpointer:
    """The checkpoint files of one run in ``directory``: writes, finds, reads them.

    ``identity`` (JSON: the run's parameters and a data fingerprint) is written into every
    checkpoint; :meth:`check_fresh` refuses to start a new run over another run's files and
    :meth:`load_latest` refuses to resume a run whose identity differs.
    """

    directory: Path
    every: int | None = None  # epochs between checkpoints; None: by time (see Checkpoint)
    keep: int = 2
    writer: bool = True  # under torchrun only rank 0 writes; every rank can read
    identity: dict[str, Any] = field(default_factory=dict)
    #: the values of the parameters that may change at resume, as this run used them
    settings: dict[str, Any] = field(default_factory=dict)

    def path(self, epoch: int) -> Path:
        return self.directory / f"checkpoint-{epoch:06d}.safetensors"

    def existing(self) -> list[Path]:
        """Checkpoint files, newest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir()
                 if (m := _PATTERN.search(p.name))]
        return [p for _, p in sorted(found, reverse=True)]

    def check_fresh(self) -> None:
        """A fresh run never deletes or adopts another run's checkpoints."""
        found = self.existing()
        if found:
            raise InvalidInputError(
                f"checkpoint_dir {self.directory} already holds checkpoints ({found[0].name}, "
                f"{len(found)} in all) of an earlier run. Pass resume=True to continue that "
                "run, or give an empty folder for a new one.")

    def save(self, trainer: Trainer) -> Path | None:
        if not self.writer:
            return None
        tensors, header = trainer_state(trainer)
        path = self.path(trainer.state.epoch)
        write_container(path, tensors, {**header, "identity": self.identity,
                                        "settings": self.settings}, key=_KEY)
        # Prune only this run's files (the folder holds no other run's: check_fresh).
        for old in self.existing()[self.keep:]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The newest readable checkpoint; unreadable newer ones are skipped with a warning.

        Raises
        ------
        InvalidInputError
            When the checkpoint belongs to a run with other parameters or data (naming them).
        """
        for path in self.existing():
            try:
                tensors, header = read_checkpoint(path)
            except ModelFileError as exc:
                warnings.warn(f"Skipping checkpoint {path.name}: {exc}", CheckpointWarning,
                              stacklevel=3)
                continue
            self._check_identity(path, header.get("identity") or {})
            return tensors, header
        return None

    def _check_identity(self, path: Path, recorded: dict[str, Any]) -> None:
        mine = json.loads(json.dumps(self.identity))  # the same JSON types as recorded
        changed = sorted(k for k in set(mine) | set(recorded) if mine.get(k) != recorded.get(k))
        if not changed:
            return
        if "data" in changed:
            raise InvalidInputError(
                f"Cannot resume from {path}: the checkpoint does not fit this data; it was "
                "trained on other data (a different "
                "number of rows, features or values). Resume with the same data, or start a "
                "new run in an empty folder.")
        listed = ", ".join(f"{k}={mine.get(k)!r} (checkpoint: {recorded.get(k)!r})"
                           for k in changed)
        raise InvalidInputError(
            f"Cannot resume from {path}: the checkpoint does not fit this model, whose "
            f"parameters changed: {listed}. Only the "
            "learning rate, momentum, max_iter, early-stopping patience and tolerance, "
            "checkpointing, device and verbosity may change at resume; start a new run in "
            "an empty folder to change the others.")


class Checkpoint(Callback):
    """Writes a checkpoint every ``checkpointer.every`` epochs, or, when that is None, after
    the first epoch and then whenever ``seconds`` have passed since the last one; and once at
    the end (after the best weights are restored). Writing is atomic and fsynced, which
    costs more than a small epoch: measured on the digits, a checkpoint per epoch made the
    default fit 2.5x slower (11.1 s against 4.4 s)."""

    priority = 100
    seconds = 30.0

    def __init__(self, checkpointer: Checkpointer) -> None:
        self.checkpointer = checkpointer
        self._last = 0.0

    def _due(self) -> bool:
        every = self.checkpointer.every
        if every is not None:
            return self.trainer.state.epoch % every == 0
        return self._last == 0.0 or time.monotonic() - self._last >= self.seconds

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        # A stopping epoch is written by on_train_end, with its final weights.
        if self.trainer.state.stop_reason is None and self._due():
            self.checkpointer.save(self.trainer)
            self._last = time.monotonic()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.checkpointer.save(self.trainer)

"""Checkpoints: everything needed to resume training exactly, written atomically.

One safetensors file per checkpoint (``checkpoint-000012.safetensors`` after epoch 12):
tensors for the module, the best weights so far, the optimizer state and the generator
state; a JSON header for the epoch, history, counters, optimizer hyperparameters and the
scheduler state, plus a sha256 of the tensors. Nothing is pickled. Resuming from it and
training on gives weights bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from codings._fileio import atomic_write_bytes, tensor_digest
from codings.exceptions import ModelFileError

_PATTERN = re.compile(r"checkpoint-(\d+)\.safetensors$")
FORMAT_VERSION = 1


class CheckpointWarning(UserWarning):
    """A checkpoint could not be read and an older one was used instead."""


@dataclass
class TrainState:
    """The loop's own state between epochs (besides module, optimizer and generator)."""

    epoch: int = 0  # epochs completed
    history: dict[str, list[float]] = field(default_factory=dict)
    best_loss: float = float("inf")
    best_epoch: int = -1
    no_change: int = 0
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    stop_reason: str | None = None  # set once training has finished


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor],
                                                                  dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            key = f"{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            index, name = key.removeprefix("optimizer.").split(".", 1)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


@dataclass
class Checkpointer:
    """Writes a checkpoint every ``every`` epochs and at the end; keeps the newest ``keep``."""

    directory: Path
    every: int = 1
    keep: int = 2
    writer: bool = True  # under torchrun only rank 0 writes; every rank can read

    def path(self, epoch: int) -> Path:
        return self.directory / f"checkpoint-{epoch:06d}.safetensors"

    def existing(self) -> list[Path]:
        """Checkpoint files, newest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _PATTERN.search(p.name)]
        return sorted(found, key=lambda p: int(_PATTERN.search(p.name).group(1)),  # type: ignore[union-attr]
                      reverse=True)

    def save(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
             generator: torch.Generator, state: TrainState) -> Path | None:
        from safetensors.torch import save

        if not self.writer:
            return None
        tensors = {f"module.{k}": v.detach().cpu().contiguous()
                   for k, v in module.state_dict().items()}
        tensors.update({f"best.{k}": v.detach().cpu().contiguous()
                        for k, v in state.best_state.items()})
        optimizer_tensors, optimizer_meta = _optimizer_tensors(optimizer)
        tensors.update(optimizer_tensors)
        tensors["rng.generator"] = generator.get_state()
        header = {
            "format_version": FORMAT_VERSION, "epoch": state.epoch, "history": state.history,
            "best_loss": state.best_loss, "best_epoch": state.best_epoch,
            "no_change": state.no_change, "stop_reason": state.stop_reason,
            "optimizer": optimizer_meta,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "tensor_sha256": tensor_digest(tensors),
        }
        path = self.path(state.epoch)
        atomic_write_bytes(path, save(tensors, metadata={"checkpoint": json.dumps(header)}))
        for old in self.existing()[self.keep:]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """The newest readable checkpoint; unreadable newer ones are skipped with a warning."""
        for path in self.existing():
            try:
                return read_checkpoint(path)
            except ModelFileError as exc:
                warnings.warn(f"Skipping checkpoint {path.name}: {exc}", CheckpointWarning,
                              stacklevel=3)
        return None


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        raw = path.read_bytes()
        tensors = load(raw)
        length = int.from_bytes(raw[:8], "little")
        header = json.loads(json.loads(raw[8:8 + length])["__metadata__"]["checkpoint"])
    except (OSError, SafetensorError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint ({exc}).") from exc
    if header.get("tensor_sha256") != tensor_digest(tensors):
        raise ModelFileError(f"{path} is corrupted: its tensors do not match their sha256.")
    return tensors, header


def restore(tensors: dict[str, torch.Tensor], header: dict[str, Any],
            module: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            generator: torch.Generator) -> TrainState:
    """Load a checkpoint into live objects and return the loop state to continue from."""
    device = next(module.parameters()).device
    try:
        module.load_state_dict({k.removeprefix("module."): v for k, v in tensors.items()
                                if k.startswith("module.")})
    except RuntimeError as exc:
        raise ModelFileError("The checkpoint does not fit this model (different architecture "
                             "or constraints): " + str(exc).splitlines()[0]) from exc
    # Optimizer.load_state_dict moves each state tensor to its parameter's device itself.
    _restore_optimizer(optimizer, tensors, header["optimizer"])
    if scheduler is not None and header.get("scheduler") is not None:
        scheduler.load_state_dict(header["scheduler"])
    generator.set_state(tensors["rng.generator"])
    best = {k.removeprefix("best."): v.to(device) for k, v in tensors.items()
            if k.startswith("best.")}
    return TrainState(epoch=int(header["epoch"]), history=header["history"],
                      best_loss=float(header["best_loss"]), best_epoch=int(header["best_epoch"]),
                      no_change=int(header["no_change"]), best_state=best,
                      stop_reason=header.get("stop_reason"))

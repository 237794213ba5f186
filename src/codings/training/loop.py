"""The training loop: one place, no per-sample work, one host sync per epoch.

In-memory data is one contiguous tensor; each epoch draws a permutation from the run's own
``torch.Generator`` and slices it into batches, so there is no ``Dataset.__getitem__`` per
sample and no ``loss.item()`` per step: loss terms are summed on the device and read once per
epoch.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from codings.exceptions import TrainingDivergedError
from codings.nn.module import AutoEncoderModule, Output
from codings.training.callbacks import Callback
from codings.training.checkpoint import Checkpointer, TrainState, restore
from codings.training.distributed import DistContext, all_reduce_sum, wrap
from codings.training.losses import reconstruction_error
from codings.training.sources import Source, TensorSource, rows_per_epoch

OPTIMIZERS = ("adam", "sgd", "rmsprop", "nadam")
PRECISIONS = ("32", "bf16-mixed")
LR_SCHEDULES = ("constant", "plateau", "cosine")


class TrainingDivergedWarning(UserWarning):
    """The loss became non-finite; training stopped and the best weights were restored."""


@dataclass
class TrainingConfig:
    """Everything the loop needs besides the module and the data (validated upstream)."""

    loss: str = "mse"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    lr_schedule: str = "constant"
    batch_size: int | None = 256
    max_iter: int = 200
    early_stopping: bool = False
    validation_fraction: float = 0.1
    n_iter_no_change: int = 10
    tol: float = 1e-4
    on_nonfinite: str = "warn"
    precision: str = "32"  # "bf16-mixed": forward passes under torch.autocast in bfloat16


@dataclass
class TrainingResult:
    history: dict[str, list[float]]
    n_iter: int
    best_epoch: int
    stop_reason: str  # "max_iter", "early_stopping" or "diverged"
    diverged_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 matmuls run natively (AVX-512 BF16 or AMX on CPU)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def make_optimizer(params: Any, config: TrainingConfig) -> torch.optim.Optimizer:
    """The configured optimizer; Adam and SGD use torch's fused kernels, one kernel per step
    instead of one per tensor (measured 7-13% faster training on this CPU)."""
    lr = config.learning_rate
    params = list(params)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if config.optimizer == "nadam":
        return torch.optim.NAdam(params, lr=lr)
    fused = _fused_supported(params)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, fused=fused)
    return torch.optim.Adam(params, lr=lr, fused=fused)


def _fused_supported(params: list[Any]) -> bool | None:
    tensors = [p["params"] if isinstance(p, dict) else p for p in params]
    flat = [t for group in tensors for t in (group if isinstance(group, list) else [group])]
    devices = {t.device.type for t in flat}
    ok = len(devices) == 1 and devices <= {"cpu", "cuda"} and all(
        t.is_floating_point() for t in flat)
    return True if ok else None


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> Any:
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.max_iter, 1))
    if config.lr_schedule == "plateau":
        patience = max(config.n_iter_no_change // 2, 1)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5,
                                                          patience=patience)
    return None


def reconstruction_reduction(module: AutoEncoderModule) -> str:
    for constraint in getattr(module, "constraints", ()):
        reduction = getattr(constraint, "reconstruction_reduction", None)
        if reduction is not None:
            return str(reduction)
    return "mean"


def loss_terms(out: Output, loss: str, reduction: str) -> dict[str, Tensor]:
    """Batch-mean reconstruction loss plus every named penalty; ``"loss"`` is their sum."""
    terms = {"reconstruction": reconstruction_error(out.x_hat, out.x, loss, reduction).mean()}
    terms.update(out.penalties)
    terms["loss"] = torch.stack(list(terms.values())).sum()
    return terms


def split_validation(n: int, fraction: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    perm = torch.randperm(n, generator=generator)
    n_val = min(max(1, round(n * fraction)), n - 1)
    return perm[n_val:], perm[:n_val]


@torch.no_grad()
def evaluate(module: AutoEncoderModule, x: Tensor, loss: str, batch_size: int) -> dict[str, float]:
    """Mean loss terms over ``x`` in eval mode (no corruption, deterministic codings)."""
    was_training = module.training
    module.eval()
    reduction = reconstruction_reduction(module)
    totals: dict[str, Tensor] = {}
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        for name, value in loss_terms(module(xb), loss, reduction).items():
            totals[name] = totals.get(name, 0) + value * xb.shape[0]
    module.train(was_training)
    return {name: (value / x.shape[0]).item() for name, value in totals.items()}


def _copy_state(module: nn.Module, into: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for name, value in module.state_dict().items():
            into[name].copy_(value)


class Trainer:
    """Fits an :class:`AutoEncoderModule` to an in-memory tensor."""

    def __init__(self, module: AutoEncoderModule, config: TrainingConfig,
                 generator: torch.Generator, callbacks: Sequence[Callback] = (),
                 parameters: Sequence[nn.Parameter] | None = None,
                 context: DistContext | None = None) -> None:
        self.module = module
        self.context = context
        # Under torchrun the forward pass goes through DDP, which averages the gradients.
        device = next(module.parameters()).device
        self.forward_module = wrap(module, context, device)
        self.config = config
        self.generator = generator
        self.callbacks = list(callbacks)
        params = list(parameters) if parameters is not None else list(module.parameters())
        self.optimizer = make_optimizer(params, config)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.reduction = reconstruction_reduction(module)

    def run_epoch(self, source: Source, batch_size: int) -> dict[str, float]:
        """One pass over the data in a fresh random order; sample-weighted mean terms."""
        module, optimizer = self.forward_module, self.optimizer
        module.train()
        totals: dict[str, Tensor] = {}
        autocast = self.config.precision == "bf16-mixed"
        rank, world = (self.context.rank, self.context.world_size) if self.context else (0, 1)
        for xb in source.batches(self.generator, batch_size, rank, world):
            # Weights, optimizer state and the backward pass stay float32; only the forward
            # matmuls run in bfloat16 (2.2x the fp32 matmul rate on AVX-512 BF16 CPUs).
            with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=autocast):
                terms = loss_terms(module(xb), self.config.loss, self.reduction)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            for name, value in terms.items():
                weighted = value.detach() * xb.shape[0]
                totals[name] = totals[name] + weighted if name in totals else weighted
        # One host sync per epoch, for all terms at once (and one all-reduce under torchrun).
        stacked = all_reduce_sum(torch.stack(list(totals.values())), self.context)
        seen = source.rows_seen(world) if hasattr(source, "rows_seen") \
            else rows_per_epoch(source.n, world)
        values = stacked.div_(seen).tolist()
        return dict(zip(totals, values, strict=True))

    def fit(self, x: Tensor | Source, checkpointer: Checkpointer | None = None,
            resume: bool = False, validation: Tensor | None = None) -> TrainingResult:
        """Train for ``config.max_iter`` epochs (fewer with early stopping or divergence).

        With a ``checkpointer``, a checkpoint is written every ``checkpointer.every`` epochs
        and at the end; ``resume`` continues from the newest readable one, bit-identically.
        """
        config = self.config
        x_val = validation
        if isinstance(x, Tensor):
            if config.early_stopping and x_val is None:
                # Drawn first from a freshly seeded generator: a resumed run splits the same.
                train_idx, val_idx = split_validation(x.shape[0], config.validation_fraction,
                                                      self.generator)
                x, x_val = x[train_idx.to(x.device)], x[val_idx.to(x.device)]
            x = TensorSource(x)
        batch_size = min(config.batch_size or x.n, x.n)
        state = self._initial_state(checkpointer, resume)
        diverged_epoch = None
        for callback in self.callbacks:
            if hasattr(callback, "set_module"):  # duck-typed callbacks may lack it
                callback.set_module(self.module)
            callback.on_train_begin(config.max_iter)
        # The training loss of an epoch is measured while the weights move, so it describes
        # the weights the epoch started from: keep those, in case this epoch is the best.
        # (A validation loss is measured after the epoch and describes the weights then.)
        start = None if x_val is not None else {
            k: v.detach().clone() for k, v in self.module.state_dict().items()}
        while state.stop_reason is None and state.epoch < config.max_iter:
            epoch = state.epoch
            if start is not None:
                _copy_state(self.module, start)
            logs = self._epoch_logs(x, x_val, batch_size)
            for name, value in logs.items():
                state.history.setdefault(name, []).append(value)
            state.epoch += 1
            if not all(math.isfinite(v) for v in logs.values()):
                state.stop_reason, diverged_epoch = "diverged", epoch
                break
            monitored = logs["val_loss"] if x_val is not None else logs["loss"]
            self._track_best(state, monitored, start)
            self._step_scheduler(monitored)
            for callback in self.callbacks:
                callback.on_epoch_end(epoch, logs)
            if config.early_stopping and state.no_change >= config.n_iter_no_change:
                state.stop_reason = "early_stopping"
                break
            if checkpointer is not None and state.epoch % checkpointer.every == 0:
                checkpointer.save(self.module, self.optimizer, self.scheduler, self.generator,
                                  state)
        stop_reason = state.stop_reason or "max_iter"
        if stop_reason in {"diverged", "early_stopping"}:
            self.module.load_state_dict(state.best_state)
        if checkpointer is not None:
            state.stop_reason = stop_reason
            checkpointer.save(self.module, self.optimizer, self.scheduler, self.generator, state)
        self.module.eval()
        result = TrainingResult(state.history, n_iter=state.epoch, best_epoch=state.best_epoch,
                                stop_reason=stop_reason, diverged_epoch=diverged_epoch)
        for callback in self.callbacks:
            callback.on_train_end({"stop_reason": stop_reason, "n_iter": result.n_iter})
        if diverged_epoch is not None:
            self._report_divergence(diverged_epoch, state.best_epoch)
        return result

    def _initial_state(self, checkpointer: Checkpointer | None, resume: bool) -> TrainState:
        if resume and checkpointer is not None:
            found = checkpointer.load_latest()
            if found is not None:
                state = restore(*found, self.module, self.optimizer, self.scheduler,
                                self.generator)
                if state.stop_reason == "max_iter":  # finished, but max_iter may have grown
                    state.stop_reason = None
                return state
        # Preallocated once; improving epochs copy into it (no allocation per epoch).
        best = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        return TrainState(best_state=best)

    def _epoch_logs(self, x: Source, x_val: Tensor | None,
                    batch_size: int) -> dict[str, float]:
        started = time.perf_counter()
        logs = self.run_epoch(x, batch_size)
        if x_val is not None:
            val = evaluate(self.module, x_val, self.config.loss, batch_size)
            logs.update({f"val_{name}": value for name, value in val.items()})
        logs["lr"] = self.optimizer.param_groups[0]["lr"]
        logs["time"] = time.perf_counter() - started
        return logs

    def _track_best(self, state: TrainState, monitored: float,
                    start: dict[str, Tensor] | None) -> None:
        state.no_change = 0 if monitored < state.best_loss - self.config.tol \
            else state.no_change + 1
        if monitored < state.best_loss:
            state.best_loss, state.best_epoch = monitored, state.epoch - 1
            source = start if start is not None else self.module.state_dict()
            with torch.no_grad():
                for name, value in source.items():
                    state.best_state[name].copy_(value)

    def _step_scheduler(self, monitored: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(monitored)
        elif self.scheduler is not None:
            self.scheduler.step()

    def _report_divergence(self, epoch: int, best_epoch: int) -> None:
        restored = (f"the weights with the lowest loss (epoch {best_epoch + 1}) were restored"
                    if best_epoch >= 0 else "the initial weights were restored")
        message = (f"The training loss became NaN or infinite at epoch {epoch + 1}; {restored}. "
                   f"Lower the learning rate (now {self.config.learning_rate:g}), scale the "
                   "inputs (for example with StandardScaler), or use loss='bce' only for data "
                   "in [0, 1].")
        if self.config.on_nonfinite == "raise":
            raise TrainingDivergedError(message)
        warnings.warn(message, TrainingDivergedWarning, stacklevel=4)

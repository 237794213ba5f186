"""``AutoEncoder.fit``'s training run: device, seed, module, data, torchrun, checkpoints.

``train(estimator, X, callbacks)`` takes validated parameters and a validated array and
returns the trained module and the trainer's result. Each concern has one function here:
the seed, the device, the data sources and validation split, the run's identity for
checkpoints, resume, and layer-wise pretraining.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings._params import AUTOENCODER_PARAMS, check_random_state, choose_batch_size
from codings.estimators.validation import as_float_tensor_input
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.nn.sequence import CLIP_GRAD_NORM
from codings.training.callbacks import Callback
from codings.training.checkpoint import Checkpointer, restore_trainer
from codings.training.distributed import DistContext, device_for_rank, launched_by_torchrun
from codings.training.distributed import setup as setup_distributed
from codings.training.distributed import teardown as teardown_distributed
from codings.training.layerwise import pretrain
from codings.training.loop import Trainer, TrainingResult, bf16_supported
from codings.training.monitoring import ProgressBar
from codings.training.recipe import apply_resumed_settings, autoencoder_trainer
from codings.training.sources import (
    MemmapSource,
    Source,
    TensorSource,
    streamed_rows,
    validation_split,
)

_STREAMED_VALIDATION_ROWS = 10_000  # a memory map's validation rows are held in memory
_FINGERPRINT_ROWS = 256


def seed_from(random_state: Any, owner: str = "codings") -> int:
    """An int seed from ``random_state`` without touching numpy's or torch's global RNG.

    Every place a seed enters (``fit``, ``sample``, ``interpolate``, the classifier, the
    command line) goes through here, so one check refuses what is not a seed: None, an int
    in numpy's range ``[0, 2**32 - 1]``, a ``RandomState`` or a ``Generator``.
    """
    check_random_state(owner, random_state)
    if random_state is None:
        return secrets.randbits(63)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int64).max))
    return int(random_state)


def resolve_device(device: str) -> torch.device:
    """A torch device, with the library's error for a name torch does not know."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise InvalidInputError(f"The 'device' parameter of AutoEncoder must be 'cpu', 'cuda', "
                                f"'cuda:N' or 'auto'. Got {device!r} instead.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device={device!r} was requested but CUDA is not available; "
                                "use device='cpu' or device='auto'.")
    if resolved.type not in {"cpu", "cuda"}:
        raise InvalidInputError(f"device={device!r} is not supported; use 'cpu', 'cuda', "
                                "'cuda:N' or 'auto'.")
    return resolved


def training_settings(estimator: Any, device: torch.device) -> dict[str, Any]:
    """The parameters as the trainer reads them; bf16 falls back where it is not native."""
    settings = estimator.get_params(deep=False)
    # Recurrent networks' gradients can explode through time: clip their norm.
    settings["clip_grad_norm"] = CLIP_GRAD_NORM if settings["architecture"] in {"lstm", "gru"} \
        else None
    if settings["precision"] == "bf16-mixed" and not bf16_supported(device):
        warnings.warn("precision='bf16-mixed' needs native bfloat16 support, which this "
                      "device lacks; training in float32 instead.", UserWarning, stacklevel=4)
        settings["precision"] = "32"
    return settings


def data_fingerprint(X: np.ndarray) -> str:
    """A digest of the shape and of rows spread over the array (a memory map reads only
    those rows), so a resume on other data is caught."""
    rows = np.unique(np.linspace(0, X.shape[0] - 1, _FINGERPRINT_ROWS).astype(np.int64))
    digest = hashlib.sha256(repr(tuple(X.shape)).encode())
    digest.update(np.ascontiguousarray(X[rows], dtype=np.float32).tobytes())
    return digest.hexdigest()[:32]


def run_identity(estimator: Any, X: np.ndarray) -> dict[str, Any]:
    """What a checkpoint must share with a run that resumes it: every parameter that may
    not change at resume, and the data."""
    identity: dict[str, Any] = {}
    for param in AUTOENCODER_PARAMS:
        if param.resumable:
            continue
        value = getattr(estimator, param.name)
        if param.name == "constraints":
            value = [c.to_dict() for c in estimator.constraints_]
        elif param.name in {"encoder", "decoder"}:
            value = None if value is None else f"{type(value).__module__}." \
                                               f"{type(value).__qualname__}"
        elif param.name == "random_state" and not isinstance(value, int | None):
            value = type(value).__name__
        identity[param.name] = json.loads(json.dumps(value, default=str))
    identity["data"] = data_fingerprint(X)
    return identity


def training_sources(X: np.ndarray, device: torch.device, generator: torch.Generator,
                     settings: dict[str, Any]) -> tuple[Source, Source | None]:
    """The training rows and, with early stopping, the validation rows (one split rule)."""
    cap = _STREAMED_VALIDATION_ROWS if isinstance(X, np.memmap) else None
    split = validation_split(X.shape[0], settings["validation_fraction"], generator, cap) \
        if settings["early_stopping"] else None
    if isinstance(X, np.memmap):
        exclude = split[1].numpy() if split is not None else None
        batch = settings["batch_size"] or X.shape[0]
        source = MemmapSource(X, device, min(batch, X.shape[0]), exclude=exclude)
        validation = None if exclude is None else TensorSource(
            streamed_rows(X, exclude).to(device))
        return source, validation
    x = torch.from_numpy(as_float_tensor_input(X)).to(device)
    x = x.reshape(x.shape[0], -1)
    if split is None:
        return TensorSource(x), None
    train_rows, val_rows = (rows.to(device) for rows in split)
    return TensorSource(x[train_rows]), TensorSource(x[val_rows])


def _checkpointer(estimator: Any, X: np.ndarray,
                  context: DistContext | None) -> Checkpointer | None:
    if estimator.checkpoint_dir is None:
        return None
    settings = {p.name: getattr(estimator, p.name) for p in AUTOENCODER_PARAMS
                if p.resumable and p.name in {"learning_rate", "momentum", "max_iter"}}
    return Checkpointer(Path(estimator.checkpoint_dir), estimator.checkpoint_every,
                        estimator.checkpoint_keep, writer=context is None or context.is_main,
                        identity=run_identity(estimator, X), settings=settings)


def resume(trainer: Trainer, checkpointer: Checkpointer, settings: dict[str, Any]) -> bool:
    """Continue from the newest checkpoint; False when there is none (a fresh start)."""
    found = checkpointer.load_latest()
    if found is None:
        return False
    tensors, header = found
    restore_trainer(trainer, tensors, header)
    recorded = header.get("settings") or {}
    state = trainer.state
    if state.stop_reason == "diverged":
        if float(recorded.get("learning_rate", -1)) == float(settings["learning_rate"]):
            raise InvalidInputError(
                f"The run in {checkpointer.directory} diverged at epoch "
                f"{(state.diverged_epoch or 0) + 1} with learning_rate="
                f"{settings['learning_rate']!r}; resuming it the same way would diverge "
                "again. Resume with a lower learning_rate, or start afresh.")
        state.stop_reason = None  # its best weights continue at the new rate
    elif state.stop_reason == "early_stopping":
        warnings.warn(f"The run in {checkpointer.directory} already stopped early at epoch "
                      f"{state.epoch}; there is nothing to resume.", UserWarning, stacklevel=4)
    apply_resumed_settings(trainer, settings, recorded)
    return True


def _pretrain(estimator: Any, module: AutoEncoderModule, data: Source, settings: dict[str, Any],
              generator: torch.Generator, context: DistContext | None,
              callbacks: Sequence[Callback]) -> dict[str, list[float]]:
    if estimator.pretraining is None:
        return {}
    if not isinstance(data, TensorSource):
        raise InvalidInputError("Layer-wise pretraining caches every layer's output in "
                                "memory, so it cannot stream a memory-mapped array; "
                                "load the data with np.load(path) or drop pretraining.")
    if context is not None:
        raise InvalidInputError("Layer-wise pretraining runs in one process; train "
                                "without torchrun or without pretraining.")
    epochs = estimator.pretraining_iter or estimator.max_iter
    return pretrain(module, data.x, settings, epochs, generator, estimator.pretraining,
                    callbacks)


def train(estimator: Any, X: np.ndarray,
          callbacks: Sequence[Callback]) -> tuple[AutoEncoderModule, TrainingResult]:
    """Build the module and train it as the estimator's parameters say."""
    if launched_by_torchrun() and not isinstance(estimator.random_state, int | np.integer):
        raise InvalidInputError("Training under torchrun needs an int random_state: every "
                                "process must build the same model and draw the same "
                                "batches.")
    device = device_for_rank(resolve_device(estimator.device))
    seed = seed_from(estimator.random_state)
    generator = torch.Generator().manual_seed(seed)
    module = estimator._build_module(int(np.prod(X.shape[1:])), generator, seed).to(device)
    settings = training_settings(estimator, device)
    context = setup_distributed(device)
    checkpointer = _checkpointer(estimator, X, context)
    resuming = bool(estimator.resume) and checkpointer is not None and \
        bool(checkpointer.existing())
    if checkpointer is not None and not estimator.resume:
        checkpointer.check_fresh()
    settings["batch_size"] = choose_batch_size(settings["batch_size"], X.shape[0])
    data, validation = training_sources(X, device, generator, settings)
    if context is not None and context.world_size > 1:
        # Each rank corrupts its own rows with its own noise; batches stay in step.
        module.set_generator(torch.Generator().manual_seed(seed + 7919 * (context.rank + 1)))
    callbacks = list(callbacks)
    if estimator.verbose and (context is None or context.is_main):
        callbacks.append(ProgressBar())
    trainer = None
    try:
        phases = {} if resuming else _pretrain(estimator, module, data, settings, generator,
                                               context, callbacks)
        if estimator.max_iter > 0:
            trainer = autoencoder_trainer(module, settings, generator, callbacks=callbacks,
                                          checkpointer=checkpointer, context=context)
            if resuming and checkpointer is not None:
                resume(trainer, checkpointer, settings)
            result = trainer.fit(data, int(estimator.max_iter), settings["batch_size"],
                                 validation)
        else:
            result = TrainingResult({}, n_iter=0, best_epoch=-1, stop_reason="max_iter")
    finally:
        wrapper = trainer.forward_module if trainer is not None else None
        trainer = None  # the DDP wrapper must go before the process group
        teardown_distributed(wrapper, context)
    result.history = {**phases, **result.history}
    return module, result

"""Per-time-step scores of a series: windows reconstructed, their errors spread back to steps.

Used by :meth:`~codings.AnomalyDetector.fit_timesteps` and ``score_timesteps``; the model is
read by the one unwrap rule (:func:`codings.formats.pipeline.unwrap`): its preprocessing
steps, then the autoencoder.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from codings.datasets.windows import sliding_windows
from codings.estimators.validation import param_error
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import unwrap
from codings.nn.sequence import SEQUENCE_ARCHITECTURES

TIMESTEP_BATCH = 4096  # windows scored at a time by score_timesteps


def check_window(window: Any) -> int:
    if not isinstance(window, numbers.Integral) or isinstance(window, bool) or window < 1:
        raise param_error("AnomalyDetector", "window", "an int >= 1", window)
    return int(window)


def training_windows(autoencoder: Any, windows: np.ndarray) -> np.ndarray:
    """The windows as an unfitted ``autoencoder`` takes them: ``(n, window, channels)`` for a
    sequence architecture, else flattened to ``(n, window * channels)`` rows."""
    final = unwrap(autoencoder).final if autoencoder is not None else None
    if final is not None and final is autoencoder and (
            getattr(final, "architecture", "mlp") in SEQUENCE_ARCHITECTURES
            or getattr(final, "encoder", None) is not None):
        return windows
    return np.ascontiguousarray(windows).reshape(len(windows), -1)


def window_starts(timesteps: int, window: int, stride: int) -> np.ndarray:
    """``0, stride, ...``, plus ``timesteps - window`` when the strides miss the end."""
    starts = np.arange(0, timesteps - window + 1, stride)
    if starts[-1] != timesteps - window:
        starts = np.append(starts, timesteps - window)
    return starts


def _step_errors(model: Any, batch: np.ndarray) -> np.ndarray:
    """Per-step errors ``(n, window)`` of windows ``(n, window, channels)``: the mean over the
    channels of the squared error (BCE for ``loss="bce"``), after the model's scalers."""
    n, window, channels = batch.shape
    rows = batch.reshape(n, window * channels)
    parts = unwrap(model)
    final = parts.final
    if parts.steps:
        rows = np.asarray(parts.preprocess(rows))
    if hasattr(final, "module_") and hasattr(final, "_map_batches"):
        loss = getattr(final, "loss", "mse")

        def error(module: Any, x: torch.Tensor) -> torch.Tensor:
            x_hat = module.decode(module.encode(x).z)
            if loss == "bce":
                return F.binary_cross_entropy_with_logits(x_hat, x, reduction="none")
            return (x_hat - x).square()

        per_value = final._map_batches(final._check_X(rows, reset=False), error)
    elif hasattr(final, "reconstruct"):
        per_value = np.square(np.asarray(final.reconstruct(rows)).reshape(rows.shape) - rows)
    else:
        raise InvalidInputError(f"score_timesteps needs an autoencoder with reconstruct; got "
                                f"{type(final).__name__}.")
    return np.asarray(per_value, dtype=np.float64).reshape(n, window, channels).mean(axis=2)


def timestep_scores(model: Any, series: Any, window: int, stride: int,
                     batch_size: int) -> np.ndarray:
    """Minus the mean over covering windows of each step's error (see score_timesteps)."""
    sliding_windows(series, window, stride)  # the checks: shape, NaN, window and stride
    windows = sliding_windows(series, window)  # every start, a view; batches index it
    timesteps, channels = windows.shape[0] + window - 1, windows.shape[2]
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and n_features != window * channels:
        raise InvalidInputError(
            f"The model takes samples of {n_features} values, but windows of {window} steps "
            f"of {channels} channel(s) have {window * channels}; use window="
            f"{n_features // channels} (the window the model was fitted on).")
    starts = window_starts(timesteps, window, stride)
    sums = np.zeros(timesteps)
    counts = np.zeros(timesteps)
    for first in range(0, len(starts), batch_size):
        batch_starts = starts[first:first + batch_size]
        batch = windows[batch_starts]  # a copy of this batch only
        if batch.dtype.kind != "f":
            batch = batch.astype(np.float64)
        errors = _step_errors(model, batch)
        for offset in range(window):  # the starts are distinct, so no index repeats
            sums[batch_starts + offset] += errors[:, offset]
            counts[batch_starts + offset] += 1
    return -(sums / counts)

"""Sliding windows over a time series, as a read-only strided view (no copy)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from codings.exceptions import InvalidInputError

_OWNER = "sliding_windows"
_NUMERIC_KINDS = "iuf"  # signed and unsigned integers, floats


def _param_error(name: str, expected: str, value: Any) -> InvalidInputError:
    return InvalidInputError(f"The {name!r} parameter of {_OWNER} must be {expected}. "
                             f"Got {value!r} instead.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _from_pandas(series: Any) -> np.ndarray:
    """A pandas Series or DataFrame as an array; non-numeric columns are named."""
    columns = [(series.name, series.dtype)] if hasattr(series, "dtype") else list(
        series.dtypes.items())
    for name, dtype in columns:
        if getattr(dtype, "kind", "O") not in _NUMERIC_KINDS:
            raise InvalidInputError(
                f"sliding_windows needs numeric values, but column {name!r} has dtype "
                f"{dtype}; convert it with .astype(float) or drop it.")
    if all(isinstance(dtype, np.dtype) for _, dtype in columns):
        return np.asarray(series.to_numpy())
    # Nullable extension dtypes (Float64, Int64) hold pd.NA: make it NaN, reported below.
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))


def _as_series(series: Any) -> np.ndarray:
    """``(timesteps, channels)``, a view of the input when it is a numpy array."""
    is_pandas = hasattr(series, "to_numpy") and hasattr(series, "index")
    array = _from_pandas(series) if is_pandas else np.asarray(series)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidInputError(
            f"sliding_windows needs a numeric series (integers or floats); got dtype "
            f"{array.dtype}. Convert it with np.asarray(series, dtype=float).")
    if array.ndim not in (1, 2):
        raise InvalidInputError(
            f"sliding_windows takes a series of shape (timesteps,) or (timesteps, channels); "
            f"got an array of shape {array.shape}.")
    if array.ndim == 1:
        array = array[:, None]
    if array.shape[1] == 0:
        raise InvalidInputError("sliding_windows needs at least one channel; the series has "
                                f"shape {array.shape}.")
    return array


def _check_finite(array: np.ndarray) -> None:
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        step, channel = np.argwhere(bad)[0]
        value = array[step, channel]
        raise InvalidInputError(
            f"The series has {value} at time step {step}, channel {channel}; fill or drop "
            "missing and infinite values before making windows.")


def sliding_windows(series: Any, window: int, stride: int = 1) -> np.ndarray:
    """Cut a time series into overlapping windows, without copying it.

    Parameters
    ----------
    series : array-like of shape (timesteps,) or (timesteps, channels)
        A numpy array, a pandas Series or DataFrame (one column per channel; the index is
        ignored), or anything ``np.asarray`` takes. Integer or float values, all finite.
    window : int
        Time steps per window, from 1 to ``timesteps``.
    stride : int, default=1
        Steps between the starts of consecutive windows. The windows start at ``0, stride,
        2 * stride, ...``; the last ``(timesteps - window) % stride`` steps fall in no window.

    Returns
    -------
    windows : ndarray of shape (n_windows, window, channels)
        ``windows[i] == series[i * stride : i * stride + window]``, with
        ``n_windows = (timesteps - window) // stride + 1`` and ``channels = 1`` for a 1-D
        series. A read-only strided view of the series (of its array, for pandas), in its
        dtype: nothing is copied, so a long series gives many windows at no extra memory.
        Copy it (``windows.copy()``) to write to it.

    Raises
    ------
    InvalidInputError
        For a window outside ``[1, timesteps]``, a stride that is not a positive int, a
        series that is not 1-D or 2-D, non-numeric values, or NaN or infinite values (the
        first one's time step and channel are named).

    Examples
    --------
    >>> import numpy as np
    >>> from codings.datasets import sliding_windows
    >>> sliding_windows(np.arange(6), window=3, stride=2)[..., 0]
    array([[0, 1, 2],
           [2, 3, 4]])
    """
    array = _as_series(series)
    timesteps = array.shape[0]
    if not _is_int(window) or window < 1:
        raise _param_error("window", "an int >= 1", window)
    if window > timesteps:
        raise InvalidInputError(
            f"window={window} is longer than the series ({timesteps} time steps); use a "
            f"window of at most {timesteps} steps.")
    if not _is_int(stride) or stride < 1:
        raise _param_error("stride", "an int >= 1", stride)
    _check_finite(array)
    # (n, channels, window) -> (n, window, channels), then every stride-th start: all views.
    view = np.lib.stride_tricks.sliding_window_view(array, int(window), axis=0)
    return view.transpose(0, 2, 1)[::int(stride)]

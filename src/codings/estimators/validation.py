"""Validation at the boundary: hyperparameters and input arrays, with one message template.

Hyperparameter errors read "The 'x' parameter of AutoEncoder must be ... Got ... instead.",
as scikit-learn's do. Input errors name the problem (shape, dtype, NaN with its position,
feature count) in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from codings._params import check_choice, check_number, check_sizes, param_error
from codings.exceptions import InvalidInputError

__all__ = ["check_choice", "check_number", "check_sizes", "param_error"]


def first_nonfinite(X: np.ndarray, row_offset: int = 0, *, count: bool = True) -> str:
    """Where the first NaN or infinity is: "contains NaN at row 3, column 2 (...)"."""
    flat = X.reshape(X.shape[0], -1)
    bad = ~np.isfinite(flat)
    row, col = (int(i) for i in np.argwhere(bad)[0])
    kind = "NaN" if np.isnan(flat[row, col]) else "infinity (inf)"
    text = f"contains {kind} at row {row + row_offset}, column {col}"
    if count:
        total = int(bad.sum())
        text += f" ({total} non-finite value{'s' if total != 1 else ''} in all)"
    return text


def check_features(estimator: Any, X: Any, *, reset: bool, allow_nd: bool = False,
                   ensure_min_samples: int = 1) -> np.ndarray:
    """scikit-learn's ``validate_data`` with our error type and a NaN position in the message.

    Returns a float32 or float64 array (integers become float64) with ``n_features_in_``
    and ``feature_names_in_`` set or checked.
    """
    try:
        X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32],
                          ensure_all_finite=False, allow_nd=allow_nd,
                          ensure_min_samples=ensure_min_samples)
    except InvalidInputError:
        raise
    except TypeError as exc:
        if "sparse" not in str(exc).lower():
            raise
        raise InvalidInputError(
            f"Sparse input is not supported by {type(estimator).__name__}: the autoencoder "
            "needs dense arrays. Use X.toarray() if it fits in memory.") from exc
    except ValueError as exc:
        message = str(exc)
        if "could not convert" in message or "Unable to convert" in message:
            message = (f"Input X must be numeric; {message} "
                       "Encode or drop text columns before fitting.")
        raise InvalidInputError(message) from exc
    for start in range(0, X.shape[0], _FINITE_ROWS):  # chunked: no whole-array mask
        block = X[start:start + _FINITE_ROWS]
        if block.size and not np.isfinite(block).all():
            raise InvalidInputError(
                f"Input X {first_nonfinite(X[start:], start)}. Remove or impute them (for "
                "example with sklearn.impute.SimpleImputer).")
    return X


def as_float_tensor_input(X: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable float32 copy-if-needed, ready for ``torch.from_numpy``."""
    arr = np.ascontiguousarray(X, dtype=np.float32)
    return arr if arr.flags.writeable else arr.copy()



_CHECK_ROWS = 65_536
_FINITE_ROWS = 8_192


def open_npy(path: Any) -> np.memmap:
    """Memory-map a ``.npy`` file given by path, with a clear error for anything else."""
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise InvalidInputError(f"fit and transform read only .npy files by path (they are "
                                f"memory-mapped); got {p}. Load other files with "
                                "codings.datasets.load_array.")
    if not p.is_file():
        raise InvalidInputError(f"Data file not found: {p}" if not p.exists()
                                else f"Expected a data file but {p} is a directory.")
    try:
        X = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InvalidInputError(f"Cannot memory-map {p} as a .npy array: {exc}") from exc
    if not isinstance(X, np.memmap):  # a 0-byte array cannot be mapped; it loads in memory
        raise InvalidInputError(f"{p} holds an empty array of shape {X.shape}.")
    return X


def check_streamed(X: np.ndarray, *, images_ok: bool, label: str = "Input X") -> None:
    """The checks ``validate_data`` does, done chunk by chunk so a memmap is never copied."""
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"Input X must be numeric; the memory-mapped array holds "
                                f"{X.dtype} values.")
    if X.ndim < 2 or (X.ndim > 2 and not images_ok):
        raise InvalidInputError(
            f"Expected a 2D array (n_samples, n_features); the memory-mapped array has shape "
            f"{X.shape}." + (" Use architecture='conv' for images." if X.ndim > 2 else ""))
    if X.shape[0] == 0 or X.size == 0:
        raise InvalidInputError(f"Found array with 0 sample(s) (shape={X.shape}).")
    if X.dtype.kind != "f":
        return
    for start in range(0, X.shape[0], _CHECK_ROWS):
        block = np.asarray(X[start:start + _CHECK_ROWS]).reshape(-1, int(np.prod(X.shape[1:])))
        if not np.isfinite(block).all():
            raise InvalidInputError(f"{label} {first_nonfinite(block, start, count=False)}. "
                                    "Remove or impute them.")


def check_unit_interval(X: np.ndarray) -> None:
    """``loss="bce"`` models Bernoulli pixels: data outside [0, 1] gives a meaningless loss
    (it can go negative) and scores of the wrong sign, so refuse it."""
    low, high = np.inf, -np.inf
    for start in range(0, X.shape[0], _CHECK_ROWS):  # chunked: memory maps stay on disk
        block = np.asarray(X[start:start + _CHECK_ROWS])
        low, high = min(low, float(block.min())), max(high, float(block.max()))
    if low < 0 or high > 1:
        raise InvalidInputError(
            f"loss='bce' needs data in [0, 1], but X ranges from {low:.4g} to {high:.4g}. "
            "Scale it into [0, 1] (sklearn.preprocessing.MinMaxScaler; the CLI's --scale "
            "minmax) or use loss='mse'.")

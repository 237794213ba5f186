"""Validation at the boundary: hyperparameters and input arrays, with one message template.

Hyperparameter errors read "The 'x' parameter of AutoEncoder must be ... Got ... instead.",
as scikit-learn's do. Input errors name the problem (shape, dtype, NaN with its position,
feature count) in one line.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from codings.exceptions import InvalidInputError, did_you_mean


def param_error(owner: str, name: str, expected: str, value: Any) -> InvalidInputError:
    return InvalidInputError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        listed = ", ".join(repr(o) for o in options)
        raise InvalidInputError(f"The {name!r} parameter of {owner} must be one of {listed}. "
                                f"Got {value!r} instead.{hint}")
    return value


def check_number(owner: str, name: str, value: Any, *, integer: bool = False,
                 low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> Any:
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and not integer:
        ok = bool(np.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        what = "an int" if integer else "a float"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        expected = what + (f" {' and '.join(bounds)}" if bounds else "")
        raise param_error(owner, name, expected, value)
    return value


def check_sizes(owner: str, name: str, value: Any) -> tuple[int, ...]:
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                and int(s) > 0 for s in sizes):
        raise param_error(owner, name, "a tuple of positive ints such as (300, 150)", value)
    return tuple(int(s) for s in sizes)


def first_nonfinite(X: np.ndarray) -> str:
    bad = ~np.isfinite(X)
    count = int(bad.sum())
    row, col = (int(i) for i in np.argwhere(bad)[0][:2])
    value = X[row, col] if X.ndim == 2 else X.reshape(X.shape[0], -1)[row, col]
    kind = "NaN" if np.isnan(value) else "infinity (inf)"
    return (f"contains {kind} at row {row}, column {col} ({count} non-finite value"
            f"{'s' if count != 1 else ''} in all)")


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
    if X.size and not np.isfinite(X).all():
        raise InvalidInputError(f"Input X {first_nonfinite(X)}. Remove or impute them "
                                "(for example with sklearn.impute.SimpleImputer).")
    return X


def as_float_tensor_input(X: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable float32 copy-if-needed, ready for ``torch.from_numpy``."""
    arr = np.ascontiguousarray(X, dtype=np.float32)
    return arr if arr.flags.writeable else arr.copy()


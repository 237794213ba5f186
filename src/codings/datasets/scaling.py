"""The input scaling ``codings fit --scale`` chooses: a fitted scikit-learn scaler.

The model file keeps the scaler (see :class:`codings.ScaledAutoEncoder`), so ``codings
encode``, ``codings.load(...).transform`` and the ONNX files all map raw rows through it.

``--scale auto`` picks a scaling inside what the output layer can produce:

==========================================  =================================================
data or model                               scaling
==========================================  =================================================
integer pixels (uint8, uint16)              divide by the dtype's maximum: [0, 1]
sigmoid output, or ``loss="bce"``           min-max to [0, 1] (data already in it: none)
tanh output                                 min-max to [-1, 1] (data already in it: none)
relu output                                 min-max to [0, 1] (data already in it: none)
anything else                               standardise (mean 0, standard deviation 1)
==========================================  =================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from codings.exceptions import InvalidInputError

SCALES = ("auto", "standard", "minmax", "none")
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf)}


def output_range(output_activation: str | None = None, loss: str | None = None,
                 ) -> tuple[float, float] | None:
    """The values a model's reconstructions can take, or None when unbounded."""
    if loss == "bce":
        return (0.0, 1.0)
    return OUTPUT_RANGES.get(output_activation or "identity")


@dataclass(frozen=True)
class Scaling:
    """A chosen scaling: ``kind`` says which, ``scaler`` is the fitted scikit-learn
    transformer (None for ``"none"``)."""

    kind: str
    scaler: Any = None

    @classmethod
    def fit(cls, X: np.ndarray, mode: str = "auto", *, source_dtype: Any = None,
            unit_interval: bool = False, output_range: tuple[float, float] | None = None,
            name: str = "data") -> Scaling:
        """Choose the scaling for ``mode`` and fit it on ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        mode : {"auto", "standard", "minmax", "none"}
        source_dtype : dtype, optional
            The dtype the file held (integer images are divided by their dtype's maximum).
        unit_interval : bool, default=False
            Same as ``output_range=(0, 1)`` (a model with ``loss="bce"``).
        output_range : (float, float), optional
            What the model's output layer can produce (see :func:`output_range`).
        name : str
            Names the data in errors.
        """
        if mode not in SCALES:
            raise InvalidInputError(f"Unknown scale {mode!r}; choose one of {', '.join(SCALES)}.")
        bounds = (0.0, 1.0) if unit_interval else output_range
        dtype = np.dtype(source_dtype if source_dtype is not None else X.dtype)
        chosen = _auto(X, dtype, bounds) if mode == "auto" else mode
        if chosen == "none":
            return cls("none")
        if chosen == "range":
            return cls(dtype.name, _divide_by(float(np.iinfo(dtype).max), X.shape[1]))
        if chosen == "minmax":
            # auto fills a bounded output range ([-1, 1] for tanh); an explicit minmax is [0, 1]
            target = bounds if mode == "auto" and bounds and math.isfinite(bounds[1]) \
                else (0.0, 1.0)
            return cls("minmax", _fitted_minmax(X, target, name))
        return cls("standard", _fitted_standard(X, name))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scaled float32 rows (what the autoencoder trains on)."""
        out = X if self.scaler is None else self.scaler.transform(X)
        return np.asarray(out, dtype=np.float32)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        out = X if self.scaler is None else self.scaler.inverse_transform(X)
        return np.asarray(out, dtype=np.float32)

    @property
    def steps(self) -> list[tuple[str, Any]]:
        """``[(name, scaler)]`` to put in front of the autoencoder, or ``[]``."""
        if self.scaler is None:
            return []
        return [(type(self.scaler).__name__.lower(), self.scaler)]


def _auto(X: np.ndarray, dtype: np.dtype, bounds: tuple[float, float] | None) -> str:
    if dtype.kind == "u" and dtype.itemsize <= 2:  # 8- and 16-bit pixels
        return "range"
    if bounds is None:
        return "standard"
    low, high = float(np.min(X)), float(np.max(X))
    if bounds[0] <= low and high <= bounds[1] and (math.isfinite(bounds[1]) or high <= 1):
        return "none"
    return "minmax"


def _divide_by(maximum: float, n_features: int) -> Any:
    """A MaxAbsScaler that divides every column by ``maximum`` (an integer dtype's range)."""
    from sklearn.preprocessing import MaxAbsScaler

    return MaxAbsScaler().fit(np.full((1, n_features), maximum))


def _fitted_minmax(X: np.ndarray, feature_range: tuple[float, float], name: str) -> Any:
    from sklearn.preprocessing import MinMaxScaler

    with np.errstate(over="ignore", invalid="ignore"):
        scaler = MinMaxScaler(feature_range=feature_range).fit(X)
    _check_finite(scaler, ("data_range_", "min_", "scale_"), X, name)
    return scaler


def _fitted_standard(X: np.ndarray, name: str) -> Any:
    from sklearn.preprocessing import StandardScaler

    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(X)
    _check_finite(scaler, ("mean_", "var_", "scale_"), X, name)
    return scaler


def _check_finite(scaler: Any, attributes: tuple[str, ...], X: np.ndarray, name: str) -> None:
    """Values near 1e200 overflow float64 (a variance squares them): refuse, naming the
    column, rather than let an infinite scale map the column to zeros."""
    for attribute in attributes:
        values = np.asarray(getattr(scaler, attribute))
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            column = int(bad[0])
            peak = float(np.max(np.abs(X[:, column])))
            raise InvalidInputError(
                f"{name}, column {column + 1}: values up to {peak:.3g} overflow float64 when "
                f"{type(scaler).__name__} computes its {attribute.rstrip('_')}; rescale that "
                "column (divide it by a power of ten)"
                + (" or use --scale minmax." if "Standard" in type(scaler).__name__ else "."))

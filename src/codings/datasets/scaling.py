"""Input scaling that the CLI applies and records in the model file.

The Python estimator takes data as given (put scalers in a ``Pipeline``); the CLI scales for
the user, so ``encode`` and ``reconstruct`` must apply exactly what ``fit`` did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codings.exceptions import InvalidInputError

SCALES = ("auto", "standard", "minmax", "none")


@dataclass(frozen=True)
class Scaling:
    """``x_scaled = (x - offset) / scale`` per feature; ``kind`` records how it was chosen."""

    kind: str
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, mode: str = "auto", *, source_dtype: np.dtype | None = None,
            unit_interval: bool = False) -> Scaling:
        """Choose and fit a scaling.

        ``auto``: uint8 data to [0, 1]; anything else standardised, unless the model needs
        data in [0, 1] (``unit_interval``, for ``loss="bce"``): then data already in [0, 1] is
        left alone and other data is min-max scaled.
        """
        if mode not in SCALES:
            raise InvalidInputError(f"Unknown scale {mode!r}; choose one of {', '.join(SCALES)}.")
        n = X.shape[1]
        dtype = source_dtype if source_dtype is not None else X.dtype
        if mode == "auto":
            if np.dtype(dtype) == np.uint8:
                mode = "uint8"
            elif unit_interval:
                mode = "none" if X.min() >= 0 and X.max() <= 1 else "minmax"
            else:
                mode = "standard"
        if mode == "uint8":
            return cls("uint8", np.zeros(n), np.full(n, 255.0))
        if mode == "none":
            return cls("none", np.zeros(n), np.ones(n))
        if mode == "minmax":
            low, high = X.min(axis=0), X.max(axis=0)
            return cls("minmax", low.astype(np.float64), _safe(high - low))
        return cls("standard", X.mean(axis=0, dtype=np.float64), _safe(X.std(axis=0,
                                                                           dtype=np.float64)))

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check_width(X)
        return ((X - self.offset) / self.scale).astype(np.float32)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        self._check_width(X)
        return (X * self.scale + self.offset).astype(np.float32)

    def _check_width(self, X: np.ndarray) -> None:
        if X.shape[1] != self.offset.shape[0]:
            raise InvalidInputError(f"X has {X.shape[1]} features, but the model was fitted "
                                    f"with {self.offset.shape[0]} features.")


def _safe(scale: np.ndarray) -> np.ndarray:
    """Constant columns (zero spread) keep scale 1 so they map to 0 instead of NaN."""
    scale = np.asarray(scale, dtype=np.float64)
    return np.where(scale > 0, scale, 1.0)

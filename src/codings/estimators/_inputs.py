"""What ``AutoEncoder`` accepts as input, checked at the boundary (a mixin).

Arrays (flat rows, images for convolutional and custom models), memory maps and ``.npy``
paths (checked chunk by chunk, never loaded whole), codings for ``inverse_transform``; and the
warnings ``fit`` gives about data the network cannot fit well.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from codings.estimators.validation import (
    check_features,
    check_streamed,
    check_unit_interval,
    first_nonfinite,
    open_npy,
)
from codings.exceptions import InvalidInputError

_UNSCALED_MAGNITUDE = 5.0
# Rows read to judge scaling and range: spread over X, few enough that the temporaries of
# mean/std stay a small share of the data (a memory map is never read whole).
_SCALE_CHECK_ROWS = 2_048
# What each output activation can produce (MSE models; BCE data is checked to be in [0, 1]).
OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, np.inf),
                 "elu": (-1.0, np.inf), "selu": (-1.7580993408473766, np.inf)}


def data_range(X: np.ndarray, chunk: int = 8_192) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature minimum and maximum of the flat rows of ``X`` (float64), chunk by chunk
    so that a memory map is streamed."""
    n_features = int(np.prod(X.shape[1:]))
    low, high = np.full(n_features, np.inf), np.full(n_features, -np.inf)
    for start in range(0, X.shape[0], chunk):
        block = np.asarray(X[start:start + chunk]).reshape(-1, n_features)
        low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
    return low, high


class InputsMixin:
    """Input validation for :class:`~codings.AutoEncoder`."""

    architecture: str
    encoder: Any
    activation: str
    output_activation: str
    loss: str
    n_components: int
    n_features_in_: int
    input_shape_: tuple[int, ...] | None

    def _images_ok(self) -> bool:
        """Whether samples may have a shape (images for "conv", (timesteps, channels) for
        the sequence architectures, anything for your own encoder)."""
        return self.architecture != "mlp" or self.encoder is not None

    def _check_memmap(self, X: np.memmap, *, reset: bool) -> np.memmap:
        check_streamed(X, images_ok=self._images_ok())
        n_features = int(np.prod(X.shape[1:]))
        if reset:
            self.n_features_in_ = n_features
            self.input_shape_ = tuple(int(s) for s in X.shape[1:]) if X.ndim > 2 else None
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise InvalidInputError(f"X has {n_features} features, but AutoEncoder is "
                                    f"expecting {self.n_features_in_} features as input.")
        return X

    def _sample_shape(self) -> tuple[int, ...] | None:
        shape = getattr(self, "input_shape_", None)
        return tuple(shape) if shape is not None and len(shape) > 1 else None

    def _check_X(self, X: Any, *, reset: bool) -> np.ndarray:
        """Validate X; images (n, C, H, W) or (n, H, W) are flattened for a conv model.

        A path to a ``.npy`` file is memory-mapped, and a memory-mapped array is checked
        chunk by chunk and returned as is, so it is never loaded whole.
        """
        if isinstance(X, str | os.PathLike):
            X = open_npy(X)
        if isinstance(X, np.memmap):
            return self._check_memmap(X, reset=reset)
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) > 2 and self._images_ok():
            if reset:
                self.input_shape_ = tuple(int(s) for s in shape[1:])
            elif getattr(self, "input_shape_", None) not in (None, tuple(shape[1:])):
                kind = {"conv": "images", "mlp": "samples"}.get(self.architecture,
                                                                "sequences")
                raise InvalidInputError(
                    f"X has {kind} of shape {tuple(shape[1:])}, but the model was fitted on "
                    f"{kind} of shape {self.input_shape_}.")
            X = np.asarray(X).reshape(shape[0], -1)
        elif shape is not None and len(shape) > 2:
            raise InvalidInputError(
                f"Found array with dim {len(shape)} (shape {tuple(shape)}); the MLP expects "
                "2-D input (n_samples, n_features). Flatten it with X.reshape(len(X), -1), or "
                "use architecture='conv' for images or 'lstm', 'gru' or 'conv1d' for "
                "sequences.")
        elif reset:
            self.input_shape_ = None
        return check_features(self, X, reset=reset)

    def _check_training_X(self, X: Any, constraints: tuple[Any, ...]) -> np.ndarray:
        """``_check_X`` for ``fit``, plus what only training needs: two rows, data in the
        loss's range, and warnings about data the network will fit badly."""
        X = self._check_X(X, reset=True)
        if X.shape[0] < 2:
            raise InvalidInputError("An autoencoder cannot learn from n_samples=1 (one "
                                    "sample): give at least 2 samples.")
        if self.loss == "bce":
            check_unit_interval(X)
        n_features = int(np.prod(X.shape[1:]))
        if self.n_components >= n_features and not constraints:
            warnings.warn(
                f"n_components={self.n_components} is not smaller than the number of features "
                f"({n_features}) and no constraint is set: the autoencoder can learn to copy "
                "its input without finding structure. Use fewer components, or add a "
                "Denoising or Sparsity constraint.", UserWarning, stacklevel=3)
        step = max(1, X.shape[0] // _SCALE_CHECK_ROWS)
        sample = np.asarray(X[::step][:_SCALE_CHECK_ROWS]).reshape(-1, n_features)
        self._warn_if_unscaled(sample)
        self._warn_if_out_of_reach(sample)
        return X

    def _warn_if_unscaled(self, X: np.ndarray) -> None:
        # Large raw feature values saturate or kill units at initialisation (an ELU coding
        # layer on raw 0-16 digits collapses to the mean image), and scaling is the fix.
        magnitude = max(float(np.abs(X.mean(axis=0)).max()), float(X.std(axis=0).max()))
        if magnitude > _UNSCALED_MAGNITUDE and self.activation != "identity":
            warnings.warn(
                f"X does not look scaled (a feature has mean or standard deviation "
                f"{magnitude:.3g}); autoencoders with nonlinear units train poorly on raw "
                "values. Put a StandardScaler or MinMaxScaler before AutoEncoder in a "
                "Pipeline.", UserWarning, stacklevel=4)

    def _warn_if_out_of_reach(self, X: np.ndarray) -> None:
        """Values the output activation cannot produce are reconstructed at best clipped."""
        if self.loss != "mse" or self.output_activation not in OUTPUT_RANGES:
            return
        low, high = OUTPUT_RANGES[self.output_activation]
        share = float(np.mean((X < low) | (X > high)))
        if share > 0:
            span = f"[{low:g}, {high:g}]".replace("inf", "inf)").replace("])", ")")
            warnings.warn(
                f"{share:.1%} of the values in X lie outside {span}, what "
                f"output_activation={self.output_activation!r} can produce: they cannot be "
                "reconstructed. Scale X into that range (MinMaxScaler) or use "
                "output_activation='identity'.", UserWarning, stacklevel=4)

    def _check_codings(self, Z: Any) -> np.ndarray:
        from sklearn.utils import check_array

        try:
            Z = check_array(Z, dtype=[np.float64, np.float32], ensure_all_finite=False)
        except ValueError as exc:
            raise InvalidInputError(f"Invalid codings for inverse_transform: {exc}") from exc
        if Z.shape[1] != self.n_components:
            raise InvalidInputError(
                f"inverse_transform expects codings with {self.n_components} columns "
                f"(n_components), got an array of shape {Z.shape}.")
        if not np.isfinite(Z).all():
            raise InvalidInputError("The codings passed to inverse_transform contain NaN or "
                                    f"infinity: it {first_nonfinite(Z)}.")
        return Z

    def _check_out(self, out: Any, n_samples: int) -> None:
        """``transform``'s ``out``: a float array of shape (n_samples, n_components)."""
        expected = (n_samples, self.n_components)
        if not isinstance(out, np.ndarray) or tuple(out.shape) != expected:
            raise InvalidInputError(f"out must be an array of shape {expected} (n_samples, "
                                    f"n_components); got {getattr(out, 'shape', out)!r}.")
        if out.dtype.kind != "f":
            raise InvalidInputError(f"out must be a float array (codings are real numbers); "
                                    f"got dtype {out.dtype}.")

    def _as_input_shape(self, X_flat: np.ndarray) -> np.ndarray:
        shape = getattr(self, "input_shape_", None)
        return X_flat.reshape(len(X_flat), *shape) if shape else X_flat

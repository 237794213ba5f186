"""What every step of the tour shares: the images, their split, the training budget, a log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codings.estimators import AutoEncoder
from codings.exceptions import InvalidInputError

# The embedded digits have 1,797 rows; epochs are scaled so that every data set gets about
# the same number of training steps as the digits' full tour.
_REFERENCE_ROWS = 1500
_QUICK_FACTOR = 0.3
_MAX_TRAIN = {False: 12000, True: 3000}
_MAX_TEST = {False: 2000, True: 500}


@dataclass(frozen=True)
class ImageSet:
    """Images for the tour: flat rows in [0, 1], their shape, and labels when known."""

    name: str
    X: np.ndarray
    image_shape: tuple[int, ...]
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2 or X.shape[0] < 100:
            raise InvalidInputError(f"The tour needs at least 100 images as rows; got an array "
                                    f"of shape {X.shape}.")
        if float(X.min()) < 0 or float(X.max()) > 1:
            raise InvalidInputError("The tour's images must be scaled to [0, 1].")
        if self.labels is not None and len(self.labels) != X.shape[0]:
            raise InvalidInputError(f"{len(self.labels)} labels for {X.shape[0]} images.")


def split(images: ImageSet, quick: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train and test row indices, capped for time (quick runs use fewer)."""
    order = np.random.default_rng(seed).permutation(images.X.shape[0])
    n_test = min(_MAX_TEST[quick], max(len(order) // 6, 50))
    n_train = min(_MAX_TRAIN[quick], len(order) - n_test)
    return order[n_test:n_test + n_train], order[:n_test]


@dataclass
class Context:
    """The data and settings of one tour run, and helpers the steps share."""

    images: ImageSet
    quick: bool
    log: Callable[[str], None]
    train_rows: np.ndarray = field(init=False)
    test_rows: np.ndarray = field(init=False)
    models: dict[str, Any] = field(default_factory=dict)  # shared between steps
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.train_rows, self.test_rows = split(self.images, self.quick)

    @property
    def X_train(self) -> np.ndarray:
        return self.images.X[self.train_rows]

    @property
    def X_test(self) -> np.ndarray:
        return self.images.X[self.test_rows]

    @property
    def y_train(self) -> np.ndarray | None:
        labels = self.images.labels
        return None if labels is None else labels[self.train_rows]

    @property
    def y_test(self) -> np.ndarray | None:
        labels = self.images.labels
        return None if labels is None else labels[self.test_rows]

    @property
    def n_features(self) -> int:
        return int(self.images.X.shape[1])

    @property
    def hidden(self) -> tuple[int, ...]:
        """One hidden layer of about half the input (at most 256 units)."""
        return (min(256, max(32, self.n_features // 2)),)

    @property
    def n_codings(self) -> int:
        return 16 if self.n_features <= 100 else 32

    def epochs(self, full: int, rows: int | None = None) -> int:
        """``full`` epochs on the digits, scaled to the data's size; fewer when quick."""
        rows = rows if rows is not None else len(self.train_rows)
        scaled = full * _REFERENCE_ROWS / max(rows, 1)
        return max(3, round(scaled * (_QUICK_FACTOR if self.quick else 1.0)))

    def fixed_epochs(self, full: int) -> int:
        """``full`` epochs whatever the data (for the embedded faces); fewer when quick."""
        return max(3, round(full * (_QUICK_FACTOR if self.quick else 1.0)))

    def autoencoder(self, epochs: int = 150, **params: Any) -> AutoEncoder:
        """The tour's usual stacked autoencoder for images in [0, 1]; ``params`` override."""
        settings: dict[str, Any] = {
            "n_components": self.n_codings, "hidden_layer_sizes": self.hidden,
            "activation": "elu", "output_activation": "sigmoid", "learning_rate": 0.005,
            "batch_size": 64, "max_iter": self.epochs(epochs), "random_state": 0}
        settings.update(params)
        return AutoEncoder(**settings)

    def timed_fit(self, name: str, estimator: Any, X: np.ndarray, *args: Any) -> Any:
        """Fit and remember the seconds it took under ``name``."""
        started = time.perf_counter()
        estimator.fit(X, *args)
        self.timings[name] = time.perf_counter() - started
        return estimator


def mse(X_hat: np.ndarray, X: np.ndarray) -> float:
    """Mean squared error over all entries, flat rows against flat rows."""
    return float(np.mean((np.asarray(X_hat).reshape(len(X), -1) - X) ** 2))

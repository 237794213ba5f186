"""MNIST for the benchmarks: the Keras-layout file given on the command line, pixels in [0, 1]."""

from __future__ import annotations

import numpy as np

from codings.datasets import load_array


def load_mnist(path: str, quick: bool) -> tuple[np.ndarray, ...]:
    """``X_train, y_train, X_test, y_test`` (float32 images flattened to 784); ``quick`` keeps
    the first 6,000 training and 2,000 test images."""
    train, test = load_array(path, key="x_train"), load_array(path, key="x_test")
    X_train, X_test = train.data.astype(np.float32), test.data.astype(np.float32)
    y_train, y_test = np.asarray(train.target), np.asarray(test.target)
    if quick:
        return X_train[:6000], y_train[:6000], X_test[:2000], y_test[:2000]
    return X_train, y_train, X_test, y_test

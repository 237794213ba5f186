"""Data sets that ship with the library (nothing is downloaded at run time)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch


def load_digits() -> Bunch:
    """scikit-learn's handwritten digits: 1,797 images of 8x8, pixel values 0-16.

    Returns
    -------
    data : Bunch
        ``data`` (1797, 64) float64, ``images`` (1797, 8, 8), ``target`` (1797,) int,
        ``target_names``, ``image_shape`` = (8, 8), ``DESCR``.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return Bunch(data=digits.data, images=digits.images, target=digits.target,
                 target_names=digits.target_names, image_shape=(8, 8), DESCR=digits.DESCR)


def load_demo_3d(n_samples: int = 200, *, random_state: int = 4, standardize: bool = True,
                 ) -> Bunch:
    """The 3-D point cloud of the chapter's PCA demo, split and standardised.

    Points lie near a tilted 2-D plane: ``angles = rand*3*pi/2 - 0.5``,
    ``x0 = cos(a) + sin(a)/2 + 0.05*randn``, ``x1 = 0.7*sin(a) + 0.05*randn``,
    ``x2 = 0.1*x0 + 0.3*x1 + 0.1*randn``, drawn in that order with numpy's legacy
    ``RandomState(random_state)``. The first half is the training set, the second the test
    set; both are standardised with the training statistics when ``standardize``.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, 3), ``train`` and ``test`` halves, ``mean`` and ``scale`` used.
    """
    rng = np.random.RandomState(random_state)
    angles = rng.rand(n_samples) * 3 * np.pi / 2 - 0.5
    x0 = np.cos(angles) + np.sin(angles) / 2 + 0.1 * rng.randn(n_samples) / 2
    x1 = np.sin(angles) * 0.7 + 0.1 * rng.randn(n_samples) / 2
    x2 = 0.1 * x0 + 0.3 * x1 + 0.1 * rng.randn(n_samples)
    data = np.column_stack([x0, x1, x2])
    half = n_samples // 2
    mean = data[:half].mean(axis=0)
    scale = data[:half].std(axis=0)
    if standardize:
        data = (data - mean) / scale
    return Bunch(data=data, train=data[:half], test=data[half:], angles=angles,
                 mean=mean, scale=scale, feature_names=["x0", "x1", "x2"])


def load_faces() -> Bunch:
    """Real face images from scikit-image's ``lfw_subset`` (offline): 100 faces of 25x25.

    Needs scikit-image. Pixel values are floats in [0, 1].
    """
    try:
        from skimage.data import lfw_subset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_faces needs scikit-image: pip install scikit-image") from exc
    images: Any = lfw_subset()[:100].astype(np.float64)
    return Bunch(data=images.reshape(len(images), -1), images=images, image_shape=(25, 25),
                 target=np.zeros(len(images), dtype=int))

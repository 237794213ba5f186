"""Inputs the estimator checks at the boundary: outputs it writes into, data it cannot fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from codings import AutoEncoder
from codings.datasets import load_digits
from codings.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def fitted() -> tuple[AutoEncoder, np.ndarray]:
    X = StandardScaler().fit_transform(load_digits().data[:200])
    return AutoEncoder(n_components=3, hidden_layer_sizes=(8,), max_iter=2,
                       random_state=0).fit(X), X


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_transform_refuses_a_non_float_out(fitted, dtype):
    ae, X = fitted
    out = np.zeros((len(X), 3), dtype=dtype)
    with pytest.raises(InvalidInputError, match="out must be a float array"):
        ae.transform(X, out=out)
    assert not out.any()  # nothing was written (and nothing truncated)


def test_transform_writes_into_a_float_out(fitted):
    ae, X = fitted
    out = np.zeros((len(X), 3), dtype=np.float32)
    assert ae.transform(X, out=out) is out
    np.testing.assert_allclose(out, ae.transform(X), rtol=1e-5, atol=1e-6)  # float64 in


def test_data_out_of_the_output_activations_reach_is_warned():
    X = StandardScaler().fit_transform(load_digits().data[:200])
    with pytest.warns(UserWarning, match=r"% of the values in X lie outside \[0, 1\].*sigmoid"):
        AutoEncoder(n_components=3, max_iter=1, output_activation="sigmoid",
                    random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoEncoder(n_components=3, max_iter=1, output_activation="sigmoid",
                    random_state=0).fit(load_digits().data[:200] / 16)


def test_float64_inference_is_invariant_and_reuses_one_twin(fitted):
    """float64 rows run on a cached float64 twin: results do not depend on batch size, order
    or subset, and the twin is rebuilt only when the weights change."""
    import torch

    from codings.estimators._inference import float64_twin

    ae, X = fitted
    full = ae.transform(X)
    assert full.dtype == np.float64
    for size in (1, 7, 255, 256, 257):
        parts = np.concatenate([ae.transform(X[i:i + size]) for i in range(0, len(X), size)])
        np.testing.assert_allclose(parts, full, rtol=1e-12, atol=1e-14)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(ae.transform(X[order]), full[order], rtol=1e-12, atol=1e-14)
    twin = float64_twin(ae.module_)
    ae.transform(X)
    assert float64_twin(ae.module_) is twin  # cached, not a copy per call
    with torch.no_grad():
        next(ae.module_.parameters()).add_(1.0)  # your own in-place update
    assert float64_twin(ae.module_) is not twin
    assert not np.allclose(ae.transform(X), full)

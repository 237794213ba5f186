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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_is_bit_identical_for_any_batch_size_order_or_subset(fitted, dtype):
    """Every product has one shape (fixed blocks of rows), so a row's codings depend on that
    row only: for float32 and float64 input alike, exactly."""
    ae, X = fitted
    X = X.astype(dtype)
    full = ae.transform(X)
    assert full.dtype == dtype
    for size in (1, 7, 64, 255, 256, 257):
        parts = np.concatenate([ae.transform(X[i:i + size]) for i in range(0, len(X), size)])
        np.testing.assert_array_equal(parts, full)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(ae.transform(X[order]), full[order])
    np.testing.assert_array_equal(ae.score_samples(X[::3]), ae.score_samples(X)[::3])


def test_float64_input_is_the_float32_computation(fitted):
    ae, X = fitted
    np.testing.assert_array_equal(ae.transform(X.astype(np.float64)).astype(np.float32),
                                  ae.transform(X.astype(np.float32)))

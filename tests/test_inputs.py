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


def _assert_invariant(ae: AutoEncoder, X: np.ndarray) -> np.ndarray:
    full = ae.transform(X)
    assert full.dtype == np.float64
    for size in (1, 7, 255, 256, 257):
        parts = np.concatenate([ae.transform(X[i:i + size]) for i in range(0, len(X), size)])
        np.testing.assert_allclose(parts, full, rtol=1e-12, atol=1e-14)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(ae.transform(X[order]), full[order], rtol=1e-12, atol=1e-14)
    return full


@pytest.mark.parametrize("widths", [((64, 32), 16), ((8,), 3), ((7, 5), 3)])
def test_float64_inference_is_invariant_on_either_path(widths):
    """float64 rows give the same result whatever the batch size, order or subset: in
    float32 arithmetic where the probe finds this CPU's kernels treat every row alike (then
    equal to the float32 network on the rounded input), on the float64 twin otherwise (then
    exact to float64 rounding). Which path a shape takes depends on the CPU (here the
    first two took float32 and the third the twin); both are checked against their own
    reference."""
    import torch

    from codings.estimators._inference import float64_twin, rows_independent

    hidden, k = widths
    X = StandardScaler().fit_transform(load_digits().data[:600])
    ae = AutoEncoder(n_components=k, hidden_layer_sizes=hidden, max_iter=2,
                     random_state=0).fit(X)
    full = _assert_invariant(ae, X)
    # Every method takes the path the probe of the whole round trip chose:
    np.testing.assert_array_equal(ae.inverse_transform(full), ae.reconstruct(X))
    if rows_independent(ae.module_, *ae._probe()):
        float32 = ae.transform(X.astype(np.float32))
        np.testing.assert_array_equal(full, float32.astype(np.float64))
    else:
        with torch.inference_mode():
            exact = float64_twin(ae.module_).encode(torch.from_numpy(X)).z.numpy()
        np.testing.assert_allclose(full, exact, rtol=1e-12, atol=1e-14)


def test_float64_inference_falls_back_to_one_cached_twin(fitted, monkeypatch):
    """Where the probe finds rows treated differently, float64 rows run on a float64 twin:
    exact, made once and rebuilt only when the weights change."""
    import torch

    from codings.estimators import _inference

    ae, X = fitted
    monkeypatch.setattr(_inference, "rows_independent", lambda *args: False)
    full = _assert_invariant(ae, X)
    twin = _inference.float64_twin(ae.module_)
    with torch.inference_mode():
        exact = twin.encode(torch.from_numpy(X)).z.numpy()
    np.testing.assert_allclose(full, exact, rtol=1e-12, atol=1e-14)
    ae.transform(X)
    assert _inference.float64_twin(ae.module_) is twin  # cached, not a copy per call
    with torch.no_grad():
        next(ae.module_.parameters()).add_(1.0)  # your own in-place update
    assert _inference.float64_twin(ae.module_) is not twin
    assert not np.allclose(ae.transform(X), full)


def test_the_probe_sees_a_kernel_that_treats_rows_differently(fitted):
    """The converse, so the fast path can be refused: a function whose result depends on a
    row's position (or on the other rows) fails the probe; a row-wise one passes it."""
    from codings.estimators._inference import rows_independent

    ae, X = fitted
    module = ae.module_
    # (an exact elementwise product: row-independent on any CPU, whatever its kernels)
    assert rows_independent(module, lambda m, x: x * 2.0, (X.shape[1],))
    assert not rows_independent(module, lambda m, x: m.encode(x).z.cumsum(0), (X.shape[1],))
    assert not rows_independent(module, lambda m, x: m.encode(x).z - m.encode(x).z.mean(0),
                                (X.shape[1],))


def test_float64_inference_of_a_model_made_under_inference_mode(fitted, tmp_path):
    """Tensors made under torch.inference_mode keep no version counter: the caches are not
    trusted for them, and float64 inference still works (it raised before)."""
    import torch

    from codings import load

    ae, X = fitted
    ae.save(tmp_path / "m.safetensors")
    with torch.inference_mode():
        same = load(tmp_path / "m.safetensors")
    np.testing.assert_allclose(same.transform(X), ae.transform(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(same.transform(X), same.transform(X))


def test_the_probe_tells_apart_closures_of_one_factory():
    """Two closures of one code over different values are two functions to the probe."""
    import torch

    from codings.estimators._inference import rows_independent

    def scaled(factor):  # exact products (row-independent on any CPU), or a running sum
        return lambda m, x: x * factor if factor else x.cumsum(0)

    layer = torch.nn.Linear(4, 3)
    assert rows_independent(layer, scaled(2.0), (4,))
    assert not rows_independent(layer, scaled(0.0), (4,))


def test_a_function_that_returns_its_input_survives_the_reused_cast_buffer():
    """float64 blocks are cast into one reused buffer: a result that is that buffer (an
    identity) is copied out before the next block overwrites it."""
    import torch

    from codings.estimators._inference import map_batches

    X = np.random.default_rng(0).random((700, 5))
    out = map_batches(torch.nn.Linear(5, 3), X, lambda m, x: x[:, :2])
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, X[:, :2], rtol=1e-7)

"""Bad input, everywhere: a table of what people really get wrong, and a fuzzer.

Every case must end in the library's own error type (a ``ValueError`` subclass) with a
message that names the problem, never a raw traceback from numpy or torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError

from codings import AutoEncoder, CodingsError, InvalidInputError
from codings.datasets import load_array


@pytest.fixture(scope="module")
def fitted() -> AutoEncoder:
    X = np.random.RandomState(0).rand(30, 4)
    return AutoEncoder(n_components=2, hidden_layer_sizes=(3,), max_iter=2,
                       random_state=0).fit(X)


def _nan_at(row: int, col: int) -> np.ndarray:
    X = np.ones((5, 4))
    X[row, col] = np.nan
    return X


METHOD_CASES = [
    ("transform", _nan_at(3, 2), r"NaN at row 3, column 2 \(1 non-finite value in all\)"),
    ("transform", np.full((2, 4), np.inf), r"infinity \(inf\) at row 0, column 0 \(8 non"),
    ("transform", np.ones((5, 3)), r"X has 3 features, but AutoEncoder is expecting 4"),
    ("transform", np.ones(4), r"Expected 2D array, got 1D array"),
    ("transform", np.ones((2, 2, 2)), r"dim 3 .* architecture='conv'"),
    ("transform", np.ones((0, 4)), r"0 sample\(s\)"),
    ("transform", np.array([["a", "b", "c", "d"]]), r"must be numeric"),
    ("transform", np.array([[1, "x", 2, 3]], dtype=object), r"must be numeric"),
    ("transform", np.ones((2, 4), dtype=complex), r"Complex data not supported"),
    ("score_samples", _nan_at(0, 0), r"NaN at row 0, column 0"),
    ("reconstruct", np.ones((1, 5)), r"X has 5 features"),
    ("reconstruction_error", np.ones((1, 5)), r"X has 5 features"),
    ("inverse_transform", np.ones((3, 3)), r"expects codings with 2 columns"),
    ("inverse_transform", np.full((3, 2), np.nan), r"contain NaN or infinity"),
    ("inverse_transform", np.ones(2), r"Invalid codings .* 1D array"),
]


@pytest.mark.parametrize(("method", "X", "match"), METHOD_CASES,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(METHOD_CASES)])
def test_estimator_methods_name_the_problem(fitted, method, X, match):
    with pytest.raises(InvalidInputError, match=match):
        getattr(fitted, method)(X)


def test_sparse_mixed_and_single_sample_fits():
    from scipy import sparse

    with pytest.raises(InvalidInputError, match="Sparse input is not supported"):
        AutoEncoder(max_iter=1).fit(sparse.csr_matrix(np.eye(4)))
    with pytest.raises(InvalidInputError, match=r"cannot learn from n_samples=1"):
        AutoEncoder(n_components=1, max_iter=2, random_state=0).fit(np.ones((1, 3)))
    two = AutoEncoder(n_components=1, max_iter=2, random_state=0).fit(np.eye(2, 3))
    assert two.transform(np.ones((1, 3))).shape == (1, 1)  # one row is fine to transform


def test_bce_refuses_data_outside_the_unit_interval(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(InvalidInputError, match=r"loss='bce' needs data in \[0, 1\], but X "
                                                r"ranges from -\d"):
        AutoEncoder(loss="bce", max_iter=1).fit(X)
    np.save(tmp_path / "wide.npy", np.full((10, 3), 255.0, dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"ranges from 255 to 255"):
        AutoEncoder(loss="bce", max_iter=1).fit(tmp_path / "wide.npy")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.float16, np.float32, bool])
def test_integer_bool_and_float_inputs_are_accepted(dtype):
    X = (np.random.RandomState(0).rand(20, 4) * 3).astype(dtype)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(), max_iter=2, random_state=0)
    Z = ae.fit(X).transform(X)
    assert Z.dtype == (np.float32 if dtype == np.float32 else np.float64)


def test_wrong_image_size_for_a_conv_model():
    images = np.random.RandomState(0).rand(10, 8, 8)
    ae = AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(2,),
                     max_iter=1, random_state=0).fit(images)
    with pytest.raises(InvalidInputError, match=r"images of shape \(7, 7\).*\(8, 8\)"):
        ae.transform(np.ones((2, 7, 7)))
    with pytest.raises(InvalidInputError, match=r"image_shape=\(3, 3\) does not fit inputs "
                                                r"with 64 features"):
        AutoEncoder(architecture="conv", image_shape=(3, 3), max_iter=1).fit(
            images.reshape(10, -1))


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AutoEncoder().transform(np.ones((2, 2)))


# -- property-based: no input crashes with anything but the library's own errors ---------

_DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8, np.bool_,
                           np.complex128])


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    return draw(hnp.arrays(_DTYPES, shape))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(X=arrays())
def test_fit_and_transform_fail_only_with_library_errors(fitted, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (lambda: AutoEncoder(n_components=1, hidden_layer_sizes=(2,), max_iter=1,
                                         random_state=0).fit(X),
                     lambda: fitted.transform(X), lambda: fitted.score_samples(X)):
            try:
                call()
            except CodingsError:
                pass


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".npy", ".npz", ".csv"]))
    if draw(st.booleans()):
        return suffix, draw(st.binary(max_size=200))
    import io

    X = draw(arrays())
    buffer = io.BytesIO()
    if suffix == ".npy":
        np.save(buffer, X)
    elif suffix == ".npz":
        np.savez(buffer, X=X)
    else:
        text = "\n".join(",".join(str(v) for v in np.atleast_1d(row).ravel())
                         for row in np.atleast_2d(X))
        buffer.write(text.encode())
    return suffix, buffer.getvalue()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=files())
def test_loaders_fail_only_with_library_errors(tmp_path, case):
    suffix, payload = case
    path = tmp_path / f"data{suffix}"
    path.write_bytes(payload)
    try:
        bunch = load_array(path)
    except InvalidInputError:
        return
    assert bunch.data.ndim == 2 and bunch.data.shape[0] > 0

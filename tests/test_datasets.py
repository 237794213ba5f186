"""Embedded data sets and file loaders."""

from __future__ import annotations

import numpy as np
import pytest

from codings import InvalidInputError
from codings.datasets import Scaling, load_array, load_demo_3d, load_digits


def test_digits_are_the_embedded_8x8_images():
    digits = load_digits()
    assert digits.data.shape == (1797, 64) and digits.images.shape == (1797, 8, 8)
    assert digits.data.min() == 0 and digits.data.max() == 16
    assert digits.target.shape == (1797,) and digits.image_shape == (8, 8)


def test_demo_3d_follows_the_chapter_recipe():
    demo = load_demo_3d()
    rng = np.random.RandomState(4)
    angles = rng.rand(200) * 3 * np.pi / 2 - 0.5
    x0 = np.cos(angles) + np.sin(angles) / 2 + 0.05 * rng.randn(200)
    np.testing.assert_allclose(demo.data[:, 0] * demo.scale[0] + demo.mean[0], x0)
    assert demo.train.shape == demo.test.shape == (100, 3)
    np.testing.assert_allclose(demo.train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(demo.train.std(axis=0), 1)


def test_npy_npz_and_csv_load_alike(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", X=X, y=np.arange(4))
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",")
    (tmp_path / "header.csv").write_text("a,b,c\n" + "\n".join(",".join(map(str, r))
                                                                for r in X) + "\n")
    for name in ("x.npy", "x.npz", "plain.csv", "header.csv"):
        np.testing.assert_array_equal(load_array(tmp_path / name).data, X)
    assert load_array(tmp_path / "header.csv").feature_names == ["a", "b", "c"]
    np.testing.assert_array_equal(load_array(tmp_path / "x.npz").target, np.arange(4))


def test_uint8_images_are_flattened_and_scaled(tmp_path):
    images = np.full((5, 4, 4), 255, dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=np.zeros(5))
    bunch = load_array(tmp_path / "mnist.npz")
    assert bunch.data.shape == (5, 16) and bunch.image_shape == (4, 4)
    assert bunch.data.max() == 1.0
    raw = load_array(tmp_path / "mnist.npz", scale_uint8=False)
    assert raw.data.dtype == np.uint8
    assert Scaling.fit(raw.data, "auto").kind == "uint8"


@pytest.mark.parametrize(("name", "content", "match"), [
    ("missing.npy", None, r"Data file not found"),
    ("text.csv", "a,b\n1,x\n", r"line 2, column 2 \('b'\): 'x' is not a number; the "
     r"autoencoder needs numeric columns: leave this one out \('--drop b', or '--id b'"),
    ("gap.csv", "1,2\n3,\n", r"line 2, column 2: missing value"),
    ("ragged.csv", "1,2\n3\n", r"line 2: expected 2 values, got 1"),
    ("empty.csv", "", r"is empty"),
    ("data.txt", "1,2", r"unsupported file type '.txt'"),
])
def test_bad_files_are_named_with_the_problem(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInputError, match=match):
        load_array(path)


def test_bad_arrays_are_refused(tmp_path):
    np.save(tmp_path / "one_d.npy", np.ones(5))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "empty.npy", np.ones((0, 3)))
    np.savez(tmp_path / "many.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(InvalidInputError, match=r"1-D array .* expected samples in rows"):
        load_array(tmp_path / "one_d.npy")
    with pytest.raises(InvalidInputError, match=r"pickled data"):
        load_array(tmp_path / "objects.npy")
    with pytest.raises(InvalidInputError, match=r"empty array"):
        load_array(tmp_path / "empty.npy")
    with pytest.raises(InvalidInputError, match=r"several arrays \(a, b\).*--key"):
        load_array(tmp_path / "many.npz")
    with pytest.raises(InvalidInputError, match=r"no array named 'c'"):
        load_array(tmp_path / "many.npz", key="c")
    with pytest.raises(InvalidInputError, match=r"is a directory"):
        load_array(tmp_path)


def test_scaling_round_trips_and_handles_constant_columns():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    for mode in ("standard", "minmax", "none"):
        scaling = Scaling.fit(X, mode)
        assert np.isfinite(scaling.transform(X)).all()
        np.testing.assert_allclose(scaling.inverse_transform(scaling.transform(X)), X,
                                   rtol=1e-6)
    with pytest.raises(InvalidInputError, match="Unknown scale 'zscore'"):
        Scaling.fit(X, "zscore")


def test_auto_scaling_keeps_bce_data_in_the_unit_interval():
    in_unit = np.random.default_rng(0).random((20, 3))
    assert Scaling.fit(in_unit, "auto", unit_interval=True).kind == "none"
    assert Scaling.fit(in_unit, "auto").kind == "standard"
    wide = in_unit * 16
    scaled = Scaling.fit(wide, "auto", unit_interval=True)
    assert scaled.kind == "minmax"
    out = scaled.transform(wide)
    assert out.min() >= 0 and out.max() <= 1


def test_a_header_that_numbers_the_columns_is_a_header(tmp_path):
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).random((5, 4))
    pd.DataFrame(X).to_csv(tmp_path / "unnamed.csv", index=False)  # header "0,1,2,3"
    bunch = load_array(tmp_path / "unnamed.csv")
    np.testing.assert_allclose(bunch.data, X)
    assert bunch.feature_names == ["0", "1", "2", "3"]
    (tmp_path / "data.csv").write_text("0,1,2\n5,6,7\n")  # numbers that vary: data
    assert load_array(tmp_path / "data.csv").data.shape == (2, 3)

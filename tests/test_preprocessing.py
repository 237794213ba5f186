"""Preprocessing travels with the model: one object maps raw rows the same way for Python,
the CLI (encode, reconstruct, decode, score, generate, report) and the ONNX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from codings import AutoEncoder, InvalidInputError, ScaledAutoEncoder, Variational, load, save
from codings.cli import main
from codings.datasets import Scaling, output_range

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "8", "--random-state", "0", "-q"]


def wide_data(n: int = 60) -> np.ndarray:
    """Columns far from [0, 1] and from one another, as the issue's reproduction had."""
    rng = np.random.default_rng(0)
    return (rng.random((n, 5)) * [1, 10, 100, 1000, 5000] + [0, -5, 50, 0, 2000]).astype(
        np.float32)


# -- Python and the CLI agree, bit for bit ------------------------------------------------------
@pytest.mark.parametrize(("flags", "scaler"), [
    (["--scale", "standard"], StandardScaler),
    (["--scale", "minmax"], MinMaxScaler),
    (["--output-activation", "sigmoid"], MinMaxScaler),  # auto: [0, 1] for a sigmoid
    (["--scale", "none"], None),
])
def test_cli_commands_equal_the_loaded_object_on_raw_rows(workdir: Path, flags: list[str],
                                                          scaler: type | None) -> None:
    X = wide_data()
    np.save("x.npy", X)
    assert main(["fit", "--data", "x.npy", "--name", "t", *flags, *FAST]) == 0
    path = "runs/t/model.safetensors"
    model = load(path)
    if scaler is None:
        assert isinstance(model, AutoEncoder)
    else:
        assert isinstance(model, ScaledAutoEncoder) and isinstance(model[0], scaler)
    for command, output in (("encode", "z.npy"), ("reconstruct", "r.npy")):
        assert main([command, path, "x.npy", "-o", output]) == 0
    assert main(["decode", path, "z.npy", "-o", "d.npy"]) == 0
    assert main(["score", path, "x.npy", "-o", "s.csv"]) == 0
    Z = model.transform(X)
    np.testing.assert_array_equal(np.load("z.npy"), Z)
    np.testing.assert_array_equal(np.load("r.npy"), model.reconstruct(X))
    np.testing.assert_array_equal(np.load("d.npy"), model.inverse_transform(Z))
    scores = np.loadtxt("s.csv", delimiter=",", skiprows=1)[:, 0]
    np.testing.assert_array_equal(scores, model.score_samples(X))
    np.testing.assert_array_equal(model.score_samples(X), -model.reconstruction_error(X))


def test_the_reconstructions_are_in_raw_units(workdir: Path) -> None:
    X = wide_data()
    np.save("x.npy", X)
    assert main(["fit", "--data", "x.npy", "--name", "t", "--scale", "standard", *FAST]) == 0
    model = load("runs/t/model.safetensors")
    scaler, ae = model[0], model.autoencoder
    X_hat = model.reconstruct(X)
    np.testing.assert_array_equal(X_hat, scaler.inverse_transform(ae.reconstruct(
        scaler.transform(X))))
    assert (np.abs(X_hat.mean(axis=0) - X.mean(axis=0)) < X.std(axis=0)).all()


def test_the_onnx_files_compute_what_the_cli_writes(workdir: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnxruntime as ort

    X = wide_data()
    np.save("x.npy", X)
    assert main(["fit", "--data", "x.npy", "--name", "t", "--scale", "standard", *FAST]) == 0
    assert main(["export", "runs/t/model.safetensors", "-o", "onnx"]) == 0
    assert main(["encode", "runs/t/model.safetensors", "x.npy", "-o", "z.npy"]) == 0
    encoder = ort.InferenceSession("onnx/encoder.onnx", providers=["CPUExecutionProvider"])
    (Z,) = encoder.run(None, {"x": X})
    np.testing.assert_allclose(Z, np.load("z.npy"), rtol=1e-5, atol=1e-5)


# -- a scikit-learn Pipeline saved from Python ----------------------------------------------
@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler(feature_range=(-1, 1)),
                                    MaxAbsScaler()])
def test_a_python_pipeline_saves_and_loads_as_itself(tmp_path: Path, scaler: object) -> None:
    X = wide_data().astype(np.float64)
    pipeline = make_pipeline(scaler, AutoEncoder(hidden_layer_sizes=(8,), max_iter=2,
                                                 random_state=0)).fit(X)
    save(pipeline, tmp_path / "m.safetensors")
    model = load(tmp_path / "m.safetensors")
    assert isinstance(model, ScaledAutoEncoder)
    assert [name for name, _ in model.steps] == [pipeline.steps[0][0], "autoencoder"]
    assert model[0].get_params() == pipeline[0].get_params()
    for method in ("transform", "score_samples"):
        np.testing.assert_array_equal(getattr(model, method)(X), getattr(pipeline, method)(X))
    Z = pipeline.transform(X)
    np.testing.assert_array_equal(model.inverse_transform(Z), pipeline.inverse_transform(Z))


def test_the_cli_reads_a_model_saved_from_python(workdir: Path) -> None:
    X = wide_data()
    np.save("x.npy", X)
    model = ScaledAutoEncoder([("scaler", StandardScaler()), ("autoencoder", AutoEncoder(
        hidden_layer_sizes=(8,), max_iter=2, random_state=0))]).fit(X)
    model.save("m.safetensors")
    assert main(["encode", "m.safetensors", "x.npy", "-o", "z.npy"]) == 0
    np.testing.assert_array_equal(np.load("z.npy"), model.transform(X))


def test_feature_names_and_the_outlier_threshold_are_kept(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(wide_data().astype(np.float64), columns=list("abcde"))
    model = ScaledAutoEncoder([("scaler", StandardScaler()), ("autoencoder", AutoEncoder(
        hidden_layer_sizes=(8,), max_iter=2, random_state=0))]).fit(frame)
    model.autoencoder.offset_ = -1.25
    model.save(tmp_path / "m.safetensors")
    same = load(tmp_path / "m.safetensors")
    assert list(same.feature_names_in_) == list("abcde")
    assert same.offset_ == -1.25 and same.autoencoder.offset_ == -1.25


def test_a_variational_model_samples_and_interpolates_in_raw_units(tmp_path: Path) -> None:
    X = wide_data().astype(np.float64)
    model = ScaledAutoEncoder([("scaler", MinMaxScaler()), ("autoencoder", AutoEncoder(
        hidden_layer_sizes=(8,), max_iter=2, loss="bce", constraints=(Variational(),),
        random_state=0))]).fit(X)
    ae, scaler = model.autoencoder, model[0]
    np.testing.assert_array_equal(model.sample(4, random_state=1),
                                  scaler.inverse_transform(ae.sample(4, random_state=1)))
    Z = model.transform(X[:2])
    np.testing.assert_array_equal(model.interpolate(Z[0], Z[1], steps=3),
                                  scaler.inverse_transform(ae.interpolate(Z[0], Z[1], 3)))


def test_a_scaled_autoencoder_is_a_scikit_learn_pipeline() -> None:
    X = wide_data().astype(np.float64)
    model = ScaledAutoEncoder([("scaler", StandardScaler()), ("autoencoder", AutoEncoder(
        hidden_layer_sizes=(8,), max_iter=2, random_state=0))])
    assert model.get_params()["autoencoder__max_iter"] == 2
    fitted = clone(model).fit(X)
    assert fitted.n_iter_ == 2 and fitted.n_components == 2  # read through to the autoencoder
    assert fitted.n_features_in_ == 5
    with pytest.raises(AttributeError, match="no attribute 'not_there_'"):
        _ = fitted.not_there_


@pytest.mark.filterwarnings("ignore:X does not look scaled")
def test_save_refuses_what_a_model_file_cannot_hold(tmp_path: Path) -> None:
    X = wide_data().astype(np.float64)
    pipeline = make_pipeline(PCA(3), AutoEncoder(hidden_layer_sizes=(), max_iter=2,
                                                 random_state=0)).fit(X)
    with pytest.raises(InvalidInputError, match=r"can carry StandardScaler, MinMaxScaler, "
                                                r"MaxAbsScaler .* got PCA"):
        save(pipeline, tmp_path / "m.safetensors")
    with pytest.raises(InvalidInputError, match="fitted AutoEncoder, or a Pipeline"):
        save(StandardScaler().fit(X), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


# -- --scale auto follows the output layer ------------------------------------------------------
@pytest.mark.parametrize(("activation", "loss", "kind", "low", "high"), [
    ("identity", "mse", "standard", None, None),
    ("sigmoid", "mse", "minmax", 0.0, 1.0),
    ("identity", "bce", "minmax", 0.0, 1.0),
    ("tanh", "mse", "minmax", -1.0, 1.0),
    ("relu", "mse", "minmax", 0.0, 1.0),
])
def test_auto_scaling_stays_inside_the_output_range(activation: str, loss: str, kind: str,
                                                    low: float | None,
                                                    high: float | None) -> None:
    X = wide_data().astype(np.float64)
    scaling = Scaling.fit(X, "auto", output_range=output_range(activation, loss))
    assert scaling.kind == kind
    scaled = scaling.transform(X)
    if low is not None:
        assert scaled.min() == pytest.approx(low, abs=1e-6)
        assert scaled.max() == pytest.approx(high, abs=1e-6)


def test_auto_leaves_data_already_in_range_and_divides_integer_pixels() -> None:
    inside = np.random.default_rng(0).random((10, 3))
    assert Scaling.fit(inside, "auto", output_range=output_range("sigmoid")).kind == "none"
    assert Scaling.fit(inside * 2 - 1, "auto", output_range=output_range("tanh")).kind == "none"
    pixels16 = np.array([[0, 65535], [1000, 30000]], dtype=np.uint16)
    scaling = Scaling.fit(pixels16, "auto")
    assert scaling.kind == "uint16"
    np.testing.assert_array_equal(scaling.transform(pixels16), pixels16 / np.float32(65535))
    assert Scaling.fit(pixels16.astype(np.uint8), "auto").kind == "uint8"


def test_the_cli_picks_minmax_for_a_tanh_output(workdir: Path) -> None:
    np.save("x.npy", wide_data())
    assert main(["fit", "--data", "x.npy", "--name", "t", "--output-activation", "tanh",
                 *FAST]) == 0
    model = load("runs/t/model.safetensors")
    assert isinstance(model[0], MinMaxScaler) and model[0].feature_range == (-1.0, 1.0)


# -- numbers too large to standardise ----------------------------------------------------------
def test_a_column_near_1e200_is_refused_by_name_not_zeroed(workdir: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          ) -> None:
    X = np.random.default_rng(0).random((20, 3))
    X[:, 1] = X[:, 1] * 1e200 + 1e200
    with pytest.raises(InvalidInputError, match=r"column 2: values up to 1\.\d+e\+200 overflow "
                                                "float64 .*--scale minmax"):
        Scaling.fit(X, "standard")
    np.save("big.npy", X)
    assert main(["fit", "--data", "big.npy", *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "big.npy, column 2: values up to" in err
    minmax = Scaling.fit(X, "minmax").transform(X)
    assert np.isfinite(minmax).all() and minmax[:, 1].max() == 1.0


def test_autoencoder_methods_in_scaled_units_are_not_reachable_unscaled() -> None:
    X = wide_data().astype(np.float64)
    model = ScaledAutoEncoder([("scaler", StandardScaler()), ("autoencoder", AutoEncoder(
        hidden_layer_sizes=(8,), max_iter=2, constraints=(Variational(),),
        random_state=0))]).fit(X)
    np.testing.assert_array_equal(model.elbo(X, n_samples=4),
                                  model.autoencoder.elbo(model[0].transform(X), n_samples=4))
    with pytest.raises(AttributeError, match="no attribute '_check_X'"):
        _ = model._check_X
    assert model.loss == "mse" and callable(model.elbo)
    assert model.module_ is model.autoencoder.module_  # a torch module is data, not a method

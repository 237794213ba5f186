"""ONNX export: the encoder and decoder files give transform's and inverse_transform's outputs
under onnxruntime, at any batch size, from one self-contained file each."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from codings import AutoEncoder, InvalidInputError, TiedWeights, Variational
from codings.formats.onnx import export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

BATCH_SIZES = (1, 7, 64)
TOLERANCE = 1e-5


class SmallEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 16), nn.LayerNorm(16), nn.GELU(),
                                    nn.Linear(16, 3))

    def forward(self, x):
        return self.layers(x)


class BranchingEncoder(nn.Module):
    """Python control flow on the data: runs eagerly, cannot be traced."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(64, 3), nn.Linear(64, 3)

    def forward(self, x):
        return self.a(x) if float(x.sum()) > 0 else self.b(x)


def _images(n: int = 120) -> np.ndarray:
    return np.random.RandomState(0).rand(n, 1, 8, 8).astype(np.float32)


MODELS = {
    "mlp": lambda: AutoEncoder(3, hidden_layer_sizes=(16,)),
    "conv": lambda: AutoEncoder(3, hidden_layer_sizes=(4, 8), architecture="conv"),
    "variational": lambda: AutoEncoder(3, hidden_layer_sizes=(16,),
                                       constraints=(Variational(),)),
    "tied": lambda: AutoEncoder(3, hidden_layer_sizes=(16,), constraints=(TiedWeights(),)),
    "bce": lambda: AutoEncoder(3, hidden_layer_sizes=(16,), loss="bce"),
    "variational tied conv": lambda: AutoEncoder(
        3, hidden_layer_sizes=(4,), architecture="conv",
        constraints=(Variational(), TiedWeights())),
    "custom": lambda: AutoEncoder(3, encoder=SmallEncoder(),
                                  decoder=nn.Sequential(nn.Linear(3, 64))),
}


def _fit(name: str) -> tuple[AutoEncoder, np.ndarray]:
    X = _images()
    if "conv" not in name:
        X = X.reshape(len(X), -1)
    return MODELS[name]().set_params(max_iter=3, random_state=0).fit(X), X


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    ae, X = _fit(request.param)
    paths = export_onnx(ae, tmp_path_factory.mktemp("onnx"))
    return ae, X, paths


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_encoder_and_decoder_match_pytorch_at_every_batch_size(exported):
    ae, X, paths = exported
    encoder, decoder = _session(paths["encoder"]), _session(paths["decoder"])
    for n in BATCH_SIZES:
        x = np.ascontiguousarray(np.resize(X, (n, *X.shape[1:])))
        (z,) = encoder.run(["z"], {"x": x})
        assert z.shape == (n, 3)
        assert np.abs(z - ae.transform(x)).max() < TOLERANCE
        (x_hat,) = decoder.run(["x_hat"], {"z": z})
        assert x_hat.shape == x.shape
        assert np.abs(x_hat - ae.inverse_transform(z)).max() < TOLERANCE


def test_files_are_self_contained_with_a_named_dynamic_batch(exported, tmp_path):
    _, X, paths = exported
    assert sorted(p.name for p in paths["encoder"].parent.iterdir()) == [
        "decoder.onnx", "encoder.onnx"]
    moved = {name: shutil.copy(path, tmp_path / path.name) for name, path in paths.items()}
    encoder, decoder = _session(moved["encoder"]), _session(moved["decoder"])
    assert [(i.name, i.shape[0]) for i in encoder.get_inputs()] == [("x", "batch")]
    assert [(o.name, o.shape) for o in encoder.get_outputs()] == [("z", ["batch", 3])]
    assert [(i.name, i.shape) for i in decoder.get_inputs()] == [("z", ["batch", 3])]
    assert [(o.name, o.shape[0]) for o in decoder.get_outputs()] == [("x_hat", "batch")]
    assert encoder.get_inputs()[0].shape[1:] == list(X.shape[1:])


def test_variational_encoder_exports_the_mean_coding(tmp_path):
    ae, X = _fit("variational")
    (z,) = _session(export_onnx(ae, tmp_path)["encoder"]).run(None, {"x": X[:5]})
    with torch.no_grad():
        mu = ae.module_.eval().encode(torch.from_numpy(X[:5])).mu.numpy()
    np.testing.assert_allclose(z, mu, atol=TOLERANCE)


def test_bce_decoder_outputs_probabilities(tmp_path):
    ae, _ = _fit("bce")
    z = np.random.RandomState(1).randn(20, 3).astype(np.float32) * 5
    (x_hat,) = _session(export_onnx(ae, tmp_path)["decoder"]).run(None, {"z": z})
    assert x_hat.min() >= 0 and x_hat.max() <= 1


def test_opset_is_passed_to_the_exporter(tmp_path):
    import onnx

    ae, _ = _fit("mlp")
    paths = export_onnx(ae, tmp_path / "new" / "folder", opset=18)
    model = onnx.load(str(paths["encoder"]))
    assert [o.version for o in model.opset_import if o.domain == ""] == [18]


def test_unfitted_estimator_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError):
        export_onnx(AutoEncoder(), tmp_path)


def test_untraceable_custom_module_names_the_problem(tmp_path):
    X = _images().reshape(120, -1)
    ae = AutoEncoder(3, encoder=BranchingEncoder(), decoder=nn.Linear(3, 64), max_iter=1,
                     random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="The encoder cannot be exported to ONNX"):
        export_onnx(ae, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_packages_say_how_to_install(tmp_path, monkeypatch):
    ae, _ = _fit("mlp")
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    # The command that adds the extra to this installation (an editable checkout here).
    with pytest.raises(ImportError, match=r'onnxscript: pip install -e ".*\[onnx\]"'):
        export_onnx(ae, tmp_path)
    assert not list(tmp_path.iterdir())


def test_export_is_quiet(tmp_path, capfd, recwarn):
    ae, _ = _fit("conv")
    capfd.readouterr()
    recwarn.clear()
    export_onnx(ae, tmp_path)
    assert capfd.readouterr() == ("", "")
    assert [str(w.message) for w in recwarn] == []


def test_estimator_method_writes_the_same_files(tmp_path):
    ae, X = _fit("mlp")
    paths = ae.export_onnx(tmp_path)
    assert {name: p.name for name, p in paths.items()} == {"encoder": "encoder.onnx",
                                                          "decoder": "decoder.onnx"}
    (z,) = _session(paths["encoder"]).run(None, {"x": X[:3]})
    np.testing.assert_allclose(z, ae.transform(X[:3]), atol=TOLERANCE)


@pytest.mark.parametrize("scaler", ["standard", "minmax-clip", "maxabs"])
def test_a_scaled_model_exports_its_scalers(tmp_path, scaler):
    """The files take raw rows and return raw units, like the loaded ScaledAutoEncoder."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    from codings import ScaledAutoEncoder, load

    step = {"standard": StandardScaler(), "minmax-clip": MinMaxScaler((-1, 1), clip=True),
            "maxabs": MaxAbsScaler()}[scaler]
    X = (np.random.default_rng(0).random((60, 6)) * 40 + 5).astype(np.float32)
    model = ScaledAutoEncoder([("scaler", step), ("autoencoder", AutoEncoder(
        n_components=2, hidden_layer_sizes=(4,), max_iter=3, random_state=0))]).fit(X)
    model.save(tmp_path / "model.safetensors")
    loaded = load(tmp_path / "model.safetensors")
    paths = export_onnx(loaded, tmp_path)
    (Z,) = _session(paths["encoder"]).run(None, {"x": X})
    np.testing.assert_allclose(Z, loaded.transform(X), rtol=1e-5, atol=1e-5)
    (X_hat,) = _session(paths["decoder"]).run(None, {"z": Z})
    np.testing.assert_allclose(X_hat, loaded.inverse_transform(Z), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(X_hat, loaded.reconstruct(X), rtol=1e-5, atol=1e-4)

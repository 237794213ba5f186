"""Model files: exact round trip, a readable header, atomic writes, clear errors, no pickle."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from codings import AutoEncoder, ModelFileError, ScaledAutoEncoder, load, save
from codings.formats import model_file as persistence
from codings.formats.container import parse_container, write_container


@pytest.fixture(scope="module")
def fitted() -> tuple[AutoEncoder, np.ndarray]:
    X = np.random.RandomState(0).rand(50, 6)
    return AutoEncoder(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X), X


@pytest.fixture
def saved(fitted, tmp_path) -> Path:
    path = tmp_path / "model.safetensors"
    fitted[0].save(path)
    return path


def test_round_trip_gives_identical_outputs_and_attributes(fitted, saved):
    ae, X = fitted
    same = load(saved)
    np.testing.assert_array_equal(same.transform(X), ae.transform(X))
    np.testing.assert_array_equal(same.inverse_transform(ae.transform(X)), ae.reconstruct(X))
    assert same.get_params() == ae.get_params()
    assert same.history_ == ae.history_ and same.n_iter_ == ae.n_iter_
    assert same.n_features_in_ == 6


def test_file_is_plain_safetensors_with_a_json_header(saved):
    with safe_open(str(saved), framework="pt") as handle:
        header = json.loads(handle.metadata()["codings"])
        names = set(handle.keys())
    assert header["format_version"] == persistence.FORMAT_VERSION
    assert header["params"]["hidden_layer_sizes"] == [4]
    assert header["n_features_in"] == 6 and len(header["sha256"]) == 64
    assert header["preprocessing"] is None and header["offset"] is None
    assert "encoder.0.weight" in names


def test_save_writes_exactly_the_path_given(fitted, tmp_path):
    path = tmp_path / "sub" / "no_extension"
    fitted[0].save(path)
    assert path.exists() and sorted(p.name for p in path.parent.iterdir()) == ["no_extension"]


def test_a_saved_pipeline_loads_as_a_scaled_autoencoder(fitted, tmp_path):
    from sklearn.preprocessing import StandardScaler

    ae, X = fitted
    model = ScaledAutoEncoder([("standardscaler", StandardScaler().fit(X)),
                               ("autoencoder", ae)])
    save(model, tmp_path / "m.safetensors")
    same = load(tmp_path / "m.safetensors")
    assert isinstance(same, ScaledAutoEncoder)
    np.testing.assert_array_equal(same[0].mean_, X.mean(axis=0))
    np.testing.assert_array_equal(same.transform(X), model.transform(X))


def test_a_failed_save_keeps_the_previous_file(fitted, saved, monkeypatch):
    before = saved.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        fitted[0].save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temp file left


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "match"), [
    (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\)"),
    (lambda p: p.write_bytes(p.read_bytes()[:-10]), r"truncated or corrupted"),
    (lambda p: p.write_bytes(p.read_bytes()[:20]), r"truncated or corrupted|not a safetensors"),
    (_flip_last_byte, r"corrupted: its header or weights do not match the sha256"),
    (lambda p: p.write_bytes(b"GIF89a" + b"\0" * 100), r"not a safetensors file"),
    (lambda p: p.unlink(), r"Model file not found"),
])
def test_damaged_files_give_a_clear_error_naming_the_file(saved, damage, match):
    damage(saved)
    with pytest.raises(ModelFileError, match=match) as info:
        load(saved)
    assert str(saved) in str(info.value)


def test_foreign_safetensors_file_is_named_as_such(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(ModelFileError, match="not a codings model"):
        load(path)


def resigned(saved: Path, path: Path, change) -> Path:
    """A copy of ``saved`` with its header changed by ``change`` and a valid digest: what
    a newer or buggy writer could produce, so the schema (not the digest) must refuse it."""
    tensors, header = parse_container(saved, key="codings", what="model file")
    change(header)
    write_container(path, tensors, header, key="codings")
    return path


def test_newer_format_version_asks_for_an_upgrade(saved, tmp_path):
    path = resigned(saved, tmp_path / "newer.safetensors",
                    lambda h: h.update(format_version=persistence.FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="newer than this codings"):
        load(path)


def test_weights_that_do_not_fit_the_architecture(saved, tmp_path):
    path = resigned(saved, tmp_path / "mismatch.safetensors",
                    lambda h: h["params"].update(hidden_layer_sizes=[5]))
    with pytest.raises(ModelFileError, match="do not fit the architecture"):
        load(path)


def test_a_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_a_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load(path)
    assert not marker.exists()


def test_loading_does_not_import_the_compiler(saved):
    """load checks the architecture on the meta device; drawing initial weights there went
    through torch's Python references and imported torch._dynamo: seconds per command."""
    import subprocess
    import sys

    code = ("import sys, codings; codings.load(sys.argv[1]); "
            "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(saved)], capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"

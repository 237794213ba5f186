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

from codings import AutoEncoder, ModelFileError, load
from codings.datasets import Scaling
from codings.estimators import persistence


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
    assert header["n_features_in"] == 6 and len(header["tensor_sha256"]) == 64
    assert "encoder.0.weight" in names


def test_save_writes_exactly_the_path_given(fitted, tmp_path):
    path = tmp_path / "sub" / "no_extension"
    fitted[0].save(path)
    assert path.exists() and sorted(p.name for p in path.parent.iterdir()) == ["no_extension"]


def test_preprocessing_is_recorded(fitted, tmp_path):
    ae, X = fitted
    ae.preprocessing_ = Scaling.fit(X, "standard")
    try:
        ae.save(tmp_path / "m.safetensors")
    finally:
        del ae.preprocessing_
    same = load(tmp_path / "m.safetensors")
    assert same.preprocessing_.kind == "standard"
    np.testing.assert_allclose(same.preprocessing_.offset, X.mean(axis=0))


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
    (_flip_last_byte, r"corrupted: its weights do not match the sha256"),
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


def test_newer_format_version_asks_for_an_upgrade(saved, tmp_path):
    tensors, header = persistence._read(saved)
    header["format_version"] = persistence.FORMAT_VERSION + 1
    path = tmp_path / "newer.safetensors"
    save_file(tensors, str(path), metadata={"codings": json.dumps(header)})
    with pytest.raises(ModelFileError, match="newer than this codings"):
        load(path)


def test_weights_that_do_not_fit_the_architecture(saved, tmp_path):
    tensors, header = persistence._read(saved)
    header["params"]["hidden_layer_sizes"] = [5]
    path = tmp_path / "mismatch.safetensors"
    save_file(tensors, str(path), metadata={"codings": json.dumps(header)})
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

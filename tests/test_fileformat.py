"""The one file format (codings.formats.container) and model files read as an attacker would
write them.

Every refusal is a ModelFileError naming the file; nothing is read from a non-regular file,
nothing is allocated for sizes the file cannot hold, and no byte of a model file can change
what it computes without an error.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save, save_file

from codings import AutoEncoder, ModelFileError, load
from codings.formats.container import (
    MAX_HEADER_BYTES,
    canonical_json,
    container_digest,
    parse_container,
    read_container,
    tensor_digest,
    write_container,
)
from codings.formats.model_file import LegacyModelFileWarning

KEY, WHAT = "codings", "model file"


@pytest.fixture(scope="module")
def fitted() -> tuple[AutoEncoder, np.ndarray]:
    X = np.random.RandomState(0).rand(40, 5).astype(np.float32)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    return ae.fit(X), X


@pytest.fixture
def saved(fitted: tuple[AutoEncoder, np.ndarray], tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    fitted[0].save(path)
    return path


def resign(saved: Path, path: Path, change: Any) -> Path:
    """``saved`` with its header changed and a valid digest: only the schema can refuse it."""
    tensors, header = parse_container(saved, key=KEY, what=WHAT)
    header = change(header) or header
    write_container(path, tensors, header, key=KEY)
    return path


def refused(path: Path, match: str) -> str:
    with pytest.raises(ModelFileError, match=match) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def raw_safetensors(header: Any, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text) if length is None else length) + text + data


# -- the container --------------------------------------------------------------------------
def test_a_container_round_trips_tensors_and_header_with_nan_and_inf(tmp_path: Path) -> None:
    tensors = {"w": torch.randn(3, 2), "n": torch.arange(4), "h": torch.ones(2).bfloat16()}
    header = {"epoch": 3, "best_loss": float("inf"), "history": [1.5, float("nan")],
              "name": "ü"}
    path = tmp_path / "c.safetensors"
    write_container(path, tensors, header, key="checkpoint")
    got, back = read_container(path, key="checkpoint", what="checkpoint")
    assert set(got) == set(tensors) and all(torch.equal(got[k], tensors[k]) for k in tensors)
    assert back["best_loss"] == float("inf") and np.isnan(back["history"][1])
    assert "sha256" not in back and back["name"] == "ü"


def test_the_digest_covers_the_canonical_header_and_every_tensor() -> None:
    tensors = {"w": torch.zeros(2)}
    base = container_digest({"a": 1, "b": [1.0]}, tensors)
    assert container_digest({"b": [1.0], "a": 1, "sha256": "x"}, tensors) == base
    assert container_digest({"a": 2, "b": [1.0]}, tensors) != base
    assert container_digest({"a": 1, "b": [1.0]}, {"w": torch.tensor([0.0, 1e-45])}) != base
    assert container_digest({"a": 1, "b": [1.0]}, {"v": torch.zeros(2)}) != base
    assert canonical_json({"b": 1, "a": float("nan")}) == '{"a":NaN,"b":1}'
    assert len(tensor_digest(tensors)) == 64


@pytest.mark.parametrize("error", [ValueError("bad epoch"), TypeError("not a list"),
                                   KeyError("epoch"), ModelFileError("no such run")])
def test_validate_failures_become_model_file_errors_naming_the_file(
        tmp_path: Path, error: Exception) -> None:
    path = tmp_path / "c.safetensors"
    write_container(path, {"w": torch.zeros(1)}, {"epoch": 1}, key="checkpoint")

    def validate(header: dict[str, Any]) -> None:
        raise error

    with pytest.raises(ModelFileError, match=r"bad epoch|not a list|'epoch'|no such run") as info:
        read_container(path, key="checkpoint", what="checkpoint", validate=validate)
    assert str(path) in str(info.value)


def test_a_missing_checkpoint_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="Checkpoint not found"):
        read_container(tmp_path / "none", key="checkpoint", what="checkpoint")


def test_a_changed_header_fails_the_digest(saved: Path) -> None:
    raw = saved.read_bytes()
    old = b'\\"n_components\\":2'
    assert raw.count(old) == 1
    saved.write_bytes(raw.replace(old, old[:-1] + b"3"))  # same length, a plausible value
    refused(saved, "corrupted: its header or weights do not match the sha256")


# -- non-regular files: refused before a byte is read ----------------------------------------
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_link_to_a_device_is_refused_without_reading(tmp_path: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    link = tmp_path / "model.safetensors"
    link.symlink_to(device)
    refused(link, "not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def attempt() -> None:
        try:
            load(fifo)
        except ModelFileError as exc:
            result.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)  # a ceiling against a hang, not a time budget
    assert result and "not a regular file" in str(result[0])


# -- sizes checked before allocating ----------------------------------------------------------
def test_a_header_length_over_the_file_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    refused(path, "truncated or corrupted, or not a safetensors file .*over the file's size")


def test_a_header_length_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    with open(path, "wb") as handle:  # a sparse file: no disk used
        handle.write(struct.pack("<Q", MAX_HEADER_BYTES + 1))
        handle.truncate(MAX_HEADER_BYTES + 100)
    refused(path, f"over {MAX_HEADER_BYTES} bytes")


@pytest.mark.parametrize(("entry", "match"), [
    ({"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]},
     "declare 4000000000000 bytes of data, the file holds 16"),
    ({"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 16]},
     r"declares F32 \(1000000, 1000000\) \(4000000000000 bytes\) but spans 16 bytes"),
    ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 16]}, "non-negative integers"),
    ({"dtype": "PICKLE", "shape": [4], "data_offsets": [0, 16]}, "unknown dtype"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}, "starts at byte 8"),
])
def test_declared_tensor_sizes_must_match_the_file(tmp_path: Path, entry: dict[str, Any],
                                                   match: str) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(raw_safetensors({"w": entry, "__metadata__": {KEY: "{}"}}, b"\0" * 16))
    refused(path, match)


def test_a_small_file_claiming_a_huge_architecture_is_refused_before_building(
        saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = AutoEncoder._build_module

    def counting(self: AutoEncoder, *args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AutoEncoder, "_build_module", counting)
    for change, match in [
        (lambda h: h["params"].update(n_components=10**9), "'params.n_components' must be"),
        (lambda h: h["params"].update(hidden_layer_sizes=[10**6, 10**6]),
         "'params.hidden_layer_sizes' must be"),
        (lambda h: h.update(n_features_in=10**9), "'n_features_in' .* more than the file"),
    ]:
        refused(resign(saved, tmp_path / "huge.safetensors", change), match)
    assert built == []


# -- headers that fail the schema (with a valid digest: a newer or buggy writer) ----------------
@pytest.mark.parametrize(("change", "match"), [
    (lambda h: [1, 2], "(header is a JSON|a JSON) array where an object was expected"),
    (lambda h: "text", "a JSON string where an object was expected"),
    (lambda h: h.pop("params") and None, r"missing field\(s\) \['params'\]"),
    (lambda h: h.update(params=[1, 2]), "'params' must be an object"),
    (lambda h: h["params"].update(n_layers=3), r"unknown parameter\(s\) \['n_layers'\]"),
    (lambda h: h["params"].update(activation="gelu"), "'activation' parameter"),
    (lambda h: h["params"].update(activation=["elu"]), "'params.activation' has an "
                                                       "unexpected type"),
    (lambda h: h["params"].update(constraints=[{"name": "magic"}]), "magic"),
    (lambda h: h.update(history={"loss": ["a"]}), "'history' must be"),
    (lambda h: h.update(n_iter=-1), "'n_iter' must be"),
    (lambda h: h.update(input_shape=[7, 7]), "'input_shape' must be"),
    (lambda h: h.update(feature_names_in=["a"]), "'feature_names_in' must be"),
    (lambda h: h.update(offset="high"), "'offset' must be"),
    (lambda h: h.update(estimator="os.system"), "'estimator' must be 'AutoEncoder'"),
    (lambda h: h.update(preprocessing=[{"class": "PCA"}]), r"preprocessing\[0\] must be"),
    (lambda h: h.update(extra=1), r"unknown field\(s\) \['extra'\]"),
    (lambda h: h["params"].update(hidden_layer_sizes=[5]), "do not fit the architecture"),
    (lambda h: h.update(format_version="2"), "no valid format_version"),
])
def test_a_header_that_fails_the_schema_is_a_clear_error(saved: Path, tmp_path: Path,
                                                         change: Any, match: str) -> None:
    path = tmp_path / "bad.safetensors"
    tensors, header = parse_container(saved, key=KEY, what=WHAT)
    header.pop("sha256")
    body = change(header)
    body = header if body is None else body
    signed = body
    if isinstance(body, dict):
        write_container(path, tensors, body, key=KEY)
    else:  # a header that is not an object cannot carry a digest
        path.write_bytes(save(tensors, metadata={KEY: json.dumps(signed)}))
    refused(path, match)


def test_json_nested_ten_thousand_deep_is_refused(saved: Path, tmp_path: Path) -> None:
    tensors, _ = parse_container(saved, key=KEY, what=WHAT)
    deep = "[" * 10_000 + "]" * 10_000
    for index, metadata in enumerate([{KEY: deep}, {KEY: '{"params":' + deep + "}"}]):
        path = tmp_path / f"deep{index}.safetensors"
        path.write_bytes(save(tensors, metadata=metadata))
        refused(path, "nested (too deeply|more than)")
    outer = tmp_path / "outer.safetensors"
    outer.write_bytes(raw_safetensors(("{\"a\":" + deep + "}").encode()))
    refused(outer, "nested (too deeply|more than)")


def test_a_foreign_safetensors_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path))
    refused(path, "not a codings model file .* another library")


# -- format 1 -----------------------------------------------------------------------------------
def format_1(saved: Path, path: Path, scaling: tuple[np.ndarray, np.ndarray] | None) -> Path:
    """What codings 0.1's first model format wrote: the digest covers the tensors only."""
    tensors, header = parse_container(saved, key=KEY, what=WHAT)
    for name in ("sha256", "offset"):
        header.pop(name)
    header["format_version"] = 1
    header["preprocessing"] = {"kind": "standard"} if scaling else None
    if scaling:
        tensors["preprocessing.offset"] = torch.from_numpy(scaling[0])
        tensors["preprocessing.scale"] = torch.from_numpy(scaling[1])
    header["tensor_sha256"] = tensor_digest(tensors)
    save_file(tensors, str(path), metadata={KEY: json.dumps(header)})
    return path


def test_a_format_1_file_loads_with_a_warning_and_its_scaling(
        fitted: tuple[AutoEncoder, np.ndarray], saved: Path, tmp_path: Path) -> None:
    ae, X = fitted
    offset, scale = X.mean(axis=0).astype(np.float64), X.std(axis=0).astype(np.float64)
    path = format_1(saved, tmp_path / "old.safetensors", (offset, scale))
    with pytest.warns(LegacyModelFileWarning, match="model format 1"):
        model = load(path)
    expected = ae.transform(((X - offset) / scale).astype(np.float32))
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-5, atol=1e-6)
    plain = format_1(saved, tmp_path / "plain.safetensors", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacyModelFileWarning)
        np.testing.assert_array_equal(load(plain).transform(X), ae.transform(X))


def test_a_format_1_file_with_changed_weights_is_refused(saved: Path, tmp_path: Path) -> None:
    path = format_1(saved, tmp_path / "old.safetensors", None)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    refused(path, "corrupted")


# -- the fuzz test ------------------------------------------------------------------------------
def _outputs(model: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return model.transform(X), model.reconstruct(X)


def test_no_single_byte_change_to_a_model_file_goes_unnoticed(
        fitted: tuple[AutoEncoder, np.ndarray], saved: Path, tmp_path: Path) -> None:
    """Every byte of the header (its lowest bit, as "relu" -> "selu"), a sample of header
    bytes with another bit, and a sample of the weights: each damaged file is refused with
    a ModelFileError or computes exactly what the original does."""
    ae, X = fitted
    expected = _outputs(ae, X)
    raw = saved.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    rng = np.random.default_rng(0)
    flips = [(position, 0x01) for position in range(header_end)]
    flips += [(int(p), 0x20) for p in rng.choice(header_end, 256, replace=False)]
    flips += [(int(p), 0x80) for p in rng.choice(np.arange(header_end, len(raw)), 64,
                                                 replace=False)]
    path = tmp_path / "flipped.safetensors"
    counts = {"refused": 0, "identical": 0}
    for position, mask in flips:
        damaged = bytearray(raw)
        damaged[position] ^= mask
        path.write_bytes(bytes(damaged))
        try:
            model = load(path)
        except ModelFileError as exc:
            assert str(path) in str(exc)
            counts["refused"] += 1
            continue
        got = _outputs(model, X)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True)), (
            f"byte {position} ^ {mask:#x} changed the outputs silently")
        counts["identical"] += 1
    assert counts["refused"] >= header_end

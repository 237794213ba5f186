"""Model files: one safetensors container (see :mod:`codings.formats.container`), never pickle.

Tensors: the module's ``state_dict``, plus ``preprocessing.<i>.<attribute>`` for the fitted
arrays of each scaler in front of the autoencoder. Header (JSON under the metadata key
``"codings"``, its ``sha256`` covering header and tensors)::

    format_version    2
    library_version   "0.1.0"
    estimator         "AutoEncoder"
    params            the estimator's parameters (constraints as dicts; a custom
                      encoder/decoder as its class name)
    n_features_in     int
    feature_names_in  [str] or null            (the raw columns)
    input_shape       [int] or null            (a model fitted on image arrays)
    image_shape       [int] or null            (how to draw a flat row as a picture)
    input_dtype       "uint8", "uint16" or null (integer pixels: outputs go back to their
                                                range; absent in older files: null)
    preprocessing     [scaler entry] or null   (see codings.formats.scalers)
    offset            float or null            (an outlier threshold on score_samples)
    window            int or null              (offset is per time step, windows of this
                                                many steps; absent in older files: null)
    detector          object or null           (saved from an AnomalyDetector: its params
                                                and outer_steps, how many preprocessing
                                                steps stand outside it; absent: null)
    history           {str: [number]}          (NaN allowed: a diverged epoch)
    n_iter            int
    stop_reason       str or null

Reading checks the file (regular, sizes, digest), then this schema;
:mod:`codings.estimators.files` then checks that the architecture the header declares has
exactly the tensors in the file, on the ``meta`` device (no memory), before anything real is
allocated. No estimator class is imported here: the writer is given its header and tensors,
the reader returns them.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from codings._version import __version__
from codings.exceptions import ModelFileError
from codings.formats import scalers
from codings.formats.container import (
    DIGEST_FIELD,
    check_digest,
    check_fields,
    parse_container,
    tensor_digest,
    write_container,
)

__all__ = ["FORMAT_VERSION", "LegacyModelFileWarning", "check_header", "read_model_file",
           "write_model_file"]

FORMAT_VERSION = 2
METADATA_KEY = "codings"
WHAT = "model file"
RUN_MODEL_FILE = "model.safetensors"  # the model inside a `codings fit` run folder
MAX_SIZE = 2**31  # any one declared size: a layer width, n_components, n_features
MAX_HISTORY_VALUES = 10**7
_FIELDS = ("format_version", "library_version", "estimator", "params", "n_features_in",
           "feature_names_in", "input_shape", "image_shape", "preprocessing", "offset",
           "window", "history", "history_order", "data_range", "n_iter", "stop_reason",
           "input_dtype", "detector")
INPUT_DTYPES = ("uint8", "uint16")


class LegacyModelFileWarning(UserWarning):
    """A model file from format 1, whose digest covers the weights but not the header."""


# -- loading ------------------------------------------------------------------------------------
def write_model_file(path: Path, tensors: dict[str, torch.Tensor],
                     header: dict[str, Any]) -> None:
    """Write a model file atomically; ``header`` gets the format and library versions."""
    header = {"format_version": FORMAT_VERSION, "library_version": __version__, **header}
    write_container(Path(path), tensors, header, key=METADATA_KEY)


def read_model_file(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any],
                                                          dict[str, torch.Tensor]]:
    """``(the file, its verified header, its tensors)``; a run folder means its model.

    The digest and format version are checked here, and a format-1 file is converted to
    format 2 (with :class:`LegacyModelFileWarning`); the schema of each kind of file is
    checked by :func:`check_header` or the classifier file's own check.

    Raises
    ------
    ModelFileError
        If the file is missing, not a regular file, empty, truncated, oversized, corrupted,
        foreign or from a newer format; the message names the file and the problem.
    """
    p = Path(path)
    if p.is_dir():
        if not (p / RUN_MODEL_FILE).is_file():
            raise ModelFileError(f"Expected a model file but {p} is a directory without "
                                 f"{RUN_MODEL_FILE} (not a run folder of codings fit).")
        p = p / RUN_MODEL_FILE  # a run folder: the model `codings fit` saved in it
    tensors, header = parse_container(p, key=METADATA_KEY, what=WHAT)
    return p, _verified(p, header, tensors), tensors


def _verified(path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor],
              ) -> dict[str, Any]:
    """The header without its digest, once the version is known and the digest checks."""
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path} has no valid format_version in its header.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {version}, newer than this codings {__version__} reads "
            f"(format {FORMAT_VERSION}); upgrade codings to load it.")
    if version == 1:
        return _from_format_1(path, header, tensors)
    check_digest(path, header, tensors, WHAT)
    return {"window": None, "input_dtype": None, "detector": None,
            **{k: v for k, v in header.items() if k != DIGEST_FIELD}}


def _from_format_1(path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor],
                   ) -> dict[str, Any]:
    """A format-1 file as a format-2 header: its ``(x - offset) / scale`` scaling becomes the
    StandardScaler that computes exactly that. Its digest covers the weights only, so it
    loads with a warning."""
    if DIGEST_FIELD in header or tensor_digest(tensors) != header.get("tensor_sha256"):
        raise ModelFileError(f"{path} is corrupted: its weights do not match the sha256 "
                             "recorded when it was saved.")
    warnings.warn(f"{path} was saved by an older codings (model format 1), whose digest "
                  "does not cover the header, so a damaged header cannot be detected; save "
                  "it again to protect it.", LegacyModelFileWarning, stacklevel=3)
    converted = {k: v for k, v in header.items() if k != "tensor_sha256"}
    converted.update(format_version=FORMAT_VERSION, offset=None, window=None,
                     preprocessing=None, detector=None,
                     history_order=None, data_range=None, input_dtype=None)
    old = header.get("preprocessing")
    if isinstance(old, dict) and old.get("kind") != "none":
        offset, scale = (tensors.pop(f"{scalers.PREFIX}{k}", None) for k in ("offset", "scale"))
        if offset is None or scale is None:
            raise ModelFileError(f"{path} records a scaling but not its arrays.")
        tensors.update({f"{scalers.PREFIX}0.mean_": offset, f"{scalers.PREFIX}0.scale_": scale,
                        f"{scalers.PREFIX}0.var_": scale * scale})
        converted["preprocessing"] = [{
            "name": "standardscaler", "class": "StandardScaler",
            "params": {"copy": True, "with_mean": True, "with_std": True},
            "n_features_in": header.get("n_features_in"), "n_samples_seen": 1,
            "arrays": ["mean_", "scale_", "var_"]}]
    return converted


# -- the schema ---------------------------------------------------------------------------------
def _is_int(value: Any, low: int = 0, high: int = MAX_SIZE) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_shape(value: Any) -> bool:
    return (isinstance(value, list) and 1 <= len(value) <= 4
            and all(_is_int(v, 1) for v in value) and math.prod(value) <= MAX_SIZE)


def _is_short_str(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 256


def _problem(name: str, value: Any, n_features: Any) -> str | None:
    """What is wrong with one top-level field, or None."""
    def shaped(v: Any) -> bool:
        return v is None or (_is_shape(v) and math.prod(v) == n_features)

    checks: dict[str, tuple[Any, str]] = {
        "format_version": (lambda v: _is_int(v, 1), "an integer"),
        "library_version": (_is_short_str, "a string"),
        "estimator": (lambda v: v == "AutoEncoder", "'AutoEncoder'"),
        "params": (lambda v: isinstance(v, dict), "an object"),
        "n_features_in": (lambda v: _is_int(v, 1), f"an integer in [1, {MAX_SIZE}]"),
        "feature_names_in": (lambda v: v is None or (
            isinstance(v, list) and len(v) == n_features and all(map(_is_short_str, v))),
            "null or one name per feature"),
        "input_shape": (shaped, "null or a shape whose product is n_features_in"),
        "image_shape": (shaped, "null or a shape whose product is n_features_in"),
        "preprocessing": (lambda v: v is None or (isinstance(v, list) and 0 < len(v) <= 8),
                          "null or a list of 1-8 scalers"),
        "offset": (lambda v: v is None or (isinstance(v, int | float) and not isinstance(
            v, bool) and math.isfinite(v)), "null or a finite number"),
        "window": (lambda v: v is None or (_is_int(v, 1) and n_features % v == 0),
                   "null or an integer dividing n_features_in"),
        "history": (_is_history, "an object of lists of numbers"),
        "history_order": (lambda v: v is None or (isinstance(v, list) and all(
            map(_is_short_str, v)) and len(v) == len(set(v)) <= 10_000),
            "null or a list of distinct names"),
        # Its length is checked against n_features_in after that has been checked itself.
        "data_range": (lambda v: v is None or (isinstance(v, list) and len(v) == 2 and all(
            isinstance(row, list) and len(row) == len(v[0]) <= MAX_SIZE and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in row)
            for row in v)), "null or [minima, maxima], one number per feature"),
        "n_iter": (_is_int, "a non-negative integer"),
        "stop_reason": (lambda v: v is None or _is_short_str(v), "null or a string"),
        "input_dtype": (lambda v: v is None or v in INPUT_DTYPES, "null, 'uint8' or 'uint16'"),
        "detector": (_is_detector, "null or {'params': {...}, 'outer_steps': int}"),
    }
    check, expected = checks[name]
    return None if check(value) else f"must be {expected}, not {_describe(value)}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_detector(value: Any) -> bool:
    if value is None:
        return True
    return (isinstance(value, dict) and set(value) == {"params", "outer_steps"}
            and isinstance(value["params"], dict) and len(value["params"]) <= 32
            and all(_is_plain(v, False) for v in value["params"].values())
            and _is_int(value["outer_steps"], 0, 8))


def _is_history(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    lists = list(value.values())
    return (all(isinstance(v, list) for v in lists)
            and sum(len(v) for v in lists) <= MAX_HISTORY_VALUES
            and all((isinstance(x, int | float) and not isinstance(x, bool)) or x is None
                    for v in lists for x in v))


def check_header(header: dict[str, Any], tensors: dict[str, torch.Tensor],
                 known_params: set[str], detector_params: set[str]) -> None:
    """Raise ValueError naming the first field of a model header that cannot be used;
    ``known_params`` are the AutoEncoder's parameter names, ``detector_params`` the
    AnomalyDetector's (the estimators' own tables: this module imports no estimator)."""
    check_fields(header, _FIELDS, lambda name, value: _problem(
        name, value, header.get("n_features_in")))
    _check_params(header["params"], _module_size(tensors), header["n_features_in"],
                  known_params)
    detector = header["detector"]
    if detector is not None:
        unknown = sorted(set(detector["params"]) - detector_params)
        if unknown:
            raise ValueError(f"'detector.params' has unknown parameter(s) {unknown}")
        if header["offset"] is None:
            raise ValueError("'detector' needs the threshold 'offset'")
        if detector["outer_steps"] > len(header["preprocessing"] or []):
            raise ValueError("'detector.outer_steps' is more than the preprocessing steps")
    for index, entry in enumerate(header["preprocessing"] or []):
        scalers.check_scaler_entry(entry, index, header["n_features_in"], tensors)
    names = [e["name"] for e in header["preprocessing"] or []]
    if len(set(names)) != len(names) or not all(
            n and "__" not in n and n != "autoencoder" and _is_short_str(n) for n in names):
        raise ValueError("'preprocessing' step names must be distinct, non-empty, without "
                         "'__' and not 'autoencoder'")
    expected = {f"{scalers.PREFIX}{i}.{a}" for i, e in enumerate(header["preprocessing"] or [])
                for a in e["arrays"]}
    extra = {k for k in tensors if k.startswith(scalers.PREFIX)} - expected
    if extra:
        raise ValueError(f"unexpected preprocessing tensors {sorted(extra)[:3]}")


def _module_size(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() for k, t in tensors.items() if not k.startswith(scalers.PREFIX))


def _check_params(params: dict[str, Any], n_weights: int, n_features: int,
                  known: set[str]) -> None:
    """Known names and JSON types; the sizes that decide the architecture are bounded by the
    weights the file holds, so a tiny file cannot make load allocate a huge network."""
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"'params' has unknown parameter(s) {unknown} (written by a newer "
                         "codings?)")
    for name, value in params.items():
        if not _is_plain(value, name == "constraints"):
            raise ValueError(f"'params.{name}' has an unexpected type: {_describe(value)}")
    custom = params.get("encoder") is not None
    bound = min(n_weights, MAX_SIZE)
    sizes = {"n_components": [params.get("n_components", 2)],
             "hidden_layer_sizes": params.get("hidden_layer_sizes", [100])}
    for name, values in sizes.items():
        if not isinstance(values, list) or len(values) > 64 or not all(
                _is_int(v, 1, MAX_SIZE if custom else bound) for v in values):
            raise ValueError(f"'params.{name}' must be sizes the file's {n_weights} weights "
                             f"can hold, not {_describe(values)}")
    if not custom and params.get("architecture", "mlp") == "mlp" and n_features > bound:
        raise ValueError(f"'n_features_in' ({n_features}) is more than the file's "
                         f"{n_weights} weights can connect")


def _is_plain(value: Any, constraints: bool) -> bool:
    scalar = (str, int, float, bool, type(None))
    if constraints:
        return isinstance(value, list) and len(value) <= 32 and all(
            isinstance(c, dict) and len(c) <= 32
            and all(isinstance(v, scalar) for v in c.values()) for c in value)
    if isinstance(value, list):
        return len(value) <= 64 and all(isinstance(v, int | float) for v in value)
    return isinstance(value, scalar) and not (isinstance(value, str) and len(value) > 256)

"""Model files: one safetensors container (see :mod:`codings._fileio`), never pickle.

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
    preprocessing     [scaler entry] or null   (see codings.estimators._scalers)
    offset            float or null            (an outlier threshold on score_samples)
    window            int or null              (offset is per time step, windows of this
                                                many steps; absent in older files: null)
    history           {str: [number]}          (NaN allowed: a diverged epoch)
    n_iter            int
    stop_reason       str or null

Loading checks the file (regular, sizes, digest), then this schema, then that the
architecture the header declares has exactly the tensors in the file, using a module built
on the ``meta`` device (no memory), before anything real is allocated.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings._fileio import (
    DIGEST_FIELD,
    atomic_write_bytes,
    check_digest,
    check_fields,
    parse_container,
    run_validator,
    tensor_digest,
    write_container,
)
from codings._version import __version__
from codings.constraints.base import constraint_from_dict
from codings.estimators import _scalers
from codings.estimators._building import module_class_name
from codings.exceptions import CodingsError, ModelFileError

__all__ = ["FORMAT_VERSION", "atomic_write_bytes", "estimator_params", "load", "save"]

FORMAT_VERSION = 2
METADATA_KEY = "codings"
WHAT = "model file"
RUN_MODEL_FILE = "model.safetensors"  # the model inside a `codings fit` run folder
MAX_SIZE = 2**31  # any one declared size: a layer width, n_components, n_features
MAX_HISTORY_VALUES = 10**7
_FIELDS = ("format_version", "library_version", "estimator", "params", "n_features_in",
           "feature_names_in", "input_shape", "image_shape", "preprocessing", "offset",
           "window", "history", "history_order", "data_range", "n_iter", "stop_reason",
           "input_dtype")
INPUT_DTYPES = ("uint8", "uint16")


class LegacyModelFileWarning(UserWarning):
    """A model file from format 1, whose digest covers the weights but not the header."""


# -- saving -------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def estimator_params(estimator: Any) -> dict[str, Any]:
    """An AutoEncoder's parameters as JSON: constraints as dicts, modules as class names."""
    params = estimator.get_params(deep=False)
    if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no stable JSON form
    params["constraints"] = [c.to_dict() for c in estimator._constraints()]  # also unfitted
    # A user's module is code, which a model file never stores: keep its class name so
    # load() can ask for an instance of the same class.
    for name in ("encoder", "decoder"):
        params[name] = module_class_name(params.get(name))
    return {k: _jsonable(v) for k, v in params.items()}


def save(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted model to one safetensors file, atomically; never pickles.

    Parameters
    ----------
    model : AutoEncoder, ScaledAutoEncoder, EncoderClassifier or Pipeline
        A fitted ``AutoEncoder``, or a fitted scikit-learn ``Pipeline`` of
        ``StandardScaler`` / ``MinMaxScaler`` / ``MaxAbsScaler`` steps ending in one (for
        example ``make_pipeline(StandardScaler(), AutoEncoder())``); or the same with a
        fitted ladder-network ``EncoderClassifier`` (``autoencoder=None``) in its place
        (see :mod:`codings.estimators.classifier_file`).
    path : path-like
        Written exactly as given (no extension is added).
    """
    from sklearn.utils.validation import check_is_fitted

    from codings.estimators import classifier_file

    if classifier_file.is_classifier(model):
        classifier_file.save_classifier(model, Path(path))
        return
    autoencoder, steps = _scalers.split_model(model)
    check_is_fitted(autoencoder)
    tensors = {k: v.detach().cpu().contiguous()
               for k, v in autoencoder.module_.state_dict().items()}
    entries, arrays = _scalers.scaler_states(steps)
    tensors.update(arrays)
    first = steps[0][1] if steps else autoencoder
    names = getattr(first, "feature_names_in_", None)
    offset = getattr(autoencoder, "offset_", None)
    header = {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": type(autoencoder).__name__,
        "params": estimator_params(autoencoder),
        "n_features_in": int(first.n_features_in_),
        "feature_names_in": _jsonable(list(names)) if names is not None else None,
        "input_shape": _jsonable(getattr(autoencoder, "input_shape_", None)),
        "image_shape": _jsonable(getattr(autoencoder, "image_shape_", None)),
        "preprocessing": entries or None,
        "offset": float(offset) if offset is not None else None,
        "window": _window(autoencoder),
        "history": _jsonable(autoencoder.history_),
        "history_order": list(autoencoder.history_),  # canonical JSON sorts the keys
        "data_range": _data_range(autoencoder),
        "n_iter": int(autoencoder.n_iter_),
        "stop_reason": getattr(autoencoder, "stop_reason_", None),
        "input_dtype": getattr(autoencoder, "input_dtype_", None),
    }
    write_container(Path(path), tensors, header, key=METADATA_KEY)


save_model = save  # the name AutoEncoder.save imports


# -- loading ------------------------------------------------------------------------------------
def load(path: str | os.PathLike[str], *, encoder: torch.nn.Module | None = None,
         decoder: torch.nn.Module | None = None) -> Any:
    """Load a model saved with :func:`save`; never unpickles.

    Parameters
    ----------
    path : path-like
        A model file, or a run folder written by ``codings fit`` (its ``model.safetensors``
        is loaded).
    encoder, decoder : torch.nn.Module, optional
        For a model built on your own modules: instances of the same classes (their
        weights are replaced by the saved ones). Code is never read from the file.

    Returns
    -------
    model : AutoEncoder or ScaledAutoEncoder
        The fitted ``AutoEncoder`` when the model was trained on data as given; a
        :class:`~codings.ScaledAutoEncoder` (a scikit-learn ``Pipeline``: the saved scalers,
        then the ``AutoEncoder`` as step ``"autoencoder"``) when it was trained with input
        scaling (``codings fit --scale``, or a saved ``Pipeline``). Either way every method
        takes and returns raw rows, exactly as ``codings encode/reconstruct/score`` do.
        A classifier's file gives the fitted ``EncoderClassifier``, or a ``Pipeline`` of its
        scalers then the classifier as step ``"classifier"``.

    Raises
    ------
    ModelFileError
        If the file is missing, not a regular file, empty, truncated, oversized, corrupted
        (its header or weights changed), foreign, from a newer format, or its header fails
        the schema or declares an architecture its weights do not fit; the message names
        the file and the problem.
    """
    p = Path(path)
    if p.is_dir():
        if not (p / RUN_MODEL_FILE).is_file():
            raise ModelFileError(f"Expected a model file but {p} is a directory without "
                                 f"{RUN_MODEL_FILE} (not a run folder of codings fit).")
        p = p / RUN_MODEL_FILE  # a run folder: the model `codings fit` saved in it
    tensors, header = parse_container(p, key=METADATA_KEY, what=WHAT)
    header = _verified(p, header, tensors)
    modules = {"encoder": encoder, "decoder": decoder}
    if header.get("estimator") == "EncoderClassifier":
        return _load_classifier(p, header, tensors, modules)
    run_validator(p, lambda h: check_header(h, tensors), header, WHAT)
    _check_custom_modules(p, header, modules)
    try:
        return _rebuild(header, tensors, modules)
    except CodingsError as exc:
        raise ModelFileError(f"Cannot rebuild the model in {p}: {exc}") from exc
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"The weights in {p} do not fit the architecture its header "
                             f"describes: {first_line}") from exc


def _load_classifier(path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor],
                     modules: dict[str, torch.nn.Module | None]) -> Any:
    """An EncoderClassifier's file (see :mod:`codings.estimators.classifier_file`)."""
    from codings.estimators import classifier_file

    if any(module is not None for module in modules.values()):
        raise ModelFileError(f"{path} holds a classifier (a ladder network); do not pass "
                             "encoder= or decoder=.")
    # _verified fills in fields that autoencoder files gained later: not a classifier's
    header = {k: v for k, v in header.items()
              if not (k in ("window", "input_dtype") and v is None)}
    run_validator(path, lambda h: classifier_file.check_classifier_header(h, tensors), header,
                  WHAT)
    try:
        return classifier_file.rebuild_classifier(header, tensors)
    except (CodingsError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"Cannot rebuild the classifier in {path}: {first_line}") from exc


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
    return {"window": None, "input_dtype": None,
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
                     preprocessing=None,
                     history_order=None, data_range=None, input_dtype=None)
    old = header.get("preprocessing")
    if isinstance(old, dict) and old.get("kind") != "none":
        offset, scale = (tensors.pop(f"{_scalers.PREFIX}{k}", None) for k in ("offset", "scale"))
        if offset is None or scale is None:
            raise ModelFileError(f"{path} records a scaling but not its arrays.")
        tensors.update({f"{_scalers.PREFIX}0.mean_": offset, f"{_scalers.PREFIX}0.scale_": scale,
                        f"{_scalers.PREFIX}0.var_": scale * scale})
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
    }
    check, expected = checks[name]
    return None if check(value) else f"must be {expected}, not {_describe(value)}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _window(autoencoder: Any) -> int | None:
    window = getattr(autoencoder, "window_", None)
    return int(window) if window is not None else None


def _data_range(autoencoder: Any) -> list[list[float]] | None:
    low, high = getattr(autoencoder, "data_min_", None), getattr(autoencoder, "data_max_", None)
    if low is None or high is None:
        return None
    return [np.asarray(low, dtype=np.float64).tolist(), np.asarray(high, dtype=np.float64).tolist()]


def _is_history(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    lists = list(value.values())
    return (all(isinstance(v, list) for v in lists)
            and sum(len(v) for v in lists) <= MAX_HISTORY_VALUES
            and all((isinstance(x, int | float) and not isinstance(x, bool)) or x is None
                    for v in lists for x in v))


def check_header(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Raise ValueError naming the first field of a model header that cannot be used."""
    check_fields(header, _FIELDS, lambda name, value: _problem(
        name, value, header.get("n_features_in")))
    _check_params(header["params"], _module_size(tensors), header["n_features_in"])
    for index, entry in enumerate(header["preprocessing"] or []):
        _scalers.check_scaler_entry(entry, index, header["n_features_in"], tensors)
    names = [e["name"] for e in header["preprocessing"] or []]
    if len(set(names)) != len(names) or not all(
            n and "__" not in n and n != "autoencoder" and _is_short_str(n) for n in names):
        raise ValueError("'preprocessing' step names must be distinct, non-empty, without "
                         "'__' and not 'autoencoder'")
    expected = {f"{_scalers.PREFIX}{i}.{a}" for i, e in enumerate(header["preprocessing"] or [])
                for a in e["arrays"]}
    extra = {k for k in tensors if k.startswith(_scalers.PREFIX)} - expected
    if extra:
        raise ValueError(f"unexpected preprocessing tensors {sorted(extra)[:3]}")


def _module_size(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() for k, t in tensors.items() if not k.startswith(_scalers.PREFIX))


def _check_params(params: dict[str, Any], n_weights: int, n_features: int) -> None:
    """Known names and JSON types; the sizes that decide the architecture are bounded by the
    weights the file holds, so a tiny file cannot make load allocate a huge network."""
    from codings.estimators.autoencoder import AutoEncoder

    known = set(AutoEncoder._get_param_names())
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


def _check_custom_modules(path: Path, header: dict[str, Any],
                          modules: dict[str, torch.nn.Module | None]) -> None:
    for name, given in modules.items():
        expected = header["params"].get(name)
        if expected is None and given is not None:
            raise ModelFileError(f"{path} uses the built-in architecture; do not pass {name}=.")
        if expected is not None and module_class_name(given) != expected:
            raise ModelFileError(
                f"{path} was built on a custom {name} of class {expected}; pass "
                f"{name}=<an instance of {expected.rsplit('.', 1)[-1]}> to load() "
                f"(got {module_class_name(given)}). Model files never store code.")


# -- rebuilding ---------------------------------------------------------------------------------
def _estimator(header: dict[str, Any], modules: dict[str, torch.nn.Module | None]) -> Any:
    from codings.estimators.autoencoder import AutoEncoder

    params = dict(header["params"])
    params.update(modules)
    for name in ("image_shape", "hidden_layer_sizes"):
        if params.get(name) is not None:
            params[name] = tuple(params[name])
    params["constraints"] = tuple(constraint_from_dict(c) for c in params.get("constraints", []))
    estimator = AutoEncoder(**params)
    estimator._validate_params()
    estimator.constraints_ = tuple(estimator._constraints())
    shape = header["input_shape"]
    estimator.input_shape_ = tuple(shape) if shape is not None else None
    if header["image_shape"] is not None:
        estimator.image_shape_ = tuple(header["image_shape"])
    return estimator


def _check_architecture(estimator: Any, n_features: int, state: dict[str, torch.Tensor]) -> None:
    """Build on the meta device (shapes only, no memory) and compare with the file's weights."""
    with torch.device("meta"):
        planned = estimator._build_module(n_features, torch.Generator().manual_seed(0), 0)
    expected = {k: (tuple(v.shape), v.dtype) for k, v in planned.state_dict().items()}
    found = {k: (tuple(v.shape), v.dtype) for k, v in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        differ = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
                  if unexpected else f"{differ[0]} is {found[differ[0]][0]}, the header "
                  f"describes {expected[differ[0]][0]}")
        raise ValueError(detail)


def _rebuild(header: dict[str, Any], tensors: dict[str, torch.Tensor],
             modules: dict[str, torch.nn.Module | None]) -> Any:
    estimator = _estimator(header, modules)
    n_features = int(header["n_features_in"])
    state = {k: v for k, v in tensors.items() if not k.startswith(_scalers.PREFIX)}
    if estimator.encoder is None:  # a user's own modules fix their sizes themselves
        _check_architecture(estimator, n_features, state)
    module = estimator._build_module(n_features, torch.Generator().manual_seed(0), 0)
    module.load_state_dict(state, strict=True)
    estimator.module_ = module.eval()
    estimator.n_features_in_ = n_features
    names = header["feature_names_in"]
    names = np.asarray(names, dtype=object) if names else None
    history = header["history"]
    order = [k for k in header.get("history_order") or [] if k in history]
    order += [k for k in history if k not in order]
    estimator.history_ = {k: [math.nan if v is None else v for v in history[k]] for k in order}
    if header.get("data_range") is not None:
        low, high = (np.asarray(row, dtype=np.float64) for row in header["data_range"])
        if low.shape != (estimator.n_features_in_,):
            raise ValueError(f"'data_range' has {low.size} values per row for "
                             f"{estimator.n_features_in_} features")
        estimator.data_min_, estimator.data_max_ = low, high
    estimator.loss_curve_ = list(estimator.history_.get("loss", []))
    estimator.n_iter_ = int(header["n_iter"])
    estimator.stop_reason_ = header["stop_reason"]
    if header["offset"] is not None:
        estimator.offset_ = float(header["offset"])
    if header["window"] is not None:
        estimator.window_ = int(header["window"])
    if header["input_dtype"] is not None:
        estimator.input_dtype_ = str(header["input_dtype"])
    if not header["preprocessing"]:
        if names is not None:
            estimator.feature_names_in_ = names
        return estimator
    from codings.estimators.scaled import ScaledAutoEncoder

    steps = [_scalers.rebuild_scaler(entry, index, tensors, names)
             for index, entry in enumerate(header["preprocessing"])]
    return ScaledAutoEncoder([*steps, ("autoencoder", estimator)])

"""Model files: one safetensors file, weights plus a JSON header, never pickle.

Layout: the tensors are the module's ``state_dict`` (plus ``preprocessing.*`` arrays when
the CLI scaled the data); the safetensors metadata holds one key, ``"codings"``, whose value
is a JSON document with the format version, library version, estimator class and
parameters (constraints as dicts), input shape, history and a sha256 of the tensor bytes.
safetensors alone loads a flipped byte silently; the digest makes that an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings._fileio import atomic_write_bytes, tensor_digest
from codings._version import __version__
from codings.constraints.base import constraint_from_dict
from codings.datasets.scaling import Scaling
from codings.estimators._building import module_class_name
from codings.exceptions import CodingsError, ModelFileError

FORMAT_VERSION = 1
METADATA_KEY = "codings"
_PREPROCESSING_PREFIX = "preprocessing."


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
    params = estimator.get_params(deep=False)
    if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no stable JSON form
    params["constraints"] = [c.to_dict() for c in estimator._constraints()]
    # A user's module is code, which a model file never stores: keep its class name so
    # load() can ask for an instance of the same class.
    for name in ("encoder", "decoder"):
        params[name] = module_class_name(params.get(name))
    return {k: _jsonable(v) for k, v in params.items()}


def save_model(estimator: Any, path: str | os.PathLike[str]) -> None:
    from safetensors.torch import save
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    tensors = {k: v.detach().cpu().contiguous()
               for k, v in estimator.module_.state_dict().items()}
    scaling: Scaling | None = getattr(estimator, "preprocessing_", None)
    if scaling is not None:
        tensors[_PREPROCESSING_PREFIX + "offset"] = torch.from_numpy(scaling.offset.copy())
        tensors[_PREPROCESSING_PREFIX + "scale"] = torch.from_numpy(scaling.scale.copy())
    header = {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "estimator": type(estimator).__name__,
        "params": estimator_params(estimator),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": _jsonable(list(getattr(estimator, "feature_names_in_", []))) or None,
        "input_shape": _jsonable(getattr(estimator, "input_shape_", None)),
        "image_shape": _jsonable(getattr(estimator, "image_shape_", None)),
        "preprocessing": {"kind": scaling.kind} if scaling is not None else None,
        "history": estimator.history_,
        "n_iter": int(estimator.n_iter_),
        "stop_reason": getattr(estimator, "stop_reason_", None),
        "tensor_sha256": tensor_digest(tensors),
    }
    payload = save(tensors, metadata={METADATA_KEY: json.dumps(header)})
    atomic_write_bytes(Path(path), payload)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"Expected a model file but {path} is a directory.")
    raw = path.read_bytes()
    if not raw:
        raise ModelFileError(f"{path} is empty (0 bytes): not a codings model file.")
    try:
        tensors = load(raw)
    except SafetensorError as exc:
        reason = str(exc).split("header:", 1)[-1].strip()
        kind = ("truncated or corrupted" if "incomplete" in reason or "length" in reason
                else "not a safetensors file (pickles and other formats are never loaded)")
        raise ModelFileError(f"Cannot load {path}: {kind} ({reason}).") from exc
    # load() has validated the header, so this slice is well formed JSON.
    header_length = int.from_bytes(raw[:8], "little")
    metadata = json.loads(raw[8:8 + header_length]).get("__metadata__") or {}
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{path} is a safetensors file but not a codings model "
                             "(no 'codings' header): it was written by another library.")
    try:
        header = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path} has a corrupted codings header: {exc}") from exc
    return tensors, header


def _check_header(path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    version = header.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path} has no valid format_version in its header.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {version}, newer than this codings {__version__} reads "
            f"(format {FORMAT_VERSION}); upgrade codings to load it.")
    if tensor_digest(tensors) != header.get("tensor_sha256"):
        raise ModelFileError(f"{path} is corrupted: its weights do not match the sha256 "
                             "recorded when it was saved.")


def load(path: str | os.PathLike[str], *, encoder: torch.nn.Module | None = None,
         decoder: torch.nn.Module | None = None) -> Any:
    """Load a model saved with ``save``; never unpickles.

    Parameters
    ----------
    path : path-like
    encoder, decoder : torch.nn.Module, optional
        For a model built on your own modules: instances of the same classes (their
        weights are replaced by the saved ones). Code is never read from the file.

    Raises
    ------
    ModelFileError
        If the file is missing, empty, truncated, corrupted, foreign, from a newer format, or
        its weights do not fit the architecture its header describes.
    """
    from codings.estimators.autoencoder import AutoEncoder

    p = Path(path)
    tensors, header = _read(p)
    _check_header(p, header, tensors)
    classes = {"AutoEncoder": AutoEncoder}
    cls = classes.get(header.get("estimator", ""))
    if cls is None:
        raise ModelFileError(f"{p} holds an unknown estimator {header.get('estimator')!r}.")
    modules = _custom_modules(p, header, encoder, decoder)
    try:
        estimator = _rebuild(cls, header, tensors, modules)
    except CodingsError as exc:
        raise ModelFileError(f"Cannot rebuild the model in {p}: {exc}") from exc
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"The weights in {p} do not fit the architecture its header "
                             f"describes: {first_line}") from exc
    return estimator


def _custom_modules(path: Path, header: dict[str, Any], encoder: torch.nn.Module | None,
                    decoder: torch.nn.Module | None) -> dict[str, torch.nn.Module | None]:
    modules = {"encoder": encoder, "decoder": decoder}
    for name, given in modules.items():
        expected = header["params"].get(name)
        if expected is None and given is not None:
            raise ModelFileError(f"{path} uses the built-in architecture; do not pass {name}=.")
        if expected is not None and module_class_name(given) != expected:
            raise ModelFileError(
                f"{path} was built on a custom {name} of class {expected}; pass "
                f"{name}=<an instance of {expected.rsplit('.', 1)[-1]}> to load() "
                f"(got {module_class_name(given)}). Model files never store code.")
    return modules


def _rebuild(cls: type, header: dict[str, Any], tensors: dict[str, torch.Tensor],
             modules: dict[str, torch.nn.Module | None]) -> Any:
    params = dict(header["params"])
    params.update(modules)
    if params.get("image_shape") is not None:
        params["image_shape"] = tuple(params["image_shape"])
    params["constraints"] = tuple(constraint_from_dict(c) for c in params.get("constraints", []))
    if "hidden_layer_sizes" in params:
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    estimator = cls(**params)
    estimator._validate_params()
    n_features = int(header["n_features_in"])
    shape = header.get("input_shape")
    estimator.input_shape_ = tuple(shape) if shape is not None else None
    if header.get("image_shape") is not None:
        estimator.image_shape_ = tuple(header["image_shape"])
    module = estimator._build_module(n_features, torch.Generator().manual_seed(0), 0)
    state = {k: v for k, v in tensors.items() if not k.startswith(_PREPROCESSING_PREFIX)}
    module.load_state_dict(state, strict=True)
    estimator.module_ = module.eval()
    estimator.n_features_in_ = n_features
    if header.get("feature_names_in"):
        estimator.feature_names_in_ = np.asarray(header["feature_names_in"], dtype=object)
    estimator.history_ = {k: list(v) for k, v in header.get("history", {}).items()}
    estimator.loss_curve_ = list(estimator.history_.get("loss", []))
    estimator.n_iter_ = int(header.get("n_iter", len(estimator.loss_curve_)))
    estimator.stop_reason_ = header.get("stop_reason")
    if header.get("preprocessing"):
        estimator.preprocessing_ = Scaling(
            header["preprocessing"]["kind"],
            tensors[_PREPROCESSING_PREFIX + "offset"].numpy(),
            tensors[_PREPROCESSING_PREFIX + "scale"].numpy())
    return estimator

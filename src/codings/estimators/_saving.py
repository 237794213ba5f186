"""Writing a fitted model: unwrap it by the one rule, describe each part, hand it to a format.

No estimator class is imported here (each class's ``save`` calls :func:`write_model`, so an
import would be a circle): the final estimator is told apart by its class name, which is
also the name the file's header records and :func:`codings.estimators.files.load`
dispatches on. What a model file holds is declared fitted state only: the weights, the
preprocessing steps' fitted arrays, and the attributes listed in
:mod:`codings.formats.model_file` (read from the estimator that set them in its own
``fit``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from codings._version import __version__
from codings.estimators._building import module_class_name
from codings.exceptions import InvalidInputError
from codings.formats import classifier_file, scalers
from codings.formats.container import write_container
from codings.formats.model_file import write_model_file
from codings.formats.pipeline import Unwrapped, unwrap

SAVED = ("AutoEncoder", "EncoderClassifier")
DETECTOR_PARAMS = ("contamination", "n_jobs")


def jsonable(value: Any) -> Any:
    """Parameters as JSON: tuples as lists, numpy scalars as numbers, constraints as dicts."""
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
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
    return {k: jsonable(v) for k, v in params.items()}


def write_model(model: Any, path: str | os.PathLike[str], *, threshold: Any = None,
                data: dict[str, Any] | None = None) -> None:
    """Write ``model`` (see :func:`codings.estimators.files.save`) to ``path`` atomically.

    ``threshold``: a fitted AnomalyDetector of this model whose ``offset_`` (and
    ``window_``) the file stores as the model's outlier threshold, without recording the
    detector itself (what ``codings fit`` writes: the file loads as the autoencoder).
    ``data``: what the data file said about the rows that the fitted arrays do not
    (``feature_names``: the columns of a CSV; ``image_shape``: how to draw a row;
    ``input_dtype``: integer pixels), declared by the command line, which reads files;
    loading gives them back as ``feature_names_in_``, ``image_shape_``, ``input_dtype_``.
    """
    parts = unwrap(model)
    kind = type(parts.final).__name__
    if parts.final is None or kind not in SAVED:
        raise InvalidInputError(
            f"Expected a fitted AutoEncoder, or a Pipeline of scalers ending in one (an "
            f"AnomalyDetector around it, or an EncoderClassifier in its place, saves too); got "
            f"{_describe(model, parts)}.")
    scalers.check_storable(parts.steps)
    for _, step in parts.steps:
        check_is_fitted(step)
    check_is_fitted(parts.final)
    if parts.detector is not None:
        check_is_fitted(parts.detector)
    if kind == "EncoderClassifier":
        if parts.detector is not None:
            raise InvalidInputError("An AnomalyDetector around an EncoderClassifier cannot be "
                                    "saved: a detector scores with an autoencoder.")
        _write_classifier(parts, Path(path), data or {})
        return
    _write_autoencoder(parts, Path(path), threshold, data or {})


def _describe(model: Any, parts: Unwrapped) -> str:
    if parts.final is None or parts.final is model:
        return type(model).__name__
    return f"{type(model).__name__} ending in {type(parts.final).__name__}"


def _first_fitted(parts: Unwrapped, estimator: Any) -> Any:
    """Where the raw columns were seen: the first preprocessing step, else the estimator."""
    return parts.steps[0][1] if parts.steps else estimator


def _scaler_header(parts: Unwrapped) -> tuple[list[dict[str, Any]] | None,
                                             dict[str, torch.Tensor]]:
    entries, arrays = scalers.scaler_states(parts.steps)
    return entries or None, arrays


def _names(first: Any, data: dict[str, Any]) -> list[str] | None:
    names = data.get("feature_names")
    if names is None:
        names = getattr(first, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _write_autoencoder(parts: Unwrapped, path: Path, threshold: Any,
                       data: dict[str, Any]) -> None:
    autoencoder, detector = parts.final, parts.detector
    tensors = {k: v.detach().cpu().contiguous()
               for k, v in autoencoder.module_.state_dict().items()}
    entries, arrays = _scaler_header(parts)
    tensors.update(arrays)
    # the detector's threshold, one given for the file, or the one a loaded model carries
    source = unwrap(threshold) if threshold is not None and detector is None else parts
    offset, window = source.stored("offset_"), source.stored("window_")
    first = _first_fitted(parts, autoencoder)
    header = {
        "estimator": "AutoEncoder",
        "params": estimator_params(autoencoder),
        "n_features_in": int(first.n_features_in_),
        "feature_names_in": _names(first, data),
        "input_shape": jsonable(getattr(autoencoder, "input_shape_", None)),
        "image_shape": jsonable(data.get("image_shape") or getattr(
            autoencoder, "image_shape_", None)),
        "preprocessing": entries,
        "offset": float(offset) if offset is not None else None,
        "window": int(window) if window is not None else None,
        "detector": None if detector is None else {
            "params": {k: jsonable(detector.get_params(deep=False)[k])
                       for k in DETECTOR_PARAMS},
            "outer_steps": parts.outer},
        "history": jsonable(autoencoder.history_),
        "history_order": list(autoencoder.history_),  # canonical JSON sorts the keys
        "data_range": _data_range(autoencoder),
        "n_iter": int(autoencoder.n_iter_),
        "stop_reason": getattr(autoencoder, "stop_reason_", None),
        "input_dtype": data.get("input_dtype") or getattr(autoencoder, "input_dtype_", None),
    }
    write_model_file(path, tensors, header)


def _data_range(autoencoder: Any) -> list[list[float]] | None:
    low, high = getattr(autoencoder, "data_min_", None), getattr(autoencoder, "data_max_", None)
    if low is None or high is None:
        return None
    return [np.asarray(low, dtype=np.float64).tolist(),
            np.asarray(high, dtype=np.float64).tolist()]


def _write_classifier(parts: Unwrapped, path: Path, data: dict[str, Any]) -> None:
    """A ladder-network classifier (optionally behind scalers); see
    :mod:`codings.formats.classifier_file`."""
    classifier = parts.final
    if classifier.autoencoder_ is not None:
        raise InvalidInputError(
            "Only the built-in ladder network (EncoderClassifier(autoencoder=None)) can be "
            "saved; a classifier on a given autoencoder cannot, yet.")
    tensors = {classifier_file.NETWORK + k: v.detach().cpu().contiguous()
               for k, v in classifier.network_.state_dict().items()}
    entries, arrays = _scaler_header(parts)
    tensors.update(arrays)
    params = classifier.get_params(deep=False)
    params.pop("autoencoder")
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no stable JSON form
    history = {k: [v if math.isfinite(v) else None for v in map(float, values)]
               for k, values in classifier.history_.items()}
    first = _first_fitted(parts, classifier)
    header = {
        "format_version": 2, "library_version": __version__,
        "estimator": classifier_file.ESTIMATOR, "params": jsonable(params),
        "n_features_in": int(first.n_features_in_), "feature_names_in": _names(first, data),
        "sizes": [int(s) for s in classifier.network_.sizes],
        "classes": jsonable(list(classifier.classes_)),
        "preprocessing": entries, "history": history,
        "history_order": list(history), "n_iter": int(classifier.n_iter_),
    }
    write_container(path, tensors, header, key="codings")


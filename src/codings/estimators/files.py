"""``save`` and ``load``: the one module that knows every estimator class.

Writing is class-agnostic (:mod:`codings.estimators._saving`, which each class's own
``save`` also calls); reading dispatches on the header's ``"estimator"`` and rebuilds the
estimator, its preprocessing steps and, for a file saved from an
:class:`~codings.AnomalyDetector`, the detector in the nesting it was saved in. The file
formats themselves live in :mod:`codings.formats`, which imports no estimator.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from codings.constraints.base import constraint_from_dict
from codings.estimators._building import module_class_name
from codings.estimators._saving import write_model
from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.classifier import EncoderClassifier
from codings.estimators.detector import AnomalyDetector
from codings.estimators.scaled import ScaledAutoEncoder
from codings.exceptions import CodingsError, ModelFileError
from codings.formats import classifier_file, scalers
from codings.formats.container import run_validator
from codings.formats.model_file import WHAT, check_header, read_model_file
from codings.nn.ladder import LadderNetwork

__all__ = ["load", "save"]


def save(model: Any, path: str | os.PathLike[str], *, threshold: Any = None) -> None:
    """Write a fitted model to one safetensors file, atomically; never pickles.

    Parameters
    ----------
    model : estimator or Pipeline
        A fitted ``AutoEncoder``, ``AnomalyDetector`` or ladder-network
        ``EncoderClassifier`` (``autoencoder=None``), or a fitted scikit-learn ``Pipeline``
        of ``StandardScaler`` / ``MinMaxScaler`` / ``MaxAbsScaler`` steps ending in one,
        in either nesting: ``make_pipeline(StandardScaler(), AnomalyDetector(ae))`` and
        ``AnomalyDetector(make_pipeline(StandardScaler(), ae))`` both save (the rule is
        :func:`codings.formats.pipeline.unwrap`), and :func:`load` gives the same nesting
        back.
    path : path-like
        Written exactly as given (no extension is added).
    threshold : AnomalyDetector, optional
        A fitted detector of ``model`` whose threshold (``offset_``, and ``window_`` for a
        per-time-step one) the file stores with the autoencoder, without the detector:
        such a file loads as the autoencoder, and ``AnomalyDetector.from_model`` or
        ``codings score`` use the threshold. This is what ``codings fit`` writes.

    Raises
    ------
    InvalidInputError
        If the model is of another kind, or a preprocessing step is not one the file can
        store (the message names the step).
    sklearn.exceptions.NotFittedError
        If any part is not fitted.
    """
    write_model(model, path, threshold=threshold)


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
    model : AutoEncoder, ScaledAutoEncoder, AnomalyDetector, EncoderClassifier or Pipeline
        The fitted ``AutoEncoder`` when the model was trained on data as given; a
        :class:`~codings.ScaledAutoEncoder` (a scikit-learn ``Pipeline``: the saved scalers,
        then the ``AutoEncoder`` as step ``"autoencoder"``) when it was trained with input
        scaling (``codings fit --scale``, or a saved ``Pipeline``). Either way every method
        takes and returns raw rows, exactly as ``codings encode/reconstruct/score`` do, and
        a stored outlier threshold is its ``offset_`` (``window_`` for a per-time-step one).
        A file saved from an ``AnomalyDetector`` gives the fitted detector back, inside a
        ``Pipeline`` of the scalers that stood outside it. A classifier's file gives the
        fitted ``EncoderClassifier``, or a ``Pipeline`` of its scalers then the classifier
        as step ``"classifier"``.

    Raises
    ------
    ModelFileError
        If the file is missing, not a regular file, empty, truncated, oversized, corrupted
        (its header or weights changed), foreign, from a newer format, or its header fails
        the schema or declares an architecture its weights do not fit; the message names
        the file and the problem.
    """
    p, header, tensors = read_model_file(path)
    modules = {"encoder": encoder, "decoder": decoder}
    if header.get("estimator") == classifier_file.ESTIMATOR:
        return _load_classifier(p, header, tensors, modules)
    known = set(AutoEncoder._get_param_names())
    detector_known = set(AnomalyDetector._get_param_names()) - {"autoencoder"}
    run_validator(p, lambda h: check_header(h, tensors, known, detector_known), header, WHAT)
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
    """An EncoderClassifier's file (see :mod:`codings.formats.classifier_file`)."""
    if any(module is not None for module in modules.values()):
        raise ModelFileError(f"{path} holds a classifier (a ladder network); do not pass "
                             "encoder= or decoder=.")
    # reading fills in fields that autoencoder files gained later: not a classifier's
    header = {k: v for k, v in header.items()
              if not (k in ("window", "input_dtype", "detector") and v is None)}
    known = set(EncoderClassifier._get_param_names()) - {"autoencoder"}
    run_validator(path, lambda h: classifier_file.check_classifier_header(h, tensors, known),
                  header, WHAT)
    try:
        return _rebuild_classifier(header, tensors)
    except (CodingsError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"Cannot rebuild the classifier in {path}: {first_line}") from exc


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
    params = dict(header["params"])
    params.update(modules)
    # One run's plumbing never travels into the next fit (a clone in cross_val_score would
    # write into that run's checkpoint folder, relative to wherever it runs now).
    params.update(checkpoint_dir=None, resume=False, verbose=0)
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
    state = {k: v for k, v in tensors.items() if not k.startswith(scalers.PREFIX)}
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
    if header["input_dtype"] is not None:
        estimator.input_dtype_ = str(header["input_dtype"])
    steps = [scalers.rebuild_scaler(entry, index, tensors, names)
             for index, entry in enumerate(header["preprocessing"] or [])]
    if not steps and names is not None:
        estimator.feature_names_in_ = names
    if header["detector"] is None:  # the model, with the threshold it stores, if any
        if header["offset"] is not None:
            estimator.offset_ = float(header["offset"])
        if header["window"] is not None:
            estimator.window_ = int(header["window"])
        return ScaledAutoEncoder([*steps, ("autoencoder", estimator)]) if steps else estimator
    return _rebuild_detector(header, steps, estimator)


def _rebuild_detector(header: dict[str, Any], steps: list[tuple[str, Any]],
                      estimator: AutoEncoder) -> Any:
    """The detector in the nesting it was saved in: ``outer_steps`` scalers outside it."""
    outer = header["detector"]["outer_steps"]
    inner = steps[outer:]
    model = ScaledAutoEncoder([*inner, ("autoencoder", estimator)]) if inner else estimator
    detector = AnomalyDetector(model, **header["detector"]["params"])
    detector._validate_params()
    detector.autoencoder_ = model
    detector.offset_ = float(header["offset"])
    if header["window"] is not None:
        detector.window_ = int(header["window"])
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(model, name):
            setattr(detector, name, getattr(model, name))
    if not outer:
        return detector
    return Pipeline([*steps[:outer], ("anomalydetector", detector)])


def _rebuild_classifier(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    """The fitted classifier (behind a Pipeline of its scalers, if any) of a checked file."""
    params = dict(header["params"])
    if params.get("hidden_layer_sizes") is not None:
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    classifier = EncoderClassifier(**params)
    classifier._validate_params()
    network = LadderNetwork(header["sizes"])
    state = {k[len(classifier_file.NETWORK):]: v for k, v in tensors.items()
             if k.startswith(classifier_file.NETWORK)}
    network.load_state_dict(state, strict=True)
    classifier.network_ = network.requires_grad_(False).eval()
    classifier.autoencoder_ = None
    classifier.classes_ = np.asarray(header["classes"])
    classifier.n_features_in_ = int(header["n_features_in"])
    history = header["history"]
    order = [k for k in header["history_order"] if k in history]
    order += [k for k in history if k not in order]
    classifier.history_ = {k: [math.nan if v is None else float(v) for v in history[k]]
                           for k in order}
    classifier.loss_curve_ = list(classifier.history_.get("loss", []))
    classifier.n_iter_ = int(header["n_iter"])
    names = header["feature_names_in"]
    names = np.asarray(names, dtype=object) if names else None
    steps = [scalers.rebuild_scaler(entry, index, tensors, names)
             for index, entry in enumerate(header["preprocessing"] or [])]
    if not steps:
        if names is not None:
            classifier.feature_names_in_ = names
        return classifier
    return Pipeline([*steps, ("classifier", classifier)])

"""Model files of :class:`~codings.estimators.classifier.EncoderClassifier`: the ladder network.

The same safetensors container as an autoencoder's (see :mod:`codings.estimators.persistence`,
never pickle), with its own header: :func:`codings.load` reads ``"estimator"`` and hands
classifier files here. Tensors: the ladder network's ``state_dict`` under ``network.``, plus
the fitted arrays of scalers in front of it (``preprocessing.<i>.<attribute>``). Header::

    format_version    2
    library_version   "0.1.0"
    estimator         "EncoderClassifier"
    params            the classifier's parameters but ``autoencoder`` (None: the ladder)
    n_features_in     int
    feature_names_in  [str] or null
    sizes             [int]          the ladder's layer widths, inputs to classes
    classes           [int | float | str]   the labels, in the order of predict_proba
    preprocessing     [scaler entry] or null
    history           {str: [number]}
    history_order     [str]
    n_iter            int

Only the built-in ladder network (``autoencoder=None``) is saved: a classifier on a given
autoencoder would need that autoencoder's file inside this one.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings._fileio import check_fields, write_container
from codings._version import __version__
from codings.estimators import _scalers
from codings.exceptions import InvalidInputError

ESTIMATOR = "EncoderClassifier"
NETWORK = "network."
MAX_CLASSES = 100_000
MAX_WIDTH = 2**31
_FIELDS = ("format_version", "library_version", "estimator", "params", "n_features_in",
           "feature_names_in", "sizes", "classes", "preprocessing", "history",
           "history_order", "n_iter")


def split_classifier(model: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """(the EncoderClassifier, the scaler steps before it) of a classifier or a Pipeline."""
    from sklearn.pipeline import Pipeline

    from codings.estimators.classifier import EncoderClassifier

    if isinstance(model, EncoderClassifier):
        return model, []
    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], EncoderClassifier):
        steps = [(name, step) for name, step in model.steps[:-1]
                 if step is not None and not (isinstance(step, str) and step == "passthrough")]
        return model.steps[-1][1], steps
    raise InvalidInputError(f"Expected a fitted EncoderClassifier, or a Pipeline of scalers "
                            f"ending in one; got {type(model).__name__}.")


def is_classifier(model: Any) -> bool:
    """Whether ``model`` is an EncoderClassifier or a Pipeline ending in one."""
    try:
        split_classifier(model)
    except InvalidInputError:
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _params(classifier: Any) -> dict[str, Any]:
    params = classifier.get_params(deep=False)
    params.pop("autoencoder")
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no stable JSON form
    return {k: _plain(v) for k, v in params.items()}


def save_classifier(model: Any, path: Path) -> None:
    """Write a fitted ladder-network classifier (optionally behind scalers), atomically."""
    from sklearn.utils.validation import check_is_fitted

    classifier, steps = split_classifier(model)
    check_is_fitted(classifier)
    if classifier.autoencoder_ is not None:
        raise InvalidInputError(
            "Only the built-in ladder network (EncoderClassifier(autoencoder=None)) can be "
            "saved; a classifier on a given autoencoder cannot, yet.")
    tensors = {NETWORK + k: v.detach().cpu().contiguous()
               for k, v in classifier.network_.state_dict().items()}
    entries, arrays = _scalers.scaler_states(steps)
    tensors.update(arrays)
    first = steps[0][1] if steps else classifier
    names = getattr(first, "feature_names_in_", None)
    history = {k: [v if math.isfinite(v) else None for v in map(float, values)]
               for k, values in classifier.history_.items()}
    header = {
        "format_version": 2, "library_version": __version__, "estimator": ESTIMATOR,
        "params": _params(classifier), "n_features_in": int(first.n_features_in_),
        "feature_names_in": [str(n) for n in names] if names is not None else None,
        "sizes": [int(s) for s in classifier.network_.sizes],
        "classes": _plain(list(classifier.classes_)),
        "preprocessing": entries or None, "history": history,
        "history_order": list(history), "n_iter": int(classifier.n_iter_),
    }
    write_container(path, tensors, header, key="codings")


# -- loading ------------------------------------------------------------------------------------
def _is_int(value: Any, low: int = 0, high: int = MAX_WIDTH) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_label(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 256
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def _problem(name: str, value: Any, header: dict[str, Any]) -> str | None:
    """What is wrong with one field, or None."""
    n_features = header.get("n_features_in")
    checks: dict[str, tuple[Any, str]] = {
        "format_version": (lambda v: v == 2, "2"),
        "library_version": (lambda v: isinstance(v, str) and len(v) <= 256, "a string"),
        "estimator": (lambda v: v == ESTIMATOR, repr(ESTIMATOR)),
        "params": (lambda v: isinstance(v, dict), "an object"),
        "n_features_in": (lambda v: _is_int(v, 1), "a positive integer"),
        "feature_names_in": (lambda v: v is None or (isinstance(v, list) and len(v) ==
                             n_features and all(isinstance(s, str) for s in v)),
                             "null or one name per feature"),
        "sizes": (lambda v: isinstance(v, list) and 2 <= len(v) <= 64 and all(
            _is_int(s, 1) for s in v) and v[0] == n_features,
            "a list of layer widths starting with n_features_in"),
        "classes": (lambda v: isinstance(v, list) and 2 <= len(v) <= MAX_CLASSES and all(
            map(_is_label, v)) and len({repr(c) for c in v}) == len(v),
            "a list of at least 2 distinct labels"),
        "preprocessing": (lambda v: v is None or (isinstance(v, list) and 0 < len(v) <= 8),
                          "null or a list of 1-8 scalers"),
        "history": (lambda v: isinstance(v, dict) and all(isinstance(x, list) and all(
            y is None or (isinstance(y, int | float) and not isinstance(y, bool)) for y in x)
            for x in v.values()), "an object of lists of numbers"),
        "history_order": (lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
                          "a list of names"),
        "n_iter": (_is_int, "a non-negative integer"),
    }
    check, expected = checks[name]
    return None if check(value) else f"must be {expected}"


def check_classifier_header(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Raise ValueError naming the first field of a classifier header that cannot be used."""
    from codings.estimators.classifier import EncoderClassifier

    check_fields(header, _FIELDS, lambda name, value: _problem(name, value, header))
    if header["sizes"][-1] != len(header["classes"]):
        raise ValueError("'sizes' must end with the number of classes")
    known = set(EncoderClassifier._get_param_names()) - {"autoencoder"}
    unknown = sorted(set(header["params"]) - known)
    if unknown:
        raise ValueError(f"'params' has unknown parameter(s) {unknown} (written by a newer "
                         "codings?)")
    n_weights = sum(t.numel() for k, t in tensors.items() if k.startswith(NETWORK))
    widths = header["sizes"]
    if sum(a * b for a, b in pairwise(widths)) > n_weights:
        raise ValueError(f"'sizes' {widths} need more weights than the file's {n_weights}")
    for index, entry in enumerate(header["preprocessing"] or []):
        _scalers.check_scaler_entry(entry, index, header["n_features_in"], tensors)


def rebuild_classifier(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    """The fitted classifier (behind a Pipeline of its scalers, if any) of a checked file."""
    from sklearn.pipeline import Pipeline

    from codings.estimators.classifier import EncoderClassifier
    from codings.nn.ladder import LadderNetwork

    params = dict(header["params"])
    if params.get("hidden_layer_sizes") is not None:
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    classifier = EncoderClassifier(**params)
    classifier._validate_params()
    network = LadderNetwork(header["sizes"])
    state = {k[len(NETWORK):]: v for k, v in tensors.items() if k.startswith(NETWORK)}
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
    steps = [_scalers.rebuild_scaler(entry, index, tensors, names)
             for index, entry in enumerate(header["preprocessing"] or [])]
    if not steps:
        if names is not None:
            classifier.feature_names_in_ = names
        return classifier
    return Pipeline([*steps, ("classifier", classifier)])

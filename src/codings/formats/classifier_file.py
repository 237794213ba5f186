"""Model files of :class:`~codings.estimators.classifier.EncoderClassifier`: the ladder network.

The same safetensors container as an autoencoder's (see :mod:`codings.formats.model_file`,
never pickle), with its own header: :func:`codings.load` reads ``"estimator"`` and checks
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
from typing import Any

import torch

from codings.formats import scalers
from codings.formats.container import check_fields

ESTIMATOR = "EncoderClassifier"
NETWORK = "network."
MAX_CLASSES = 100_000
MAX_WIDTH = 2**31
_FIELDS = ("format_version", "library_version", "estimator", "params", "n_features_in",
           "feature_names_in", "sizes", "classes", "preprocessing", "history",
           "history_order", "n_iter")


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


def check_classifier_header(header: dict[str, Any], tensors: dict[str, torch.Tensor],
                            known_params: set[str]) -> None:
    """Raise ValueError naming the first field of a classifier header that cannot be used;
    ``known_params`` are the EncoderClassifier's parameter names but ``autoencoder``."""
    check_fields(header, _FIELDS, lambda name, value: _problem(name, value, header))
    if header["sizes"][-1] != len(header["classes"]):
        raise ValueError("'sizes' must end with the number of classes")
    unknown = sorted(set(header["params"]) - known_params)
    if unknown:
        raise ValueError(f"'params' has unknown parameter(s) {unknown} (written by a newer "
                         "codings?)")
    n_weights = sum(t.numel() for k, t in tensors.items() if k.startswith(NETWORK))
    widths = header["sizes"]
    if sum(a * b for a, b in pairwise(widths)) > n_weights:
        raise ValueError(f"'sizes' {widths} need more weights than the file's {n_weights}")
    for index, entry in enumerate(header["preprocessing"] or []):
        scalers.check_scaler_entry(entry, index, header["n_features_in"], tensors)

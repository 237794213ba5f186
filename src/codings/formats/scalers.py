"""The scikit-learn scalers a model file can carry, as tensors plus JSON: never pickled.

A fitted ``StandardScaler``, ``MinMaxScaler`` or ``MaxAbsScaler`` is its constructor
parameters (JSON, in the model header) and its fitted arrays (tensors named
``preprocessing.<step>.<attribute>``, in the dtype scikit-learn computed them in, so the
restored scaler transforms bit for bit like the saved one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from codings.exceptions import InvalidInputError

PREFIX = "preprocessing."


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_range(value: Any) -> bool:
    return (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool)
                    and math.isfinite(v) for v in value) and value[0] < value[1])


@dataclass(frozen=True)
class _Kind:
    cls: type
    params: dict[str, Callable[[Any], bool]]  # parameter name -> check of its JSON value
    arrays: tuple[str, ...]  # fitted per-feature arrays; some may be None (with_mean=False)
    required: tuple[str, ...]  # the arrays transform needs


KINDS = {
    "StandardScaler": _Kind(StandardScaler,
                            {"copy": _is_bool, "with_mean": _is_bool, "with_std": _is_bool},
                            ("mean_", "var_", "scale_"), ()),
    "MinMaxScaler": _Kind(MinMaxScaler,
                          {"copy": _is_bool, "feature_range": _is_range, "clip": _is_bool},
                          ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
                          ("min_", "scale_")),
    "MaxAbsScaler": _Kind(MaxAbsScaler, {"copy": _is_bool, "clip": _is_bool},
                          ("max_abs_", "scale_"), ("scale_",)),
}


def supported(step: Any) -> bool:
    return type(step).__name__ in KINDS and isinstance(step, KINDS[type(step).__name__].cls)


def _kind(step: Any) -> _Kind:
    if not supported(step):
        raise InvalidInputError(
            f"A model file can carry {', '.join(KINDS)} before the AutoEncoder (their fitted "
            f"arrays are saved as tensors, never pickled); got {type(step).__name__}.")
    return KINDS[type(step).__name__]


def check_storable(steps: list[tuple[str, Any]]) -> None:
    """Refuse, naming the step, any preprocessing step a model file cannot carry."""
    for name, step in steps:
        if not supported(step):
            raise InvalidInputError(
                f"A model file can carry {', '.join(KINDS)} in front of the model (their fitted "
                f"arrays are saved as tensors, never pickled); got {type(step).__name__} as step "
                f"{name!r}.")


def scaler_state(name: str, step: Any, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One fitted scaler as (header entry, tensors)."""
    from sklearn.utils.validation import check_is_fitted

    kind = _kind(step)
    check_is_fitted(step)
    params = {key: _plain(value) for key, value in step.get_params(deep=False).items()
              if key in kind.params}
    tensors = {}
    for attribute in kind.arrays:
        value = getattr(step, attribute, None)
        if value is not None:
            tensors[f"{PREFIX}{index}.{attribute}"] = torch.from_numpy(
                np.ascontiguousarray(value, dtype=np.asarray(value).dtype).copy())
    entry = {"name": name, "class": type(step).__name__, "params": params,
             "n_features_in": int(step.n_features_in_),
             # an array (per-feature counts) only when NaNs were seen, which fit refuses
             "n_samples_seen": int(np.max(step.n_samples_seen_)), "arrays": sorted(
                 a for a in kind.arrays if getattr(step, a, None) is not None)}
    return entry, tensors


def scaler_states(steps: list[tuple[str, Any]]) -> tuple[list[dict[str, Any]],
                                                         dict[str, Any]]:
    """The fitted scalers of a Pipeline, in order, as (header entries, tensors)."""
    entries, tensors = [], {}
    for index, (name, step) in enumerate(steps):
        entry, arrays = scaler_state(name, step, index)
        entries.append(entry)
        tensors.update(arrays)
    return entries, tensors


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def check_scaler_entry(entry: Any, index: int, n_features: int,
                       tensors: dict[str, torch.Tensor]) -> None:
    """Raise ValueError/TypeError naming the problem with one ``preprocessing`` entry."""
    where = f"preprocessing[{index}]"
    expected = {"name", "class", "params", "n_features_in", "n_samples_seen", "arrays"}
    if not isinstance(entry, dict) or set(entry) != expected:
        raise ValueError(f"{where} must be an object with the fields {sorted(expected)}")
    if entry["class"] not in KINDS:
        raise ValueError(f"{where} has an unknown class {entry['class']!r}; known: "
                         f"{', '.join(KINDS)}")
    kind = KINDS[entry["class"]]
    params = entry["params"]
    if not isinstance(params, dict) or set(params) != set(kind.params) or not all(
            kind.params[k](v) for k, v in params.items()):
        raise ValueError(f"{where}.params must hold valid {sorted(kind.params)}")
    if entry["n_features_in"] != n_features:
        raise ValueError(f"{where} was fitted on {entry['n_features_in']!r} features, the "
                         f"model on {n_features}")
    seen = entry["n_samples_seen"]
    if not (isinstance(seen, int) and not isinstance(seen, bool) and seen > 0):
        raise ValueError(f"{where}.n_samples_seen must be a positive integer")
    arrays = entry["arrays"]
    if not isinstance(arrays, list) or not set(kind.required) <= set(arrays) <= set(
            kind.arrays) or len(set(arrays)) != len(arrays):
        raise ValueError(f"{where}.arrays must list the fitted arrays of a {entry['class']}")
    for attribute in arrays:
        _check_array(tensors.get(f"{PREFIX}{index}.{attribute}"), f"{where}.{attribute}",
                     n_features)


def _check_array(tensor: torch.Tensor | None, where: str, n_features: int) -> None:
    if tensor is None:
        raise ValueError(f"the tensor of {where} is missing")
    if tensor.dtype not in (torch.float32, torch.float64) or tuple(tensor.shape) != (
            n_features,):
        raise ValueError(f"the tensor of {where} must be float with shape ({n_features},), "
                         f"not {tensor.dtype} {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"the tensor of {where} holds NaN or infinite values")


def rebuild_scaler(entry: dict[str, Any], index: int, tensors: dict[str, torch.Tensor],
                   feature_names: np.ndarray | None) -> tuple[str, Any]:
    """A fitted scaler from a checked entry; returns (step name, scaler)."""
    kind = KINDS[entry["class"]]
    params = dict(entry["params"])
    if "feature_range" in params:
        params["feature_range"] = tuple(params["feature_range"])
    step = kind.cls(**params)
    for attribute in kind.arrays:
        tensor = tensors.get(f"{PREFIX}{index}.{attribute}")
        setattr(step, attribute, None if tensor is None else tensor.numpy().copy())
    step.n_features_in_ = int(entry["n_features_in"])
    step.n_samples_seen_ = int(entry["n_samples_seen"])
    if feature_names is not None and index == 0:
        step.feature_names_in_ = feature_names
    return str(entry["name"]), step

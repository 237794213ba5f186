"""The data of ``codings fit``: an embedded set or the user's file, loaded and scaled."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.cli.flags import DATA_HELP, DATASETS
from codings.cli.runs import TrainingData
from codings.cli.sources import load_data
from codings.datasets import Scaling, load_demo_3d, load_digits, load_faces, output_range
from codings.estimators.validation import check_streamed
from codings.exceptions import InvalidInputError, did_you_mean
from codings.formats.pipeline import unwrap


def _load_embedded(name: str) -> Bunch:
    """An embedded data set with the scaling that ``--scale auto`` means for it."""
    if name == "digits":
        digits = load_digits()
        return Bunch(data=digits.data, image_shape=digits.image_shape, target=digits.target,
                     auto_scale="auto", label_name="digit")
    if name == "demo-3d":
        demo = load_demo_3d()
        # Already standardised with its training statistics; the angle that generated each
        # point is a continuous label that shows whether the codings unroll the curve.
        return Bunch(data=demo.train, image_shape=None, target=demo.angles[:len(demo.train)],
                     auto_scale="none", label_name="angle")
    try:
        faces = load_faces()
    except ImportError as exc:
        raise InvalidInputError(str(exc)) from exc
    return Bunch(data=faces.data, image_shape=faces.image_shape, target=None,
                 auto_scale="auto")


def _load_file(source: str, key: str | None, reading: dict[str, Any]) -> Bunch:
    path = Path(source)
    if not path.exists() and not path.suffix and "/" not in source and os.sep not in source:
        # A bare word that is not a file is most likely a misspelt data set name.
        raise InvalidInputError(f"Unknown data set {source!r}.{did_you_mean(source, DATASETS)} "
                                f"Give one of {', '.join(DATASETS)} or a {DATA_HELP}.")
    if reading.get("grey") and not path.is_dir():
        raise InvalidInputError(f"--grey converts a folder of colour images to grey; it does "
                                f"not apply to {path}.")
    bunch = load_data(path, key, **reading)
    bunch.auto_scale = "auto"
    _check_names(bunch.get("feature_names"), source)
    return bunch


def _check_names(names: list[str] | None, source: str) -> None:
    """Column names the model file can keep, to find the columns again by name."""
    if names is None:
        return
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInputError(f"{source} has two columns named {name!r}: rename one (the "
                                    "model keeps the names to find its columns again), or "
                                    "leave one out with --drop.")
        if len(name) > 256:
            raise InvalidInputError(f"{source}: the column name {name[:40]!r}... is longer than "
                                    "256 characters; shorten it.")
        seen.add(name)


def reading_options(args: Any) -> dict[str, Any]:
    """What ``fit`` was told about reading its data (``--columns``, ``--drop``, ``--id``,
    ``--grey``), in :func:`codings.datasets.load_file`'s names; unset ones are left out."""
    given = {"columns": getattr(args, "columns", None), "drop": getattr(args, "drop", None),
             "id_column": getattr(args, "id", None), "grey": getattr(args, "grey", None) or None}
    return {k: v for k, v in given.items() if v is not None}


def check_finite(X: np.ndarray, name: str) -> None:
    if X.dtype.kind == "f":
        check_streamed(np.asarray(X), images_ok=True, label=name)


def data_reference(args: argparse.Namespace, data: TrainingData) -> dict[str, Any]:
    """What ``params.json`` records about the data: enough to load it again from anywhere."""
    source = str(args.data)
    path = None if source in DATASETS else str(Path(source).resolve())
    return {"source": source, "path": path,
            "key": args.key, "scale": data.scaling.kind, "requested_scale": args.scale,
            "n_samples": int(data.X.shape[0]), "n_features": int(data.X.shape[1]),
            "image_shape": list(data.image_shape) if data.image_shape else None,
            "reading": reading_options(args)}


def load_training_data(source: str, key: str | None, scale: str,
                       unit_interval: bool = False, *,
                       params: dict[str, Any] | None = None,
                       reading: dict[str, Any] | None = None,
                       window: int | None = None) -> TrainingData:
    """Load ``source`` (an embedded set or a file) and fit the ``scale`` mode on it.

    With ``window`` (``codings fit --window``) the rows are one series, cut into windows.

    ``params`` (the estimator's, as given) tell ``auto`` what the output layer can produce
    (``output_activation``, ``loss``); ``unit_interval`` is the same as ``loss="bce"``.
    ``reading`` (see :func:`reading_options`) selects a table's columns or makes images grey.
    """
    reading = reading or {}
    if source in DATASETS:
        if key is not None or reading:
            flag = "--key selects an array in a .npz file" if key is not None else \
                "--columns, --drop, --id and --grey choose what to read from a file"
            raise InvalidInputError(f"{flag}; it does not apply to the embedded data set "
                                    f"{source!r}.")
        bunch, name = _load_embedded(source), source
    else:
        bunch, name = _load_file(source, key, reading), Path(source).stem
    mode = bunch.auto_scale if scale == "auto" else scale
    check_finite(bunch.data, name)  # before scaling, which would spread a NaN down its column
    params = params or {}
    bounds = output_range(params.get("output_activation"),
                          "bce" if unit_interval else params.get("loss"))
    scaling = Scaling.fit(bunch.data, mode, source_dtype=bunch.get("source_dtype"),
                          output_range=bounds, name=str(source))
    labels = bunch.target
    if labels is not None:
        labels = np.asarray(labels)
        # Labels only colour the codings figure: drop them rather than fail when they don't fit.
        labels = labels.reshape(-1) if labels.size == bunch.data.shape[0] else None
    names = bunch.get("feature_names")
    dtype = np.dtype(bunch.get("source_dtype") or bunch.data.dtype).name
    data = TrainingData(name, bunch.data, scaling.transform(bunch.data), scaling,
                        bunch.image_shape, labels, bunch.get("label_name", "label"),
                        feature_names=tuple(names) if names is not None else None,
                        source_dtype=dtype if dtype in ("uint8", "uint16") else None)
    return data if window is None else _windowed(data, window, scale, params)


def _windowed(data: TrainingData, window: int, scale: str | None,
              params: dict[str, Any]) -> TrainingData:
    """``codings fit --window``: the file's rows are one series (a column per channel), cut
    into every window of ``window`` steps; the scaling is refitted on the flattened windows
    (so the model file's scaler takes the rows ``score`` gives it), and a sequence
    architecture trains on ``(n, window, channels)``, an MLP on flattened windows."""
    from codings.datasets import sliding_windows
    from codings.nn.sequence import SEQUENCE_ARCHITECTURES

    windows = sliding_windows(data.X, window)
    flat = np.ascontiguousarray(windows).reshape(len(windows), -1)
    bounds = output_range(params.get("output_activation"), params.get("loss"))
    scaling = Scaling.fit(flat, scale or "auto", output_range=bounds, name=data.name)
    scaled = scaling.transform(flat)
    if params.get("architecture") in SEQUENCE_ARCHITECTURES:
        scaled = scaled.reshape(windows.shape)
    return replace(data, X=flat, X_scaled=scaled, scaling=scaling, image_shape=None,
                   labels=None, feature_names=None)


def scaled_rows(X: np.ndarray, scale: str, source_dtype: Any, name: str,
                output_range: tuple[float, float] | None) -> tuple[np.ndarray, list[Any]]:
    """``X`` scaled as ``--scale`` says, and the fitted steps the model file keeps."""
    scaling = Scaling.fit(X, scale, source_dtype=source_dtype, output_range=output_range,
                          name=name)
    return scaling.transform(X), list(scaling.steps)


def run_training_data(document: dict[str, Any], *, windows: bool = True) -> TrainingData:
    """The data a run trained on, loaded and scaled again from its ``params.json``
    (``windows``: cut into the run's windows, as ``codings fit --window`` did)."""
    info = document.get("data") or {}
    source = info.get("source")
    if not source:
        raise InvalidInputError("params.json does not say which data the run used.")
    if source not in DATASETS and info.get("path"):
        source = info["path"]  # absolute: works from any folder
    window = document.get("window") if windows else None
    return load_training_data(source, info.get("key"), info.get("requested_scale") or "auto",
                              params=document.get("params") or {},
                              reading=info.get("reading") or {},
                              window=int(window) if window else None)


def reload_run_data(document: dict[str, Any], model: Any = None) -> TrainingData:
    """The data a run trained on, from the reference in its ``params.json``.

    ``model`` (the run's loaded model): its own scalers replace refitted ones, so the report
    shows exactly what the model saw even if the file has changed since.
    """
    data = run_training_data(document, windows=False)
    scaling = _model_scaling(model, data.scaling)
    if scaling is None:
        return data
    return replace(data, X_scaled=scaling.transform(data.X), scaling=scaling)


def _model_scaling(model: Any, refitted: Scaling) -> Scaling | None:
    """The scaling a loaded model carries (a ScaledAutoEncoder's scalers; none for a bare
    AutoEncoder), named like the refitted one when they agree."""
    if model is None or isinstance(model, Scaling):
        return model
    steps = unwrap(model).steps
    if not steps:
        return Scaling("none")
    scaler = steps[0][1] if len(steps) == 1 else model[:-1]
    same = type(scaler) is type(refitted.scaler)
    return Scaling(refitted.kind if same else type(scaler).__name__, scaler)

"""The run folder of ``codings fit``: its name, and the history, parameters and figures in it."""

from __future__ import annotations

import argparse
import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codings.cli.files import finite_or_none, write_json
from codings.datasets.scaling import Scaling
from codings.estimators.persistence import atomic_write_bytes, estimator_params
from codings.exceptions import InvalidInputError

_RECONSTRUCTIONS_SHOWN = 10
_MAX_SCATTER_POINTS = 5000


@dataclass(frozen=True)
class TrainingData:
    """What ``fit`` trained on, kept for the files and figures of the run."""

    name: str
    X: np.ndarray  # as loaded, in the data's own scale
    X_scaled: np.ndarray  # what the estimator saw
    scaling: Scaling
    image_shape: tuple[int, ...] | None
    labels: np.ndarray | None
    label_name: str = "label"


def reserve_run_dir(runs_dir: Path, name: str | None, dataset: str) -> Path:
    """Create the run folder: ``name``, or ``<dataset>-<time>`` with a suffix if taken."""
    if name is not None:
        return _claim_named(runs_dir, name)
    stem = f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path, index = runs_dir / stem, 1
    while True:
        try:
            path.mkdir()  # atomic: two runs started in the same second get different folders
            return path
        except FileExistsError:
            index += 1
            path = runs_dir / f"{stem}-{index}"


def _claim_named(runs_dir: Path, name: str) -> Path:
    if not name or name in {".", ".."} or Path(name).name != name:
        raise InvalidInputError(f"--name must be a folder name such as 'digits-small', not a "
                                f"path; got {name!r}. Choose the parent with --runs-dir.")
    path = runs_dir / name
    # An explicit name is a promise to the user's scripts: never silently use another one.
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInputError(f"The run folder {path} already exists; choose another --name "
                                "or remove it.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def discard_if_empty(path: Path) -> None:
    """Remove a run folder that training never filled (it failed or was interrupted)."""
    try:
        path.rmdir()
    except OSError:
        pass


def write_history(run_dir: Path, history: dict[str, list[float]]) -> None:
    """``history.csv`` (a row per epoch, a column per history key) and ``history.json``."""
    names = list(history)
    n_rows = max((len(values) for values in history.values()), default=0)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    for row in range(n_rows):
        writer.writerow([repr(float(history[name][row])) if row < len(history[name]) else ""
                         for name in names])
    atomic_write_bytes(run_dir / "history.csv", text.getvalue().encode())
    write_json(run_dir / "history.json",
               {name: finite_or_none(values) for name, values in history.items()})


def write_params(run_dir: Path, estimator: Any, data: TrainingData,
                 args: argparse.Namespace) -> None:
    """``params.json``: the command line, the data and every estimator parameter."""
    from codings._version import __version__

    write_json(run_dir / "params.json", {
        "command": ["codings", *args.argv],
        "library_version": __version__,
        "data": {"source": args.data, "key": args.key, "scale": data.scaling.kind,
                 "n_samples": int(data.X.shape[0]), "n_features": int(data.X.shape[1]),
                 "image_shape": list(data.image_shape) if data.image_shape else None},
        "estimator": type(estimator).__name__,
        "params": estimator_params(estimator),
        "n_iter": int(estimator.n_iter_),
        "stop_reason": getattr(estimator, "stop_reason_", None),
    })


def write_figures(run_dir: Path, estimator: Any, data: TrainingData) -> None:
    """``loss.png``, ``reconstructions.png`` and ``codings.png``."""
    from codings.plotting import (
        guess_image_shape,
        plot_codings_2d,
        plot_loss_curve,
        plot_reconstructions,
        save_figure,
    )

    save_figure(plot_loss_curve(estimator.history_), run_dir / "loss.png")
    n = min(_RECONSTRUCTIONS_SHOWN, data.X.shape[0])
    # A model that knows its input shape returns images: flatten them to unscale.
    X_hat = estimator.reconstruct(data.X_scaled[:n]).reshape(n, -1)
    X_hat = data.scaling.inverse_transform(X_hat)
    shape = guess_image_shape(data.X.shape[1], data.image_shape)
    save_figure(plot_reconstructions(data.X[:n], X_hat, shape), run_dir / "reconstructions.png")
    rows = _scatter_rows(data.X.shape[0])
    labels = None if data.labels is None else data.labels[rows]
    Z = estimator.transform(data.X_scaled[rows])
    save_figure(plot_codings_2d(Z, labels, label_name=data.label_name), run_dir / "codings.png")


def _scatter_rows(n_samples: int) -> np.ndarray:
    """All rows, or a fixed random subset: more points only hide each other and cost time."""
    if n_samples <= _MAX_SCATTER_POINTS:
        return np.arange(n_samples)
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(n_samples, _MAX_SCATTER_POINTS, replace=False))

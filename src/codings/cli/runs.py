"""The run folder of ``codings fit``: its name, and the history, parameters and figures in it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from codings.cli.files import finite_or_none, write_json
from codings.estimators._saving import estimator_params
from codings.exceptions import InvalidInputError
from codings.formats.container import atomic_write_bytes
from codings.report import RunData

_RECONSTRUCTIONS_SHOWN = 10
_TABLE_ROWS = 2000  # a table's per-column errors are measured on this many rows
_MAX_SCATTER_POINTS = 5000


# What fit trained on; the report draws its figures from it.
TrainingData = RunData


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


def discard_run(path: Path, checkpoint_dir: Path | None) -> None:
    """Remove what ``fit`` wrote into a run that failed before it finished, then the folder
    if nothing else is in it (a user's own files are never deleted)."""
    if checkpoint_dir is not None and checkpoint_dir.parent == path:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    (path / "params.json").unlink(missing_ok=True)
    discard_if_empty(path)


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


def write_params(run_dir: Path, estimator: Any, document: dict[str, Any]) -> dict[str, Any]:
    """``params.json``: ``document`` (command, data, status, timing) and every estimator
    parameter; the checkpoint folder is kept relative to the run folder when inside it.
    Returns what was written."""
    from codings._version import __version__

    checkpoint_dir = estimator.checkpoint_dir
    if checkpoint_dir is not None:
        checkpoint = Path(checkpoint_dir).resolve()
        inside = checkpoint.parent == run_dir.resolve()
        checkpoint_dir = checkpoint.name if inside else str(checkpoint)
    written = {
        **document,
        "library_version": __version__,
        "estimator": type(estimator).__name__,
        "params": estimator_params(estimator),
        "checkpoint_dir": checkpoint_dir,
        "n_iter": int(getattr(estimator, "n_iter_", 0)),
        "stop_reason": getattr(estimator, "stop_reason_", None),
    }
    write_json(run_dir / "params.json", written)
    return written


def write_figures(run_dir: Path, estimator: Any, data: TrainingData) -> None:
    """``loss.png``, ``reconstructions.png`` and ``codings.png``."""
    from codings.plotting import (
        guess_image_shape,
        plot_codings_2d,
        plot_loss_curve,
        plot_reconstructions,
        save_figure,
    )
    from codings.report.figures import plot_table_reconstructions

    save_figure(plot_loss_curve(estimator.history_), run_dir / "loss.png")
    table = data.image_shape is None and data.feature_names is not None  # never a square
    n = min(_TABLE_ROWS if table else _RECONSTRUCTIONS_SHOWN, data.X.shape[0])
    # A model that knows its input shape returns images: flatten them to unscale.
    X_hat = estimator.reconstruct(data.X_scaled[:n]).reshape(n, -1)
    X_hat = data.unscale(X_hat)
    shape = None if table else guess_image_shape(data.X.shape[1], data.image_shape)
    if shape is None:  # a table: every column in comparable units, with its name
        names = data.feature_names or [f"x{j}" for j in range(data.X.shape[1])]
        figure = plot_table_reconstructions(data.X[:n], X_hat, names,
                                            n_shown=_RECONSTRUCTIONS_SHOWN)
    else:
        figure = plot_reconstructions(data.X[:n], X_hat, shape)
    save_figure(figure, run_dir / "reconstructions.png")
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


def read_params(run_dir: Path) -> dict[str, Any]:
    """The ``params.json`` of a run folder, with a clear error when there is none."""
    path = run_dir / "params.json"
    if not run_dir.is_dir():
        raise InvalidInputError(f"Run folder not found: {run_dir}")
    if not path.is_file() and (run_dir / "model.safetensors").is_file():
        raise InvalidInputError(f"{run_dir} is a run folder of codings fit-classifier, whose "
                                "report.html is written as it trains; codings report rebuilds "
                                "the report of a codings fit run (from its params.json).")
    if not path.is_file():
        raise InvalidInputError(f"{run_dir} is not a codings run folder: it has no "
                                "params.json.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("params"), dict):
        raise InvalidInputError(f"{path} is not a codings params.json (no 'params' table).")
    return document

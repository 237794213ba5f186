"""``codings fit-classifier`` and ``codings predict``: learning from few labels.

``fit-classifier`` trains :class:`~codings.estimators.classifier.EncoderClassifier` (the
ladder network, ``autoencoder=None``) on every row of DATA, the labelled ones (a class number)
and the unlabelled ones (-1) together. A share of the labelled rows is held out, trained on as
unlabelled rows, and classified after each epoch: the report's accuracy curve. The run folder
holds ``model.safetensors`` (the input scaling, then the classifier: never pickled; read it
with :func:`codings.load`), ``history.csv`` and ``report.html``.

``predict`` writes, per row of DATA, the most probable class and each class's probability:
``codings predict MODEL X -o out.csv`` holds ``codings.load(MODEL).predict(X)`` and
``.predict_proba(X)``.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings._params import CLASSIFIER_PARAMS, cli_params
from codings.cli.files import check_output
from codings.cli.fit import diverged_exit
from codings.cli.flags import parameter_kwargs
from codings.cli.runs import reserve_run_dir
from codings.exceptions import InvalidInputError
from codings.formats.container import atomic_write_bytes
from codings.training.callbacks import Callback
from codings.training.monitoring import ProgressBar

UNLABELLED = -1
_TABLES = (".csv", ".parquet")


@dataclass(frozen=True)
class LabelledData:
    """DATA as read, as the network sees it, and one label per row (-1: unlabelled)."""

    name: str
    X: np.ndarray
    X_scaled: np.ndarray
    steps: list[tuple[str, Any]]  # the fitted scalers, X -> X_scaled
    y: np.ndarray  # int64
    feature_names: list[str] | None


# -- labels -------------------------------------------------------------------------------------
def check_labels(y: Any, n_rows: int, source: str) -> np.ndarray:
    """One class number (>= 0) or -1 per row, as int64; a one-line error otherwise."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InvalidInputError(f"{source} must hold one label per row (a 1-D array or one "
                                f"column); it has shape {y.shape}.")
    if y.dtype.kind not in "iuf":
        raise InvalidInputError(f"{source} must hold class numbers (-1: unlabelled), not "
                                f"{y.dtype} values.")
    if len(y) != n_rows:
        raise InvalidInputError(f"{source} has {len(y)} labels but the data has {n_rows} rows; "
                                "give one label per row (-1: unlabelled).")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if bad.size:
            raise InvalidInputError(
                f"{source} holds {y[bad[0]]} at row {bad[0]}; a label must be a whole class "
                "number, or -1 for an unlabelled row.")
    y = y.astype(np.int64)
    negative = np.flatnonzero(y < UNLABELLED)
    if negative.size:
        raise InvalidInputError(f"{source} holds {y[negative[0]]} at row {negative[0]}; labels "
                                "are class numbers >= 0, or -1 for an unlabelled row.")
    labelled = y != UNLABELLED
    if not labelled.any():
        raise InvalidInputError(f"Every label in {source} is -1 (unlabelled); label at least "
                                "one row of each of 2 classes.")
    if len(np.unique(y[labelled])) < 2:
        raise InvalidInputError(f"{source} labels rows of one class only "
                                f"({y[labelled][0]}); label rows of at least 2 classes.")
    return y


def _read_label_file(path: Path) -> np.ndarray:
    from codings.datasets import load_file

    if not path.is_file():
        raise InvalidInputError(f"Labels file not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            return np.asarray(np.load(path, allow_pickle=False))
        except (OSError, ValueError, EOFError) as exc:
            raise InvalidInputError(f"Cannot read {path} as a .npy array: "
                                    f"{str(exc).splitlines()[0]}") from exc
    if path.suffix.lower() == ".csv":
        return np.asarray(load_file(path).data)
    raise InvalidInputError(f"Cannot read labels from {path}: give a .npy or .csv file (one "
                            "class number per row, -1: unlabelled).")


def keep_per_class(y: np.ndarray, n: int, seed: int | None) -> np.ndarray:
    """``y`` with ``n`` labelled rows per class kept (drawn by ``seed``), the rest -1."""
    rng = np.random.default_rng(seed)
    kept = np.full_like(y, UNLABELLED)
    for label in np.unique(y[y != UNLABELLED]):
        rows = np.flatnonzero(y == label)
        chosen = rng.choice(rows, min(n, len(rows)), replace=False)
        kept[chosen] = label
    return kept


# -- data ---------------------------------------------------------------------------------------
def _features(args: argparse.Namespace) -> tuple[str, Any, Any]:
    """(name, the features Bunch, the labels DATA carries or None)."""
    from codings.cli.sources import load_data
    from codings.datasets import load_digits, load_file

    if args.data == "digits":
        if args.key is not None or args.target is not None:
            raise InvalidInputError("--key and --target read from a file; they do not apply "
                                    "to the embedded digits.")
        digits = load_digits()
        digits.feature_names = None
        return "digits", digits, digits.target
    path = Path(args.data)
    if args.target is None:
        bunch = load_data(path, args.key)
        return path.stem, bunch, bunch.get("target")
    if path.suffix.lower() not in _TABLES or path.is_dir():
        raise InvalidInputError(f"--target names a column of a .csv or .parquet DATA; for "
                                f"{path} give the labels with --labels FILE.")
    if not path.is_file():
        raise InvalidInputError(f"Data file not found: {path}")
    bunch = load_file(path, drop=[args.target])
    labels = load_file(path, columns=[args.target]).data[:, 0]
    return path.stem, bunch, labels


def load_labelled_data(args: argparse.Namespace) -> LabelledData:
    """DATA, its scaling and its labels, all checked."""
    from codings.cli.data import check_finite, scaled_rows

    name, bunch, carried = _features(args)
    X = np.asarray(bunch.data)
    if X.ndim != 2:
        X = X.reshape(len(X), -1)
    check_finite(X, name)
    if args.labels is not None:
        y = check_labels(_read_label_file(Path(args.labels)), len(X), args.labels)
    elif carried is not None:
        source = f"the column {args.target!r}" if args.target else f"the labels of {name}"
        y = check_labels(carried, len(X), source)
    else:
        raise InvalidInputError(f"{args.data} carries no labels: give --labels FILE (one class "
                                "number per row, -1: unlabelled), or --target COLUMN for a "
                                "table.")
    if args.labels_per_class is not None:
        y = keep_per_class(y, args.labels_per_class, getattr(args, "random_state", None))
    # The ladder's denoising weights (1000 on the inputs) suit inputs in [0, 1], as MNIST's:
    # standardised digits train to 0.46 where the same digits in [0, 1] reach 0.90.
    X_scaled, steps = scaled_rows(X, args.scale, bunch.get("source_dtype"), str(args.data),
                                  output_range=(0.0, 1.0))
    names = bunch.get("feature_names")
    return LabelledData(name, X, X_scaled, steps, y,
                        [str(n) for n in names] if names is not None else None)


def hold_out(y: np.ndarray, fraction: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(the labels to train on, the rows held out): ``fraction`` of the labelled rows,
    stratified when every class has two, marked -1 for training."""
    from sklearn.model_selection import train_test_split

    labelled = np.flatnonzero(y != UNLABELLED)
    if fraction == 0:
        return y, np.empty(0, dtype=np.int64)
    n_val = min(max(1, round(fraction * len(labelled))), len(labelled) - 2)
    counts = np.unique(y[labelled], return_counts=True)[1]
    if n_val < 1:
        raise InvalidInputError(f"{len(labelled)} labelled rows are too few to hold out "
                                "--validation-fraction of them; give --validation-fraction 0.")
    stratify = y[labelled] if counts.min() >= 2 and n_val >= len(counts) else None
    train, val = train_test_split(labelled, test_size=n_val, stratify=stratify,
                                  random_state=seed)
    y_train = y.copy()
    y_train[val] = UNLABELLED
    if len(np.unique(y_train[train])) < 2:
        raise InvalidInputError("Holding out --validation-fraction of the labelled rows leaves "
                                "one class to train on; label more rows or give "
                                "--validation-fraction 0.")
    return y_train, np.sort(val)


def class_indices(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The index of each label in the sorted ``classes``; -1 (never predicted) for a label
    the training rows do not have."""
    index = np.searchsorted(classes, y)
    found = (index < len(classes)) & (classes[np.minimum(index, len(classes) - 1)] == y)
    return np.where(found, index, -1).astype(np.int64)


class HeldOutAccuracy(Callback):
    """The accuracy on held-out rows after each epoch (the network in eval mode, which draws
    no noise, so training is the same with or without this callback)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.y = torch.from_numpy(y)
        self.accuracy: list[float] = []

    @torch.no_grad()
    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        was_training = self.module.training
        self.module.eval()
        predicted = self.module(self.x).argmax(dim=1)
        self.module.train(was_training)
        self.accuracy.append(float((predicted == self.y).float().mean()))


# -- the run folder -----------------------------------------------------------------------------
def _history_csv(history: dict[str, list[float]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    names = list(history)
    writer.writerow(["epoch", *names])
    for epoch in range(max(len(v) for v in history.values())):
        writer.writerow([epoch + 1, *(f"{history[n][epoch]:.9g}" if epoch < len(history[n])
                                      else "" for n in names)])
    return text.getvalue().encode()


def _curves_figure(history: dict[str, list[float]], names: Sequence[str], ylabel: str,
                   title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    for name in names:
        values = history[name]
        ax.plot(range(1, len(values) + 1), values, marker="." if len(values) < 40 else None,
                label=name.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def write_report(run_dir: Path, data: LabelledData, y_train: np.ndarray, held_out: np.ndarray,
                 history: dict[str, list[float]], facts: list[tuple[str, Any]]) -> Path:
    """report.html: the labels, the accuracy per epoch, the loss terms, the settings."""
    from codings.report.page import Page

    page = Page("Learning from few labels", f"codings fit-classifier on {data.name}")
    n_labelled = int((data.y != UNLABELLED).sum())
    classes, counts = np.unique(y_train[y_train != UNLABELLED], return_counts=True)
    page.section("Data and labels").table([
        ("rows", len(data.y)), ("labelled", n_labelled),
        ("trained on as labelled", int((y_train != UNLABELLED).sum())),
        ("held out (accuracy per epoch)", len(held_out)),
        ("unlabelled (-1)", len(data.y) - n_labelled)], ["", "rows"]).table(
        [(str(c), int(n)) for c, n in zip(classes, counts, strict=True)],
        ["class", "training labels"])
    accuracy = [n for n in ("held_out_accuracy", "accuracy") if n in history]
    section = page.section("Accuracy")
    section.figure(_curves_figure(history, accuracy, "accuracy", "accuracy per epoch"),
                   "held out accuracy: the held-out labelled rows, classified by the clean "
                   "network after each epoch; accuracy: the labelled training batches, "
                   "through the noisy path, during the epoch")
    if "held_out_accuracy" not in history:
        section.note("No labelled rows were held out (--validation-fraction 0): only the "
                     "training accuracy is shown.")
    losses = [n for n in ("loss", "cross_entropy", "denoising") if n in history]
    page.section("Loss").figure(_curves_figure(history, losses, "loss", "loss terms per epoch"),
                                "loss = cross entropy of the labelled rows + the weighted "
                                "denoising costs of all rows")
    page.section("Run").table(facts, ["", ""])
    return page.write(run_dir / "report.html")


def _facts(args: argparse.Namespace, clf: Any, seconds: float) -> list[tuple[str, Any]]:
    return [("command", "codings " + " ".join(getattr(args, "argv", []))),
            ("network", "ladder " + "-".join(str(s) for s in clf.network_.sizes)),
            ("epochs", int(clf.n_iter_)), ("seed", str(getattr(args, "random_state", None))),
            ("fit time (s)", round(seconds, 1)),
            ("started", time.strftime("%Y-%m-%d %H:%M:%S"))]


def fit_classifier(args: argparse.Namespace) -> int:
    """Run ``codings fit-classifier``; print the run folder and the held-out accuracy."""
    from sklearn.pipeline import Pipeline

    from codings.estimators._saving import write_model
    from codings.estimators.classifier import EncoderClassifier

    data = load_labelled_data(args)
    seed = getattr(args, "random_state", None)
    y_train, held_out = hold_out(data.y, args.validation_fraction, seed)
    clf = EncoderClassifier(**parameter_kwargs(args, cli_params(CLASSIFIER_PARAMS)),
                            n_jobs=args.n_jobs)
    clf._validate_params()  # before a run folder is made
    run_dir = reserve_run_dir(Path(args.runs_dir), args.name, f"{data.name}-classifier")
    callbacks: list[Callback] = [] if args.quiet else [ProgressBar()]
    record = HeldOutAccuracy(data.X_scaled[held_out], class_indices(
        np.unique(y_train[y_train != UNLABELLED]), data.y[held_out]))
    if len(held_out):
        callbacks.append(record)
    if not args.quiet:
        print(f"codings fit-classifier: {data.name} {data.X.shape}, "
              f"{int((y_train != UNLABELLED).sum())} labelled rows to train on, "
              f"{len(held_out)} held out -> {run_dir}", flush=True)
    started = time.perf_counter()
    try:
        clf.fit(data.X_scaled, y_train, callbacks=callbacks)
    except BaseException:
        if not any(run_dir.iterdir()):
            run_dir.rmdir()
        raise
    seconds = time.perf_counter() - started
    history = dict(clf.history_)
    if len(held_out):
        history["held_out_accuracy"] = record.accuracy
    model = Pipeline([*data.steps, ("classifier", clf)]) if data.steps else clf
    # the columns' names go into the model file, to find them again by name in predict
    write_model(model, run_dir / "model.safetensors",
                data={"feature_names": data.feature_names})
    atomic_write_bytes(run_dir / "history.csv", _history_csv(history))
    write_report(run_dir, data, y_train, held_out, history, _facts(args, clf, seconds))
    print(f"Saved run to {run_dir} (open {run_dir / 'report.html'} in a browser)")
    if len(held_out):
        print(f"held-out accuracy: {record.accuracy[-1]:.4f} on {len(held_out)} labelled rows "
              f"after {clf.n_iter_} epochs")
    return diverged_exit(clf, run_dir)


# -- predict ------------------------------------------------------------------------------------
def _predictions_csv(labels: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["label", *(f"p_{c}" for c in classes)])
    for label, row in zip(labels.tolist(), proba, strict=True):
        writer.writerow([label, *(f"{p:.17g}" for p in row)])
    return text.getvalue().encode()


def predict(args: argparse.Namespace) -> int:
    """Run ``codings predict``: a label and the class probabilities per row of DATA."""
    from codings.cli.apply import read_rows
    from codings.estimators import load
    from codings.formats.pipeline import final_estimator

    output = check_output(args.output, args.model, args.data)
    if output.suffix.lower() != ".csv":
        raise InvalidInputError(f"Cannot write {output}: predict writes a .csv file (columns "
                                "label,p_<class>...).")
    model = load(args.model)
    if type(final_estimator(model)).__name__ != "EncoderClassifier":
        raise InvalidInputError(f"{args.model} holds an autoencoder, not a classifier; "
                                "predict needs a model written by codings fit-classifier.")
    X = read_rows(model, args.data, args.key).data
    proba = model.predict_proba(X)
    labels = model.classes_[np.argmax(proba, axis=1)]
    atomic_write_bytes(output, _predictions_csv(labels, proba, model.classes_))
    print(f"Wrote the predictions of {len(labels)} samples to {output}")
    return 0

"""``codings fit``: load and scale the data, train, and write the run folder.

Every run checkpoints into ``RUN_DIR/checkpoints`` (unless ``--checkpoint-dir`` says
elsewhere) and writes ``params.json`` before training starts, so Ctrl-C keeps the newest
checkpoint and ``codings fit --resume RUN_DIR`` continues from it with the same arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codings.cli.config import apply_config
from codings.cli.data import data_reference, load_training_data, reading_options
from codings.cli.parser import estimator_kwargs
from codings.cli.ranks import Ranks, random_seed
from codings.cli.runs import (
    TrainingData,
    discard_run,
    reserve_run_dir,
    write_figures,
    write_history,
    write_params,
)
from codings.constraints import Constraint
from codings.estimators import AutoEncoder
from codings.estimators._saving import write_model
from codings.formats.container import atomic_write_bytes
from codings.report.run import raw_units_model
from codings.training.checkpoint import Checkpointer
from codings.training.monitoring import ProgressBar, TensorBoard


def make_estimator(params: dict[str, Any], constraints: Sequence[Constraint],
                   data: TrainingData) -> AutoEncoder:
    if params.get("architecture") == "conv" and data.image_shape is not None:
        # The CLI passes flat rows; a conv model needs to know the images' shape.
        params = {"image_shape": data.image_shape, **params}
    return AutoEncoder(**params, constraints=tuple(constraints))


def _threshold(model: Any, data: TrainingData, document: dict[str, Any]) -> Any:
    """The detector whose threshold the model file stores: the ``--contamination`` share
    (0.1 by default) of the training rows' scores, or of the training series' time steps
    with ``--window``."""
    from codings.estimators.detector import AnomalyDetector

    detector = AnomalyDetector(model, contamination=document.get("contamination", 0.1))
    window = document.get("window")
    if not window:
        return detector.fit(data.X)
    channels = data.X.shape[1] // window
    windows = data.X.reshape(len(data.X), window, channels)
    series = np.concatenate([windows[0], windows[1:, -1]])  # stride 1: the series again
    return detector.fit_timesteps(series, int(window))


def _resume_hint(run_dir: Path, checkpoint_dir: Path) -> str:
    newest = Checkpointer(checkpoint_dir).existing()
    epoch = int(newest[0].stem.rsplit("-", 1)[-1])
    return (f"interrupted; the checkpoint of epoch {epoch} is in {checkpoint_dir}. Resume "
            f"with: codings fit --resume {run_dir} (or repeat the command with "
            f"--checkpoint-dir {checkpoint_dir} --resume)")


def _interrupted(run_dir: Path, estimator: AutoEncoder, document: dict[str, Any],
                 fresh: bool) -> str:
    """Keep a resumable run (and say how to resume); discard one with nothing to resume."""
    checkpoint_dir = Path(estimator.checkpoint_dir) if estimator.checkpoint_dir else None
    if checkpoint_dir is None or not Checkpointer(checkpoint_dir).existing():
        if fresh:
            discard_run(run_dir, checkpoint_dir)
        return "interrupted before the first checkpoint; nothing to resume from"
    write_params(run_dir, estimator, {**document, "status": "interrupted"})
    return _resume_hint(run_dir, checkpoint_dir)


def _finish(run_dir: Path, estimator: AutoEncoder, data: TrainingData,
            document: dict[str, Any]) -> None:
    """Write the model, history, params, figures and report of a finished run."""
    from codings.report import write_run_report

    # The scaler goes into the model file as a step in front of the autoencoder: the object
    # codings.load returns, and that encode, score, export and the report use.
    model = raw_units_model(estimator, data)
    declared = {  # what the data file says and the arrays do not: kept in the model file
        "image_shape": tuple(data.image_shape) if data.image_shape is not None else None,
        "input_dtype": data.source_dtype,  # integer pixels: outputs go back to their range
        "feature_names": data.feature_names}  # the columns, to find them again by name
    detector = _threshold(model, data, document)
    document["threshold"] = {  # what the report and score describe: the model's own
        "offset": float(detector.offset_), "contamination": detector.contamination,
        "window": getattr(detector, "window_", None)}
    write_model(model, run_dir / "model.safetensors", threshold=detector, data=declared)
    write_history(run_dir, estimator.history_)
    started = time.perf_counter()
    write_figures(run_dir, estimator, data)
    document["timing"]["figures_s"] = time.perf_counter() - started
    document["status"] = "finished"
    write_run_report(run_dir, model, data, write_params(run_dir, estimator, document))


def _header(run_dir: Path, estimator: AutoEncoder, data: TrainingData, fresh: bool) -> str:
    """One line saying what is about to train, and where the run goes."""
    sizes = [data.X.shape[1], *estimator.hidden_layer_sizes, estimator.n_components]
    network = "-".join(str(s) for s in [*sizes, *reversed(sizes[:-1])])
    constraints = ", ".join(c.name for c in estimator.constraints) or "no constraint"
    scale = data.scale_kind
    start = "" if fresh else f", resuming from epoch {_resumed_epoch(estimator)}"
    return (f"codings fit: {data.name} {tuple(data.X.shape)}, scale {scale}; "
            f"{estimator.architecture} {network} ({constraints}); {estimator.max_iter} "
            f"epochs{start} -> {run_dir}")


def _resumed_epoch(estimator: AutoEncoder) -> int:
    found = Checkpointer(Path(estimator.checkpoint_dir)).existing() \
        if estimator.checkpoint_dir else []
    return int(found[0].stem.rsplit("-", 1)[-1]) if found else 0


def _figure_for(data: TrainingData) -> Any:
    """TensorBoard's figure: the report's reconstructions plot, as images when the rows are."""
    from codings.plotting import plot_reconstructions

    shape = tuple(data.image_shape) if data.image_shape is not None else None
    return lambda x, x_hat: plot_reconstructions(x.reshape(len(x), -1),
                                                 x_hat.reshape(len(x_hat), -1), shape)


def train_run(run_dir: Path, estimator: AutoEncoder, data: TrainingData,
              document: dict[str, Any], quiet: bool, fresh: bool,
              tensorboard: str | None = None, main: bool = True) -> int:
    """Fit ``estimator`` and fill ``run_dir``; ``fresh`` is False when resuming a run.

    ``main`` is False on the other ranks under torchrun: they train and write nothing."""
    if not main:
        estimator.fit(data.X_scaled)
        return 0
    previous = (run_dir / "params.json").read_bytes() if not fresh else None
    write_params(run_dir, estimator, {**document, "status": "running"})
    if not quiet:
        print(_header(run_dir, estimator, data, fresh), flush=True)
    callbacks: list[Any] = [] if quiet else [ProgressBar()]
    if tensorboard:
        callbacks.append(TensorBoard(tensorboard, figure=_figure_for(data)))
    started = time.perf_counter()
    try:
        estimator.fit(data.X_scaled, callbacks=callbacks)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_interrupted(run_dir, estimator, document, fresh)) from None
    except BaseException:
        if fresh:
            ckpt = Path(estimator.checkpoint_dir) if estimator.checkpoint_dir else None
            discard_run(run_dir, ckpt)
        elif previous is not None:  # a refused resume leaves the run as it was
            atomic_write_bytes(run_dir / "params.json", previous)
        raise
    document["timing"]["fit_s"] = time.perf_counter() - started
    _finish(run_dir, estimator, data, document)
    print(f"Saved run to {run_dir} (open {run_dir / 'report.html'} in a browser)")
    print(f"final loss: {estimator.loss_curve_[-1]:.6g} after {estimator.n_iter_} epochs "
          f"(stopped by {estimator.stop_reason_})")
    return diverged_exit(estimator, run_dir)


def diverged_exit(estimator: Any, run_dir: Path) -> int:
    """Exit code 1, with a line on stderr, when training diverged (the run folder keeps the
    weights of the best epoch before it); 0 otherwise."""
    if getattr(estimator, "stop_reason_", None) != "diverged":
        return 0
    print(f"codings: error: training diverged after {estimator.n_iter_} epochs; {run_dir} "
          "keeps the weights of the best epoch before it. Lower --learning-rate (or the "
          "weight of the constraint the warning names) and fit again.", file=sys.stderr)
    return 1


def _check_before_training(params: dict[str, Any], constraints: Sequence[Constraint],
                           args: argparse.Namespace) -> None:
    """Every parameter, before the data loads, a banner prints or a run folder exists."""
    from codings.estimators.detector import AnomalyDetector

    planned = {**params, "checkpoint_dir": params.get("checkpoint_dir", "RUN_DIR/checkpoints")}
    AutoEncoder(**planned, constraints=tuple(constraints))._validate_params()
    contamination = getattr(args, "contamination", None)
    if contamination is not None:
        AnomalyDetector(contamination=contamination)._validate_params()


def fit(args: argparse.Namespace) -> int:
    """Run ``codings fit``; print the run folder and the final loss."""
    # Parse everything cheap first, so a typo fails before the data loads or training starts.
    constraints = apply_config(args)
    params = estimator_kwargs(args)
    _check_before_training(params, constraints, args)
    started = time.perf_counter()
    # --scale auto reads output_activation and loss: scaled data the output layer can reach
    window = getattr(args, "window", None)
    data = load_training_data(args.data, args.key, args.scale, params=params,
                              reading=reading_options(args), window=window)
    load_s = time.perf_counter() - started
    ranks = Ranks(params.get("device", "cpu"))  # under torchrun: one folder, one voice
    try:
        run_dir = ranks.shared(lambda: reserve_run_dir(Path(args.runs_dir), args.name,
                                                       data.name))
        if ranks.active and params.get("random_state") is None:
            params["random_state"] = ranks.shared(random_seed)  # every rank must agree
        params.setdefault("checkpoint_dir", str(run_dir / "checkpoints"))
        estimator = make_estimator(params, constraints, data)
        document: dict[str, Any] = {
            "command": ["codings", *args.argv], "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "data": data_reference(args, data), "timing": {"load_data_s": load_s}}
        if window is not None:
            document["window"] = window
        document["contamination"] = getattr(args, "contamination", None) or 0.1
        return train_run(run_dir, estimator, data, document,
                         bool(args.quiet) or not ranks.is_main, fresh=True,
                         tensorboard=getattr(args, "tensorboard", None), main=ranks.is_main)
    finally:
        ranks.close()

"""``codings fit``: load and scale the data, train, and write the run folder."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.cli.parser import DATASETS, estimator_kwargs
from codings.cli.runs import (
    TrainingData,
    discard_if_empty,
    reserve_run_dir,
    write_figures,
    write_history,
    write_params,
)
from codings.constraints import Constraint, parse_constraint
from codings.datasets import Scaling, load_array, load_demo_3d, load_digits, load_faces
from codings.estimators import AutoEncoder
from codings.exceptions import InvalidInputError, did_you_mean
from codings.training.callbacks import ProgressBar


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


def _load_file(source: str, key: str | None) -> Bunch:
    path = Path(source)
    if not path.exists() and not path.suffix:
        # A bare word that is not a file is most likely a misspelt data set name.
        raise InvalidInputError(f"Unknown data set {source!r}.{did_you_mean(source, DATASETS)} "
                                f"Give one of {', '.join(DATASETS)} or a .npy, .npz or .csv "
                                "file.")
    bunch = load_array(path, key, scale_uint8=False)
    bunch.auto_scale = "auto"
    return bunch


def load_training_data(source: str, key: str | None, scale: str) -> TrainingData:
    """Load ``source`` (an embedded set or a file) and fit the ``scale`` mode on it."""
    if source in DATASETS:
        if key is not None:
            raise InvalidInputError(f"--key selects an array in a .npz file; it does not apply "
                                    f"to the embedded data set {source!r}.")
        bunch, name = _load_embedded(source), source
    else:
        bunch, name = _load_file(source, key), Path(source).stem
    mode = bunch.auto_scale if scale == "auto" else scale
    scaling = Scaling.fit(bunch.data, mode, source_dtype=bunch.get("source_dtype"))
    labels = bunch.target
    if labels is not None:
        labels = np.asarray(labels)
        # Labels only colour the codings figure: drop them rather than fail when they don't fit.
        labels = labels.reshape(-1) if labels.size == bunch.data.shape[0] else None
    return TrainingData(name, bunch.data, scaling.transform(bunch.data), scaling,
                        bunch.image_shape, labels, bunch.get("label_name", "label"))


def _train(params: dict[str, Any], constraints: Sequence[Constraint], data: TrainingData,
           quiet: bool) -> AutoEncoder:
    if params.get("architecture") == "conv" and data.image_shape is not None:
        # The CLI passes flat rows; a conv model needs to know the images' shape.
        params = {"image_shape": data.image_shape, **params}
    estimator = AutoEncoder(**params, constraints=tuple(constraints))
    return estimator.fit(data.X_scaled, callbacks=[] if quiet else [ProgressBar()])


def fit(args: argparse.Namespace) -> int:
    """Run ``codings fit``; print the run folder and the final loss."""
    # Parse everything cheap first, so a typo fails before the data loads or training starts.
    constraints = [parse_constraint(text) for text in args.constraint]
    data = load_training_data(args.data, args.key, args.scale)
    run_dir = reserve_run_dir(Path(args.runs_dir), args.name, data.name)
    try:
        estimator = _train(estimator_kwargs(args), constraints, data, args.quiet)
    except BaseException:
        discard_if_empty(run_dir)
        raise
    estimator.preprocessing_ = data.scaling
    if data.image_shape is not None:  # how to draw a row as a picture; outputs stay flat
        estimator.image_shape_ = tuple(data.image_shape)
    estimator.save(run_dir / "model.safetensors")
    write_history(run_dir, estimator.history_)
    write_params(run_dir, estimator, data, args)
    write_figures(run_dir, estimator, data)
    print(f"Saved run to {run_dir}")
    print(f"final loss: {estimator.loss_curve_[-1]:.6g} after {estimator.n_iter_} epochs "
          f"(stopped by {estimator.stop_reason_})")
    return 0

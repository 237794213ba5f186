"""``codings fit --resume RUN_DIR``: continue a run with the arguments in its params.json.

Estimator flags given with it override the stored ones (``--max-iter 400`` trains a finished
run further); the data, scaling and constraints are the run's own.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from codings.cli.data import run_training_data
from codings.cli.fit import make_estimator, train_run
from codings.cli.parser import estimator_kwargs
from codings.cli.runs import read_params
from codings.constraints import constraint_from_dict
from codings.exceptions import InvalidInputError

_RUN_OPTIONS = ("data", "key", "scale", "name", "runs_dir", "config")
_TUPLES = ("hidden_layer_sizes", "image_shape")


def stored_params(params: dict[str, Any]) -> dict[str, Any]:
    """Estimator keyword arguments from params.json (lists back to tuples, no constraints)."""
    kwargs = {k: v for k, v in params.items() if k not in {"constraints", "encoder", "decoder"}}
    for name in _TUPLES:
        if kwargs.get(name) is not None:
            kwargs[name] = tuple(kwargs[name])
    return kwargs


def _refuse_run_options(args: argparse.Namespace) -> None:
    given = [f"--{name.replace('_', '-')}" for name in _RUN_OPTIONS
             if getattr(args, name, None) is not None]
    if args.constraint:
        given.append("--constraint")
    if given:
        raise InvalidInputError(f"--resume RUN_DIR continues a run with its own data and "
                                f"constraints; do not combine it with {', '.join(given)}.")


def _checkpoint_dir(run_dir: Path, document: dict[str, Any]) -> Path:
    stored = document.get("checkpoint_dir")
    if not stored:
        raise InvalidInputError(f"{run_dir} was trained without checkpoints; there is nothing "
                                "to resume from.")
    path = Path(stored)
    return path if path.is_absolute() else run_dir / path


def resume(args: argparse.Namespace) -> int:
    run_dir = Path(args.resume)
    _refuse_run_options(args)
    document = read_params(run_dir)
    started = time.perf_counter()
    data = run_training_data(document)  # a run of fit --window: the same windows again
    params = stored_params(document["params"])
    params.update({k: v for k, v in estimator_kwargs(args).items() if k != "resume"})
    params.update(checkpoint_dir=str(_checkpoint_dir(run_dir, document)), resume=True)
    constraints = [constraint_from_dict(c) for c in document["params"].get("constraints", [])]
    estimator = make_estimator(params, constraints, data)
    document["resumed_with"] = ["codings", *args.argv]
    document["timing"] = {"load_data_s": time.perf_counter() - started}
    return train_run(run_dir, estimator, data, document, bool(args.quiet), fresh=False,
                     tensorboard=getattr(args, "tensorboard", None))

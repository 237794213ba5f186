"""``codings encode | reconstruct | decode``: apply a saved model to arrays in a file.

The model file carries the scaling ``codings fit`` chose, and :func:`codings.load` returns
an object that applies it (a :class:`~codings.ScaledAutoEncoder`): the commands pass it the
rows exactly as read, so ``codings encode MODEL X`` writes what ``codings.load(MODEL)
.transform(X)`` returns, bit for bit. A .npy output keeps the shape the model returns (images
for a model fitted on images); a .csv output has one sample per row.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from codings.cli.files import check_output, write_array
from codings.cli.sources import load_data
from codings.estimators import load
from codings.exceptions import InvalidInputError


def _check_width(X: np.ndarray, expected: int, message: str) -> None:
    """Name both counts; ``message`` is formatted with ``got`` and ``expected``."""
    if X.shape[1] != expected:
        raise InvalidInputError(message.format(got=X.shape[1], expected=expected))


def read_rows(model: Any, path: str, key: str | None) -> np.ndarray:
    """The rows of ``path``, unscaled (the model scales them), checked against its width."""
    bunch = load_data(path, key)
    _check_width(bunch.data, model.n_features_in_,
                 f"{path} has {{got}} features per sample, but the model was fitted on "
                 "{expected}.")
    return bunch.data


def _data_columns(model: Any, header: bool) -> list[str] | None:
    """CSV column names for data-space outputs: the fitted feature names, else x0, x1, ..."""
    if not header:
        return None
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{i}" for i in range(model.n_features_in_)]


def _write(output: Path, array: np.ndarray, columns: list[str] | None, what: str) -> int:
    if output.suffix.lower() != ".npy":
        array = array.reshape(array.shape[0], -1)  # a CSV row per sample
    write_array(output, array, columns)
    print(f"Wrote {what} of shape {array.shape} to {output}")
    return 0


def encode(args: argparse.Namespace) -> int:
    """``codings encode MODEL DATA -o OUT``: the codings of each row of DATA."""
    output = check_output(args.output, args.model, args.data)  # before any work
    model = load(args.model)
    X = read_rows(model, args.data, args.key)
    columns = list(model.get_feature_names_out()) if args.header else None
    return _write(output, model.transform(X), columns, "codings")


def reconstruct(args: argparse.Namespace) -> int:
    """``codings reconstruct MODEL DATA -o OUT``: reconstructions in DATA's own units."""
    output = check_output(args.output, args.model, args.data)
    model = load(args.model)
    X_hat = model.reconstruct(read_rows(model, args.data, args.key))
    return _write(output, X_hat, _data_columns(model, args.header), "reconstructions")


def decode(args: argparse.Namespace) -> int:
    """``codings decode MODEL CODINGS -o OUT``: decode codings to the data's units."""
    output = check_output(args.output, args.model, args.data)
    model = load(args.model)
    Z = load_data(args.data, args.key).data
    _check_width(Z, model.n_components, f"{args.data} has {{got}} columns, but the model's "
                 "codings have {expected} (n_components).")
    return _write(output, model.inverse_transform(Z), _data_columns(model, args.header),
                  "decoded data")

"""``codings encode | reconstruct | decode``: apply a saved model to arrays in a file.

When the model was fitted by ``codings fit`` it carries the input scaling (``preprocessing_``):
data are scaled on the way in, and reconstructions return to the data's own scale. A .npy
output keeps the shape the model returns (images for a model fitted on images); a .csv output
has one sample per row.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codings.cli.files import check_output, write_array
from codings.datasets import load_array
from codings.estimators import load
from codings.exceptions import InvalidInputError


def _check_width(X: np.ndarray, expected: int, message: str) -> None:
    """Name both counts; ``message`` is formatted with ``got`` and ``expected``."""
    if X.shape[1] != expected:
        raise InvalidInputError(message.format(got=X.shape[1], expected=expected))


def _scaled_input(model: Any, path: str, key: str | None) -> np.ndarray:
    bunch = load_array(path, key, scale_uint8=False)
    _check_width(bunch.data, model.n_features_in_,
                 f"{path} has {{got}} features per sample, but the model was fitted on "
                 "{expected}.")
    scaling = getattr(model, "preprocessing_", None)
    return bunch.data if scaling is None else scaling.transform(bunch.data)


def _to_data_scale(model: Any, X: np.ndarray) -> np.ndarray:
    """Undo the fit-time scaling; X keeps its shape (models that know theirs return images)."""
    scaling = getattr(model, "preprocessing_", None)
    if scaling is None:
        return X
    return scaling.inverse_transform(X.reshape(X.shape[0], -1)).reshape(X.shape)


def _data_columns(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [
        f"x{i}" for i in range(model.n_features_in_)]


def _write(args: argparse.Namespace, array: np.ndarray, columns: list[str], what: str) -> int:
    if not args.output.lower().endswith(".npy"):
        array = array.reshape(array.shape[0], -1)  # a CSV row per sample
    write_array(check_output(args.output), array, columns if args.header else None)
    print(f"Wrote {what} of shape {array.shape} to {args.output}")
    return 0


def encode(args: argparse.Namespace) -> int:
    """``codings encode MODEL DATA -o OUT``: the codings of each row of DATA."""
    check_output(args.output)
    model = load(args.model)
    X = _scaled_input(model, args.data, args.key)
    return _write(args, model.transform(X), list(model.get_feature_names_out()), "codings")


def reconstruct(args: argparse.Namespace) -> int:
    """``codings reconstruct MODEL DATA -o OUT``: reconstructions in DATA's own scale."""
    check_output(args.output)
    model = load(args.model)
    X = _scaled_input(model, args.data, args.key)
    X_hat = _to_data_scale(model, model.reconstruct(X))
    return _write(args, X_hat, _data_columns(model), "reconstructions")


def decode(args: argparse.Namespace) -> int:
    """``codings decode MODEL CODINGS -o OUT``: decode codings to the data's scale."""
    check_output(args.output)
    model = load(args.model)
    Z = load_array(args.data, args.key, scale_uint8=False).data
    _check_width(Z, model.n_components, f"{args.data} has {{got}} columns, but the model's "
                 "codings have {expected} (n_components).")
    X_hat = _to_data_scale(model, model.inverse_transform(Z))
    return _write(args, X_hat, _data_columns(model), "decoded data")

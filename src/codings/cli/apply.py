"""``codings encode | reconstruct | decode``: apply a saved model to arrays in a file.

When the model was fitted by ``codings fit`` it carries the input scaling (``preprocessing_``):
data are scaled on the way in, and reconstructions return to the data's own scale.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.cli.files import check_output, write_array
from codings.datasets import load_array
from codings.estimators import load
from codings.exceptions import InvalidInputError


def _check_width(X: np.ndarray, expected: int, message: str) -> None:
    """Name both counts; ``message`` is formatted with ``got`` and ``expected``."""
    if X.shape[1] != expected:
        raise InvalidInputError(message.format(got=X.shape[1], expected=expected))


def _scaled_input(model: Any, path: str, key: str | None) -> tuple[np.ndarray, Bunch]:
    bunch = load_array(path, key, scale_uint8=False)
    _check_width(bunch.data, model.n_features_in_,
                 f"{path} has {{got}} features per sample, but the model was fitted on "
                 "{expected}.")
    scaling = getattr(model, "preprocessing_", None)
    return (bunch.data if scaling is None else scaling.transform(bunch.data)), bunch


def _to_data_scale(model: Any, X: np.ndarray) -> np.ndarray:
    scaling = getattr(model, "preprocessing_", None)
    return X if scaling is None else scaling.inverse_transform(X)


def _data_columns(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [
        f"x{i}" for i in range(model.n_features_in_)]


def _write(args: argparse.Namespace, array: np.ndarray, columns: list[str], what: str) -> int:
    write_array(check_output(args.output), array, columns if args.header else None)
    print(f"Wrote {what} of shape {array.shape} to {args.output}")
    return 0


def encode(args: argparse.Namespace) -> int:
    """``codings encode MODEL DATA -o OUT``: the codings of each row of DATA."""
    check_output(args.output)
    model = load(args.model)
    X, _ = _scaled_input(model, args.data, args.key)
    return _write(args, model.transform(X), list(model.get_feature_names_out()), "codings")


def reconstruct(args: argparse.Namespace) -> int:
    """``codings reconstruct MODEL DATA -o OUT``: reconstructions in DATA's own scale."""
    check_output(args.output)
    model = load(args.model)
    X, bunch = _scaled_input(model, args.data, args.key)
    X_hat = _to_data_scale(model, model.reconstruct(X))
    if args.output.lower().endswith(".npy") and bunch.image_shape is not None:
        X_hat = X_hat.reshape(X_hat.shape[0], *bunch.image_shape)  # images in, images out
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

"""``codings encode | reconstruct | decode``: apply a saved model to the rows of a file.

The model file carries the scaling ``codings fit`` chose, and :func:`codings.load` returns
an object that applies it (a :class:`~codings.ScaledAutoEncoder`): the commands pass it the
rows exactly as read, so ``codings encode MODEL X`` writes what ``codings.load(MODEL)
.transform(X)`` returns, bit for bit.

**Tables.** A model fitted on named columns (a CSV header, a Parquet file) finds them by
name in DATA, so their order and any extra columns do not matter and a missing one is an
error; ``--id COLUMN`` keeps a column aside and writes it first in a .csv output. A .csv
output has a header row unless ``--no-header``: the model's column names (``x0, x1, ...``
when it has none) for ``reconstruct`` and ``decode``, the codings' names for ``encode``.

**Images.** Reconstructions and decodings of integer pixels (a model fitted on uint8 or
uint16 data, or uint8 input to ``reconstruct``) are clipped to the dtype's range, and a .npy
output holds that dtype, in the images' shape (n, height, width) or (n, channels, height,
width); a .csv output has one flat row per sample.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.cli.files import check_output, write_array
from codings.cli.sources import load_data
from codings.estimators import load
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import unwrap

_TABLES = (".csv", ".parquet")
_PIXEL_DTYPES = ("uint8", "uint16")


def _check_width(X: np.ndarray, expected: int, message: str) -> None:
    """Name both counts; ``message`` is formatted with ``got`` and ``expected``."""
    if X.shape[1] != expected:
        raise InvalidInputError(message.format(got=X.shape[1], expected=expected))


def model_image_shape(model: Any) -> tuple[int, ...] | None:
    """The per-sample shape the model knows (``codings fit`` records it for image data)."""
    shape = getattr(model, "image_shape_", None) or getattr(model, "input_shape_", None)
    return tuple(int(s) for s in shape) if shape else None


def _grey(model: Any) -> bool | None:
    """How to read a folder of images for this model: grey, colour, or as the files are."""
    shape = model_image_shape(model)
    if shape is None or len(shape) not in (2, 3):
        return None
    return len(shape) == 2 or shape[0] == 1


def check_id_output(output: Path, id_column: str | None) -> None:
    """``--id`` writes text beside numbers: only a .csv output can hold it."""
    if id_column is not None and output.suffix.lower() != ".csv":
        raise InvalidInputError(f"--id writes each row's {id_column!r} beside the outputs in "
                                f"a .csv file; {output} is a .npy file, which holds numbers "
                                "only: use a .csv output.")


def read_table(model: Any, path: str, key: str | None, id_column: str | None = None,
               *, by_name: bool = True) -> Bunch:
    """The rows of ``path`` for ``model``, unscaled (the model scales them): its own columns
    found by name in a table when it knows their names (``by_name``), ``id_column`` kept
    aside in ``ids``; the width is checked."""
    names = getattr(model, "feature_names_in_", None) if by_name else None
    reading: dict[str, Any] = {"id_column": id_column, "grey": _grey(model)}
    if names is not None and Path(path).suffix.lower() in _TABLES and not Path(path).is_dir():
        reading["columns"] = [str(name) for name in names]
    return load_data(path, key, **reading)


def read_rows(model: Any, path: str, key: str | None, id_column: str | None = None) -> Bunch:
    """:func:`read_table`, with the model's width checked."""
    bunch = read_table(model, path, key, id_column)
    _check_width(bunch.data, model.n_features_in_,
                 f"{path} has {{got}} features per sample, but the model was fitted on "
                 "{expected}.")
    return bunch


def data_columns(model: Any) -> list[str]:
    """Names for data-space outputs: the fitted columns' names, else x0, x1, ..."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{i}" for i in range(model.n_features_in_)]


def in_data_form(model: Any, X: Any, output: Path, source_dtype: Any = None) -> np.ndarray:
    """Outputs in the data's own form: integer pixels clipped to their dtype's range (and of
    that dtype in a .npy), images in their shape in a .npy, flat rows in a .csv."""
    X = np.asarray(X)
    dtype = getattr(model, "input_dtype_", None)
    if dtype is None and source_dtype is not None and np.dtype(source_dtype).name \
            in _PIXEL_DTYPES:
        dtype = np.dtype(source_dtype).name
    if dtype is not None:
        X = np.clip(X, 0, np.iinfo(dtype).max)
    if output.suffix.lower() != ".npy":
        return X.reshape(len(X), -1)  # a CSV row per sample
    if dtype is not None:
        X = np.rint(X).astype(dtype)
    shape = model_image_shape(model)
    return X.reshape(len(X), *shape) if shape else X


def _write(output: Path, array: np.ndarray, columns: list[str] | None, what: str,
           bunch: Bunch | None = None, id_column: str | None = None) -> int:
    ids = None if bunch is None or id_column is None else bunch.ids
    write_array(output, array, columns, ids=ids, id_name=id_column or "id")
    print(f"Wrote {what} of shape {array.shape} to {output}")
    return 0


def load_autoencoder(path: str, command: str, *, keep_detector: bool = False) -> Any:
    """The model file at ``path`` as an autoencoder in raw units, for ``command``.

    A classifier's file is refused, naming the command that reads it; a detector's file
    (saved from an ``AnomalyDetector``) gives its autoencoder behind every preprocessing
    step, unless ``keep_detector`` (``score`` uses the detector and its threshold).
    """
    from codings.estimators.scaled import ScaledAutoEncoder

    model = load(path)
    parts = unwrap(model)
    if type(parts.final).__name__ != "AutoEncoder":
        raise InvalidInputError(
            f"{path} holds an {type(parts.final).__name__} (written by codings "
            f"fit-classifier), not an autoencoder; {command} needs a model written by codings "
            f"fit. Use codings predict {path} DATA -o OUT.csv for its classes.")
    if parts.detector is None or keep_detector:
        return model
    return ScaledAutoEncoder([*parts.steps, ("autoencoder", parts.final)]) if parts.steps \
        else parts.final


def encode(args: argparse.Namespace) -> int:
    """``codings encode MODEL DATA -o OUT``: the codings of each row of DATA."""
    output = check_output(args.output, args.model, args.data)  # before any work
    check_id_output(output, args.id)
    model = load_autoencoder(args.model, "encode")
    bunch = read_rows(model, args.data, args.key, args.id)
    columns = list(model.get_feature_names_out()) if args.header else None
    return _write(output, model.transform(bunch.data), columns, "codings", bunch, args.id)


def reconstruct(args: argparse.Namespace) -> int:
    """``codings reconstruct MODEL DATA -o OUT``: reconstructions in DATA's own units."""
    output = check_output(args.output, args.model, args.data)
    check_id_output(output, args.id)
    model = load_autoencoder(args.model, "reconstruct")
    bunch = read_rows(model, args.data, args.key, args.id)
    X_hat = in_data_form(model, model.reconstruct(bunch.data), output,
                         bunch.get("source_dtype"))
    return _write(output, X_hat, data_columns(model) if args.header else None,
                  "reconstructions", bunch, args.id)


def decode(args: argparse.Namespace) -> int:
    """``codings decode MODEL CODINGS -o OUT``: decode codings to the data's units."""
    output = check_output(args.output, args.model, args.data)
    check_id_output(output, args.id)
    model = load_autoencoder(args.model, "decode")
    bunch = read_table(model, args.data, args.key, args.id, by_name=False)
    _check_width(bunch.data, model.n_components, f"{args.data} has {{got}} columns, but the "
                 "model's codings have {expected} (n_components).")
    X = in_data_form(model, model.inverse_transform(bunch.data), output)
    return _write(output, X, data_columns(model) if args.header else None, "decoded data",
                  bunch, args.id)

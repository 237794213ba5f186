"""Loaders for data files the user gives: ``.npy``, ``.npz``, ``.csv`` and ``.parquet``
(:func:`load_file` also reads folders of images, see :mod:`._images`).

Every failure is an :class:`~codings.exceptions.InvalidInputError` naming the file and the
problem, so the CLI can print one line and exit with code 2. Only regular files are read: a
link to ``/dev/zero`` or a FIFO is refused before a byte is read.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.datasets._columns import Selection
from codings.datasets._images import load_image_folder
from codings.datasets._opening import first_line, open_data_file
from codings.exceptions import InvalidInputError

SUPPORTED_SUFFIXES = (".npy", ".npz", ".csv")
FILE_SUFFIXES = (*SUPPORTED_SUFFIXES, ".parquet")
# Tokens spreadsheets and pandas write for a missing value: never a header, never a number.
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "nil", "#n/a", "?", "-"})
_DEFAULT_NPZ_KEYS = ("x_train", "X", "x", "data")
_LABEL_KEYS = {"x_train": "y_train", "x_test": "y_test", "X": "y", "x": "y", "data": "target"}


def _check_path(path: str | os.PathLike[str], suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES,
                ) -> Path:
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise InvalidInputError(f"Data file not found: {p}")
    if p.is_dir():
        raise InvalidInputError(f"Expected a data file but {p} is a directory.")
    if p.suffix.lower() not in suffixes:
        raise InvalidInputError(f"Cannot read {p}: unsupported file type {p.suffix!r}; "
                                f"use one of {', '.join(suffixes)}.")
    check_regular(p)
    return p


def check_regular(path: Path) -> None:
    """Refuse a path that is not a regular file (a device, FIFO, socket or a link to one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if stat.S_ISDIR(mode):
        raise InvalidInputError(f"Expected a data file but {path} is a directory.")
    if not stat.S_ISREG(mode):
        raise InvalidInputError(f"{path} is not a regular file (a device, FIFO or socket, or a "
                                "link to one): refusing to read it as data.")


def refuse_key(key: str | None, path: Path) -> None:
    if key is not None:
        raise InvalidInputError(f"--key (Python: key=) selects an array in a .npz file; it "
                                f"does not apply to {path}.")


def _load_npy(p: Path, mmap: bool) -> np.ndarray:
    try:
        if mmap:  # numpy memory-maps a path only; _check_path has checked it is regular
            return np.load(p, mmap_mode="r", allow_pickle=False)
        with open_data_file(p) as handle:
            return np.load(handle, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InvalidInputError(f"{p} holds Python objects (pickled data), which are never "
                                    "loaded for safety; save a numeric array instead.") from exc
        raise InvalidInputError(f"Cannot read {p} as a .npy array: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise InvalidInputError(f"Cannot read {p} as a .npy array: {exc}") from exc


def _load_npz(p: Path, key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with open_data_file(p) as handle, np.load(handle, allow_pickle=False) as archive:
            keys = list(archive.files)
            if key is None:
                if len(keys) == 1:
                    key = keys[0]
                else:
                    key = next((k for k in _DEFAULT_NPZ_KEYS if k in keys), None)
                    if key is None:
                        raise InvalidInputError(
                            f"{p} holds several arrays ({', '.join(keys)}); choose one with "
                            "--key (Python: key=...).")
            if key not in keys:
                raise InvalidInputError(f"{p} has no array named {key!r}; it holds "
                                        f"{', '.join(keys) or 'no arrays'}.")
            X = archive[key]
            label_key = _LABEL_KEYS.get(key)
            y = archive[label_key] if label_key in keys else None
    except InvalidInputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise InvalidInputError(f"Cannot read {p} as a .npz archive: {exc}") from exc
    return X, y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING


def _is_header(rows: list[list[str]]) -> bool:
    """A first row with text is a header; missing-value tokens (``NA``, ``NaN``, empty) are
    not text, so ``NA,1.5,2.5`` is a data row with a missing value. So is a row that numbers
    the columns (0..n-1 or 1..n, as pandas writes for unnamed columns) above rows with
    non-integer values; integer data under such a row stays data, since nothing tells the
    two apart."""
    first = [cell.strip() for cell in rows[0]]
    if not all(_is_number(cell) or _is_missing(cell) for cell in first):
        return True
    if len(rows) < 2 or not all(cell.isdigit() for cell in first):
        return False
    counts = (list(range(len(first))), list(range(1, len(first) + 1)))
    below = [cell.strip() for row in rows[1:3] for cell in row if cell.strip()]
    return [int(cell) for cell in first] in counts and any(
        _is_number(cell) and not cell.lstrip("+-").isdigit() for cell in below)


def _read_csv_rows(p: Path) -> list[list[str]]:
    # utf-8-sig drops the byte-order mark Excel writes ("CSV UTF-8"), which would otherwise
    # glue itself to the first cell and turn the first data row into a header.
    try:
        with open_data_file(p) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig",
                                                        newline="") as handle:
            return [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read {p} as CSV: {exc}") from exc


def _load_csv(p: Path, selection: Selection) -> tuple[np.ndarray, list[str] | None,
                                                   np.ndarray | None]:
    """The selected columns as float64, their names (the header's, or None), and the id
    column's cells as text (or None)."""
    rows = _read_csv_rows(p)
    if not rows:
        raise InvalidInputError(f"{p} is empty: no rows to read.")
    header = None
    if _is_header(rows):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise InvalidInputError(f"{p} has a header but no data rows.")
    width = len(header) if header else len(rows[0])
    keep, id_index = selection.resolve(p, header, width)
    X = np.empty((len(rows), len(keep)), dtype=np.float64)
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise InvalidInputError(f"{p}, line {line}: expected {width} values, got {len(row)}.")
        try:
            for out, j in enumerate(keep):
                X[i, out] = _cell_value(p, line, j, row[j], header)
        except _NotANumber as exc:
            _refuse_text_columns(p, rows, keep, header, exc)
    ids = None if id_index is None else np.asarray([row[id_index].strip() for row in rows])
    return X, None if header is None else [header[j] for j in keep], ids


class _NotANumber(InvalidInputError):
    """A cell that is not a number (the error names it; its column may not be the only one)."""


def _refuse_text_columns(p: Path, rows: list[list[str]], keep: Sequence[int],
                         header: list[str] | None, first: InvalidInputError) -> None:
    """Name every text column at once (a table with three of them took three tries)."""
    text = [j for j in keep if not all(_is_number(row[j].strip()) or _is_missing(row[j].strip())
                                       for row in rows
                                       if len(row) > j)]
    if header is None or len(text) < 2:
        raise first
    names = [header[j] for j in text]
    raise InvalidInputError(
        f"{p}: the columns {', '.join(map(repr, names))} hold text; the autoencoder needs "
        f"numeric columns: leave them out ('--drop {','.join(names)}'; '--id NAME' keeps one "
        "that identifies rows beside the outputs).") from None


def _cell_value(p: Path, line: int, j: int, cell: str, header: list[str] | None) -> float:
    column = f"column {j + 1}" + (f" ({header[j]!r})" if header else "")
    text = cell.strip()
    if _is_missing(text):
        shown = f" ({text!r})" if text else ""
        raise InvalidInputError(f"{p}, line {line}, {column}: missing value{shown}. Fill or "
                                "drop incomplete rows.")
    try:
        value = float(text)
    except ValueError:
        hint = f" ('--drop {header[j]}', or '--id {header[j]}' to keep it beside the " \
            "outputs)" if header else ""
        raise _NotANumber(f"{p}, line {line}, {column}: {text!r} is not a number; the "
                          f"autoencoder needs numeric columns: leave this one out{hint}."
                          ) from None
    if not np.isfinite(value):
        raise InvalidInputError(f"{p}, line {line}, {column}: {text!r} is not a finite "
                                "number.")
    return value


def load_array(path: str | os.PathLike[str], key: str | None = None, *,
               scale_uint8: bool = True, mmap: bool = False,
               columns: str | Sequence[str] | None = None,
               drop: str | Sequence[str] | None = None,
               id_column: str | None = None) -> Bunch:
    """Load a data file as a 2-D array of samples.

    Parameters
    ----------
    path : path-like
        A ``.npy``, ``.npz`` (choose the array with ``key``; Keras-style files default to
        ``x_train``) or ``.csv`` file (UTF-8, with or without a byte-order mark; a header
        row is detected; ``NA``, ``NaN`` and empty cells are missing values, refused with
        their line and column).
    key : str, optional
        Array name inside a ``.npz``; refused for other files.
    scale_uint8 : bool, default=True
        Images stored as uint8 are divided by 255 to lie in [0, 1].
    mmap : bool, default=False
        Memory-map a ``.npy`` file instead of reading it.
    columns, drop, id_column
        Select a CSV's columns by the names in its header: see :func:`load_file`. Refused
        for ``.npy`` and ``.npz`` files, which have no column names.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, n_features), ``image_shape`` (the per-sample shape when the file
        held images, else None), ``target`` (labels when the file had them), ``feature_names``
        (a CSV header), ``source_dtype``, ``ids`` (the ``id_column``'s cells, or None).
    """
    p = _check_path(path)
    suffix = p.suffix.lower()
    selection = Selection.of(columns, drop, id_column)
    y, names, ids = None, None, None
    if suffix != ".npz":
        refuse_key(key, p)
    if suffix != ".csv":
        selection.refuse(p)
    if suffix == ".npy":
        X = _load_npy(p, mmap)
    elif suffix == ".npz":
        X, y = _load_npz(p, key)
    else:
        X, names, ids = _load_csv(p, selection)
    bunch = _as_samples(p, X, y, names, scale_uint8)
    bunch.ids = ids
    return bunch


def _as_samples(p: Path, X: Any, y: Any, names: list[str] | None, scale_uint8: bool) -> Bunch:
    if X.dtype.kind not in "biuf":
        raise InvalidInputError(f"{p} holds {X.dtype} values; the autoencoder needs numbers.")
    if X.ndim < 2:
        raise InvalidInputError(f"{p} holds a {X.ndim}-D array of shape {X.shape}; expected "
                                "samples in rows, shape (n_samples, n_features) or images "
                                "(n_samples, height, width).")
    if X.shape[0] == 0 or X.size == 0:
        raise InvalidInputError(f"{p} holds an empty array of shape {X.shape}.")
    image_shape = tuple(int(s) for s in X.shape[1:]) if X.ndim > 2 else None
    source_dtype = X.dtype
    X = X.reshape(X.shape[0], -1)
    if scale_uint8 and source_dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255.0)
    return Bunch(data=X, image_shape=image_shape, target=y, feature_names=names,
                 source_dtype=source_dtype)


# -- Parquet ------------------------------------------------------------------------------------
def load_parquet(path: str | os.PathLike[str], *,
                 columns: str | Sequence[str] | None = None,
                 drop: str | Sequence[str] | None = None,
                 id_column: str | None = None) -> Bunch:
    """Every column of a Parquet file (or those selected) as a float feature, names kept.

    Needs ``pyarrow``. ``columns``, ``drop`` and ``id_column`` select columns by name as in
    :func:`load_file`. Returns the same Bunch as :func:`load_array` (``data`` float64).
    """
    selection = Selection.of(columns, drop, id_column)
    p = _check_path(path, (".parquet",))
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInputError(f"Reading {p} needs pyarrow, which is not installed: "
                                "pip install pyarrow (or convert the file to .npy or .csv)."
                                ) from None
    try:
        with open_data_file(p) as handle:
            table = pq.read_table(handle)
    except (OSError, ValueError) as exc:  # pyarrow's errors subclass these
        raise InvalidInputError(f"Cannot read {p} as Parquet: {first_line(exc)}") from exc
    if table.num_rows == 0 or table.num_columns == 0:
        raise InvalidInputError(f"{p} holds no data ({table.num_rows} rows, "
                                f"{table.num_columns} columns).")
    header = list(table.column_names)
    keep, id_index = selection.resolve(p, header, len(header))
    _refuse_non_numeric(p, [header[j] for j in keep], [table.column(j) for j in keep])
    data = [_numeric_column(p, header[j], table.column(j)) for j in keep]
    ids = None if id_index is None else np.asarray(
        ["" if v is None else str(v) for v in table.column(id_index).to_pylist()])
    return Bunch(data=np.column_stack(data), image_shape=None, target=None,
                 feature_names=[header[j] for j in keep], source_dtype=np.dtype(np.float64),
                 ids=ids)


def _refuse_non_numeric(path: Path, names: list[str], columns: list[Any]) -> None:
    """Name every non-numeric column of a Parquet table at once."""
    import pyarrow.types as pat

    bad = [name for name, column in zip(names, columns, strict=True)
           if not (pat.is_integer(column.type) or pat.is_floating(column.type)
                   or pat.is_boolean(column.type))]
    if len(bad) > 1:
        raise InvalidInputError(
            f"{path}: the columns {', '.join(map(repr, bad))} are not numeric; the "
            f"autoencoder needs numeric columns: leave them out ('--drop {','.join(bad)}'; "
            "'--id NAME' keeps one that identifies rows beside the outputs).")


def _numeric_column(path: Path, name: str, column: Any) -> np.ndarray:
    import pyarrow.types as pat

    if not (pat.is_integer(column.type) or pat.is_floating(column.type)
            or pat.is_boolean(column.type)):
        raise InvalidInputError(f"{path}, column {name!r} holds {column.type} values; the "
                                "autoencoder needs numeric columns: leave it out ('--drop "
                                f"{name}', or '--id {name}' to keep it beside the outputs).")
    if column.null_count:
        raise InvalidInputError(f"{path}, column {name!r} has {column.null_count} missing "
                                "values. Fill or drop incomplete rows before training.")
    return np.asarray(column.to_numpy(), dtype=np.float64)


# -- any source ---------------------------------------------------------------------------------
def load_file(path: str | os.PathLike[str], key: str | None = None, *,
              scale_uint8: bool = False, mmap: bool = False,
              columns: str | Sequence[str] | None = None,
              drop: str | Sequence[str] | None = None, id_column: str | None = None,
              grey: bool | None = None) -> Bunch:
    """Read a data file or a folder of images, as the CLI does.

    Parameters
    ----------
    path : path-like
        A ``.npy``, ``.npz``, ``.csv`` or ``.parquet`` file, or a folder of PNG/JPEG images
        (see :func:`load_image_folder`).
    key : str, optional
        Array name inside a ``.npz``; refused for anything else.
    scale_uint8 : bool, default=False
        Divide uint8 arrays by 255 (the CLI leaves values raw and scales them itself).
    mmap : bool, default=False
        Memory-map a ``.npy`` file.
    columns : str or list of str, optional
        For a table with a header (``.csv``, ``.parquet``): the feature columns, in this
        order (a string is split on commas). A file without a header row must then have
        exactly that many columns, taken in order.
    drop : str or list of str, optional
        Columns of such a table left out.
    id_column : str, optional
        A column kept aside (its cells as text in ``ids``), never a feature; it need not be
        numeric.
    grey : bool, optional
        For a folder of images: True converts colour images to grey, False reads every image
        as colour, None (default) keeps colour when there is any (see
        :func:`load_image_folder`). Ignored for files.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, n_features) with the file's values, ``image_shape``,
        ``target``, ``feature_names``, ``source_dtype``, ``ids`` (and ``files`` for a
        folder).
    """
    p = Path(path)
    table: dict[str, Any] = {"columns": columns, "drop": drop, "id_column": id_column}
    if p.is_dir():
        refuse_key(key, p)
        Selection.of(**table).refuse(p)
        return load_image_folder(p, grey=grey)
    if p.suffix.lower() == ".parquet":
        refuse_key(key, p)
        return load_parquet(p, **table)
    if p.exists() and p.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInputError(f"Cannot read {p}: unsupported file type "
                                f"{p.suffix or '(none)'!r}; give a .npy, .npz, .csv or "
                                ".parquet file, or a folder of PNG/JPEG images.")
    return load_array(p, key, scale_uint8=scale_uint8, mmap=mmap, **table)

"""Loaders for data files the user gives: ``.npy``, ``.npz`` and ``.csv``.

Every failure is an :class:`~codings.exceptions.InvalidInputError` naming the file and the
problem, so the CLI can print one line and exit with code 2.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.exceptions import InvalidInputError

SUPPORTED_SUFFIXES = (".npy", ".npz", ".csv")
_DEFAULT_NPZ_KEYS = ("x_train", "X", "x", "data")
_LABEL_KEYS = {"x_train": "y_train", "x_test": "y_test", "X": "y", "x": "y", "data": "target"}


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"Data file not found: {p}")
    if p.is_dir():
        raise InvalidInputError(f"Expected a data file but {p} is a directory.")
    if p.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidInputError(f"Cannot read {p}: unsupported file type {p.suffix!r}; "
                                f"use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    return p


def _load_npy(p: Path, mmap: bool) -> np.ndarray:
    try:
        return np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InvalidInputError(f"{p} holds Python objects (pickled data), which are never "
                                    "loaded for safety; save a numeric array instead.") from exc
        raise InvalidInputError(f"Cannot read {p} as a .npy array: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise InvalidInputError(f"Cannot read {p} as a .npy array: {exc}") from exc


def _load_npz(p: Path, key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(p, allow_pickle=False) as archive:
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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(f"Cannot read {p} as a .npz archive: {exc}") from exc
    return X, y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_header(rows: list[list[str]]) -> bool:
    """A first row with text is a header. So is one that numbers the columns (0..n-1 or
    1..n, as pandas writes for unnamed columns) above rows with non-integer values; integer
    data under such a row stays data, since nothing tells the two apart."""
    first = [cell.strip() for cell in rows[0]]
    if not all(_is_number(cell) for cell in first if cell):
        return True
    if len(rows) < 2 or not all(cell.isdigit() for cell in first):
        return False
    counts = (list(range(len(first))), list(range(1, len(first) + 1)))
    below = [cell.strip() for row in rows[1:3] for cell in row if cell.strip()]
    return [int(cell) for cell in first] in counts and any(
        _is_number(cell) and not cell.lstrip("+-").isdigit() for cell in below)


def _load_csv(p: Path) -> tuple[np.ndarray, list[str] | None]:
    try:
        with open(p, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read {p} as CSV: {exc}") from exc
    if not rows:
        raise InvalidInputError(f"{p} is empty: no rows to read.")
    header = None
    if _is_header(rows):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise InvalidInputError(f"{p} has a header but no data rows.")
    width = len(header) if header else len(rows[0])
    X = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise InvalidInputError(f"{p}, line {line}: expected {width} values, got {len(row)}.")
        for j, cell in enumerate(row):
            column = f"column {j + 1}" + (f" ({header[j]!r})" if header else "")
            if not cell.strip():
                raise InvalidInputError(f"{p}, line {line}, {column}: missing value. Fill or "
                                        "drop incomplete rows.")
            try:
                X[i, j] = float(cell)
            except ValueError:
                raise InvalidInputError(f"{p}, line {line}, {column}: {cell.strip()!r} is not "
                                        "a number; the autoencoder needs numeric columns."
                                        ) from None
    return X, header


def load_array(path: str | os.PathLike[str], key: str | None = None, *,
               scale_uint8: bool = True, mmap: bool = False) -> Bunch:
    """Load a data file as a 2-D array of samples.

    Parameters
    ----------
    path : path-like
        A ``.npy``, ``.npz`` (choose the array with ``key``; Keras-style files default to
        ``x_train``) or ``.csv`` file (a header row is detected).
    key : str, optional
        Array name inside a ``.npz``.
    scale_uint8 : bool, default=True
        Images stored as uint8 are divided by 255 to lie in [0, 1].
    mmap : bool, default=False
        Memory-map a ``.npy`` file instead of reading it.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, n_features), ``image_shape`` (the per-sample shape when the file
        held images, else None), ``target`` (labels when the file had them), ``feature_names``
        (a CSV header), ``source_dtype``.
    """
    p = _check_path(path)
    suffix = p.suffix.lower()
    y, names = None, None
    if suffix == ".npy":
        X = _load_npy(p, mmap)
    elif suffix == ".npz":
        X, y = _load_npz(p, key)
    else:
        X, names = _load_csv(p)
    return _as_samples(p, X, y, names, scale_uint8)


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

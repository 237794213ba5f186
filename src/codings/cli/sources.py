"""Data the commands read besides ``codings.datasets.load_array``: Parquet files and folders of
PNG/JPEG images.

Each loader returns the same Bunch as ``load_array`` (``data``, ``image_shape``, ``target``,
``feature_names``, ``source_dtype``) and raises :class:`InvalidInputError` naming the file and
the problem, so the commands print one line and exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from codings.cli.parser import DATA_HELP
from codings.datasets import load_array
from codings.exceptions import InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FILE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


def load_data(source: str | Path, key: str | None = None) -> Bunch:
    """Read ``source``: a folder of images, a ``.parquet`` file, or what ``load_array`` reads.

    Values are returned unscaled (uint8 images stay 0-255); the caller chooses the scaling.
    """
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(f"Data file not found: {path}")
    if path.is_dir():
        _refuse_key(key, path)
        return load_image_folder(path)
    if path.suffix.lower() == ".parquet":
        _refuse_key(key, path)
        return load_parquet(path)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInputError(f"Cannot read {path}: unsupported file type "
                                f"{path.suffix or '(none)'!r}; give a {DATA_HELP}.")
    return load_array(path, key, scale_uint8=False)


def _refuse_key(key: str | None, path: Path) -> None:
    if key is not None:
        raise InvalidInputError(f"--key selects an array in a .npz file; it does not apply to "
                                f"{path}.")


# -- Parquet -----------------------------------------------------------------------------------
def load_parquet(path: Path) -> Bunch:
    """Every column of a Parquet file as a float feature; the column names are kept."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInputError(f"Reading {path} needs pyarrow, which is not installed: "
                                "pip install pyarrow (or convert the file to .npy or .csv)."
                                ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's errors subclass these
        raise InvalidInputError(f"Cannot read {path} as Parquet: {_first_line(exc)}") from exc
    if table.num_rows == 0 or table.num_columns == 0:
        raise InvalidInputError(f"{path} holds no data ({table.num_rows} rows, "
                                f"{table.num_columns} columns).")
    columns = [_numeric_column(path, name, table.column(name)) for name in table.column_names]
    return Bunch(data=np.column_stack(columns), image_shape=None, target=None,
                 feature_names=list(table.column_names), source_dtype=np.dtype(np.float64))


def _numeric_column(path: Path, name: str, column: Any) -> np.ndarray:
    import pyarrow.types as pat

    if not (pat.is_integer(column.type) or pat.is_floating(column.type)
            or pat.is_boolean(column.type)):
        raise InvalidInputError(f"{path}, column {name!r} holds {column.type} values; the "
                                "autoencoder needs numeric columns (drop or encode it).")
    if column.null_count:
        raise InvalidInputError(f"{path}, column {name!r} has {column.null_count} missing "
                                "values. Fill or drop incomplete rows before training.")
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- Folders of images -------------------------------------------------------------------------
def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _labelled_files(folder: Path) -> tuple[list[Path], np.ndarray | None]:
    """Images directly in ``folder``, or one subfolder per class (the subfolder is the label)."""
    files = _images_in(folder)
    if files:
        return files, None
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and _images_in(p))
    if not classes:
        raise InvalidInputError(f"{folder} holds no images: expected .png, .jpg or .jpeg files "
                                "in it, or in one subfolder per class.")
    files, labels = [], []
    for sub in classes:
        found = _images_in(sub)
        files += found
        labels += [sub.name] * len(found)
    return files, np.asarray(labels)


def _read_gray(path: Path) -> np.ndarray:
    """One image as a uint8 (height, width) array; colour is converted to grey."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InvalidInputError(f"Cannot read the image {path}: {_first_line(exc)}") from exc


def load_image_folder(folder: Path) -> Bunch:
    """All PNG/JPEG images in ``folder`` (sorted by name) as grey uint8 rows.

    Every image must have the same size. Images in class subfolders get the subfolder name as
    their label.
    """
    files, labels = _labelled_files(folder)
    images: list[np.ndarray] = []
    for path in files:
        image = _read_gray(path)
        if images and image.shape != images[0].shape:
            h, w = images[0].shape
            raise InvalidInputError(
                f"{path} is {image.shape[1]}x{image.shape[0]} pixels but {files[0].name} is "
                f"{w}x{h}: every image in {folder} must have the same size (resize them first).")
        images.append(image)
    stack = np.stack(images)
    return Bunch(data=stack.reshape(len(stack), -1), image_shape=tuple(stack.shape[1:]),
                 target=labels, feature_names=None, source_dtype=np.dtype(np.uint8),
                 files=[str(p) for p in files])

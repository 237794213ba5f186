"""The data the commands read: :func:`codings.datasets.load_file` with the CLI's wording.

Every reader lives in :mod:`codings.datasets` (``load_array``, ``load_parquet``,
``load_image_folder``, ``load_file``), reachable from Python; values come back unscaled
(uint8 images stay 0-255) and the command chooses the scaling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sklearn.utils import Bunch

from codings.cli.flags import DATA_HELP
from codings.datasets import load_file
from codings.datasets._files import FILE_SUFFIXES
from codings.exceptions import InvalidInputError


def load_data(source: str | Path, key: str | None = None, **reading: Any) -> Bunch:
    """Read ``source``: a folder of images or a .npy, .npz, .csv or .parquet file.

    ``reading``: :func:`codings.datasets.load_file`'s ``columns``, ``drop``, ``id_column``
    and ``grey``."""
    path = Path(source)
    if not path.exists() and not path.is_symlink():
        raise InvalidInputError(f"Data file not found: {path}")
    if not path.is_dir() and path.suffix.lower() not in FILE_SUFFIXES:
        raise InvalidInputError(f"Cannot read {path}: unsupported file type "
                                f"{path.suffix or '(none)'!r}; give a {DATA_HELP}.")
    return load_file(path, key, scale_uint8=False, **reading)

"""Opening the user's data files: regular files only, checked on the open descriptor."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from codings.exceptions import InvalidInputError
from codings.formats.container import open_regular_file

DATA_FILE = "data file"


def open_data_file(path: Path) -> IO[bytes]:
    """Open a data file only if it is a regular file (checked on the open descriptor)."""
    return open_regular_file(path, DATA_FILE, InvalidInputError)[0]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

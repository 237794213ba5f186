"""Files the commands write: arrays as .npy or .csv, JSON and text, all atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.formats.container import atomic_write_bytes

OUTPUT_SUFFIXES = (".npy", ".csv")


def check_output(path: str, *inputs: str | Path | None) -> Path:
    """Refuse an output path before any work is done: wrong type, a folder, no parent folder,
    or one of the command's ``inputs`` (the same file, however spelt: it would be overwritten
    while it is read)."""
    target = Path(path)
    refuse_overwriting_inputs(target, inputs)
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InvalidInputError(f"Cannot write {target}: unsupported output type "
                                f"{target.suffix or '(none)'!r}; use .npy or .csv.")
    if target.is_dir():
        raise InvalidInputError(f"Cannot write {target}: it is a directory.")
    if not target.parent.is_dir():
        raise InvalidInputError(f"Cannot write {target}: the folder {target.parent} does not "
                                "exist.")
    return target


def refuse_overwriting_inputs(target: Path, inputs: Sequence[str | Path | None]) -> None:
    for source in inputs:
        if source is None:
            continue
        given = Path(source)
        if target.resolve() == given.resolve() or _same_file(target, given):
            raise InvalidInputError(f"Cannot write {target}: it is the input {given} (the "
                                    "command would overwrite what it reads); choose another "
                                    "output path.")


def _same_file(a: Path, b: Path) -> bool:
    """Hard links and bind mounts too; False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_array(path: Path, array: np.ndarray, columns: Sequence[str] | None = None, *,
                ids: np.ndarray | None = None, id_name: str = "id") -> None:
    """Save ``array`` as .npy (shape and dtype kept) or .csv (one sample per row, a header
    row when ``columns`` are given, and each row's id first when ``ids`` are)."""
    if path.suffix.lower() == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        atomic_write_bytes(path, buffer.getvalue())
        return
    text = io.StringIO()
    # %.9g and %.17g are the shortest formats that read back to the same float32 / float64.
    fmt = "%d" if array.dtype.kind in "iub" else "%.9g" if array.dtype == np.float32 \
        else "%.17g"
    np.savetxt(text, array.reshape(array.shape[0], -1), delimiter=",", fmt=fmt)
    lines = text.getvalue().splitlines()
    if ids is not None:
        lines = [f"{_csv_row([str(id_)])},{line}" for id_, line in zip(ids, lines, strict=True)]
    if columns:
        lines.insert(0, _csv_row([id_name, *columns] if ids is not None else list(columns)))
    atomic_write_bytes(path, "".join(line + "\n" for line in lines).encode())


def _csv_row(cells: list[str]) -> str:
    """One CSV line, quoting the cells that need it (a name with a comma)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow(cells)
    return text.getvalue()


def write_json(path: Path, document: Any) -> None:
    atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())


def finite_or_none(values: Sequence[float]) -> list[float | None]:
    """JSON has no NaN or infinity: a diverged epoch's values become null."""
    return [float(v) if np.isfinite(v) else None for v in values]

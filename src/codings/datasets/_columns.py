"""Choosing a table's columns by name: ``columns`` to keep, ``drop`` to leave out, and an
``id_column`` kept aside (read as text, never a feature).

The selection is resolved against a file's header before any cell is converted to a number,
so a text column that is dropped or kept aside as the id never has to be numeric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codings.exceptions import InvalidInputError, did_you_mean

_FLAGS = {"columns": "--columns (Python: columns=)", "drop": "--drop (Python: drop=)",
          "id_column": "--id (Python: id_column=)"}
_LISTED = 8


def _names(value: str | Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    """A list of column names, or one string of comma-separated names."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",")]
    names = tuple(value)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise InvalidInputError(f"{_FLAGS[what]} takes column names such as 'age,income'; "
                                f"got {value!r}.")
    return names


def _listing(header: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in header[:_LISTED])
    return shown + (f", ... ({len(header)} in all)" if len(header) > _LISTED else "")


@dataclass(frozen=True)
class Selection:
    """Which columns of a table to read, by name.

    Parameters
    ----------
    columns : tuple of str, optional
        The feature columns, in this order (default: every column but ``drop`` and the id).
    drop : tuple of str
        Columns left out.
    id_column : str, optional
        A column kept aside as each row's id (its cells as text), never a feature.
    """

    columns: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    id_column: str | None = None

    @classmethod
    def of(cls, columns: str | Sequence[str] | None = None,
           drop: str | Sequence[str] | None = None, id_column: str | None = None,
           ) -> Selection:
        """Check the names given to a reader; a string is split on commas."""
        if id_column is not None and (not isinstance(id_column, str) or not id_column):
            raise InvalidInputError(f"{_FLAGS['id_column']} takes one column name; got "
                                    f"{id_column!r}.")
        kept = _names(columns, "columns")
        if kept is not None and id_column in kept:
            raise InvalidInputError(f"{id_column!r} is the id column, kept aside: it cannot "
                                    "also be a feature column (--columns).")
        return cls(kept, _names(drop, "drop") or (), id_column)

    @property
    def given(self) -> bool:
        return self.columns is not None or bool(self.drop) or self.id_column is not None

    def _flags(self) -> str:
        given = [flag for name, flag in _FLAGS.items()
                 if getattr(self, name) not in (None, ())]
        return " and ".join(given)

    def refuse(self, path: Path) -> None:
        """For files without column names (arrays, images)."""
        if self.given:
            raise InvalidInputError(f"{self._flags()} choose columns by name in a .csv or "
                                    f".parquet file; {path} has no column names.")

    def resolve(self, path: Path, header: Sequence[str] | None, width: int,
                ) -> tuple[list[int], int | None]:
        """The indices of the feature columns (in output order) and of the id column."""
        if header is None:
            return self._without_header(path, width), None
        leave_out = {*self.drop, self.id_column}
        if self.columns is None:  # by position: duplicate names are fine when not looked up
            keep = [j for j, name in enumerate(header) if name not in leave_out]
        else:
            keep = [self._index(path, header, name) for name in self.columns
                    if name not in leave_out]
        for name in self.drop:
            self._index(path, header, name, unique=False)  # a misspelt name is an error
        id_index = None if self.id_column is None else self._index(path, header, self.id_column)
        if not keep:
            raise InvalidInputError(f"{path}: no feature columns are left after "
                                    f"{self._flags()}.")
        return keep, id_index

    def _without_header(self, path: Path, width: int) -> list[int]:
        if self.drop or self.id_column is not None or (
                self.columns is not None and len(self.columns) != width):
            wanted = [*(self.columns or ()), *self.drop,
                      *([self.id_column] if self.id_column else [])]
            raise InvalidInputError(
                f"{path} has {width} columns and no header row, so the columns "
                f"{_listing(wanted)} cannot be found by name; add a header row of column names.")
        return list(range(width))  # the named columns, positionally: the file has no names

    @staticmethod
    def _index(path: Path, header: Sequence[str], name: str, unique: bool = True) -> int:
        found = [j for j, column in enumerate(header) if column == name]
        if not found:
            raise InvalidInputError(f"{path} has no column {name!r}.{did_you_mean(name, header)} "
                                    f"Its columns: {_listing(header)}.")
        if unique and len(found) > 1:
            raise InvalidInputError(f"{path} has {len(found)} columns named {name!r}: rename "
                                    "them so that each one can be found by name.")
        return found[0]

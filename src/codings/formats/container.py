"""The one file-format module: model files, checkpoints and ONNX exports are written and read
here.

A *container* is a safetensors file whose metadata holds one JSON document (the *header*)
under a key (``"codings"`` for model files, ``"checkpoint"`` for checkpoints). The header
carries a ``"sha256"`` field: the sha256 of the header's canonical JSON without that field,
then of every tensor (name, dtype, shape, bytes, in sorted name order). A changed byte anywhere
in the file, header or weights, is therefore an error, never a silently different model.

Reading trusts nothing: the file must be a regular file (a link to ``/dev/zero`` or a FIFO is
refused before a byte is read); the safetensors header's length, JSON depth and every
declared tensor size are checked against the file's size and sane limits before the tensors
are allocated; nothing is ever unpickled. Every refusal is a :class:`ModelFileError` naming
the file and the problem.

Canonical JSON is ``json.dumps(header, sort_keys=True, separators=(",", ":"),
ensure_ascii=True, allow_nan=True)``: NaN and infinities are allowed (a diverged epoch's loss,
a checkpoint's initial best loss of ``inf``) and round-trip exactly through Python's ``json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from codings.exceptions import ModelFileError

if TYPE_CHECKING:
    import torch

DIGEST_FIELD = "sha256"
MAX_FILE_BYTES = 64 * 2**30  # 64 GiB: far above any model, far below a runaway read
MAX_HEADER_BYTES = 100_000_000  # the limit safetensors itself applies
MAX_JSON_DEPTH = 32
MAX_TENSORS = 100_000
MAX_RANK = 8

# safetensors dtype names and their sizes in bytes.
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2,
             "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
_WRAPPED = (ValueError, TypeError, LookupError, AttributeError, OverflowError, RecursionError)


# -- writing ------------------------------------------------------------------------------------
def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash or a full disk leaves either the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with "xb" (not mkstemp, whose files are mode 0600), so the
    # result gets the usual permissions from the umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def canonical_json(document: Any) -> str:
    """The one JSON spelling of ``document`` that digests are computed over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=True)


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes, in sorted name order."""
    digest = hashlib.sha256()
    _update_with_tensors(digest, tensors)
    return digest.hexdigest()


def container_digest(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """sha256 of the header's canonical JSON (without its digest field), then the tensors."""
    body = {k: v for k, v in header.items() if k != DIGEST_FIELD}
    digest = hashlib.sha256(canonical_json(body).encode("ascii"))
    digest.update(b"\n")
    _update_with_tensors(digest, tensors)
    return digest.hexdigest()


def _update_with_tensors(digest: Any, tensors: dict[str, torch.Tensor]) -> None:
    import torch

    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())


def write_container(path: Path, tensors: dict[str, torch.Tensor], header: dict[str, Any], *,
                    key: str) -> None:
    """Write ``tensors`` and ``header`` (a JSON-able dict) as one safetensors file, atomically.

    The header is stored under ``key`` in the safetensors metadata with a ``"sha256"`` field
    added that covers the header and the tensors (see the module docstring).
    """
    from safetensors.torch import save

    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    signed = {k: v for k, v in header.items() if k != DIGEST_FIELD}
    signed[DIGEST_FIELD] = container_digest(signed, tensors)
    atomic_write_bytes(Path(path), save(tensors, metadata={key: canonical_json(signed)}))


# -- reading ------------------------------------------------------------------------------------
def open_regular_file(path: Path, what: str, error: type[Exception] = ModelFileError,
                      ) -> tuple[IO[bytes], int]:
    """Open ``path`` for reading only if it is a regular file; returns the handle and its size.

    The check is made on the opened descriptor (no race with a swapped path), and the open
    does not block on a FIFO. A link to ``/dev/zero`` or ``/dev/urandom``, a FIFO, a socket
    or a directory is refused with ``error`` before anything is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{what.capitalize()} not found: {path}") from None
    except IsADirectoryError:
        raise error(f"Expected a {what} but {path} is a directory.") from None
    except OSError as exc:
        raise error(f"Cannot open the {what} {path}: {exc.strerror or exc}.") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise error(f"Expected a {what} but {path} is a directory.")
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise error(f"{path} is not a regular file (a device, FIFO or socket, or a link to "
                    f"one): refusing to read it as a {what}.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def parse_container(path: Path, *, key: str, what: str, max_bytes: int = MAX_FILE_BYTES,
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a container's tensors and header, checking sizes but not the digest.

    Use :func:`read_container`; this is the half that legacy readers share.
    """
    handle, size = open_regular_file(path, what)
    with handle:
        entries, metadata = _read_safetensors_header(handle, size, path, what,
                                                                 max_bytes)
        if key not in metadata:
            raise ModelFileError(f"{path} is a safetensors file but not a codings {what} (no "
                                 f"{key!r} header): it was written by another library.")
        header = parse_json(metadata[key], path, f"{what} header")
        if not isinstance(header, dict):
            raise ModelFileError(f"{path} has a corrupted {what} header: a JSON "
                                 f"{_json_type(header)} where an object was expected.")
        handle.seek(0)
        raw = handle.read(size)
    if len(raw) != size:
        raise ModelFileError(f"{path} changed while it was read (truncated): try again.")
    return _load_tensors(raw, entries, path, what), header


def check_digest(path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor],
                 what: str) -> None:
    """Refuse a container whose header or tensors differ from what was written."""
    recorded = header.get(DIGEST_FIELD)
    if not isinstance(recorded, str):
        raise ModelFileError(f"{path} has no valid {DIGEST_FIELD!r} in its {what} header: "
                             "the file is corrupted or was not written by codings.")
    if recorded != container_digest(header, tensors):
        raise ModelFileError(f"{path} is corrupted: its header or weights do not match the "
                             f"sha256 recorded when the {what} was saved.")


def read_container(path: Path, *, key: str, what: str,
                   validate: Callable[[dict[str, Any]], None] | None = None,
                   max_bytes: int = MAX_FILE_BYTES,
                   ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`write_container`; never unpickles.

    Parameters
    ----------
    path : Path
    key : str
        The metadata key the header was written under.
    what : str
        What the file is ("model file", "checkpoint"), used in messages.
    validate : callable, optional
        Called with the verified header (digest field removed); it raises ``ValueError``,
        ``TypeError``, ``KeyError`` or :class:`ModelFileError` for a header it cannot use,
        which becomes a :class:`ModelFileError` naming the file.
    max_bytes : int
        Larger files are refused before they are read.

    Returns
    -------
    tensors, header : dict of str to Tensor, dict
        The header without its digest field.

    Raises
    ------
    ModelFileError
        For a missing, non-regular, empty, truncated, oversized, foreign or corrupted file, or
        a header that ``validate`` refuses.
    """
    path = Path(path)
    tensors, header = parse_container(path, key=key, what=what, max_bytes=max_bytes)
    check_digest(path, header, tensors, what)
    header = {k: v for k, v in header.items() if k != DIGEST_FIELD}
    if validate is not None:
        run_validator(path, validate, header, what)
    return tensors, header


def run_validator(path: Path, validate: Callable[[dict[str, Any]], None],
                  header: dict[str, Any], what: str) -> None:
    """Call ``validate(header)``; any failure becomes a ModelFileError naming the file."""
    try:
        validate(header)
    except ModelFileError as exc:
        message = str(exc)
        raise ModelFileError(message if str(path) in message
                             else f"{path}: {message}") from exc
    except _WRAPPED as exc:
        raise ModelFileError(f"{path} has an invalid {what} header: "
                             f"{first_line(exc)}") from exc


def check_fields(header: dict[str, Any], fields: Sequence[str],
                 problem: Callable[[str, Any], str | None]) -> None:
    """Raise ValueError unless ``header`` has exactly ``fields``, each passing ``problem``
    (which returns what is wrong with a field's value, or None): the schema walk shared by
    every header kind."""
    missing = [name for name in fields if name not in header]
    unknown = sorted(set(header) - set(fields))
    if missing or unknown:
        raise ValueError(f"missing field(s) {missing}" if missing
                         else f"unknown field(s) {unknown}")
    for name in fields:
        found = problem(name, header[name])
        if found:
            raise ValueError(f"{name!r} {found}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, KeyError):
        return f"missing field {text}"
    return text.splitlines()[0] if text else type(exc).__name__


def parse_json(text: str | bytes, path: Path, what: str, max_depth: int = MAX_JSON_DEPTH,
               ) -> Any:
    """``json.loads`` with its failures (and deep nesting) as a ModelFileError."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise ModelFileError(f"{path} has a corrupted {what}: JSON nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} has a corrupted {what}: {exc}") from None
    if json_depth(document) > max_depth:
        raise ModelFileError(f"{path} has a corrupted {what}: JSON nested more than "
                             f"{max_depth} levels deep.")
    return document


def json_depth(document: Any) -> int:
    """Nesting depth of a parsed JSON value, computed without recursion."""
    if not isinstance(document, dict | list):
        return 0
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return deepest


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _read_safetensors_header(handle: IO[bytes], size: int, path: Path, what: str,
                             max_bytes: int) -> tuple[list[tuple[str, str, list[int], int, int]],
                                                      dict[str, str]]:
    """Check the safetensors header against the file's size before reading the tensors.

    Returns the tensor entries (name, dtype, shape, begin, end) and the metadata.
    """
    if size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes): not a codings {what}.")
    if size > max_bytes:
        raise ModelFileError(f"{path} is {size} bytes, over the {max_bytes}-byte limit for a "
                             f"{what}.")
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise ModelFileError(f"Cannot load {path}: truncated or corrupted ({size} bytes, "
                             "shorter than a safetensors header).")
    length = int.from_bytes(prefix, "little")
    if length > min(MAX_HEADER_BYTES, size - 8):
        limit = "the file's size" if length > size - 8 else f"{MAX_HEADER_BYTES} bytes"
        raise ModelFileError(f"Cannot load {path}: truncated or corrupted, or not a "
                             f"safetensors file (its header claims {length} bytes, over "
                             f"{limit}).")
    raw_header = handle.read(length)
    try:
        text = raw_header.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"Cannot load {path}: not a safetensors file (pickles and other "
                             "formats are never loaded): its header is not UTF-8.") from None
    if not text.lstrip().startswith("{"):
        raise ModelFileError(f"Cannot load {path}: not a safetensors file (pickles and other "
                             "formats are never loaded).")
    document = parse_json(text, path, "safetensors header", max_depth=3)
    if not isinstance(document, dict):
        raise ModelFileError(f"Cannot load {path}: not a safetensors file (its header is a "
                             f"JSON {_json_type(document)}).")
    metadata = document.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{path} has corrupted safetensors metadata (not a table of "
                             "strings).")
    entries = _tensor_entries(document, size - 8 - length, path)
    return entries, metadata


def _tensor_entries(document: dict[str, Any], data_size: int, path: Path,
                    ) -> list[tuple[str, str, list[int], int, int]]:
    """Each declared tensor's dtype x shape must equal its byte range, the ranges must tile
    the data region exactly, and the data region must be what the file holds."""
    if len(document) > MAX_TENSORS:
        raise ModelFileError(f"{path} declares {len(document)} tensors, over the limit of "
                             f"{MAX_TENSORS}.")
    entries = []
    for name, entry in document.items():
        problem = _entry_problem(entry)
        if problem:
            raise ModelFileError(f"Cannot load {path}: corrupted tensor entry {name!r} "
                                 f"({problem}).")
        begin, end = entry["data_offsets"]
        expected = math.prod(entry["shape"]) * _ITEMSIZE[entry["dtype"]]
        if end - begin != expected:
            raise ModelFileError(
                f"Cannot load {path}: tensor {name!r} declares {entry['dtype']} "
                f"{tuple(entry['shape'])} ({expected} bytes) but spans {end - begin} bytes.")
        entries.append((name, entry["dtype"], entry["shape"], begin, end))
    position = 0
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != position:
            raise ModelFileError(f"Cannot load {path}: truncated or corrupted (tensor {name!r} "
                                 f"starts at byte {begin} of the data, expected {position}).")
        position = end
    if position != data_size:
        raise ModelFileError(f"Cannot load {path}: truncated or corrupted (its tensors declare "
                             f"{position} bytes of data, the file holds {data_size}).")
    return entries


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return "expected dtype, shape and data_offsets"
    if entry["dtype"] not in _ITEMSIZE:
        return f"unknown dtype {entry['dtype']!r}"
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(
            _is_count(s) for s in shape):
        return f"shape must be at most {MAX_RANK} non-negative integers"
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(
            _is_count(o) for o in offsets) or offsets[0] > offsets[1]:
        return "data_offsets must be two increasing non-negative integers"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _load_tensors(raw: bytes, entries: list[tuple[str, str, list[int], int, int]],
                  path: Path, what: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(raw)
    except SafetensorError as exc:  # checked above; kept as a second line of defence
        raise ModelFileError(f"Cannot load {path}: truncated or corrupted ({exc}).") from exc
    if set(tensors) != {name for name, *_ in entries}:  # pragma: no cover - defensive
        raise ModelFileError(f"Cannot load {path}: corrupted {what} (tensor names differ).")
    return tensors

"""The pip command that adds an optional extra to *this* installation of codings.

A hint of ``pip install codings[onnx]`` is wrong twice for a user who followed the README: it
fetches codings from the package index instead of extending their checkout, and zsh expands
the unquoted brackets as a glob (``no matches found``). So the hint is built from how codings
was installed (PEP 610's ``direct_url.json``): a local directory, editable or not, gets
``pip install -e "<dir>[extra]"`` (or without ``-e``); anything else gets the quoted index
form. Stdlib only: called from error paths, it must not fail itself.
"""

from __future__ import annotations

import json
from importlib import metadata
from urllib.parse import unquote, urlparse

__all__ = ["install_hint"]


def _local_source() -> tuple[str, bool] | None:
    """The directory codings was installed from and whether editably, or None."""
    try:
        text = metadata.distribution("codings").read_text("direct_url.json")
        record = json.loads(text) if text else {}
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return None
    url = urlparse(str(record.get("url", "")))
    if url.scheme != "file" or "dir_info" not in record:
        return None
    return unquote(url.path), bool(record["dir_info"].get("editable", False))


def install_hint(extra: str) -> str:
    """``pip install ...`` adding the extra ``extra`` the way codings was installed.

    Parameters
    ----------
    extra : str
        An optional-dependency group of the project (``onnx``, ``tensorboard``, ...).

    Returns
    -------
    str
        A shell command, quoted so that bash and zsh both run it unchanged.
    """
    local = _local_source()
    if local is None:
        return f'pip install "codings[{extra}]"'
    path, editable = local
    return f'pip install {"-e " if editable else ""}"{path}[{extra}]"'

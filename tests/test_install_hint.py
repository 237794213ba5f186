"""Install hints name the command that works for how codings was installed (PEP 610)."""

from __future__ import annotations

import json
import shlex
from importlib import metadata
from typing import Any

import pytest

from codings import _install


class _Dist:
    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.record is None else json.dumps(self.record)


@pytest.mark.parametrize(("record", "expected"), [
    ({"url": "file:///home/me/codings", "dir_info": {"editable": True}},
     'pip install -e "/home/me/codings[onnx]"'),
    ({"url": "file:///home/me/my%20code", "dir_info": {}},
     'pip install "/home/me/my code[onnx]"'),
    ({"url": "https://files.example/codings-1.0.whl", "archive_info": {}},
     'pip install "codings[onnx]"'),
    (None, 'pip install "codings[onnx]"'),
])
def test_hint_follows_the_installation(monkeypatch: pytest.MonkeyPatch,
                                       record: dict[str, Any] | None, expected: str) -> None:
    monkeypatch.setattr(_install.metadata, "distribution", lambda name: _Dist(record))
    hint = _install.install_hint("onnx")
    assert hint == expected
    # One shell word carries the brackets, so zsh does not glob them.
    assert any(word.endswith("[onnx]") for word in shlex.split(hint))


def test_hint_survives_a_missing_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_install.metadata, "distribution", missing)
    assert _install.install_hint("tensorboard") == 'pip install "codings[tensorboard]"'


def test_this_checkout_gets_an_editable_hint() -> None:
    # The suite runs from the README's `pip install -e ".[dev]"`.
    hint = _install.install_hint("onnx")
    assert hint.startswith('pip install -e "') and hint.endswith('[onnx]"')

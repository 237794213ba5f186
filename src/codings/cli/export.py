"""``codings export MODEL --format onnx -o DIR``: the encoder and decoder as ONNX files."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codings._install import install_hint
from codings.cli.apply import load_autoencoder
from codings.cli.files import refuse_overwriting_inputs
from codings.exceptions import InvalidInputError

_MODULE = "codings.formats.onnx"
ONNX_FILES = ("encoder.onnx", "decoder.onnx")


def _exporter() -> Any:
    try:
        from codings.formats.onnx import export_onnx
    except ModuleNotFoundError as exc:
        if exc.name == _MODULE:
            raise InvalidInputError(f"ONNX export is not available in this installation of "
                                    f"codings ({_MODULE} is missing); upgrade codings.") from None
        raise InvalidInputError(f"ONNX export needs the {exc.name} package: "
                                f"{install_hint('onnx')}") from None
    return export_onnx


def _output_dir(path: str) -> Path:
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"Cannot export to {directory}: it is a file, not a folder.")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def export(args: argparse.Namespace) -> int:
    export_onnx = _exporter()  # before loading the model: a missing exporter costs nothing
    for name in ONNX_FILES:
        refuse_overwriting_inputs(Path(args.output) / name, [args.model])
    model = load_autoencoder(args.model, "export")
    directory = _output_dir(args.output)
    try:
        written = export_onnx(model, directory)
    except ImportError as exc:  # onnx or onnxscript missing
        raise InvalidInputError(str(exc)) from None  # names the packages and the install
    files = [str(p) for p in (written.values() if isinstance(written, Mapping) else written)] \
        if isinstance(written, Mapping | Iterable) and not isinstance(written, str | Path) else []
    print(f"Exported {args.model} as ONNX to {directory}"
          + (f": {', '.join(files)}" if files else ""))
    return 0

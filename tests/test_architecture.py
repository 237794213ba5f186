"""Imports flow one way: nn <- constraints <- training <- estimators <- plotting <- cli."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "codings"
LAYERS = ["exceptions", "_install", "_params", "_threads", "_fileio", "nn", "constraints",
          "training", "datasets", "estimators", "diagnostics", "plotting", "report", "tour", "cli"]
# datasets sits beside the estimators: it may use the errors, not the torch model code.
ALLOWED = {layer: set(LAYERS[:i + 1]) for i, layer in enumerate(LAYERS)}
ALLOWED["datasets"] = {"exceptions", "_install", "_params", "_fileio", "datasets"}
ALLOWED["_version"] = {"_version"}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "codings" and len(parts) > 1:
                found.add(parts[1])
    return found - {"_version"}


def test_no_module_imports_from_a_layer_to_its_right():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        layer = _layer(path)
        if layer not in ALLOWED:
            continue
        for imported in _imported_layers(path) - ALLOWED[layer]:
            wrong.append(f"{path.relative_to(PACKAGE)} imports codings.{imported}")
    assert not wrong, "\n".join(wrong)


def test_every_layer_is_known():
    top = {_layer(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__", "_version"}
    assert top <= set(LAYERS), top - set(LAYERS)

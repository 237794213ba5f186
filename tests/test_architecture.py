"""The floor plan: imports flow one way between layers, no module imports itself back through
others (function-local imports count), and the lower layers use few third-party packages.

Layers, lowest first: exceptions, _install, _params, _threads, formats (the files users keep;
no estimator class), nn, constraints, training, datasets, estimators, diagnostics, plotting,
report, tour, cli.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "codings"
LAYERS = ["exceptions", "_install", "_params", "_threads", "formats", "nn", "constraints",
          "training", "datasets", "estimators", "diagnostics", "plotting", "report", "tour",
          "cli"]
# datasets sits beside the estimators: it may use the errors and the file checks, not the
# torch model code.
ALLOWED = {layer: set(LAYERS[:i + 1]) for i, layer in enumerate(LAYERS)}
ALLOWED["datasets"] = {"exceptions", "_install", "_params", "formats", "datasets"}
ALLOWED["_version"] = {"_version"}
# Third-party packages a layer may import (the standard library is always allowed).
THIRD_PARTY = {
    "nn": {"torch"},
    "constraints": {"torch"},
    # tqdm draws the progress bar; TensorBoard's figures are passed in (see plotting)
    "training": {"torch", "numpy", "tqdm"},
    "formats": {"torch", "numpy", "safetensors", "sklearn", "onnx", "onnxscript"},
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Every module name imported anywhere in the file, at the top or inside a function."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _imported_layers(path: Path) -> set[str]:
    found = set()
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "codings" and len(parts) > 1:
            found.add(parts[1])
    return found - {"_version"}


def _graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, at the top or inside a function (``from a
    import b`` counts ``a.b`` when that is a module, else ``a``)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in paths
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name].update(t for t in targets if t in paths and t != name)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


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


def test_no_import_circle_anywhere():
    circles = _circles(_graph())
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_finder_sees_a_circle_through_a_function_local_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_lower_layers_use_only_their_third_party_packages():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        allowed = THIRD_PARTY.get(_layer(path))
        if allowed is None:
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if top not in stdlib and top != "codings" and top not in allowed:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_formats_never_import_an_estimator():
    wrong = [f"{p.relative_to(PACKAGE)} imports {name}"
             for p in (PACKAGE / "formats").rglob("*.py") for name in _imports(p)
             if name.startswith("codings.estimators")]
    assert not wrong, "\n".join(wrong)



def test_no_source_file_is_over_450_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long


def _fitted_assignments(path: Path) -> list[str]:
    """``x.name_ = ...`` (and ``setattr(x, "name_", ...)``) of a public fitted attribute."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.AnnAssign) else []
        names = [t.attr for t in targets if isinstance(t, ast.Attribute)]
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and len(
                node.args) > 1 and isinstance(node.args[1], ast.Constant):
            names.append(str(node.args[1].value))
        found += [f"{path.name}:{node.lineno} sets {n}" for n in names
                  if n.endswith("_") and not n.startswith("_")]
    return found


def test_the_command_line_never_sets_a_fitted_attribute():
    found = [f for p in (PACKAGE / "cli").rglob("*.py") for f in _fitted_assignments(p)]
    assert not found, "\n".join(found)


def test_the_fitted_attribute_finder_sees_assignments(tmp_path: Path):
    source = tmp_path / "m.py"
    source.write_text("model.offset_ = 1\nsetattr(model, 'window_', 2)\nmodel._x_ = 3\n")
    assert _fitted_assignments(source) == ["m.py:1 sets offset_", "m.py:2 sets window_"]

"""The example notebooks run top to bottom on the embedded data, with their figures displayed
inline and the estimator's HTML representation working.

How long they take is a benchmark's question, not a test's: the cell timeout only guards
against a hang.

Needs nbclient, nbformat and ipykernel (the dev extra); skips without them, except under
``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
HANG_S = 600  # per cell; only a hung kernel gets near it


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is missing; CI installs it with the dev extra.")
        pytest.skip(f"{module} is not installed")


EXPECTED = {"01_pca_with_a_linear_autoencoder", "02_stacked_and_tied_autoencoders",
            "03_denoising_and_sparse_autoencoders", "04_variational_autoencoders",
            "05_pretraining_and_anomaly_detection", "06_learning_from_few_labels",
            "07_adversarial_and_generative_sampling", "08_time_series_anomalies"}


def test_the_notebooks_are_there_stored_without_outputs() -> None:
    assert EXPECTED <= {path.stem for path in NOTEBOOKS}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code), \
            f"{path.name} is stored with outputs: clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("nbclient", "nbformat", "ipykernel"):
        _require(module)
    import nbformat
    from nbclient import NotebookClient

    # As a user's kernel: matplotlib's own default backend, one torch thread.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=HANG_S, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    figures = [o for o in outputs
               if re.match(r"<\w*Figure size", o.get("data", {}).get("text/plain", ""))]
    assert figures, "no figure was shown"
    for output in figures:
        assert "image/png" in output["data"], "a figure was shown as text, not inline"
    for output in outputs:
        assert "\r" not in output.get("text", ""), "carriage returns in the output"
    if path.name.startswith("01_"):  # the cell that evaluates the estimator
        html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
        assert any("AutoEncoder" in h for h in html), "no HTML representation of the estimator"

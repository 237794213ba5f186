"""The TensorBoard callback: what a user sees in TensorBoard, from Python and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from codings import AutoEncoder
from codings.cli import main
from codings.training import TensorBoard

pytest.importorskip("tensorboard")


def _events(log_dir) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {tag: [e.value for e in accumulator.Scalars(tag)] for tag in tags["scalars"]}
    return {"scalars": scalars, "images": {t: len(accumulator.Images(t))
                                           for t in tags["images"]}}


def test_every_term_the_rate_and_figures_are_logged(tmp_path):
    from codings import Sparsity

    X = np.random.default_rng(0).uniform(size=(64, 16)).astype(np.float32)
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(8,), max_iter=4, random_state=0,
                     coding_activation="sigmoid", early_stopping=True,
                     constraints=(Sparsity(),))
    ae.fit(X, callbacks=[TensorBoard(tmp_path, figure_every=2)])
    events = _events(tmp_path)
    for term in ("loss", "reconstruction", "sparsity"):
        assert events["scalars"][f"loss/{term}"] == pytest.approx(ae.history_[term])
        assert events["scalars"][f"val/{term}"] == pytest.approx(ae.history_[f"val_{term}"])
    assert events["scalars"]["lr"] == pytest.approx(ae.history_["lr"])
    assert events["images"] == {"reconstructions": 2}  # epochs 2 and 4


def test_cli_fit_writes_tensorboard_events(tmp_path, capsys):
    code = main(["fit", "--max-iter", "2", "--runs-dir", str(tmp_path), "--name", "tb",
                 "--tensorboard", str(tmp_path / "tb"), "-q"])
    assert code == 0, capsys.readouterr().err
    events = _events(tmp_path / "tb")
    assert len(events["scalars"]["loss/loss"]) == 2

"""The outlier threshold belongs to the model: codings fit sets it from the training rows,
the model file carries it, codings score and codings.load use it."""

from __future__ import annotations

import numpy as np

from codings import AnomalyDetector, load
from codings.cli import main
from codings.datasets import load_digits


def test_fit_stores_the_threshold_and_score_uses_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--max-iter", "3", "--hidden-layer-sizes", "16", "--name", "m",
                 "--random-state", "0", "-q"]) == 0
    model = load("runs/m/model.safetensors")
    autoencoder = model[-1]
    X = load_digits().data
    expected = AnomalyDetector(model, contamination=0.1).fit(X).offset_
    assert autoencoder.offset_ == expected  # the 10% quantile of the training rows' scores
    # 20 rows of pure noise: all are far from the digits, and all are flagged, because the
    # threshold is the model's, not a share of the scored file.
    noise = np.random.default_rng(0).uniform(0, 16, size=(20, 64))
    np.save("noise.npy", noise)
    assert main(["score", "runs/m/model.safetensors", "noise.npy", "-o", "s.csv"]) == 0
    table = np.loadtxt("s.csv", delimiter=",", skiprows=1)
    assert table.shape == (20, 2) and table[:, 1].sum() == 20
    assert "the model's threshold" in capsys.readouterr().out
    # Flagging a share of the scored file happens only on request.
    assert main(["score", "runs/m/model.safetensors", "noise.npy", "-o", "t.csv",
                 "--contamination", "0.1"]) == 0
    assert np.loadtxt("t.csv", delimiter=",", skiprows=1)[:, 1].sum() == 2
    # What load returns scores and predicts with the same threshold.
    detector = AnomalyDetector.from_model(model)
    assert detector.offset_ == expected
    assert (detector.predict(noise) == -1).all()

"""Tour step: an autoencoder of signal windows flags the time steps that do not fit."""

from __future__ import annotations

import time

import numpy as np

from codings.estimators import AutoEncoder
from codings.plotting.series import plot_timestep_scores
from codings.report import Section
from codings.tour._context import Context

_WINDOW = 48
_CONTAMINATION = 0.01


def noisy_signal(n_steps: int, rng: np.random.Generator, periods: tuple[float, float] = (12, 30),
                 start: int = 0) -> np.ndarray:
    """``sin(2 pi t / p1) + 0.5 sin(2 pi t / p2)`` plus Gaussian noise of deviation 0.1."""
    t = np.arange(start, start + n_steps)
    return (np.sin(2 * np.pi * t / periods[0]) + 0.5 * np.sin(2 * np.pi * t / periods[1])
            + 0.1 * rng.standard_normal(n_steps))


def with_anomalies(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """1,200 steps of the signal with a spike, a level shift, a frequency change and a flat
    line; True marks the anomalous steps."""
    x, truth = noisy_signal(1200, rng), np.zeros(1200, dtype=bool)
    x[200:203] += 3.0  # spike
    x[450:510] += 1.5  # level shift
    x[700:760] = noisy_signal(60, rng, (6, 15), start=700)  # twice the frequencies
    x[950:1010] = x[950]  # flat line
    for span in (slice(200, 203), slice(450, 510), slice(700, 760), slice(950, 1010)):
        truth[span] = True
    return x, truth


def time_series(ctx: Context, section: Section) -> None:
    from sklearn.metrics import roc_auc_score

    from codings.estimators.detector import AnomalyDetector

    section.text(
        "Sequences work the same way. `architecture=\"conv1d\"` (or the recurrent "
        "`\"lstm\"` and `\"gru\"`) takes windows `(n, timesteps, channels)`; "
        "`AnomalyDetector.fit_timesteps(series, window)` trains on the windows of a normal "
        "series and `score_timesteps` gives every time step a score: minus the mean, over the "
        "windows covering the step, of their reconstruction error at that step. Here the "
        f"model trains on windows of {_WINDOW} steps of 1,200 steps of a noisy two-period "
        "sine; another stretch of the signal holds a spike, a level shift, a frequency "
        "change and a flat line.")
    rng = np.random.default_rng(0)
    train = noisy_signal(1200, rng)
    test, truth = with_anomalies(rng)
    model = AutoEncoder(architecture="conv1d", n_components=8, hidden_layer_sizes=(32,),
                        max_iter=ctx.fixed_epochs(60), random_state=0)
    started = time.perf_counter()
    detector = AnomalyDetector(model, contamination=_CONTAMINATION).fit_timesteps(
        train, _WINDOW, stride=2)
    ctx.timings["conv1d on signal windows"] = time.perf_counter() - started
    scores = detector.score_timesteps(test)
    flagged = scores < detector.offset_
    section.figure(plot_timestep_scores(test, scores, detector.offset_, truth=truth),
                   "Top: the test signal, the injected anomalies shaded and the flagged steps "
                   "in red. Bottom: each step's reconstruction error and the threshold (the "
                   f"training steps' {1 - _CONTAMINATION:.0%} quantile).")
    section.table([("ROC AUC over the time steps", f"{roc_auc_score(truth, -scores):.3f}"),
                   ("anomalous steps flagged", f"{flagged[truth].mean():.1%}"),
                   ("normal steps flagged", f"{flagged[~truth].mean():.1%}")])
    section.text("A step next to an anomaly shares windows with it, so the flags spill a "
                 "little past each anomaly; a smaller window localises better and sees less "
                 "context. `benchmarks/timeseries.py` compares the architectures with PCA, "
                 "a rolling z-score and the matrix profile.")

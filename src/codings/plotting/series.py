"""A time series above its per-time-step anomaly scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in ``mask``."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _shade(ax: Axes, mask: np.ndarray, label: str) -> None:
    for i, (start, stop) in enumerate(_spans(mask)):
        ax.axvspan(start - 0.5, stop - 0.5, color="C1", alpha=0.2, linewidth=0,
                   label=label if i == 0 else None)


def plot_timestep_scores(series: Any, scores: Any, threshold: float | None = None, *,
                         truth: Any = None) -> Figure:
    """The series on top; below, its anomaly score per time step and the threshold.

    Parameters
    ----------
    series : array-like of shape (timesteps,) or (timesteps, channels)
    scores : array-like of shape (timesteps,)
        ``AnomalyDetector.score_timesteps(series)``: higher is more normal. Minus the scores
        (the reconstruction errors) are drawn, on a log scale when all are positive.
    threshold : float, optional
        ``offset_``: the steps scoring below it are marked on the series.
    truth : array-like of bool of shape (timesteps,), optional
        The known anomalous steps, shaded on both panels.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    values = np.asarray(series, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    error = -np.asarray(scores, dtype=np.float64).ravel()
    if values.ndim != 2 or error.shape != (values.shape[0],):
        raise InvalidInputError(
            f"plot_timestep_scores needs one score per time step: a series of shape "
            f"{np.shape(series)} and scores of shape {np.shape(scores)}.")
    steps = np.arange(len(error))
    fig = new_figure(9.0, 4.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.plot(steps, values, linewidth=0.8)
    bottom.plot(steps, error, color="k", linewidth=0.8)
    if truth is not None:
        for ax in (top, bottom):
            _shade(ax, np.asarray(truth, dtype=bool), "known anomaly")
    if threshold is not None:
        flagged = error > -threshold
        bottom.axhline(-threshold, color="C3", linestyle="--", linewidth=1, label="threshold")
        top.plot(steps[flagged], values[flagged, 0], "o", color="C3", markersize=2.5,
                 label="flagged")
    if error.min() > 0:
        bottom.set_yscale("log")
    top.set(ylabel="value")
    bottom.set(xlabel="time step", ylabel="reconstruction error")
    for ax in (top, bottom):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small")
    return fig

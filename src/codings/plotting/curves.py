"""Training curves: every loss term of a history on one set of axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Bookkeeping columns of the history, not loss terms.
_NOT_TERMS = frozenset({"lr", "time", "epoch"})


def _loss_terms(history: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    terms = {name: np.asarray(values, dtype=np.float64) for name, values in history.items()
             if name not in _NOT_TERMS}
    if not terms or not any(values.size for values in terms.values()):
        raise InvalidInputError("The history has no loss values to plot; expected a dict such "
                                "as AutoEncoder.history_ with 'loss' and one value per epoch.")
    # matplotlib drops NaN but draws inf off the chart: make both gaps.
    return {name: np.where(np.isfinite(v), v, np.nan) for name, v in terms.items()}


def plot_loss_curve(history: Mapping[str, Sequence[float]]) -> Figure:
    """Plot each loss term per epoch: the total, the reconstruction and each penalty.

    Validation terms (``val_*``) are dashed, in the colour of their training term; ``lr`` and
    ``time`` are skipped. The y axis is logarithmic when every value is positive.

    Parameters
    ----------
    history : dict of str to sequence of float
        Per-epoch values, as ``AutoEncoder.history_``.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    terms = _loss_terms(history)
    bases = list(dict.fromkeys(name.removeprefix("val_") for name in terms))
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    for name, values in terms.items():
        base = name.removeprefix("val_")
        epochs = np.arange(1, values.size + 1)
        ax.plot(epochs, values, label=name, color=f"C{bases.index(base) % 10}",
                linestyle="--" if name != base else "-", marker="o" if values.size < 2 else None)
    finite = np.concatenate([v[np.isfinite(v)] for v in terms.values()])
    if finite.size and (finite > 0).all():
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="loss", title="Training history")
    ax.legend()
    return fig

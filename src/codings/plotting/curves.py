"""Training curves: every loss term of a history, one set of axes per training phase."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Bookkeeping columns of the history, not loss terms.
_NOT_TERMS = frozenset({"lr", "time", "epoch"})
_PHASE = re.compile(r"phase(\d+)_")


def _loss_terms(history: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    terms = {name: np.asarray(values, dtype=np.float64) for name, values in history.items()
             if name not in _NOT_TERMS}
    if not terms or not any(values.size for values in terms.values()):
        raise InvalidInputError("The history has no loss values to plot; expected a dict such "
                                "as AutoEncoder.history_ with 'loss' and one value per epoch.")
    # matplotlib drops NaN but draws inf off the chart: make both gaps.
    return {name: np.where(np.isfinite(v), v, np.nan) for name, v in terms.items()}


def _phases(terms: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Terms grouped by training phase: ``phase1_loss`` goes to ``"phase 1"``; the whole
    network's terms (no prefix) come last."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for name, values in terms.items():
        match = _PHASE.match(name)
        title = f"phase {match.group(1)}" if match else ""
        groups.setdefault(title, {})[name[match.end():] if match else name] = values
    whole = groups.pop("", None)
    if whole is not None:
        groups["whole network" if groups else ""] = whole
    return groups


def _without_duplicates(terms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop ``loss`` (and ``val_loss``) where it equals the reconstruction term: without a
    penalty they are one curve, drawn twice under two legend entries."""
    kept = dict(terms)
    for prefix in ("", "val_"):
        loss, reconstruction = kept.get(prefix + "loss"), kept.get(prefix + "reconstruction")
        if loss is not None and reconstruction is not None and loss.shape == \
                reconstruction.shape and np.allclose(loss, reconstruction, equal_nan=True):
            del kept[prefix + "loss"]
    return kept


def _draw_terms(ax: Any, terms: dict[str, np.ndarray], unit: str | None) -> None:
    from matplotlib.ticker import MaxNLocator

    bases = list(dict.fromkeys(name.removeprefix("val_") for name in terms))
    for name, values in terms.items():
        base = name.removeprefix("val_")
        epochs = np.arange(1, values.size + 1)
        ax.plot(epochs, values, label=name, color=f"C{bases.index(base) % 10}",
                linestyle="--" if name != base else "-", marker="o" if values.size < 2 else None)
    finite = np.concatenate([v[np.isfinite(v)] for v in terms.values()])
    # A log axis only pays when the values span decades; over a narrower range its only tick
    # labels are crowded minor ones.
    if finite.size and (finite > 0).all() and finite.max() > 30 * finite.min():
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel=f"loss ({unit})" if unit else "loss")
    ax.legend(fontsize="small")


def plot_loss_curve(history: Mapping[str, Sequence[float]], unit: str | None = None) -> Figure:
    """Plot each loss term per epoch: the total, the reconstruction and each penalty.

    Validation terms (``val_*``) are dashed, in the colour of their training term; ``lr`` and
    ``time`` are skipped, and so is ``loss`` where it equals ``reconstruction`` (no penalty).
    Layer-wise phases (``phase1_*``, ...) get their own axes, beside the whole network's.
    The y axis is logarithmic when the values are positive and span more than 30x.

    Parameters
    ----------
    history : dict of str to sequence of float
        Per-epoch values, as ``AutoEncoder.history_``.
    unit : str, optional
        What the values measure, for the y label (e.g. "mean per feature" or "nats per
        sample").

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    groups = _phases(_loss_terms(history))
    fig = new_figure(min(4.2 * len(groups), 12.8), 4.0)
    axes = np.atleast_1d(fig.subplots(1, len(groups), squeeze=False)[0])
    for ax, (title, terms) in zip(axes, groups.items(), strict=True):
        _draw_terms(ax, _without_duplicates(terms), unit)
        ax.set_title(title or "Training history")
    if len(groups) > 1:
        fig.suptitle("Training history: each layer-wise phase, then the whole network")
    return fig

"""Sparsity diagnostics: the cost curves of the chapter and histograms of coding activations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import as_samples, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_sparsity_costs(target: float = 0.1) -> Figure:
    """KL divergence, squared error and absolute error against the mean activation ``q``.

    Reproduces the chapter's figure: KL(target || q) has much steeper gradients than the
    squared error near 0 and 1, which is why it pushes the mean activation towards the target.
    """
    if not 0 < target < 1:
        raise InvalidInputError(f"target must be in (0, 1), got {target!r}.")
    q = np.linspace(0.001, 0.999, 500)
    p = target
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    ax.plot(q, kl, label="KL divergence")
    ax.plot(q, (q - p) ** 2, label="squared error")
    ax.plot(q, np.abs(q - p), label="absolute error")
    ax.axvline(p, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel="mean activation q", ylabel="cost", ylim=(0, 0.95),
           title=f"Sparsity costs for target {p:g}")
    ax.legend()
    return fig


def plot_activation_histograms(Z: Any, bins: int = 40) -> Figure:
    """Two histograms of codings ``Z`` (n_samples, n_units): every activation, and each
    unit's mean activation. A sparse code piles activations near zero and keeps unit means
    small.
    """
    Z = as_samples(Z, "Z")
    fig = new_figure(9.0, 3.5)
    left, right = fig.subplots(1, 2)
    left.hist(Z.ravel(), bins=bins, color="C0")
    left.set(xlabel="activation", ylabel="count", title="All activations")
    right.hist(Z.mean(axis=0), bins=bins, color="C1")
    right.set(xlabel="mean activation of a unit", ylabel="units", title="Per-unit means")
    return fig

"""The coding space: a 2-D scatter of the codings, coloured by label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import as_samples, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_MAX_LEGEND_CLASSES = 20


def _project_2d(Z: np.ndarray) -> tuple[np.ndarray, str, tuple[str, str]]:
    """Two plottable columns, a title saying how they were obtained, and axis labels."""
    if Z.shape[1] == 2:
        return Z, "Codings", ("z0", "z1")
    if Z.shape[1] == 1:
        # A strip plot: the coding on x, a fixed jitter on y to show the density.
        jitter = np.random.default_rng(0).uniform(-0.5, 0.5, Z.shape[0])
        return (np.column_stack([Z[:, 0], jitter]), "1-D codings (vertical jitter only)",
                ("z0", ""))
    # PCA by SVD: the two directions of largest variance of the codings.
    centered = Z - Z.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    variance = s**2
    share = variance[:2].sum() / variance.sum() if variance.sum() > 0 else 1.0
    return (centered @ vt[:2].T,
            f"{Z.shape[1]}-D codings projected to 2-D with PCA ({share:.0%} of the variance)",
            ("principal component 1", "principal component 2"))


def _is_discrete(labels: np.ndarray) -> bool:
    if labels.dtype.kind in "biuOSU":
        return True
    return labels.dtype.kind == "f" and bool(np.all(labels == np.round(labels)))


def _color_by(fig: Figure, ax: Axes, xy: np.ndarray, labels: np.ndarray, name: str) -> None:
    """A legend for a few classes; a colorbar for values or for many classes."""
    classes, codes = np.unique(labels, return_inverse=True)
    if _is_discrete(labels) and classes.size <= _MAX_LEGEND_CLASSES:
        from matplotlib import colormaps

        colors = colormaps["tab10" if classes.size <= 10 else "tab20"]
        for index, value in enumerate(classes):
            mask = codes == index
            ax.scatter(xy[mask, 0], xy[mask, 1], s=6, color=colors(index), label=str(value))
        ax.legend(title=name, markerscale=2, fontsize="small", loc="best")
        return
    numeric = labels.dtype.kind in "biuf"
    points = ax.scatter(xy[:, 0], xy[:, 1], s=6,
                        c=labels.astype(np.float64) if numeric else codes)
    fig.colorbar(points, ax=ax, label=name if numeric else f"{name} (class index)")


def plot_codings_2d(Z: Any, labels: Any = None, *, label_name: str = "label") -> Figure:
    """Scatter the codings, coloured by label.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        Codings; more than two columns are projected onto their first two principal
        components (the title says so), one column is drawn as a strip.
    labels : array-like of shape (n_samples,), optional
        Classes (at most 20 get a legend) or a continuous value (a colorbar).
    label_name : str, default="label"
        Title of the legend or colorbar.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes, plus one for the colorbar when there is one.
    """
    Z = as_samples(Z, "Z")
    xy, title, (xlabel, ylabel) = _project_2d(Z)
    fig = new_figure(6.0, 5.0)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=6, color="C0")
    else:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != Z.shape[0]:
            raise InvalidInputError(f"labels has {labels.shape[0]} entries but Z has "
                                    f"{Z.shape[0]} rows; give one label per sample.")
        _color_by(fig, ax, xy, labels, label_name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig

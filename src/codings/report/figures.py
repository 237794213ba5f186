"""Figures the reports need beyond :mod:`codings.plotting`: labelled rows of images, a table's
reconstructions column by column, score histograms, bar charts and the 3-D view of the PCA
demo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from codings.exceptions import InvalidInputError
from codings.plotting._base import as_samples, check_image_shape, new_figure, show_image, to_image

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_image_rows(rows: Mapping[str, Any], image_shape: Sequence[int],
                    title: str | None = None, *, share_range: bool = True) -> Figure:
    """One row of images per entry of ``rows``, labelled on the left.

    Parameters
    ----------
    rows : dict of str to array-like of shape (n_images, n_features)
        Row label -> images (flat or shaped); rows may differ in length.
    image_shape : tuple of int
    title : str, optional
    share_range : bool, default=True
        Draw every grey image with the same colour range (the range of all rows), so a faint
        reconstruction looks faint; False scales each row to its own range.
    """
    if not rows:
        raise InvalidInputError("plot_image_rows needs at least one row of images.")
    flat = {label: as_samples(images, label) for label, images in rows.items()}
    shape = check_image_shape(image_shape, next(iter(flat.values())).shape[1])
    n_cols = max(images.shape[0] for images in flat.values())
    everything = np.concatenate([images.ravel() for images in flat.values()])
    fig = new_figure(0.9 * n_cols + 1.4, 0.95 * len(flat) + (0.4 if title else 0.1),
                     layout=None)
    axes = fig.subplots(len(flat), n_cols, squeeze=False)
    for r, (label, images) in enumerate(flat.items()):
        values = everything if share_range else images
        low, high = float(values.min()), float(values.max())
        for c in range(n_cols):
            ax = axes[r, c]
            if c < images.shape[0]:
                show_image(ax, to_image(images[c], shape, low, high), low, high)
            else:
                ax.set_axis_off()
        axes[r, 0].text(-0.08, 0.5, label, transform=axes[r, 0].transAxes, ha="right",
                        va="center", fontsize=9)
    top = 1.0 - 0.45 / fig.get_figheight() if title else 0.98
    fig.subplots_adjust(left=1.3 / fig.get_figwidth(), right=0.99, bottom=0.02, top=top,
                        wspace=0.06, hspace=0.08)
    if title:
        fig.suptitle(title)
    return fig


def plot_score_histogram(scores: Mapping[str, Any] | Any, threshold: float | None = None,
                         *, xlabel: str = "score (higher is more typical)") -> Figure:
    """Histogram of anomaly scores: one array, or several groups (e.g. normal vs anomalies),
    with an optional vertical line at the outlier threshold. The lowest 0.5% of the scores
    are drawn in the leftmost bin, so that a few extreme ones do not hide the rest."""
    groups = dict(scores) if isinstance(scores, Mapping) else {"samples": scores}
    arrays = {name: np.asarray(values, dtype=np.float64).ravel()
              for name, values in groups.items()}
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays.values()])
    if finite.size == 0:
        raise InvalidInputError("plot_score_histogram needs at least one finite score.")
    # A few extreme scores would squeeze everything else into one bin: those below the 0.5th
    # percentile are drawn in the leftmost bin.
    low = float(np.quantile(finite, 0.005))
    bins = list(np.histogram_bin_edges(finite[finite >= low], bins=40))
    fig = new_figure(6.4, 3.6)
    ax = fig.subplots()
    for index, (name, values) in enumerate(arrays.items()):
        ax.hist(np.clip(values[np.isfinite(values)], bins[0], bins[-1]), bins=bins, alpha=0.6,
                color=f"C{index}", label=name)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label="threshold")
    ax.set(xlabel=xlabel, ylabel="samples")
    if len(arrays) > 1 or threshold is not None:
        ax.legend()
    return fig


def standardised_errors(X: Any, X_hat: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column of ``X`` and ``X_hat`` in standard deviations from the column's mean in
    ``X`` (a constant column keeps its raw differences), and each column's root-mean-square
    reconstruction error in those units."""
    X = np.asarray(X, dtype=np.float64)
    X_hat = np.asarray(X_hat, dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    Z, Z_hat = (X - mean) / std, (X_hat - mean) / std
    return Z, Z_hat, np.sqrt(np.mean((Z_hat - Z) ** 2, axis=0))


def plot_table_reconstructions(X: Any, X_hat: Any, names: Sequence[str], *, n_shown: int = 10,
                               max_columns: int = 30) -> Figure:
    """A table's rows and their reconstructions, column by column, in comparable units.

    Every column is drawn in standard deviations from its mean (so a column of incomes does
    not flatten a column of ages), named under it, with its root-mean-square reconstruction
    error over all the rows of ``X`` as a bar below.

    Parameters
    ----------
    X, X_hat : array-like of shape (n_samples, n_columns)
        Originals and reconstructions, in the data's own units.
    names : sequence of str
        The columns' names.
    n_shown : int, default=10
        The first rows drawn as points (originals dots, reconstructions crosses).
    max_columns : int, default=30
        Wider tables show the columns with the largest errors, in their order.
    """
    X, X_hat = as_samples(X, "X"), as_samples(X_hat, "X_hat")
    if X.shape != X_hat.shape or len(names) != X.shape[1]:
        raise InvalidInputError(f"Expected X and X_hat of one shape and a name per column; got "
                                f"{X.shape}, {X_hat.shape} and {len(names)} names.")
    Z, Z_hat, errors = standardised_errors(X, X_hat)
    kept = np.sort(np.argsort(-errors, kind="stable")[:max_columns])
    Z, Z_hat = Z[:n_shown, kept], Z_hat[:n_shown, kept]
    columns = np.arange(kept.size)
    fig = new_figure(max(5.0, 0.45 * kept.size + 1.8), 5.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for i in range(Z.shape[0]):  # a colour per row, the rows side by side in each column
        x = columns + 0.5 * (i + 0.5) / Z.shape[0] - 0.25
        top.vlines(x, Z[i], Z_hat[i], color=f"C{i % 10}", linewidth=0.8)
        top.plot(x, Z[i], "o", color=f"C{i % 10}", markersize=4)
        top.plot(x, Z_hat[i], "x", color=f"C{i % 10}", markersize=5)
    top.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
    top.set(ylabel="standard deviations\nfrom the mean",
            title="Originals (dots) and reconstructions (crosses)")
    bottom.bar(columns, errors[kept], color="C0")
    bottom.set(ylabel="RMS error\n(standard deviations)")
    wide = kept.size > 6
    bottom.set_xticks(columns, [str(names[j]) for j in kept], rotation=45 if wide else 0,
                      ha="right" if wide else "center", fontsize=9)
    return fig


def plot_bars(values: Mapping[str, float], *, ylabel: str, title: str = "",
              fmt: str = "{:.3f}") -> Figure:
    """A labelled bar per entry, its value written above it."""
    fig = new_figure(1.4 * len(values) + 2.0, 3.4)
    ax = fig.subplots()
    names, heights = list(values), [float(v) for v in values.values()]
    bars = ax.bar(range(len(names)), heights, color=[f"C{i}" for i in range(len(names))])
    ax.set_xticks(range(len(names)), names, fontsize=9)
    for bar, height in zip(bars, heights, strict=True):
        ax.annotate(fmt.format(height), (bar.get_x() + bar.get_width() / 2, height),
                    ha="center", va="bottom", fontsize=9)
    ax.set(ylabel=ylabel, title=title)
    ax.margins(y=0.15)
    return fig


def plot_points_3d_and_codings(X: Any, Z: Any, colors: Any = None) -> Figure:
    """The 3-D data (left) beside its 2-D codings (right), points coloured alike."""
    X, Z = as_samples(X, "X"), as_samples(Z, "Z")
    if X.shape[1] != 3 or Z.shape[1] != 2:
        raise InvalidInputError(f"Expected 3-D data and 2-D codings; got {X.shape[1]} and "
                                f"{Z.shape[1]} columns.")
    fig = new_figure(10.0, 4.4)
    left = fig.add_subplot(1, 2, 1, projection="3d")
    left.scatter(X[:, 0], X[:, 1], X[:, 2], c=colors, s=10, cmap="viridis")
    left.set(xlabel="x0", ylabel="x1", zlabel="x2", title="3-D data")
    right = fig.add_subplot(1, 2, 2)
    right.scatter(Z[:, 0], Z[:, 1], c=colors, s=10, cmap="viridis")
    right.set(xlabel="z0", ylabel="z1", title="Its 2-D codings")
    return fig

"""Make docs/pca_demo.png: the chapter's PCA demo (3-D data and its 2-D linear-AE codings).

Left: the standardised 3-D training set with the plane the autoencoder's decoder spans.
Right: the codings of the test set, as in the chapter's ``linear_autoencoder_pca_plot``.
Points are coloured by the angle that generated them, so the unrolled arc is visible.

Run: ``python docs/make_pca_figure.py [--output docs/pca_demo.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D
from sklearn.decomposition import PCA

from codings import AutoEncoder
from codings.datasets import load_demo_3d
from codings.diagnostics import compare_with_pca, decoder_weight


def make_figure(random_state: int = 0) -> Figure:
    data = load_demo_3d()
    half = len(data.train)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(), activation="identity",
                     learning_rate=0.01, max_iter=1000, batch_size=None,
                     random_state=random_state).fit(data.train)
    result = compare_with_pca(ae, data.train, pca=PCA(2).fit(data.train))

    fig = Figure(figsize=(10, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    ax3d.scatter(*data.train.T, c=data.angles[:half], cmap="viridis", s=12, depthshade=False)
    _draw_plane(ax3d, data.train, decoder_weight(ae))
    ax3d.set(xlabel="$x_0$", ylabel="$x_1$", zlabel="$x_2$",
             title="Training set (standardised) and the decoder's plane")
    ax3d.view_init(elev=20, azim=-60)

    codings = ae.transform(data.test)
    ax = fig.add_subplot(1, 2, 2)
    ax.scatter(codings[:, 0], codings[:, 1], c=data.angles[half:], cmap="viridis", s=12)
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title="Test-set codings of the 3-2-3 linear AE")
    ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle(f"Linear autoencoder vs PCA(2): largest angle between their planes "
                 f"{result.max_angle_deg:.2f}°, train MSE {result.mse:.4f} "
                 f"(PCA {result.pca_mse:.4f})")
    return fig


def _draw_plane(ax: Axes3D, X: np.ndarray, weight: np.ndarray) -> None:
    """The plane through X's mean spanned by ``weight``'s columns, over X's extent."""
    basis = np.linalg.qr(weight)[0]
    coords = (X - X.mean(axis=0)) @ basis
    s, t = np.meshgrid(*(np.linspace(c.min(), c.max(), 10) for c in coords.T))
    plane = X.mean(axis=0) + s[..., None] * basis[:, 0] + t[..., None] * basis[:, 1]
    ax.plot_surface(*np.moveaxis(plane, -1, 0), alpha=0.2, color="tab:orange", linewidth=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("pca_demo.png"))
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    make_figure(args.random_state).savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

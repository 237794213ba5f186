"""Figures for autoencoders: loss curves, reconstructions, codings, features, samples, and
per-time-step anomaly scores.

Every function builds a :class:`matplotlib.figure.Figure` directly (never pyplot), so plotting
works headless and leaves no global state; matplotlib is imported only when a function runs.
Save with :func:`save_figure`, or display a figure in a notebook by evaluating it.
"""

from codings.plotting._base import guess_image_shape, save_figure
from codings.plotting.curves import plot_loss_curve
from codings.plotting.images import plot_features, plot_images, plot_reconstructions
from codings.plotting.latent import plot_codings_2d
from codings.plotting.series import plot_timestep_scores
from codings.plotting.sparsity import plot_activation_histograms, plot_sparsity_costs

__all__ = ["guess_image_shape", "plot_activation_histograms", "plot_codings_2d", "plot_features",
           "plot_images", "plot_loss_curve", "plot_reconstructions", "plot_sparsity_costs",
           "plot_timestep_scores", "save_figure"]

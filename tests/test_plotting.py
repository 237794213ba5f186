"""Figures: each function returns a pyplot-free Figure with the expected axes and images."""

from __future__ import annotations

import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from codings.exceptions import InvalidInputError
from codings.plotting import (
    guess_image_shape,
    plot_codings_2d,
    plot_features,
    plot_images,
    plot_loss_curve,
    plot_reconstructions,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def n_images(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 16, size=(12, 64))


def test_loss_curve_draws_each_term_and_dashes_validation():
    history = {"loss": [3.0, 2.0, 1.5], "reconstruction": [2.5, 1.8, 1.4],
               "sparsity": [0.5, 0.2, 0.1], "val_loss": [3.1, 2.2, 1.7],
               "lr": [1e-3] * 3, "time": [0.1] * 3}
    fig = plot_loss_curve(history)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "reconstruction", "sparsity", "val_loss"}
    assert lines["val_loss"].get_linestyle() == "--"
    assert lines["val_loss"].get_color() == lines["loss"].get_color()
    assert ax.get_yscale() == "log"


def test_loss_curve_keeps_a_linear_axis_for_nonpositive_values_and_gaps_nan():
    fig = plot_loss_curve({"loss": [1.0, -0.5, float("nan")]})
    assert fig.axes[0].get_yscale() == "linear"


def test_loss_curve_draws_loss_once_when_it_is_the_reconstruction():
    history = {"reconstruction": [0.9, 0.5, 0.4], "loss": [0.9, 0.5, 0.4],
               "val_reconstruction": [1.0, 0.6, 0.5], "val_loss": [1.0, 0.6, 0.5]}
    (ax,) = plot_loss_curve(history, "mean per feature").axes
    assert [line.get_label() for line in ax.get_lines()] == ["reconstruction",
                                                             "val_reconstruction"]
    assert ax.get_ylabel() == "loss (mean per feature)"
    assert ax.get_yscale() == "linear"  # 0.4 to 1.0: a log axis would show only minor ticks
    assert all(float(t).is_integer() for t in ax.get_xticks())  # epochs are whole numbers


def test_loss_curve_gives_each_layerwise_phase_its_own_axes():
    history = {"phase1_reconstruction": [0.3, 0.2], "phase1_loss": [0.3, 0.2],
               "phase2_reconstruction": [0.9, 0.7], "phase2_loss": [0.9, 0.7],
               "reconstruction": [0.1, 0.05, 0.04], "sparsity": [0.02, 0.01, 0.01],
               "loss": [0.12, 0.06, 0.05]}
    fig = plot_loss_curve(history)
    assert [ax.get_title() for ax in fig.axes] == ["phase 1", "phase 2", "whole network"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["reconstruction"]
    assert {line.get_label() for line in fig.axes[2].get_lines()} == {
        "reconstruction", "sparsity", "loss"}  # a penalty: the total differs, both drawn


def test_loss_curve_without_terms_is_an_error():
    with pytest.raises(InvalidInputError, match="no loss values"):
        plot_loss_curve({"lr": [0.1], "time": [1.0]})


def test_reconstructions_as_images(images):
    fig = plot_reconstructions(images, images * 0.9, (8, 8), n=5)
    assert len(fig.axes) == 10
    assert n_images(fig) == 10


def test_reconstructions_without_image_shape_draw_profiles(images):
    fig = plot_reconstructions(images[:, :6], images[:, :6], None)
    assert len(fig.axes) == 20  # n=10 of 12 samples, two rows
    assert n_images(fig) == 0
    assert all(ax.patches for ax in fig.axes)  # bars for a few features


def test_reconstructions_reject_mismatched_inputs(images):
    with pytest.raises(InvalidInputError, match="same shape"):
        plot_reconstructions(images, images[:, :10], None)
    with pytest.raises(InvalidInputError, match=r"holds 49 values, but each sample has 64"):
        plot_reconstructions(images, images, (7, 7))


@pytest.mark.parametrize("shape", [(3, 4, 4), (4, 4, 3)])
def test_colour_images_channels_first_or_last(shape):
    rgb = np.random.default_rng(0).uniform(0, 255, size=(4, 48))
    fig = plot_reconstructions(rgb, rgb, shape)
    assert fig.axes[0].images[0].get_array().shape == (4, 4, 3)


def test_codings_2d_with_classes_has_a_legend():
    Z = np.random.default_rng(0).normal(size=(60, 2))
    fig = plot_codings_2d(Z, labels=np.arange(60) % 3, label_name="digit")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    assert ax.get_legend().get_title().get_text() == "digit"
    assert ax.get_title() == "Codings"


def test_codings_2d_with_continuous_labels_has_a_colorbar():
    rng = np.random.default_rng(0)
    fig = plot_codings_2d(rng.normal(size=(60, 2)), labels=rng.normal(size=60),
                          label_name="angle")
    assert len(fig.axes) == 2  # the scatter and its colorbar
    assert fig.axes[1].get_ylabel() == "angle"


def test_codings_above_two_dimensions_are_projected_with_pca():
    Z = np.random.default_rng(0).normal(size=(50, 5))
    fig = plot_codings_2d(Z)
    title = fig.axes[0].get_title()
    assert "PCA" in title and "5-D" in title
    offsets = fig.axes[0].collections[0].get_offsets()
    assert offsets.shape == (50, 2)


def test_one_dimensional_codings_and_label_count_check():
    assert "1-D" in plot_codings_2d(np.arange(10.0)[:, None]).axes[0].get_title()
    with pytest.raises(InvalidInputError, match="labels has 3 entries but Z has 10 rows"):
        plot_codings_2d(np.zeros((10, 2)), labels=[0, 1, 2])


def test_features_shows_one_image_per_unit_and_accepts_the_transpose():
    weights = np.random.default_rng(0).normal(size=(20, 64))
    assert n_images(plot_features(weights, (8, 8), n=9)) == 9
    fig = plot_features(weights.T, (8, 8))
    assert len(fig.axes) == n_images(fig) == 20  # unused grid cells are removed


def test_images_grid(images):
    fig = plot_images(images, (8, 8), n_cols=5)
    assert len(fig.axes) == n_images(fig) == 12
    assert n_images(plot_images(images.reshape(12, 8, 8))) == 12
    with pytest.raises(InvalidInputError, match="give image_shape"):
        plot_images(images)


def test_guess_image_shape():
    assert guess_image_shape(64) == (8, 8)
    assert guess_image_shape(784, (1, 28, 28)) == (1, 28, 28)
    assert guess_image_shape(10) is None
    assert guess_image_shape(4) is None  # 2x2 is data, not a picture
    assert guess_image_shape(3 * 5 * 7, (5, 3, 7)) is None  # no channel axis


def test_save_figure_writes_a_png_atomically(tmp_path, images):
    path = save_figure(plot_images(images, (8, 8)), tmp_path / "grid.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert os.listdir(tmp_path) == ["grid.png"]  # no temporary file left behind
    with pytest.raises(InvalidInputError, match=r"does not end in \.png"):
        save_figure(plot_images(images, (8, 8)), tmp_path / "grid.jpg")


def test_save_figure_leaves_no_temporary_file_on_failure(tmp_path, images):
    with pytest.raises(FileNotFoundError):
        save_figure(plot_images(images, (8, 8)), tmp_path / "missing" / "grid.png")
    assert os.listdir(tmp_path) == []


def test_plotting_never_touches_pyplot(images):
    import sys

    plot_images(images, (8, 8))
    if "matplotlib.pyplot" in sys.modules:  # imported by something else in the session
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def test_sparsity_cost_curves_cross_zero_at_the_target():
    from codings.plotting import plot_sparsity_costs

    fig = plot_sparsity_costs(0.1)
    lines = fig.axes[0].get_lines()
    labels = [line.get_label() for line in lines[:3]]
    assert labels == ["KL divergence", "squared error", "absolute error"]
    for line in lines[:3]:
        q, cost = line.get_data()
        assert q[np.argmin(cost)] == pytest.approx(0.1, abs=0.003)
    with pytest.raises(InvalidInputError, match="target must be in"):
        plot_sparsity_costs(1.5)


def test_activation_histograms_count_every_activation():
    from codings.plotting import plot_activation_histograms

    Z = np.random.RandomState(0).rand(50, 8)
    fig = plot_activation_histograms(Z, bins=10)
    counts = [patch.get_height() for patch in fig.axes[0].patches]
    assert sum(counts) == 400 and len(fig.axes) == 2

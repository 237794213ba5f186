"""Tour steps on generation: variational autoencoders for digits and faces, interpolation,
an adversarial autoencoder's mixture prior and the denoising chain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from codings.constraints import Adversarial, Denoising, Variational
from codings.datasets import load_faces
from codings.estimators import AutoEncoder
from codings.plotting import plot_codings_2d, plot_images
from codings.plotting._base import check_image_shape, new_figure, to_image
from codings.report import Section
from codings.report.figures import plot_image_rows
from codings.tour._context import Context

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_FACE_SHAPE = (1, 25, 25)
_CHAIN_NOISE_STD = 0.5
_CHAIN_STEPS = (0, 1, 2, 5, 10, 20, 50, 100)
_PLANE_EDGE, _PLANE_POINTS = 2.7, 12


def _digits_vae(ctx: Context) -> AutoEncoder:
    return ctx.timed_fit("variational (images)", ctx.autoencoder(
        200, n_components=4 if ctx.n_features <= 100 else 16,
        hidden_layer_sizes=(max(64, ctx.hidden[0]),), loss="bce",
        output_activation="identity", learning_rate=0.003, constraints=(Variational(),)),
        ctx.X_train)


def _faces_vae(ctx: Context, faces: np.ndarray) -> AutoEncoder:
    ae = AutoEncoder(architecture="conv", hidden_layer_sizes=(16, 32), n_components=16,
                     loss="bce", constraints=(Variational(),), image_shape=_FACE_SHAPE,
                     learning_rate=0.003, batch_size=20,
                     max_iter=ctx.fixed_epochs(400), random_state=0)
    return ctx.timed_fit("convolutional variational (faces)", ae, faces)


def variational(ctx: Context, section: Section) -> None:
    section.text(
        "A variational autoencoder (`Variational()`) makes the codings probabilistic: the "
        "encoder outputs a mean and a variance, the coding is drawn from that Gaussian, and "
        "a KL term pulls every coding distribution towards the standard normal N(0, I). "
        "After training, decoding random draws from N(0, I) gives *new* images that look "
        "like the training set: the autoencoder has become a generative model.",
        "Digits: a fully connected VAE with a Bernoulli (binary cross-entropy) likelihood.")
    vae = _digits_vae(ctx)
    ctx.models["vae"] = vae
    generated = vae.sample(40, random_state=0)
    section.figure(plot_images(generated, ctx.images.image_shape, n_cols=10),
                   "40 generated images: decoded draws from N(0, I), not training images.")
    try:
        faces = load_faces().data.astype(np.float32)
    except ImportError as exc:
        section.note(f"Faces skipped: {exc}")
        return
    section.text(
        "Faces: scikit-image's 100 face photographs of 25x25 pixels, with a convolutional "
        "VAE (`architecture=\"conv\"`, strided convolutions of 16 and 32 channels, 16 "
        "codings). One hundred images is very little data, so the new faces are blurry, but "
        "they are faces nobody photographed.")
    face_vae = _faces_vae(ctx, faces)
    ctx.models["faces"], ctx.models["faces_data"] = face_vae, faces
    section.figure(plot_image_rows({"real faces": faces[:10],
                                    "reconstructed": face_vae.reconstruct(faces[:10]),
                                    "generated": face_vae.sample(10, random_state=0),
                                    "generated ": face_vae.sample(10, random_state=1)},
                                   _FACE_SHAPE[1:]),
                   "Real faces and their reconstructions (top), new faces sampled from "
                   "the prior (bottom).")


def _pairs(ctx: Context, n: int) -> list[tuple[int, int]]:
    """Test rows to interpolate between: the first images of two different classes when
    labels are known, else consecutive rows."""
    labels = ctx.y_test
    if labels is None:
        return [(2 * i, 2 * i + 1) for i in range(n)]
    classes = np.unique(labels)
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    pairs = [(firsts[2 * i], firsts[2 * i + 1]) for i in range(len(firsts) // 2)]
    return pairs[:n] if pairs else [(0, 1)]


def interpolation(ctx: Context, section: Section) -> None:
    section.text(
        "Because nearby codings decode to similar images, walking in a straight line from "
        "one image's coding to another's and decoding each point morphs one image into the "
        "other (`interpolate(a, b, steps)`). With a VAE the path stays among plausible "
        "images, since the KL term packs the codings of the training set together.")
    vae = ctx.models["vae"]
    Z = vae.transform(ctx.X_test)
    labels = ctx.y_test
    rows = {(f"{labels[a]} to {labels[b]}" if labels is not None else f"row {i + 1}"):
            vae.interpolate(Z[a], Z[b], steps=10) for i, (a, b) in enumerate(_pairs(ctx, 4))}
    section.figure(plot_image_rows(rows, ctx.images.image_shape),
                   "Each row goes from one test image's coding (left) to another's (right).")
    if "faces" in ctx.models:
        faces_vae, faces = ctx.models["faces"], ctx.models["faces_data"]
        Z = faces_vae.transform(faces[:4])
        rows = {f"faces {i + 1}": faces_vae.interpolate(Z[2 * i], Z[2 * i + 1], steps=10)
                for i in range(2)}
        section.figure(plot_image_rows(rows, _FACE_SHAPE[1:]),
                       "From one face to another through the VAE's coding space.")


def _mixture_aae(ctx: Context, constraint: Adversarial) -> AutoEncoder:
    return ctx.timed_fit("adversarial, 2-D mixture prior", ctx.autoencoder(
        40, n_components=2, hidden_layer_sizes=(max(64, ctx.hidden[0]),), loss="bce",
        output_activation="identity", constraints=(constraint,)), ctx.X_train)


def _plane_grid(low: float, high: float, n: int) -> np.ndarray:
    """``n * n`` points on a square grid, row by row from the top left."""
    ticks = np.linspace(low, high, n)
    return np.array([(x, y) for y in ticks[::-1] for x in ticks])


def _mosaic(images: np.ndarray, image_shape: Sequence[int], n_cols: int) -> Figure:
    """``images`` tiled into one picture on one axes, a pixel apart: an axes per image
    would cost seconds for a grid of a hundred."""
    shape = check_image_shape(image_shape, math.prod(image_shape))
    flat = np.asarray(images, dtype=np.float64).reshape(-1, math.prod(shape))
    low, high = float(flat.min()), float(flat.max())
    tiles = [to_image(row, shape, low, high) for row in flat]
    h, w = tiles[0].shape[:2]
    n_rows = math.ceil(len(tiles) / n_cols)
    gap = np.nan if tiles[0].ndim == 2 else 1.0  # white between tiles
    canvas = np.full((n_rows * (h + 1) - 1, n_cols * (w + 1) - 1, *tiles[0].shape[2:]), gap)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, n_cols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tile
    fig = new_figure(0.45 * n_cols + 1.0, 0.45 * n_rows + 0.5)
    ax = fig.subplots()
    ax.imshow(canvas, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
    ax.tick_params(length=0)
    ax.set_yticks([r * (h + 1) + h / 2 for r in range(n_rows)], [""] * n_rows)
    ax.set_xticks([c * (w + 1) + w / 2 for c in range(n_cols)], [""] * n_cols)
    return fig


def adversarial(ctx: Context, section: Section) -> None:
    section.text(
        "An adversarial autoencoder (`Adversarial(prior=...)`) shapes the codings with a "
        "second network instead of a KL term: a discriminator learns to tell codings from "
        "draws of a chosen prior, and the encoder learns to fool it, so that the codings of "
        "the whole training set end up distributed like the prior. Any prior we can draw "
        "from will do; here `prior=\"mixture\"`, ten Gaussians on a ring, with two coding "
        "units so that we can look at them.",
        "No labels are used in training: the codings fill the ten modes, but a mode is not "
        "a digit class. Neighbouring codings decode to similar images, so each class "
        "occupies a region of the ring that may span modes.")
    constraint = Adversarial(prior="mixture")
    ae = _mixture_aae(ctx, constraint)
    prior = constraint.sample_prior(2000, 2, torch.Generator().manual_seed(0)).numpy()
    fig = plot_codings_2d(ae.transform(ctx.X_test), ctx.y_test)
    fig.axes[0].scatter(prior[:, 0], prior[:, 1], s=2, color="0.85", zorder=0)
    discriminator = ae.history_["discriminator"][-1]
    section.figure(fig, "Codings of the test images (coloured by label when labels are "
                   "known) over 2,000 draws of the prior (grey). The discriminator's last "
                   f"loss was {discriminator:.3f}; log 2 = 0.693 means it cannot tell the "
                   "two apart.")
    ticks = [f"{v:.1f}" for v in np.linspace(-_PLANE_EDGE, _PLANE_EDGE, _PLANE_POINTS)]
    fig = _mosaic(ae.inverse_transform(_plane_grid(-_PLANE_EDGE, _PLANE_EDGE, _PLANE_POINTS)),
                  ctx.images.image_shape, _PLANE_POINTS)
    ax = fig.axes[0]
    ax.set_xticklabels(ticks, fontsize=7)
    ax.set_yticklabels(ticks[::-1], fontsize=7)
    ax.set(xlabel="z0", ylabel="z1")
    section.figure(fig, "The coding plane decoded: each image is the decoder's output for "
                   "the coding at its place on the grid.")


def denoising_chain(ctx: Context, section: Section) -> None:
    section.text(
        "A denoising autoencoder can generate too, without any prior. Start from noise and "
        "repeat: corrupt the current image with the training noise, reconstruct it, and draw "
        "the next image from the reconstruction's pixel probabilities. Bengio and colleagues "
        "(2013) showed that this Markov chain samples from an estimate of the data's "
        "distribution; `sample(n)` runs it for 100 steps, `return_chain=True` keeps every "
        "step.",
        f"Here a denoising autoencoder (`Denoising(std={_CHAIN_NOISE_STD})`, Bernoulli "
        "likelihood) runs ten chains from uniform noise.")
    ae = ctx.timed_fit("denoising chain", ctx.autoencoder(
        40, hidden_layer_sizes=(max(64, ctx.hidden[0]),), loss="bce",
        output_activation="identity", constraints=(Denoising(std=_CHAIN_NOISE_STD),)),
        ctx.X_train)
    chain = ae.sample(10, random_state=0, return_chain=True)
    fig = _mosaic(chain[list(_CHAIN_STEPS)], ctx.images.image_shape, len(chain[0]))
    fig.axes[0].set_yticklabels([f"step {t}" for t in _CHAIN_STEPS])
    section.figure(fig,
                   "Ten chains (columns) from noise (top) to digits; each row is the "
                   "reconstruction after that many steps.")

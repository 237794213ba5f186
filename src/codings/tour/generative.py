"""Tour steps on generation: variational autoencoders for digits and faces, interpolation."""

from __future__ import annotations

import numpy as np

from codings.constraints import Variational
from codings.datasets import load_faces
from codings.estimators import AutoEncoder
from codings.plotting import plot_images
from codings.report import Section
from codings.report.figures import plot_image_rows
from codings.tour._context import Context

_FACE_SHAPE = (1, 25, 25)


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

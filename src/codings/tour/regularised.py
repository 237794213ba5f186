"""Tour steps with other constraints than a narrow coding layer: denoising and sparsity."""

from __future__ import annotations

import numpy as np

from codings.constraints import Denoising, Sparsity
from codings.plotting import plot_activation_histograms, plot_sparsity_costs
from codings.report import Section
from codings.report.figures import plot_image_rows
from codings.tour._context import Context, mse

_NOISE_STD = 0.4
_SPARSITY_TARGET = 0.1


def denoising(ctx: Context, section: Section) -> None:
    section.text(
        "Another constraint: corrupt the input and ask for the clean original. A denoising "
        f"autoencoder (`Denoising(noise=\"gaussian\", std={_NOISE_STD})`) sees each training "
        "image with fresh Gaussian noise added, and is scored against the clean image. It "
        "cannot simply copy, so it learns what images look like. Noise is added in training "
        "only; `reconstruct` of a noisy image is the model's guess of the clean one.")
    ae = ctx.timed_fit("denoising", ctx.autoencoder(
        150, constraints=(Denoising(noise="gaussian", std=_NOISE_STD),)), ctx.X_train)
    rng = np.random.default_rng(3)
    noisy = ctx.X_test + _NOISE_STD * rng.standard_normal(ctx.X_test.shape)
    plain = ctx.models["stacked"]
    clean_guess, plain_guess = ae.reconstruct(noisy), plain.reconstruct(noisy)
    section.figure(plot_image_rows({"clean": ctx.X_test[:10], "noisy input": noisy[:10],
                                    "denoising AE": clean_guess[:10],
                                    "plain AE": plain_guess[:10]}, ctx.images.image_shape,
                                   share_range=False),
                   "Noisy test images (second row) and each model's output.")
    section.table([("the noisy input itself", mse(noisy, ctx.X_test)),
                   ("plain stacked autoencoder", mse(plain_guess, ctx.X_test)),
                   ("denoising autoencoder", mse(clean_guess, ctx.X_test))],
                  header=("output", "MSE to the clean images"))


def sparsity(ctx: Context, section: Section) -> None:
    n_units = 2 * ctx.n_codings
    section.text(
        "Sparsity is a constraint too: the coding layer may be wide (here "
        f"{n_units} units), but only a few units may be active for any input. "
        f"`Sparsity(kind=\"kl\", target={_SPARSITY_TARGET})` adds a penalty, the KL "
        "divergence between the target and each unit's mean activation over a batch, to "
        "the loss; the codings use a sigmoid so activations lie in (0, 1). Each unit ends "
        "up representing a useful feature that only some inputs have.")
    section.figure(plot_sparsity_costs(_SPARSITY_TARGET),
                   "Costs against a unit's mean activation q: the KL divergence has much "
                   "steeper slopes away from the target than the squared error.")
    common = {"n_components": n_units, "coding_activation": "sigmoid"}
    dense = ctx.timed_fit("dense codings", ctx.autoencoder(150, **common), ctx.X_train)
    sparse = ctx.timed_fit("sparse codings", ctx.autoencoder(150, **common, constraints=(
        Sparsity(kind="kl", target=_SPARSITY_TARGET, weight=0.5),)), ctx.X_train)
    rows = []
    for name, model in (("no sparsity", dense), ("sparsity", sparse)):
        Z = model.transform(ctx.X_test)
        section.figure(plot_activation_histograms(Z),
                       f"Coding activations on test images, {name}.")
        rows.append((name, float(Z.mean()), float(np.mean(Z < 0.1)),
                     mse(model.reconstruct(ctx.X_test), ctx.X_test)))
    section.table(rows, header=("model", "mean activation", "share below 0.1", "test MSE"))

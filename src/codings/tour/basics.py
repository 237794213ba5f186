"""The first half of the tour: why constraints, PCA, stacked, tied and layer-wise training,
reconstructions and features."""

from __future__ import annotations

import numpy as np

from codings.constraints import TiedWeights
from codings.datasets import load_demo_3d
from codings.diagnostics import compare_with_pca
from codings.estimators import AutoEncoder
from codings.plotting import plot_features, plot_loss_curve, plot_reconstructions
from codings.report import Section
from codings.report.figures import plot_image_rows, plot_points_3d_and_codings
from codings.tour._context import Context, mse


def constraints(ctx: Context, section: Section) -> None:
    section.text(
        "An autoencoder learns to copy its input to its output. Copying is trivial, so the "
        "network is *constrained*: here its coding layer has only "
        f"{min(4, ctx.n_codings)} units for {ctx.n_features} pixels. To get through that "
        "bottleneck it must find the regularities of the data; it cannot memorise every "
        "pixel.",
        "People do the same. A list of ten random numbers is hard to remember; a longer "
        "sequence that follows a rule (the hailstone sequence: halve an even number, "
        "otherwise triple it and add one) is easy, because you only remember the rule. Chess "
        "masters recall a real game position after a glance, but not pieces placed at "
        "random.")
    ae = ctx.timed_fit("narrow autoencoder", ctx.autoencoder(
        100, n_components=min(4, ctx.n_codings)), ctx.X_train)
    X = ctx.X_test[:10]
    # The same pixel values in a random order: identical statistics, no pattern.
    shuffled = np.random.default_rng(1).permuted(X, axis=1)
    rec, rec_shuffled = ae.reconstruct(X), ae.reconstruct(shuffled)
    section.figure(plot_image_rows({"test images": X, "reconstructed": rec,
                                    "pixels shuffled": shuffled,
                                    "reconstructed ": rec_shuffled}, ctx.images.image_shape),
                   "Top: unseen test images and their reconstructions. Bottom: the same "
                   "pixels shuffled, which the model cannot reproduce.")
    section.table([("unseen test images", mse(ae.reconstruct(ctx.X_test), ctx.X_test)),
                   ("the same images, pixels shuffled",
                    mse(ae.reconstruct(np.random.default_rng(2).permuted(ctx.X_test, axis=1)),
                        ctx.X_test))], header=("input", "reconstruction MSE"))
    section.text("The error on shuffled pixels is several times larger: what the model "
                 "learned is the pattern of the images, not a way to copy anything.")


def pca(ctx: Context, section: Section) -> None:
    demo = load_demo_3d()
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(), activation="identity",
                     learning_rate=0.01, max_iter=1000, batch_size=None, random_state=0)
    ctx.timed_fit("linear autoencoder (3-D)", ae, demo.train)
    result = compare_with_pca(ae, demo.train)
    section.text(
        "With linear activations and a squared-error loss, an undercomplete autoencoder "
        "finds the same subspace as principal component analysis. The 3-D points below lie "
        "near a tilted plane; a 3-2-3 linear autoencoder trained by gradient descent (Adam, "
        "1000 full-batch steps) projects them onto it.")
    section.figure(plot_points_3d_and_codings(demo.train, ae.transform(demo.train),
                                              demo.angles[:len(demo.train)]),
                   "The training points (left) and their 2-D codings (right), coloured by the "
                   "angle that generated each point.")
    section.table([
        ("largest angle between the autoencoder's and PCA's planes",
         f"{result.max_angle_deg:.3f} degrees"),
        ("reconstruction MSE, autoencoder / PCA", f"{result.mse:.5f} / {result.pca_mse:.5f}"),
        ("variance explained, autoencoder",
         ", ".join(f"{v:.3f}" for v in result.explained_variance_ratio)),
        ("variance explained, PCA",
         ", ".join(f"{v:.3f}" for v in result.pca_explained_variance_ratio))])
    section.text("The codings are not PCA's components themselves (any basis of the plane "
                 "is as good for reconstruction), but the plane is the same.")


def stacked(ctx: Context, section: Section) -> None:
    ae = ctx.timed_fit("stacked autoencoder", ctx.autoencoder(150), ctx.X_train)
    ctx.models["stacked"] = ae
    sizes = [ctx.n_features, *ctx.hidden, ctx.n_codings, *reversed(ctx.hidden),
             ctx.n_features]
    section.text(
        f"A stacked (deep) autoencoder has several hidden layers: here "
        f"{'-'.join(map(str, sizes))}, ELU activations, a sigmoid output for pixels in [0, 1],"
        " trained with Adam on the squared error. The decoder mirrors the encoder.")
    section.figure(plot_loss_curve(ae.history_), "The training loss per epoch.")
    section.figure(plot_reconstructions(ctx.X_test[:10], ae.reconstruct(ctx.X_test[:10]),
                                        ctx.images.image_shape),
                   "Unseen test images (top) and their reconstructions (bottom).")
    section.table([("test reconstruction MSE", mse(ae.reconstruct(ctx.X_test), ctx.X_test)),
                   ("training time", f"{ctx.timings['stacked autoencoder']:.1f} s")])


def _n_parameters(ae: AutoEncoder) -> int:
    return sum(p.numel() for p in ae.module_.parameters())  # shared weights count once


def tied(ctx: Context, section: Section) -> None:
    ae = ctx.timed_fit("tied weights", ctx.autoencoder(150, constraints=(TiedWeights(),)),
                       ctx.X_train)
    plain = ctx.models["stacked"]
    section.text(
        "When the decoder mirrors the encoder, each decoder weight matrix can be the "
        "transpose of its encoder counterpart (`TiedWeights()`). That halves the weights to "
        "learn, which speeds training and limits overfitting; the biases stay separate.")
    section.table([
        ("untied", _n_parameters(plain), mse(plain.reconstruct(ctx.X_test), ctx.X_test)),
        ("tied", _n_parameters(ae), mse(ae.reconstruct(ctx.X_test), ctx.X_test))],
        header=("weights", "parameters", "test MSE"))
    section.figure(plot_reconstructions(ctx.X_test[:10], ae.reconstruct(ctx.X_test[:10]),
                                        ctx.images.image_shape),
                   "Test images and the tied autoencoder's reconstructions.")


def layerwise(ctx: Context, section: Section) -> None:
    section.text(
        "Deep stacks used to be trained one layer at a time: a shallow autoencoder learns "
        "the first hidden layer, a second one learns to reconstruct that layer's output, and "
        "so on; the layers are then stacked and fine-tuned together.")
    if "pretraining" not in AutoEncoder().get_params():
        section.note("Skipped: this version of codings has no layer-wise training "
                     "(`AutoEncoder(pretraining=...)`).")
        return
    half = max(3, ctx.epochs(150) // 2)
    ae = ctx.timed_fit("layer-wise", ctx.autoencoder(
        150, pretraining="layerwise", pretraining_iter=half, max_iter=half), ctx.X_train)
    section.figure(plot_loss_curve(ae.history_),
                   "Each phase's loss (phase1_, phase2_ terms), then fine-tuning of the stack.")
    section.table([
        ("all layers at once", mse(ctx.models["stacked"].reconstruct(ctx.X_test), ctx.X_test)),
        ("layer-wise, then fine-tuned", mse(ae.reconstruct(ctx.X_test), ctx.X_test))],
        header=("training", "test MSE"))


def features(ctx: Context, section: Section) -> None:
    ae = ctx.models["stacked"]
    weights = ae.module_.encoder[0].weight.detach().cpu().numpy()
    section.text(
        "Reconstructions should look like the inputs, losing only unimportant detail. What "
        "the first layer learned can be drawn: each hidden unit's input weights form an "
        "image of the pattern that excites it most (red positive, blue negative). Deeper "
        "units combine these into larger parts of digits.")
    section.figure(plot_features(weights, ctx.images.image_shape, n=min(36, len(weights))),
                   "The first hidden layer's weights of the stacked autoencoder.")
    section.figure(plot_reconstructions(ctx.X_train[:10], ae.reconstruct(ctx.X_train[:10]),
                                        ctx.images.image_shape),
                   "Training images (top) and their reconstructions (bottom).")

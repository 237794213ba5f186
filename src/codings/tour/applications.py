"""Tour steps that use the codings: classification with few labels, anomaly detection."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from codings.report import Section
from codings.report.figures import plot_bars, plot_score_histogram
from codings.tour._context import Context

_N_LABELS = 50
_CONTAMINATION = 0.1


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _few_labels(y: np.ndarray, n: int) -> np.ndarray:
    """``n`` training rows with as many of each class as possible (the first ones)."""
    classes = np.unique(y)
    per_class = max(1, n // len(classes))
    chosen = [np.flatnonzero(y == c)[:per_class] for c in classes]
    rows = np.sort(np.concatenate(chosen))
    extra = np.setdiff1d(np.arange(len(y)), rows)[:max(0, n - len(rows))]
    return np.sort(np.concatenate([rows, extra]))[:n]


def _accuracies(ctx: Context, rows: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    assert ctx.y_train is not None and ctx.y_test is not None
    X, y, X_test, y_test = ctx.X_train[rows], ctx.y_train[rows], ctx.X_test, ctx.y_test
    ae = ctx.models["stacked"]
    scores = {
        "pixels,\nlogistic": LogisticRegression(max_iter=2000).fit(X, y).score(X_test, y_test),
        "same network,\nrandom start": MLPClassifier(
            (*ctx.hidden, ctx.n_codings), max_iter=2000, random_state=0).fit(X, y).score(
            X_test, y_test),
        "codings,\nlogistic": LogisticRegression(max_iter=2000).fit(ae.transform(X), y).score(
            ae.transform(X_test), y_test)}
    if _has("codings.estimators.classifier"):
        from codings.estimators.classifier import EncoderClassifier

        # Full batches of so few rows make one step per epoch: many epochs, a larger step.
        classifier = EncoderClassifier(ae, freeze="fine-tune", max_iter=300,
                                       learning_rate=0.01, random_state=0)
        ctx.timed_fit("encoder classifier", classifier, X, y)
        scores["pretrained encoder,\nfine-tuned"] = classifier.score(X_test, y_test)
    return scores


def few_labels(ctx: Context, section: Section) -> None:
    section.text(
        "Labels are often scarce while unlabelled data is plentiful. The stacked autoencoder "
        f"above never saw a label; its encoder can start a classifier trained on only "
        f"{_N_LABELS} labelled images. Compared, on the same {_N_LABELS} labels: logistic "
        "regression on the pixels; a network of the encoder's shape trained from a random "
        "start (scikit-learn's `MLPClassifier`); logistic regression on the codings; and the "
        "pretrained encoder with a softmax layer on top, fine-tuned (`EncoderClassifier`).")
    if ctx.y_train is None:
        section.note("Skipped: these images have no labels.")
        return
    rows = _few_labels(ctx.y_train, _N_LABELS)
    scores = _accuracies(ctx, rows)
    section.figure(plot_bars(scores, ylabel="test accuracy",
                             title=f"{len(rows)} labelled training images"),
                   f"Accuracy on {len(ctx.test_rows)} unseen test images.")
    best = max(scores, key=scores.__getitem__).replace("\n", " ")
    section.text(f"Best here: {best}. How much pretraining helps depends on the data; "
                 "expect it to matter most when labels are very few and raw inputs make poor "
                 "features.")


def _detector(ctx: Context, X: np.ndarray) -> tuple[Any, float]:
    """A fitted detector (or the autoencoder itself) and the outlier threshold."""
    ae = ctx.models["stacked"]
    if _has("codings.estimators.detector"):
        from codings.estimators.detector import AnomalyDetector

        detector = AnomalyDetector(ae, contamination=_CONTAMINATION).fit(X)
        return detector, float(detector.offset_)
    return ae, float(np.quantile(ae.score_samples(X), _CONTAMINATION))


def anomalies(ctx: Context, section: Section) -> None:
    from sklearn.metrics import roc_auc_score

    section.text(
        "An autoencoder reconstructs well what resembles its training data and badly what "
        "does not, so the reconstruction error is an anomaly score (`score_samples` is its "
        "negative: higher means more typical). `AnomalyDetector(autoencoder, "
        f"contamination={_CONTAMINATION})` sets the threshold that flags that share of the "
        "training data. The anomalies here are the test images turned upside down: the same "
        "pixels, not the same pattern.")
    detector, threshold = _detector(ctx, ctx.X_train)
    shape = ctx.images.image_shape
    flipped = np.flip(ctx.X_test.reshape(-1, *shape), axis=(-2, -1)).reshape(
        len(ctx.X_test), -1)
    normal, odd = detector.score_samples(ctx.X_test), detector.score_samples(flipped)
    auc = roc_auc_score(np.r_[np.zeros(len(normal)), np.ones(len(odd))], -np.r_[normal, odd])
    section.figure(plot_score_histogram({"test images": normal, "upside down": odd},
                                        threshold),
                   "Scores of normal test images and of the same images upside down; the "
                   "dashed line is the threshold.")
    section.table([("ROC AUC (1 is perfect, 0.5 is chance)", f"{auc:.3f}"),
                   ("upside-down images flagged", f"{np.mean(odd < threshold):.1%}"),
                   ("normal test images flagged", f"{np.mean(normal < threshold):.1%}")])
    section.text("Images that look alike upside down (for digits: 0, 1 and 8) cannot be "
                 "told apart, which is one reason the separation is not perfect.")


def _partly_labelled(y: np.ndarray, per_class: int) -> np.ndarray:
    """``y`` with the first ``per_class`` rows of each class kept, the rest -1."""
    partial = np.full(len(y), -1, dtype=np.int64)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)[:per_class]
        partial[rows] = label
    return partial


def _semi_supervised_scores(ctx: Context, per_class: int, epochs: int) -> dict[str, float]:
    """Test accuracy of the ladder network on all rows, the same network on the labelled
    rows alone, and logistic regression on the labelled pixels."""
    from sklearn.linear_model import LogisticRegression

    from codings.estimators.classifier import EncoderClassifier

    assert ctx.y_train is not None and ctx.y_test is not None
    partial = _partly_labelled(ctx.y_train, per_class)
    labelled = partial != -1
    X, X_labelled, y_labelled = ctx.X_train, ctx.X_train[labelled], partial[labelled]
    hidden = (64, 32) if ctx.n_features <= 100 else (500, 250)
    ladder: dict[str, Any] = dict(hidden_layer_sizes=hidden, batch_size=64, random_state=0)
    semi = ctx.timed_fit(f"ladder, {per_class} labels per class",
                         EncoderClassifier(max_iter=epochs, **ladder), X, partial)
    alone = EncoderClassifier(max_iter=8 * epochs, unsupervised_weight=0.0, **ladder).fit(
        X_labelled, y_labelled)
    pixels = LogisticRegression(max_iter=2000).fit(X_labelled, y_labelled)
    return {"ladder network (all rows)": semi.score(ctx.X_test, ctx.y_test),
            "same network, labelled rows only": alone.score(ctx.X_test, ctx.y_test),
            "logistic regression on the pixels": pixels.score(ctx.X_test, ctx.y_test)}


def _accuracy_figure(counts: list[int], scores: list[dict[str, float]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    for name in scores[0]:
        ax.plot(counts, [s[name] for s in scores], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("labelled images per class")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def semi_supervised(ctx: Context, section: Section) -> None:
    section.text(
        "Pretraining then fine-tuning forgets the unlabelled images once the labels arrive. "
        "A ladder network (Rasmus et al. 2015) learns from both at once: a denoising "
        "autoencoder at every layer of the classifier, trained on every image, plus the "
        "cross-entropy of the labelled ones. `EncoderClassifier().fit(X, y)` with the "
        "unlabelled rows of `y` set to -1 trains it; on the command line, "
        "`codings fit-classifier --data X.npy --labels y.npy`.")
    if ctx.y_train is None:
        section.note("Skipped: these images have no labels.")
        return
    counts = [10] if ctx.quick else [2, 5, 10, 20]
    epochs = ctx.epochs(15 if ctx.quick else 25)
    scores = [_semi_supervised_scores(ctx, n, epochs) for n in counts]
    caption = (f"Accuracy on {len(ctx.test_rows)} unseen test images; {len(ctx.train_rows)} "
               f"training images, of which only the labelled ones have labels; {epochs} "
               "epochs of the ladder.")
    if len(counts) == 1:
        section.figure(plot_bars({k.replace(", ", ",\n"): v for k, v in scores[0].items()},
                                 ylabel="test accuracy",
                                 title=f"{counts[0]} labelled images per class"), caption)
    else:
        section.figure(_accuracy_figure(counts, scores), caption)
    section.text("The unlabelled images help most when labels are fewest; on 8x8 digits "
                 "the raw pixels are already good features for logistic regression. "
                 "On MNIST with 100 labels (10 per class) the default ladder reaches about "
                 "0.96 test accuracy, against 0.78 for the same network on the labels alone "
                 "(docs/uses.md).")

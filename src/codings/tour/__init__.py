"""A guided tour of autoencoders: the whole story on the embedded data, as one HTML page.

``codings tour`` (or :func:`run_tour`) trains, in order: a narrow autoencoder (why
constraints matter), a linear one beside PCA, a stacked one, tied weights, layer-wise
training, then denoising, sparse and variational autoencoders (digits and faces), and uses
the codings for classification with few labels and for anomaly detection. Each step adds a
short explanation and its figures to the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from codings.datasets import load_digits
from codings.report import Page, Section
from codings.tour import applications, basics, generative, regularised, sequences
from codings.tour._context import Context, ImageSet

__all__ = ["STEPS", "ImageSet", "digits_images", "run_tour"]

Step = Callable[[Context, Section], None]
STEPS: tuple[tuple[str, Step], ...] = (
    ("Why constraints matter: patterns, not memory", basics.constraints),
    ("PCA with a linear autoencoder", basics.pca),
    ("A stacked autoencoder", basics.stacked),
    ("Tied weights", basics.tied),
    ("Training one layer at a time", basics.layerwise),
    ("Reconstructions and features", basics.features),
    ("Denoising", regularised.denoising),
    ("Sparsity", regularised.sparsity),
    ("A variational autoencoder generates digits and faces", generative.variational),
    ("Interpolation in the coding space", generative.interpolation),
    ("An adversarial autoencoder fills a prior", generative.adversarial),
    ("A denoising chain turns noise into digits", generative.denoising_chain),
    ("Pretraining with few labels", applications.few_labels),
    ("Learning from few labels and many unlabelled images", applications.semi_supervised),
    ("Anomaly detection", applications.anomalies),
    ("Anomalies in a time series", sequences.time_series),
)


def digits_images() -> ImageSet:
    """The embedded 8x8 digits, scaled to [0, 1], with their labels."""
    digits = load_digits()
    return ImageSet("the embedded digits (8x8)", (digits.data / 16.0).astype(np.float32),
                    (8, 8), digits.target)


def _introduction(page: Page, ctx: Context) -> None:
    n_train, n_test = len(ctx.train_rows), len(ctx.test_rows)
    page.intro = [
        "An autoencoder is a neural network trained to reproduce its input through a "
        "coding layer. The codings it learns along the way are useful: for visualising "
        "data, as features for other models, for detecting anomalies and, for variational "
        "autoencoders, for generating new data. Each section below trains one member of the "
        "family with `codings.AutoEncoder` and shows what it learned.",
        f"Data: {ctx.images.name}, {n_train} training and {n_test} test images (pixels "
        f"scaled to [0, 1]); the faces of scikit-image; and a 3-D point cloud. "
        f"{'Quick mode: fewer epochs and images, so results are rougher.' if ctx.quick else ''}"
    ]


def _timing(page: Page, ctx: Context, step_times: dict[str, float], total: float) -> None:
    section = page.section("Timing")
    section.table([(title, f"{seconds:.1f} s") for title, seconds in step_times.items()]
                  + [("total", f"{total:.1f} s")], header=("step", "time"))
    section.details("Training time of each model", [
        (name, f"{seconds:.2f} s") for name, seconds in ctx.timings.items()])


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """The tour's small models train fastest on one thread (and several threads on a busy
    2-core machine are many times slower); the caller's setting is restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_tour(output_dir: str | Path, *, quick: bool = False, images: ImageSet | None = None,
             log: Callable[[str], None] | None = None, command: str | None = None) -> Path:
    """Run every step and write ``output_dir/tour.html``.

    Parameters
    ----------
    output_dir : path-like
        Created if missing.
    quick : bool, default=False
        About a third of the epochs and fewer images: under a minute on 2 cores.
    images : ImageSet, optional
        Images in [0, 1] to use instead of the embedded digits (e.g. MNIST).
    log : callable, optional
        Receives one line per step (the library itself prints nothing).
    command : str, optional
        The command line shown at the end of the page.

    Returns
    -------
    path : Path
        The page written.
    """
    started = time.perf_counter()
    ctx = Context(images or digits_images(), quick, log or (lambda line: None))
    page = Page("A tour of autoencoders", "Written by `codings tour"
                + (" --quick" if quick else "") + "`: every figure below was computed "
                "when this page was made.")
    _introduction(page, ctx)
    step_times: dict[str, float] = {}
    with _one_torch_thread():
        for index, (title, step) in enumerate(STEPS, start=1):
            step_started = time.perf_counter()
            step(ctx, page.section(title))
            step_times[title] = time.perf_counter() - step_started
            ctx.log(f"tour: {index}/{len(STEPS)} {title} ({step_times[title]:.1f} s)")
    _timing(page, ctx, step_times, time.perf_counter() - started)
    if command:
        page.sections[-1].code(command)
    directory = Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return page.write(directory / "tour.html")

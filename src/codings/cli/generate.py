"""``codings generate MODEL -n N -o OUT``: new samples from a variational model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codings.cli.files import check_output, write_array
from codings.estimators import load


def image_shape_of(model: Any) -> tuple[int, ...] | None:
    """How to draw one sample: the shape fit recorded, else the model's input shape."""
    from codings.plotting import guess_image_shape

    shape = getattr(model, "image_shape_", None) or getattr(model, "input_shape_", None) \
        or model.image_shape
    return guess_image_shape(model.n_features_in_, shape) if shape else None


def generate(args: argparse.Namespace) -> int:
    """Decode ``-n`` draws from the prior, in the data's scale; a PNG grid for images."""
    output = check_output(args.output, args.model)
    model = load(args.model)
    samples = model.sample(args.n_samples, random_state=args.random_state)  # raw units
    write_array(output, samples if output.suffix.lower() == ".npy"
                else samples.reshape(len(samples), -1))
    shape = image_shape_of(model)
    if shape is None:
        print(f"Wrote {len(samples)} samples of shape {samples.shape[1:]} to {output}")
        return 0
    from codings.plotting import plot_images, save_figure

    grid = output.with_suffix(".png")
    flat = np.asarray(samples).reshape(len(samples), -1)
    save_figure(plot_images(flat, shape, n_cols=min(10, len(flat))), grid)
    print(f"Wrote {len(samples)} samples to {output} and a grid of them to {grid}")
    return 0

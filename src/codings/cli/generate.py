"""``codings generate MODEL -n N -o OUT``: new samples from a variational, adversarial or
denoising model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codings.cli.apply import in_data_form, load_autoencoder
from codings.cli.files import check_output, write_array
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import final_estimator


def image_shape_of(model: Any) -> tuple[int, ...] | None:
    """How to draw one sample: the shape fit recorded, else the model's input shape."""
    from codings.plotting import guess_image_shape

    shape = getattr(model, "image_shape_", None) or getattr(model, "input_shape_", None) \
        or model.image_shape
    return guess_image_shape(model.n_features_in_, shape) if shape else None


def _require_generative(model: Any, path: str) -> None:
    """The command line's version of ``sample``'s error: flags, not Python."""
    autoencoder = final_estimator(model)
    kinds = {type(c).__name__ for c in getattr(autoencoder, "constraints_", ())}
    if not kinds & {"Variational", "Adversarial", "Denoising"}:
        raise InvalidInputError(
            f"{path} is not a generative model: generate needs one trained with "
            "--constraint variational or adversarial (decoded prior draws) or denoising (a "
            "denoising chain), e.g. codings fit --constraint variational --loss bce.")


def generate(args: argparse.Namespace) -> int:
    """Decode ``-n`` draws from the prior, in the data's scale; a PNG grid for images."""
    output = check_output(args.output, args.model)
    model = load_autoencoder(args.model, "generate")
    _require_generative(model, args.model)
    samples = model.sample(args.n_samples, random_state=args.random_state)  # raw units
    samples = in_data_form(model, samples, output)  # integer pixels: their range and dtype
    write_array(output, samples)
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

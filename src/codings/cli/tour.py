"""``codings tour``: the story of autoencoders on the embedded data, as one HTML page."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from codings.cli.sources import load_data
from codings.exceptions import InvalidInputError


def load_images(path: str, key: str | None) -> object:
    """A file of images as the tour's ImageSet: pixels in [0, 1], the images' shape."""
    from codings.plotting import guess_image_shape
    from codings.tour import ImageSet

    bunch = load_data(path, key, grey=True)  # the tour's steps draw grey images
    shape = guess_image_shape(bunch.data.shape[1], bunch.image_shape)
    if shape is None or len(shape) != 2:
        raise InvalidInputError(f"codings tour --data needs grey images, such as MNIST's "
                                f"(n, 28, 28); {path} holds rows of {bunch.data.shape[1]} "
                                "values that are not square images.")
    X = np.asarray(bunch.data, dtype=np.float32)
    low, high = float(X.min()), float(X.max())
    if bunch.get("source_dtype") == np.uint8:
        low, high = 0.0, 255.0
    X = (X - low) / (high - low or 1.0)  # one range for all pixels keeps images comparable
    labels = bunch.target
    if labels is not None and np.asarray(labels).size != X.shape[0]:
        labels = None
    return ImageSet(f"{Path(path).name} ({shape[0]}x{shape[1]})", X, shape,
                    None if labels is None else np.asarray(labels).reshape(-1))


def tour(args: argparse.Namespace) -> int:
    from codings.tour import run_tour

    images = load_images(args.data, args.key) if args.data else None
    if args.key and not args.data:
        raise InvalidInputError("--key selects an array of the --data file; give --data too.")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    path = run_tour(Path(args.output), quick=args.quick, images=images,  # type: ignore[arg-type]
                    log=None if args.quiet else log,
                    command=shlex.join(["codings", *args.argv]))
    print(f"Wrote {path} in {time.perf_counter() - started:.0f} s; open it in a browser.")
    return 0

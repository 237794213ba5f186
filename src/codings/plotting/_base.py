"""Shared plotting helpers: a pyplot-free Figure, image checks and an atomic PNG writer."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from codings.exceptions import InvalidInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def new_figure(width: float, height: float, *,
               layout: Literal["constrained"] | None = "constrained") -> Figure:
    """A Figure that pyplot never sees: no GUI backend, no global state, nothing to close.

    It displays itself inline in Jupyter."""
    from codings.plotting._figure import CodingsFigure

    return CodingsFigure(figsize=(width, height), layout=layout)


def as_samples(X: Any, name: str) -> np.ndarray:
    """``X`` as a float64 array with one sample per row (images are flattened)."""
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise InvalidInputError(f"{name} must hold samples in rows, shape (n_samples, "
                                f"n_features); got an array of shape {arr.shape}.")
    return arr.reshape(arr.shape[0], -1)


_CHANNELS = (1, 3, 4)


def _is_drawable(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 or (len(shape) == 3 and (shape[0] in _CHANNELS
                                                    or shape[-1] in _CHANNELS))


def _channels_first(shape: tuple[int, ...]) -> bool:
    """(C, H, W) as the library's conv models use; for tiny images such as (4, 4, 3) where
    both ends could be channels, the smaller end is taken as the channel axis."""
    return len(shape) == 3 and shape[0] in _CHANNELS and (shape[-1] not in _CHANNELS
                                                          or shape[0] <= shape[-1])


def check_image_shape(image_shape: Sequence[int], n_features: int) -> tuple[int, ...]:
    """Validate an image shape against the sample size.

    Accepted: ``(height, width)``, ``(channels, height, width)`` as the library's conv models
    use, or ``(height, width, channels)``, with 1, 3 or 4 channels.
    """
    shape = tuple(int(s) for s in image_shape)
    if not _is_drawable(shape):
        raise InvalidInputError(f"image_shape must be (height, width), (channels, height, "
                                f"width) or (height, width, channels) with 1, 3 or 4 "
                                f"channels; got {shape}.")
    if math.prod(shape) != n_features:
        raise InvalidInputError(f"image_shape={shape} holds {math.prod(shape)} values, but each "
                                f"sample has {n_features} features.")
    return shape


def guess_image_shape(n_features: int,
                      image_shape: Sequence[int] | None = None) -> tuple[int, ...] | None:
    """How to draw samples: ``image_shape`` when it is drawable, a square for flat data of a
    square size (at least 4x4), or None (draw bar or line profiles instead).
    """
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        return shape if _is_drawable(shape) and math.prod(shape) == n_features else None
    side = math.isqrt(n_features)
    return (side, side) if side >= 4 and side * side == n_features else None


def to_image(row: np.ndarray, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    """One sample as an image for imshow: channels last, colour rescaled to [0, 1]."""
    image = row.reshape(shape)
    if _channels_first(shape):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0]
    if image.ndim == 3:
        return np.clip((image - low) / (high - low or 1.0), 0.0, 1.0)
    return image


def show_image(ax: Axes, image: np.ndarray, low: float, high: float,
               cmap: str = "gray") -> None:
    """Draw ``image`` without ticks; grey images share the colour range ``[low, high]``."""
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()


def compact(fig: Figure, title: str | None = None) -> None:
    """Pack an image grid tightly, keeping about a third of an inch for ``title``."""
    height = fig.get_figheight()
    top = 1.0 - 0.4 / height if title else 0.99
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=top, wspace=0.08, hspace=0.08)
    if title:
        fig.suptitle(title)


def grid_axes(fig: Figure, n: int, n_cols: int) -> list[Axes]:
    """``n`` axes in rows of ``n_cols``; the unused cells of the last row are removed."""
    n_rows = math.ceil(n / n_cols)
    axes = list(np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel())
    for ax in axes[n:]:
        ax.remove()
    return axes[:n]


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically: a temporary file in the same folder, then a rename.

    A reader never sees half a file, and an interrupted run leaves the old PNG in place.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        Destination; must end in ``.png``. Its folder must exist.
    dpi : int, default=100

    Returns
    -------
    path : Path
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise InvalidInputError(f"save_figure writes PNG files; {target} does not end in .png.")
    # A name we open with "x" (not mkstemp) so the file gets the user's umask, not mode 0600.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as handle:
            fig.savefig(handle, format="png", dpi=dpi)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target

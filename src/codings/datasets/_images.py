"""Folders of PNG/JPEG images as rows of pixels, grey or colour (needs Pillow)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from codings.datasets._opening import first_line, open_data_file
from codings.exceptions import InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Pillow modes without colour (1-bit, grey, grey with alpha); any other mode is colour.
_GREY_MODES = ("1", "L", "LA", "La", "F")


def _images_in(folder: Path) -> list[Path]:
    # Not is_file(): that would skip a link to /dev/zero silently; reading refuses it.
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())


def _labelled_files(folder: Path) -> tuple[list[Path], np.ndarray | None]:
    """Images directly in ``folder``, or one subfolder per class (the subfolder is the label)."""
    files = _images_in(folder)
    if files:
        return files, None
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and _images_in(p))
    if not classes:
        raise InvalidInputError(f"{folder} holds no images: expected .png, .jpg or .jpeg files "
                                "in it, or in one subfolder per class.")
    files, labels = [], []
    for sub in classes:
        found = _images_in(sub)
        files += found
        labels += [sub.name] * len(found)
    return files, np.asarray(labels)


def read_image(path: Path, grey: bool | None = None) -> tuple[np.ndarray, bool]:
    """One image and whether its file is in colour.

    The pixels are (height, width) uint8, or uint16 for 16-bit greyscale images (their real
    values, not clipped to 255); a colour image is (height, width, 3) uint8 unless ``grey``
    is True, which converts it to grey.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open_data_file(path) as handle, Image.open(handle) as image:
            if image.mode in _SIXTEEN_BIT:
                pixels = np.asarray(image)
                if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
                    raise InvalidInputError(f"{path} holds {image.mode} pixels outside "
                                            "0-65535; only 8- and 16-bit images are read.")
                return pixels.astype(np.uint16), False
            colour = image.mode not in _GREY_MODES
            mode = "RGB" if colour and not grey else "L"
            return np.asarray(image.convert(mode), dtype=np.uint8), colour
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"Cannot read the image {path}: {first_line(exc)}") from exc


def _check_alike(path: Path, image: np.ndarray, first: np.ndarray, files: list[Path],
                 folder: Path) -> None:
    """Every image in a folder has the first one's size and bit depth."""
    if image.shape[:2] != first.shape[:2]:
        h, w = first.shape[:2]
        raise InvalidInputError(
            f"{path} is {image.shape[1]}x{image.shape[0]} pixels but {files[0].name} is "
            f"{w}x{h}: every image in {folder} must have the same size (resize them first).")
    if image.dtype != first.dtype:
        bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}
        raise InvalidInputError(
            f"{path} has {bits[image.dtype]}-bit pixels but {files[0].name} has "
            f"{bits[first.dtype]}-bit: every image in {folder} must have the same bit depth "
            "(convert them first).")


def _as_colour(images: list[np.ndarray]) -> np.ndarray:
    """(n, 3, height, width): channels first, as the convolutional models take them; grey
    images get three equal channels."""
    rgb = [image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
           for image in images]
    return np.ascontiguousarray(np.stack(rgb).transpose(0, 3, 1, 2))


def _stack(folder: Path, images: list[np.ndarray], colour: list[bool],
           grey: bool | None) -> np.ndarray:
    """The images as one array, (n, height, width) or (n, 3, height, width), saying so when
    a conversion changed what some files hold."""
    n_colour = sum(colour)
    if grey:
        if n_colour:
            warnings.warn(f"{folder}: {n_colour} of {len(images)} images are in colour; "
                          "converted to grey.", UserWarning, stacklevel=3)
        return np.stack(images)
    if grey is None and n_colour == 0:
        return np.stack(images)
    if grey is None and n_colour < len(images):
        warnings.warn(f"{folder} mixes {len(images) - n_colour} grey and {n_colour} colour "
                      "images: the grey ones are read as colour (three equal channels); read "
                      "them all as grey with --grey (Python: grey=True).", UserWarning,
                      stacklevel=3)
    if images[0].dtype != np.uint8:
        raise InvalidInputError(f"{folder}: 16-bit grey images cannot be read as colour.")
    return _as_colour(images)


def load_image_folder(folder: str | os.PathLike[str], *, grey: bool | None = None) -> Bunch:
    """All PNG/JPEG images in ``folder`` (sorted by name) as rows of pixels, values unscaled.

    Every image must have the same size and bit depth. Images in class subfolders get the
    subfolder name as their label. 16-bit greyscale PNGs keep their 0-65535 values
    (``source_dtype`` uint16, which ``--scale auto`` divides by 65535).

    Parameters
    ----------
    folder : path-like
    grey : bool, optional
        None (default): colour images keep their three channels, and a folder of grey
        images stays grey; in a folder that mixes both the grey ones get three equal
        channels (with a warning). True converts colour to grey (with a warning saying how
        many), False reads every image as colour.

    Returns
    -------
    data : Bunch
        ``data`` (n_images, n_pixels) uint8 or uint16, ``image_shape`` (height, width) for
        grey images or (3, height, width) for colour (channels first, the layout of the
        convolutional architecture), ``target`` (labels or None), ``feature_names`` None,
        ``source_dtype``, ``files``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"Image folder not found: {folder}")
    files, labels = _labelled_files(folder)
    images: list[np.ndarray] = []
    colour: list[bool] = []
    for path in files:
        image, in_colour = read_image(path, grey)
        if images:
            _check_alike(path, image, images[0], files, folder)
        images.append(image)
        colour.append(in_colour)
    stack = _stack(folder, images, colour, grey)
    return Bunch(data=stack.reshape(len(stack), -1), image_shape=tuple(stack.shape[1:]),
                 target=labels, feature_names=None, source_dtype=stack.dtype,
                 files=[str(p) for p in files], ids=None)

"""Folders of PNG/JPEG images as rows of grey pixels (needs Pillow)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from codings.datasets._files import first_line, open_data_file
from codings.exceptions import InvalidInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


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


def read_gray(path: Path) -> np.ndarray:
    """One image as a (height, width) array: uint8, or uint16 for 16-bit greyscale images
    (with their real values, not clipped to 255); colour is converted to grey (8-bit)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_data_file(path) as handle, Image.open(handle) as image:
            if image.mode in _SIXTEEN_BIT:
                pixels = np.asarray(image)
                if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
                    raise InvalidInputError(f"{path} holds {image.mode} pixels outside "
                                            "0-65535; only 8- and 16-bit images are read.")
                return pixels.astype(np.uint16)
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"Cannot read the image {path}: {first_line(exc)}") from exc


def load_image_folder(folder: str | os.PathLike[str]) -> Bunch:
    """All PNG/JPEG images in ``folder`` (sorted by name) as grey rows, values unscaled.

    Every image must have the same size and bit depth. Images in class subfolders get the
    subfolder name as their label. 16-bit greyscale PNGs keep their 0-65535 values
    (``source_dtype`` uint16, which ``--scale auto`` divides by 65535).

    Returns
    -------
    data : Bunch
        ``data`` (n_images, height * width) uint8 or uint16, ``image_shape`` (height, width),
        ``target`` (labels or None), ``feature_names`` None, ``source_dtype``, ``files``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"Image folder not found: {folder}")
    files, labels = _labelled_files(folder)
    images: list[np.ndarray] = []
    for path in files:
        image = read_gray(path)
        if images and image.shape != images[0].shape:
            h, w = images[0].shape
            raise InvalidInputError(
                f"{path} is {image.shape[1]}x{image.shape[0]} pixels but {files[0].name} is "
                f"{w}x{h}: every image in {folder} must have the same size (resize them first).")
        if images and image.dtype != images[0].dtype:
            bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}
            raise InvalidInputError(
                f"{path} has {bits[image.dtype]}-bit pixels but {files[0].name} has "
                f"{bits[images[0].dtype]}-bit: every image in {folder} must have the same bit "
                "depth (convert them first).")
        images.append(image)
    stack = np.stack(images)
    return Bunch(data=stack.reshape(len(stack), -1), image_shape=tuple(stack.shape[1:]),
                 target=labels, feature_names=None, source_dtype=stack.dtype,
                 files=[str(p) for p in files])

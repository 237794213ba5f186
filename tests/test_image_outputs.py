"""Images come back as images: 8-bit data in [0, 255] (uint8 in a .npy) and in the images'
shape, and colour folders keep their three channels (a 3-channel conv model trains on them)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from codings import load
from codings.cli import main
from codings.datasets import load_image_folder

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "4", "--random-state", "0", "-q"]


def write_pngs(folder: Path, n: int, mode: str = "RGB", size: tuple[int, int] = (6, 5),
               seed: int = 0) -> list[np.ndarray]:
    """``n`` random PNGs of ``size`` (width, height); returns their pixels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]
    for i, pixels in enumerate(images):
        Image.fromarray(pixels, mode).save(folder / f"{mode}{i:02d}.png")
    return images


# -- the reader ------------------------------------------------------------------------------
def test_colour_images_keep_their_channels_first(workdir: Path) -> None:
    images = write_pngs(Path("rgb"), 3)
    bunch = load_image_folder("rgb")
    assert bunch.image_shape == (3, 5, 6) and bunch.data.shape == (3, 90)
    assert bunch.data.dtype == np.uint8
    expected = np.stack(images).transpose(0, 3, 1, 2)  # (n, H, W, 3) -> (n, 3, H, W)
    np.testing.assert_array_equal(bunch.data.reshape(3, 3, 5, 6), expected)


def test_converting_colour_says_so(workdir: Path) -> None:
    write_pngs(Path("mixed"), 2)
    write_pngs(Path("mixed"), 1, mode="L")
    with pytest.warns(UserWarning, match="mixes 1 grey and 2 colour images: the grey ones are "
                                         "read as colour"):
        bunch = load_image_folder("mixed")
    grey_image = bunch.data.reshape(3, 3, 5, 6)[0]  # "L00.png" sorts first
    np.testing.assert_array_equal(grey_image[0], grey_image[2])
    with pytest.warns(UserWarning, match="2 of 3 images are in colour; converted to grey"):
        assert load_image_folder("mixed", grey=True).image_shape == (5, 6)
    write_pngs(Path("grey"), 2, mode="L")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say about a folder of grey images
        assert load_image_folder("grey").image_shape == (5, 6)


# -- the command line ------------------------------------------------------------------------
def test_rgb_folder_trains_a_three_channel_conv_model(workdir: Path) -> None:
    write_pngs(Path("rgb"), 6)
    assert main(["fit", "--data", "rgb", "--architecture", "conv", "--name", "c", *FAST]) == 0
    model = load("runs/c/model.safetensors")
    assert model.image_shape_ == (3, 5, 6) and model.input_dtype_ == "uint8"
    first = next(m for m in model.autoencoder.module_.encoder.modules()
                 if type(m).__name__ == "Conv2d")
    assert first.in_channels == 3

    assert main(["reconstruct", "runs/c/model.safetensors", "rgb", "-o", "r.npy"]) == 0
    assert main(["encode", "runs/c/model.safetensors", "rgb", "-o", "z.npy"]) == 0
    assert main(["decode", "runs/c/model.safetensors", "z.npy", "-o", "d.csv"]) == 0
    reconstructions = np.load("r.npy")
    assert reconstructions.shape == (6, 3, 5, 6) and reconstructions.dtype == np.uint8
    decoded = np.loadtxt("d.csv", delimiter=",", skiprows=1)
    assert decoded.shape == (6, 90)  # a CSV keeps flat rows
    assert decoded.min() >= 0 and decoded.max() <= 255


def test_grey_converts_colour_and_a_grey_model_reads_colour_as_grey(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pngs(Path("rgb"), 4)  # (an MLP on colour: tests/test_cli_commands.py, 192 inputs)
    assert main(["fit", "--data", "rgb", "--grey", "--name", "g", *FAST]) == 0
    assert "4 of 4 images are in colour; converted to grey" in capsys.readouterr().err
    grey = load("runs/g/model.safetensors")
    assert grey.image_shape_ == (5, 6) and grey.n_features_in_ == 30
    # A grey model reads a colour folder as grey, and says so.
    assert main(["reconstruct", "runs/g/model.safetensors", "rgb", "-o", "r.npy"]) == 0
    assert "converted to grey" in capsys.readouterr().err
    assert np.load("r.npy").shape == (4, 5, 6)


def test_eight_bit_outputs_are_in_range_and_shaped(workdir: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 6, 6), dtype=np.uint8)
    images[:, :3] = 255  # saturated pixels: a reconstruction overshoots them
    np.save("u8.npy", images)
    # identity output, unscaled: reconstructions stray far outside [0, 255] unless clipped
    assert main(["fit", "--data", "u8.npy", "--scale", "standard", "--name", "u",
                 *FAST]) == 0
    model_path = "runs/u/model.safetensors"
    assert main(["reconstruct", model_path, "u8.npy", "-o", "r.npy"]) == 0
    assert main(["reconstruct", model_path, "u8.npy", "-o", "r.csv"]) == 0
    assert main(["encode", model_path, "u8.npy", "-o", "z.npy"]) == 0
    np.save("far.npy", 50.0 * np.load("z.npy"))  # codings far out: decodings overshoot
    assert main(["decode", model_path, "far.npy", "-o", "d.npy"]) == 0
    for name, shape in (("r.npy", (40, 6, 6)), ("d.npy", (40, 6, 6))):
        array = np.load(name)
        assert array.shape == shape and array.dtype == np.uint8, name
    raw = load(model_path).inverse_transform(np.load("far.npy"))
    assert raw.min() < 0 or raw.max() > 255  # what clipping kept out of d.npy
    np.testing.assert_array_equal(np.load("d.npy"),
                                  np.rint(np.clip(raw, 0, 255)).reshape(40, 6, 6))
    table = np.loadtxt("r.csv", delimiter=",", skiprows=1)
    assert table.shape == (40, 36) and table.min() >= 0 and table.max() <= 255

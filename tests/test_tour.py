"""``codings tour --quick``: one page, a section and figures per step, nothing external.

The full tour is a benchmark (``codings tour``, a few minutes), not a test.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from codings import InvalidInputError
from codings.cli import main
from codings.datasets import load_digits
from codings.tour import STEPS, ImageSet


def test_quick_tour_on_images_from_a_file(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """--data with Keras-style arrays (uint8 images and labels), as MNIST would be given."""
    digits = load_digits()
    data = tmp_path / "digits.npz"
    np.savez(data, x_train=np.round(digits.images * 255 / 16).astype(np.uint8),
             y_train=digits.target)
    assert main(["tour", "--quick", "--data", str(data), "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("tour: ") == len(STEPS)  # one progress line per step
    assert "tour.html" in captured.out
    page = (tmp_path / "out" / "tour.html").read_text()
    headings = re.findall(r"<h2>([^<]*)</h2>", page)
    assert headings == [title for title, _ in STEPS] + ["Timing"]
    assert "digits.npz (8x8)" in page and "Quick mode" in page
    assert 'class="note"' not in page, "a step was skipped or a figure is missing"
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) >= 15
    for source in sources:
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"))[:4] == \
            b"\x89PNG"
    assert "<script" not in page
    assert not re.search(r"(https?:)?//[a-z0-9]", re.sub(r'src="data:[^"]*"', "", page))


def test_image_sets_are_checked() -> None:
    X = np.random.default_rng(0).random((120, 16))
    with pytest.raises(InvalidInputError, match="scaled to \\[0, 1\\]"):
        ImageSet("x", X * 2, (4, 4))
    with pytest.raises(InvalidInputError, match="at least 100 images"):
        ImageSet("x", X[:50], (4, 4))
    with pytest.raises(InvalidInputError, match="3 labels for 120 images"):
        ImageSet("x", X, (4, 4), np.zeros(3))


def test_tour_scales_float_images_to_the_unit_range(tmp_path: Path) -> None:
    from codings.cli.tour import load_images

    np.save(tmp_path / "x.npy", np.linspace(-1, 3, 200 * 36).reshape(200, 6, 6))
    images = load_images(str(tmp_path / "x.npy"), None)
    assert isinstance(images, ImageSet)
    assert images.image_shape == (6, 6) and images.labels is None
    assert images.X.min() == 0 and images.X.max() == 1

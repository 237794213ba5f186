"""Shared test setup: one torch thread (two threads on a busy 2-core machine run several times
slower) and a headless matplotlib backend."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    from codings.datasets import load_digits

    return load_digits().data


@pytest.fixture
def small_data() -> np.ndarray:
    rng = np.random.RandomState(0)
    latent = rng.randn(120, 2)
    return latent @ rng.randn(2, 6) + 0.05 * rng.randn(120, 6)


@pytest.fixture
def workdir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A fresh folder as the current directory (CLI runs write runs/ there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

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


class InterruptAt:
    """A progress callback that presses Ctrl-C at the end of an epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self) -> InterruptAt:
        return self

    def on_train_begin(self, max_iter: int) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt

    def on_train_end(self, logs: dict[str, object]) -> None:
        pass


@pytest.fixture
def interrupt_at() -> type[InterruptAt]:
    """``interrupt_at(epoch=N)``: a stand-in for the CLI's progress bar that presses Ctrl-C
    at the end of epoch N (patch ``codings.cli.fit.ProgressBar`` with it)."""
    return InterruptAt

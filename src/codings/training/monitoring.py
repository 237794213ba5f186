"""Callbacks that report on training: a progress bar and TensorBoard logs.

Neither draws with a plotting library: TensorBoard's figure is an image drawn with numpy, or
the figure function you pass in (the command line passes
:func:`codings.plotting.plot_reconstructions`), so the training layer needs torch and numpy
(and tqdm for the bar).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from codings._install import install_hint
from codings.exceptions import InvalidInputError
from codings.training.callbacks import Callback


def _format_logs(logs: dict[str, float]) -> str:
    # "loss" equals "reconstruction" when there is no penalty: say it once.
    same = logs.get("loss") == logs.get("reconstruction")
    hidden = {"epoch", "time", *(("reconstruction",) if same else ())}
    if same and logs.get("val_loss") == logs.get("val_reconstruction"):
        hidden.add("val_reconstruction")
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in hidden)


def _in_notebook(stream: Any) -> bool:
    """True for a Jupyter kernel's output stream: not a terminal, but it renders widgets."""
    return type(stream).__module__.split(".", 1)[0] == "ipykernel"


def _has_widgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None  # found, not imported


class ProgressBar(Callback):
    """A tqdm bar on a terminal, a widget in a notebook (with ipywidgets), plain lines
    otherwise: one per epoch in logs, at most about 20 in a notebook cell."""

    #: plain lines printed in a notebook without ipywidgets, whatever max_iter is
    notebook_lines = 20

    def __init__(self, stream: Any = None, description: str = "fit") -> None:
        self.stream = stream
        self.description = description
        self._bar: Any = None

    def on_train_begin(self, max_iter: int) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        self._stream, self._max_iter, self._every = stream, max_iter, 1
        if getattr(stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=max_iter, desc=self.description, unit="epoch", file=stream,
                             dynamic_ncols=True, leave=True)
        elif _in_notebook(stream) and _has_widgets():
            from tqdm.notebook import tqdm as notebook_tqdm

            self._bar = notebook_tqdm(total=max_iter, desc=self.description, unit="epoch",
                                      leave=True)
        elif _in_notebook(stream):
            self._every = max(1, -(-max_iter // self.notebook_lines))

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(1)
        elif (epoch + 1) % self._every == 0 or epoch + 1 == self._max_iter:
            print(f"{self.description} epoch {epoch + 1}: {_format_logs(logs)}",
                  file=self._stream, flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class TensorBoard(Callback):
    """Logs training to TensorBoard: every loss term per epoch (``loss/<term>``, validation
    terms as ``val/<term>``), the learning rate (``lr``), and every ``figure_every`` epochs an
    image of ``n_examples`` training rows over their reconstructions.

    Needs the ``tensorboard`` package (``pip install tensorboard``); uses
    ``torch.utils.tensorboard.SummaryWriter``. View with ``tensorboard --logdir LOG_DIR``.

    Parameters
    ----------
    log_dir : str or path
        The run's event files go here (created if needed).
    figure_every : int, default=10
        Epochs between reconstruction figures; 0 for none.
    n_examples : int, default=8
        Training rows shown in the figure (the first ones).
    figure : callable, optional
        ``figure(x, x_hat)`` of two ``(n_examples, n_features)`` arrays returning a
        matplotlib figure, for example
        ``lambda x, x_hat: codings.plotting.plot_reconstructions(x, x_hat, (28, 28))``
        (what ``codings fit --tensorboard`` passes). None: an image drawn here with numpy,
        originals above reconstructions, each row as a square picture when its length is
        a square, else as a strip of grey levels.
    """

    priority = 50

    def __init__(self, log_dir: Any, figure_every: int = 10, n_examples: int = 8,
                 figure: Callable[[np.ndarray, np.ndarray], Any] | None = None) -> None:
        self.log_dir = log_dir
        self.figure_every = figure_every
        self.n_examples = n_examples
        self.figure = figure
        self.writer: Any = None

    def on_train_begin(self, max_iter: int) -> None:
        if self.writer is not None:
            return  # a later phase of the same fit keeps writing to the same run
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise InvalidInputError("The TensorBoard callback needs the tensorboard package: "
                                    f"{install_hint('tensorboard')}") from exc
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        step = epoch + 1
        for name, value in logs.items():
            if name == "time" or not math.isfinite(value):
                continue
            tag = "lr" if name == "lr" else (f"val/{name[4:]}" if name.startswith("val_")
                                             else f"loss/{name}")
            self.writer.add_scalar(tag, value, step)
        if self.figure_every and step % self.figure_every == 0:
            pairs = self._reconstructions()
            if pairs is not None and self.figure is not None:
                self.writer.add_figure("reconstructions", self.figure(*pairs), step)
            elif pairs is not None:
                self.writer.add_image("reconstructions", pairs_image(*pairs), step,
                                      dataformats="HW")
        self.writer.flush()

    @torch.no_grad()
    def _reconstructions(self) -> tuple[np.ndarray, np.ndarray] | None:
        module, source = self.trainer.module, self.trainer.source
        if not hasattr(module, "encode") or source is None:
            return None  # not an autoencoder (a classifier's network)
        x = source.head(self.n_examples).x
        was_training = module.training
        module.eval()
        x_hat = module.decode(module.encode(x).z)
        module.train(was_training)
        if getattr(self.trainer.objective, "loss", None) == "bce":
            x_hat = torch.sigmoid(x_hat)
        return x.float().cpu().numpy(), x_hat.float().cpu().numpy()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def pairs_image(x: np.ndarray, x_hat: np.ndarray, gap: int = 1) -> np.ndarray:
    """Originals above reconstructions as one grey image ``(height, width)`` in [0, 1].

    A row whose length is a square (over 4) is drawn as a square picture, any other as a
    strip of grey levels; both halves share the originals' range, so a faint
    reconstruction looks faint. ``gap`` pixels of white separate the pictures.
    """
    n = len(x)
    flat, flat_hat = x.reshape(n, -1), x_hat.reshape(n, -1)
    side = math.isqrt(flat.shape[1])
    square = side * side == flat.shape[1] and side > 2
    shape = (side, side) if square else (8, flat.shape[1])
    low, high = float(flat.min()), float(flat.max())
    scale = high - low if high > low else 1.0
    height, width = shape
    image = np.ones((2 * height + gap, n * (width + gap) - gap))
    for row, data in enumerate((flat, flat_hat)):
        for i in range(n):
            tile = data[i].reshape(shape) if square else np.broadcast_to(data[i], shape)
            top, left = row * (height + gap), i * (width + gap)
            image[top:top + height, left:left + width] = np.clip((tile - low) / scale, 0, 1)
    return image

"""Callbacks: small objects with no-op hooks that the training loop calls once per epoch."""

from __future__ import annotations

import sys
from typing import Any


class Callback:
    """Base class; override the hooks you need. ``self.module`` is the model being trained."""

    module: Any = None

    def set_module(self, module: Any) -> None:
        """Called by the training loop before ``on_train_begin``."""
        self.module = module

    def on_train_begin(self, max_iter: int) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with that epoch's history row."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once after training, whether it finished, stopped early or diverged."""


def _format_logs(logs: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in {"epoch", "time"})


def _in_notebook(stream: Any) -> bool:
    """True for a Jupyter kernel's output stream: not a terminal, but it renders widgets."""
    return type(stream).__module__.split(".", 1)[0] == "ipykernel"


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


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

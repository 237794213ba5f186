"""Callbacks: small objects with no-op hooks that the training loop calls once per epoch."""

from __future__ import annotations

import sys
from typing import Any


class Callback:
    """Base class; override the hooks you need."""

    def on_train_begin(self, max_iter: int) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with that epoch's history row."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once after training, whether it finished, stopped early or diverged."""


def _format_logs(logs: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in {"epoch", "time"})


class ProgressBar(Callback):
    """A tqdm bar on a terminal (or notebook); one plain line per epoch otherwise (CI logs)."""

    def __init__(self, stream: Any = None, description: str = "fit") -> None:
        self.stream = stream
        self.description = description
        self._bar: Any = None

    def on_train_begin(self, max_iter: int) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        self._stream = stream
        if getattr(stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=max_iter, desc=self.description, unit="epoch", file=stream,
                             dynamic_ncols=True, leave=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(1)
        else:
            print(f"{self.description} epoch {epoch + 1}: {_format_logs(logs)}",
                  file=self._stream, flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

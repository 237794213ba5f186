"""Timing helpers shared by the benchmarks: interleaved A/B runs, paired ratios, machine info.

On a shared machine the speed drifts by tens of percent between invocations and even within
one, so variants are never timed in separate blocks. :func:`alternate` runs them round-robin
(A, B, A, B, ...) in one process and :func:`ratio_summary` divides the times of the same round,
so slow drift cancels in each ratio; the spread over rounds shows what did not cancel.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any


def alternate(fns: Mapping[str, Callable[[], Any]], repeats: int, *,
              warmup: int = 1) -> dict[str, list[float]]:
    """Wall-clock seconds of each function, called in turn for ``repeats`` rounds.

    Parameters
    ----------
    fns : mapping of str to callable
        The variants; every round calls each once, in the mapping's order.
    repeats : int
        Timed rounds.
    warmup : int, default=1
        Untimed rounds first (imports, allocator and BLAS warm-up).

    Returns
    -------
    timings : dict of str to list of float
        ``timings[name][i]`` is the time of ``fns[name]`` in round ``i``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}.")
    timings: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if round_ >= warmup:
                timings[name].append(elapsed)
    return timings


@dataclass(frozen=True)
class RatioSummary:
    """Median and range of per-round ratios ``numerator[i] / denominator[i]``."""

    median: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.median:.3g} [{self.low:.3g}–{self.high:.3g}]"


def ratio_summary(numerator: list[float], denominator: list[float]) -> RatioSummary:
    """Summarise paired ratios (round ``i`` against round ``i``) of two timing lists."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError("numerator and denominator must be non-empty lists of equal length.")
    ratios = [a / b for a, b in zip(numerator, denominator, strict=True)]
    return RatioSummary(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


def median_range(values: list[float]) -> str:
    """``"median [min–max]"`` of ``values`` in milliseconds."""
    ms = [v * 1e3 for v in values]
    return f"{statistics.median(ms):.3g} ms [{min(ms):.3g}–{max(ms):.3g}]"


class ForeignLoad:
    """Context manager: the share of the machine's CPU time other processes used meanwhile.

    Reads ``/proc/stat`` (busy time of all CPUs) and this process's own CPU time at entry and
    exit; ``share`` is ``(busy - own) / total``, in [0, 1], or ``nan`` where ``/proc`` is
    missing. A share above ~0.1 means the timings were contended.
    """

    share: float = float("nan")

    def __enter__(self) -> ForeignLoad:
        self._start = _cpu_snapshot()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        end, start = _cpu_snapshot(), self._start
        if end is None or start is None:
            return
        busy, total, own = (e - s for e, s in zip(end, start, strict=True))
        self.share = max(0.0, (busy - own) / total) if total > 0 else float("nan")


def _cpu_snapshot() -> tuple[float, float, float] | None:
    """(busy seconds of all CPUs, total seconds of all CPUs, this process's CPU seconds)."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    total = sum(fields[:8]) / hz
    busy = total - (fields[3] + fields[4]) / hz
    times = os.times()
    return busy, total, times.user + times.system


def machine_description() -> list[str]:
    """Lines naming the CPU, core count and the library versions that matter for timings."""
    import numpy as np
    import sklearn
    import torch

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [f"CPU: {cpu} ({os.cpu_count()} logical CPUs)",
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"numpy {np.__version__}, scikit-learn {sklearn.__version__}"]


def matmul_peak_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> float:
    """This machine's fp32 matmul rate: the best of ``repeats`` ``torch.mm`` of n x n, in GFLOP/s.

    On CPU it uses torch's current thread count, so call it after ``torch.set_num_threads``.
    On CUDA, TF32 is left as configured (off by default for matmuls).
    """
    import torch

    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)
    torch.mm(a, b)  # warm-up: thread pool and BLAS buffers
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as aligned columns; the first row is the header, underlined."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def median_spread(values: list[float], fmt: str = ".3g") -> str:
    """``"median [min–max]"`` of ``values`` in their own unit."""
    return (f"{statistics.median(values):{fmt}} "
            f"[{min(values):{fmt}}–{max(values):{fmt}}]")

"""How many threads should ``n_jobs=None`` mean? Fit time for 1 thread vs all cores, on an
idle machine and on one where another process keeps a core busy, alternated side by side.

Workloads: the README's first command (``AutoEncoder`` on the embedded digits, default
settings) and two MNIST epochs of the chapter's 784-300-150 stack (when the data file is
given). "Loaded" starts one busy-looping process per ``--load`` core for the whole round
(what a shared CI machine or a second job looks like); "idle" has none. Each round runs every
variant once, in alternating order, so the machine's drift cancels in the ratios.

Run: ``python benchmarks/threads.py [../shared/data/mnist.npz] [--repeats 3] [--load 1]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from _timing import format_table, machine_description

from codings import AutoEncoder
from codings.datasets import load_digits


def _spin() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


class BusyCores:
    """``n`` processes that keep ``n`` cores busy while the block runs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.processes: list[multiprocessing.Process] = []

    def __enter__(self) -> BusyCores:
        for _ in range(self.n):
            process = multiprocessing.Process(target=_spin, daemon=True)
            process.start()
            self.processes.append(process)
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
            process.join()


def workloads(mnist: str | None) -> dict[str, Callable[[int], object]]:
    digits = load_digits().data / 16
    jobs: dict[str, Callable[[int], object]] = {
        "digits, README defaults": lambda n: AutoEncoder(random_state=0, n_jobs=n).fit(digits),
    }
    if mnist:
        X = np.load(mnist)["x_train"].reshape(60000, -1).astype(np.float32)[:20000] / 255
        jobs["MNIST 20k rows, 784-300-150, 2 epochs"] = lambda n: AutoEncoder(
            n_components=150, hidden_layer_sizes=(300,), max_iter=2, random_state=0,
            n_jobs=n).fit(X)
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", nargs="?", help="path to mnist.npz (optional)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=1, help="busy cores when loaded")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(*machine_description(), sep="\n")
    print(f"{cores} cores; variants: n_jobs=1 vs n_jobs=-1 ({cores} threads); loaded = "
          f"{args.load} busy process(es); {args.repeats} alternated rounds\n")
    rows = [("workload", "machine", "1 thread s", f"{cores} threads s",
             f"1 thread / {cores} threads (time ratio; >1: all cores faster)")]
    for name, job in workloads(args.mnist).items():
        job(1)  # imports and first-call costs
        for machine, load in (("idle", 0), ("loaded", args.load)):
            times: dict[int, list[float]] = {1: [], -1: []}
            with BusyCores(load):
                for round_ in range(args.repeats):
                    for n in ((1, -1) if round_ % 2 == 0 else (-1, 1)):
                        started = time.perf_counter()
                        job(n)
                        times[n].append(time.perf_counter() - started)
            ratio = statistics.median(a / b for a, b in zip(times[1], times[-1], strict=True))
            rows.append((name, machine, f"{statistics.median(times[1]):.2f}",
                         f"{statistics.median(times[-1]):.2f}", f"{ratio:.2f}"))
            print(format_table(rows[-1:]), flush=True)
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()

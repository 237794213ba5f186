"""Epoch time and memory as the number of rows grows: ``fit`` on a memory-mapped ``.npy``.

The script writes float32 files of 784 columns (10k, 100k and 1M rows; ``--max-rows`` caps
the list) in a temporary folder, chunk by chunk so it never holds one in memory, then trains
on each in a fresh subprocess: ``AutoEncoder.fit(np.load(path, mmap_mode="r"))``. Each child
reports the epoch time from ``history_["time"]``, its peak resident set size
(``ru_maxrss``, which also counts the file's pages that the memory map brought in), and the
peaks of those file pages and of its private memory (``RssFile`` and ``RssAnon`` from
``/proc/self/status``, sampled every 20 ms); growth is over the child's memory just before
``fit``. File pages are page cache that the kernel can drop; private memory is not.

Private memory that grows with the file means ``fit`` copied the data into memory; private
memory that stays flat means it streamed the memory map. The script prints which it saw.

Run: ``python benchmarks/scaling.py [--max-rows 100000] [--epochs 1] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _timing import format_table, machine_description

SIZES = (10_000, 100_000, 1_000_000)
N_FEATURES = 784
CHUNK_ROWS = 50_000
MIB = 2**20
# fit copied the data when its private memory grew by more than this share of the file.
COPY_SHARE = 0.5


def write_npy(path: Path, n_rows: int, seed: int = 0) -> None:
    """Random float32 rows in [0, 1), written through a memory map one chunk at a time."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        out[start:stop] = rng.random((stop - start, N_FEATURES), dtype=np.float32)
    out.flush()
    del out


def status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (0 where it is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler:
    """Samples ``RssAnon`` and ``RssFile`` in a background thread; ``peak`` holds the largest
    value of each in KiB."""

    FIELDS = ("RssAnon", "RssFile")

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = {field: 0 for field in self.FIELDS}
        self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for field in self.FIELDS:
            self.peak[field] = max(self.peak[field], status_kib(field))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def child(path: str, epochs: int, threads: int) -> None:
    """Fit on one file and print one JSON line: times and memory."""
    import torch

    from codings import AutoEncoder

    torch.set_num_threads(threads)
    X = np.load(path, mmap_mode="r")
    ae = AutoEncoder(n_components=32, hidden_layer_sizes=(128,), activation="elu",
                     batch_size=256, max_iter=epochs, random_state=0)
    ae.fit(np.zeros((512, N_FEATURES), np.float32))  # warm up imports and allocator
    before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before_anon = status_kib("RssAnon")
    start = time.perf_counter()
    with PeakSampler() as sampler:
        ae.set_params(max_iter=epochs).fit(X)
    fit_s = time.perf_counter() - start
    print(json.dumps({
        "rows": int(X.shape[0]), "fit_s": fit_s, "epoch_s": list(ae.history_["time"]),
        "before_rss_kib": before_max,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "before_anon_kib": before_anon, "peak_anon_kib": sampler.peak["RssAnon"],
        "peak_file_kib": sampler.peak["RssFile"],
    }))


def run_child(*args: str) -> str:
    """Run this script with ``args`` in a fresh process; its stdout.

    The files are written in a child too: a process's ``ru_maxrss`` starts from its parent's
    peak (Linux carries it across exec), so a parent that had mapped a large file would
    raise every child's reading.
    """
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def report(results: list[dict[str, float]]) -> None:
    rows = [("rows", "file MiB", "epoch s", "µs/row", "fit s", "peak RSS MiB (growth)",
             "peak file pages MiB", "peak private MiB (growth)", "private growth / file")]
    for r in results:
        file_mib = r["rows"] * N_FEATURES * 4 / MIB
        epoch = float(np.median(r["epoch_s"]))
        rss = r["peak_rss_kib"] / 1024
        anon = r["peak_anon_kib"] / 1024
        anon_growth = (r["peak_anon_kib"] - r["before_anon_kib"]) / 1024
        rows.append((f"{r['rows']:,}", f"{file_mib:,.0f}", f"{epoch:.2f}",
                     f"{epoch / r['rows'] * 1e6:.1f}", f"{r['fit_s']:.2f}",
                     f"{rss:,.0f} (+{(r['peak_rss_kib'] - r['before_rss_kib']) / 1024:,.0f})",
                     f"{r['peak_file_kib'] / 1024:,.0f}", f"{anon:,.0f} (+{anon_growth:,.0f})",
                     f"{anon_growth / file_mib:.2f}"))
    print(format_table(rows))
    print(f"\nmode: {detect_mode(results)}")


def detect_mode(results: list[dict[str, float]]) -> str:
    """Whether private memory grew with the file: the slope between the smallest and the
    largest file, in which the fixed costs cancel."""
    def growth_and_file(r: dict[str, float]) -> tuple[float, float]:
        return ((r["peak_anon_kib"] - r["before_anon_kib"]) / 1024,
                r["rows"] * N_FEATURES * 4 / MIB)

    (g_hi, f_hi), (g_lo, f_lo) = growth_and_file(results[-1]), growth_and_file(results[0])
    if len(results) < 2:
        return (f"undetermined with one file size (private memory grew {g_hi:,.0f} MiB for "
                f"a {f_hi:,.0f} MiB file, fixed costs included); use --max-rows 100000 or more")
    share = (g_hi - g_lo) / (f_hi - f_lo)
    if share > COPY_SHARE:
        return (f"IN-MEMORY COPY: fit copied the memory-mapped file into private memory "
                f"(private memory grew by {share:.2f} MiB per MiB of file)")
    return (f"STREAMING: fit's private memory did not grow with the memory-mapped file "
            f"({share:.3f} MiB per MiB of file)")

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=SIZES[-1],
                        help="largest file (default 1,000,000; 100000 for a quick run)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per fit (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--dir", help="folder for the files (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.epochs, args.threads)
        return
    if args.write:
        write_npy(Path(args.write[0]), int(args.write[1]))
        return
    sizes = [n for n in SIZES if n <= args.max_rows] or [args.max_rows]
    print(*machine_description(), sep="\n")
    print(f"model 784-128-32-128-784 ELU, batch 256, Adam; {args.epochs} epoch(s) per fit; "
          f"torch threads {args.threads}; one fresh process per size")
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for n in sizes:
            path = Path(folder) / f"rows_{n}.npy"
            started = time.perf_counter()
            run_child("--write", str(path), str(n))
            print(f"  wrote {path.name} ({os.path.getsize(path) / MIB:,.0f} MiB) in "
                  f"{time.perf_counter() - started:.1f} s; fitting...", flush=True)
            out = run_child("--child", str(path), "--epochs", str(args.epochs), "--threads",
                            str(args.threads))
            results.append(json.loads(out.strip().splitlines()[-1]))
            path.unlink()
    print()
    report(results)


if __name__ == "__main__":
    main()

"""Time-series anomaly detection: a synthetic signal scored per time step, and UCR one-class.

Usage::

    python benchmarks/timeseries.py                  # full: both parts, 3 seeds
    python benchmarks/timeseries.py --quick          # smoke run, seconds
    python benchmarks/timeseries.py --only synthetic --seeds 0,1,2
    python benchmarks/timeseries.py --only ucr --ucr aeon-1.6.0-py3-none-any.whl

(a) Synthetic, per time step. A noisy two-period sine (periods 12 and 30, noise 0.1) gives
1,200 normal training steps; a test stretch of 2,400 steps of the same signal holds two of
each kind of anomaly: a spike (3 steps, +-3), a level shift (60 steps, +-1.5), a frequency
change (60 steps at half the periods) and a flat line (60 steps holding a value). Every
model takes windows of 48 steps (stride 2 for training, 1 for scoring) and a step's score is
the mean over the windows covering it of their error at that step (``score_timesteps``).
Rows: the three sequence architectures and the MLP on flattened windows (``n_components=8``,
one layer of 32, 100 epochs, the estimator's defaults otherwise); PCA with 8 components on
the same windows; a rolling z-score (distance to the mean of the previous 48 steps, in their
standard deviations); and, where ``stumpy`` is installed, the matrix-profile distance of each
test window to its nearest training window (z-normalised, the usual discord, and raw),
spread over steps by the same mean. Columns: ROC-AUC over all steps, precision at the true
anomaly rate (the share of anomalous steps among the top-scored ones, as many as there are
anomalous steps), and the ROC-AUC of each kind against the normal steps.

(b) UCR one-class. Each class of a data set in turn is normal: models train on that class's
training series and score every test series; ROC-AUC with the other classes as anomalies,
averaged over the classes. The data sets are the ones aeon ships inside its wheel (GunPoint,
ItalyPowerDemand, ArrowHead). aeon's own dependencies pin older numpy and pandas, so install
only the wheel's files (``pip install --no-deps aeon``; nothing of aeon is imported) or pass
the wheel itself (``pip download --no-deps aeon``, then ``--ucr aeon-*.whl``). Rows: the
autoencoders on whole series (batch 16, 200 epochs: the training sets hold 12 to 34
series per class), PCA and the distance to the nearest training series.

``stumpy`` (the matrix profile) is in the ``bench`` extra: ``pip install -e .[bench]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _timing import machine_description
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from codings import AutoEncoder
from codings.datasets import sliding_windows
from codings.estimators.detector import AnomalyDetector

WINDOW = 48
PERIODS = (12.0, 30.0)
KINDS = ("spike", "level shift", "frequency", "flat line")
NETWORK = dict(n_components=8, hidden_layer_sizes=(32,))
ARCHITECTURES = ("lstm", "gru", "conv1d", "mlp")
UCR_SETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead")

Scorer = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (train, test, seed) -> scores


# -- (a) the synthetic signal ------------------------------------------------------------------
def make_signal(n_steps: int, rng: np.random.Generator, periods: tuple[float, ...] = PERIODS,
                start: int = 0) -> np.ndarray:
    """``sin(2 pi t / p1) + 0.5 sin(2 pi t / p2) + 0.1 noise`` for t = start, start + 1, ..."""
    t = np.arange(start, start + n_steps)
    waves = sum(0.5 ** i * np.sin(2 * np.pi * t / p) for i, p in enumerate(periods))
    return waves + 0.1 * rng.standard_normal(n_steps)


def inject(n_steps: int, rng: np.random.Generator, per_kind: int = 2
           ) -> tuple[np.ndarray, np.ndarray]:
    """A test stretch with ``per_kind`` anomalies of each kind, one per segment of
    ``n_steps / (4 * per_kind)`` steps in a random order; ``kinds`` is 0 for normal steps
    and ``1 + KINDS.index(kind)`` for anomalous ones."""
    x, kinds = make_signal(n_steps, rng), np.zeros(n_steps, dtype=np.int64)
    order = rng.permutation(np.repeat(np.arange(len(KINDS)), per_kind))
    segment = n_steps // len(order)
    for i, kind in enumerate(order):
        length = 3 if kind == 0 else 60
        at = i * segment + int(rng.integers(WINDOW, segment - length - WINDOW))
        span = slice(at, at + length)
        if kind == 0:
            x[span] += 3.0 * rng.choice([-1.0, 1.0])
        elif kind == 1:
            x[span] += 1.5 * rng.choice([-1.0, 1.0])
        elif kind == 2:
            x[span] = make_signal(length, rng, tuple(p / 2 for p in PERIODS), start=at)
        else:
            x[span] = x[at]
        kinds[span] = kind + 1
    return x, kinds


def per_step(window_errors: np.ndarray, n_steps: int) -> np.ndarray:
    """Mean over the stride-1 windows covering each step of their error at that step."""
    n_windows, window = window_errors.shape
    sums, counts = np.zeros(n_steps), np.zeros(n_steps)
    for offset in range(window):
        sums[offset:offset + n_windows] += window_errors[:, offset]
        counts[offset:offset + n_windows] += 1
    return sums / counts


def autoencoder_scorer(architecture: str, epochs: int) -> Scorer:
    def score(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        model = AutoEncoder(architecture=architecture, **NETWORK, max_iter=epochs,
                            random_state=seed)
        detector = AnomalyDetector(model).fit_timesteps(train, WINDOW, stride=2)
        return -detector.score_timesteps(test)
    return score


def pca_scorer(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    pca = PCA(NETWORK["n_components"]).fit(sliding_windows(train, WINDOW, 2)[..., 0])
    windows = sliding_windows(test, WINDOW)[..., 0]
    errors = (pca.inverse_transform(pca.transform(windows)) - windows) ** 2
    return per_step(errors, len(test))


def rolling_z_scorer(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    history = np.concatenate([train[-WINDOW:], test])
    previous = sliding_windows(history, WINDOW)[:-1, :, 0]  # the WINDOW steps before each
    return np.abs(test - previous.mean(axis=1)) / np.maximum(previous.std(axis=1), 1e-8)


def matrix_profile_scorer(normalize: bool) -> Scorer:
    import stumpy

    def score(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        profile = stumpy.stump(test, WINDOW, T_B=train, ignore_trivial=False,
                               normalize=normalize)[:, 0].astype(np.float64)
        return per_step(np.repeat(profile[:, None], WINDOW, axis=1), len(test))
    return score


def precision_at_rate(anomalous: np.ndarray, scores: np.ndarray) -> float:
    top = np.argsort(-scores, kind="stable")[:int(anomalous.sum())]
    return float(anomalous[top].mean())


def synthetic_metrics(kinds: np.ndarray, scores: np.ndarray) -> list[float]:
    anomalous, normal = kinds > 0, kinds == 0
    per_kind = [roc_auc_score(kinds[normal | (kinds == k)] == k, scores[normal | (kinds == k)])
                for k in range(1, len(KINDS) + 1)]
    return [roc_auc_score(anomalous, scores), precision_at_rate(anomalous, scores), *per_kind]


def synthetic_scorers(epochs: int, matrix_profile: bool) -> dict[str, Scorer]:
    scorers: dict[str, Scorer] = {
        f"{name} autoencoder": autoencoder_scorer(name, epochs) for name in ARCHITECTURES}
    scorers["PCA (8 components), same windows"] = pca_scorer
    scorers["rolling z-score (48 steps)"] = rolling_z_scorer
    if not matrix_profile:  # quick mode: numba's compilation alone takes a minute
        return scorers
    if importlib.util.find_spec("stumpy") is None:
        print("stumpy is not installed: no matrix-profile rows (pip install -e .[bench])")
        return scorers
    scorers["matrix profile, z-normalised"] = matrix_profile_scorer(True)
    scorers["matrix profile, raw"] = matrix_profile_scorer(False)
    return scorers


def run_synthetic(seeds: list[int], epochs: int, train_steps: int, test_steps: int,
                  per_kind: int, matrix_profile: bool = True) -> None:
    results: dict[str, list[list[float]]] = {}
    times: dict[str, list[float]] = {}
    scorers = synthetic_scorers(epochs, matrix_profile)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        train = make_signal(train_steps, rng)
        test, kinds = inject(test_steps, rng, per_kind)
        for name, scorer in scorers.items():
            started = time.perf_counter()
            scores = scorer(train, test, seed)
            times.setdefault(name, []).append(time.perf_counter() - started)
            results.setdefault(name, []).append(synthetic_metrics(kinds, scores))
            print(f"  seed {seed}, {name}: ROC-AUC {results[name][-1][0]:.3f} "
                  f"({times[name][-1]:.0f} s)", flush=True)
    print(f"\n(a) synthetic signal: {train_steps} normal training steps, {test_steps} test "
          f"steps, windows of {WINDOW}; mean over seeds {seeds} (min-max of the ROC-AUC)\n")
    print("| method | ROC-AUC | precision at the anomaly rate | "
          + " | ".join(f"ROC-AUC, {kind}" for kind in KINDS) + " | s per seed |")
    print("|---" * (4 + len(KINDS)) + "|")
    for name, rows in results.items():
        means = np.mean(rows, axis=0)
        aucs = [row[0] for row in rows]
        spread = f" ({min(aucs):.3f}-{max(aucs):.3f})" if len(aucs) > 1 else ""
        print(f"| {name} | {means[0]:.3f}{spread} | {means[1]:.3f} | "
              + " | ".join(f"{m:.3f}" for m in means[2:])
              + f" | {statistics.mean(times[name]):.0f} |")


# -- (b) UCR one-class ------------------------------------------------------------------------
def _aeon_data() -> Path | None:
    """aeon's shipped data folder, found without importing aeon."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def parse_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A univariate, equal-length ``.ts`` file: ``(series (n, length), labels (n,))``."""
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip().lower() == "@data":
            break
    rows, labels = [], []
    for line in lines:
        if line.strip():
            values, label = line.strip().rsplit(":", 1)
            rows.append(np.array(values.split(","), dtype=np.float64))
            labels.append(label)
    return np.stack(rows), np.array(labels)


def read_ucr(name: str, split: str, source: Path) -> tuple[np.ndarray, np.ndarray]:
    member = f"{name}/{name}_{split}.ts"
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            text = io.TextIOWrapper(wheel.open(f"aeon/datasets/data/{member}"),
                                    encoding="utf-8").read()
    else:
        text = (source / member).read_text(encoding="utf-8")
    return parse_ts(text)


def ucr_scorers(epochs: int) -> dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]]:
    def autoencoder(architecture: str) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
        def score(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
            model = AutoEncoder(architecture=architecture, **NETWORK, batch_size=16,
                                max_iter=epochs, random_state=seed).fit(train)
            return model.reconstruction_error(test)
        return score

    def pca(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        fitted = PCA(min(NETWORK["n_components"], len(train) - 1)).fit(train)
        return ((fitted.inverse_transform(fitted.transform(test)) - test) ** 2).mean(axis=1)

    def nearest(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        return np.sqrt(((test[:, None] - train[None]) ** 2).sum(axis=2)).min(axis=1)

    return {**{f"{name} autoencoder": autoencoder(name) for name in ARCHITECTURES},
            "PCA (8 components)": pca, "nearest training series": nearest}


def run_ucr(source: Path, names: tuple[str, ...], seeds: list[int], epochs: int) -> None:
    table: dict[str, dict[str, float]] = {}
    for name in names:
        X_train, y_train = read_ucr(name, "TRAIN", source)
        X_test, y_test = read_ucr(name, "TEST", source)
        print(f"  {name}: {len(X_train)} training and {len(X_test)} test series of "
              f"{X_train.shape[1]} steps, {len(set(y_train))} classes", flush=True)
        for method, scorer in ucr_scorers(epochs).items():
            aucs = [roc_auc_score(y_test != c, scorer(X_train[y_train == c], X_test, seed))
                    for c in np.unique(y_train) for seed in seeds]
            table.setdefault(method, {})[name] = float(np.mean(aucs))
            print(f"    {method}: ROC-AUC {table[method][name]:.3f}", flush=True)
    print(f"\n(b) UCR one-class: ROC-AUC, mean over the classes (each normal in turn) and "
          f"seeds {seeds}\n")
    print("| method | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for method, row in table.items():
        print(f"| {method} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: seconds")
    parser.add_argument("--only", choices=("synthetic", "ucr"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ucr", type=Path, help="aeon's wheel or its datasets/data folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small recurrent models: one thread is fastest
    warnings.filterwarnings("ignore", category=UserWarning)  # "stopped before converging"
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    print(f"mode: {'QUICK' if args.quick else 'FULL'}")
    print("\n".join(machine_description()))
    if args.only != "ucr":
        run_synthetic(seeds, epochs=3 if args.quick else 100,
                      train_steps=300 if args.quick else 1200,
                      test_steps=800 if args.quick else 2400, per_kind=1 if args.quick else 2,
                      matrix_profile=not args.quick)
    if args.only != "synthetic":
        source = args.ucr or _aeon_data()
        if source is None:
            print("\n(b) skipped: no UCR data (pip install --no-deps aeon, or --ucr WHEEL)")
        else:
            run_ucr(source, UCR_SETS[1:2] if args.quick else UCR_SETS, seeds,
                    epochs=3 if args.quick else 200)


if __name__ == "__main__":
    main()

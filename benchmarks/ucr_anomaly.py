"""UCR Time Series Anomaly Archive: one anomaly per series, methods side by side.

Usage::

    python benchmarks/ucr_anomaly.py ../shared/data/ucr_anomaly                 # everything
    python benchmarks/ucr_anomaly.py ../shared/data/ucr_anomaly --max-length 20000 --limit 30
    python benchmarks/ucr_anomaly.py DATA --methods mp proto --seeds 3 --out results.json
    python benchmarks/ucr_anomaly.py DATA --variants "epochs=15;max_fit=2000"  # ablations
    python benchmarks/ucr_anomaly.py DATA --seeds 3 --single-seed codings iforest

Run it single-threaded for honest CPU figures: ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1``.

Data: a folder with ``index.csv`` (``id,length,train_end,anomaly_start,anomaly_end``,
1-based, steps ``1..train_end`` normal) and one ``ID.npy`` per series. Every method sees the
training part and the test part (steps after ``train_end``) as two arrays and returns one
anomaly score per test step (higher = more anomalous). Measures, after ``train_end``:

* UCR accuracy: the single highest-scoring step lies within ``anomaly_start - 100 ..
  anomaly_end + 100`` (ties: the first such step);
* per-step ROC-AUC and average precision (AP) of the scores against the anomaly's steps;
* CPU seconds per series (``time.process_time`` around the method, data loading excluded).

``--max-length N`` shortens series longer than N: the last ``min(train_end, N // 3)``
training steps, and a stretch of the test part holding the anomaly (placed at a fixed,
id-derived fraction 0.2..0.8 of the stretch; the stretch starts at ``train_end`` when the
anomaly fits). ``--limit K`` keeps the first K series of the index.

Window: every windowed method uses the same automatic rule, :func:`auto_window`: the period
of the training part from its autocorrelation (first lag after the ACF first drops below
zero where it peaks highest, before lag ``min(n/3, 2000)``), clipped to 16..512; 100 when no
peak reaches 0.1.

Methods (``--methods``):

* ``mp``: stumpy's matrix profile, AB-join of each test window (z-normalised) to its nearest
  training window; a step gets the mean over the windows covering it.
* ``mp_raw``: the same without z-normalisation.
* ``pca``: PCA (8 components) on the training windows (standardised with the training mean
  and deviation); a step's score is the mean over covering windows of its squared error.
* ``iforest``: IsolationForest (100 trees) on the same windows, window score spread as ``mp``.
* ``zscore``: ``|x - mean| / std`` of the raw value, training mean and deviation.
* ``codings``: the library: ``AnomalyDetector(random_state=seed).fit_timesteps(train)`` then
  ``-score_timesteps(test)``; when that zero-argument API is not there yet, ``codings`` falls
  back to today's API (conv1d ``AutoEncoder``, window from :func:`auto_window`, see
  :func:`codings_scores`).
* ``proto``: the research prototype, :func:`proto_scores` (torch directly): its recipe is
  in that function's docstring; ``--variants`` picks options for ablations.

Methods that raise record NaN and the run goes on.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from sklearn.metrics import average_precision_score, roc_auc_score

TOLERANCE = 100


# -- data ------------------------------------------------------------
def load_index(root: Path) -> list[dict]:
    with open(root / "index.csv") as handle:
        return [{"id": row["id"], **{k: int(v) for k, v in row.items() if k != "id"}}
                for row in csv.DictReader(handle)]


def load_series(root: Path, row: dict, max_length: int | None):
    """``train, test, labels, (first, last)``: the test part's 0-based anomaly span and the
    accepted span for the argmax, both as test indices."""
    x = np.load(root / f"{row['id']}.npy").astype(np.float64)
    train_end, start, end = row["train_end"], row["anomaly_start"] - 1, row["anomaly_end"] - 1
    first_test = train_end
    train = x[:train_end]
    test_stop = len(x)
    if max_length and len(x) > max_length:
        n_train = min(train_end, max_length // 3)
        train = x[train_end - n_train:train_end]
        n_test = min(max_length - n_train, len(x) - train_end)
        if end + TOLERANCE < train_end + n_test:
            first_test = train_end
        else:
            fraction = 0.2 + 0.6 * ((int(row["id"]) * 0.6180339887) % 1.0)
            first_test = int(np.clip(start - fraction * n_test, train_end, len(x) - n_test))
        test_stop = first_test + n_test
    test = x[first_test:test_stop]
    steps = np.arange(first_test, test_stop)
    labels = ((steps >= start) & (steps <= end)).astype(np.int8)
    accepted = (start - TOLERANCE - first_test, end + TOLERANCE - first_test)
    return train, test, labels, accepted


# -- the window rule ------------------------------------------------------------
def auto_window(train: np.ndarray, low: int = 16, high: int = 512, default: int = 100) -> int:
    """The training part's period from its autocorrelation, clipped to ``low..high``.

    The ACF of the last (at most) 20,000 training steps, mean removed; after the first lag
    where it drops below zero, the lag of its highest value before ``min(n / 3, 2000)`` is
    the period. ``default`` when the ACF never drops below zero or that peak is under 0.1."""
    x = np.asarray(train, dtype=np.float64)[-20000:]
    x = x - x.mean()
    n = len(x)
    if n < 3 * low or not np.any(x):
        return default
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    acf = acf / acf[0]
    limit = min(n // 3, 2000)
    negative = np.flatnonzero(acf[:limit] < 0)
    if len(negative) == 0:
        return default
    lag = negative[0] + int(np.argmax(acf[negative[0]:limit]))
    if acf[lag] < 0.1:
        return default
    return int(np.clip(lag, low, high))


# -- window scores -> step scores -----------------------------------------------------------------
def full_window_scores(scores: np.ndarray, starts: np.ndarray, n_windows: int) -> np.ndarray:
    """Window scores at the given starts, linearly interpolated to every start."""
    if len(starts) == n_windows:
        return scores
    return np.interp(np.arange(n_windows), starts, scores)


def to_steps(window_scores: np.ndarray, window: int, how: str = "mean") -> np.ndarray:
    """One score per step from one score per window start (stride 1): the ``mean`` or
    ``max`` over the windows covering the step, or the score of the window ``center``-ed on it."""
    n_windows = len(window_scores)
    n_steps = n_windows + window - 1
    if how == "center":
        index = np.clip(np.arange(n_steps) - window // 2, 0, n_windows - 1)
        return window_scores[index]
    padded = np.concatenate([np.full(window - 1, np.nan), window_scores,
                             np.full(window - 1, np.nan)])
    if how == "max":
        filled = np.where(np.isnan(padded), -np.inf, padded)
        # step t is covered by starts t-window+1..t: padded indices t..t+window-1
        return maximum_filter1d(filled, window, origin=-(window // 2))[:n_steps]
    values = np.nan_to_num(padded)
    counts = (~np.isnan(padded)).astype(np.float64)
    sums = uniform_filter1d(values, window, origin=-(window // 2), mode="constant")
    numbers = uniform_filter1d(counts, window, origin=-(window // 2), mode="constant")
    return (sums / np.maximum(numbers, 1e-12))[:n_steps]


def spread_errors(errors: np.ndarray, starts: np.ndarray, n_steps: int, how: str) -> np.ndarray:
    """Per-window per-step errors ``(n_windows, window)`` -> one per step: the ``mean`` or
    ``max`` over the covering windows of the error at that step."""
    window = errors.shape[1]
    out = np.zeros(n_steps) if how == "mean" else np.full(n_steps, -np.inf)
    counts = np.zeros(n_steps)
    for offset in range(window):
        where = starts + offset
        if how == "mean":
            out[where] += errors[:, offset]  # starts are distinct: no index repeats
            counts[where] += 1
        else:
            out[where] = np.maximum(out[where], errors[:, offset])
    if how == "mean":
        return out / np.maximum(counts, 1)
    return np.where(np.isfinite(out), out, 0.0)


def windows_of(x: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, window)


def finite(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    good = np.isfinite(scores)
    if not good.all():
        top = scores[good].max() if good.any() else 0.0
        scores = np.where(np.isnan(scores), top, np.clip(scores, -abs(top) - 1, abs(top) + 1))
    return scores


# -- baselines ------------------------------------------------------------
def standardise(train: np.ndarray, test: np.ndarray):
    mean, std = train.mean(), train.std()
    std = std if std > 1e-12 else 1.0
    return (train - mean) / std, (test - mean) / std


def matrix_profile(train, test, window, seed, normalize=True, how="mean"):
    import stumpy
    profile = stumpy.stump(test, window, T_B=train, ignore_trivial=False,
                           normalize=normalize)[:, 0].astype(np.float64)
    return to_steps(finite(profile), window, how)


def training_windows(a: np.ndarray, window: int, most: int = 5000) -> np.ndarray:
    all_windows = windows_of(a, window)
    stride = max(1, math.ceil(len(all_windows) / most))
    return np.ascontiguousarray(all_windows[::stride])


def pca_scores(train, test, window, seed):
    from sklearn.decomposition import PCA
    a, b = standardise(train, test)
    pca = PCA(min(8, window), random_state=seed).fit(training_windows(a, window))
    test_windows = windows_of(b, window)
    _n_steps, sums = len(b), np.zeros(len(b))
    counts = np.zeros(len(b))
    for first in range(0, len(test_windows), 8192):
        batch = test_windows[first:first + 8192]
        errors = (pca.inverse_transform(pca.transform(batch)) - batch) ** 2
        for offset in range(window):
            sums[first + offset:first + offset + len(batch)] += errors[:, offset]
            counts[first + offset:first + offset + len(batch)] += 1
    return sums / np.maximum(counts, 1)


def iforest_scores(train, test, window, seed):
    from sklearn.ensemble import IsolationForest
    a, b = standardise(train, test)
    forest = IsolationForest(random_state=seed).fit(training_windows(a, window))
    test_windows = windows_of(b, window)
    stride = max(1, window // 8)
    starts = np.arange(0, len(test_windows), stride)
    scores = -forest.score_samples(test_windows[starts])
    return to_steps(full_window_scores(scores, starts, len(test_windows)), window, "mean")


def zscore_scores(train, test, window, seed):
    _a, b = standardise(train, test)
    return np.abs(b)


# -- the library ------------------------------------------------------------
def codings_scores(train, test, window, seed):
    """``AnomalyDetector(random_state=seed).fit_timesteps(train)``, ``-score_timesteps(test)``.

    Falls back, while that zero-argument API does not exist, to today's call: a conv1d
    ``AutoEncoder`` (8 codings, one layer of 32, 30 epochs) fitted by ``fit_timesteps(train,
    window, stride)`` with the auto window, training stride so at most 4,000 windows, scoring
    stride ``window // 8``."""
    import torch
    torch.set_num_threads(1)
    from codings import AnomalyDetector
    try:
        detector = AnomalyDetector(random_state=seed).fit_timesteps(train)
        return -np.asarray(detector.score_timesteps(test), dtype=np.float64)
    except TypeError:
        pass
    from codings import AutoEncoder
    a, b = standardise(train, test)
    stride = max(1, math.ceil((len(a) - window + 1) / 4000))
    model = AutoEncoder(architecture="conv1d", n_components=8, hidden_layer_sizes=(32,),
                        max_iter=30, random_state=seed)
    detector = AnomalyDetector(model).fit_timesteps(a, window, stride=stride)
    return -np.asarray(detector.score_timesteps(b, window, stride=max(1, window // 8)),
                       dtype=np.float64)


# -- the prototype ------------------------------------------------------------
PROTO_DEFAULTS = dict(
    views="znorm,raw",  # one autoencoder per view: "znorm" (each window z-normalised:
                        # shape) and "raw" (training standardisation only: level, scale)
    arch="mlp",        # "mlp" on flattened windows or "conv" (conv1d encoder/decoder)
    hidden=128,        # width of the hidden layer
    codings=16,        # coding size
    epochs=30,
    batch=64,
    lr=1e-3,
    max_fit=4000,      # training windows (evenly strided) the autoencoder sees
    bank=20000,        # training windows (evenly strided) a test window is compared with
    components="nn_code,nn_res",  # per view: nn_code, nn_res, rec (per-step error), rec_win
    rec_how="mean",    # per-step error -> step: mean / max over covering windows
    nn_how="mean",     # window score -> step: mean / max over covering windows, or center
    combine="max",     # max or sum of the calibrated components
    test_stride=1,
)


def _parse_variant(text: str) -> dict:
    options = dict(PROTO_DEFAULTS)
    for item in filter(None, text.split(";")):
        key, _, value = item.partition("=")
        default = PROTO_DEFAULTS[key]
        options[key] = type(default)(value) if not isinstance(default, str) else value
    return options


def _znorm(windows: np.ndarray) -> np.ndarray:
    mean = windows.mean(axis=1, keepdims=True)
    std = windows.std(axis=1, keepdims=True)
    return (windows - mean) / np.maximum(std, 1e-3)


def _build(window: int, opts: dict):
    import torch
    from torch import nn
    h, d = opts["hidden"], opts["codings"]
    if opts["arch"] == "mlp":
        encoder = nn.Sequential(nn.Linear(window, h), nn.ReLU(), nn.Linear(h, d))
        decoder = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, window))
        return encoder, decoder

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv1d(1, 16, 7, stride=2, padding=3), nn.ReLU(),
                nn.Conv1d(16, 32, 7, stride=2, padding=3), nn.ReLU())
            self.length = (window + 3) // 4
            self.out = nn.Linear(32 * self.length, d)

        def forward(self, x):
            z = self.conv(x[:, None, :])
            z = z[..., :self.length]
            return self.out(z.flatten(1))

    class Decoder(nn.Module):
        def __init__(self, length):
            super().__init__()
            self.length = length
            self.inp = nn.Linear(d, 32 * length)
            self.deconv = nn.Sequential(
                nn.ReLU(), nn.ConvTranspose1d(32, 16, 8, stride=2, padding=3), nn.ReLU(),
                nn.ConvTranspose1d(16, 1, 8, stride=2, padding=3))

        def forward(self, z):
            y = self.deconv(self.inp(z).view(len(z), 32, self.length))[:, 0]
            return y[:, :window] if y.shape[1] >= window else torch.nn.functional.pad(
                y, (0, window - y.shape[1]))

    encoder = Encoder()
    return encoder, Decoder(encoder.length)


def _nearest(queries, bank, exclude=None, window: int = 0, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance of each query row to its nearest bank row (torch, chunked).
    ``exclude = (query_positions, bank_positions)``: bank rows starting within ``window``
    steps of the query's own start are skipped (the training part scored against itself)."""
    import torch
    q = torch.as_tensor(queries, dtype=torch.float32)
    b = torch.as_tensor(bank, dtype=torch.float32)
    out = np.empty(len(q))
    for first in range(0, len(q), chunk):
        dist = torch.cdist(q[first:first + chunk], b)
        if exclude is not None:
            qpos, bpos = exclude
            near = np.abs(qpos[first:first + chunk, None] - bpos[None, :]) < window
            dist[torch.as_tensor(near)] = float("inf")
        out[first:first + chunk] = dist.min(dim=1).values.numpy()
    return out


def _view_components(a, b, window, seed, opts, view):
    """Calibrated per-step scores of one view's autoencoder: a list of test-step arrays."""
    import torch
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    prep = _znorm if view == "znorm" else (lambda w: w)
    train_windows = windows_of(a, window)
    fit_stride = max(1, math.ceil(len(train_windows) / opts["max_fit"]))
    fit_set = torch.as_tensor(prep(np.ascontiguousarray(train_windows[::fit_stride])),
                              dtype=torch.float32)
    encoder, decoder = _build(window, opts)
    parameters = list(encoder.parameters()) + list(decoder.parameters())
    optimiser = torch.optim.Adam(parameters, lr=opts["lr"])
    for _ in range(opts["epochs"]):
        order = torch.as_tensor(rng.permutation(len(fit_set)))
        for first in range(0, len(order), opts["batch"]):
            batch = fit_set[order[first:first + opts["batch"]]]
            loss = torch.mean((decoder(encoder(batch)) - batch) ** 2)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

    def encode(windows: np.ndarray, starts: np.ndarray):
        codes, errors = [], []
        with torch.no_grad():
            for first in range(0, len(starts), 4096):
                batch = torch.as_tensor(prep(windows[starts[first:first + 4096]]),
                                        dtype=torch.float32)
                z = encoder(batch)
                codes.append(z.numpy())
                errors.append((batch - decoder(z)).numpy())
        return np.concatenate(codes), np.concatenate(errors)

    bank_stride = max(1, math.ceil(len(train_windows) / opts["bank"]))
    bank_starts = np.arange(0, len(train_windows), bank_stride)
    bank = dict(zip(("nn_code", "nn_res"), encode(train_windows, bank_starts), strict=False))
    test_windows = windows_of(b, window)
    test_starts = np.arange(0, len(test_windows), opts["test_stride"])
    if test_starts[-1] != len(test_windows) - 1:
        test_starts = np.append(test_starts, len(test_windows) - 1)
    calib_starts = np.arange(0, len(train_windows), max(bank_stride, max(1, window // 4)))
    test_codes, test_res = encode(test_windows, test_starts)
    calib_codes, calib_res = encode(train_windows, calib_starts)

    def component(name, codes, res, starts, n_windows, n_steps, own):
        if name == "rec":
            return spread_errors(res ** 2, starts, n_steps, opts["rec_how"])
        if name == "rec_win":
            scores = (res ** 2).mean(axis=1)
        else:
            query = codes if name == "nn_code" else res
            exclude = (starts, bank_starts) if own else None
            scores = _nearest(query, bank[name], exclude, window)
            good = np.isfinite(scores)
            scores = np.where(good, scores, scores[good].max() if good.any() else 0.0)
        return to_steps(full_window_scores(scores, starts, n_windows), window, opts["nn_how"])

    calibrated = []
    for name in opts["components"].split(","):
        fit_scores = component(name, calib_codes, calib_res, calib_starts,
                               len(train_windows), len(a), own=True)
        test_scores = component(name, test_codes, test_res, test_starts,
                                len(test_windows), len(b), own=False)
        median = np.median(fit_scores)
        scale = max(np.quantile(fit_scores, 0.99) - median, 1e-9)
        calibrated.append((test_scores - median) / scale)
    return calibrated


def proto_scores(train, test, window, seed, variant: str = ""):
    """The research prototype (torch directly); options in ``PROTO_DEFAULTS``.

    1. Standardise both parts with the training mean and deviation.
    2. Two views of every window of the auto length: ``znorm`` (the window minus its mean,
       over its deviation, floored at 1e-3: shape only) and ``raw`` (level and scale kept).
       One autoencoder per view (MLP window -> 128 -> ReLU -> 16 codings -> 128 -> ReLU ->
       window), trained on at most ``max_fit`` = 4,000 training windows (evenly strided),
       Adam lr 1e-3, 30 epochs, batches of 64, MSE.
    3. Per view, two window scores: ``nn_code``, the Euclidean distance of the window's
       coding to the nearest coding of a training window, and ``nn_res``, the same for the
       reconstruction residuals (window minus reconstruction). The bank: every training
       window (evenly strided to at most ``bank`` = 20,000). A step's score is the mean of
       the window scores over the windows covering it.
    4. Calibration on the training part: training windows (stride max(bank stride,
       window // 4)) scored against the bank with windows overlapping them skipped, spread
       to steps the same way; each component becomes (score - median) / (q99 - median) of
       its training step scores. The step score is the max over the 4 calibrated
       components. A stride-independent threshold is a fixed value of this calibrated
       score (1 = the training 99th percentile of the component that fires)."""
    import torch
    torch.set_num_threads(1)
    opts = _parse_variant(variant)
    a, b = standardise(train, test)
    calibrated = []
    for view in opts["views"].split(","):
        calibrated += _view_components(a, b, window, seed, opts, view)
    stack = np.array(calibrated)
    return stack.sum(axis=0) if opts["combine"] == "sum" else stack.max(axis=0)


# -- the run ------------------------------------------------------------
SEEDED = {"iforest", "codings", "proto"}


def method_table(variants: list[str]) -> dict:
    table = {
        "mp": lambda tr, te, w, s: matrix_profile(tr, te, w, s),
        "mp_center": lambda tr, te, w, s: matrix_profile(tr, te, w, s, how="center"),
        "mp_raw": lambda tr, te, w, s: matrix_profile(tr, te, w, s, normalize=False),
        "pca": pca_scores,
        "iforest": iforest_scores,
        "zscore": zscore_scores,
        "codings": codings_scores,
        "proto": proto_scores,
    }
    for variant in variants:
        table[f"proto[{variant}]"] = (lambda v: lambda tr, te, w, s: proto_scores(
            tr, te, w, s, v))(variant)
    return table


def evaluate(scores: np.ndarray, labels: np.ndarray, accepted: tuple[int, int]) -> dict:
    scores = finite(scores)
    top = int(np.argmax(scores))
    return {"correct": float(accepted[0] <= top <= accepted[1]),
            "roc_auc": float(roc_auc_score(labels, scores)),
            "ap": float(average_precision_score(labels, scores))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--ids", default=None, help="comma-separated series ids")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (seeded methods)")
    parser.add_argument("--methods", nargs="+",
                        default=["mp", "pca", "iforest", "zscore", "codings", "proto"])
    parser.add_argument("--variants", nargs="*", default=[],
                        help="prototype option sets 'key=value;key=value' (PROTO_DEFAULTS)")
    parser.add_argument("--single-seed", nargs="*", default=[],
                        help="seeded methods to run with seed 0 only (to save time)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = load_index(args.root)
    if args.ids:
        wanted = set(args.ids.split(","))
        rows = [row for row in rows if row["id"] in wanted]
    if args.limit:
        rows = rows[:args.limit]
    table = method_table(args.variants)
    names = list(args.methods) + [f"proto[{v}]" for v in args.variants]
    if any(name.startswith("mp") for name in names):
        import stumpy  # compile before timing
        stumpy.stump(np.random.default_rng(0).standard_normal(64), 8,
                     T_B=np.random.default_rng(1).standard_normal(64), ignore_trivial=False)
        stumpy.stump(np.random.default_rng(0).standard_normal(64), 8,
                     T_B=np.random.default_rng(1).standard_normal(64), ignore_trivial=False,
                     normalize=False)
    results: dict[str, list[dict]] = {name: [] for name in names}
    print(f"{len(rows)} series, max length {args.max_length}, seeds {args.seeds}", flush=True)
    for row in rows:
        train, test, labels, accepted = load_series(args.root, row, args.max_length)
        window = auto_window(train)
        line = [f"{row['id']} n={len(train)}+{len(test)} w={window}"]
        for name in names:
            base = name.split("[")[0]
            seeds = range(args.seeds) if base in SEEDED and name not in args.single_seed \
                else [0]
            for seed in seeds:
                started = time.process_time()
                try:
                    scores = table[name](train, test, window, seed)
                    record = evaluate(scores, labels, accepted)
                except Exception:
                    traceback.print_exc(limit=3, file=sys.stderr)
                    record = {"correct": math.nan, "roc_auc": math.nan, "ap": math.nan}
                record.update(cpu=time.process_time() - started, id=row["id"], seed=seed,
                              window=window)
                results[name].append(record)
            last = results[name][-len(seeds):]
            line.append(f"{name}: {np.mean([r['correct'] for r in last]):.2f}/"
                        f"{np.mean([r['roc_auc'] for r in last]):.3f}/"
                        f"{np.mean([r['ap'] for r in last]):.3f}/"
                        f"{np.mean([r['cpu'] for r in last]):.1f}s")
        print(" | ".join(line), flush=True)
        if args.out:
            args.out.write_text(json.dumps(results))
    print(f"\n{len(rows)} series; correct / ROC-AUC / AP / CPU s per series; seeded methods: "
          f"mean over seeds 0..{args.seeds - 1} (range of the share correct over seeds)\n")
    print("| method | found (share) | ROC-AUC | AP | CPU s per series |")
    print("|---|---|---|---|---|")
    for name in names:
        records = results[name]
        by_seed: dict[int, list[dict]] = {}
        for record in records:
            by_seed.setdefault(record["seed"], []).append(record)
        shares = [np.nanmean([r["correct"] for r in rs]) for rs in by_seed.values()]
        found = np.nanmean([np.nansum([r["correct"] for r in rs]) for rs in by_seed.values()])
        spread = f" ({min(shares):.3f}-{max(shares):.3f})" if len(shares) > 1 else ""
        print(f"| {name} | {found:.1f}/{len(rows)} ({np.mean(shares):.3f}){spread} | "
              f"{np.nanmean([r['roc_auc'] for r in records]):.3f} | "
              f"{np.nanmean([r['ap'] for r in records]):.3f} | "
              f"{np.mean([r['cpu'] for r in records]):.2f} |")


if __name__ == "__main__":
    main()

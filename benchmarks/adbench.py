"""Tabular anomaly detection on the ADBench "Classical" sets: codings against PyOD baselines.

Usage::

    python benchmarks/adbench.py ../shared/data/adbench                       # everything
    python benchmarks/adbench.py ../shared/data/adbench --sets 1_ALOI,10_cover \\
        --max-rows 3000 --seeds 1 --protocols unsupervised --methods iforest,proto
    python benchmarks/adbench.py ../shared/data/adbench --out results.json --resume

Run it with ``OMP_NUM_THREADS=1`` (every method is also held to one torch thread), so the CPU
seconds (``time.process_time`` around fit + score) compare methods on one core.

Data: each ``N_name.npz`` holds ``X`` (rows, features) and ``y`` (1 = anomaly). A set larger
than ``--max-rows`` is subsampled, stratified on ``y``, with the seed (``train_test_split``).

Protocols (ADBench's):

* ``unsupervised``: fit on all rows, score all rows (anomalies included in the training rows).
* ``normal`` (ADBench's *semi-supervised*): fit on a random half of the normal rows, score the
  other half of the normal rows together with every anomaly.

Methods (``--methods``, comma-separated; default all but ``codings_readme`` and ``proto3``):

* ``iforest``, ``knn``, ``ecod``, ``pyod_ae``, ``pyod_vae``: PyOD's models with their
  defaults (``random_state=seed`` where they take one; ``verbose=0``), scored with
  ``decision_function`` on the test rows.
* ``pca``: ``StandardScaler`` then scikit-learn ``PCA`` keeping 90% of the variance (at most
  ``n_features - 1`` components); score = squared reconstruction error.
* ``codings``: ``AnomalyDetector(random_state=seed).fit(X_train).score_samples(X_test)``,
  negated (the library's default detector; recorded as NaN with a note while that call does
  not exist yet).
* ``codings_readme``: the README recipe
  ``AnomalyDetector(make_pipeline(StandardScaler(), AutoEncoder(random_state=seed)))``.
* ``proto``, ``proto3``, ``proto3x``: :func:`proto_detector_scores`, the research prototype of
  the default detector (plain torch; the recipe is in that function's docstring), so the
  figures can be reproduced while ``codings`` catches up: ``proto`` one autoencoder and the
  "sum" score, ``proto3`` three autoencoders and "sum", ``proto3x`` (the best found) three
  autoencoders and the "or_knn" score.

Measures: ROC-AUC and average precision per set, their means over sets, the mean rank of each
method over sets (1 = best ROC-AUC on that set; ties share the mean rank) and the mean CPU
seconds per set. A method that raises on a set records NaN and a note; the run goes on. The
means are over the sets where every method with any figure has one (a method that failed on
every set, such as ``codings`` before its default exists, is left out of the means and ranks).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_METHODS = ("iforest", "knn", "ecod", "pyod_ae", "pyod_vae", "pca", "codings", "proto",
                   "proto3x")


# -- data --------------------------------------------------------------------------------------
def load_set(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        X = np.asarray(data["X"], dtype=np.float64)
        y = np.asarray(data["y"]).astype(int).ravel()
    return X, y


def subsample(X: np.ndarray, y: np.ndarray, max_rows: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_rows`` rows, stratified on ``y`` (keeps the anomaly share)."""
    if len(y) <= max_rows:
        return X, y
    from sklearn.model_selection import train_test_split
    X_keep, _, y_keep, _ = train_test_split(X, y, train_size=max_rows, stratify=y,
                                            random_state=seed)
    return X_keep, y_keep


def split(X: np.ndarray, y: np.ndarray, protocol: str,
          seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_test, y_test) under ``protocol``."""
    if protocol == "unsupervised":
        return X, X, y
    if protocol == "normal":
        rng = np.random.default_rng(seed)
        normal = np.flatnonzero(y == 0)
        rng.shuffle(normal)
        train, rest = normal[: len(normal) // 2], normal[len(normal) // 2:]
        test = np.concatenate([rest, np.flatnonzero(y == 1)])
        return X[train], X[test], y[test]
    raise ValueError(f"unknown protocol {protocol!r}")


# -- baselines ---------------------------------------------------------------------------------
def _pyod(name: str) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    def run(X_train: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
        if name == "iforest":
            from pyod.models.iforest import IForest
            model = IForest(random_state=seed)
        elif name == "knn":
            from pyod.models.knn import KNN
            model = KNN()
        elif name == "ecod":
            from pyod.models.ecod import ECOD
            model = ECOD()
        elif name == "pyod_ae":
            from pyod.models.auto_encoder import AutoEncoder
            model = AutoEncoder(random_state=seed, verbose=0, device="cpu")
        elif name == "pyod_vae":
            from pyod.models.vae import VAE
            model = VAE(random_state=seed, verbose=0, device="cpu")
        else:
            raise ValueError(name)
        model.fit(X_train)
        return np.asarray(model.decision_function(X_test), dtype=np.float64)
    return run


def pca_scores(X_train: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(X_train)
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
    full = PCA(random_state=seed).fit(Z_train)
    keep = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), 0.9) + 1)
    keep = max(1, min(keep, Z_train.shape[1] - 1))
    pca = PCA(keep, random_state=seed).fit(Z_train)
    return ((pca.inverse_transform(pca.transform(Z_test)) - Z_test) ** 2).sum(axis=1)


def codings_scores(X_train: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    from codings import AnomalyDetector
    detector = AnomalyDetector(random_state=seed).fit(X_train)
    return -np.asarray(detector.score_samples(X_test), dtype=np.float64)


def codings_readme_scores(X_train: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from codings import AnomalyDetector, AutoEncoder
    detector = AnomalyDetector(make_pipeline(StandardScaler(),
                                             AutoEncoder(random_state=seed))).fit(X_train)
    return -np.asarray(detector.score_samples(X_test), dtype=np.float64)


# -- the prototype default detector ------------------------------------------------------------
PROTO_DEFAULTS: dict[str, Any] = dict(
    squash=3.0,          # the network sees 3 * tanh(x / 3) of the z-scored row, rebuilds x itself
    steps=500,           # gradient steps; epochs = ceil(steps / batches per epoch), in [5, 200]
    min_epochs=5, max_epochs=200,
    batch_size=128, lr=1e-3,
    trim=0.1,            # from trim_start of the steps on, each batch's 10% worst rows ...
    trim_start=0.3,      # ... are left out of the loss (they are likely anomalies)
    k_small=5, k_large=100,
    n_models=1,          # autoencoders averaged (method proto3: 3)
    combine="sum",       # "sum": rec + max(knn_small, knn_large, maha); "or_knn": see below
)


def proto_sizes(n_features: int) -> tuple[int, int]:
    """(hidden width, coding size) of the prototype's autoencoder for ``n_features`` columns."""
    hidden = int(min(max(16, 2 * n_features), 256))
    code = int(min(max(2, math.ceil(math.sqrt(n_features))), 32, n_features))
    return hidden, code


def _proto_scale(X_train: np.ndarray,
                 X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop columns constant on the training rows, z-score with the training mean and std."""
    keep = np.ptp(X_train, axis=0) > 0
    if not keep.any():
        keep[:] = True
    A, B = X_train[:, keep], X_test[:, keep]
    center, spread = A.mean(axis=0), A.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    return (((A - center) / spread).astype(np.float32),
            ((B - center) / spread).astype(np.float32))


def _proto_train(A: np.ndarray, cfg: dict[str, Any], seed: int) -> tuple[Any, Any, Any]:
    """Fit the d-h-k-h-d ELU autoencoder with the trimmed loss.

    Returns (encoder, decoder, squash).
    """
    import torch
    from torch import nn
    torch.manual_seed(seed)
    n, d = A.shape
    hidden, code = proto_sizes(d)
    encoder = nn.Sequential(nn.Linear(d, hidden), nn.ELU(), nn.Linear(hidden, code))
    decoder = nn.Sequential(nn.Linear(code, hidden), nn.ELU(), nn.Linear(hidden, d))
    model = nn.Sequential(encoder, decoder)
    c = cfg["squash"]

    def squash(x: Any) -> Any:
        return x if c is None else c * torch.tanh(x / c)

    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    batch = min(cfg["batch_size"], n)
    per_epoch = math.ceil(n / batch)
    epochs = min(max(math.ceil(cfg["steps"] / per_epoch), cfg["min_epochs"]),
                 cfg["max_epochs"])
    total, step = epochs * per_epoch, 0
    data = torch.from_numpy(A)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            xb = data[order[i:i + batch]]
            err = ((model(squash(xb)) - xb) ** 2).mean(dim=1)
            if cfg["trim"] > 0 and step >= cfg["trim_start"] * total and len(err) > 4:
                keep = max(1, round(len(err) * (1 - cfg["trim"])))
                err = torch.topk(err, keep, largest=False).values
            loss = err.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    return encoder, decoder, squash


def _robust_z(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """log-scores of the test rows, centred on the training rows' median, divided by their IQR."""
    lt, ls = np.log(train + 1e-12), np.log(test + 1e-12)
    med = np.median(lt)
    q1, q3 = np.percentile(lt, [25, 75])
    spread = (q3 - q1) if q3 > q1 else (lt.std() + 1e-12)
    return (ls - med) / spread


def proto_components(X_train: np.ndarray, X_test: np.ndarray, seed: int,
                     **overrides: Any) -> dict[str, np.ndarray]:
    """The prototype's four component scores of the test rows, each a robust z (see below).

    With ``n_models`` > 1, each component is the mean of its robust z over that many
    autoencoders (seeds ``seed + 10007 * m``).
    """
    cfg = {**PROTO_DEFAULTS, **overrides}
    A, B = _proto_scale(X_train, X_test)
    members = [_proto_member(A, B, cfg, seed + 10_007 * m) for m in range(cfg["n_models"])]
    return {name: np.mean([mem[name] for mem in members], axis=0) for name in members[0]}


def _proto_member(A: np.ndarray, B: np.ndarray, cfg: dict[str, Any],
                  seed: int) -> dict[str, np.ndarray]:
    import torch
    from sklearn.neighbors import NearestNeighbors
    encoder, decoder, squash = _proto_train(A, cfg, seed)
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    with torch.no_grad():
        Za, Zb = encoder(squash(At)), encoder(squash(Bt))
        Ea = ((decoder(Za) - At) ** 2).double().numpy()
        Eb = ((decoder(Zb) - Bt) ** 2).double().numpy()
    Za, Zb = Za.double().numpy(), Zb.double().numpy()
    # reconstruction error, each column's squared error over its median on the training rows
    typical = np.median(Ea, axis=0) + 1e-3 * Ea.mean() + 1e-12
    out = {"rec": _robust_z((Ea / typical).mean(axis=1), (Eb / typical).mean(axis=1))}
    # Mahalanobis distance of the codings (training mean and covariance, tiny ridge)
    mu = Za.mean(axis=0)
    cov = np.atleast_2d(np.cov(Za - mu, rowvar=False))
    cov += 1e-6 * (np.trace(cov) / len(cov) + 1e-12) * np.eye(len(cov))
    prec = np.linalg.pinv(cov)
    out["maha"] = _robust_z(np.einsum("ij,jk,ik->i", Za - mu, prec, Za - mu),
                            np.einsum("ij,jk,ik->i", Zb - mu, prec, Zb - mu))
    # mean distance to the k nearest training codings, k small and k large
    k_max = min(cfg["k_large"], len(Za) - 1)
    index = NearestNeighbors(n_neighbors=k_max + 1).fit(Za)
    da = index.kneighbors(Za, k_max + 1)[0][:, 1:]    # training rows: not themselves
    db = index.kneighbors(Zb, k_max)[0]                # new rows: every training row counts
    for name, k in (("knn_small", min(cfg["k_small"], k_max)), ("knn_large", k_max)):
        out[name] = _robust_z(da[:, :k].mean(axis=1), db[:, :k].mean(axis=1))
    return out


def proto_detector_scores(X_train: np.ndarray, X_test: np.ndarray, seed: int,
                          **overrides: Any) -> np.ndarray:
    """Anomaly scores (higher = more anomalous) of the prototype default detector.

    1. Drop the columns constant on the training rows; z-score with the training mean/std.
    2. Autoencoder d-h-k-h-d, ELU, h = clip(2d, 16, 256), k = clip(ceil(sqrt(d)), 2, 32) (and
       <= d); the encoder sees ``3 * tanh(x / 3)``, the decoder must rebuild the unsquashed x,
       so a value beyond the training range cannot be copied through.
    3. Adam (lr 1e-3), batch 128, 500 gradient steps (epochs = ceil(500 / batches per epoch)
       within [5, 200]); loss = mean over the batch's rows of each row's mean squared error,
       and from 30% of the steps on the 10% worst rows of each batch are left out (trimmed).
    4. Four distances, each turned into ``(log s - median) / IQR`` with the median and IQR of
       the training rows' own values: ``rec`` (mean over columns of the squared error divided
       by that column's median squared error on the training rows), ``maha`` (Mahalanobis
       distance of the coding), ``knn_small``/``knn_large`` (mean distance to the 5 / 100
       nearest training codings; training rows leave themselves out).
    5. Score = rec + max(knn_small, knn_large, maha) (``combine="sum"``); with
       ``combine="or_knn"``: max((rec + max(knn_small, knn_large, maha)) / 2, knn_small,
       knn_large). Methods ``proto3``/``proto3x`` average each z over 3 autoencoders first.
    """
    cfg = {**PROTO_DEFAULTS, **overrides}
    comps = proto_components(X_train, X_test, seed, **overrides)
    strongest = np.max([comps["knn_small"], comps["knn_large"], comps["maha"]], axis=0)
    if cfg["combine"] == "sum":
        return comps["rec"] + strongest
    # "or_knn": the mean of rec and the strongest coding distance, unless one kNN z alone
    # is higher (keeps a set where the kNN distance alone separates, e.g. donors)
    return np.maximum((comps["rec"] + strongest) / 2,
                      np.maximum(comps["knn_small"], comps["knn_large"]))


METHODS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "iforest": _pyod("iforest"), "knn": _pyod("knn"), "ecod": _pyod("ecod"),
    "pyod_ae": _pyod("pyod_ae"), "pyod_vae": _pyod("pyod_vae"), "pca": pca_scores,
    "codings": codings_scores, "codings_readme": codings_readme_scores,
    "proto": proto_detector_scores,
    "proto3": lambda X_train, X_test, seed: proto_detector_scores(X_train, X_test, seed,
                                                                  n_models=3),
    "proto3x": lambda X_train, X_test, seed: proto_detector_scores(X_train, X_test, seed,
                                                                   n_models=3,
                                                                   combine="or_knn"),
}


# -- running and reporting ---------------------------------------------------------------------
def evaluate(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=1e300,
                           neginf=-1e300)
    return float(roc_auc_score(y, scores)), float(average_precision_score(y, scores))


def run_one(fn: Callable[..., np.ndarray], X_train: np.ndarray, X_test: np.ndarray,
            y_test: np.ndarray, seed: int) -> dict[str, Any]:
    start = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = fn(X_train, X_test, seed)
        cpu = time.process_time() - start
        auc, ap = evaluate(y_test, scores)
        return {"auc": auc, "ap": ap, "cpu": cpu}
    except Exception as exc:  # a method failing on one set must not stop the run
        note = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return {"auc": math.nan, "ap": math.nan, "cpu": time.process_time() - start,
                "note": note, "trace": traceback.format_exc(limit=3)}


def _ranks(values: list[float]) -> list[float]:
    """Rank 1 = highest; ties share the mean rank; NaN ranks last."""
    order = sorted(range(len(values)),
                   key=lambda i: -values[i] if not math.isnan(values[i]) else math.inf)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def summarise(results: dict[str, Any], methods: list[str], sets: list[str], protocol: str,
              seeds: list[int], per_set: bool = True) -> None:
    def mean_over_seeds(method: str, name: str, key: str) -> float:
        vals = [results.get(f"{method}|{name}|{protocol}|{s}", {}).get(key, math.nan)
                for s in seeds]
        return float(np.mean(vals)) if vals else math.nan

    table = {m: {n: {k: mean_over_seeds(m, n, k) for k in ("auc", "ap", "cpu")}
                 for n in sets} for m in methods}
    present = [m for m in methods if any(not math.isnan(table[m][n]["auc"]) for n in sets)]
    complete = [n for n in sets if all(not math.isnan(table[m][n]["auc"]) for m in present)]
    print(f"\n## protocol: {protocol} (seeds {seeds}; means over the {len(complete)} of "
          f"{len(sets)} sets where every method has a figure)\n")
    if per_set:
        print("| set | " + " | ".join(f"{m} AUC/AP" for m in methods) + " |")
        print("|---|" + "---|" * len(methods))
        for n in sets:
            cells = [f"{100 * table[m][n]['auc']:.1f} / {100 * table[m][n]['ap']:.1f}"
                     for m in methods]
            print(f"| {n} | " + " | ".join(cells) + " |")
    rank_sum = {m: 0.0 for m in methods}
    for n in complete:
        for m, r in zip(present, _ranks([table[m][n]["auc"] for m in present]), strict=True):
            rank_sum[m] += r
    print("\n| method | ROC-AUC | AP | mean rank (AUC) | CPU s per set | failed sets |")
    print("|---|---|---|---|---|---|")
    for m in methods:
        auc = np.mean([table[m][n]["auc"] for n in complete]) if complete else math.nan
        ap = np.mean([table[m][n]["ap"] for n in complete]) if complete else math.nan
        cpu = np.nanmean([table[m][n]["cpu"] for n in sets])
        failed = [n for n in sets if math.isnan(table[m][n]["auc"])]
        rank = rank_sum[m] / len(complete) if complete and m in present else math.nan
        print(f"| {m} | {100 * auc:.1f} | {100 * ap:.1f} | {rank:.2f} | {cpu:.2f} | "
              f"{len(failed)} |")
    notes = {(m, k.split("|")[1]): v["note"] for k, v in results.items()
             for m in methods if k.startswith(m + "|") and "note" in v
             and k.split("|")[2] == protocol}
    for (m, n), note in sorted(notes.items()):
        print(f"  note: {m} on {n}: {note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--sets", default="", help="comma-separated set names (default all)")
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--seed-list", default="", help="explicit comma-separated seeds")
    parser.add_argument("--protocols", default="unsupervised,normal")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    parser.add_argument("--resume", action="store_true",
                        help="keep the figures already in --out and run only the missing ones")
    parser.add_argument("--no-per-set", action="store_true")
    args = parser.parse_args(argv)

    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    # import the heavy modules once up front, so the first set's CPU seconds do not include them
    for module in ("sklearn.neighbors", "sklearn.decomposition", "pyod.models.iforest",
                   "pyod.models.knn", "pyod.models.ecod", "pyod.models.auto_encoder",
                   "pyod.models.vae"):
        try:
            __import__(module)
        except ImportError:
            pass
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("warning: OMP_NUM_THREADS is not 1; CPU seconds may count several threads",
              file=sys.stderr)
    files = sorted(args.folder.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    if args.sets:
        wanted = args.sets.split(",")
        files = [f for f in files if f.stem in wanted]
    sets = [f.stem for f in files]
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    protocols = args.protocols.split(",")
    seeds = ([int(s) for s in args.seed_list.split(",")] if args.seed_list
             else list(range(args.seeds)))
    results: dict[str, Any] = {}
    if args.resume and args.out and args.out.exists():
        results = json.loads(args.out.read_text())["results"]

    for path in files:
        X_all, y_all = load_set(path)
        for seed in seeds:
            X, y = subsample(X_all, y_all, args.max_rows, seed)
            for protocol in protocols:
                X_train, X_test, y_test = split(X, y, protocol, seed)
                for method in methods:
                    key = f"{method}|{path.stem}|{protocol}|{seed}"
                    if key in results:
                        continue
                    results[key] = run_one(METHODS[method], X_train, X_test, y_test, seed)
                    r = results[key]
                    print(f"{path.stem:>20} {protocol:>12} seed {seed} {method:>14}: "
                          f"AUC {r['auc']:.3f} AP {r['ap']:.3f} CPU {r['cpu']:.2f} s"
                          + (f"  [{r['note']}]" if "note" in r else ""), flush=True)
                if args.out:
                    args.out.write_text(json.dumps({"max_rows": args.max_rows,
                                                    "results": results}, indent=0))
    for protocol in protocols:
        summarise(results, methods, sets, protocol, seeds, per_set=not args.no_per_set)


if __name__ == "__main__":
    main()

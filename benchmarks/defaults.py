"""Defaults on small and large data: ``batch_size="auto"`` and linear codings.

Usage::

    python benchmarks/defaults.py ../shared/data/mnist.npz            # both sections
    python benchmarks/defaults.py ../shared/data/mnist.npz --quick    # smoke run
    python benchmarks/defaults.py --sections small                    # no MNIST needed

(a) ``small``: the embedded digits scaled to [0, 1], digit 3 held out. An
``AutoEncoder(n_components=8, hidden_layer_sizes=(64,), max_iter=100)`` is trained on half
of the other digits (stratified split) and ranks the other half plus every 3 by
reconstruction error; ROC-AUC of the 3s, per seed, for the old defaults (``batch_size=256``,
coding activation = the hidden ELU), each change alone, and today's defaults, alternated seed
by seed. PCA(8) on the same rows is the reference. 1,600 rows in batches of 256 made 7
optimizer steps an epoch; ``"auto"`` makes 32.

(b) ``mnist``: the chapter's first experiments (``chapter.py``: stacked 784-300-150 ELU,
tied, Gaussian denoising) with the chapter's ELU codings and with linear codings, alternated:
test MSE. On 60,000 rows ``"auto"`` is 256, so only the coding activation differs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from codings import AutoEncoder, Denoising, TiedWeights, WeightDecay
from codings.datasets import load_digits

SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "old: batch 256, ELU codings": {"batch_size": 256, "coding_activation": None},
    "batch 256, linear codings": {"batch_size": 256},
    "batch auto, ELU codings": {"coding_activation": None},
    "today's defaults": {},
}
STACK = dict(n_components=150, hidden_layer_sizes=(300,), activation="elu", init="he",
             learning_rate=0.01, batch_size=150)
CHAPTER = {
    "stacked": ({**STACK, "constraints": (WeightDecay(1e-4),)}, 5),
    "tied": ({**STACK, "constraints": (TiedWeights(), WeightDecay(5e-4))}, 5),
    "denoising, gaussian": ({**STACK, "activation": "relu", "init": "glorot",
                             "constraints": (Denoising(std=1.0),)}, 10),
}


def small_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows (no 3s), test rows and the test rows' anomaly labels (3 = 1)."""
    digits = load_digits()
    X, y = digits.data / 16.0, np.asarray(digits.target)
    normal, threes = X[y != 3], X[y == 3]
    train, test = train_test_split(normal, test_size=0.5, random_state=seed,
                                   stratify=y[y != 3])
    X_test = np.vstack([test, threes])
    labels = np.r_[np.zeros(len(test)), np.ones(len(threes))]
    return train, X_test, labels


def reconstruction_auc(reconstruct: Any, X_test: np.ndarray, labels: np.ndarray) -> float:
    error = ((X_test - reconstruct(X_test)) ** 2).sum(axis=1)
    return float(roc_auc_score(labels, error))


def small(seeds: int) -> None:
    print(f"(a) digits without 3s: AutoEncoder(n_components=8, hidden_layer_sizes=(64,), "
          f"max_iter=100), ROC-AUC of the 3s over {seeds} seeds (higher is better)")
    scores: dict[str, list[float]] = {name: [] for name in ["PCA(8)", *SMALL_CONFIGS]}
    seconds: dict[str, list[float]] = {name: [] for name in SMALL_CONFIGS}
    for seed in range(seeds):
        train, X_test, labels = small_split(seed)
        pca = PCA(8).fit(train)
        scores["PCA(8)"].append(reconstruction_auc(
            lambda x, pca=pca: pca.inverse_transform(pca.transform(x)), X_test, labels))
        for name, params in SMALL_CONFIGS.items():  # alternated within each seed
            ae = AutoEncoder(n_components=8, hidden_layer_sizes=(64,), max_iter=100,
                             random_state=seed, **params)
            started = time.perf_counter()
            ae.fit(train)
            seconds[name].append(time.perf_counter() - started)
            scores[name].append(reconstruction_auc(ae.reconstruct, X_test, labels))
    print(f"  {'configuration':<30} {'mean':>6} {'min':>6} {'max':>6}   fit s (median)")
    for name, values in scores.items():
        fit = f"{statistics.median(seconds[name]):8.1f}" if name in seconds else ""
        print(f"  {name:<30} {np.mean(values):6.3f} {min(values):6.3f} {max(values):6.3f}"
              f"   {fit}")


def mnist(path: str, quick: bool) -> None:
    from _mnist import load_mnist

    X_train, _, X_test, _ = load_mnist(path, quick)
    print(f"(b) MNIST ({len(X_train):,} training rows), the chapter's experiments: test MSE "
          "with ELU codings (the chapter's) and linear codings (today's default)")
    print(f"  {'experiment':<22} {'epochs':>6} {'ELU codings':>12} {'linear':>10} {'ratio':>7}")
    for name, (params, epochs) in CHAPTER.items():
        epochs = 1 if quick else epochs
        mse = {}
        for coding in (None, "identity"):  # same seed, side by side
            ae = AutoEncoder(max_iter=epochs, random_state=0, coding_activation=coding,
                             **params).fit(X_train)
            mse[coding] = float(((ae.reconstruct(X_test) - X_test) ** 2).mean())
        print(f"  {name:<22} {epochs:>6} {mse[None]:12.5f} {mse['identity']:10.5f} "
              f"{mse['identity'] / mse[None]:7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", nargs="?", help="MNIST .npz (Keras layout) for section mnist")
    parser.add_argument("--sections", default="small,mnist")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1 epoch, 6,000 rows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    sections = set(args.sections.split(","))
    if "small" in sections:
        small(2 if args.quick else args.seeds)
    if "mnist" in sections:
        if args.mnist is None:
            parser.error("section mnist needs the MNIST .npz path")
        mnist(args.mnist, args.quick)


if __name__ == "__main__":
    main()

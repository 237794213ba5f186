"""Anomaly detection with AnomalyDetector: MNIST held-out digits and PyOD's test protocol.

Usage::

    python benchmarks/anomaly.py ../shared/data/mnist.npz            # full
    python benchmarks/anomaly.py ../shared/data/mnist.npz --quick    # smoke run, < 1 min

(a) Each digit in turn is the anomaly: an autoencoder 784-256-32 (ELU, Adam 1e-3, batch 256)
is trained on the training images of the nine other digits, and the 10,000 test images are
ranked by ``score_samples`` (minus the reconstruction error); ROC-AUC of the held-out digit
against the rest, the fraction of that digit flagged by ``predict`` (contamination 0.1) and
the fraction of the other digits flagged. PCA with 32 components, scored by its
reconstruction error, is the baseline.

(b) PyOD's CI protocol (pyod/test/test_auto_encoder.py): ``generate_data(n_train=6000,
n_test=1000, n_features=300, contamination=0.1)``, 5 epochs, test ROC-AUC >= 0.8 required.
The generator is reimplemented here (and checked against PyOD's when PyOD is importable);
ours is ``AnomalyDetector(make_pipeline(StandardScaler(), AutoEncoder(...)))``, z-scoring as
PyOD does, with PyOD's layer sizes 300-64-32 (ReLU, batch 32, Adam 1e-3). Where PyOD is
installed its ``AutoEncoder(epoch_num=5, contamination=0.1)`` runs beside ours on the same
data.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from _mnist import load_mnist
from _timing import machine_description
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from codings import AutoEncoder
from codings.estimators.detector import AnomalyDetector

MNIST_AE = dict(n_components=32, hidden_layer_sizes=(256,), activation="elu",
                learning_rate=1e-3, batch_size=256)
PYOD_AE = dict(n_components=32, hidden_layer_sizes=(64,), activation="relu",
               learning_rate=1e-3, batch_size=32, max_iter=5)
PYOD_SEEDS = (42, 0, 1, 2, 3)


# -- (a) held-out MNIST digits --------------------------------------------------------------
def held_out_digit(digit: int, data: tuple[np.ndarray, ...], epochs: int) -> dict[str, float]:
    X_train, y_train, X_test, y_test = data
    normal = X_train[y_train != digit]
    anomaly = y_test == digit
    started = time.perf_counter()
    detector = AnomalyDetector(AutoEncoder(**MNIST_AE, max_iter=epochs, random_state=digit),
                               contamination=0.1).fit(normal)
    seconds = time.perf_counter() - started
    flagged = detector.predict(X_test) == -1
    pca = PCA(32, random_state=0).fit(normal)
    pca_error = ((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2).mean(axis=1)
    return {"auc": roc_auc_score(anomaly, -detector.score_samples(X_test)),
            "pca_auc": roc_auc_score(anomaly, pca_error),
            "detected": float(flagged[anomaly].mean()),
            "false_alarms": float(flagged[~anomaly].mean()), "seconds": seconds}


def run_mnist(data: tuple[np.ndarray, ...], epochs: int) -> None:
    rows = {}
    for digit in range(10):
        rows[digit] = held_out_digit(digit, data, epochs)
        print(f"  digit {digit}: done in {rows[digit]['seconds']:.0f} s", flush=True)
    print("\n(a) held-out digit as the anomaly (test images; predict with contamination "
          "0.1):\n")
    print("| held-out digit | ROC-AUC, autoencoder | ROC-AUC, PCA 32 | held-out digit flagged "
          "| other digits flagged | fit s |")
    print("|---|---|---|---|---|---|")
    for digit, r in rows.items():
        print(f"| {digit} | {r['auc']:.3f} | {r['pca_auc']:.3f} | {r['detected']:.2f} | "
              f"{r['false_alarms']:.2f} | {r['seconds']:.0f} |")
    mean = {k: statistics.mean(r[k] for r in rows.values()) for k in rows[0]}
    print(f"| mean | {mean['auc']:.3f} | {mean['pca_auc']:.3f} | {mean['detected']:.2f} | "
          f"{mean['false_alarms']:.2f} | {mean['seconds']:.0f} |")


# -- (b) PyOD's protocol --------------------------------------------------------------------
def _generate(n_inliers: int, n_outliers: int, n_features: int, coef: float, offset: float,
              rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    inliers = coef * rng.randn(n_inliers, n_features) + offset
    outliers = rng.uniform(low=-offset, high=offset, size=(n_outliers, n_features))
    return np.r_[inliers, outliers], np.r_[np.zeros(n_inliers), np.ones(n_outliers)]


def generate_data(n_train: int, n_test: int, n_features: int, contamination: float,
                  random_state: int, offset: int = 10) -> tuple[np.ndarray, ...]:
    """``pyod.utils.data.generate_data`` (PyOD 3.6): Gaussian inliers N(offset_, coef_^2)
    and uniform outliers on [-offset_, offset_], with the same random draws."""
    rng = check_random_state(random_state)
    offset_ = rng.randint(low=offset)
    if offset_ == 0:  # PyOD redraws a zero offset (GH #141)
        offset_ = 1 if offset == 1 else rng.randint(low=1, high=offset)
    coef_ = rng.random_sample() + 0.001
    n_out_train, n_out_test = int(n_train * contamination), int(n_test * contamination)
    X_train, y_train = _generate(n_train - n_out_train, n_out_train, n_features, coef_,
                                 offset_, rng)
    X_test, y_test = _generate(n_test - n_out_test, n_out_test, n_features, coef_, offset_,
                               rng)
    return X_train, X_test, y_train, y_test


def pyod_available() -> bool:
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


def check_against_pyod(data: tuple[np.ndarray, ...], seed: int) -> str:
    from pyod.utils.data import generate_data as pyod_generate

    theirs = pyod_generate(n_train=6000, n_test=1000, n_features=300, contamination=0.1,
                           random_state=seed)
    same = all(np.array_equal(a, b) for a, b in zip(data, theirs, strict=True))
    return "identical to PyOD's" if same else "DIFFERS from PyOD's"


def pyod_auc(data: tuple[np.ndarray, ...], seed: int) -> tuple[float, float]:
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder

    X_train, X_test, _, y_test = data
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # PyOD seeds torch's global RNG
        detector = PyODAutoEncoder(epoch_num=5, contamination=0.1, verbose=0,
                                   random_state=seed).fit(X_train)
        scores = detector.decision_function(X_test)  # higher = more abnormal
    torch.set_num_threads(1)
    return roc_auc_score(y_test, scores), time.perf_counter() - started


def ours_auc(data: tuple[np.ndarray, ...], seed: int) -> tuple[float, float]:
    X_train, X_test, _, y_test = data
    started = time.perf_counter()
    detector = AnomalyDetector(make_pipeline(StandardScaler(),
                                             AutoEncoder(**PYOD_AE, random_state=seed)),
                               contamination=0.1).fit(X_train)
    return roc_auc_score(y_test, -detector.score_samples(X_test)), \
        time.perf_counter() - started


def run_pyod_protocol(seeds: tuple[int, ...]) -> None:
    with_pyod = pyod_available()
    rows = []
    for seed in seeds:
        data = generate_data(6000, 1000, 300, 0.1, random_state=seed)
        row: dict[str, Any] = {"seed": seed, "ours": ours_auc(data, seed)}
        if with_pyod:
            row["check"] = check_against_pyod(data, seed)
            row["pyod"] = pyod_auc(data, seed)
        rows.append(row)
    print("\n(b) PyOD's protocol: 6,000 train / 1,000 test rows, 300 features, 10% "
          "contamination, 5 epochs (PyOD requires ROC-AUC >= 0.8):\n")
    if not with_pyod:
        print("PyOD is not installed: only our detector runs (pip install pyod to compare).\n")
    print("| data seed | ROC-AUC, codings | fit s | ROC-AUC, PyOD AutoEncoder | fit s | data |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        pyod = f"{r['pyod'][0]:.4f} | {r['pyod'][1]:.1f}" if "pyod" in r else "n/a | n/a"
        print(f"| {r['seed']} | {r['ours'][0]:.4f} | {r['ours'][1]:.1f} | {pyod} | "
              f"{r.get('check', 'own generator')} |")
    if with_pyod:
        import pyod

        print(f"\nPyOD {pyod.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", help="MNIST .npz in the Keras layout (x_train, y_train, ...)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training and 2,000 test images, 1 epoch; one PyOD seed")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = 1 if args.quick else args.epochs
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; MNIST autoencoders {epochs} epoch(s); "
          "one torch thread")
    print(*machine_description(), sep="\n")
    started = time.perf_counter()
    run_mnist(load_mnist(args.mnist, args.quick), epochs)
    run_pyod_protocol(PYOD_SEEDS[:1] if args.quick else PYOD_SEEDS)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

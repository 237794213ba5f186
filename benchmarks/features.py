"""Codings as features on MNIST: autoencoder codings against PCA components of the same size.

Usage::

    python benchmarks/features.py ../shared/data/mnist.npz            # full
    python benchmarks/features.py ../shared/data/mnist.npz --quick    # smoke run, < 1 min

For each dimension (2, 16, 32), fit PCA and an autoencoder 784-300-100-d (ELU, linear coding
layer, Adam 1e-3, batch 256) on the 60,000 training images without labels, then train
logistic regression (on standardised features) and a 5-nearest-neighbour classifier on the
training features with their labels, and report accuracy on the 10,000 test images. The raw
784 pixels give the reference. Trustworthiness (sklearn.manifold.trustworthiness, 5
neighbours; 1 = every neighbour in 2-D is a neighbour in pixel space) of the 2-D features is
computed on a 10,000-image sample of the test set (it is quadratic in memory).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from _mnist import load_mnist
from _timing import machine_description
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from codings import AutoEncoder

DIMENSIONS = (2, 16, 32)
AUTOENCODER = dict(hidden_layer_sizes=(300, 100), activation="elu",
                   coding_activation="identity", learning_rate=1e-3, batch_size=256)


def accuracies(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray,
               y_test: np.ndarray) -> dict[str, float]:
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    knn = KNeighborsClassifier(n_neighbors=5)
    return {"logistic": logistic.fit(F_train, y_train).score(F_test, y_test),
            "knn": knn.fit(F_train, y_train).score(F_test, y_test)}


def run(method: str, dim: int, data: tuple[np.ndarray, ...], epochs: int,
        sample: np.ndarray) -> dict[str, Any]:
    X_train, y_train, X_test, y_test = data
    started = time.perf_counter()
    if method == "PCA":
        model: Any = PCA(dim, random_state=0).fit(X_train)
    else:
        model = AutoEncoder(n_components=dim, max_iter=epochs, random_state=0,
                            **AUTOENCODER).fit(X_train)
    seconds = time.perf_counter() - started
    F_train, F_test = model.transform(X_train), model.transform(X_test)
    row: dict[str, Any] = {"method": method, "dim": dim, "fit_s": seconds,
                           **accuracies(F_train, y_train, F_test, y_test)}
    if dim == 2:
        row["trust"] = trustworthiness(X_test[sample], F_test[sample], n_neighbors=5)
    print(f"  {method} {dim}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| features | dim | logistic regression | 5-NN | trustworthiness (2-D) | fit s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        trust = f"{r['trust']:.3f}" if "trust" in r else ""
        print(f"| {r['method']} | {r['dim']} | {r['logistic']:.4f} | {r['knn']:.4f} | {trust} "
              f"| {r['fit_s']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", help="MNIST .npz in the Keras layout (x_train, y_train, ...)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training and 2,000 test images, 5 epochs")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--sample", type=int, default=10000,
                        help="test images for trustworthiness")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = 5 if args.quick else args.epochs
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; autoencoders {epochs} epochs; "
          "one torch thread")
    print(*machine_description(), sep="\n")
    data = load_mnist(args.mnist, args.quick)
    n_sample = min(args.sample, len(data[2]))
    sample = np.random.RandomState(0).choice(len(data[2]), n_sample, replace=False)
    print(f"{len(data[0]):,} training and {len(data[2]):,} test images; trustworthiness on "
          f"{n_sample:,}")
    started = time.perf_counter()
    rows = [{"method": "raw pixels", "dim": data[0].shape[1], "fit_s": 0.0,
             **accuracies(*data)}]
    print(f"  raw pixels: done in {time.perf_counter() - started:.0f} s", flush=True)
    for dim in DIMENSIONS:
        for method in ("PCA", "autoencoder"):
            rows.append(run(method, dim, data, epochs, sample))
    print(f"\naccuracy on the test images (total {time.perf_counter() - started:.0f} s):\n")
    print_table(rows)


if __name__ == "__main__":
    main()

"""Unsupervised pretraining for classification on MNIST: where do few labels gain from it?

Usage::

    python benchmarks/pretraining.py ../shared/data/mnist.npz            # full: 3 seeds
    python benchmarks/pretraining.py ../shared/data/mnist.npz --quick    # smoke run, < 2 min
    python benchmarks/pretraining.py ../shared/data/mnist.npz --only semi --labels 100 --seeds 1

For each seed: pretrain a stacked autoencoder 784-300-150 (ELU, He, L2 1e-4, Adam 0.01,
batch 150, as in the chapter) and the same with dropout (masking) noise on all 60,000
training images without their labels; then train the network 784-300-150-10 on 100, 500,
2,000 and 20,000 labelled images (a stratified sample, the same for every variant):

- scratch: the same network, freshly initialised (He, as the library does), all trained;
- frozen: the pretrained encoder kept fixed, only the softmax layer trained;
- fine-tuned: the pretrained encoder trained along with the softmax layer;
- unfrozen: the softmax layer alone for the first half of the epochs, then everything.

Every classifier gets the same budget (Adam 1e-3; about ``--steps`` updates of batch 32,
batch 128 from 20,000 labels on; at least 10 epochs) and no early stopping or tuning on the
test set. Accuracy is on the 10,000 test images; mean ± standard deviation over seeds.

Semi-supervised rows (``--only semi``): all 60,000 training images, of which 100 or 1,000
(10 or 100 per class, drawn per seed) keep their label and the rest are marked -1:

- ladder: ``EncoderClassifier(random_state=seed).fit(X, y)``, the defaults (a ladder network
  784-500-250-10 trained on every row and the labelled ones together);
- supervised only: the same network and defaults on the labelled rows alone, its denoising
  cost off (``unsupervised_weight=0``); with every row labelled (``--labels 60000``), the
  same epochs as the ladder (``--semi-epochs``);
- PCA(32) + ``LabelSpreading(kernel="knn", n_neighbors=10)``: a non-learned baseline;
- the published figures (Rasmus et al. 2015, Kingma et al. 2014), printed for comparison.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from typing import Any

import numpy as np
import torch
from _mnist import load_mnist
from _timing import machine_description
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading

from codings import AutoEncoder, Denoising, WeightDecay
from codings.estimators.classifier import EncoderClassifier
from codings.nn.layers import init_linear

PRETRAIN = dict(n_components=150, hidden_layer_sizes=(300,), activation="elu", init="he",
                learning_rate=0.01, batch_size=150)
AUTOENCODERS = {
    "plain": (WeightDecay(1e-4),),
    "denoising": (Denoising(noise="dropout", rate=0.3), WeightDecay(1e-4)),
}
FREEZE = {"frozen": "frozen", "fine-tuned": "fine-tune", "unfrozen": "unfreeze"}
VARIANTS = ["scratch", *(f"{ae}, {mode}" for ae in AUTOENCODERS for mode in FREEZE)]


def untrained_copy(ae: AutoEncoder, seed: int) -> AutoEncoder:
    """The same fitted-model object with its encoder re-initialised: training from scratch."""
    fresh = copy.deepcopy(ae)
    generator = torch.Generator().manual_seed(seed)
    for layer in fresh.module_.encoder.modules():
        if isinstance(layer, torch.nn.Linear):
            init_linear(layer, "he", generator)  # what the library uses for ELU layers
    return fresh


def budget(n_labels: int, steps: int) -> dict[str, int]:
    batch = 32 if n_labels <= 2000 else 128
    epochs = max(10, math.ceil(steps * batch / n_labels))
    return {"batch_size": min(batch, n_labels), "max_iter": epochs}


def classifiers(pretrained: dict[str, AutoEncoder], seed: int) -> dict[str, Any]:
    """Every variant: (autoencoder, freeze mode)."""
    variants = {"scratch": (untrained_copy(pretrained["plain"], seed + 1000), "fine-tune")}
    for ae in AUTOENCODERS:
        for name, mode in FREEZE.items():
            variants[f"{ae}, {name}"] = (pretrained[ae], mode)
    return variants


def run_seed(seed: int, data: tuple[np.ndarray, ...], label_counts: list[int], epochs: int,
             steps: int) -> tuple[dict[tuple[int, str], float], dict[str, Any]]:
    X_train, y_train, X_test, y_test = data
    pretrained, info = {}, {}
    for name, constraints in AUTOENCODERS.items():
        started = time.perf_counter()
        ae = AutoEncoder(**PRETRAIN, constraints=constraints, max_iter=epochs,
                         random_state=seed).fit(X_train)
        test_mse = float(((ae.reconstruct(X_test) - X_test) ** 2).mean())
        info[name] = (test_mse, time.perf_counter() - started)
        pretrained[name] = ae
        print(f"  seed {seed}: pretrained {name} in {info[name][1]:.0f} s, "
              f"test MSE {test_mse:.4f}", flush=True)
    accuracy = {}
    for n_labels in label_counts:
        labelled, _ = train_test_split(np.arange(len(y_train)), train_size=n_labels,
                                       stratify=y_train, random_state=seed)
        started = time.perf_counter()
        for variant, (ae, freeze) in classifiers(pretrained, seed).items():
            clf = EncoderClassifier(ae, freeze=freeze, learning_rate=1e-3, random_state=seed,
                                    **budget(n_labels, steps))
            clf.fit(X_train[labelled], y_train[labelled])
            accuracy[n_labels, variant] = clf.score(X_test, y_test)
        print(f"  seed {seed}: {n_labels} labels done in {time.perf_counter() - started:.0f} s",
              flush=True)
    return accuracy, info


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def print_table(results: list[dict[tuple[int, str], float]], label_counts: list[int],
                steps: int) -> None:
    widths = [8, *[max(len(v), 13) + 2 for v in VARIANTS], 40]
    names = ["labels", *VARIANTS, "best pretrained - scratch"]
    print("| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for n in label_counts:
        cells = [mean_std([r[n, v] for r in results]) for v in VARIANTS]
        scratch = [r[n, "scratch"] for r in results]
        best = max(VARIANTS[1:], key=lambda v: statistics.mean(r[n, v] for r in results))
        gains = [r[n, best] - s for r, s in zip(results, scratch, strict=True)]
        gain = f"{mean_std(gains)} ({best})"
        row = [f"{n:,}", *cells, gain]
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(f"\nbudget: {', '.join(f'{n:,}: {budget(n, steps)}' for n in label_counts)}")


# Permutation-invariant MNIST, 100 labels: test accuracy (1 - the papers' test error).
PUBLISHED = [
    ("MLP with batch norm and noise, labels only (Rasmus et al. 2015)", 0.783),
    ("manifold tangent classifier, contractive AE (Rifai et al. 2011)", 0.880),
    ("semi-supervised VAE M1+M2 (Kingma et al. 2014)", 0.967),
    ("Γ-model (Rasmus et al. 2015)", 0.957),
    ("ladder network (Rasmus et al. 2015)", 0.989),
]
SEMI_VARIANTS = ["ladder (semi-supervised)", "same network, supervised only",
                 "PCA(32) + label spreading"]


def partly_labelled(y: np.ndarray, n_labels: int, seed: int) -> np.ndarray:
    """``y`` with ``n_labels`` rows (stratified, drawn by ``seed``) kept, the rest -1; every
    row kept when ``n_labels`` is at least the number of rows."""
    if n_labels >= len(y):
        return y.astype(np.int64)
    labelled, _ = train_test_split(np.arange(len(y)), train_size=n_labels, stratify=y,
                                   random_state=seed)
    partial = np.full(len(y), -1, dtype=np.int64)  # MNIST labels are uint8
    partial[labelled] = y[labelled]
    return partial


def run_semi(seed: int, data: tuple[np.ndarray, ...], n_labels: int,
             max_iter: int | None, n_jobs: int | None = None) -> dict[str, tuple[float, ...]]:
    """(test accuracy, CPU seconds, wall seconds) of each semi-supervised variant for one
    draw."""
    X_train, y_train, X_test, y_test = data
    partial = partly_labelled(y_train, n_labels, seed)
    labelled = partial != -1
    # Every row labelled, both networks see the same rows: the same epochs for both. With
    # few labels the labelled rows alone get the default (up to 200 epochs of them).
    alone_iter = max_iter if labelled.all() else None
    fits = {
        SEMI_VARIANTS[0]: lambda: EncoderClassifier(
            random_state=seed, max_iter=max_iter, n_jobs=n_jobs).fit(X_train, partial),
        SEMI_VARIANTS[1]: lambda: EncoderClassifier(
            random_state=seed, unsupervised_weight=0.0, max_iter=alone_iter,
            n_jobs=n_jobs).fit(X_train[labelled], y_train[labelled]),
        SEMI_VARIANTS[2]: lambda: make_label_spreading().fit(X_train, partial),
    }
    results: dict[str, tuple[float, ...]] = {}
    for name, fit in fits.items():
        started, wall = time.process_time(), time.perf_counter()
        model = fit()
        seconds, wall = time.process_time() - started, time.perf_counter() - wall
        results[name] = (float(model.score(X_test, y_test)), seconds, wall)
        print(f"  seed {seed}, {n_labels} labels: {name}: {results[name][0]:.4f} "
              f"({seconds:.0f} s CPU, {wall:.0f} s wall)", flush=True)
    return results


def make_label_spreading() -> Any:
    from sklearn.pipeline import make_pipeline
    return make_pipeline(PCA(32, random_state=0),
                         LabelSpreading(kernel="knn", n_neighbors=10))


def print_semi_table(results: dict[int, list[dict[str, tuple[float, ...]]]],
                     max_iter: int | None, n_jobs: int | None) -> None:
    epochs = "default epochs" if max_iter is None else f"{max_iter} epochs (fewer, marked)"
    print(f"\nsemi-supervised, test accuracy (mean ± std over seeds, min; ladder: {epochs}):\n")
    threads = "one thread" if n_jobs is None else f"n_jobs={n_jobs}"
    print(f"| labels | method | accuracy | min | CPU s | wall s ({threads}) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n_labels, runs in results.items():
        for name in SEMI_VARIANTS:
            scores = [r[name][0] for r in runs]
            seconds = statistics.mean(r[name][1] for r in runs)
            wall = statistics.mean(r[name][2] for r in runs)
            print(f"| {n_labels:,} | {name} | {mean_std(scores)} | {min(scores):.3f} | "
                  f"{seconds:.0f} | {wall:.0f} |")
    print("\npublished, 100 labels (permutation-invariant MNIST):\n")
    for name, accuracy in PUBLISHED:
        print(f"| 100 | {name} | {accuracy:.3f} | | |")


def main_semi(args: argparse.Namespace, seeds: int) -> None:
    label_counts = args.labels or [100, 1000]
    max_iter = args.semi_epochs
    if args.quick:
        label_counts, max_iter = [100], 2
    data = load_mnist(args.mnist, args.quick)
    print(f"semi-supervised: {len(data[0]):,} training images, {label_counts} labels, "
          f"{seeds} seed(s)")
    first = args.first_seed
    results = {n: [run_semi(seed, data, n, max_iter, args.n_jobs)
                   for seed in range(first, first + seeds)] for n in label_counts}
    print_semi_table(results, max_iter, args.n_jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", help="MNIST .npz in the Keras layout (x_train, y_train, ...)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 images, 1 pretraining epoch, 100 and 500 labels, 1 seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="semi-supervised rows: seeds first .. first + seeds - 1")
    parser.add_argument("--epochs", type=int, default=5, help="pretraining epochs")
    parser.add_argument("--steps", type=int, default=2000, help="classifier updates (about)")
    parser.add_argument("--only", choices=["pretraining", "semi"],
                        help="run one part: the pretraining table or the semi-supervised rows")
    parser.add_argument("--labels", type=int, nargs="+",
                        help="semi-supervised label counts (default: 100 1000; 60000: all)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="threads for the semi-supervised fits (default: one)")
    parser.add_argument("--semi-epochs", type=int, default=None,
                        help="ladder epochs (default: the estimator's; fewer is marked)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds, epochs, steps = args.seeds, args.epochs, args.steps
    if args.quick:
        seeds = 1
    if args.only != "pretraining":
        print(*machine_description(), sep="\n")
        main_semi(args, seeds)
        if args.only == "semi":
            return
    label_counts = [100, 500, 2000, 20000]
    if args.quick:
        seeds, epochs, steps, label_counts = 1, 1, 200, [100, 500]
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; {seeds} seed(s), {epochs} pretraining "
          f"epoch(s), ~{steps} classifier steps; one torch thread")
    print(*machine_description(), sep="\n")
    data = load_mnist(args.mnist, args.quick)
    print(f"pretraining on {len(data[0]):,} unlabelled images; testing on {len(data[2]):,}")
    started = time.perf_counter()
    results, infos = [], []
    for seed in range(seeds):
        accuracy, info = run_seed(seed, data, label_counts, epochs, steps)
        results.append(accuracy)
        infos.append(info)
    for name in AUTOENCODERS:
        print(f"pretrained {name}: test MSE {mean_std([i[name][0] for i in infos])}, "
              f"{statistics.mean(i[name][1] for i in infos):.0f} s per fit")
    print(f"\ntest accuracy (mean ± std over {seeds} seed(s)), total "
          f"{time.perf_counter() - started:.0f} s:\n")
    print_table(results, label_counts, steps)


if __name__ == "__main__":
    main()

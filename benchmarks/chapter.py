"""The chapter's experiments (Géron, Hands-On ML, 1st ed., ch. 15) reproduced on MNIST.

Usage::

    python benchmarks/chapter.py ../shared/data/mnist.npz            # full settings
    python benchmarks/chapter.py ../shared/data/mnist.npz --quick    # CI-sized, < 2 min

Prints one table, our figures beside the chapter's, and writes figures (reconstructions,
first-layer features, 60 generated digits, an interpolation) to ``--out``.
The chapter's "train MSE" is the loss on the last mini-batch of the last epoch, a noisy
figure; we print the mean over the last epoch (same training data, less noise) and the
test-set MSE.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codings import (
    AutoEncoder,
    Denoising,
    Sparsity,
    TiedWeights,
    Variational,
    WeightDecay,
)
from codings.datasets import load_array


@dataclass
class Experiment:
    name: str
    settings: str
    chapter: str
    params: dict[str, Any]
    epochs: int
    quick_epochs: int
    images: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


STACK = dict(n_components=150, hidden_layer_sizes=(300,), activation="elu", init="he",
             learning_rate=0.01, batch_size=150)
EXPERIMENTS = [
    Experiment("stacked", "784-300-150-300-784 ELU, He, L2 1e-4, Adam 0.01, batch 150",
               "0.0104 (last batch)", {**STACK, "constraints": (WeightDecay(1e-4),)}, 5, 1),
    Experiment("tied", "same, tied weights, L2 5e-4", "0.0156 (last batch)",
               {**STACK, "constraints": (TiedWeights(), WeightDecay(5e-4))}, 5, 1),
    Experiment("layer-wise", "784-300-150, 2 phases x 4 epochs, frozen + cached, no fine-tune",
               "0.00978 (test)",
               {**STACK, "constraints": (WeightDecay(1e-4),), "pretraining": "layerwise-frozen",
                "pretraining_iter": 4}, 0, 0),
    Experiment("denoising, gaussian", "ReLU 300-150-300, std 1.0, Adam 0.01, batch 150",
               "0.041 (noisy inputs)",
               {**STACK, "activation": "relu", "init": "glorot",
                "constraints": (Denoising(std=1.0),)}, 10, 1),
    Experiment("denoising, dropout", "same, dropout rate 0.3", "0.024",
               {**STACK, "activation": "relu", "init": "glorot",
                "constraints": (Denoising(noise="dropout", rate=0.3),)}, 10, 1),
    Experiment("sparse", "784-1000(sigmoid)-784, KL 0.1 x 0.2, Adam 0.01, batch 1000",
               "0.0245 (noisy; best ~0.012)",
               dict(n_components=1000, hidden_layer_sizes=(), activation="sigmoid",
                    learning_rate=0.01, batch_size=1000,
                    constraints=(Sparsity(kind="kl", target=0.1, weight=0.2),)), 100, 3),
    Experiment("variational", "784-500-500-20 ELU, summed BCE + KL, Adam 0.001, batch 150",
               "~73 nats recon + ~25 KL",
               dict(n_components=20, hidden_layer_sizes=(500, 500), activation="elu",
                    loss="bce", learning_rate=0.001, batch_size=150,
                    constraints=(Variational(),)), 50, 2, images=True),
    Experiment("convolutional", "conv 32-64 (3x3, stride 2) -> 30, ReLU, Adam 0.001, b 128",
               "(our design)",
               dict(n_components=30, hidden_layer_sizes=(32, 64), architecture="conv",
                    image_shape=(1, 28, 28), activation="relu", learning_rate=0.001,
                    batch_size=128), 10, 1),
]


def load_mnist(path: str, quick: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train = load_array(path, key="x_train")
    test = load_array(path, key="x_test")
    X_train, X_test = train.data.astype(np.float32), test.data.astype(np.float32)
    if quick:
        X_train, X_test = X_train[:6000], X_test[:2000]
    return X_train, X_test, test.target[: len(X_test)]


def run(experiment: Experiment, X_train: np.ndarray, X_test: np.ndarray, quick: bool,
        seed: int) -> tuple[AutoEncoder, dict[str, Any]]:
    epochs = experiment.quick_epochs if quick else experiment.epochs
    # The chapter's coding layers use the hidden activation (ELU codings, sigmoid for the
    # sparse one); codings' default is linear codings, so ask for the chapter's explicitly.
    params = {"coding_activation": None, **experiment.params}
    if quick and "pretraining_iter" in params:
        params["pretraining_iter"] = 1
    ae = AutoEncoder(max_iter=epochs, random_state=seed, **params)
    started = time.perf_counter()
    ae.fit(X_train)
    seconds = time.perf_counter() - started
    history = ae.history_
    test_mse = float(((ae.reconstruct(X_test) - X_test) ** 2).mean())
    # Without fine-tuning there is no whole-stack epoch: measure the stack on training rows.
    train = history["reconstruction"][-1] if "reconstruction" in history else float(
        ((ae.reconstruct(X_train[:10000]) - X_train[:10000]) ** 2).mean())
    row = {"train": train, "test_mse": test_mse, "seconds": seconds,
           "params": sum(p.numel() for p in ae.module_.parameters()),
           "epochs": f"2x{params['pretraining_iter']}" if "pretraining" in params else epochs}
    if "kl" in history:
        row["kl"] = history["kl"][-1]
    return ae, row


def save_figures(results: dict[str, tuple[AutoEncoder, dict[str, Any]]], X_test: np.ndarray,
                 out: Path) -> None:
    from codings.plotting import (
        plot_features,
        plot_images,
        plot_reconstructions,
        save_figure,
    )

    out.mkdir(parents=True, exist_ok=True)
    for name, (ae, _) in results.items():
        slug = name.replace(", ", "_").replace(" ", "_")
        save_figure(plot_reconstructions(X_test[:10], ae.reconstruct(X_test[:10]), (28, 28)),
                    out / f"{slug}_reconstructions.png")
        first = ae.module_.encoder[0]
        if isinstance(first, torch.nn.Linear):
            save_figure(plot_features(first.weight.detach().numpy(), (28, 28), n=10),
                        out / f"{slug}_features.png")
    vae = results["variational"][0]
    save_figure(plot_images(vae.sample(60, random_state=0), (28, 28), n_cols=10),
                out / "variational_samples.png")
    Z = vae.transform(X_test[:2])
    save_figure(plot_images(vae.interpolate(Z[0], Z[1], steps=10), (28, 28), n_cols=10),
                out / "variational_interpolation.png")


def print_table(rows: dict[str, dict[str, Any]], experiments: list[Experiment]) -> None:
    header = (f"{'experiment':<22}{'epochs':>7}  {'chapter':<28}{'ours: train':>14}"
              f"{'test MSE':>11}{'params':>10}{'time s':>9}")
    print(header)
    print("-" * len(header))
    for experiment in experiments:
        row = rows[experiment.name]
        if "kl" in row:
            ours = f"{row['train']:.1f}+{row['kl']:.1f} nats"
        else:
            ours = f"{row['train']:.4f}"
        print(f"{experiment.name:<22}{row['epochs']:>7}  {experiment.chapter:<28}{ours:>14}"
              f"{row['test_mse']:>11.4f}{row['params']:>10,}{row['seconds']:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", help="MNIST .npz in the Keras layout (x_train, x_test, ...)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training images and 1-3 epochs: a smoke run for CI")
    parser.add_argument("--only", nargs="*", help="run only these experiments")
    parser.add_argument("--out", default="benchmarks/results/chapter")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"mode: {'QUICK (6,000 images, 1-3 epochs)' if args.quick else 'FULL (chapter settings)'}"
          f"; torch {torch.__version__}, {args.threads} thread(s)")
    X_train, X_test, _ = load_mnist(args.mnist, args.quick)
    experiments = [e for e in EXPERIMENTS if not args.only or e.name in args.only]
    results = {}
    for experiment in experiments:
        results[experiment.name] = run(experiment, X_train, X_test, args.quick, args.seed)
        print(f"  done {experiment.name} in {results[experiment.name][1]['seconds']:.1f} s",
              flush=True)
    print_table({k: v[1] for k, v in results.items()}, experiments)
    if "variational" in results:
        save_figures(results, X_test, Path(args.out))
        print(f"figures written to {args.out}/")


if __name__ == "__main__":
    main()

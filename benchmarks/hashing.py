"""Semantic hashing on MNIST: do items that share a binary code share their label?

Usage::

    python benchmarks/hashing.py ../shared/data/mnist.npz            # full
    python benchmarks/hashing.py ../shared/data/mnist.npz --quick    # smoke run, < 1 min

Autoencoders 784-300-100-b (ELU, sigmoid coding layer of b = 16 or 30 units, Adam 1e-3, batch
256) are trained on the 60,000 training images without labels, then every image gets the hash
``semantic_hashes`` makes of its rounded codings. Variants:

- no noise: the codings are rounded wherever they lie in [0, 1];
- input noise: ``Denoising(std=0.5)`` corrupts the pixels, what the library offers today;
- coding-input noise: Gaussian noise (std 15) added in training to the coding layer's input,
  the last hidden layer's output: the chapter's recipe (Géron, ch. 15, exercise;
  Salakhutdinov & Hinton 2009). To get its signal through, the network makes that input
  large, which drives the sigmoid into saturation, so rounding loses little;
- pre-activation noise: the same noise on the coding layer's pre-activations instead.

The coding-input noise is the library's :class:`codings.CodingNoise`; the pre-activation
variant is a user-defined constraint below, as a user would write one.

Columns: saturation (share of test codings below 0.1 or above 0.9), bits that vary over the
test set, distinct hashes among the 10,000 test images, purity (for two different test images
with the same hash, the chance they show the same digit; ``hash_purity``) against chance
(0.10), the share of test images whose hash is shared, then retrieval: for each test image,
the training images with its hash (precision = share with the same digit; found = share of
test images whose hash occurs in training), and the test MSE of decoding the bits against
decoding the continuous codings.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from _mnist import load_mnist
from _timing import machine_description
from torch import nn

from codings import AutoEncoder, CodingNoise, Constraint, Denoising
from codings.estimators.hashing import hash_buckets, hash_purity, semantic_hashes
from codings.exceptions import InvalidInputError
from codings.nn.layers import GaussianNoise
from codings.nn.module import AutoEncoderModule


@dataclass(frozen=True)
class PreActivationNoise(Constraint, name="pre_activation_noise_demo"):
    """A user-defined variant of :class:`codings.CodingNoise`: the same Gaussian noise on the
    coding layer's pre-activations (after its Linear, before its sigmoid), training only."""

    std: float = 4.0

    build_order = 5  # before TiedWeights reads the layers; no effect on their weights

    def build(self, module: AutoEncoderModule, constraints: Any) -> None:
        if not module.builtin:
            raise InvalidInputError("PreActivationNoise needs the built-in architecture.")
        children = list(module.encoder.children())
        coding = max(i for i, m in enumerate(children)
                     if isinstance(m, nn.Linear | nn.Conv2d))
        noise = GaussianNoise(self.std, module.generator)
        module.encoder = nn.Sequential(*children[:coding + 1], noise, *children[coding + 1:])


BASE = dict(hidden_layer_sizes=(300, 100), activation="elu", coding_activation="sigmoid",
            learning_rate=1e-3, batch_size=256)
VARIANTS: dict[str, tuple[int, tuple[Constraint, ...]]] = {
    "16 bits, no noise": (16, ()),
    "16 bits, input noise (Denoising std 0.5)": (16, (Denoising(std=0.5),)),
    "16 bits, coding-input noise std 15": (16, (CodingNoise(std=15.0),)),
    "16 bits, pre-activation noise std 4": (16, (PreActivationNoise(std=4.0),)),
    "30 bits, coding-input noise std 15": (30, (CodingNoise(std=15.0),)),
}


def retrieval(ae: AutoEncoder, X_train: np.ndarray, y_train: np.ndarray,
              test_hashes: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    """(precision, found): same-digit share of the training images in each test image's
    bucket (over all such pairs), and the share of test images with a non-empty bucket."""
    buckets = hash_buckets(ae, X_train)
    same = total = found = 0
    for value, label in zip(test_hashes.tolist(), y_test.tolist(), strict=True):
        members = buckets.get(value)
        if members is not None:
            found += 1
            same += int((y_train[members] == label).sum())
            total += len(members)
    return same / max(total, 1), found / len(y_test)


def run(name: str, data: tuple[np.ndarray, ...], epochs: int, seed: int) -> dict[str, Any]:
    X_train, y_train, X_test, y_test = data
    bits, constraints = VARIANTS[name]
    started = time.perf_counter()
    ae = AutoEncoder(n_components=bits, constraints=constraints, max_iter=epochs,
                     random_state=seed, **BASE).fit(X_train)
    seconds = time.perf_counter() - started
    Z = ae.transform(X_test)
    hashes = semantic_hashes(ae, X_test)
    purity = hash_purity(y_test, hashes)
    precision, found = retrieval(ae, X_train, y_train, hashes, y_test)
    mse_bits = float(((ae.inverse_transform((Z >= 0.5).astype(np.float32)) - X_test) ** 2)
                     .mean())
    print(f"  {name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return {"name": name, "saturation": float(((Z < 0.1) | (Z > 0.9)).mean()),
            "bits_used": int(((Z >= 0.5).min(axis=0) != (Z >= 0.5).max(axis=0)).sum()),
            "purity": purity, "precision": precision, "found": found, "mse_bits": mse_bits,
            "mse": float(((ae.inverse_transform(Z) - X_test) ** 2).mean()),
            "seconds": seconds, "bits": bits}


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| variant | saturation | bits used | test hashes | purity (chance) | shared | "
          "retrieval precision | found | MSE from bits (codings) | fit s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["purity"]
        print(f"| {r['name']} | {r['saturation']:.2f} | {r['bits_used']}/{r['bits']} | "
              f"{p.n_buckets:,} | {p.purity:.3f} ({p.chance:.3f}) | {p.shared_fraction:.2f} | "
              f"{r['precision']:.3f} | {r['found']:.2f} | {r['mse_bits']:.4f} "
              f"({r['mse']:.4f}) | {r['seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", help="MNIST .npz in the Keras layout (x_train, y_train, ...)")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training and 2,000 test images, 10 epochs")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = 10 if args.quick else args.epochs
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; {epochs} epochs; one torch thread")
    print(*machine_description(), sep="\n")
    data = load_mnist(args.mnist, args.quick)
    print(f"{len(data[0]):,} training and {len(data[2]):,} test images")
    started = time.perf_counter()
    rows = [run(name, data, epochs, args.seed) for name in VARIANTS]
    print(f"\nsemantic hashing (total {time.perf_counter() - started:.0f} s):\n")
    print_table(rows)


if __name__ == "__main__":
    main()

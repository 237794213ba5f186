"""Generation measured: a VAE, an adversarial autoencoder and the denoising chain on MNIST.

Usage::

    python benchmarks/generation.py ../shared/data/mnist.npz --out docs   # full
    python benchmarks/generation.py --quick                               # embedded digits, s

Four autoencoders with the same network (784-256-8-256-784, ELU, Bernoulli likelihood
``loss="bce"``, Adam 1e-3, batch 128, the same epochs, seed 0) on the 60,000 training images
(the codings are ELU units for the plain and denoising models; the VAE's and the AAE's coding
layers are linear, as those constraints make them):

- VAE: ``Variational()``; samples decode draws of N(0, I);
- AAE: ``Adversarial(prior="normal")``; samples decode draws of the same N(0, I);
- denoising: ``Denoising(std=0.5)``; samples are the generative-stochastic-network chain,
  ``sample(1000, random_state=0)`` with its defaults (100 steps from uniform noise);
- plain: no constraint, the baseline; it has no prior, so its samples decode draws from a
  diagonal Gaussian fitted to its training codings (each unit's mean and standard deviation).

(a) Does the codings' aggregate match the prior? The codings of the first 1,000 test images
(for the VAE, one draw ``z ~ q(z | x)`` each, the aggregate posterior the prior stands in for;
for the plain and denoising models, standardised with the training codings' mean and standard
deviation, so only their shape can differ from N(0, I)) against 1,000 draws of N(0, I):
the unbiased MMD^2 estimate with the Gaussian kernel ``k(a, b) = exp(-||a - b||^2 / (2 d))``
(``d`` = 8 coding units; a bandwidth of the prior's own scale) and the largest
Kolmogorov-Smirnov statistic over the ``d`` units. The first row is a second set of 1,000
prior draws: the noise floor.

(b) Are the samples digits? A classifier trained on the real training images (784-256-10
ReLU MLP, Adam 1e-3, batch 128, 10 epochs; its test accuracy is printed) labels 1,000
samples of each model: the mean top-class probability (confident = digit-like) and the
entropy of the histogram of predicted classes, in nats (log 10 = 2.303 when every digit
appears equally often; lower means some digits are missing or over-represented).

(c) The same two figures for 1,000 real test images: the ceiling.

``--out`` receives two figures: samples of every model, and chains turning noise into digits.
``--quick`` runs the same on the embedded 8x8 digits (1,500 training rows) in seconds.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from codings import Adversarial, AutoEncoder, Denoising, Variational

SEED = 0
N_SAMPLES = 1000
JUDGE_EPOCHS = 10
N_COMPONENTS = 8
NETWORK: dict[str, Any] = dict(n_components=N_COMPONENTS, hidden_layer_sizes=(256,),
                               activation="elu", coding_activation="elu", loss="bce",
                               learning_rate=1e-3, batch_size=128, random_state=SEED)
CONSTRAINTS: dict[str, tuple[Any, ...]] = {
    "VAE": (Variational(),),
    "AAE": (Adversarial(prior="normal"),),
    "denoising chain": (Denoising(std=0.5),),
    "plain AE": (),
}
CHAIN_STEPS = (0, 1, 2, 5, 10, 20, 50, 100)


# -- the data --------------------------------------------------------------------------------
def load(path: str | None, quick: bool) -> tuple[tuple[np.ndarray, ...], tuple[int, int]]:
    """``(X_train, y_train, X_test, y_test)`` in [0, 1] and the image shape."""
    if quick:
        from codings.datasets import load_digits

        digits = load_digits()
        X = (digits.data / 16.0).astype(np.float32)
        return (X[:1500], digits.target[:1500], X[1500:], digits.target[1500:]), (8, 8)
    if path is None:
        raise SystemExit("generation.py: give the MNIST .npz path (or --quick for the digits)")
    from _mnist import load_mnist

    return load_mnist(path, quick=False), (28, 28)


# -- (a) codings against the prior -------------------------------------------------------------
def mmd2(a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD^2 between two samples, Gaussian kernel of variance ``d`` (the width)."""
    d = a.shape[1]

    def kernel_mean(x: np.ndarray, y: np.ndarray, same: bool) -> float:
        sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
        k = np.exp(-np.maximum(sq, 0) / (2 * d))
        if same:  # leave out the diagonal k(x_i, x_i) = 1
            return float((k.sum() - len(x)) / (len(x) * (len(x) - 1)))
        return float(k.mean())

    a, b = a.astype(np.float64), b.astype(np.float64)
    return kernel_mean(a, a, True) + kernel_mean(b, b, True) - 2 * kernel_mean(a, b, False)


def max_ks(z: np.ndarray) -> float:
    """The largest per-unit Kolmogorov-Smirnov statistic against N(0, 1)."""
    return max(float(stats.kstest(z[:, j], "norm").statistic) for j in range(z.shape[1]))


def test_codings(name: str, ae: AutoEncoder, X_train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The codings compared with N(0, I): see the module docstring, (a)."""
    if name == "VAE":  # one draw from each q(z | x)
        module = ae.module_.eval()
        with torch.no_grad():
            out = module.encode(torch.from_numpy(X))
        assert out.mu is not None and out.log_var is not None  # a Variational model's
        generator = torch.Generator().manual_seed(SEED)
        eps = torch.randn(out.mu.shape, generator=generator)
        return (out.mu + torch.exp(0.5 * out.log_var) * eps).numpy()
    Z = ae.transform(X)
    if name == "AAE":
        return Z
    Z_train = ae.transform(X_train)
    return (Z - Z_train.mean(0)) / Z_train.std(0)


def sample(name: str, ae: AutoEncoder, X_train: np.ndarray) -> np.ndarray:
    """``N_SAMPLES`` generated rows (the plain model decodes its fitted diagonal Gaussian)."""
    if name == "plain AE":
        Z_train = ae.transform(X_train)
        noise = np.random.default_rng(SEED).standard_normal((N_SAMPLES, Z_train.shape[1]))
        return ae.inverse_transform(Z_train.mean(0) + Z_train.std(0) * noise)
    return ae.sample(N_SAMPLES, random_state=SEED)


# -- (b) the judge -----------------------------------------------------------------------------
def train_classifier(X: np.ndarray, y: np.ndarray, epochs: int) -> nn.Module:
    """A 784-256-10 ReLU MLP trained with Adam (lr 1e-3, batch 128) for ``epochs``."""
    torch.manual_seed(SEED)
    net = nn.Sequential(nn.Linear(X.shape[1], 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, target = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    for _ in range(epochs):
        for rows in torch.randperm(len(x)).split(128):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x[rows]), target[rows]).backward()
            optimizer.step()
    return net.eval()


def judge(net: nn.Module, X: np.ndarray) -> tuple[float, float]:
    """Mean top-class probability and the entropy (nats) of the predicted-class histogram."""
    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(np.asarray(X, np.float32))), dim=1).numpy()
    counts = np.bincount(p.argmax(1), minlength=10)
    share = counts[counts > 0] / counts.sum()
    return float(p.max(1).mean()), float(-(share * np.log(share)).sum())


# -- the figures -------------------------------------------------------------------------------
def write_figures(out: Path, rows: dict[str, np.ndarray], chain: np.ndarray,
                  shape: tuple[int, int]) -> None:
    from codings.report.figures import plot_image_rows

    out.mkdir(parents=True, exist_ok=True)
    fig = plot_image_rows({name: X[:12] for name, X in rows.items()}, shape)
    fig.savefig(out / "generation_samples.png", dpi=60)
    steps = {f"step {t}": chain[t, :8] for t in CHAIN_STEPS if t < len(chain)}
    fig = plot_image_rows(steps, shape)
    fig.savefig(out / "generation_chain.png", dpi=60)
    print(f"figures written to {out}/generation_samples.png and generation_chain.png")


# -- the run -----------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table; ``None`` where a figure does not apply."""

    name: str
    mmd: float | None = None
    ks: float | None = None
    top: float | None = None
    entropy: float | None = None
    seconds: float | None = None

    def cells(self) -> list[str]:
        def show(value: float | None, digits: int) -> str:
            return "-" if value is None else f"{value:.{digits}f}"

        return [self.name, show(self.mmd, 4), show(self.ks, 4), show(self.top, 3),
                show(self.entropy, 3), show(self.seconds, 0)]


def judged(row: Row, net: nn.Module, X: np.ndarray) -> Row:
    row.top, row.entropy = judge(net, X)
    return row


def fit_and_measure(name: str, data: tuple[np.ndarray, ...], epochs: int, net: nn.Module,
                    prior: np.ndarray) -> tuple[Row, AutoEncoder, np.ndarray]:
    """Fit one model; its row of the table, the model and its samples."""
    X_train, _, X_test, _ = data
    started = time.perf_counter()
    ae = AutoEncoder(**NETWORK, max_iter=epochs, constraints=CONSTRAINTS[name]).fit(X_train)
    seconds = time.perf_counter() - started
    Z = test_codings(name, ae, X_train, X_test[:len(prior)])
    samples = sample(name, ae, X_train)
    print(f"  {name}: fitted in {seconds:.0f} s", flush=True)
    return judged(Row(name, mmd2(Z, prior), max_ks(Z), seconds=seconds), net, samples), \
        ae, samples


def print_table(rows: list[Row]) -> None:
    print("| model | MMD^2 to N(0, I) | max KS | mean top-class probability "
          "| class-histogram entropy (nats) | fit s |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", nargs="?", help="MNIST .npz in the Keras layout")
    parser.add_argument("--quick", action="store_true",
                        help="the embedded 8x8 digits and few epochs: seconds")
    parser.add_argument("--epochs", type=int, help="autoencoder epochs (default 15; quick 5)")
    parser.add_argument("--out", type=Path, help="write the two figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, shape = load(args.mnist, args.quick)
    X_train, y_train, X_test, y_test = data
    epochs = args.epochs or (5 if args.quick else 15)
    print(f"mode: {'QUICK (embedded 8x8 digits)' if args.quick else 'FULL (MNIST)'}; "
          f"{len(X_train)} training rows, {epochs} epochs; torch {torch.__version__}, 1 thread")
    net = train_classifier(X_train, y_train, JUDGE_EPOCHS)
    with torch.no_grad():
        accuracy = float((net(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
    n, d = min(N_SAMPLES, len(X_test)), N_COMPONENTS
    prior = np.random.default_rng(SEED + 1).standard_normal((n, d))
    floor = np.random.default_rng(SEED + 2).standard_normal((n, d))
    rows = [Row("N(0, I) draws (noise floor)", mmd2(floor, prior), max_ks(floor))]
    images = {"real test": X_test[np.random.default_rng(SEED).permutation(len(X_test))[:n]]}
    models = {}
    for name in CONSTRAINTS:
        row, models[name], images[name] = fit_and_measure(name, data, epochs, net, prior)
        rows.append(row)
    rows.append(judged(Row(f"real test images ({n})"), net, images["real test"]))
    print(f"\njudge: {X_train.shape[1]}-256-10 MLP, {JUDGE_EPOCHS} epochs, test accuracy "
          f"{accuracy:.4f}; log 10 = {math.log(10):.3f}\n")
    print_table(rows)
    if args.out is not None:
        chain = models["denoising chain"].sample(8, random_state=SEED, return_chain=True)
        write_figures(args.out, images, chain, shape)


if __name__ == "__main__":
    main()

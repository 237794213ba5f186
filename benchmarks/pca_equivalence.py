"""A linear autoencoder finds PCA's subspace: the chapter's 3-D demo and digits 64-8-64.

Each linear autoencoder (no hidden layer, identity activations, MSE, full-batch Adam) is
compared with scikit-learn's PCA fitted on the same training rows: reconstruction MSE on train
and test (both models trained on train), the largest principal angle between the decoder's
column space and PCA's, and the fit time of one against the other, timed alternately in this
process. Torch and the BLAS libraries run on one thread each so neither side gets more cores.

Run: ``python benchmarks/pca_equivalence.py [--repeats 5] [--seeds 20]``.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from _timing import ForeignLoad, alternate, machine_description, median_range, ratio_summary
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from codings import AutoEncoder
from codings.datasets import load_demo_3d, load_digits
from codings.diagnostics import PCAComparison, compare_with_pca

# Chapter A1's derived targets: PCA(2) reconstruction MSE on the standardised 3-D demo.
CHAPTER_PCA_MSE = {"train": 0.0455, "test": 0.0519}


@dataclass(frozen=True)
class Experiment:
    name: str
    train: np.ndarray
    test: np.ndarray
    n_components: int
    learning_rate: float
    max_iter: int

    def make_autoencoder(self, seed: int) -> AutoEncoder:
        """The linear autoencoder, trained full batch with Adam on the MSE."""
        return AutoEncoder(n_components=self.n_components, hidden_layer_sizes=(),
                           activation="identity", learning_rate=self.learning_rate,
                           max_iter=self.max_iter, batch_size=None, random_state=seed)


def demo_3d() -> Experiment:
    data = load_demo_3d()  # rows 0-99 train, 100-199 test, scaled with train statistics
    return Experiment("3-D demo 3-2-3", data.train, data.test, n_components=2,
                      learning_rate=0.01, max_iter=1000)


def digits() -> Experiment:
    train, test = train_test_split(load_digits().data, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(train)
    return Experiment("digits 64-8-64", scaler.transform(train), scaler.transform(test),
                      n_components=8, learning_rate=0.02, max_iter=500)


def run(experiment: Experiment, seed: int, repeats: int) -> dict[str, Any]:
    """Fit both models, compare them on train and test, and time the fits alternately."""
    ae = experiment.make_autoencoder(seed).fit(experiment.train)
    pca = PCA(experiment.n_components).fit(experiment.train)
    train = compare_with_pca(ae, experiment.train, pca=pca)
    test = compare_with_pca(ae, experiment.test, pca=pca)
    with ForeignLoad() as load:
        times = alternate({
            "ae": lambda: experiment.make_autoencoder(seed).fit(experiment.train),
            "pca": lambda: PCA(experiment.n_components).fit(experiment.train),
        }, repeats)
    return {"train": train, "test": test, "times": times, "foreign": load.share}


def seed_sweep(experiment: Experiment, n_seeds: int) -> list[PCAComparison]:
    return [compare_with_pca(experiment.make_autoencoder(seed).fit(experiment.train),
                             experiment.train) for seed in range(n_seeds)]


def print_table(rows: list[tuple[str, dict[str, Any]]]) -> None:
    header = ("experiment", "MSE AE/PCA train", "MSE AE/PCA test", "max angle",
              "AE fit", "PCA fit", "time AE/PCA median [min–max]")
    lines = [header]
    for name, r in rows:
        lines.append((name, f"{r['train'].mse_ratio:.5f}", f"{r['test'].mse_ratio:.5f}",
                      f"{r['train'].max_angle_deg:.3f}°", median_range(r["times"]["ae"]),
                      median_range(r["times"]["pca"]),
                      str(ratio_summary(r["times"]["ae"], r["times"]["pca"]))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed A/B rounds (default 5)")
    parser.add_argument("--seeds", type=int, default=20,
                        help="seeds for the 3-D demo's convergence sweep (default 20; 0 skips)")
    parser.add_argument("--random-state", type=int, default=0, help="seed of the main runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(*machine_description(), sep="\n")
    print(f"threads: torch {torch.get_num_threads()}, BLAS 1 (threadpoolctl); "
          f"{args.repeats} timed rounds after 1 warm-up, AE and PCA fits alternated\n")
    with threadpool_limits(1):
        experiments = [demo_3d(), digits()]
        rows = [(e.name, run(e, args.random_state, args.repeats)) for e in experiments]
        print_table(rows)
        print("\nangle: largest principal angle between span(decoder weight) and PCA's "
              "components (train)")
        for name, r in rows:
            print(f"{name}: other processes used {r['foreign']:.0%} of the CPUs while timing")
        demo = rows[0][1]
        print("\n3-D demo absolute MSE (chapter's PCA(2) target in brackets):")
        for split in ("train", "test"):
            c = demo[split]
            print(f"  {split}: AE {c.mse:.5f}, PCA {c.pca_mse:.5f} "
                  f"[{CHAPTER_PCA_MSE[split]}]")
        c = demo["train"]
        print(f"  explained variance ratio: AE {np.round(c.explained_variance_ratio, 4)}, "
              f"PCA {np.round(c.pca_explained_variance_ratio, 4)}")
        if args.seeds:
            print_sweep(experiments[0], args.seeds)


def print_sweep(experiment: Experiment, n_seeds: int) -> None:
    results = seed_sweep(experiment, n_seeds)
    ok = [r.mse_ratio < 1.01 and r.max_angle_deg < 1 for r in results]
    print(f"\n3-D demo over seeds 0-{n_seeds - 1} (1000 full-batch Adam steps): "
          f"{sum(ok)}/{n_seeds} reach MSE within 1% of PCA and max angle < 1°; "
          f"median MSE ratio {statistics.median(r.mse_ratio for r in results):.5f}")
    for seed, (r, good) in enumerate(zip(results, ok, strict=True)):
        if not good:
            print(f"  seed {seed}: MSE ratio {r.mse_ratio:.4f}, max angle {r.max_angle_deg:.2f}°")


if __name__ == "__main__":
    main()

"""A linear autoencoder on MNIST (784 -> 32 -> 784) against scikit-learn's PCA(32).

PCA gives the best rank-32 reconstruction, so its test MSE is the floor a linear autoencoder
can reach. The script fits PCA with the "full" and "randomized" solvers (and
"covariance_eigh", the fastest here), alternating the fits, then trains the autoencoder with
a few schedules and records after every epoch the test MSE and the training time so far (a
callback evaluates the module; evaluation time is not counted). It prints how many epochs and
seconds each schedule took to come within 1% and 0.1% of PCA's test MSE.

Torch and the BLAS libraries get the same number of threads (``--threads``, default 1).

Run: ``python benchmarks/pca_speed.py ../shared/data/mnist.npz [--quick] [--seeds 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from _timing import (
    ForeignLoad,
    alternate,
    format_table,
    machine_description,
    median_spread,
)
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from codings import AutoEncoder
from codings.training import Callback, Trainer

N_COMPONENTS = 32
QUICK_ROWS = 10_000
TARGETS = (0.01, 0.001)


@dataclass(frozen=True)
class Schedule:
    """One way to train the linear autoencoder."""

    name: str
    params: dict[str, Any]

    def make(self, seed: int) -> AutoEncoder:
        return AutoEncoder(n_components=N_COMPONENTS, hidden_layer_sizes=(),
                           activation="identity", random_state=seed, **self.params)


def _adam(lr: float, batch: int | None, epochs: int, schedule: str = "constant",
          **extra: Any) -> dict[str, Any]:
    return {"learning_rate": lr, "batch_size": batch, "max_iter": epochs,
            "lr_schedule": schedule, **extra}


# Found by trying (full MNIST, seed 0): a cosine decay to zero lands on PCA's subspace within
# a dozen epochs; a constant rate stalls ~0.15% above it; full-batch Adam (1e-2 to 3e-2,
# cosine over 200 steps) was still 1.9x PCA's MSE after 200 steps of 1.5 s each.
SCHEDULES = (
    Schedule("Adam 1e-3, batch 256, constant, 40 epochs", _adam(1e-3, 256, 40)),
    Schedule("Adam 3e-3, batch 256, cosine over 15", _adam(3e-3, 256, 15, "cosine")),
    Schedule("Adam 3e-3, batch 256, cosine over 10", _adam(3e-3, 256, 10, "cosine")),
    Schedule("Adam 1e-3, batch 256, cosine over 15", _adam(1e-3, 256, 15, "cosine")),
    Schedule("Adam 1e-3, batch 256, plateau (patience 1), 30 epochs",
             _adam(1e-3, 256, 30, "plateau", n_iter_no_change=2)),
    Schedule("Adam 3e-3, batch 1024, cosine over 30", _adam(3e-3, 1024, 30, "cosine")),
)


@dataclass
class TestCurve(Callback):
    """Test MSE and cumulative training seconds after every epoch.

    ``Callback`` hooks do not receive the module, so ``on_train_begin`` takes it from the
    calling ``Trainer`` (a benchmark-only shortcut: the trainer's frame is the caller's).
    """

    X_test: torch.Tensor
    mse: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def on_train_begin(self, max_iter: int) -> None:
        module = getattr(self, "module", None)
        if module is None:
            caller = sys._getframe(1).f_locals.get("self")
            if not isinstance(caller, Trainer):
                raise RuntimeError("TestCurve must be called by codings.training.Trainer")
            module = caller.module
        self._module = module

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        was_training = self._module.training
        self._module.eval()
        with torch.inference_mode():
            out = self._module(self.X_test)
            self.mse.append(float((out.x_hat - self.X_test).square().mean()))
        self._module.train(was_training)
        self.seconds.append((self.seconds[-1] if self.seconds else 0.0) + logs["time"])


def load_mnist(path: str, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        train = data["x_train"].reshape(-1, 784).astype(np.float32) / 255
        test = data["x_test"].reshape(-1, 784).astype(np.float32) / 255
    return (train[:QUICK_ROWS], test[:2_000]) if quick else (train, test)


def pca_mse(pca: PCA, X: np.ndarray) -> float:
    return float(np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2))


def pca_table(train: np.ndarray, test: np.ndarray, repeats: int) -> float:
    solvers = ("full", "randomized", "covariance_eigh")
    models = {s: PCA(N_COMPONENTS, svd_solver=s, random_state=0).fit(train) for s in solvers}
    with ForeignLoad() as load:
        times = alternate({s: (lambda s=s: PCA(N_COMPONENTS, svd_solver=s, random_state=0)
                               .fit(train)) for s in solvers}, repeats)
    rows = [("PCA(32) svd_solver", "fit s median [min–max]", "test MSE")]
    for s in solvers:
        rows.append((s, median_spread(times[s], ".3f"), f"{pca_mse(models[s], test):.6f}"))
    print(format_table(rows))
    print(f"other processes used {load.share:.0%} of the CPUs meanwhile")
    return pca_mse(models["full"], test)


def first_within(curve: TestCurve, target: float, tolerance: float) -> str:
    for epoch, (mse, seconds) in enumerate(zip(curve.mse, curve.seconds, strict=True)):
        if mse <= target * (1 + tolerance):
            return f"epoch {epoch + 1}, {seconds:.1f} s"
    return "not reached"


def train_table(train: np.ndarray, test: np.ndarray, target: float, seeds: int,
                schedules: tuple[Schedule, ...]) -> None:
    X_test = torch.from_numpy(test)
    rows = [("schedule", "seed", "s/epoch", "within 1%", "within 0.1%", "final MSE / PCA")]
    for schedule in schedules:
        for seed in range(seeds):
            curve = TestCurve(X_test)
            with ForeignLoad() as load:
                schedule.make(seed).fit(train, callbacks=[curve])
            per_epoch = statistics.median(np.diff([0.0, *curve.seconds]))
            rows.append((schedule.name, str(seed), f"{per_epoch:.3f}",
                         *(first_within(curve, target, t) for t in TARGETS),
                         f"{curve.mse[-1] / target:.5f}"))
            print(f"  {schedule.name}, seed {seed}: done (other processes used "
                  f"{load.share:.0%} of the CPUs)", flush=True)
    print(format_table(rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", help="path to mnist.npz (Keras layout)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS:,} training rows and the first two schedules")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per schedule (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed PCA rounds (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train, test = load_mnist(args.mnist, args.quick)
    print(*machine_description(), sep="\n")
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; {len(train):,} training rows, "
          f"{len(test):,} test rows; threads: torch {args.threads}, BLAS {args.threads}\n")
    with threadpool_limits(args.threads):
        target = pca_table(train, test, args.repeats)
        print(f"\nlinear autoencoder 784-{N_COMPONENTS}-784 (biases, MSE), target = PCA full "
              f"test MSE {target:.6f}; times are training seconds (evaluation excluded)")
        schedules = SCHEDULES[:2] if args.quick else SCHEDULES
        train_table(train, test, target, args.seeds, schedules)


if __name__ == "__main__":
    main()

"""Training and inference throughput: ``AutoEncoder`` against a minimal hand-written loop.

The hand-written loop is what a user would write in PyTorch: one contiguous tensor, a shuffled
index per epoch, slices of it as batches, forward, loss, backward, Adam step. It builds the
same model from the same seed (``codings.nn.build_mlp`` draws the initial weights from a
``torch.Generator`` seeded like the estimator's) and draws its permutations (and, for the
VAE, its noise) from that generator in the estimator's order, so both sides do the same
arithmetic on the same batches: the script prints the largest difference of the final
weights as a check (and, where it is not zero, the difference from the same loop with
``Adam(fused=True)``, the kernel ``fit`` uses, which rounds differently from the per-tensor
one). Variants alternate in one process (A, B, A, B, ...), and each ratio divides times of
the same round, so the machine's drift cancels.

Sections:
- AE 784-300-150-300-784 (ELU, MSE) at batch 128 and 256: ``fit`` vs the loop, in fp32 and,
  where the estimator has ``precision``, ``precision="bf16-mixed"`` vs the fp32 loop (target
  >= 1.25x, test MSE within 1%) and vs the same loop under ``torch.autocast``;
- VAE 784-512-256-16 (ReLU, Bernoulli/BCE + KL) at batch 128 and 256;
- ``transform`` vs the raw encoder under ``torch.inference_mode``.

Ratio = hand-written time / our time for the same work (= our samples/s over theirs; >= 1
means no overhead). GFLOP/s counts the matmul FLOPs of forward and backward (no input
gradient for the first layer) against this machine's fp32 peak, measured here as the best of
5 ``torch.mm`` of 2048 x 2048.

Run: ``python benchmarks/throughput.py ../shared/data/mnist.npz [--quick] [--epochs 2]
[--repeats 5] [--threads 1] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _timing import (
    ForeignLoad,
    alternate,
    format_table,
    machine_description,
    matmul_peak_gflops,
    median_spread,
    ratio_summary,
)
from torch import Tensor, nn

from codings import AutoEncoder, Variational
from codings.nn import build_mlp, init_linear

SEED = 0
QUICK_ROWS = 10_000
AE_SIZES = (784, 300, 150, 300, 784)
VAE_SIZES = (784, 512, 256, 32, 16, 256, 512, 784)  # the encoder's last layer is (mu, log_var)


def load_mnist(path: str, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST train and test rows as float32 in [0, 1], flattened to 784."""
    with np.load(path) as data:
        train = data["x_train"].reshape(-1, 784).astype(np.float32) / 255
        test = data["x_test"].reshape(-1, 784).astype(np.float32) / 255
    return (train[:QUICK_ROWS], test[:2_000]) if quick else (train, test)


def train_flops(sizes: Sequence[int]) -> float:
    """Matmul FLOPs per sample for forward + backward through Linear layers ``sizes``.

    Forward 2·in·out per layer, backward twice that (input and weight gradients) except the
    first layer, which needs no input gradient.
    """
    forward = [2 * a * b for a, b in pairwise(sizes)]
    return 3 * sum(forward) - forward[0]


def vae_flops() -> float:
    s = VAE_SIZES
    encoder = train_flops(s[:4])
    decoder = 3 * sum(2 * a * b for a, b in pairwise(s[4:]))  # backward includes dz
    return encoder + decoder


# -- the hand-written loops ---------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_ae(X: Tensor, batch_size: int, epochs: int, bf16: bool = False,
            fused: bool | None = None, device: str = "cpu") -> nn.Module:
    """The minimal loop a PyTorch user writes, for the stacked ELU autoencoder."""
    g = torch.Generator().manual_seed(SEED)
    encoder, decoder = build_mlp(784, (300,), 150, "elu", "elu", "identity", "auto", g)
    X = X.to(device)
    model = nn.Sequential(encoder, decoder).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    n = X.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(X.device)
        for start in range(0, n, batch_size):
            xb = X[perm[start:start + batch_size]]
            with torch.autocast(X.device.type, dtype=torch.bfloat16, enabled=bf16):
                x_hat = model(xb)
            loss = F.mse_loss(x_hat.float(), xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    synchronize(X.device)
    return model.eval()


class HandVAE(nn.Module):
    def __init__(self, g: torch.Generator) -> None:
        super().__init__()
        encoder, decoder = build_mlp(784, (512, 256), 16, "relu", "relu", "identity", "auto",
                                     g)
        head = nn.Linear(256, 32)  # (mu, log_var), drawn after the rest, as Variational does
        init_linear(head, "glorot", g)
        self.encoder = nn.Sequential(*list(encoder.children())[:-2], head)
        self.decoder = decoder
        self.g = g

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        log_var = log_var.clamp(-30, 20)
        eps = torch.randn(mu.shape, generator=self.g).to(mu.device)
        return self.decoder(mu + torch.exp(0.5 * log_var) * eps), mu, log_var


def hand_vae(X: Tensor, batch_size: int, epochs: int, device: str = "cpu",
             fused: bool | None = None) -> nn.Module:
    """The same loop for the VAE: summed BCE over pixels plus KL, averaged over the batch."""
    g = torch.Generator().manual_seed(SEED)
    X = X.to(device)
    model = HandVAE(g).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    n = X.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(X.device)
        for start in range(0, n, batch_size):
            xb = X[perm[start:start + batch_size]]
            logits, mu, log_var = model(xb)
            bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / len(xb)
            kl = 0.5 * (mu.square() + log_var.exp() - 1 - log_var).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            (bce + kl).backward()
            optimizer.step()
    synchronize(X.device)
    return model.eval()


# -- our side -----------------------------------------------------------------------------------


def has_precision() -> bool:
    return "precision" in AutoEncoder().get_params()


def our_ae(batch_size: int, epochs: int, precision: str | None = None,
           device: str = "cpu") -> AutoEncoder:
    extra = {"precision": precision} if precision is not None else {}
    return AutoEncoder(n_components=150, hidden_layer_sizes=(300,), activation="elu",
                       batch_size=batch_size, max_iter=epochs, random_state=SEED,
                       device=device, **extra)


def our_vae(batch_size: int, epochs: int, device: str = "cpu") -> AutoEncoder:
    return AutoEncoder(n_components=16, hidden_layer_sizes=(512, 256), activation="relu",
                       loss="bce", constraints=(Variational(),), batch_size=batch_size,
                       max_iter=epochs, random_state=SEED, device=device)


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    times: list[float]
    cpu: list[float]
    model: Any = None


def timed_variants(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, Result]:
    """Alternate the variants, recording wall and CPU seconds and each one's last model.

    With one thread, CPU time leaves out the time the process waited for a core that another
    process held, so its ratios are steadier than wall-clock ones on a shared machine.
    """
    results = {name: Result([], []) for name in fns}

    def keep(name: str, fn: Callable[[], Any]) -> Callable[[], None]:
        def call() -> None:
            start = time.process_time()
            results[name].model = fn()
            results[name].cpu.append(time.process_time() - start)
        return call

    times = alternate({name: keep(name, fn) for name, fn in fns.items()}, repeats)
    for name, values in times.items():
        results[name].times = values
        del results[name].cpu[:-repeats]  # drop the warm-up rounds
    return results


def model_device(model: Any) -> torch.device:
    module = model.module_ if isinstance(model, AutoEncoder) else model
    return next(module.parameters()).device


def test_mse(model: Any, X_test: np.ndarray) -> float:
    if isinstance(model, AutoEncoder):
        return float(np.mean((model.reconstruct(X_test) - X_test) ** 2))
    with torch.inference_mode():
        x = torch.from_numpy(X_test).to(model_device(model))
        return float(F.mse_loss(model(x), x))


def test_bce(model: Any, X_test: np.ndarray) -> float:
    """Reconstruction BCE of the mean coding, nats per sample."""
    x = torch.from_numpy(X_test).to(model_device(model))
    with torch.inference_mode():
        if isinstance(model, AutoEncoder):
            module = model.module_
            logits = module.decode(module.encode(x).z)
        else:
            logits = model.decoder(model.encoder(x).chunk(2, dim=1)[0])
        return float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum")) / len(x)


def final_weights(model: Any) -> list[Tensor]:
    module = model.module_ if isinstance(model, AutoEncoder) else model
    return [p.detach().cpu() for p in module.parameters()]


def weight_gap(a: Any, b: Any) -> float:
    return max(float((p - q).abs().max()) for p, q in
               zip(final_weights(a), final_weights(b), strict=True))


def same_computation(ours: Any, hand: Any, fused_hand: Callable[[], Any]) -> str:
    """How far our final weights are from the hand loop's; where they are not identical, also
    from the same loop with torch's fused Adam kernel (which rounds differently), run once."""
    gap = weight_gap(ours, hand)
    line = f"same computation: final weights of fit fp32 and the hand loop differ by {gap:.2g}"
    if gap:
        line += (f"; by {weight_gap(ours, fused_hand()):.2g} from the same loop with "
                 "Adam(fused=True)")
    return line


def section(title: str, results: dict[str, Result], reference: str, n_samples: int,
            flops: float, peak: float, quality: Callable[[Any], float], quality_name: str,
            foreign: float) -> None:
    print(f"\n{title}")
    rows = [("variant", "s/fit median [min–max]", "samples/s", "GFLOP/s",
             f"of fp32 peak {peak:.0f}",
             f"ratio vs {reference}", "CPU-time ratio", quality_name)]
    ref = results[reference]
    for name, r in results.items():
        rate = n_samples / statistics.median(r.times)
        ratios = ("1 (reference)", "1") if name == reference else (
            str(ratio_summary(ref.times, r.times)), str(ratio_summary(ref.cpu, r.cpu)))
        rows.append((name, median_spread(r.times, ".3f"), f"{rate:,.0f}",
                     f"{rate * flops / 1e9:.1f}", f"{rate * flops / 1e9 / peak:.0%}", *ratios,
                     f"{quality(r.model):.5f}"))
    print(format_table(rows))
    print(f"other processes used {foreign:.0%} of the CPUs meanwhile")


def ae_section(X: Tensor, X_test: np.ndarray, batch_size: int, args: argparse.Namespace,
               peak: float) -> None:
    X_np = X.numpy()
    fns: dict[str, Callable[[], Any]] = {
        "hand loop fp32": lambda: hand_ae(X, batch_size, args.epochs, device=args.device),
        "AutoEncoder.fit fp32": lambda: our_ae(batch_size, args.epochs,
                                               device=args.device).fit(X_np),
    }
    bf16 = has_precision()
    if bf16:
        fns["AutoEncoder.fit bf16-mixed"] = lambda: our_ae(
            batch_size, args.epochs, "bf16-mixed", args.device).fit(X_np)
        fns["hand loop bf16 autocast"] = lambda: hand_ae(X, batch_size, args.epochs, bf16=True,
                                                         device=args.device)
    # The target: fit >= 1.0x the loop a careful user writes, with torch's fused Adam.
    fns["hand loop fp32, Adam(fused=True)"] = lambda: hand_ae(
        X, batch_size, args.epochs, fused=True, device=args.device)
    with ForeignLoad() as load, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = timed_variants(fns, args.repeats)
    n = X.shape[0] * args.epochs
    section(f"AE 784-300-150-300-784 ELU, MSE, Adam 1e-3, batch {batch_size}, {args.epochs} "
            f"epoch(s) of {X.shape[0]:,} rows per fit", results, "hand loop fp32", n,
            train_flops(AE_SIZES), peak, lambda m: test_mse(m, X_test), "test MSE",
            load.share)
    for w in {str(w.message) for w in caught}:
        print(f"warning: {w}")
    fused = ratio_summary(results["hand loop fp32, Adam(fused=True)"].times,
                          results["AutoEncoder.fit fp32"].times)
    print(f"fit fp32: {fused} x the fused-Adam hand loop (target >= 1.0: "
          f"{'met' if fused.median >= 1.0 else 'NOT met'})")
    print(same_computation(results["AutoEncoder.fit fp32"].model,
                           results["hand loop fp32"].model,
                           lambda: hand_ae(X, batch_size, args.epochs, fused=True,
                                           device=args.device)))
    if not bf16:
        print("bf16-mixed: not available yet (AutoEncoder has no 'precision' parameter)")
        return
    mse32, mse16 = (test_mse(results[k].model, X_test) for k in
                    ("AutoEncoder.fit fp32", "AutoEncoder.fit bf16-mixed"))
    speed = ratio_summary(results["hand loop fp32"].times,
                          results["AutoEncoder.fit bf16-mixed"].times)
    gap = mse16 / mse32 - 1
    print(f"bf16-mixed: {speed} x the fp32 hand loop (target >= 1.25: "
          f"{'met' if speed.median >= 1.25 else 'NOT met'}); test MSE {gap:+.2%} vs fit fp32 "
          f"(target within 1%: {'met' if abs(gap) <= 0.01 else 'NOT met'})")


def vae_section(X: Tensor, X_test: np.ndarray, batch_size: int, args: argparse.Namespace,
                peak: float) -> None:
    X_np = X.numpy()
    fns: dict[str, Callable[[], Any]] = {
        "hand loop fp32": lambda: hand_vae(X, batch_size, args.epochs, args.device),
        "AutoEncoder.fit fp32": lambda: our_vae(batch_size, args.epochs,
                                                args.device).fit(X_np),
    }
    with ForeignLoad() as load:
        results = timed_variants(fns, args.repeats)
    section(f"VAE 784-512-256-16 ReLU, BCE + KL, Adam 1e-3, batch {batch_size}, "
            f"{args.epochs} epoch(s) per fit", results, "hand loop fp32",
            X.shape[0] * args.epochs, vae_flops(), peak, lambda m: test_bce(m, X_test),
            "test BCE nats", load.share)
    print(same_computation(results["AutoEncoder.fit fp32"].model,
                           results["hand loop fp32"].model,
                           lambda: hand_vae(X, batch_size, args.epochs, args.device, fused=True)))


def transform_section(X: Tensor, args: argparse.Namespace) -> None:
    ae = our_ae(256, 1, device=args.device).fit(X[:2_000].numpy())
    encoder = ae.module_.encoder
    X_np = X.numpy()
    device = torch.device(args.device)

    def raw() -> None:
        with torch.inference_mode():
            encoder(torch.from_numpy(X_np).to(device)).cpu().numpy()

    def raw_chunks() -> None:
        with torch.inference_mode():
            out = torch.empty(len(X_np), 150)
            for start in range(0, len(X_np), 4096):
                x = torch.from_numpy(X_np[start:start + 4096]).to(device)
                out[start:start + 4096] = encoder(x).cpu()
            out.numpy()

    X64 = X_np.astype(np.float64)
    fns = {"encoder(x) under inference_mode, one batch": raw,
           "encoder(x) under inference_mode, 4096-row batches": raw_chunks,
           "AutoEncoder.transform (numpy in and out)": lambda: ae.transform(X_np),
           "AutoEncoder.transform, float64 in and out": lambda: ae.transform(X64)}
    repeats = max(3 * args.repeats, 5)
    with ForeignLoad() as load:
        results = timed_variants(fns, repeats)
    ref = results[next(iter(fns))]
    rows = [("variant", "ms median [min–max]", "samples/s", "ratio vs one batch",
             "CPU-time ratio")]
    for name, r in results.items():
        ratios = ("1 (reference)", "1") if r is ref else (
            str(ratio_summary(ref.times, r.times)), str(ratio_summary(ref.cpu, r.cpu)))
        rows.append((name, median_spread([t * 1e3 for t in r.times]),
                     f"{len(X_np) / statistics.median(r.times):,.0f}", *ratios))
    print(f"\ntransform of {len(X_np):,} rows (784 -> 150), {repeats} alternated rounds")
    print(format_table(rows))
    f64 = ratio_summary(results["AutoEncoder.transform (numpy in and out)"].times,
                        results["AutoEncoder.transform, float64 in and out"].times)
    print(f"transform float64 input: {f64} x its float32 speed (target >= 0.9: "
          f"{'met' if f64.median >= 0.9 else 'NOT met'})")
    print(f"other processes used {load.share:.0%} of the CPUs meanwhile")


MEMORY_CHILD = """
import resource, sys, numpy as np, torch
torch.set_num_threads(1)
from codings import AutoEncoder
X = np.load(sys.argv[1])["x_train"].reshape(60000, -1).astype(np.float32) / 255
X = np.ascontiguousarray(X[: int(sys.argv[2])])
def private_kib():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
AutoEncoder(hidden_layer_sizes=(300,), n_components=150, max_iter=1).fit(X[:512])  # warm-up
import gc, threading, time
gc.collect()
before, peak, done = private_kib(), [0], []
def sample():
    while not done:
        peak[0] = max(peak[0], private_kib()); time.sleep(0.002)
thread = threading.Thread(target=sample); thread.start()
AutoEncoder(hidden_layer_sizes=(300,), n_components=150, max_iter=1, batch_size=256,
            random_state=0).fit(X)
done.append(1); thread.join()
print((peak[0] - before) / (X.nbytes / 1024))
"""


def memory_section(path: str, rows: int) -> None:
    """fit's private memory beyond the data, as a share of the data's size (target < 0.1x).

    Runs in a child process (fresh allocator, nothing else held); private memory (RssAnon) is
    sampled every 2 ms during one epoch of the 784-300-150 AE on float32 rows.
    """
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, path, str(rows)],
                         capture_output=True, text=True, check=True).stdout.split()[-1]
    share = float(out)
    print(f"\nfit memory: peak private memory beyond the data = {share:.3f} x the data's size "
          f"({rows:,} float32 rows of 784; target < 0.1: {'met' if share < 0.1 else 'NOT met'})")


def profile_fit(X: Tensor, batch_size: int, epochs: int) -> None:
    """cProfile of one fit and one hand loop: where our extra time goes."""
    X_np = X.numpy()
    our_ae(batch_size, 1).fit(X_np[:2_000])  # imports and first-call costs, not profiled
    hand_ae(X[:2_000], batch_size, 1)
    for name, fn in (("AutoEncoder.fit", lambda: our_ae(batch_size, epochs).fit(X_np)),
                     ("hand loop", lambda: hand_ae(X, batch_size, epochs))):
        profiler = cProfile.Profile()
        profiler.runcall(fn)
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
        lines = [line for line in stream.getvalue().splitlines() if line.strip()]
        print(f"\ncProfile of {name} (batch {batch_size}, {epochs} epoch(s)): "
              f"{lines[0].split(' in ')[-1]}, by own time:")
        print("\n".join(lines[3:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", help="path to mnist.npz (Keras layout)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per fit (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="'cpu' (default) or 'cuda'")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS:,} training rows, 3 rounds, batch 256 only")
    parser.add_argument("--batch-sizes", default=None,
                        help="comma-separated batch sizes (default: 128,256; quick: 256)")
    parser.add_argument("--sections", default="ae,vae,transform,memory",
                        help="comma-separated subset of ae,vae,transform,memory")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of one fit and one hand loop, then stop")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    train, X_test = load_mnist(args.mnist, args.quick)
    X = torch.from_numpy(train)
    print(*machine_description(), sep="\n")
    if args.profile:
        profile_fit(X, 256, args.epochs)
        return
    peak = matmul_peak_gflops(device=args.device)
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else f"CPU, torch threads: {torch.get_num_threads()}")
    print(f"device: {where}; fp32 peak (2048² torch.mm, best of 5): {peak:.0f} GFLOP/s "
          "(measured again before each section; the tables use the best so far)")
    print(f"mode: {'QUICK' if args.quick else 'FULL'}; {X.shape[0]:,} training rows, "
          f"{len(X_test):,} test rows; {args.repeats} timed rounds after 1 warm-up round, "
          "variants alternated")
    print(f"FLOPs per training sample: AE {train_flops(AE_SIZES) / 1e6:.2f} M, "
          f"VAE {vae_flops() / 1e6:.2f} M (matmuls, forward + backward)")
    sections = set(args.sections.split(","))
    batch_sizes = (256,) if args.quick else (128, 256)
    if args.batch_sizes:
        batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    if "ae" in sections:
        for batch_size in batch_sizes:
            peak = max(peak, matmul_peak_gflops(device=args.device))
            ae_section(X, X_test, batch_size, args, peak)
    if "vae" in sections:
        for batch_size in batch_sizes:
            peak = max(peak, matmul_peak_gflops(device=args.device))
            vae_section(X, X_test, batch_size, args, peak)
    if "transform" in sections:
        transform_section(X, args)
    if "memory" in sections:
        memory_section(args.mnist, X.shape[0])


if __name__ == "__main__":
    main()

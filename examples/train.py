"""Train an autoencoder with several processes: the script the README's torchrun lines run.

    torchrun --standalone --nproc_per_node=4 examples/train.py --data digits -o model.safetensors
    torchrun --standalone --nproc_per_node=2 examples/train.py --data X.npy --device cuda

Every process runs this same file. Each reads the whole data set (scaling is then fitted on
the same rows everywhere) and ``AutoEncoder.fit`` does the rest: under torchrun it wraps the
network in DistributedDataParallel, gives each rank its share of every global batch of
``batch_size x processes`` rows, and sums the loss terms across ranks. ``random_state`` must
be an int so that every rank draws the same permutation. Only rank 0 writes the model file.
Without torchrun the same command trains in one process.
"""

from __future__ import annotations

import argparse

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import codings
from codings import AutoEncoder
from codings.datasets import load_digits, load_file
from codings.training.distributed import is_main_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", help="'digits' or a .npy/.npz/.csv file")
    parser.add_argument("-o", "--output", default="model.safetensors")
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--hidden-layer-sizes", default="128",
                        help="comma-separated widths, e.g. 300,150")
    parser.add_argument("--max-iter", type=int, default=20, help="epochs")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per process per step")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (one GPU per process)")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()

    X = load_digits().data if args.data == "digits" else load_file(args.data).data
    hidden = tuple(int(width) for width in args.hidden_layer_sizes.split(",") if width)
    model = make_pipeline(StandardScaler(), AutoEncoder(
        n_components=args.n_components, hidden_layer_sizes=hidden, max_iter=args.max_iter,
        batch_size=args.batch_size, device=args.device, random_state=args.random_state))
    model.fit(X)
    if is_main_process():  # the other ranks hold the same weights
        codings.save(model, args.output)
        print(f"Saved {args.output}: final loss {model[-1].loss_curve_[-1]:.4g} after "
              f"{model[-1].n_iter_} epochs")


if __name__ == "__main__":
    main()

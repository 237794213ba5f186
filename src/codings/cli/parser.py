"""The argument parser: subcommands, estimator flags generated from one table, examples.

This module imports only the standard library, so ``codings --help`` does not load torch.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from codings._params import parse_batch_size, parse_shape, parse_sizes
from codings.cli.flags import (
    DATA_HELP,
    add_command,
    add_output_flags,
    add_parameter_flags,
    add_scale_flag,
    parameter_kwargs,
)
from codings.cli.subcommands import add_commands

__all__ = ["parse_batch_size", "parse_shape", "parse_sizes"]



class UsageError(Exception):
    """A command line that argparse rejected; ``main`` prints it on one line, exit code 2."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse, raising instead of printing the usage block and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def estimator_flags() -> tuple[Any, ...]:
    """The AutoEncoder parameters that are flags, from the one parameter table."""
    from codings._params import cli_params

    return cli_params()


def _add_estimator_flags(parser: argparse.ArgumentParser) -> None:
    add_parameter_flags(parser, estimator_flags(), "estimator",
                        "AutoEncoder parameters (see help(codings.AutoEncoder)); unset flags "
                        "keep the estimator's defaults")


def estimator_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator parameters given on the command line (unset flags are absent)."""
    return parameter_kwargs(args, estimator_flags())


FIT_EXAMPLES = """\
examples:
  codings fit --max-iter 50
      digits (8x8 images), 2-D codings, 50 epochs; writes runs/digits-<time>/
  codings fit --data faces --architecture conv --hidden-layer-sizes 16,32 --n-components 16 \\
      --loss bce --constraint variational --name faces-vae
  codings fit --data train.npz --key x_train --scale minmax --output-activation sigmoid \\
      --constraint denoising:std=0.2 --early-stopping
  codings fit --data images/ --n-components 8         a folder of PNG/JPEG images
  codings fit --config run.toml                        the same keys as the flags
  codings fit --resume runs/digits-20240101-120000     continue an interrupted run

A config file holds the flags' names in snake_case, e.g.
  data = "digits"
  n_components = 8
  hidden_layer_sizes = [64, 32]
  constraints = ["variational:beta=4"]
Flags given on the command line win over the file.

The run folder holds model.safetensors, report.html (open it in a browser), history.csv/.json,
params.json, loss.png, reconstructions.png, codings.png and checkpoints/. Ctrl-C keeps the
newest checkpoint; 'codings fit --resume RUN_DIR' continues from it.
"""

APPLY_EXAMPLES = {
    "encode": """\
example:
  codings encode runs/digits-20240101-120000/model.safetensors data.npy -o codings.csv --header
""",
    "reconstruct": """\
example:
  codings reconstruct runs/digits-20240101-120000/model.safetensors data.csv -o rec.npy

Inputs are scaled as during fit and outputs are returned to the original scale. A model
fitted on named columns finds them by name in DATA; a .csv output has a header row of
their names (--no-header leaves it out). For 8-bit images, a .npy output is uint8 in the
images' shape, (n, height, width) or (n, 3, height, width); values are clipped to [0, 255].
""",
    "decode": """\
example:
  codings decode runs/digits-20240101-120000/model.safetensors codings.npy -o decoded.csv
""",
}


def _add_fit(commands: Any) -> None:
    fit = add_command(
        commands, "fit", "train an autoencoder and write a run folder",
        "Train an AutoEncoder on an embedded data set or a file, then save the\n"
        "model, its history, figures and an HTML report in a new run folder.", FIT_EXAMPLES)
    # Defaults of these options are applied after --config is read (see cli/config.py), so
    # that a value in the file is not mistaken for one given on the command line.
    fit.add_argument("--data", metavar="{digits,demo-3d,faces,PATH}",
                     help="an embedded data set, a .npy, .npz, .csv or .parquet file, or a "
                          "folder of PNG/JPEG images (default: digits)")
    fit.add_argument("--key", help="array name inside a .npz file")
    fit.add_argument("--columns", metavar="NAMES",
                     help="train on these columns of a .csv or .parquet file, e.g. "
                          "age,income (default: all); the model remembers them and finds "
                          "them by name in the files given to encode, reconstruct and score")
    fit.add_argument("--drop", metavar="NAMES", help="leave these columns out")
    fit.add_argument("--id", metavar="COLUMN",
                     help="a column that identifies rows, never trained on (any text)")
    fit.add_argument("--grey", action="store_true", default=None,
                     help="convert a folder of colour images to grey (default: colour "
                          "images keep their 3 channels)")
    add_scale_flag(fit, "input scaling, stored in the model: auto = uint8 to [0, 1], "
                        "anything else standardised (demo-3d is already) (default: auto)")
    fit.add_argument("--name", help="run folder name (default: <data>-<YYYYmmdd-HHMMSS>)")
    fit.add_argument("--runs-dir", help="parent of run folders (default: runs)")
    fit.add_argument("--config", metavar="FILE.toml",
                     help="read options from a TOML file (keys: the flags in snake_case, and "
                          "constraints = [...]); flags given here win")
    _add_estimator_flags(fit)
    fit.add_argument("--constraint", action="append", default=[],
                     metavar="NAME[:KEY=VALUE,...]",
                     help="add a constraint, e.g. sparsity:kind=kl,target=0.1 (repeatable; "
                          "applied in order; replaces the config file's constraints)")
    fit.add_argument("--tensorboard", metavar="DIR",
                     help="also log every loss term, the learning rate and reconstruction "
                          "figures to DIR for TensorBoard (needs: pip install tensorboard)")
    fit.add_argument("-q", "--quiet", action="store_true", default=None,
                     help="no progress output")
    fit.add_argument("--contamination", type=float, metavar="FRACTION",
                     help="share of the training rows whose scores set the outlier threshold "
                          "stored in the model (used by codings score) (default: 0.1)")
    fit.add_argument("--window", type=int, metavar="STEPS",
                     help="DATA is one long series (a row per time step, a column per "
                          "channel): train on its windows of STEPS steps, and store the "
                          "per-time-step outlier threshold in the model (see codings score "
                          "--window)")


def _add_apply(commands: Any, name: str, help_text: str, data: str, data_help: str) -> None:
    command = add_command(commands, name, help_text, help_text[0].upper() + help_text[1:] + ".",
                          APPLY_EXAMPLES[name])
    command.add_argument("model", metavar="MODEL", help="a model file written by codings fit")
    command.add_argument("data", metavar=data, help=data_help)
    command.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file: .npy or .csv")
    command.add_argument("--key", help="array name inside a .npz input")
    add_output_flags(command)


def build_parser() -> Parser:
    """The ``codings`` parser with its subcommands."""
    from codings._version import __version__

    parser = Parser(prog="codings", description="Train and use autoencoders.",
                    epilog="Run 'codings COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"codings {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_fit(commands)
    _add_apply(commands, "encode", "write the codings of data", "DATA", "a " + DATA_HELP)
    _add_apply(commands, "reconstruct", "write the reconstructions of data", "DATA",
               "a " + DATA_HELP)
    _add_apply(commands, "decode", "decode codings back to the data space", "CODINGS",
               "codings in a .npy, .npz or .csv file")

    add_commands(commands)
    for command in commands.choices.values():  # every command that trains or applies one
        if not any("--jobs" in action.option_strings for action in command._actions):
            command.add_argument("--jobs", dest="n_jobs", type=int, metavar="N",
                                 help="threads for torch and BLAS (default: 1, or "
                                      "OMP_NUM_THREADS when set; -1: all cores)")
    return parser

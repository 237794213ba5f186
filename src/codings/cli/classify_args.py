"""Parsers of ``fit-classifier`` and ``predict``, with examples.

Standard library only, like :mod:`codings.cli.parser`, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from codings._params import CLASSIFIER_PARAMS, cli_params, parse_positive_int
from codings.cli.flags import DATA_HELP, add_command, add_parameter_flags, add_scale_flag

FIT_CLASSIFIER_EXAMPLES = """\
examples:
  codings fit-classifier --data digits --labels-per-class 10 --random-state 0
      the digits with 10 labels per class kept (the rest unlabelled); writes
      runs/digits-classifier-<time>/ (model.safetensors, report.html, history.csv)
  codings fit-classifier --data train.npz --labels y.npy --max-iter 30
      y.npy: one class number per row of train.npz, -1 for an unlabelled row
  codings fit-classifier --data table.csv --target species
      the labels are the column 'species' of table.csv (-1: unlabelled)

The network is a ladder network (Rasmus et al. 2015): it learns from every row, labelled or
not. --validation-fraction of the labelled rows are held out (trained on as unlabelled rows)
to measure the accuracy after each epoch; the report draws that curve.
"""

PREDICT_EXAMPLES = """\
example:
  codings predict runs/digits-classifier-20240101-120000/model.safetensors new.npy -o out.csv

One row per sample: label (the most probable class), then p_<class> for each class (the
probabilities, summing to 1).
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _add_fit_classifier(commands: Any) -> None:
    command = add_command(
        commands, "fit-classifier", "train a classifier from few labels and many unlabelled rows",
        "Train a ladder network on DATA, whose rows labelled -1 are unlabelled, and write the "
        "model and an HTML report in a new run folder.", FIT_CLASSIFIER_EXAMPLES)
    command.add_argument("--data", required=True, metavar="{digits,PATH}",
                         help="the embedded digits, or a " + DATA_HELP)
    command.add_argument("--key", help="array name inside a .npz file")
    labels = command.add_mutually_exclusive_group()
    labels.add_argument("--labels", metavar="FILE",
                        help="a .npy or .csv file with one class number per row of DATA, -1 "
                             "for unlabelled rows (default: the labels DATA carries, such "
                             "as the digits' or a .npz's y array)")
    labels.add_argument("--target", metavar="COLUMN",
                        help="the labels are this column of a .csv or .parquet DATA ("
                             "-1: unlabelled); the other columns are features")
    command.add_argument("--labels-per-class", type=parse_positive_int, metavar="N",
                         help="keep N labels per class (drawn with --random-state), mark the "
                              "rest -1")
    command.add_argument("--validation-fraction", type=_fraction, default=0.1,
                         metavar="FRACTION",
                         help="share of the labelled rows held out to measure the accuracy "
                              "per epoch, in [0, 1) (default: 0.1)")
    add_scale_flag(command, "input scaling, stored in the model: auto = integer pixels "
                            "divided by their maximum, data in [0, 1] kept, anything else "
                            "min-max scaled to [0, 1] (default: auto)", default="auto")
    command.add_argument("--name", help="run folder name (default: <data>-classifier-<time>)")
    command.add_argument("--runs-dir", default="runs",
                         help="parent of run folders (default: runs)")
    command.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_parameter_flags(command, cli_params(CLASSIFIER_PARAMS), "classifier",
                        "EncoderClassifier parameters (see help(codings.EncoderClassifier)); "
                        "unset flags keep the estimator's defaults")


def _add_predict(commands: Any) -> None:
    command = add_command(
        commands, "predict", "predict classes with a classifier",
        "Write the predicted class and the class probabilities of each row of DATA, with a "
        "model written by codings fit-classifier.", PREDICT_EXAMPLES)
    command.add_argument("model", metavar="MODEL",
                         help="a model file written by codings fit-classifier")
    command.add_argument("data", metavar="DATA", help="a " + DATA_HELP)
    command.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                         help="output .csv file: columns label,p_<class>...")
    command.add_argument("--key", help="array name inside a .npz input")


def add_classifier_commands(commands: Any) -> None:
    """Register ``fit-classifier`` and ``predict``."""
    _add_fit_classifier(commands)
    _add_predict(commands)

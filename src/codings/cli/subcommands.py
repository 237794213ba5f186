"""Parsers of ``generate``, ``score``, ``report``, ``export`` and ``tour``, with examples.

Standard library only, like :mod:`codings.cli.parser`, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from codings._params import parse_positive_int, parse_seed
from codings.cli.classify_args import add_classifier_commands
from codings.cli.flags import DATA_HELP, DATASETS, add_command, add_output_flags

# How long the tour takes, said once: --help reads these and a test holds the README and
# docs/cli.md to them. Measured with `time codings tour [--quick]` on one thread: 63 and 207
# CPU seconds, so on an idle 2-core machine about the same in wall time.
TOUR_QUICK_TIME = "about a minute"
TOUR_FULL_TIME = "about 4 minutes"

EXAMPLES = {
    "generate": """\
example:
  codings fit --constraint variational --loss bce --scale minmax --name vae
  codings generate runs/vae/model.safetensors -n 64 -o samples.npy --random-state 0
      writes samples.npy (in the data's own scale) and samples.png, a grid of the images

Only variational models generate (fit them with --constraint variational).
""",
    "score": """\
example:
  codings score runs/digits-20240101-120000/model.safetensors new.npy -o scores.csv

One row per sample: score (higher is more typical: minus the reconstruction error, or the
ELBO of a variational model) and outlier (1 for the --contamination share of DATA with the
lowest scores, else 0).
""",
    "report": """\
example:
  codings report runs/digits-20240101-120000
      rebuilds runs/digits-20240101-120000/report.html from the model, history and params
""",
    "export": """\
example:
  codings export runs/digits-20240101-120000/model.safetensors --format onnx -o onnx/
      writes the encoder and the decoder as ONNX files in onnx/
""",
    "tour": f"""\
examples:
  codings tour --quick              {TOUR_QUICK_TIME} on 2 idle cores; writes tour/tour.html
  codings tour -o docs/tour         the full story, {TOUR_FULL_TIME}
  codings tour --data mnist.npz     the digits steps on your own images (e.g. MNIST)
""",
}


def _parser(commands: Any, name: str, help_text: str, description: str) -> Any:
    return add_command(commands, name, help_text, description, EXAMPLES[name])


def _positive_int(text: str) -> int:
    return parse_positive_int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 0.5 + 1e-12:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {text!r}")
    return value


def _add_generate(commands: Any) -> None:
    command = _parser(commands, "generate", "generate new samples with a variational model",
                      "Decode draws from the prior N(0, I) of a variational model: new data "
                      "like its training data, in the data's own scale.")
    command.add_argument("model", metavar="MODEL", help="a model file written by codings fit")
    command.add_argument("-n", "--n-samples", type=_positive_int, default=16, metavar="N",
                         help="number of samples (default: 16)")
    command.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file: .npy or .csv (a .png grid is written beside it "
                              "when the model knows its image shape)")
    command.add_argument("--random-state", type=parse_seed, metavar="INT",
                         help="seed, for reproducible samples")


def _add_score(commands: Any) -> None:
    command = _parser(commands, "score", "score samples and flag outliers",
                      "Score each row of DATA with a fitted model and flag the least typical "
                      "ones as outliers.")
    command.add_argument("model", metavar="MODEL", help="a model file written by codings fit")
    command.add_argument("data", metavar="DATA", help="a " + DATA_HELP)
    command.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file: .csv (columns score,outlier) or .npy")
    command.add_argument("--key", help="array name inside a .npz input")
    add_output_flags(command)
    command.add_argument("--contamination", type=_fraction, default=None, metavar="FRACTION",
                         help="flag this share of DATA's rows, in (0, 0.5], instead of using "
                              "the threshold stored in the model (set by codings fit from "
                              "its training rows)")
    command.add_argument("--window", type=_positive_int, metavar="STEPS",
                         help="DATA is one series (a row per time step, a column per "
                              "channel): score each time step from the windows of STEPS "
                              "steps covering it, one output row per step; the threshold is "
                              "the model's own when it was fitted with --window")


def _add_report(commands: Any) -> None:
    command = _parser(commands, "report", "rebuild the HTML report of a run folder",
                      "Rebuild RUN_DIR/report.html from the run folder's model, history and "
                      "parameters (the data is reloaded from where params.json says).")
    command.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by codings fit")


def _add_export(commands: Any) -> None:
    command = _parser(commands, "export", "export a model to another format",
                      "Export a fitted model's encoder and decoder, for use without codings.")
    command.add_argument("model", metavar="MODEL", help="a model file written by codings fit")
    command.add_argument("--format", choices=("onnx",), default="onnx",
                         help="output format (default: onnx)")
    command.add_argument("-o", "--output", required=True, metavar="DIR",
                         help="folder for the exported files (created if missing)")


def _add_tour(commands: Any) -> None:
    command = _parser(commands, "tour", "a guided tour of autoencoders, as one HTML page",
                      "Train the family of autoencoders on the embedded data (digits, faces, "
                      "the 3-D demo) and write one HTML page with an explanation and a figure "
                      "per step.")
    command.add_argument("--quick", action="store_true",
                         help=f"fewer epochs and samples: {TOUR_QUICK_TIME} on 2 idle cores "
                              f"(the full tour: {TOUR_FULL_TIME})")
    command.add_argument("--data", metavar="PATH",
                         help="use these images instead of the embedded digits: a "
                              + DATA_HELP + f" (not {', '.join(DATASETS)})")
    command.add_argument("--key", help="array name inside a .npz file (default: x_train)")
    command.add_argument("-o", "--output", default="tour", metavar="DIR",
                         help="folder for tour.html (default: tour)")
    command.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def add_commands(commands: Any) -> None:
    """Register the commands beyond fit / encode / reconstruct / decode."""
    _add_generate(commands)
    _add_score(commands)
    _add_report(commands)
    _add_export(commands)
    _add_tour(commands)
    add_classifier_commands(commands)

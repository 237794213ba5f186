"""What every ``codings`` subcommand shares: the data help text, the scalings, the
subcommand factory and the output flags (kept apart so the parser and the subcommands'
modules both import it, and neither imports the other back)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

DATASETS = ("digits", "demo-3d", "faces")
DATA_HELP = ".npy, .npz, .csv or .parquet file, or a folder of PNG/JPEG images"
SCALES = ("auto", "standard", "minmax", "none")


def add_command(commands: Any, name: str, help_text: str, description: str,
                epilog: str) -> Any:
    """A subcommand whose examples (``epilog``) keep their line breaks."""
    return commands.add_parser(name, help=help_text, description=description, epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def add_output_flags(command: Any) -> None:
    """``--id`` and ``--header/--no-header``: what a command that writes rows adds to them."""
    command.add_argument("--id", metavar="COLUMN",
                         help="a column of DATA kept aside (never fed to the model) and "
                              "written first in each row of a .csv output")
    command.add_argument("--header", action=argparse.BooleanOptionalAction, default=True,
                         help="write a header row of column names in a .csv output "
                              "(default: on; --no-header leaves it out)")


def _default_text(flag: Any) -> str:
    if flag.default_text is not None:
        return flag.default_text
    if flag.default is None:
        return "none"
    if isinstance(flag.default, bool):
        return "on" if flag.default else "off"
    if isinstance(flag.default, tuple):
        return ",".join(str(size) for size in flag.default)
    return str(flag.default)


def _metavar(flag: Any) -> str:
    if flag.spec.choices:
        return "{" + ",".join(flag.spec.choices) + "}"
    names = {"int": "INT", "float": "FLOAT", "str": "NAME", "parse_sizes": "SIZES",
             "parse_shape": "SHAPE", "parse_batch_size": "INT|full",
             "parse_seed": "INT"}  # by parser name
    return names.get(getattr(flag.cli, "__name__", ""), "VALUE")


def add_parameter_flags(parser: argparse.ArgumentParser, flags: Sequence[Any], title: str,
                        description: str) -> None:
    """One flag per parameter of an estimator's table (see :mod:`codings._params`), with its
    older spellings as aliases; an unset flag is absent from the parsed namespace, so the
    estimator keeps its default."""
    group = parser.add_argument_group(title, description)
    for flag in flags:
        help_text = f"{flag.help} (default: {_default_text(flag)})"
        options = [flag.option, *flag.aliases]
        if flag.name == "resume":  # a switch that may also name the run folder to resume
            group.add_argument(flag.option, dest=flag.name, nargs="?", const=True,
                               metavar="RUN_DIR", default=argparse.SUPPRESS, help=help_text)
            continue
        if flag.cli is None:
            group.add_argument(*options, dest=flag.name, default=argparse.SUPPRESS,
                               action=argparse.BooleanOptionalAction, help=help_text)
            continue
        parse = _word(flag.spec.choices) if flag.spec.choices and flag.cli is str else flag.cli
        group.add_argument(*options, dest=flag.name, type=parse, metavar=_metavar(flag),
                           default=argparse.SUPPRESS, help=help_text)


def _word(choices: Sequence[str]) -> Any:
    """A choice flag's parser: any case of a known word (``--activation Relu``) is that
    word; anything else is left for the estimator to refuse with its "did you mean"."""
    known = {choice.lower(): choice for choice in choices}

    def parse(text: str) -> str:
        return known.get(text.lower(), text)

    return parse


def parameter_kwargs(args: argparse.Namespace, flags: Sequence[Any]) -> dict[str, Any]:
    """The parameters given on the command line (unset flags are absent)."""
    return {flag.name: getattr(args, flag.name) for flag in flags if hasattr(args, flag.name)}


def add_scale_flag(command: Any, help_text: str, default: str | None = None) -> None:
    """``--scale``: how the command fits the input scaling stored in the model."""
    command.add_argument("--scale", choices=SCALES, default=default, help=help_text)


# The options of codings fit that take one of a few words (checked in a --config file too).
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"scale": SCALES}

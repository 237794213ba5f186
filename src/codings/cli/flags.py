"""What every ``codings`` subcommand shares: the data help text, the scalings, the
subcommand factory and the output flags (kept apart so the parser and the subcommands'
modules both import it, and neither imports the other back)."""

from __future__ import annotations

import argparse
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

"""The ``codings`` command line: ``fit``, ``encode``, ``reconstruct``, ``decode``,
``generate``, ``score``, ``report``, ``export``, ``tour``, ``fit-classifier`` and ``predict``.

Exit codes: 0 success, 1 training failed (the loss diverged with ``--on-nonfinite raise``),
2 bad input (a usage error, a missing or unreadable file, an invalid parameter), each with a
one-line ``codings: error:`` message on stderr and no traceback; 130 after Ctrl-C. Commands
import torch, scikit-learn and matplotlib only when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from codings.cli.parser import UsageError, build_parser
from codings.exceptions import CodingsError, TrainingDivergedError

__all__ = ["main"]

# command -> (module under codings.cli, function); imported on demand.
_COMMANDS = {"fit": ("fit", "fit"), "encode": ("apply", "encode"),
             "reconstruct": ("apply", "reconstruct"), "decode": ("apply", "decode"),
             "generate": ("generate", "generate"), "score": ("score", "score"),
             "report": ("report", "report"), "export": ("export", "export"),
             "tour": ("tour", "tour"), "fit-classifier": ("classify", "fit_classifier"),
             "predict": ("classify", "predict")}


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _fail(message: object, code: int) -> int:
    print(f"codings: error: {_one_line(message)}", file=sys.stderr)
    return code


@contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Show warnings as ``codings: warning: ...`` instead of file:line and source code."""

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        print(f"codings: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        # The commands find a model's columns by name in the file, then pass arrays in the
        # model's order: scikit-learn's "X does not have valid feature names" does not apply.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def _run(command: str, args: Any) -> int:
    module_name, function = _COMMANDS[command]
    if command == "fit" and isinstance(getattr(args, "resume", None), str):
        module_name, function = "resume", "resume"  # fit --resume RUN_DIR
    module = importlib.import_module(f"codings.cli.{module_name}")
    from codings._threads import limit_threads

    with _one_line_warnings(), limit_threads(getattr(args, "n_jobs", None)):
        return int(getattr(module, function)(args))


def _suggest_flag(parser: Any, argv: list[str]) -> str:
    """"Did you mean '--n-components'?" for the first unknown ``--flag`` of a subcommand."""
    from codings.exceptions import did_you_mean

    subparsers = next((a for a in parser._actions if hasattr(a, "choices")
                       and isinstance(a.choices, dict)), None)
    if subparsers is None or not argv:
        return ""
    if argv[0] not in subparsers.choices:  # a mistyped command: "codings encod"
        return "" if argv[0].startswith("-") else did_you_mean(argv[0], subparsers.choices)
    known = [flag.removeprefix("--") for action in subparsers.choices[argv[0]]._actions
             for flag in action.option_strings if flag.startswith("--")]
    for token in argv[1:]:
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag[2:] not in known:
            # Compare without the dashes, which every flag shares.
            hint = did_you_mean(flag[2:], known)
            return hint.replace("Did you mean '", "Did you mean '--").rstrip()
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (``sys.argv[1:]`` when ``argv`` is None)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        # Unknown options are reported by the top parser: point at the subcommand's help.
        prog = f"codings {argv[0]}" if exc.prog == "codings" and argv[:1] and \
            argv[0] in _COMMANDS else exc.prog
        message = str(exc).rstrip(".")
        return _fail(f"{message}.{_suggest_flag(parser, argv)} See '{prog} --help'.", 2)
    except SystemExit as exc:  # --help and --version print, then exit 0
        return exc.code if isinstance(exc.code, int) else 0
    args.argv = argv
    try:
        return _run(args.command, args)
    except TrainingDivergedError as exc:
        return _fail(exc, 1)
    except CodingsError as exc:
        return _fail(exc, 2)
    except OSError as exc:  # unwritable output, a full disk, a permission problem
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 2)
    except KeyboardInterrupt as exc:  # fit says how to resume from its newest checkpoint
        print(f"codings: {_one_line(exc) or 'interrupted'}", file=sys.stderr)
        return 130

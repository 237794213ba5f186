"""``codings fit --config run.toml``: the flags' names in snake_case, read from a TOML file.

Example::

    data = "digits"
    n_components = 8
    hidden_layer_sizes = [64, 32]
    batch_size = "full"
    constraints = ["variational:beta=4", {name = "denoising", std = 0.2}]

A flag given on the command line wins over the file; ``--constraint`` replaces the file's
``constraints``. An unknown key is an error with a "did you mean".
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codings._params import Param
from codings.cli.flags import OPTION_CHOICES
from codings.cli.parser import estimator_flags
from codings.constraints import Constraint, constraint_from_dict, parse_constraint
from codings.exceptions import InvalidInputError, did_you_mean

# fit's own options (not estimator parameters) and the defaults applied after the file is read.
FIT_DEFAULTS: dict[str, Any] = {"data": "digits", "key": None, "scale": "auto", "name": None,
                                "tensorboard": None,
                                "runs_dir": "runs", "quiet": False, "columns": None,
                                "drop": None, "id": None, "grey": False}
_SWITCHES = ("quiet", "grey")
_NAME_LISTS = ("columns", "drop")  # a list of names, or one string of comma-separated ones
_FLAGS = {flag.name: flag for flag in estimator_flags() if flag.name != "resume"}
CONFIG_KEYS = (*FIT_DEFAULTS, *_FLAGS, "constraints")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise InvalidInputError("Reading a --config file needs Python 3.11 or the tomli "
                                    "package: pip install tomli.") from None
    if not path.is_file():
        raise InvalidInputError(f"Config file not found: {path}")
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read {path} as TOML: {exc}") from exc


def _flag_value(path: Path, flag: Param, value: Any) -> Any:
    """A TOML value in the form the flag's parser gives (lists of sizes become tuples)."""
    where = f"{path}: {flag.name}"
    if flag.cli is None:
        if not isinstance(value, bool):
            raise InvalidInputError(f"{where} must be true or false, got {value!r}.")
        return value
    if isinstance(value, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise InvalidInputError(f"{where} must be a list of ints, got {value!r}.")
        value = ",".join(str(v) for v in value)
    if isinstance(value, str) and callable(flag.cli) and flag.cli is not str:
        try:
            return flag.cli(value)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise InvalidInputError(f"{where}: {exc}") from None
    if isinstance(value, dict):
        raise InvalidInputError(f"{where} must be a value, not a table.")
    return value


def _option_value(path: Path, key: str, value: Any) -> Any:
    if key in _NAME_LISTS and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    expected = bool if key in _SWITCHES else str
    if not isinstance(value, expected):
        kind = "true or false" if expected is bool else "a string"
        raise InvalidInputError(f"{path}: {key} must be {kind}, got {value!r}.")
    choices = OPTION_CHOICES.get(key)
    if choices and isinstance(value, str) and value not in choices:
        raise InvalidInputError(f"{path}: {key} must be one of {', '.join(choices)}, got "
                                f"{value!r}.{did_you_mean(value, choices)}")
    return value


def _constraints(path: Path, value: Any) -> list[Constraint]:
    if not isinstance(value, list):
        raise InvalidInputError(f"{path}: constraints must be a list such as "
                                f"[\"variational:beta=4\"], got {value!r}.")
    parsed = []
    for item in value:
        if isinstance(item, str):
            parsed.append(parse_constraint(item))
        elif isinstance(item, Mapping):
            parsed.append(constraint_from_dict(item))
        else:
            raise InvalidInputError(f"{path}: each constraint is a string such as "
                                    f"\"sparsity:target=0.1\" or a table; got {item!r}.")
    return parsed


def apply_config(args: argparse.Namespace) -> list[Constraint]:
    """Merge ``--config`` into ``args`` (the command line wins), fill fit's defaults and
    return the constraints to use."""
    constraints = [parse_constraint(text) for text in args.constraint]
    if args.config is not None:
        path = Path(args.config)
        document = read_toml(path)
        for key, value in document.items():
            if key not in CONFIG_KEYS:
                raise InvalidInputError(
                    f"Unknown key {key!r} in {path}.{did_you_mean(key, CONFIG_KEYS)} Keys are "
                    "the flags of 'codings fit' in snake_case, plus constraints.")
            if key == "constraints":
                if not args.constraint:  # --constraint replaces the file's list
                    constraints = _constraints(path, value)
            elif key in _FLAGS:
                if not hasattr(args, key):  # estimator flags are absent unless given
                    setattr(args, key, _flag_value(path, _FLAGS[key], value))
            elif getattr(args, key) is None:
                setattr(args, key, _option_value(path, key, value))
    for key, default in FIT_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    return constraints

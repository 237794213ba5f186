"""The library's own error types.

Every error a user can provoke with bad input is an :class:`InvalidInputError` or
:class:`ModelFileError`; both subclass :class:`ValueError` so scikit-learn code that expects
``ValueError`` keeps working, and the CLI turns them into a one-line message with exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CodingsError(Exception):
    """Base class of every error raised on purpose by ``codings``."""


class InvalidInputError(CodingsError, ValueError):
    """Input data or a hyperparameter that the library cannot use."""


class ModelFileError(CodingsError, ValueError):
    """A model or checkpoint file that is missing, truncated, corrupted or foreign."""


class TrainingDivergedError(CodingsError, RuntimeError):
    """The loss became NaN or infinite and training was asked to stop with an error."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    options = list(choices)
    by_lower = {str(option).lower(): option for option in options}
    # "Relu" means 'relu': compare without case, suggest the spelling that is accepted
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" Did you mean {by_lower[close[0]]!r}?" if close else ""

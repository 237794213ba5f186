"""Hyperparameter validation for AutoEncoder: scikit-learn's rule is to check in ``fit``.

The table of parameters lives in :mod:`codings._params` (shared with the CLI); this adds the
checks that need torch (modules, constraints).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from codings._params import AUTOENCODER_PARAMS, param_error, validate
from codings.constraints.base import Constraint, check_compatible

OWNER = "AutoEncoder"


def validate_params(est: Any) -> tuple[Constraint, ...]:
    """Check every hyperparameter of an AutoEncoder; return its constraints as a tuple."""
    validate(OWNER, {param.name: getattr(est, param.name) for param in AUTOENCODER_PARAMS})
    if (est.encoder is None) != (est.decoder is None) or not all(
            m is None or isinstance(m, nn.Module) for m in (est.encoder, est.decoder)):
        raise param_error(OWNER, "encoder", "given together with decoder, both torch "
                          "nn.Module instances", (est.encoder, est.decoder))
    return constraints_of(est.constraints)


def constraints_of(value: Any) -> tuple[Constraint, ...]:
    constraints = (value,) if isinstance(value, Constraint) else tuple(value or ())
    for constraint in constraints:
        if not isinstance(constraint, Constraint):
            raise param_error(OWNER, "constraints",
                              "a tuple of Constraint objects such as (Denoising(),)", value)
    check_compatible(constraints)
    return constraints

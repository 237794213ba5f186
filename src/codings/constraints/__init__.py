"""Constraints that make an autoencoder denoising, sparse, contractive, variational or tied."""

from codings.constraints.base import (
    Constraint,
    check_unique,
    constraint_class,
    constraint_from_dict,
    parse_constraint,
    registered_constraints,
)

__all__ = ["Constraint", "check_unique", "constraint_class", "constraint_from_dict",
           "parse_constraint", "registered_constraints"]

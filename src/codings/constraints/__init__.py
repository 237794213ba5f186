"""Constraints that make an autoencoder denoising, sparse, contractive, variational or tied."""

from codings.constraints.adversarial import Adversarial
from codings.constraints.base import (
    Constraint,
    check_compatible,
    constraint_class,
    constraint_from_dict,
    parse_constraint,
    registered_constraints,
)
from codings.constraints.coding_noise import CodingNoise
from codings.constraints.contractive import Contractive
from codings.constraints.denoising import Denoising
from codings.constraints.sparsity import Sparsity
from codings.constraints.tied import TiedWeights
from codings.constraints.variational import Variational
from codings.constraints.weight_decay import WeightDecay
from codings.constraints.winner_take_all import WinnerTakeAll

__all__ = ["Adversarial", "CodingNoise", "Constraint", "Contractive", "Denoising", "Sparsity",
           "TiedWeights", "Variational", "WeightDecay", "WinnerTakeAll", "check_compatible",
           "constraint_class", "constraint_from_dict", "parse_constraint",
           "registered_constraints"]

"""codings: autoencoders with a scikit-learn API, PyTorch modules underneath, and a CLI."""

from codings._version import __version__
from codings.constraints import (
    Constraint,
    Contractive,
    Denoising,
    Sparsity,
    TiedWeights,
    Variational,
    WeightDecay,
    WinnerTakeAll,
)
from codings.estimators import AutoEncoder, load
from codings.exceptions import CodingsError, InvalidInputError, ModelFileError

__all__ = ["AutoEncoder", "CodingsError", "Constraint", "Contractive", "Denoising",
           "InvalidInputError", "ModelFileError", "Sparsity", "TiedWeights", "Variational",
           "WeightDecay", "WinnerTakeAll", "__version__", "load"]

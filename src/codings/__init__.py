"""codings: autoencoders with a scikit-learn API, PyTorch modules underneath, and a CLI.

The public names load lazily (PEP 562), so ``codings --help`` does not pay for importing
torch; ``from codings import AutoEncoder`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codings._version import __version__

_EXPORTS = {
    "AutoEncoder": "codings.estimators",
    "AnomalyDetector": "codings.estimators",
    "EncoderClassifier": "codings.estimators",
    "Adversarial": "codings.constraints",
    "CodingNoise": "codings.constraints",
    "load": "codings.estimators",
    "save": "codings.estimators",
    "ScaledAutoEncoder": "codings.estimators.scaled",
    "Constraint": "codings.constraints",
    "Contractive": "codings.constraints",
    "Denoising": "codings.constraints",
    "Sparsity": "codings.constraints",
    "TiedWeights": "codings.constraints",
    "Variational": "codings.constraints",
    "WeightDecay": "codings.constraints",
    "WinnerTakeAll": "codings.constraints",
    "CodingsError": "codings.exceptions",
    "InvalidInputError": "codings.exceptions",
    "ModelFileError": "codings.exceptions",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from codings.constraints import (
        Adversarial,
        CodingNoise,
        Constraint,
        Contractive,
        Denoising,
        Sparsity,
        TiedWeights,
        Variational,
        WeightDecay,
        WinnerTakeAll,
    )
    from codings.estimators import AnomalyDetector, AutoEncoder, EncoderClassifier, load, save
    from codings.estimators.scaled import ScaledAutoEncoder
    from codings.exceptions import CodingsError, InvalidInputError, ModelFileError


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'codings' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

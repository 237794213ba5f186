"""scikit-learn estimators built on the torch modules."""

from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.persistence import load

__all__ = ["AutoEncoder", "load"]

"""scikit-learn estimators built on the torch modules."""

from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.classifier import EncoderClassifier
from codings.estimators.detector import AnomalyDetector
from codings.estimators.files import load, save
from codings.estimators.hashing import hash_buckets, hash_purity, semantic_hashes

__all__ = ["AnomalyDetector", "AutoEncoder", "EncoderClassifier", "hash_buckets", "hash_purity",
           "load", "save", "semantic_hashes"]

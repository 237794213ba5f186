"""scikit-learn estimators built on the torch modules."""

from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.classifier import EncoderClassifier
from codings.estimators.detector import AnomalyDetector
from codings.estimators.hashing import hash_buckets, hash_purity, semantic_hashes
from codings.estimators.persistence import load

__all__ = ["AnomalyDetector", "AutoEncoder", "EncoderClassifier", "hash_buckets", "hash_purity",
           "load", "semantic_hashes"]

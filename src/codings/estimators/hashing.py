"""Semantic hashing: binary codes from a sigmoid coding layer, and the items sharing a code.

Salakhutdinov & Hinton, "Semantic hashing", International Journal of Approximate Reasoning
50 (2009); Géron, Hands-On ML, ch. 15, exercise 10. An autoencoder with a small sigmoid
coding layer, trained with strong noise so the codings saturate near 0 or 1, gives each item a
binary code ``b_j = [z_j >= 0.5]``; read as an integer, the code is a hash under which similar
items collide, so looking up an item's bucket finds similar items in constant time::

    ae = AutoEncoder(n_components=16, coding_activation="sigmoid",
                     constraints=(Denoising(std=1.0),)).fit(X)
    buckets = hash_buckets(ae, X)            # {hash: row indices}

Bit ``j`` of the hash is coding unit ``j``, the first unit being the most significant bit, so
``format(h, f"0{n_components}b")`` prints the units in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from codings.constraints.variational import Variational
from codings.estimators.autoencoder import AutoEncoder
from codings.exceptions import InvalidInputError

_MAX_BITS = 63  # a non-negative int64


def _check_sigmoid_codings(autoencoder: Any) -> None:
    """The built-in architecture must end its encoder with a sigmoid (and not be variational)."""
    final = autoencoder.estimator if isinstance(autoencoder, FrozenEstimator) else autoencoder
    final = final[-1] if isinstance(final, Pipeline) else final
    if not isinstance(final, AutoEncoder) or final.encoder is not None:
        return  # a custom encoder: the range check on the codings decides
    coding = final.coding_activation or final.activation
    if any(isinstance(c, Variational) for c in final.constraints_):
        raise InvalidInputError(
            "semantic_hashes needs codings in [0, 1]; a Variational model's codings are "
            "unbounded Gaussian means. Drop Variational and use "
            "AutoEncoder(coding_activation='sigmoid', ...).")
    if coding != "sigmoid":
        raise InvalidInputError(
            f"semantic_hashes needs codings in [0, 1], from a sigmoid coding layer; this "
            f"autoencoder's coding activation is {coding!r}. Fit "
            "AutoEncoder(n_components=16, coding_activation='sigmoid', "
            "constraints=(Denoising(std=1.0),)) or similar.")


def semantic_hashes(autoencoder: Any, X: Any) -> np.ndarray:
    """Binary codes of ``X``: the codings rounded at 0.5, packed into one int per row.

    Parameters
    ----------
    autoencoder : AutoEncoder or Pipeline
        Fitted, with a sigmoid coding layer of at most 63 units (``transform`` must return
        values in [0, 1]).
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    hashes : ndarray of shape (n_samples,), int64
        ``sum_j [z_j >= 0.5] * 2 ** (n_components - 1 - j)``.
    """
    check_is_fitted(autoencoder)
    _check_sigmoid_codings(autoencoder)
    Z = np.asarray(autoencoder.transform(X))
    if Z.ndim != 2 or Z.shape[1] > _MAX_BITS:
        raise InvalidInputError(
            f"semantic_hashes packs the codings into 64-bit integers, so it takes at most "
            f"{_MAX_BITS} coding units; this model has {Z.shape[1:]}. Use a smaller "
            "n_components (16 or 30, as in the chapter).")
    if Z.size and not (Z.min() >= 0.0 and Z.max() <= 1.0):
        raise InvalidInputError(
            f"semantic_hashes needs codings in [0, 1] (a sigmoid coding layer); these range "
            f"over [{Z.min():.3g}, {Z.max():.3g}].")
    weights = np.left_shift(np.int64(1), np.arange(Z.shape[1] - 1, -1, -1, dtype=np.int64))
    return (Z >= 0.5).astype(np.int64) @ weights


def hash_buckets(autoencoder: Any, X: Any) -> dict[int, np.ndarray]:
    """The rows of ``X`` grouped by hash, largest bucket first.

    Returns
    -------
    buckets : dict of int to ndarray of int
        ``buckets[h]`` holds the (sorted) row indices whose hash is ``h``.
    """
    hashes = semantic_hashes(autoencoder, X)
    values, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    rows = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    order = np.argsort(-counts, kind="stable")
    return {int(values[i]): rows[i] for i in order}


@dataclass(frozen=True)
class HashPurity:
    """How often items that share a hash share a label, against chance.

    Attributes
    ----------
    purity : float
        Over buckets holding at least 2 items, weighted by bucket size, the probability that
        two different items of the bucket have the same label (the unbiased Gini purity
        ``sum_c n_c (n_c - 1) / (n (n - 1))``).
    chance : float
        The same probability for two different items drawn from the whole set.
    n_buckets : int
        Distinct hashes.
    shared_fraction : float
        Fraction of items whose bucket holds at least one other item (only these count in
        ``purity``).
    """

    purity: float
    chance: float
    n_buckets: int
    shared_fraction: float

    @property
    def lift(self) -> float:
        """``purity / chance``: how many times more often than chance a match is right."""
        return self.purity / self.chance if self.chance > 0 else float("nan")


def _pair_purity(counts: np.ndarray) -> np.ndarray:
    """Per row of label counts, the chance that two different items share a label."""
    n = counts.sum(axis=-1)
    return (counts * (counts - 1)).sum(axis=-1) / (n * (n - 1))


def hash_purity(labels: Any, hashes: Any) -> HashPurity:
    """Purity of the labels within hash buckets, and the chance level to compare it with.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
    hashes : array-like of shape (n_samples,)
        For example from :func:`semantic_hashes`.

    Returns
    -------
    HashPurity
        ``purity``, ``chance``, ``n_buckets``, ``shared_fraction`` (and ``lift``).
    """
    labels, hashes = np.asarray(labels).reshape(-1), np.asarray(hashes).reshape(-1)
    if labels.shape != hashes.shape or labels.size < 2:
        raise InvalidInputError(
            f"hash_purity needs one label per hash and at least 2 items; got {labels.size} "
            f"labels and {hashes.size} hashes.")
    _, label_ids = np.unique(labels, return_inverse=True)
    bucket_values, bucket_ids = np.unique(hashes, return_inverse=True)
    table = np.zeros((bucket_values.size, label_ids.max() + 1), dtype=np.int64)
    np.add.at(table, (bucket_ids, label_ids), 1)
    sizes = table.sum(axis=1)
    shared = sizes >= 2
    purity = float(np.average(_pair_purity(table[shared]), weights=sizes[shared])) \
        if shared.any() else float("nan")
    return HashPurity(purity=purity, chance=float(_pair_purity(table.sum(axis=0))),
                      n_buckets=int(bucket_values.size),
                      shared_fraction=float(sizes[shared].sum() / labels.size))

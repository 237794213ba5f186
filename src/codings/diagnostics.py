"""How close a linear autoencoder is to PCA: subspace angles, reconstruction error, variance.

An undercomplete autoencoder with an affine decoder ``x_hat = W z + b`` and an MSE loss is
minimised exactly when ``span(W)`` is the span of PCA's top-``k`` components (Baldi & Hornik,
1989). :func:`compare_with_pca` measures how far a fitted model is from that optimum.

Only models whose decoder is affine are accepted. A nonlinear decoder maps the codings onto a
curved ``k``-dimensional surface whose linear span can be the whole input space, so "the
decoder's subspace" and its angles to PCA's are not defined. Fitting PCA to the
reconstructions instead would measure how flat that surface is, not whether the model found
PCA's subspace, so that variant is deliberately not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import orth, subspace_angles
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted
from torch import nn

from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.validation import check_features
from codings.exceptions import InvalidInputError
from codings.nn.tied import TiedLinear

# Layers ``y = x W^T + b`` (TiedLinear: TiedWeights' decoder layer). A decoder made of these,
# nn.Identity and nn.Sequential is affine; any other module (an activation, a custom layer)
# makes it count as nonlinear. Submodules of these layers (weight parametrizations) are fine.
_LINEAR_LAYERS = (nn.Linear, TiedLinear)


@dataclass(frozen=True)
class PCAComparison:
    """A fitted linear autoencoder against PCA with the same number of components.

    Attributes
    ----------
    principal_angles_deg : tuple of float, length k
        Principal angles in degrees between the decoder's column space and the span of PCA's
        ``k`` components, ascending (fewer than k if the decoder weight is rank-deficient).
    mse : float
        The autoencoder's reconstruction MSE on ``X`` (mean over all entries).
    pca_mse : float
        PCA's reconstruction MSE on the same ``X``.
    explained_variance_ratio : tuple of float, length k
        Fraction of the total variance of ``X`` captured by each principal axis of the
        decoder's column space (the orthogonal projection of centred ``X`` onto it), descending.
    pca_explained_variance_ratio : tuple of float, length k
        The same for PCA's components: ``PCA(k).explained_variance_ratio_`` when PCA was
        fitted on ``X``.
    """

    principal_angles_deg: tuple[float, ...]
    mse: float
    pca_mse: float
    explained_variance_ratio: tuple[float, ...]
    pca_explained_variance_ratio: tuple[float, ...]

    @property
    def max_angle_deg(self) -> float:
        """The largest principal angle in degrees (0 when the subspaces coincide)."""
        return max(self.principal_angles_deg)

    @property
    def mse_ratio(self) -> float:
        """``mse / pca_mse``: 1 at the PCA optimum (``inf`` when PCA reconstructs exactly)."""
        return self.mse / self.pca_mse if self.pca_mse > 0 else float("inf")


def decoder_weight(autoencoder: AutoEncoder) -> np.ndarray:
    """The linear part ``W`` of an affine decoder ``x_hat = W z + b``, in float64.

    Parameters
    ----------
    autoencoder : AutoEncoder
        A fitted model whose decoder is made of linear layers only (``nn.Linear``, or the
        ``TiedLinear`` of :class:`~codings.TiedWeights`; stacked layers are multiplied
        together) and whose loss is not ``"bce"``.

    Returns
    -------
    W : ndarray of shape (n_features, n_components)

    Raises
    ------
    InvalidInputError
        If the decoder is not affine.
    """
    check_is_fitted(autoencoder)
    decoder = autoencoder.module_.decoder
    layers, nonlinear = _affine_layers(decoder)
    others = sorted(nonlinear)
    if autoencoder.loss == "bce":
        others.append("sigmoid applied to the output (loss='bce')")
    if others:
        raise InvalidInputError(
            "compare_with_pca needs an autoencoder whose decoder is affine (for example "
            "hidden_layer_sizes=(), activation='identity', loss='mse'); this decoder contains "
            f"{', '.join(others)}. A nonlinear decoder maps the codings onto a curved surface, "
            "not a subspace, so angles to PCA's subspace would be meaningless.")
    weight = torch.eye(autoencoder.n_components, dtype=torch.float64)
    with torch.no_grad():
        for layer in layers:
            weight = layer.weight.detach().cpu().double() @ weight
    return weight.numpy()


def _affine_layers(module: nn.Module) -> tuple[list[nn.Linear | TiedLinear], set[str]]:
    """The linear layers of ``module`` in forward order, and the names of any other kinds."""
    if isinstance(module, _LINEAR_LAYERS):
        return [module], set()
    if isinstance(module, nn.Identity):
        return [], set()
    if not isinstance(module, nn.Sequential):
        return [], {type(module).__name__}
    parts = [_affine_layers(child) for child in module.children()]
    return ([layer for layers, _ in parts for layer in layers],
            set().union(*(names for _, names in parts)))


def compare_with_pca(autoencoder: AutoEncoder, X: Any, *, pca: PCA | None = None,
                     ) -> PCAComparison:
    """Compare a fitted linear autoencoder with PCA on ``X``.

    Parameters
    ----------
    autoencoder : AutoEncoder
        A fitted model with an affine decoder (see :func:`decoder_weight`). The encoder may be
        anything: the angles and explained variance depend on the decoder only, the MSE on
        both.
    X : array-like of shape (n_samples, n_features)
        The data to compare on.
    pca : sklearn.decomposition.PCA, optional
        A fitted PCA with ``n_components`` components to compare against, e.g. one fitted on
        the training set when ``X`` is a test set. By default ``PCA(n_components)`` is fitted
        on ``X`` itself, which gives the optimum on ``X``; on held-out data that is an
        oracle no model trained elsewhere can match.

    Returns
    -------
    comparison : PCAComparison
        Variance ratios are of ``X``'s variance (centred on ``X``'s mean) for both models.

    Raises
    ------
    InvalidInputError
        If the decoder is not affine, ``X`` does not match the model or is constant, ``pca``
        has a different shape, or ``X`` has fewer samples or features than ``n_components``
        (without ``pca``).

    Examples
    --------
    >>> from codings import AutoEncoder
    >>> from codings.datasets import load_demo_3d
    >>> from codings.diagnostics import compare_with_pca
    >>> X = load_demo_3d().train
    >>> ae = AutoEncoder(n_components=2, hidden_layer_sizes=(), activation="identity",
    ...                  learning_rate=0.01, max_iter=1000, batch_size=None,
    ...                  random_state=0).fit(X)
    >>> result = compare_with_pca(ae, X)
    >>> bool(result.max_angle_deg < 1 and result.mse_ratio < 1.01)
    True
    """
    weight = decoder_weight(autoencoder)
    data = check_features(autoencoder, X, reset=False).astype(np.float64)
    pca = _reference_pca(pca, data, weight.shape[1])
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(data)) - data) ** 2))
    mse = float(np.mean((autoencoder.reconstruct(X).astype(np.float64) - data) ** 2))
    components = pca.components_.T.astype(np.float64)
    angles = np.degrees(subspace_angles(weight, components))[::-1]
    return PCAComparison(
        principal_angles_deg=tuple(float(a) for a in angles), mse=mse, pca_mse=pca_mse,
        explained_variance_ratio=_captured_variance_ratio(data, weight),
        pca_explained_variance_ratio=_captured_variance_ratio(data, components))


def _reference_pca(pca: PCA | None, data: np.ndarray, k: int) -> PCA:
    """``pca`` checked against the model and ``data``, or ``PCA(k)`` fitted on ``data``."""
    if pca is None and k > min(data.shape):
        raise InvalidInputError(
            f"compare_with_pca needs at least n_components={k} samples and features to "
            f"fit PCA({k}); X has shape {data.shape}.")
    if not np.ptp(data, axis=0).any():
        raise InvalidInputError("compare_with_pca needs X with some variance; every column "
                                "of X is constant.")
    if pca is None:
        return PCA(n_components=k).fit(data)
    check_is_fitted(pca)
    if pca.components_.shape != (k, data.shape[1]):
        raise InvalidInputError(
            f"The pca passed to compare_with_pca must have {k} components over "
            f"{data.shape[1]} features (the autoencoder's n_components and X's features); "
            f"its components_ have shape {pca.components_.shape}.")
    return pca


def _captured_variance_ratio(data: np.ndarray, weight: np.ndarray) -> tuple[float, ...]:
    """Variance of centred ``data`` along the principal axes of ``span(weight)``, over total.

    The axes inside the subspace are chosen by an SVD of the projected data, so the result
    does not depend on which basis of the subspace the decoder happens to use; for the
    components of a PCA fitted on ``data`` it equals its ``explained_variance_ratio_``. A
    rank-deficient decoder gives fewer than ``k`` entries.
    """
    centred = data - data.mean(axis=0)
    singular = np.linalg.svd(centred @ orth(weight), compute_uv=False)
    total = float(np.sum(centred**2))
    return tuple(float(s) for s in singular**2 / total)

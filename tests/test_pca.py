"""A linear autoencoder reaches PCA's optimum; ``compare_with_pca`` measures it correctly.

The oracle is scikit-learn's PCA: the chapter's seed experiment (3-D demo, 3-2-3, 1000
full-batch Adam steps at lr 0.01) must reach PCA(2)'s train MSE within 1% and its subspace
within 1 degree.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

from codings import AutoEncoder, InvalidInputError, TiedWeights
from codings.datasets import load_demo_3d
from codings.diagnostics import PCAComparison, compare_with_pca, decoder_weight

# Chapter A1's derived targets: PCA(2) reconstruction MSE on the standardised 3-D demo.
PCA_MSE_TRAIN, PCA_MSE_TEST = 0.0455, 0.0519


def linear_ae(n_components: int = 2, **params: object) -> AutoEncoder:
    defaults: dict[str, object] = dict(hidden_layer_sizes=(), activation="identity",
                                       learning_rate=0.01, max_iter=1000, batch_size=None,
                                       random_state=0)
    return AutoEncoder(n_components=n_components, **{**defaults, **params})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo() -> tuple[np.ndarray, np.ndarray]:
    data = load_demo_3d()
    return data.train, data.test


@pytest.fixture(scope="module")
def seed_ae(demo: tuple[np.ndarray, np.ndarray]) -> AutoEncoder:
    return linear_ae().fit(demo[0])


def test_seed_experiment_reaches_pca_optimum(seed_ae: AutoEncoder, demo: tuple) -> None:
    train, test = demo
    pca = PCA(2).fit(train)
    on_train = compare_with_pca(seed_ae, train)
    on_test = compare_with_pca(seed_ae, test, pca=pca)
    assert on_train.pca_mse == pytest.approx(PCA_MSE_TRAIN, abs=5e-4)
    assert on_test.pca_mse == pytest.approx(PCA_MSE_TEST, abs=5e-4)
    assert on_train.mse_ratio < 1.01
    assert on_train.max_angle_deg < 1.0
    assert on_test.mse_ratio < 1.01  # same model on held-out rows: no worse than PCA's test error
    assert on_test.principal_angles_deg == on_train.principal_angles_deg  # same two subspaces


def test_mse_is_the_mean_over_all_entries(seed_ae: AutoEncoder, demo: tuple) -> None:
    train, _ = demo
    pca = PCA(2).fit(train)
    result = compare_with_pca(seed_ae, train)
    assert result.mse == pytest.approx(np.mean((seed_ae.reconstruct(train) - train) ** 2))
    assert result.pca_mse == pytest.approx(
        np.mean((pca.inverse_transform(pca.transform(train)) - train) ** 2), rel=1e-12)
    assert result.mse_ratio == result.mse / result.pca_mse


def test_explained_variance_matches_pca_when_converged(seed_ae: AutoEncoder,
                                                       demo: tuple) -> None:
    train, _ = demo
    result = compare_with_pca(seed_ae, train)
    np.testing.assert_allclose(result.pca_explained_variance_ratio,
                               PCA(2).fit(train).explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(result.explained_variance_ratio,
                               result.pca_explained_variance_ratio, rtol=1e-2)


def test_barely_trained_model_captures_less_variance(demo: tuple) -> None:
    train, _ = demo
    result = compare_with_pca(linear_ae(max_iter=1).fit(train), train)
    assert sum(result.explained_variance_ratio) < sum(result.pca_explained_variance_ratio) - 0.01
    assert result.mse_ratio > 1.1
    assert result.max_angle_deg > 5


def test_digits_linear_autoencoder_matches_pca8(digits: np.ndarray) -> None:
    X = StandardScaler().fit_transform(digits)
    ae = linear_ae(8, learning_rate=0.02, max_iter=300).fit(X)
    result = compare_with_pca(ae, X)
    assert result.mse_ratio < 1.01
    assert np.median(result.principal_angles_deg) < 1.0


@pytest.mark.parametrize("params", [dict(hidden_layer_sizes=(4,)),
                                    dict(constraints=(TiedWeights(),))],
                         ids=["deep-linear", "tied"])
def test_decoder_weight_is_the_decoders_jacobian(small_data: np.ndarray, params: dict) -> None:
    ae = linear_ae(2, max_iter=5, **params).fit(small_data)
    bias = ae.inverse_transform(np.zeros((1, 2)))
    jacobian = (ae.inverse_transform(np.eye(2)) - bias).T
    np.testing.assert_allclose(decoder_weight(ae), jacobian, rtol=1e-4, atol=1e-5)
    assert len(compare_with_pca(ae, small_data).principal_angles_deg) == 2


def test_tied_linear_autoencoder_also_reaches_pca(demo: tuple) -> None:
    result = compare_with_pca(linear_ae(constraints=(TiedWeights(),)).fit(demo[0]), demo[0])
    assert result.mse_ratio < 1.01
    assert result.max_angle_deg < 1.0


def test_nonlinear_encoder_with_affine_decoder_is_accepted(small_data: np.ndarray) -> None:
    ae = linear_ae(2, activation="elu", max_iter=5).fit(small_data)
    assert isinstance(compare_with_pca(ae, small_data), PCAComparison)


def test_result_is_frozen(seed_ae: AutoEncoder, demo: tuple) -> None:
    result = compare_with_pca(seed_ae, demo[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.mse = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(("params", "match"), [
    (dict(hidden_layer_sizes=(4,), activation="elu"), r"decoder is affine.*ELU"),
    (dict(output_activation="sigmoid"), r"contains Sigmoid.*meaningless"),
    (dict(loss="bce"), r"loss='bce'"),
])
def test_nonlinear_decoder_is_rejected(params: dict, match: str) -> None:
    X = np.random.RandomState(0).rand(20, 4)
    ae = linear_ae(2, max_iter=1, **params).fit(X)
    with pytest.raises(InvalidInputError, match=match):
        compare_with_pca(ae, X)


def test_input_errors(seed_ae: AutoEncoder, demo: tuple) -> None:
    train, _ = demo
    with pytest.raises(NotFittedError):
        compare_with_pca(linear_ae(), train)
    with pytest.raises(InvalidInputError, match="4 features"):
        compare_with_pca(seed_ae, np.zeros((5, 4)))
    with pytest.raises(InvalidInputError, match=r"at least n_components=2 samples"):
        compare_with_pca(seed_ae, np.eye(3)[:1])
    with pytest.raises(InvalidInputError, match="every column of X is constant"):
        compare_with_pca(seed_ae, np.ones((5, 3)))
    with pytest.raises(InvalidInputError, match=r"must have 2 components.*shape \(1, 3\)"):
        compare_with_pca(seed_ae, train, pca=PCA(1).fit(train))

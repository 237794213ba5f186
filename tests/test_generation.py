"""Generation from variational, adversarial and denoising models, and the accuracy of the
variational score (issue 11 item 8) against independent Monte Carlo."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from codings import Adversarial, AutoEncoder, Denoising, Variational
from codings.constraints.variational import gaussian_kl
from codings.estimators._generative import log_likelihood_of, normal_points
from codings.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def unit_digits() -> np.ndarray:
    from codings.datasets import load_digits

    return load_digits().data / 16.0


@pytest.fixture(scope="module")
def standardised_digits(unit_digits) -> np.ndarray:
    std = unit_digits.std(axis=0)
    return (unit_digits - unit_digits.mean(axis=0)) / np.where(std > 0, std, 1.0)


def monte_carlo_elbo(ae: AutoEncoder, X: np.ndarray, n_draws: int, seed: int = 123) -> np.ndarray:
    """Per-row ELBO from independent draws z ~ q(z|x), in float64, written out by hand."""
    module = copy.deepcopy(ae.module_).double().eval()
    x = torch.tensor(X, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = module.encode(x)
        std = torch.exp(0.5 * out.log_var)
        total = torch.zeros(len(x), dtype=torch.float64)
        for _ in range(n_draws):
            eps = torch.randn(out.mu.shape, generator=generator, dtype=torch.float64)
            total += log_likelihood_of(module.decode(out.mu + std * eps), x, ae.loss)
        return (total / n_draws - gaussian_kl(out.mu, out.log_var)).numpy()


# -- the quasi-Monte Carlo points ----------------------------------------------------------


@pytest.mark.parametrize(("n_points", "dim", "expected"), [(64, 2, 64), (64, 10, 64),
                                                           (4, 3, 8), (7, 1, 8)])
def test_normal_points_have_exact_first_second_and_third_moments(n_points, dim, expected):
    points = normal_points(n_points, dim)
    assert points.shape == (expected, dim) and points.dtype == torch.float64
    eye = torch.eye(dim, dtype=torch.float64)
    torch.testing.assert_close(points.mean(0), torch.zeros(dim, dtype=torch.float64),
                               atol=1e-12, rtol=0)
    torch.testing.assert_close(points.T @ points / len(points), eye, atol=1e-12, rtol=0)
    third = torch.einsum("ni,nj,nk->ijk", points, points, points) / len(points)
    assert third.abs().max() < 1e-12
    assert torch.equal(points, normal_points(n_points, dim))  # fixed: the same every call


# -- the variational score (issue 11 item 8) -----------------------------------------------


@pytest.fixture(scope="module")
def issue_vae(standardised_digits) -> AutoEncoder:
    return AutoEncoder(n_components=2, hidden_layer_sizes=(32,), constraints=(Variational(),),
                       max_iter=30, random_state=0).fit(standardised_digits)


def test_score_samples_matches_many_draws_and_independent_monte_carlo(issue_vae,
                                                                      standardised_digits):
    X = standardised_digits
    score = issue_vae.score_samples(X).mean()
    assert abs(score - issue_vae.elbo(X, n_samples=1000).mean()) < 0.5
    assert abs(score - monte_carlo_elbo(issue_vae, X, n_draws=2000).mean()) < 0.5


def test_score_samples_matches_monte_carlo_on_a_wider_bce_model(unit_digits):
    ae = AutoEncoder(n_components=8, hidden_layer_sizes=(32,), loss="bce", max_iter=10,
                     constraints=(Variational(),), random_state=1).fit(unit_digits)
    X = unit_digits[:600]
    assert abs(ae.score_samples(X).mean() - monte_carlo_elbo(ae, X, 2000).mean()) < 0.5


def test_score_samples_is_deterministic_and_batch_independent(issue_vae, standardised_digits):
    X = standardised_digits[:300]
    scores = issue_vae.score_samples(X)
    assert np.array_equal(scores, issue_vae.score_samples(X))
    np.testing.assert_allclose(issue_vae.score_samples(X[:7]), scores[:7], rtol=1e-12)
    np.testing.assert_allclose(issue_vae.score_samples(X[::-1]), scores[::-1], rtol=1e-12)
    np.testing.assert_allclose(issue_vae.score_samples(X[5:6]), scores[5:6], rtol=1e-12)


# -- sampling: one signature, three kinds of model -----------------------------------------


@pytest.fixture(scope="module")
def adversarial_ae(unit_digits) -> AutoEncoder:
    return AutoEncoder(n_components=2, hidden_layer_sizes=(16,), loss="bce", max_iter=3,
                       constraints=(Adversarial(prior="mixture"),),
                       random_state=0).fit(unit_digits)


@pytest.fixture(scope="module")
def denoising_ae(unit_digits) -> AutoEncoder:
    return AutoEncoder(n_components=16, hidden_layer_sizes=(64,), loss="bce", max_iter=40,
                       constraints=(Denoising(std=0.3),), random_state=0).fit(unit_digits[:1500])


def test_adversarial_samples_decode_draws_from_its_prior(adversarial_ae):
    samples = adversarial_ae.sample(6, random_state=3)
    constraint = adversarial_ae.constraints[0]
    z = constraint.sample_prior(6, 2, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(samples, adversarial_ae.inverse_transform(z.numpy()))
    assert samples.shape == (6, 64) and samples.min() >= 0 and samples.max() <= 1
    assert not np.allclose(samples, adversarial_ae.sample(6, random_state=4))


def test_chain_options_are_refused_for_models_with_a_prior(adversarial_ae):
    for option in ({"n_steps": 5}, {"X_start": np.zeros((1, 64))}, {"return_chain": True}):
        with pytest.raises(InvalidInputError, match="apply to the denoising chain"):
            adversarial_ae.sample(1, **option)


def test_models_without_prior_or_corruption_cannot_sample(unit_digits):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=1,
                     random_state=0).fit(unit_digits[:50])
    with pytest.raises(InvalidInputError, match="Variational or Adversarial") as info:
        ae.sample(3)
    assert "Denoising" in str(info.value)


def test_the_denoising_chain_moves_from_noise_towards_the_data(denoising_ae, unit_digits):
    chain = denoising_ae.sample(200, n_steps=30, random_state=0, return_chain=True)
    assert chain.shape == (31, 200, 64)
    nearest = NearestNeighbors(n_neighbors=1).fit(unit_digits[:1500])

    def distance(rows: np.ndarray) -> float:
        return float(nearest.kneighbors(rows)[0].mean())

    noise, first, last = distance(chain[0]), distance(chain[1]), distance(chain[-1])
    held_out = distance(unit_digits[1500:])
    assert last < first < noise
    # Noise is drawn within each feature's training range (data_min_, data_max_).
    assert last < 1.5 * held_out and held_out < 0.5 * noise, (last, held_out, noise)


def test_the_chain_returns_its_last_mean_and_is_reproducible(denoising_ae):
    chain = denoising_ae.sample(5, n_steps=4, random_state=1, return_chain=True)
    last = denoising_ae.sample(5, n_steps=4, random_state=1)
    np.testing.assert_array_equal(chain[-1], last)
    assert chain[0].min() >= 0 and chain[0].max() <= 1  # uniform noise over [0, 1] (BCE)
    assert not np.allclose(last, denoising_ae.sample(5, n_steps=4, random_state=2))
    assert denoising_ae.sample(3, random_state=0).shape == (3, 64)  # 100 steps by default


def test_the_chain_starts_where_it_is_told(denoising_ae, unit_digits):
    start = unit_digits[:4]
    chain = denoising_ae.sample(4, n_steps=2, X_start=start, random_state=0,
                                return_chain=True)
    np.testing.assert_allclose(chain[0], start, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="X_start has 4 rows but n_samples=3"):
        denoising_ae.sample(3, X_start=start)


def test_the_chain_starts_in_the_recorded_data_range_and_needs_one_for_mse(unit_digits):
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(8,), max_iter=1,
                     constraints=(Denoising(noise="dropout", rate=0.3),),
                     random_state=0).fit(unit_digits[:100])
    ae.data_min_, ae.data_max_ = np.full(64, -2.0), np.full(64, 3.0)
    start = ae.sample(500, n_steps=1, random_state=0, return_chain=True)[0]
    assert start.min() >= -2 and start.max() <= 3 and start.min() < -1.9 and start.max() > 2.9
    del ae.data_min_, ae.data_max_
    with pytest.raises(InvalidInputError, match="pass X_start"):
        ae.sample(2)
    assert ae.sample(2, X_start=unit_digits[:2], n_steps=3).shape == (2, 64)


def test_the_chain_keeps_the_shape_of_image_inputs():
    images = np.random.RandomState(0).rand(24, 8, 8)
    ae = AutoEncoder(n_components=3, architecture="conv", hidden_layer_sizes=(4,), loss="bce",
                     max_iter=1, constraints=(Denoising(),), random_state=0).fit(images)
    assert ae.sample(2, n_steps=3, random_state=0).shape == (2, 8, 8)
    assert ae.sample(2, n_steps=3, return_chain=True).shape == (4, 2, 8, 8)


@pytest.mark.parametrize("model", ["adversarial_ae", "denoising_ae"])
def test_interpolate_works_for_every_generative_model(model, request, unit_digits):
    ae = request.getfixturevalue(model)
    Z = ae.transform(unit_digits[:2])
    path = ae.interpolate(Z[0], Z[1], steps=4)
    assert path.shape == (4, 64)
    np.testing.assert_allclose(path[[0, -1]], ae.inverse_transform(Z), atol=1e-10)

"""The adversarial constraint: formulas against independent calculations, the priors, the
discriminator's own step, and the behaviour that makes it an adversarial autoencoder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from codings import Adversarial, AutoEncoder, Variational, load
from codings.constraints import constraint_from_dict, parse_constraint
from codings.constraints.adversarial import MIXTURE_RADIUS, MIXTURE_STD, draw_prior
from codings.exceptions import InvalidInputError
from codings.nn import AutoEncoderModule, build_mlp


def module_with(constraint, *, n_features=64, hidden=(32,), k=2, coding="sigmoid", seed=0):
    generator = torch.Generator().manual_seed(seed)
    encoder, decoder = build_mlp(n_features, hidden, k, "elu", coding, "identity", "auto",
                                 generator)
    constraints = (constraint,) if constraint is not None else ()
    return AutoEncoderModule(encoder, decoder, constraints, generator, builtin=True)


def max_ks_to_normal(z: np.ndarray) -> float:
    return max(stats.kstest(z[:, j], "norm").statistic for j in range(z.shape[1]))


@pytest.fixture(scope="module")
def unit_digits() -> np.ndarray:
    from codings.datasets import load_digits

    return load_digits().data / 16.0


# -- the constraint's parameters ---------------------------------------------------------


def test_defaults_round_trip_through_dicts_and_the_cli_spec():
    constraint = Adversarial(prior="mixture", weight=1)
    assert parse_constraint("adversarial:prior=mixture,weight=1") == constraint
    assert constraint_from_dict(constraint.to_dict()) == constraint
    assert Adversarial().to_dict() == {
        "name": "adversarial", "prior": "normal", "weight": 1.0, "discriminator_width": 64,
        "discriminator_layers": 2, "learning_rate": 5e-3, "gradient_penalty": 1.0,
        "n_modes": 10}
    assert Adversarial.weight_parameter == "weight"
    assert Adversarial.layerwise == "skip"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prior": "gaussian"}, "prior must be one of 'normal', 'mixture', 'uniform'"),
    ({"weight": -1.0}, "weight must be >= 0"),
    ({"discriminator_width": 0}, "discriminator_width must be an int >= 1"),
    ({"discriminator_layers": 1.5}, "discriminator_layers must be an int >= 1"),
    ({"n_modes": True}, "n_modes must be an int >= 1"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"gradient_penalty": -0.1}, "gradient_penalty must be >= 0"),
])
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adversarial(**kwargs)


@pytest.mark.parametrize("other", ["variational", "sparsity", "winner_take_all",
                                   "coding_noise"])
def test_meaningless_pairs_are_refused_with_a_reason(other):
    from codings.constraints import constraint_class

    second = constraint_class(other)()
    X = np.random.RandomState(0).rand(20, 6)
    with pytest.raises(InvalidInputError, match="Adversarial cannot be combined with") as info:
        AutoEncoder(max_iter=1, constraints=(Adversarial(), second)).fit(X)
    assert type(second).__name__ in str(info.value)
    assert ": " in str(info.value)  # and says why


# -- building ----------------------------------------------------------------------------


def test_build_makes_the_coding_linear_and_attaches_a_discriminator():
    module = module_with(Adversarial(discriminator_width=7, discriminator_layers=3), k=3)
    assert isinstance(list(module.encoder)[-1], nn.Linear)  # the sigmoid is gone
    linears = [m for m in module.discriminator if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 7), (7, 7), (7, 7),
                                                                    (7, 1)]
    x = torch.rand(5, 64)
    assert (module.eval().encode(x).z < 0).any()  # a sigmoid could not give this


def test_conv_coding_is_linear_too():
    X = np.random.RandomState(0).rand(16, 1, 8, 8)
    ae = AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(4,),
                     coding_activation="sigmoid", max_iter=1, batch_size=8,
                     constraints=(Adversarial(),), random_state=0).fit(X)
    assert isinstance(list(ae.module_.encoder)[-1], nn.Linear)
    assert ae.module_.discriminator[0].in_features == 2


def test_mixture_needs_two_coding_units():
    with pytest.raises(InvalidInputError, match="n_components >= 2"):
        module_with(Adversarial(prior="mixture"), k=1)


# -- the priors --------------------------------------------------------------------------


def draws(prior, n=40_000, d=3, seed=0):
    return draw_prior(prior, n, d, torch.Generator().manual_seed(seed)).double()


def test_normal_prior_has_standard_moments():
    z = draws("normal")
    torch.testing.assert_close(z.mean(0), torch.zeros(3, dtype=z.dtype), atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), torch.eye(3, dtype=z.dtype), atol=0.03, rtol=0)


def test_uniform_prior_fills_the_cube():
    z = draws("uniform")
    assert z.min() >= -1 and z.max() <= 1
    torch.testing.assert_close(z.var(0), torch.full((3,), 1 / 3, dtype=z.dtype), atol=0.01,
                               rtol=0)


def test_mixture_prior_has_ten_modes_on_a_ring_in_the_first_two_units():
    z = draws("mixture")
    angle = torch.atan2(z[:, 1], z[:, 0])
    nearest = torch.round(angle / (2 * math.pi / 10)) % 10
    counts = torch.bincount(nearest.long(), minlength=10).double() / len(z)
    torch.testing.assert_close(counts, torch.full((10,), 0.1, dtype=z.dtype), atol=0.01, rtol=0)
    centre_angle = nearest * 2 * math.pi / 10
    centres = MIXTURE_RADIUS * torch.stack([centre_angle.cos(), centre_angle.sin()], dim=1)
    offsets = z[:, :2] - centres
    torch.testing.assert_close(offsets.std(0), torch.full((2,), MIXTURE_STD, dtype=z.dtype),
                               atol=0.01, rtol=0)
    torch.testing.assert_close(z[:, 2].std(), torch.tensor(1.0, dtype=z.dtype), atol=0.02,
                               rtol=0)


@pytest.mark.parametrize("prior", ["normal", "mixture", "uniform"])
def test_prior_draws_come_from_the_generator(prior):
    assert torch.equal(draws(prior, 50, 2, seed=3), draws(prior, 50, 2, seed=3))
    assert not torch.equal(draws(prior, 50, 2, seed=3), draws(prior, 50, 2, seed=4))


# -- the two losses against independent calculations -------------------------------------


def test_generator_loss_is_weighted_bce_of_the_codings_against_real():
    constraint = Adversarial(weight=0.7)
    module = module_with(constraint).train()
    out = module(torch.rand(9, 64))
    logits = module.discriminator(out.z).squeeze(1)
    expected = 0.7 * F.binary_cross_entropy_with_logits(logits, torch.ones(9))
    torch.testing.assert_close(out.penalties["generator"], expected)


def test_discriminator_loss_is_bce_on_prior_draws_and_detached_codings():
    constraint = Adversarial(prior="mixture", gradient_penalty=2.0)
    module = module_with(constraint).train()
    out = module(torch.rand(9, 64))
    state = module.generator.get_state()
    terms = constraint.auxiliary_loss(out, module)
    replay = torch.Generator()
    replay.set_state(state)
    z_prior = draw_prior("mixture", 9, 2, replay).requires_grad_(True)
    real = module.discriminator(z_prior).squeeze(1)
    fake = module.discriminator(out.z.detach()).squeeze(1)
    logits, labels = torch.cat([real, fake]), torch.cat([torch.ones(9), torch.zeros(9)])
    torch.testing.assert_close(terms["discriminator"],
                               F.binary_cross_entropy_with_logits(logits, labels))
    (grad,) = torch.autograd.grad(real.sum(), z_prior)
    torch.testing.assert_close(terms["gradient_penalty"], grad.square().sum(1).mean())
    assert set(terms) == {"discriminator", "gradient_penalty"}


def test_discriminator_step_trains_only_the_discriminator():
    constraint = Adversarial()
    module = module_with(constraint).train()
    parameters = constraint.auxiliary_parameters(module)
    assert [id(p) for p in parameters] == [id(p) for p in module.discriminator.parameters()]
    out = module(torch.rand(9, 64))
    sum(constraint.auxiliary_loss(out, module).values()).backward()
    assert all(p.grad is None for p in [*module.encoder.parameters(),
                                        *module.decoder.parameters()])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in parameters)
    optimizer = constraint.auxiliary_optimizer(parameters)
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["lr"] == 5e-3


def test_no_gradient_penalty_without_autograd_or_weight():
    module = module_with(Adversarial()).train()
    out = module(torch.rand(9, 64))
    with torch.no_grad():
        assert set(Adversarial().auxiliary_loss(out, module)) == {"discriminator"}
    assert set(Adversarial(gradient_penalty=0).auxiliary_loss(out, module)) == {
        "discriminator"}


# -- behaviour ---------------------------------------------------------------------------


def held_out_discriminator_loss(module, z):
    z_prior = draw_prior("normal", 4096, 2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        real, fake = module.discriminator(z_prior), module.discriminator(z)
    return 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean()).item()


def test_discriminator_loss_falls_when_the_encoder_is_frozen(unit_digits):
    constraint = Adversarial()
    module = module_with(constraint).eval()
    with torch.no_grad():
        module.encoder[-1].bias += 2.0  # a frozen encoder whose codings sit off the prior
        out = module(torch.tensor(unit_digits, dtype=torch.float32))
    before = held_out_discriminator_loss(module, out.z)
    optimizer = constraint.auxiliary_optimizer(constraint.auxiliary_parameters(module))
    for _ in range(100):
        terms = constraint.auxiliary_loss(out, module)
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimizer.step()
    after = held_out_discriminator_loss(module, out.z)
    assert after < min(before - 0.3, math.log(2) - 0.1), (before, after)


def test_adversarial_codings_are_closer_to_the_prior_than_plain_ones(unit_digits):
    params = {"n_components": 2, "hidden_layer_sizes": (64,), "loss": "bce", "max_iter": 100,
              "random_state": 0}
    plain = AutoEncoder(coding_activation="identity", **params).fit(unit_digits)
    ae = AutoEncoder(constraints=(Adversarial(),), **params).fit(unit_digits)
    for term in ("generator", "discriminator", "gradient_penalty"):
        assert len(ae.history_[term]) == 100 and np.isfinite(ae.history_[term]).all()
    assert abs(ae.history_["discriminator"][-1] - math.log(2)) < 0.05  # an even contest
    ks_plain = max_ks_to_normal(plain.transform(unit_digits))
    ks_adversarial = max_ks_to_normal(ae.transform(unit_digits))
    assert ks_adversarial < 0.25 and ks_adversarial < ks_plain - 0.15, (ks_adversarial,
                                                                         ks_plain)


def test_save_and_load_keep_the_discriminator(tmp_path, unit_digits):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), loss="bce", max_iter=2,
                     constraints=(Adversarial(prior="uniform"),),
                     random_state=0).fit(unit_digits[:200])
    ae.save(tmp_path / "model.safetensors")
    loaded = load(tmp_path / "model.safetensors")
    assert loaded.constraints == (Adversarial(prior="uniform"),)
    for name, value in ae.module_.discriminator.state_dict().items():
        assert torch.equal(loaded.module_.discriminator.state_dict()[name], value), name
    np.testing.assert_array_equal(loaded.sample(4, random_state=0), ae.sample(4, random_state=0))


def test_adversarial_with_variational_names_both():
    X = np.random.RandomState(0).rand(20, 6)
    with pytest.raises(InvalidInputError, match="Variational") as info:
        AutoEncoder(max_iter=1, constraints=(Variational(), Adversarial())).fit(X)
    assert "prior" in str(info.value)


def test_resume_is_exact_with_the_discriminator_and_its_optimizer(tmp_path, unit_digits):
    params = {"n_components": 2, "hidden_layer_sizes": (16,), "loss": "bce", "batch_size": 64,
              "constraints": (Adversarial(),), "random_state": 0}
    X = unit_digits[:400]
    full = AutoEncoder(max_iter=4, **params).fit(X)
    AutoEncoder(max_iter=2, checkpoint_dir=tmp_path, **params).fit(X)
    resumed = AutoEncoder(max_iter=4, checkpoint_dir=tmp_path, resume=True, **params).fit(X)
    expected = full.module_.state_dict()
    for name, value in resumed.module_.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert resumed.history_["discriminator"] == full.history_["discriminator"]


@pytest.mark.parametrize("form", ["layerwise", "layerwise-frozen"])
def test_layerwise_phases_skip_it_and_fine_tuning_applies_it(form):
    X = np.random.RandomState(0).rand(64, 12)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(6,), max_iter=2, pretraining=form,
                     pretraining_iter=1, constraints=(Adversarial(),), random_state=0).fit(X)
    assert not any(name.startswith("phase") and "generator" in name for name in ae.history_)
    assert len(ae.history_["generator"]) == len(ae.history_["discriminator"]) == 2

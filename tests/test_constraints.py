"""Oracle tests for each constraint, and one contract suite over the whole registry.

The oracles recompute each constraint's effect by hand (numpy sums, per-sample Jacobians from
``torch.autograd.functional.jacobian``, an untied copy of a tied network) and compare.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from codings import (
    AutoEncoder,
    Contractive,
    Denoising,
    InvalidInputError,
    Sparsity,
    TiedWeights,
    Variational,
    WeightDecay,
    WinnerTakeAll,
    load,
)
from codings.constraints import (
    constraint_from_dict,
    parse_constraint,
    registered_constraints,
)
from codings.constraints.contractive import jacobian_norm_closed_form
from codings.nn import AutoEncoderModule, Output, build_mlp, linear_layers
from codings.nn.tied import TiedConvTranspose2d, TiedLinear
from codings.training.loop import evaluate, loss_terms, reconstruction_reduction
from codings.training.losses import reconstruction_error

# -- helpers -----------------------------------------------------------------------------


def mlp_module(constraints=(), *, n_features=6, hidden=(5,), k=2, activation="elu",
               coding="elu", output="identity", seed=0, random_bias=True):
    """A small built-in MLP module, with nonzero biases so bias handling is exercised."""
    generator = torch.Generator().manual_seed(seed)
    encoder, decoder = build_mlp(n_features, hidden, k, activation, coding, output, "auto",
                                 generator)
    if random_bias:
        with torch.no_grad():
            for layer in [*linear_layers(encoder), *linear_layers(decoder)]:
                layer.bias.copy_(0.3 * torch.randn(layer.bias.shape, generator=generator))
    return AutoEncoderModule(encoder, decoder, tuple(constraints), generator, builtin=True)


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def hand_output(z: torch.Tensor) -> Output:
    x = torch.zeros(z.shape[0], 3)
    return Output(x=x, x_tilde=x, h=z, z=z, x_hat=x)


def per_sample_jacobian_penalty(encode, x, weight, create_graph=False):
    """``weight * mean_b ||d encode(x_b) / d x_b||_F^2``, one Jacobian per sample."""
    norms = [torch.autograd.functional.jacobian(encode, row, create_graph=create_graph)
             .square().sum() for row in x]
    return weight * torch.stack(norms).mean()


@pytest.fixture(scope="module")
def unit_data() -> np.ndarray:
    """Data in [0, 1] with low-dimensional structure (digits scaled to [0, 1])."""
    from codings.datasets import load_digits

    return load_digits().data[:120] / 16.0


@pytest.fixture(scope="module")
def blob() -> np.ndarray:
    rng = np.random.RandomState(1)
    return rng.randn(48, 2) @ rng.randn(2, 6) + 0.1 * rng.randn(48, 6)


# -- TiedWeights -------------------------------------------------------------------------


def test_tied_mlp_decoder_weights_are_the_transposed_mirror_encoder_weights(blob):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5, 4), max_iter=3, batch_size=16,
                     constraints=(TiedWeights(),), random_state=0).fit(blob)
    encoder = linear_layers(ae.module_.encoder)
    decoder = [m for m in ae.module_.decoder if isinstance(m, TiedLinear)]
    assert len(encoder) == len(decoder) == 3
    assert not linear_layers(ae.module_.decoder)  # every decoder Linear was replaced
    for source, tied in zip(reversed(encoder), decoder, strict=True):
        # still equal after training: the weight is shared, not copied at build time
        assert torch.equal(tied.weight, source.weight.t())
        assert tied.bias.shape == (source.in_features,)
    z = torch.randn(4, 2)
    first = decoder[0]
    torch.testing.assert_close(first(z), z @ encoder[-1].weight + first.bias)


def test_tied_conv_decoder_reuses_the_mirror_kernels():
    X = np.random.RandomState(0).rand(12, 1, 7, 9)
    ae = AutoEncoder(n_components=3, architecture="conv", hidden_layer_sizes=(3, 4),
                     max_iter=2, constraints=(TiedWeights(),), random_state=0).fit(X)
    module = ae.module_
    convs = [m for m in module.encoder if isinstance(m, nn.Conv2d)]
    deconvs = [m for m in module.decoder if isinstance(m, TiedConvTranspose2d)]
    assert len(convs) == len(deconvs) == 2
    assert not [m for m in module.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    for conv, deconv in zip(reversed(convs), deconvs, strict=True):
        assert deconv.weight is conv.weight
        assert deconv.bias.shape == (conv.in_channels,)
    coding = linear_layers(module.encoder)[-1]
    expand = module.decoder[0]
    assert isinstance(expand, TiedLinear)
    assert torch.equal(expand.weight, coding.weight.t())
    assert ae.reconstruct(X).shape == X.shape


def test_tied_variational_decoder_uses_the_mu_half_of_the_doubled_head(blob):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=2,
                     constraints=(TiedWeights(), Variational()), random_state=0).fit(blob)
    head = linear_layers(ae.module_.encoder)[-1]
    assert head.out_features == 4  # mu and log_var
    first = ae.module_.decoder[0]
    assert isinstance(first, TiedLinear)
    assert torch.equal(first.weight, head.weight[:2].t())
    assert not torch.allclose(first.weight, head.weight[2:].t())
    z = torch.randn(3, 2)
    torch.testing.assert_close(first(z), z @ head.weight[:2] + first.bias)


def test_tied_gradient_is_the_sum_of_the_encoder_and_decoder_contributions():
    tied = mlp_module((TiedWeights(),), activation="tanh", coding="tanh")
    untied = mlp_module((), activation="tanh", coding="tanh", seed=1)
    tied_enc, untied_enc = linear_layers(tied.encoder), linear_layers(untied.encoder)
    tied_dec = [m for m in tied.decoder if isinstance(m, TiedLinear)]
    untied_dec = linear_layers(untied.decoder)
    with torch.no_grad():  # the same function, with the decoder weights as separate copies
        for source, copy_ in zip(tied_enc, untied_enc, strict=True):
            copy_.weight.copy_(source.weight)
            copy_.bias.copy_(source.bias)
        for source, tied_layer, copy_ in zip(reversed(tied_enc), tied_dec, untied_dec,
                                             strict=True):
            copy_.weight.copy_(source.weight.t())
            copy_.bias.copy_(tied_layer.bias)
    x = randn(10, 6)
    for module in (tied, untied):
        out = module.eval()(x)
        (out.x_hat - x).square().mean().backward()
    torch.testing.assert_close(tied(x).x_hat, untied(x).x_hat)
    for tied_w, enc_w, dec_w in zip(tied_enc, untied_enc, reversed(untied_dec), strict=True):
        expected = enc_w.weight.grad + dec_w.weight.grad.t()
        torch.testing.assert_close(tied_w.weight.grad, expected)
        assert not torch.allclose(tied_w.weight.grad, enc_w.weight.grad)
    for tied_layer, copy_ in zip(tied_dec, untied_dec, strict=True):
        torch.testing.assert_close(tied_layer.bias.grad, copy_.bias.grad)


def test_tied_weights_are_one_parameter_and_about_halve_the_count(unit_data):
    def fitted(constraints):
        return AutoEncoder(n_components=2, hidden_layer_sizes=(32,), max_iter=1,
                           constraints=constraints, random_state=0).fit(unit_data).module_

    tied, untied = fitted((TiedWeights(),)), fitted(())
    weights = 64 * 32 + 32 * 2
    biases = 32 + 2 + 32 + 64
    assert sum(p.numel() for p in untied.parameters()) == 2 * weights + biases
    assert sum(p.numel() for p in tied.parameters()) == weights + biases
    params = list(tied.parameters())
    assert len({id(p) for p in params}) == len(params)
    assert sum(p.numel() for p in tied.parameters()) < 0.55 * sum(
        p.numel() for p in untied.parameters())


def test_tied_weights_refuse_a_decoder_that_does_not_mirror_the_encoder():
    encoder = nn.Sequential(nn.Linear(6, 4), nn.ELU(), nn.Linear(4, 2))
    decoder = nn.Sequential(nn.Linear(2, 6))
    with pytest.raises(InvalidInputError, match="mirrors the encoder"):
        AutoEncoderModule(encoder, decoder, (TiedWeights(),))


# -- Denoising ---------------------------------------------------------------------------


@pytest.mark.parametrize("constraint", [Denoising(std=0.5), Denoising(noise="dropout", rate=0.5)],
                         ids=["gaussian", "dropout"])
def test_denoising_leaves_eval_mode_alone(constraint):
    plain = mlp_module(())
    noisy = AutoEncoderModule(copy.deepcopy(plain.encoder), copy.deepcopy(plain.decoder),
                              (constraint,), torch.Generator().manual_seed(1))
    x = randn(16, 6)
    plain.eval()
    noisy.eval()
    first, second = noisy(x), noisy(x)
    assert torch.equal(first.x_tilde, x)
    assert torch.equal(first.x_hat, second.x_hat)
    assert torch.equal(first.x_hat, plain(x).x_hat)
    noisy.train()
    assert not torch.allclose(noisy(x).x_hat, plain(x).x_hat)


def test_gaussian_corruption_has_mean_zero_and_the_given_std():
    x = torch.zeros(200, 100)
    noise = Denoising(std=0.3).corrupt(x, torch.Generator().manual_seed(0))
    assert abs(noise.mean().item()) < 0.01
    assert noise.std().item() == pytest.approx(0.3, abs=0.01)
    default = Denoising().corrupt(x, torch.Generator().manual_seed(0))
    assert default.std().item() == pytest.approx(0.1, abs=0.005)
    again = Denoising(std=0.3).corrupt(x, torch.Generator().manual_seed(0))
    assert torch.equal(noise, again)
    assert torch.equal(x, torch.zeros(200, 100))  # the input is not modified in place


@pytest.mark.parametrize(("rate", "expected_rate"), [(0.25, 0.25), (0.7, 0.7), (None, 0.3)])
def test_dropout_corruption_zeroes_a_rate_and_rescales_the_rest(rate, expected_rate):
    x = torch.full((200, 100), 2.0)
    out = Denoising(noise="dropout", rate=rate).corrupt(x, torch.Generator().manual_seed(0))
    zeroed = (out == 0).float().mean().item()
    assert zeroed == pytest.approx(expected_rate, abs=0.015)
    survivors = out[out != 0]
    torch.testing.assert_close(survivors, torch.full_like(survivors, 2.0 / (1 - expected_rate)))
    assert out.mean().item() == pytest.approx(2.0, abs=0.05)


def test_denoising_loss_compares_the_reconstruction_with_the_clean_input():
    module = mlp_module((Denoising(std=1.0),)).train()
    x = randn(32, 6)
    out = module(x)
    assert torch.equal(out.x, x)
    assert not torch.allclose(out.x_tilde, x)
    torch.testing.assert_close(out.h, module.encoder(out.x_tilde))  # the encoder saw x_tilde
    terms = loss_terms(out, "mse", "mean")
    clean = (out.x_hat - x).square().mean()
    noisy = (out.x_hat - out.x_tilde).square().mean()
    torch.testing.assert_close(terms["reconstruction"], clean)
    assert not torch.isclose(terms["reconstruction"], noisy)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"noise": "salt"}, "noise must be"),
    ({"noise": "dropout", "std": 0.1}, "std applies to noise='gaussian'"),
    ({"noise": "dropout", "rate": 1.5}, r"rate must be in \(0, 1\)"),
    ({"noise": "dropout", "rate": 0.0}, r"rate must be in \(0, 1\)"),
    ({"rate": 1.5}, "rate applies to noise='dropout'"),
    ({"std": 0.0}, "std must be > 0"),
    ({"std": -1.0}, "std must be > 0"),
])
def test_invalid_denoising_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Denoising(**kwargs)


def test_invalid_denoising_spec_is_an_invalid_input_error():
    with pytest.raises(InvalidInputError, match=r"rate must be in \(0, 1\)"):
        parse_constraint("denoising:noise=dropout,rate=1.5")
    with pytest.raises(InvalidInputError, match="noise must be"):
        constraint_from_dict({"name": "denoising", "noise": "salt"})


# -- Sparsity ----------------------------------------------------------------------------


def test_kl_sparsity_equals_the_closed_form():
    module = mlp_module((Sparsity(target=0.05, weight=0.7),), coding="sigmoid").eval()
    out = module(randn(40, 6))
    q = out.z.detach().double().numpy().mean(axis=0)
    p = 0.05
    expected = 0.7 * np.sum(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))
    assert out.penalties["sparsity"].item() == pytest.approx(expected, rel=1e-5)


def test_l1_sparsity_is_the_summed_mean_absolute_activation():
    module = mlp_module((Sparsity(kind="l1", weight=0.3),), coding="tanh").eval()
    out = module(randn(40, 6))
    z = out.z.detach().double().numpy()
    assert (z < 0).any()  # so the absolute value matters
    expected = 0.3 * np.abs(z).mean(axis=0).sum()
    assert out.penalties["sparsity"].item() == pytest.approx(expected, rel=1e-5)


def test_kl_sparsity_warns_unless_the_coding_is_a_sigmoid():
    with pytest.warns(UserWarning, match="coding_activation='sigmoid'"):
        mlp_module((Sparsity(),), coding="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlp_module((Sparsity(),), coding="sigmoid")
        mlp_module((Sparsity(kind="l1"),), coding="relu")


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_kl_sparsity_stays_finite_when_the_mean_activation_saturates(value):
    z = torch.full((8, 3), value, requires_grad=True)
    penalty = Sparsity(target=0.1, weight=1.0).penalty(hand_output(z), None)["sparsity"]
    assert torch.isfinite(penalty)
    assert penalty.item() > 1.0  # far from the target
    if value == 0.0:
        q, p = 1e-7, 0.1
        expected = 3 * (p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q)))
        assert penalty.item() == pytest.approx(expected, rel=1e-4)
    penalty.backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("order", [(Sparsity(), Variational()), (Variational(), Sparsity())])
def test_sparsity_with_variational_is_refused_naming_both(blob, order):
    with pytest.raises(InvalidInputError, match="Sparsity") as info:
        AutoEncoder(max_iter=1, constraints=order).fit(blob)
    assert "Variational" in str(info.value)


@pytest.mark.parametrize("kwargs", [{"kind": "l2"}, {"target": 0.0}, {"target": 1.0},
                                    {"weight": -1.0}])
def test_invalid_sparsity_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        Sparsity(**kwargs)


# -- Contractive -------------------------------------------------------------------------


CONTRACTIVE_CASES = {
    "sigmoid-1layer": {"hidden": (), "coding": "sigmoid"},
    "tanh-1layer": {"hidden": (), "coding": "tanh"},
    "relu-1layer": {"hidden": (), "coding": "relu"},
    "identity-1layer": {"hidden": (), "coding": "identity"},
    "elu-2layer": {"hidden": (4,), "activation": "elu", "coding": "elu"},
    "variational-2layer": {"hidden": (4,), "variational": True},
    "variational-1layer": {"hidden": (), "variational": True},
}


def contractive_module(case, weight=0.3):
    options = dict(CONTRACTIVE_CASES[case])
    constraints = (Contractive(weight=weight),)
    if options.pop("variational", False):
        constraints = (Variational(), *constraints)
    hidden = options.pop("hidden")
    return mlp_module(constraints, hidden=hidden, k=3, **options).double()


@pytest.mark.parametrize("case", list(CONTRACTIVE_CASES))
def test_contractive_penalty_matches_per_sample_jacobians(case):
    module = contractive_module(case).eval()
    x = randn(7, 6, dtype=torch.float64)
    out = module(x)
    variational = out.mu is not None
    k = 3

    def encode(row):
        h = module.encoder(row[None])[0]
        return h[:k] if variational else h

    expected = per_sample_jacobian_penalty(encode, x, 0.3)
    torch.testing.assert_close(out.penalties["contractive"], expected)
    if variational:  # the Jacobian of mu only, not of the whole (mu, log_var) output
        whole = per_sample_jacobian_penalty(lambda r: module.encoder(r[None])[0], x, 0.3)
        assert not torch.isclose(whole, expected)


@pytest.mark.parametrize("activation", [nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.Identity()],
                         ids=["sigmoid", "tanh", "relu", "identity"])
def test_closed_form_jacobian_norm_matches_autograd(activation):
    linear = nn.Linear(5, 3).double()
    x = randn(6, 5, dtype=torch.float64)
    closed = jacobian_norm_closed_form(linear, activation, x)
    for row, value in zip(x, closed, strict=True):
        jac = torch.autograd.functional.jacobian(lambda v: activation(linear(v)), row)
        torch.testing.assert_close(value, jac.square().sum())


@pytest.mark.parametrize("case", ["sigmoid-1layer", "elu-2layer", "variational-2layer"])
def test_contractive_penalty_has_the_right_gradient_wrt_encoder_weights(case):
    module = contractive_module(case).train()
    x = randn(5, 6, dtype=torch.float64)
    out = module(x)
    weight = linear_layers(module.encoder)[0].weight
    (grad,) = torch.autograd.grad(out.penalties["contractive"], weight)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    k = 3
    variational = out.mu is not None

    def encode(row):
        h = module.encoder(row[None])[0]
        return h[:k] if variational else h

    expected = per_sample_jacobian_penalty(encode, x, 0.3, create_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, weight)
    torch.testing.assert_close(grad, expected_grad)


def test_contractive_penalty_scales_with_weight_and_needs_a_valid_one():
    x = randn(5, 6, dtype=torch.float64)
    small = contractive_module("elu-2layer", weight=0.1).eval()(x).penalties["contractive"]
    large = contractive_module("elu-2layer", weight=0.5).eval()(x).penalties["contractive"]
    torch.testing.assert_close(large, 5 * small)
    with pytest.raises(ValueError, match="weight"):
        Contractive(weight=-0.1)


# -- Variational -------------------------------------------------------------------------


def test_variational_kl_equals_the_closed_form():
    module = mlp_module((Variational(beta=2.5),), k=3).train()
    out = module(randn(20, 6))
    mu = out.mu.detach().double().numpy()
    log_var = out.log_var.detach().double().numpy()
    assert np.array_equal(mu, out.h[:, :3].detach().double().numpy())
    kl = 0.5 * (mu ** 2 + np.exp(log_var) - 1 - log_var).sum(axis=1)
    assert out.penalties["kl"].item() == pytest.approx(2.5 * kl.mean(), rel=1e-5)


def test_variational_transform_is_deterministic_and_equals_mu(blob):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=2,
                     constraints=(Variational(),), random_state=0).fit(blob)
    X = blob.astype(np.float32)
    Z = ae.transform(X)
    assert np.array_equal(Z, ae.transform(X))
    with torch.no_grad():
        mu = ae.module_.encoder(torch.from_numpy(X))[:, :2].numpy()
    np.testing.assert_allclose(Z, mu, rtol=1e-6, atol=1e-7)


def test_variational_training_codings_are_drawn_from_the_generator():
    module = mlp_module((Variational(),), k=4).train()
    x = randn(500, 6)

    def draw(seed):
        module.generator = torch.Generator().manual_seed(seed)
        return module.encode(x)

    first, again, other = draw(1), draw(1), draw(2)
    assert torch.equal(first.z, again.z)
    assert not torch.allclose(first.z, other.z)
    eps = (first.z - first.mu) / torch.exp(0.5 * first.log_var)
    assert abs(eps.mean().item()) < 0.1
    assert eps.std().item() == pytest.approx(1.0, abs=0.1)


def test_variational_reconstruction_is_summed_over_features(unit_data):
    X = np.tile(unit_data[:1], (10, 1))  # identical rows: the held-out row is known
    n_features = X.shape[1]

    def fitted(constraints):
        return AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=1,
                           learning_rate=1e-9, early_stopping=True, constraints=constraints,
                           random_state=0).fit(X)

    vae, plain = fitted((Variational(),)), fitted(())
    assert reconstruction_reduction(vae.module_) == "sum"
    assert reconstruction_reduction(plain.module_) == "mean"
    for ae, factor in ((vae, n_features), (plain, 1)):
        per_feature = ae.reconstruction_error(X[:1])[0]
        recorded = ae.history_["val_reconstruction"][0]
        assert recorded == pytest.approx(factor * per_feature, rel=1e-4)
        x = torch.tensor(X, dtype=torch.float32)
        assert evaluate(ae.module_, x, "mse", 4)["reconstruction"] == pytest.approx(
            factor * per_feature, rel=1e-4)


def test_variational_elbo_is_below_iwae_which_is_below_zero(unit_data):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), loss="bce", max_iter=3,
                     batch_size=40, constraints=(Variational(),), random_state=0).fit(unit_data)
    elbo = ae.score_samples(unit_data)
    iwae = ae.log_likelihood(unit_data, n_samples=100, random_state=0)
    assert np.array_equal(elbo, ae.elbo(unit_data))
    assert np.isfinite(elbo).all() and np.isfinite(iwae).all()
    assert elbo.mean() <= iwae.mean() <= 0


def test_variational_log_var_is_clamped_on_extreme_inputs():
    module = mlp_module((Variational(),), hidden=(), k=2, coding="identity").train()
    x = 1e3 * randn(16, 6)
    out = module(x)
    raw_log_var = out.h[:, 2:]
    assert raw_log_var.abs().max() > 100  # unclamped, exp() would overflow float32
    assert out.log_var.max() <= 20 and out.log_var.min() >= -30
    assert out.log_var.max() == 20 or out.log_var.min() == -30
    terms = loss_terms(out, "mse", "sum")
    assert all(torch.isfinite(v) for v in terms.values())
    assert torch.isfinite(out.z).all()


def test_sample_is_reproducible_with_the_data_shape(blob):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=2,
                     constraints=(Variational(),), random_state=0).fit(blob)
    first = ae.sample(5, random_state=0)
    assert first.shape == (5, blob.shape[1])
    assert np.array_equal(first, ae.sample(5, random_state=0))
    assert not np.allclose(first, ae.sample(5, random_state=1))


@pytest.mark.parametrize("method", ["sample", "log_likelihood", "elbo"])
def test_generative_methods_need_a_variational_model(blob, method):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=1,
                     random_state=0).fit(blob)
    args = (3,) if method == "sample" else (blob,)
    with pytest.raises(ValueError, match="Variational"):
        getattr(ae, method)(*args)


def test_interpolate_starts_and_ends_at_the_given_codings(blob):
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=2,
                     constraints=(Variational(),), random_state=0).fit(blob)
    Z = ae.transform(blob[:2])
    path = ae.interpolate(Z[0], Z[1], steps=5)
    assert path.shape == (5, blob.shape[1])
    np.testing.assert_allclose(path[0], ae.inverse_transform(Z[:1])[0], atol=1e-10)
    np.testing.assert_allclose(path[-1], ae.inverse_transform(Z[1:])[0], atol=1e-10)
    np.testing.assert_allclose(path[2], ae.inverse_transform((Z[:1] + Z[1:]) / 2)[0],
                               atol=1e-10)


# -- WinnerTakeAll -----------------------------------------------------------------------


@pytest.mark.parametrize(("k", "batch"), [
    (0.05, 40), (0.2, 25), (0.5, 9), (1.0, 7), (0.01, 10),
    (0.07, 100), (0.14, 50),  # 0.07 * 100 == 7.000000000000001 in floating point
])
def test_winner_take_all_keeps_exactly_ceil_k_batch_per_unit(k, batch):
    z = torch.rand(batch, 5, generator=torch.Generator().manual_seed(0)) + 0.1
    kept = WinnerTakeAll(k=k).latent(hand_output(z), True, None)
    keep = math.ceil(round(k * batch, 9))
    assert ((kept != 0).sum(dim=0) == keep).all()
    top = z.topk(keep, dim=0).values
    assert torch.equal(kept.sort(dim=0, descending=True).values[:keep], top)
    assert WinnerTakeAll(k=k).latent(hand_output(z), False, None) is z


def test_winner_take_all_in_the_estimator_is_sparse_in_training_only(blob):
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(5,), coding_activation="sigmoid",
                     max_iter=1, constraints=(WinnerTakeAll(k=0.2),),
                     random_state=0).fit(blob)
    x = torch.tensor(blob[:25], dtype=torch.float32)
    out = ae.module_.train()(x)
    assert ((out.z != 0).sum(dim=0) == 5).all()
    ae.module_.eval()
    assert (ae.transform(blob[:25]) > 0).all()  # sigmoid codings, left dense


def test_winner_take_all_with_variational_is_refused(blob):
    with pytest.raises(InvalidInputError, match="WinnerTakeAll") as info:
        AutoEncoder(max_iter=1, constraints=(Variational(), WinnerTakeAll())).fit(blob)
    assert "Variational" in str(info.value)
    with pytest.raises(ValueError):
        WinnerTakeAll(k=0.0)


# -- WeightDecay -------------------------------------------------------------------------


def hand_weight_decay(layers, l2):
    return 0.5 * l2 * sum(float(layer.weight.detach().double().square().sum()) for layer in layers)


def test_weight_decay_sums_the_squared_weights_and_not_the_biases():
    module = mlp_module((WeightDecay(l2=0.3),), hidden=(5, 4)).train()
    layers = [*linear_layers(module.encoder), *linear_layers(module.decoder)]
    assert all(layer.bias.abs().sum() > 0 for layer in layers)
    out = module(randn(4, 6))
    assert out.penalties["weight_decay"].item() == pytest.approx(
        hand_weight_decay(layers, 0.3), rel=1e-5)
    out.penalties["weight_decay"].backward()
    for layer in layers:
        torch.testing.assert_close(layer.weight.grad, 0.3 * layer.weight)
        assert layer.bias.grad is None


def test_weight_decay_counts_tied_weights_once():
    module = mlp_module((TiedWeights(), WeightDecay(l2=0.3)), hidden=(5,)).train()
    out = module(randn(4, 6))
    expected = hand_weight_decay(linear_layers(module.encoder), 0.3)
    assert out.penalties["weight_decay"].item() == pytest.approx(expected, rel=1e-5)


def test_weight_decay_includes_convolution_kernels():
    X = np.random.RandomState(0).rand(8, 1, 7, 9)
    ae = AutoEncoder(n_components=2, architecture="conv", hidden_layer_sizes=(3,), max_iter=1,
                     constraints=(WeightDecay(l2=0.2),), random_state=0).fit(X)
    module = ae.module_
    layers = [m for m in module.modules()
              if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d)]
    assert any(isinstance(m, nn.Conv2d) for m in layers)
    out = module(torch.tensor(X.reshape(8, -1), dtype=torch.float32))
    assert out.penalties["weight_decay"].item() == pytest.approx(
        hand_weight_decay(layers, 0.2), rel=1e-5)


# -- the contract every registered constraint meets --------------------------------------


DEFAULTS = [cls() for name, cls in sorted(registered_constraints().items())
            if not name.startswith("_")]
IDS = [c.name for c in DEFAULTS]
#: penalty terms of the built-in constraints (constraints not listed may add any)
EXPECTED_TERMS = {"contractive": {"contractive"}, "denoising": set(), "sparsity": {"sparsity"},
                  "tied_weights": set(), "variational": {"kl"},
                  "weight_decay": {"weight_decay"}, "winner_take_all": set()}


def quick_fit(data, constraints, max_iter=2, **params):
    options = {"n_components": 2, "hidden_layer_sizes": (5,), "coding_activation": "sigmoid",
               "max_iter": max_iter, "batch_size": 16, "random_state": 0, **params}
    return AutoEncoder(constraints=tuple(constraints), **options).fit(data)


def incompatible(a, b) -> bool:
    return a.name in type(b).incompatible or b.name in type(a).incompatible


def test_the_registry_holds_every_built_in_constraint():
    assert set(EXPECTED_TERMS) <= set(IDS)


@pytest.mark.parametrize("constraint", DEFAULTS, ids=IDS)
def test_dict_round_trip_and_repr(constraint):
    spec = constraint.to_dict()
    assert spec["name"] == constraint.name
    assert json.loads(json.dumps(spec)) == spec
    assert constraint_from_dict(spec) == constraint
    assert repr(constraint).startswith(f"{type(constraint).__name__}(")


@pytest.mark.parametrize("constraint", DEFAULTS, ids=IDS)
def test_spec_string_round_trip(constraint):
    spec = constraint.to_dict()
    name = spec.pop("name")
    text = name + (":" + ",".join(f"{k}={v}" for k, v in spec.items()) if spec else "")
    assert parse_constraint(text) == constraint
    assert parse_constraint(name) == type(constraint)()


@pytest.mark.parametrize("constraint", DEFAULTS, ids=IDS)
def test_eval_transform_is_deterministic_and_row_independent(blob, constraint):
    ae = quick_fit(blob, (constraint,))
    assert not ae.module_.training
    Z = ae.transform(blob)
    assert Z.shape == (len(blob), 2)
    assert np.array_equal(Z, ae.transform(blob))
    np.testing.assert_allclose(ae.transform(blob[::-1]), Z[::-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ae.transform(blob[:3]), Z[:3], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("constraint", DEFAULTS, ids=IDS)
def test_penalties_are_finite_and_have_gradients(blob, constraint):
    ae = quick_fit(blob, (constraint,), max_iter=1)
    module = ae.module_.train()
    out = module(torch.tensor(blob[:16], dtype=torch.float32))
    if constraint.name in EXPECTED_TERMS:
        assert set(out.penalties) == EXPECTED_TERMS[constraint.name]
    assert set(out.penalties) <= set(ae.history_)
    params = [p for p in module.parameters() if p.requires_grad]
    for name, value in out.penalties.items():
        assert value.dim() == 0 and torch.isfinite(value), name
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
        assert all(g is None or torch.isfinite(g).all() for g in grads), name
    loss = loss_terms(out, "mse", reconstruction_reduction(module))["loss"]
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(DEFAULTS, 2)),
                         ids=[f"{a.name}+{b.name}" for a, b in itertools.combinations(DEFAULTS, 2)])
def test_every_pair_trains_or_is_refused_naming_both(blob, first, second):
    if incompatible(first, second):
        for pair in ((first, second), (second, first)):
            with pytest.raises(InvalidInputError) as info:
                quick_fit(blob, pair, max_iter=1)
            assert type(first).__name__ in str(info.value)
            assert type(second).__name__ in str(info.value)
        return
    ae = quick_fit(blob, (first, second), max_iter=1)
    assert ae.n_iter_ == 1
    assert all(np.isfinite(values).all() for values in ae.history_.values())
    assert ae.reconstruct(blob).shape == blob.shape
    assert np.isfinite(ae.transform(blob)).all()


@pytest.mark.parametrize("constraints", [(c,) for c in DEFAULTS]
                         + [(TiedWeights(), Variational(beta=0.5))],
                         ids=[*IDS, "tied_weights+variational"])
def test_save_and_load_give_identical_transforms(blob, tmp_path, constraints):
    ae = quick_fit(blob, constraints)
    ae.save(tmp_path / "model.safetensors")
    loaded = load(tmp_path / "model.safetensors")
    assert loaded.constraints == constraints
    for dtype in (np.float32, np.float64):
        X = blob.astype(dtype)
        assert np.array_equal(loaded.transform(X), ae.transform(X))
        assert np.array_equal(loaded.reconstruct(X), ae.reconstruct(X))


def test_reconstruction_error_helper_sums_or_averages():
    x_hat, x = randn(3, 4, seed=1), randn(3, 4, seed=2)
    summed = reconstruction_error(x_hat, x, "mse", "sum")
    torch.testing.assert_close(summed, 4 * reconstruction_error(x_hat, x, "mse", "mean"))


def test_coding_noise_sits_before_the_coding_layer_in_training_only():
    from codings import CodingNoise
    from codings.nn.layers import GaussianNoise

    X = np.random.default_rng(0).random((64, 10))
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(6,), coding_activation="sigmoid",
                     constraints=(CodingNoise(std=3.0),), max_iter=2, random_state=0).fit(X)
    layers = list(ae.module_.encoder)
    noise_at = next(i for i, m in enumerate(layers) if isinstance(m, GaussianNoise))
    assert isinstance(layers[noise_at + 1], torch.nn.Linear)  # right before the coding layer
    assert layers[noise_at + 1].out_features == 4
    np.testing.assert_array_equal(ae.transform(X), ae.transform(X))  # eval: no noise
    noise = GaussianNoise(3.0, torch.Generator().manual_seed(0)).train()
    draws = noise(torch.zeros(20000, 4))
    assert abs(float(draws.std()) - 3.0) < 0.05 and abs(float(draws.mean())) < 0.05
    with pytest.raises(ValueError, match="std must be > 0"):
        CodingNoise(std=0.0)

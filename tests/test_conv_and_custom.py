"""The convolutional architecture, and autoencoders built on the user's own torch modules."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from codings import (
    AutoEncoder,
    Denoising,
    InvalidInputError,
    ModelFileError,
    Variational,
    WeightDecay,
    load,
)
from codings.constraints import registered_constraints
from codings.nn import linear_layers
from codings.nn.tied import TiedConvTranspose2d


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from codings.datasets import load_digits

    return load_digits().images[:60] / 16.0


def conv(**params):
    options = {"n_components": 3, "architecture": "conv", "hidden_layer_sizes": (4,),
               "max_iter": 2, "batch_size": 20, "random_state": 0, **params}
    return AutoEncoder(**options)


# -- the convolutional architecture ------------------------------------------------------


def test_conv_trains_on_digit_images(images):
    ae = conv(max_iter=4, learning_rate=1e-2).fit(images)
    assert ae.input_shape_ == (8, 8)
    assert [type(m) for m in ae.module_.encoder if isinstance(m, nn.Conv2d)] == [nn.Conv2d]
    assert any(isinstance(m, nn.ConvTranspose2d) for m in ae.module_.decoder)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    Z = ae.transform(images)
    assert Z.shape == (60, 3)
    assert ae.inverse_transform(Z).shape == images.shape
    assert ae.reconstruct(images).shape == images.shape
    np.testing.assert_allclose(ae.reconstruct(images), ae.inverse_transform(Z), atol=1e-10)
    # flat rows of the same images are the same input
    np.testing.assert_allclose(ae.transform(images.reshape(60, 64)), Z, atol=1e-12)


def test_conv_trains_on_flat_input_with_an_image_shape(images):
    flat = images.reshape(60, 64)
    ae = conv(image_shape=(1, 8, 8)).fit(flat)
    Z = ae.transform(flat)
    assert Z.shape == (60, 3)
    assert ae.inverse_transform(Z).shape == flat.shape  # flat in, flat out
    unflatten = ae.module_.encoder[0]
    assert isinstance(unflatten, nn.Unflatten) and tuple(unflatten.unflattened_size) == (1, 8, 8)
    # (height, width) means one channel: the same network, the same fit
    same = conv(image_shape=(8, 8)).fit(flat)
    np.testing.assert_array_equal(same.transform(flat), Z)
    # and the same as fitting the images themselves
    np.testing.assert_array_equal(conv().fit(images).transform(images), Z)


def test_conv_needs_an_image_shape_that_fits(images):
    flat = images.reshape(60, 64)
    with pytest.raises(InvalidInputError, match="needs images"):
        conv().fit(flat)
    with pytest.raises(InvalidInputError, match=r"image_shape=\(1, 7, 9\) does not fit"):
        conv(image_shape=(1, 7, 9)).fit(flat)


def test_wrong_image_size_at_transform_names_both_shapes(images):
    ae = conv().fit(images)
    with pytest.raises(InvalidInputError, match="images of shape") as info:
        ae.transform(np.random.RandomState(0).rand(3, 7, 9))
    assert "(7, 9)" in str(info.value) and "(8, 8)" in str(info.value)
    with pytest.raises(InvalidInputError):
        ae.transform(np.random.RandomState(0).rand(3, 49))


@pytest.mark.parametrize("model", ["conv", "custom"])
def test_image_input_to_a_model_fitted_on_flat_rows(images, model):
    flat = images.reshape(60, 64)
    if model == "conv":
        ae = conv(image_shape=(1, 8, 8)).fit(flat)
    else:
        ae = AutoEncoder(n_components=3, encoder=Encoder(64, 3), decoder=Decoder(3, 64),
                         max_iter=1, random_state=0).fit(flat)
    # images of the fitted size are accepted as their flat rows; others are refused
    np.testing.assert_array_equal(ae.transform(images), ae.transform(flat))
    with pytest.raises(InvalidInputError):
        ae.transform(np.random.RandomState(0).rand(3, 7, 9))


@pytest.mark.parametrize(("shape", "channels"), [
    ((1, 7, 9), (3,)), ((1, 7, 9), (3, 4)), ((2, 5, 6), (3, 4)), ((3, 25, 25), (2, 2, 2)),
])
def test_conv_reconstructs_odd_sizes_to_the_same_shape(shape, channels):
    X = np.random.RandomState(0).rand(6, *shape)
    ae = conv(n_components=2, hidden_layer_sizes=channels, max_iter=1).fit(X)
    assert ae.input_shape_ == shape
    assert ae.transform(X).shape == (6, 2)
    assert ae.reconstruct(X).shape == X.shape
    assert ae.inverse_transform(np.zeros((2, 2))).shape == (2, *shape)
    convs = [m for m in ae.module_.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(channels)


CONSTRAINTS = [cls() for name, cls in sorted(registered_constraints().items())
               if not name.startswith("_")]


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=[c.name for c in CONSTRAINTS])
def test_conv_works_with_every_constraint(constraint):
    X = np.random.RandomState(0).rand(16, 1, 7, 9)
    ae = conv(n_components=2, coding_activation="sigmoid", max_iter=1, batch_size=8,
              constraints=(constraint,)).fit(X)
    assert all(np.isfinite(v).all() for v in ae.history_.values())
    Z = ae.transform(X)
    assert Z.shape == (16, 2) and np.isfinite(Z).all()
    assert np.array_equal(Z, ae.transform(X))
    assert ae.reconstruct(X).shape == X.shape
    if constraint.name == "tied_weights":
        assert any(isinstance(m, TiedConvTranspose2d) for m in ae.module_.decoder)


# -- custom encoder and decoder modules --------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, n_in: int = 6, n_out: int = 2) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, 5)
        self.coding = nn.Linear(5, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.coding(torch.tanh(self.hidden(x)))


class Decoder(nn.Module):
    def __init__(self, n_in: int = 2, n_out: int = 6) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, 5)
        self.output = nn.Linear(5, n_out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(torch.tanh(self.hidden(z)))


@pytest.fixture
def rows() -> np.ndarray:
    rng = np.random.RandomState(0)
    return rng.randn(40, 2) @ rng.randn(2, 6) + 0.05 * rng.randn(40, 6)


def custom(encoder=None, decoder=None, **params):
    return AutoEncoder(n_components=2, encoder=encoder if encoder is not None else Encoder(),
                       decoder=decoder if decoder is not None else Decoder(), max_iter=3,
                       batch_size=20, random_state=0, **params)


def test_fit_trains_copies_and_leaves_the_users_modules_alone(rows):
    encoder, decoder = Encoder(), Decoder()
    before = {name: copy.deepcopy(m.state_dict()) for name, m in
              (("encoder", encoder), ("decoder", decoder))}
    ae = custom(encoder, decoder).fit(rows)
    assert isinstance(ae.module_.encoder, Encoder) and isinstance(ae.module_.decoder, Decoder)
    assert ae.module_.encoder is not encoder and ae.module_.decoder is not decoder
    assert ae.encoder is encoder and ae.decoder is decoder
    for name, module in (("encoder", encoder), ("decoder", decoder)):
        for key, value in module.state_dict().items():
            assert torch.equal(value, before[name][key]), (name, key)
    trained = ae.module_.encoder.state_dict()
    assert not all(torch.equal(trained[k], v) for k, v in before["encoder"].items())
    assert ae.transform(rows).shape == (40, 2)
    assert ae.reconstruct(rows).shape == rows.shape
    again = custom(encoder, decoder).fit(rows)  # reproducible from random_state alone
    np.testing.assert_array_equal(again.transform(rows), ae.transform(rows))


def test_constraints_apply_to_custom_modules(rows):
    ae = custom(constraints=(Denoising(std=0.5), WeightDecay(l2=1e-2))).fit(rows)
    assert len(ae.history_["weight_decay"]) == 3
    module = ae.module_
    x = torch.tensor(rows[:8], dtype=torch.float32)
    module.train()
    out = module(x)
    assert not torch.allclose(out.x_tilde, x)
    torch.testing.assert_close(out.h, module.encoder(out.x_tilde))
    weights = [p for p in module.parameters() if p.dim() > 1]
    expected = 0.5 * 1e-2 * sum(w.square().sum() for w in weights)
    torch.testing.assert_close(out.penalties["weight_decay"], expected)
    module.eval()
    assert torch.equal(module(x).x_tilde, x)
    np.testing.assert_array_equal(ae.transform(rows), ae.transform(rows))


def test_save_and_load_ask_for_instances_of_the_same_classes(rows, tmp_path):
    path = tmp_path / "custom.safetensors"
    ae = custom(constraints=(Denoising(),)).fit(rows)
    ae.save(path)
    with pytest.raises(ModelFileError, match="Encoder"):
        load(path)
    with pytest.raises(ModelFileError, match="Encoder") as info:
        load(path, encoder=Decoder(), decoder=Decoder())
    assert "Decoder" in str(info.value)
    with pytest.raises(ModelFileError, match="Decoder"):
        load(path, encoder=Encoder(), decoder=Encoder())
    given_encoder, given_decoder = Encoder(), Decoder()
    loaded = load(path, encoder=given_encoder, decoder=given_decoder)
    assert loaded.constraints == (Denoising(),)
    for dtype in (np.float32, np.float64):
        X = rows.astype(dtype)
        np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
        np.testing.assert_array_equal(loaded.reconstruct(X), ae.reconstruct(X))


def test_a_built_in_model_refuses_custom_modules_at_load(rows, tmp_path):
    path = tmp_path / "builtin.safetensors"
    AutoEncoder(n_components=2, hidden_layer_sizes=(5,), max_iter=1,
                random_state=0).fit(rows).save(path)
    with pytest.raises(ModelFileError, match="built-in architecture"):
        load(path, encoder=Encoder(), decoder=Decoder())


@pytest.mark.parametrize("which", ["encoder", "decoder"])
def test_a_custom_encoder_needs_a_decoder_and_vice_versa(rows, which):
    module = Encoder() if which == "encoder" else Decoder()
    with pytest.raises(InvalidInputError, match="given together with decoder"):
        AutoEncoder(max_iter=1, **{which: module}).fit(rows)


def test_custom_modules_must_be_torch_modules(rows):
    with pytest.raises(InvalidInputError, match=r"nn\.Module"):
        AutoEncoder(max_iter=1, encoder=Encoder(), decoder=lambda z: z).fit(rows)


def test_custom_modules_accept_images_and_return_their_shape():
    X = np.random.RandomState(0).rand(10, 2, 3)
    ae = custom().fit(X)
    assert ae.transform(X).shape == (10, 2)
    assert ae.reconstruct(X).shape == X.shape


def test_3d_input_to_the_mlp_suggests_the_conv_architecture(images):
    with pytest.raises(InvalidInputError, match="architecture='conv'") as info:
        AutoEncoder(max_iter=1).fit(images)
    assert "(60, 8, 8)" in str(info.value)
    flat = AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_iter=1,
                       random_state=0).fit(images.reshape(60, 64))
    with pytest.raises(InvalidInputError, match="architecture='conv'"):
        flat.transform(images)


class VariationalEncoder(nn.Module):
    """Outputs mu and log_var side by side: 2 * n_components columns."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_a_custom_variational_encoder_outputs_mu_and_log_var(rows):
    ae = custom(VariationalEncoder(), constraints=(Variational(),)).fit(rows)
    assert linear_layers(ae.module_.encoder)[-1].out_features == 4  # left as given
    Z = ae.transform(rows)
    assert Z.shape == (40, 2)
    with torch.no_grad():
        mu = ae.module_.encoder(torch.tensor(rows, dtype=torch.float32))[:, :2]
    np.testing.assert_allclose(ae.transform(rows.astype(np.float32)), mu.numpy(), rtol=1e-6)
    assert ae.sample(3, random_state=0).shape == (3, 6)


def test_a_custom_variational_encoder_with_an_odd_width_is_refused(rows):
    encoder = Encoder(6, 3)
    with pytest.raises(InvalidInputError, match=r"2 \* n_components columns"):
        custom(encoder, Decoder(3, 6), constraints=(Variational(),)).fit(rows)


def test_a_custom_sequential_variational_encoder_follows_the_same_rule(rows):
    encoder = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4))
    decoder = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 6))
    ae = custom(encoder, decoder, constraints=(Variational(),)).fit(rows)
    assert linear_layers(ae.module_.encoder)[-1].out_features == 4
    assert ae.transform(rows).shape == (40, 2)


def test_custom_modules_that_do_not_reconstruct_the_input_shape_are_refused(rows):
    with pytest.raises(InvalidInputError, match="shape"):
        custom(Encoder(6, 2), Decoder(2, 5)).fit(rows)


def test_custom_encoder_width_must_match_n_components(rows):
    with pytest.raises(InvalidInputError, match=r"codings of shape \(3,\) .* n_components=2"):
        custom(Encoder(6, 3), Decoder(3, 6)).fit(rows)

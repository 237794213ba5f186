"""Sequence architectures ("lstm", "gru", "conv1d"): shapes, learning, constraints, export.

The modules are tested directly, and through the estimator (3-D input, ``transform`` and
``inverse_transform`` shapes, read-only windows, save and load).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from codings import (
    AutoEncoder,
    CodingNoise,
    Contractive,
    Denoising,
    InvalidInputError,
    Sparsity,
    TiedWeights,
    Variational,
    WeightDecay,
    WinnerTakeAll,
)
from codings.constraints import Adversarial
from codings.estimators._building import (
    ARCHITECTURES,
    build_module,
    resolve_input_shape,
    resolve_sequence_shape,
)
from codings.nn.module import AutoEncoderModule
from codings.nn.sequence import (
    CLIP_GRAD_NORM,
    SEQUENCE_ARCHITECTURES,
    build_conv1d,
    build_recurrent,
)

ARCHS = SEQUENCE_ARCHITECTURES


def _params(architecture: str, **overrides: object) -> dict:
    params = AutoEncoder(architecture=architecture, n_components=3, hidden_layer_sizes=(6,),
                         activation="elu").get_params(deep=False)
    params.update(overrides)
    return params


def _module(architecture: str, shape: tuple[int, int] = (12, 2), constraints: tuple = (),
            seed: int = 0, **overrides: object) -> AutoEncoderModule:
    generator = torch.Generator().manual_seed(seed)
    return build_module(_params(architecture, **overrides), shape[0] * shape[1], shape,
                        constraints, generator, seed)


def _noisy_sine(n_steps: int, window: int, seed: int = 0) -> torch.Tensor:
    """Windows ``(n, window)`` of a noisy two-period sine, one channel, flattened."""
    t = np.arange(n_steps)
    noise = np.random.default_rng(seed).standard_normal(n_steps)
    signal = np.sin(2 * np.pi * t / 12) + 0.5 * np.sin(2 * np.pi * t / 30) + 0.1 * noise
    windows = np.lib.stride_tricks.sliding_window_view(signal, window)
    return torch.tensor(windows, dtype=torch.float32)


# -- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ARCHS)
@pytest.mark.parametrize("timesteps", [47, 48, 49])
def test_shapes_round_trip_for_odd_and_even_lengths(architecture: str, timesteps: int) -> None:
    channels = 3
    module = _module(architecture, (timesteps, channels), hidden_layer_sizes=(4, 5))
    x = torch.randn(5, timesteps * channels)
    out = module(x)
    assert out.z.shape == (5, 3)
    assert out.x_hat.shape == x.shape
    # The encoder also takes the sequences unflattened, and gives the same codings.
    assert torch.equal(module.encoder(x.reshape(5, timesteps, channels)), module.encoder(x))


@pytest.mark.parametrize("timesteps", [1, 2, 3, 47, 48, 49])
@pytest.mark.parametrize("layers", [(4,), (4, 6), (2, 3, 4)])
def test_conv1d_restores_every_length_exactly(timesteps: int, layers: tuple[int, ...]) -> None:
    encoder, decoder = build_conv1d((timesteps, 2), layers, 3, "relu", "relu", "identity",
                                    "auto")
    assert decoder(encoder(torch.randn(4, timesteps * 2))).shape == (4, timesteps * 2)


def test_recurrent_layers_are_the_hidden_layer_sizes_mirrored() -> None:
    encoder, decoder = build_recurrent("gru", (10, 2), (8, 5), 3, "elu", "identity", "auto")
    assert [(m.input_size, m.hidden_size) for m in encoder[1].layers] == [(2, 8), (8, 5)]
    assert [(m.input_size, m.hidden_size) for m in decoder[0].layers] == [(3, 5), (5, 8)]
    # The coding layer is a plain Linear that constraints can find and replace.
    assert isinstance(encoder[2], nn.Linear) and encoder[2].out_features == 3
    assert "timesteps=10" in repr(decoder) and "cell='gru'" in repr(encoder)


def test_lstm_forget_gate_starts_open() -> None:
    encoder, _ = build_recurrent("lstm", (10, 1), (4,), 2, "elu", "identity", "auto")
    layer = encoder[1].layers[0]
    assert torch.equal(layer.bias_ih_l0[4:8], torch.ones(4))
    assert torch.count_nonzero(layer.bias_hh_l0) == 0


def test_decoder_does_not_see_the_input() -> None:
    """No teacher forcing: the reconstruction is a function of the coding alone."""
    module = _module("lstm").eval()
    x = torch.randn(3, 24)
    z = module.encode(x).z
    assert torch.equal(module.decode(z), module(x).x_hat)


@pytest.mark.parametrize("architecture", ARCHS)
def test_building_is_reproducible_and_leaves_the_global_rng_alone(architecture: str) -> None:
    state = torch.random.get_rng_state()
    a, b = _module(architecture, seed=3), _module(architecture, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


# -- learning ----------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ARCHS)
def test_learns_a_noisy_sine_and_beats_the_mean(architecture: str) -> None:
    """A tiny plain loop (the estimator's trainer is tested elsewhere): the loss falls and
    the reconstruction is far better than predicting the mean window."""
    torch.manual_seed(0)
    X = _noisy_sine(300, 24)
    module = _module(architecture, (24, 1), hidden_layer_sizes=(16,), n_components=4)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        out = module(X[torch.randint(len(X), (64,), generator=generator)])
        loss = (out.x_hat - out.x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), CLIP_GRAD_NORM)
        optimizer.step()
        losses.append(loss.item())
    module.eval()
    with torch.no_grad():
        error = (module(X).x_hat - X).square().mean().item()
    baseline = (X - X.mean(dim=0)).square().mean().item()
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert error < 0.3 * baseline, (error, baseline)


# -- constraints -------------------------------------------------------------------------------
CONSTRAINTS = [
    (Denoising(),),
    (Denoising(noise="dropout", rate=0.2),),
    (Variational(),),
    (Sparsity(kind="l1"),),
    (WeightDecay(),),
    (Contractive(weight=0.01),),
    (WinnerTakeAll(k=0.5),),
    (CodingNoise(std=1.0),),
    (Adversarial(discriminator_width=4, discriminator_layers=1),),
    (Denoising(), Variational(), WeightDecay()),
]
PENALTIES = {"variational": "kl", "sparsity": "sparsity", "weight_decay": "weight_decay",
             "contractive": "contractive", "adversarial": "generator"}


@pytest.mark.parametrize("architecture", ARCHS)
@pytest.mark.parametrize("constraints", CONSTRAINTS, ids=lambda c: "+".join(x.name for x in c))
def test_every_constraint_trains_with_every_sequence_architecture(
        architecture: str, constraints: tuple) -> None:
    module = _module(architecture, (12, 2), constraints)
    x = torch.randn(8, 24)
    out = module(x)
    assert out.z.shape == (8, 3) and out.x_hat.shape == x.shape
    loss = (out.x_hat - x).square().mean() + sum(out.penalties.values())
    loss.backward()
    grads = [p.grad for p in module.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    expected = {PENALTIES[c.name] for c in constraints if c.name in PENALTIES}
    assert expected <= set(out.penalties)


@pytest.mark.parametrize("architecture", ARCHS)
def test_sparsity_kl_with_a_sigmoid_coding(architecture: str) -> None:
    module = _module(architecture, constraints=(Sparsity(),), coding_activation="sigmoid")
    out = module(torch.randn(8, 24))
    assert out.z.min() > 0 and out.z.max() < 1 and "sparsity" in out.penalties


@pytest.mark.parametrize("architecture", ARCHS)
def test_variational_replaces_the_coding_layer(architecture: str) -> None:
    module = _module(architecture, constraints=(Variational(),))
    assert isinstance(module.encoder[-1], nn.Linear) and module.encoder[-1].out_features == 6
    out = module(torch.randn(4, 24))
    assert out.mu is not None and out.mu.shape == (4, 3)


@pytest.mark.parametrize("architecture", ARCHS)
def test_tied_weights_is_refused_with_a_reason(architecture: str) -> None:
    with pytest.raises(InvalidInputError,
                       match=f"TiedWeights cannot be used with architecture='{architecture}': "):
        _module(architecture, constraints=(TiedWeights(),))


@pytest.mark.parametrize("architecture", ARCHS)
@pytest.mark.parametrize("constraints", [(), (Denoising(),), (Variational(),),
                                         (WinnerTakeAll(k=0.3),), (CodingNoise(),)],
                         ids=["none", "denoising", "variational", "wta", "coding_noise"])
def test_eval_mode_is_deterministic(architecture: str, constraints: tuple) -> None:
    module = _module(architecture, constraints=constraints).eval()
    x = torch.randn(6, 24)
    with torch.no_grad():
        first, second = module(x), module(x)
    assert torch.equal(first.z, second.z) and torch.equal(first.x_hat, second.x_hat)
    # One sample's coding does not depend on the rest of the batch.
    with torch.no_grad():
        alone = module(x[:1]).z
    torch.testing.assert_close(alone, first.z[:1])


@pytest.mark.parametrize("architecture", ARCHS)
def test_bf16_autocast_trains(architecture: str) -> None:
    """Under bf16 autocast the recurrences run in float32 (see ``_run``), the rest in bf16."""
    module = _module(architecture, constraints=(Variational(),))
    x = torch.randn(6, 24)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(x)
        loss = (out.x_hat.float() - x).square().mean() + sum(out.penalties.values())
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.dtype == torch.float32
               for p in module.parameters())


# -- shapes the estimator resolves -------------------------------------------------------------
def test_sequence_architectures_are_known() -> None:
    assert set(SEQUENCE_ARCHITECTURES) <= set(ARCHITECTURES)


@pytest.mark.parametrize("shape, sample, n_features, expected", [
    (None, None, 20, (20, 1)),
    (None, (20,), 20, (20, 1)),
    (None, (10, 2), 20, (10, 2)),
    ((10, 2), None, 20, (10, 2)),
    ((20,), None, 20, (20, 1)),
])
def test_sequence_shape_resolution(shape, sample, n_features, expected) -> None:
    assert resolve_sequence_shape(shape, sample, n_features) == expected
    assert resolve_input_shape("gru", shape, sample, n_features) == expected


def test_sequence_shape_errors() -> None:
    with pytest.raises(InvalidInputError,
                       match=r"architecture='lstm' takes sequences of shape \(n, timesteps, "
                             r"channels\) or \(n, timesteps\); got samples of shape \(2, 3, 4\)"):
        resolve_sequence_shape(None, (2, 3, 4), 24, "lstm")
    with pytest.raises(InvalidInputError, match=r"The sequence shape \(7, 2\) does not fit "
                                                r"inputs with 20 features per sample"):
        resolve_sequence_shape((7, 2), None, 20)
    assert resolve_input_shape("mlp", None, None, 20) is None


def test_flat_rows_are_one_channel_when_no_shape_is_given() -> None:
    generator = torch.Generator().manual_seed(0)
    module = build_module(_params("lstm"), 15, None, (), generator, 0)
    assert module.encoder[0].timesteps == 15 and module.encoder[0].channels == 1
    module = build_module(_params("conv1d", image_shape=(5, 3)), 15, None, (), generator, 0)
    assert module.encoder[0].timesteps == 5 and module.encoder[0].channels == 3


# -- ONNX --------------------------------------------------------------------------------------
class _Encode(nn.Module):
    def __init__(self, module: AutoEncoderModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.encode(x).z


class _Decode(_Encode):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.module.decode(z)


def _check_onnx(architecture: str, tmp_path) -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    module = _module(architecture, (9, 2), hidden_layer_sizes=(4,)).eval()
    for graph, width in ((_Encode(module), 18), (_Decode(module), 3)):
        batch = torch.export.Dim("batch")
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(graph, (torch.randn(2, width),), dynamo=True,
                                        dynamic_shapes=({0: batch},))
        path = tmp_path / f"{architecture}-{type(graph).__name__}.onnx"
        program.save(str(path))
        session = ort.InferenceSession(str(path))
        x = torch.randn(5, width)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            np.testing.assert_allclose(got, graph(x).numpy(), rtol=1e-4, atol=1e-5)


def test_conv1d_exports_to_onnx(tmp_path) -> None:
    _check_onnx("conv1d", tmp_path)


@pytest.mark.slow  # about 20 s per half: torch.export traces the recurrent layers
@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_recurrent_exports_to_onnx(architecture: str, tmp_path) -> None:
    _check_onnx(architecture, tmp_path)


# -- the estimator path (waits for AutoEncoder to accept sequences) ----------------------------
def _windows(n: int = 40, timesteps: int = 10, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(timesteps)[None, :, None] + rng.uniform(0, 10, (n, 1, 1))
    return np.sin(t * np.arange(1, channels + 1)) + 0.05 * rng.standard_normal(
        (n, timesteps, channels))




def test_the_parameter_table_knows_the_sequence_architectures() -> None:
    from codings._params import ARCHITECTURES as TABLE

    assert set(TABLE) == set(ARCHITECTURES)


@pytest.mark.parametrize("architecture", ARCHS)
def test_estimator_transform_and_inverse_shapes(architecture: str) -> None:
    X = _windows()
    model = AutoEncoder(architecture=architecture, n_components=3, hidden_layer_sizes=(4,),
                        max_iter=2, random_state=0).fit(X)
    assert model.transform(X).shape == (40, 3)
    assert model.inverse_transform(model.transform(X)).shape == (40, 10, 2)
    assert model.n_features_in_ == 20


@pytest.mark.parametrize("architecture", ARCHS)
def test_estimator_keeps_a_2d_input_2d(architecture: str) -> None:
    X = _windows(channels=1)[:, :, 0]
    model = AutoEncoder(architecture=architecture, n_components=3, hidden_layer_sizes=(4,),
                        max_iter=2, random_state=0).fit(X)
    assert model.transform(X).shape == (40, 3)
    assert model.inverse_transform(model.transform(X)).shape == (40, 10)


def test_estimator_refuses_a_different_sequence_shape() -> None:
    model = AutoEncoder(architecture="gru", n_components=3, hidden_layer_sizes=(4,),
                        max_iter=1, random_state=0).fit(_windows())
    with pytest.raises(InvalidInputError, match="shape"):
        model.transform(_windows(timesteps=5, channels=4))


def test_estimator_takes_read_only_windows() -> None:
    from codings.datasets import sliding_windows

    series = np.sin(np.arange(300) / 5)[:, None] * [1.0, 0.5]
    windows = sliding_windows(series, 16, stride=4)
    model = AutoEncoder(architecture="conv1d", n_components=2, hidden_layer_sizes=(4,),
                        max_iter=2, random_state=0).fit(windows)
    assert model.transform(windows).shape == (len(windows), 2)


def test_estimator_save_and_load(tmp_path) -> None:
    from codings import load

    X = _windows()
    model = AutoEncoder(architecture="lstm", n_components=3, hidden_layer_sizes=(4,),
                        max_iter=2, random_state=0).fit(X)
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(load(tmp_path / "m.safetensors").transform(X),
                                  model.transform(X))


@pytest.mark.parametrize("architecture", ["lstm", "gru", "conv1d"])
def test_estimator_learns_a_periodic_signal(architecture):
    """A smooth periodic signal is learned within 150 optimizer steps (clipping for recurrent
    cells is on by default): far better than predicting the mean window (measured: 0.20 of
    its error for lstm and gru, 0.13 for conv1d)."""
    from codings import AutoEncoder
    from codings.datasets import sliding_windows

    t = np.arange(1200)
    rng = np.random.default_rng(0)
    series = np.sin(2 * np.pi * t / 40) + 0.5 * np.sin(2 * np.pi * t / 13) \
        + 0.05 * rng.normal(size=t.size)
    windows = sliding_windows(series.astype(np.float32), 48, stride=4)  # (289, 48, 1)
    ae = AutoEncoder(n_components=8, hidden_layer_sizes=(32,), architecture=architecture,
                     batch_size=64, max_iter=30, random_state=0).fit(windows)  # 150 steps
    error = ae.reconstruction_error(windows).mean()
    baseline = float(np.mean((windows - windows.mean(axis=0)) ** 2))
    assert ae.reconstruct(windows).shape == windows.shape
    assert error < 0.25 * baseline, (error, baseline)

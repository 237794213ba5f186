"""The AutoEncoder estimator: the user's example, training behaviour, determinism, validation."""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from codings import AutoEncoder, InvalidInputError
from codings.exceptions import TrainingDivergedError
from codings.training import Callback, TrainingDivergedWarning


def test_the_issue_example_runs_end_to_end(digits, tmp_path):
    from codings import load

    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(32,), activation="elu",
                     max_iter=50, random_state=0)
    with pytest.warns(UserWarning, match="does not look scaled"):
        ae.fit(digits)
    assert ae.loss_curve_[-1] < 0.5 * ae.loss_curve_[0]
    Z = ae.transform(digits)
    assert Z.shape == (1797, 2) and Z.dtype == np.float64
    X_hat = ae.inverse_transform(Z)
    assert X_hat.shape == (1797, 64)
    scores = ae.score_samples(digits)
    assert scores.shape == (1797,) and (scores <= 0).all()
    ae.save(tmp_path / "digits.safetensors")
    same = load(tmp_path / "digits.safetensors")
    np.testing.assert_array_equal(same.transform(digits), Z)


def test_scaled_digits_beat_pca_with_two_codings(digits):
    from sklearn.decomposition import PCA

    X = StandardScaler().fit_transform(digits)
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(32,), max_iter=50,
                     random_state=0).fit(X)
    pca = PCA(2).fit(X)
    ae_mse = ((ae.reconstruct(X) - X) ** 2).mean()
    pca_mse = ((pca.inverse_transform(pca.transform(X)) - X) ** 2).mean()
    assert ae_mse < pca_mse  # the nonlinear decoder finds a curved manifold


def test_runs_exactly_max_iter_epochs_and_records_every_term(small_data):
    ae = AutoEncoder(hidden_layer_sizes=(8,), max_iter=7, random_state=0).fit(small_data)
    assert ae.n_iter_ == 7
    assert set(ae.history_) >= {"loss", "reconstruction", "lr", "time"}
    assert all(len(values) == 7 for values in ae.history_.values())
    assert ae.loss_curve_ == ae.history_["loss"]


def test_loss_falls(small_data):
    ae = AutoEncoder(hidden_layer_sizes=(16,), max_iter=60, learning_rate=0.01,
                     random_state=0).fit(small_data)
    assert ae.loss_curve_[-1] < 0.2 * ae.loss_curve_[0]


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "nadam"])
def test_every_optimizer_trains(small_data, optimizer):
    ae = AutoEncoder(hidden_layer_sizes=(8,), optimizer=optimizer, learning_rate=0.01,
                     max_iter=30, random_state=0).fit(small_data)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_cosine_schedule_anneals_and_plateau_reduces(small_data):
    cosine = AutoEncoder(max_iter=10, lr_schedule="cosine", learning_rate=0.1,
                         random_state=0).fit(small_data)
    lrs = cosine.history_["lr"]
    assert lrs[0] == pytest.approx(0.1) and all(a > b for a, b in pairwise(lrs))
    # A learning rate far too high makes the loss stall, so the plateau schedule halves it.
    # (SGD at 0.5 explodes instead, 3.9 -> 2e5 in one epoch: the divergence guard stops that.)
    plateau = AutoEncoder(max_iter=40, lr_schedule="plateau", n_iter_no_change=2,
                          optimizer="adam", learning_rate=0.2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingDivergedWarning)
        plateau.fit(small_data)
    assert min(plateau.history_["lr"]) < 0.5


def test_full_batch_equals_one_batch_of_all_rows(small_data):
    full = AutoEncoder(batch_size=None, max_iter=5, random_state=0).fit(small_data)
    same = AutoEncoder(batch_size=len(small_data), max_iter=5, random_state=0).fit(small_data)
    capped = AutoEncoder(batch_size=10_000, max_iter=5, random_state=0).fit(small_data)
    np.testing.assert_array_equal(full.transform(small_data), same.transform(small_data))
    np.testing.assert_array_equal(full.transform(small_data), capped.transform(small_data))


def test_early_stopping_stops_and_restores_the_best_weights(small_data):
    ae = AutoEncoder(hidden_layer_sizes=(8,), max_iter=500, early_stopping=True,
                     n_iter_no_change=3, tol=0.5, random_state=0).fit(small_data)
    assert ae.n_iter_ < 500 and ae.stop_reason_ == "early_stopping"
    assert "val_loss" in ae.history_


def test_bce_outputs_probabilities_and_is_stable_on_saturated_data(digits):
    X = (digits / 16.0 > 0.5).astype(np.float64)  # exact 0s and 1s: log(0) if done naively
    ae = AutoEncoder(n_components=4, loss="bce", learning_rate=0.05, max_iter=20,
                     random_state=0).fit(X)
    X_hat = ae.inverse_transform(ae.transform(X))
    assert X_hat.min() >= 0 and X_hat.max() <= 1
    assert np.isfinite(ae.loss_curve_).all() and ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_divergence_stops_restores_and_warns(small_data):
    X = small_data * 1e18
    ae = AutoEncoder(hidden_layer_sizes=(8,), optimizer="sgd", learning_rate=10.0,
                     momentum=0.0, max_iter=50, random_state=0)
    with pytest.warns(TrainingDivergedWarning, match="Lower the learning rate"):
        ae.fit(X)
    assert ae.stop_reason_ == "diverged" and ae.n_iter_ < 50
    assert not np.isfinite(ae.loss_curve_[-1])  # the history records where it happened
    assert all(torch.isfinite(p).all() for p in ae.module_.parameters())


def test_divergence_raises_in_strict_mode(small_data):
    ae = AutoEncoder(optimizer="sgd", learning_rate=10.0, momentum=0.0, max_iter=50,
                     on_nonfinite="raise", random_state=0)
    with pytest.raises(TrainingDivergedError, match="NaN or infinite at epoch"):
        ae.fit(small_data * 1e18)


def test_random_state_gives_bit_identical_fits_and_leaves_global_rngs_alone(small_data):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    threads = torch.get_num_threads()
    a = AutoEncoder(max_iter=5, random_state=3).fit(small_data)
    b = AutoEncoder(max_iter=5, random_state=3).fit(small_data)
    for p, q in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.get_num_threads() == threads
    c = AutoEncoder(max_iter=5, random_state=4).fit(small_data)
    assert not np.array_equal(a.transform(small_data), c.transform(small_data))


def test_dtypes_are_preserved_and_ints_accepted(small_data):
    ae = AutoEncoder(max_iter=2, random_state=0).fit(small_data.astype(np.float32))
    assert ae.transform(small_data.astype(np.float32)).dtype == np.float32
    assert ae.transform(small_data).dtype == np.float64
    ints = AutoEncoder(max_iter=2, random_state=0).fit(np.arange(60).reshape(10, 6))
    assert ints.transform(np.arange(60).reshape(10, 6)).dtype == np.float64


def test_transform_does_not_depend_on_batching_or_row_order(small_data):
    ae = AutoEncoder(max_iter=3, random_state=0).fit(small_data)
    Z = ae.transform(small_data)
    rows = np.random.RandomState(1).permutation(len(small_data))
    np.testing.assert_allclose(ae.transform(small_data[rows]), Z[rows], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ae.transform(small_data[:1]), Z[:1], rtol=0, atol=1e-12)
    # float32 input runs in float32: batch-size effects stay within float32 rounding.
    Z32 = ae.transform(small_data.astype(np.float32))
    np.testing.assert_allclose(Z32[:1], ae.transform(small_data[:1].astype(np.float32)),
                               rtol=1e-5, atol=1e-6)


def test_pandas_lists_feature_names_and_set_output(small_data):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(small_data, columns=[f"f{i}" for i in range(6)])
    ae = AutoEncoder(max_iter=2, random_state=0).fit(frame)
    assert list(ae.feature_names_in_) == list(frame.columns)
    assert list(ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]
    out = ae.set_output(transform="pandas").transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["autoencoder0",
                                                                   "autoencoder1"]
    listed = AutoEncoder(max_iter=2, random_state=0).fit(small_data.tolist())
    assert listed.transform(small_data.tolist()).shape == (len(small_data), 2)


def test_score_samples_is_minus_reconstruction_error(small_data):
    ae = AutoEncoder(max_iter=3, random_state=0).fit(small_data)
    error = ae.reconstruction_error(small_data)
    X_hat = ae.inverse_transform(ae.transform(small_data))
    np.testing.assert_allclose(error, ((X_hat - small_data) ** 2).mean(axis=1), rtol=1e-10)
    np.testing.assert_array_equal(ae.score_samples(small_data), -error)
    assert ae.score(small_data) == pytest.approx(-error.mean())
    np.testing.assert_allclose(ae.reconstruct(small_data), X_hat, rtol=1e-10)


def test_works_in_a_pipeline(small_data):
    pipe = make_pipeline(StandardScaler(), AutoEncoder(max_iter=3, random_state=0))
    assert pipe.fit_transform(small_data).shape == (len(small_data), 2)


def test_callbacks_see_every_epoch(small_data):
    class Recorder(Callback):
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def on_epoch_end(self, epoch, logs):
            self.epochs.append(epoch)

    recorder = Recorder()
    AutoEncoder(max_iter=4, random_state=0).fit(small_data, callbacks=[recorder])
    assert recorder.epochs == [0, 1, 2, 3]


def test_verbose_prints_one_line_per_epoch_when_not_a_terminal(small_data, capsys):
    AutoEncoder(max_iter=3, verbose=1, random_state=0).fit(small_data)
    lines = [line for line in capsys.readouterr().err.splitlines() if "epoch" in line]
    assert len(lines) == 3 and "loss=" in lines[0]


def test_layers_follow_the_parameters():
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(16, 8), activation="tanh",
                     coding_activation="identity", output_activation="sigmoid",
                     max_iter=1, random_state=0).fit(np.random.RandomState(0).rand(20, 10))
    encoder, decoder = ae.module_.encoder, ae.module_.decoder
    shapes = [tuple(m.weight.shape) for m in encoder if isinstance(m, torch.nn.Linear)]
    assert shapes == [(16, 10), (8, 16), (3, 8)]
    assert [type(m).__name__ for m in encoder] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert type(decoder[-1]).__name__ == "Sigmoid"


@pytest.mark.parametrize(("scheme", "activation", "expected_std"), [
    ("he", "relu", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
    ("glorot", "tanh", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
    ("auto", "elu", lambda fan_in, fan_out: np.sqrt(2 / fan_in)),
    ("auto", "sigmoid", lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out))),
])
def test_initialisation_has_the_expected_spread(scheme, activation, expected_std):
    from codings.nn import build_mlp

    encoder, _ = build_mlp(400, (300,), 20, activation, activation, "identity", scheme,
                           torch.Generator().manual_seed(0))
    weight = encoder[0].weight.detach().numpy()
    assert weight.std() == pytest.approx(expected_std(400, 300), rel=0.03)
    assert not encoder[0].bias.detach().any()


@pytest.mark.parametrize(("params", "match"), [
    ({"n_components": 0}, r"The 'n_components' parameter of AutoEncoder must be an int >= 1"),
    ({"hidden_layer_sizes": (10, -1)}, r"'hidden_layer_sizes' parameter .* positive ints"),
    ({"activation": "rellu"}, r"'activation' parameter .* Did you mean 'relu'"),
    ({"loss": "mae"}, r"'loss' parameter of AutoEncoder must be one of 'mse', 'bce'"),
    ({"loss": "bce", "output_activation": "tanh"}, r"'output_activation' .* loss='bce'"),
    ({"learning_rate": -1.0}, r"'learning_rate' parameter .* a float > 0"),
    ({"batch_size": 0}, r"'batch_size' parameter .* >= 1"),
    ({"max_iter": 2.5}, r"'max_iter' parameter .* an int"),
    ({"validation_fraction": 1.0}, r"'validation_fraction' .* < 1"),
    ({"optimizer": "adamw"}, r"'optimizer' parameter"),
    ({"constraints": ("denoising",)}, r"'constraints' parameter .* Constraint objects"),
    ({"device": "cuda:7"}, r"CUDA is not available|cuda"),
])
def test_bad_hyperparameters_get_one_clear_message(small_data, params, match):
    if params.get("device", "").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(InvalidInputError, match=match):
        AutoEncoder(**{"max_iter": 1, **params}).fit(small_data)


def test_overcomplete_without_constraint_warns_why(small_data):
    with pytest.warns(UserWarning, match="can learn to copy its input"):
        AutoEncoder(n_components=6, max_iter=1, random_state=0).fit(small_data)


@pytest.mark.parametrize(("X", "match"), [
    (np.array([[1.0, np.nan], [2.0, 3.0]]), r"NaN at row 0, column 1"),
    (np.array([[1.0, 2.0], [np.inf, 3.0]]), r"infinity \(inf\) at row 1, column 0"),
    (np.ones(5), r"Expected 2D array, got 1D array"),
    (np.ones((0, 3)), r"0 sample\(s\)"),
    (np.ones((4, 3, 2)), r"Found array with dim 3"),
    ([["a", "b"], ["c", "d"]], r"must be numeric"),
])
def test_bad_input_to_fit_gets_a_clear_error(X, match):
    with pytest.raises(InvalidInputError, match=match):
        AutoEncoder(n_components=1, max_iter=1).fit(X)


def test_sparse_input_is_refused_with_the_fix():
    from scipy import sparse

    with pytest.raises(InvalidInputError, match=r"Sparse input is not supported.*toarray"):
        AutoEncoder(n_components=1, max_iter=1).fit(sparse.random(10, 4, density=0.5))


def test_transform_checks_features_and_fitting(small_data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoEncoder().transform(small_data)
    ae = AutoEncoder(max_iter=1, random_state=0).fit(small_data)
    with pytest.raises(InvalidInputError, match=r"X has 5 features, but AutoEncoder is "
                                                r"expecting 6 features"):
        ae.transform(small_data[:, :5])
    with pytest.raises(InvalidInputError, match=r"expects codings with 2 columns"):
        ae.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(InvalidInputError, match=r"NaN at row 2, column 4"):
        ae.score_samples(_with_nan(small_data, 2, 4))


def _with_nan(X: np.ndarray, row: int, col: int) -> np.ndarray:
    X = X.copy()
    X[row, col] = np.nan
    return X


def test_bf16_mixed_precision_trains_like_float32(small_data):
    from codings.training.loop import bf16_supported

    if not bf16_supported(torch.device("cpu")):
        pytest.skip("no native bfloat16 on this CPU")
    fp32 = AutoEncoder(max_iter=30, learning_rate=0.01, random_state=0).fit(small_data)
    bf16 = AutoEncoder(max_iter=30, learning_rate=0.01, precision="bf16-mixed",
                       random_state=0).fit(small_data)
    assert bf16.module_.encoder[0].weight.dtype == torch.float32
    assert bf16.loss_curve_[-1] == pytest.approx(fp32.loss_curve_[-1], rel=0.15)
    assert bf16.loss_curve_ != fp32.loss_curve_  # autocast really ran


def test_bf16_falls_back_to_float32_with_a_warning(small_data, monkeypatch):
    import codings.estimators._fitting as module

    monkeypatch.setattr(module, "bf16_supported", lambda device: False)
    with pytest.warns(UserWarning, match="training in float32 instead"):
        ae = AutoEncoder(max_iter=3, precision="bf16-mixed", random_state=0).fit(small_data)
    reference = AutoEncoder(max_iter=3, random_state=0).fit(small_data)
    assert ae.loss_curve_ == reference.loss_curve_


def test_divergence_restores_weights_that_are_really_the_best():
    X = np.random.default_rng(0).uniform(size=(150, 20)).astype(np.float32)
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(10,), optimizer="sgd", batch_size=None,
                     learning_rate=1e3, momentum=0.0, max_iter=3, random_state=0)
    with pytest.warns(TrainingDivergedWarning, match="lowest loss"):
        ae.fit(X)
    best = min(v for v in ae.loss_curve_ if np.isfinite(v))
    # The loss of an epoch describes the weights it started from: those are restored.
    assert ae.reconstruction_error(X).mean() == pytest.approx(best, rel=0.05)

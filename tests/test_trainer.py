"""The one trainer: every exit path finalises the same way, every fault is fixed as a kind.

Each test is a fault that the earlier trainer had (issue 10), reproduced and then asserted
correct: early stopping that ends at max_iter, losses that explode but stay finite, the
final weights, resume that tells the truth, runs sharing a checkpoint folder, one-row batches,
per-rank noise under torchrun, and one precision for training and validation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from torch import nn

from codings import AutoEncoder, Contractive, Sparsity, Variational, WeightDecay
from codings.datasets import load_digits
from codings.exceptions import InvalidInputError, TrainingDivergedError
from codings.training import Callback, Trainer, TrainingDivergedWarning
from codings.training.sources import TensorSource, shard, split_batches


@pytest.fixture(scope="module")
def digits80() -> np.ndarray:
    X = load_digits().data[:80]
    return StandardScaler().fit_transform(X).astype(np.float32)


class Snapshots(Callback):
    """The weights after every epoch."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, epoch, logs):
        self.states.append({k: v.detach().clone() for k, v in self.module.state_dict().items()})


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


# -- 1. every exit path restores the best weights by one rule ---------------------------
def test_early_stopping_that_ends_at_max_iter_keeps_the_best_validation_epoch(digits80):
    snapshots = Snapshots()
    ae = AutoEncoder(n_components=16, hidden_layer_sizes=(64,), learning_rate=0.05,
                     batch_size=16, early_stopping=True, validation_fraction=0.25,
                     n_iter_no_change=100, max_iter=30, random_state=3)
    ae.fit(digits80, callbacks=[snapshots])
    assert ae.stop_reason_ == "max_iter" and ae.n_iter_ == 30
    val = ae.history_["val_loss"]
    best = int(np.argmin(val))
    assert best != len(val) - 1, "the reproduction needs a best epoch before the last"
    assert _same(ae.module_.state_dict(), snapshots.states[best])


def test_without_validation_the_last_weights_are_kept(digits80):
    snapshots = Snapshots()
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    ae.fit(digits80, callbacks=[snapshots])
    assert ae.stop_reason_ == "max_iter"
    assert _same(ae.module_.state_dict(), snapshots.states[-1])


# -- 2. divergence: non-finite or exploding, during an epoch or after its last step ------
@pytest.mark.parametrize("params", [
    {"learning_rate": 1e3},
    {"learning_rate": 1e3, "loss": "bce"},
    {"learning_rate": 10.0, "loss": "bce", "constraints": (Variational(),)},
], ids=["adam-mse", "adam-bce", "vae-bce"])
def test_an_exploding_finite_loss_ends_training_as_divergence(params):
    X = load_digits().data[:200] / 16
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), max_iter=40, random_state=0,
                     **params)
    with pytest.warns(TrainingDivergedWarning, match="diverged|exploded|NaN"):
        ae.fit(X)
    assert ae.stop_reason_ == "diverged" and ae.n_iter_ < 40
    assert np.isfinite(ae.reconstruction_error(X)).all()
    with pytest.raises(TrainingDivergedError):
        AutoEncoder(n_components=4, hidden_layer_sizes=(32,), max_iter=40, random_state=0,
                    on_nonfinite="raise", **params).fit(X)


def test_the_weights_after_the_last_step_are_checked():
    # The one epoch's loss was measured on the initial weights; the single huge SGD step
    # ruins the weights after it. Only a check of the final weights can see that.
    X = load_digits().data[:100] / 16
    initial = AutoEncoder(n_components=3, hidden_layer_sizes=(10,), max_iter=1,
                          learning_rate=1e-12, optimizer="sgd", momentum=0.0,
                          batch_size=None, random_state=0).fit(X)
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(10,), max_iter=1,
                     learning_rate=1e30, optimizer="sgd", momentum=0.0, batch_size=None,
                     random_state=0)
    with pytest.warns(TrainingDivergedWarning, match="after the last step of epoch 1"):
        ae.fit(X)
    assert ae.stop_reason_ == "diverged"
    # The weights the loss was measured on (the initial ones) are restored.
    np.testing.assert_allclose(ae.reconstruction_error(X), initial.reconstruction_error(X),
                               rtol=1e-4)


@pytest.mark.parametrize(("constraint", "named"), [
    (Variational(beta=1e8), "Variational's beta"),
    (Sparsity(kind="l1", weight=1e9), "Sparsity's weight"),
    (WeightDecay(l2=1e6), "WeightDecay's l2"),
    (Contractive(weight=1e9), "Contractive's weight"),
])
def test_a_penalty_that_explodes_is_named(constraint, named):
    X = StandardScaler().fit_transform(load_digits().data[:200])
    ae = AutoEncoder(n_components=3, hidden_layer_sizes=(16,), max_iter=30, random_state=0,
                     learning_rate=1.0, constraints=(constraint,), on_nonfinite="raise",
                     optimizer="sgd", momentum=0.0)
    with pytest.raises(TrainingDivergedError, match=named):
        ae.fit(X)


# -- 3. resume tells the truth ------------------------------------------------------------
def test_a_new_learning_rate_applies_from_the_resumed_epoch(tmp_path, digits80):
    params = dict(n_components=4, hidden_layer_sizes=(16,), random_state=0,
                  checkpoint_dir=tmp_path)
    AutoEncoder(**params, max_iter=3, learning_rate=1e-3).fit(digits80)
    ae = AutoEncoder(**params, max_iter=6, learning_rate=5e-3, resume=True).fit(digits80)
    assert ae.history_["lr"] == pytest.approx([1e-3] * 3 + [5e-3] * 3)


def test_resume_refuses_a_changed_optimizer_by_name(tmp_path, digits80):
    params = dict(n_components=4, hidden_layer_sizes=(16,), random_state=0,
                  checkpoint_dir=tmp_path, max_iter=2)
    AutoEncoder(**params).fit(digits80)
    with pytest.raises(InvalidInputError, match="optimizer='sgd'"):
        AutoEncoder(**params, optimizer="sgd", resume=True).fit(digits80)
    with pytest.raises(InvalidInputError, match="other data"):
        AutoEncoder(**params, resume=True).fit(digits80[::-1].copy())


def test_resuming_a_diverged_run_needs_a_new_learning_rate(tmp_path):
    X = load_digits().data[:100] / 16
    params = dict(n_components=3, hidden_layer_sizes=(16,), random_state=0, max_iter=20,
                  checkpoint_dir=tmp_path)
    with pytest.warns(TrainingDivergedWarning):
        AutoEncoder(**params, learning_rate=1e3).fit(X)
    with pytest.raises(InvalidInputError, match=r"diverged at epoch .* lower learning_rate"):
        AutoEncoder(**params, learning_rate=1e3, resume=True).fit(X)
    ae = AutoEncoder(**params, learning_rate=1e-3, resume=True).fit(X)
    assert ae.stop_reason_ == "max_iter" and ae.n_iter_ == 20
    assert ae.history_["lr"][-1] == pytest.approx(1e-3)


# -- 4. a fresh fit never adopts or deletes another run's checkpoints --------------------
def test_a_fresh_fit_refuses_a_folder_with_another_runs_checkpoints(tmp_path, digits80):
    AutoEncoder(n_components=4, max_iter=3, random_state=0,
                checkpoint_dir=tmp_path).fit(digits80)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidInputError, match=str(tmp_path.name) + ".*resume=True"):
        AutoEncoder(n_components=2, max_iter=1, random_state=1,
                    checkpoint_dir=tmp_path).fit(digits80)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- 5. no one-row training batch, by any splitter ---------------------------------------
class BatchNormEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize(("n", "params"), [
    (257, {"batch_size": 256}),
    (45, {"batch_size": 8, "early_stopping": True, "validation_fraction": 0.1}),  # 41 = 5x8+1
])
def test_a_remainder_of_one_row_is_folded_not_trained_alone(n, params):
    X = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
    ae = AutoEncoder(n_components=2, encoder=BatchNormEncoder(), decoder=nn.Linear(2, 6),
                     max_iter=2, random_state=0, **params)
    ae.fit(X)  # a 1-row batch raised torch's "Expected more than 1 value per channel"
    assert ae.n_iter_ == 2


@pytest.mark.parametrize("world", [1, 2, 3])
def test_every_splitter_folds_the_last_single_row(world):
    for n in range(2, 40):
        perm = torch.arange(n - n % world)
        for rank in range(world):
            sizes = [len(b) for b in shard(perm, 4, rank, world)]
            assert sum(sizes) * world == perm.numel()
            assert min(sizes) > 1 or perm.numel() // world < 2
    assert [len(b) for b in split_batches(torch.arange(9), 4)] == [4, 5]
    assert [len(b) for b in split_batches(torch.arange(9), 1)] == [1] * 9


# -- 6. every stochastic layer follows the per-rank generator -----------------------------
def test_set_generator_reaches_noise_layers():
    from codings import CodingNoise

    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), constraints=(CodingNoise(),),
                     max_iter=1, random_state=0).fit(np.random.rand(20, 6))
    rank_generator = torch.Generator().manual_seed(123)
    ae.module_.set_generator(rank_generator)
    holders = [m for m in ae.module_.modules() if hasattr(m, "generator")]
    assert len(holders) >= 2 and all(m.generator is rank_generator for m in holders)


# -- 7. training and validation share the precision context -------------------------------
def test_training_and_validation_run_under_the_same_precision():
    seen: dict[str, set[bool]] = {"train": set(), "eval": set()}

    def objective(module, x):
        seen["train" if module.training else "eval"].add(torch.is_autocast_enabled("cpu"))
        out = module(x)
        return {"loss": (out.float() - x).square().mean()}

    module = nn.Linear(4, 4)
    x = torch.randn(32, 4)
    trainer = Trainer(module, objective, torch.optim.SGD(module.parameters(), lr=0.01),
                      generator=torch.Generator().manual_seed(0), precision="bf16-mixed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(TensorSource(x), 2, 8, validation=TensorSource(x[:8]))
    assert seen == {"train": {True}, "eval": {True}}


def test_a_callback_can_stop_training():
    class StopAtThree(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 2:
                self.trainer.stop("early_stopping")

    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    ae.fit(np.random.default_rng(0).normal(size=(40, 6)), callbacks=[StopAtThree()])
    assert ae.n_iter_ == 3 and ae.stop_reason_ == "early_stopping"

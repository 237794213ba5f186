"""n_jobs: the threads torch uses during a call, restored after; --jobs on every command."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from codings import AnomalyDetector, AutoEncoder
from codings._threads import limit_threads, resolve_n_jobs
from codings.training import Callback


class RecordThreads(Callback):
    def __init__(self) -> None:
        self.seen: set[int] = set()

    def on_epoch_end(self, epoch, logs):
        self.seen.add(torch.get_num_threads())


def test_fit_uses_n_jobs_threads_and_restores_the_callers(small_data):
    before = torch.get_num_threads()
    record = RecordThreads()
    AutoEncoder(max_iter=2, n_jobs=2, random_state=0).fit(small_data, callbacks=[record])
    assert record.seen == {2}
    assert torch.get_num_threads() == before


def test_the_default_is_one_thread_unless_omp_num_threads_says(monkeypatch, small_data):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_n_jobs(None) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_n_jobs(None) == 3
    assert resolve_n_jobs(-1) == (os.cpu_count() or 1)
    assert resolve_n_jobs(5) == min(5, os.cpu_count() or 1)


def test_n_jobs_is_capped_at_the_cores(small_data):
    """The red team's AutoEncoder(n_jobs=10**6) left 32,094 threads behind."""
    cores = os.cpu_count() or 1
    assert resolve_n_jobs(10**6) == cores
    with limit_threads(10**6) as threads:
        assert threads == cores and torch.get_num_threads() == cores


def test_an_enclosing_limit_is_kept_by_inner_defaults():
    with limit_threads(2):
        with limit_threads(None) as inner:
            assert inner == 2 and torch.get_num_threads() == 2


def test_detector_applies_its_n_jobs(small_data, monkeypatch):
    seen = []
    ae = AutoEncoder(max_iter=1, random_state=0).fit(small_data)
    original = AutoEncoder.score_samples

    def spy(self, X):
        seen.append(torch.get_num_threads())
        return original(self, X)

    monkeypatch.setattr(AutoEncoder, "score_samples", spy)
    AnomalyDetector(ae, n_jobs=2).fit(small_data).score_samples(small_data)
    assert seen == [2, 2]


def test_n_jobs_zero_is_refused(small_data):
    from codings.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="'n_jobs' parameter"):
        AutoEncoder(max_iter=1, n_jobs=0).fit(small_data)


def test_results_agree_across_thread_counts_to_float_precision(small_data):
    one = AutoEncoder(max_iter=3, n_jobs=1, random_state=0).fit(small_data)
    two = AutoEncoder(max_iter=3, n_jobs=2, random_state=0).fit(small_data)
    np.testing.assert_allclose(one.transform(small_data), two.transform(small_data),
                               rtol=1e-4, atol=1e-5)


def test_every_command_takes_jobs():
    from codings.cli.parser import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        assert any("--jobs" in a.option_strings for a in command._actions), name


def test_bit_identical_means_the_same_thread_count(small_data):
    """What the README promises: the same process count and thread count give bit-identical
    fits (a variational model, whose noise and reductions are the most sensitive)."""
    from codings import Variational

    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0,
                  constraints=(Variational(),))
    a = AutoEncoder(n_jobs=2, **params).fit(small_data)
    b = AutoEncoder(n_jobs=2, **params).fit(small_data)
    assert a.loss_curve_ == b.loss_curve_
    assert all(torch.equal(p, q) for p, q in zip(a.module_.parameters(),
                                                 b.module_.parameters(), strict=True))


def test_classifier_uses_n_jobs_in_fit_and_predict_and_restores(monkeypatch):
    from codings.estimators.classifier import EncoderClassifier

    rng = np.random.default_rng(0)
    X = rng.random((40, 6)).astype(np.float32)
    y = np.where(np.arange(40) < 20, 0, 1)
    y[::3] = -1
    before = torch.get_num_threads()
    record = RecordThreads()
    clf = EncoderClassifier(hidden_layer_sizes=(4,), max_iter=2, n_jobs=2, random_state=0)
    clf.fit(X, y, callbacks=[record])
    assert record.seen == {2}
    assert torch.get_num_threads() == before
    seen = []
    original = EncoderClassifier._predict_proba

    def spy(self, X):
        seen.append(torch.get_num_threads())
        return original(self, X)

    monkeypatch.setattr(EncoderClassifier, "_predict_proba", spy)
    clf.predict(X)
    clf.predict_proba(X)
    assert seen == [2, 2]
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs"):
        EncoderClassifier(n_jobs=0).fit(X, y)

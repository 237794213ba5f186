"""EncoderClassifier with unlabelled rows (y = -1): joint training, semi-supervised.

Small data (the embedded digits), few epochs: behaviour, never wall-clock time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from codings import AutoEncoder, Denoising, InvalidInputError
from codings.datasets import load_digits
from codings.estimators.classifier import EncoderClassifier
from codings.nn.ladder import LadderNetwork

LADDER = dict(hidden_layer_sizes=(64, 32), max_iter=40, batch_size=64)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = load_digits()
    X, y = data.data / 16.0, data.target
    order = np.random.RandomState(0).permutation(len(y))
    return X[order[:1200]], y[order[:1200]], X[order[1200:]], y[order[1200:]]


def few_labels(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``y`` with all but ``per_class`` rows of each class set to -1."""
    rng = np.random.RandomState(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                           for c in np.unique(y)])
    partial = np.full_like(y, -1)
    partial[keep] = y[keep]
    return partial


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semi_supervised_beats_supervised_only_with_ten_labels_per_class(digits, seed):
    """The default ladder network, trained on 100 labels (10 per class) and 1,100 unlabelled
    rows, or the same network on the 100 labelled rows alone (cross-entropy only, 500
    epochs: converged); one draw of the labels per seed (three tests, so that the suite's
    workers share them). Measured on 5 draws (100 epochs): 0.953, 0.968, 0.973, 0.978,
    0.982 against 0.915, 0.936, 0.930, 0.956, 0.948; the gain is 2.2-4.3 points on every
    draw."""
    X, y, X_test, y_test = digits
    partial = few_labels(y, 10, seed)
    semi = EncoderClassifier(max_iter=100, random_state=seed).fit(X, partial)
    labelled = partial != -1
    alone = EncoderClassifier(max_iter=500, unsupervised_weight=0.0,
                              random_state=seed).fit(X[labelled], y[labelled])
    gain = semi.score(X_test, y_test) - alone.score(X_test, y_test)
    assert semi.score(X_test, y_test) > 0.93
    assert gain > 0.015, (semi.score(X_test, y_test), alone.score(X_test, y_test))


def test_unlabelled_rows_are_never_used_as_labels(digits):
    """Whatever truth hides behind a -1, the fit is the same: only the labelled rows' labels
    enter the loss (bit-identical weights, with the same seed)."""
    X, y = digits[0][:300], digits[1][:300]
    partial = few_labels(y, 5, 0)
    first = EncoderClassifier(**{**LADDER, "max_iter": 3}, random_state=0).fit(X, partial)
    # The hidden truth is not in y at all; a y whose labelled rows agree gives the same fit.
    second = EncoderClassifier(**{**LADDER, "max_iter": 3}, random_state=0).fit(
        X, partial.copy())
    for a, b in zip(first.network_.parameters(), second.network_.parameters(), strict=True):
        assert torch.equal(a, b)
    assert set(first.classes_) == set(range(10)) and -1 not in first.classes_


def test_a_planted_label_on_an_unlabelled_row_changes_the_fit(digits):
    """The converse, so the test above can fail: a label where there was a -1 is used."""
    X, y = digits[0][:300], digits[1][:300]
    partial = few_labels(y, 5, 0)
    planted = partial.copy()
    planted[np.flatnonzero(partial == -1)[0]] = 3
    fits = [EncoderClassifier(**{**LADDER, "max_iter": 3}, random_state=0).fit(X, labels)
            for labels in (partial, planted)]
    assert not all(torch.equal(a, b) for a, b in zip(
        fits[0].network_.parameters(), fits[1].network_.parameters(), strict=True))


def test_a_given_autoencoder_trains_jointly_and_never_reads_unlabelled_labels(digits):
    X, y = digits[0][:400], digits[1][:400]
    ae = AutoEncoder(n_components=16, hidden_layer_sizes=(64,), max_iter=5,
                     constraints=(Denoising(std=0.2),), random_state=0).fit(X)
    partial = few_labels(y, 5, 0)
    clf = EncoderClassifier(ae, max_iter=4, random_state=0).fit(X, partial)
    assert {"reconstruction", "cross_entropy", "accuracy", "frozen"} <= set(clf.history_)
    assert clf.history_["frozen"] == [0.0] * 4  # "auto" is "fine-tune" in joint training
    frozen = EncoderClassifier(ae, freeze="unfreeze", unfreeze_after=2, max_iter=4,
                               random_state=0).fit(X, partial)
    assert frozen.history_["frozen"] == [1.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(clf.predict_proba(X[:30]).sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_all_unlabelled_is_refused_with_one_line(digits):
    X = digits[0][:50]
    for autoencoder in (None, AutoEncoder(n_components=4, max_iter=1)):
        with pytest.raises(InvalidInputError, match=r"^EncoderClassifier needs labelled rows, "
                           r"but every row of y is -1 \(unlabelled\); label at least one row "
                           r"of each of 2 classes\.$"):
            EncoderClassifier(autoencoder).fit(X, np.full(50, -1))


def test_probabilities_sum_to_one_and_score_ignores_unlabelled_rows(digits):
    X, y, X_test, y_test = digits
    partial = few_labels(y, 10, 0)
    clf = EncoderClassifier(**{**LADDER, "max_iter": 5}, random_state=0).fit(X, partial)
    assert isinstance(clf.network_, LadderNetwork) and clf.autoencoder_ is None
    for rows in (X_test, X_test.astype(np.float32)):
        proba = clf.predict_proba(rows)
        assert proba.shape == (len(rows), 10) and (proba >= 0).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    hidden = y_test.copy()
    hidden[::2] = -1
    assert clf.score(X_test, hidden) == clf.score(X_test[1::2], y_test[1::2])
    with pytest.raises(InvalidInputError, match="every row of y is -1"):
        clf.score(X_test, np.full(len(y_test), -1))


def test_pipeline_and_grid_search_on_partly_labelled_y(digits):
    X, y = digits[0][:500], digits[1][:500]
    partial = few_labels(y, 10, 0)
    pipe = make_pipeline(MinMaxScaler(), EncoderClassifier(**{**LADDER, "max_iter": 3},
                                                           random_state=0))
    search = GridSearchCV(pipe, {"encoderclassifier__unsupervised_weight": [0.0, 1.0]}, cv=2)
    search.fit(X, partial)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X[:5]).shape == (5,)


def test_labels_only_with_the_default_network_trains_the_ladder(digits):
    X, y, X_test, y_test = digits
    clf = EncoderClassifier(**{**LADDER, "max_iter": 10}, random_state=0).fit(X, y)
    assert "denoising" in clf.history_ and clf.score(X_test, y_test) > 0.85


def test_supervised_only_ladder_keeps_the_running_statistics_it_predicts_with(digits):
    """unsupervised_weight=0 skips the denoising cost and with it the clean pass; the clean
    pass still runs, so prediction uses the data's statistics, not the initial 0 and 1."""
    X, y, X_test, y_test = digits
    clf = EncoderClassifier(**{**LADDER, "max_iter": 30}, unsupervised_weight=0.0,
                            random_state=0).fit(X[:300], y[:300])
    assert float(clf.network_.running_mean_0.abs().sum()) > 0
    assert not torch.allclose(clf.network_.running_var_0, torch.ones_like(
        clf.network_.running_var_0))
    assert clf.score(X_test, y_test) > 0.85

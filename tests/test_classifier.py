"""EncoderClassifier: a softmax head on a pretrained encoder, frozen, fine-tuned or unfrozen."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from codings import AutoEncoder, InvalidInputError, TiedWeights, Variational
from codings.datasets import load_digits
from codings.estimators.classifier import EncoderClassifier
from codings.estimators.detector import is_fitted
from codings.training import Callback

SMALL = dict(n_components=16, hidden_layer_sizes=(64,), batch_size=64)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data / 16.0, digits.target


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, np.ndarray]:
    order = np.random.RandomState(0).permutation(1797)
    return order[:1200], order[1200:]


@pytest.fixture(scope="module")
def fitted_ae(data, split) -> AutoEncoder:
    """Pretrained on the training rows without their labels."""
    return AutoEncoder(**SMALL, max_iter=40, random_state=0).fit(data[0][split[0]])


def _encoder_weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _semi_supervised_labels(estimator):
    # -1 marks an unlabelled row (sklearn.semi_supervised's convention): scikit-learn's own
    # semi-supervised classifiers are given other labels in this check.
    return {"check_classifiers_classes": "-1 marks unlabelled rows, as in LabelSpreading"}


@pytest.mark.filterwarnings("ignore:X does not look scaled", "ignore:n_components=")
@parametrize_with_checks([
    EncoderClassifier(AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=5,
                                  random_state=0),
                      freeze="fine-tune", learning_rate=0.01, max_iter=30, random_state=0),
    EncoderClassifier(AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=5,
                                  random_state=0),
                      freeze="unfreeze", hidden_layer_sizes=(8,), learning_rate=0.01,
                      max_iter=30, random_state=0),
    EncoderClassifier(hidden_layer_sizes=(8,), learning_rate=0.01, max_iter=30, batch_size=64,
                      unsupervised_weight=0.1,
                      random_state=0),  # the ladder network
], expected_failed_checks=_semi_supervised_labels)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_frozen_keeps_the_encoder_and_matches_transform(data, fitted_ae):
    X, y = data
    before = _encoder_weights(fitted_ae.module_)
    clf = EncoderClassifier(fitted_ae, freeze="frozen", max_iter=5, random_state=0)
    clf.fit(X[:300], y[:300])
    assert _equal(_encoder_weights(clf.network_.encoder), _encoder_weights(
        fitted_ae.module_.encoder))
    assert _equal(before, _encoder_weights(fitted_ae.module_))
    assert clf.history_["frozen"] == [1.0] * 5
    with torch.no_grad():
        z = clf.network_.encoder(torch.tensor(X[:50], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(z, fitted_ae.transform(X[:50].astype(np.float32)), atol=1e-6)


def test_fine_tune_changes_a_copy_of_the_encoder(data, fitted_ae):
    X, y = data
    before = _encoder_weights(fitted_ae.module_)
    clf = EncoderClassifier(fitted_ae, freeze="fine-tune", max_iter=3, random_state=0)
    clf.fit(X[:300], y[:300])
    assert not _equal(_encoder_weights(clf.network_.encoder),
                      _encoder_weights(fitted_ae.module_.encoder))
    assert _equal(before, _encoder_weights(fitted_ae.module_))
    assert clf.history_["frozen"] == [0.0] * 3


class _RecordEncoder(Callback):
    def __init__(self, clf: EncoderClassifier) -> None:
        self.clf = clf
        self.snapshots: list[list[torch.Tensor]] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.snapshots.append(_encoder_weights(self.clf.network_.encoder))


def test_unfreeze_trains_the_head_first_then_everything(data, fitted_ae):
    X, y = data
    clf = EncoderClassifier(fitted_ae, freeze="unfreeze", max_iter=6, unfreeze_after=4,
                            random_state=0)
    record = _RecordEncoder(clf)
    clf.fit(X[:300], y[:300], callbacks=[record])
    pretrained = _encoder_weights(fitted_ae.module_.encoder)
    assert [_equal(s, pretrained) for s in record.snapshots] == [True] * 4 + [False] * 2
    assert clf.history_["frozen"] == [1.0] * 4 + [0.0] * 2 and clf.n_iter_ == 6
    default = EncoderClassifier(fitted_ae, freeze="unfreeze", max_iter=5, random_state=0)
    assert default.fit(X[:100], y[:100]).history_["frozen"] == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_pretrained_features_beat_random_ones_with_three_labels_per_class(data, split,
                                                                         fitted_ae):
    """Same network, head and 30 labels; only the encoder weights differ.

    (Fine-tuned, a from-scratch network catches up on digits: see docs/uses.md for MNIST.)
    """
    X, y = data
    train, test = split
    rng = np.random.RandomState(0)
    for seed in range(2):
        labelled = np.concatenate([rng.choice(train[y[train] == c], 3, replace=False)
                                   for c in range(10)])
        # A learning rate of 1e-12 for one epoch leaves the random initialisation as it was.
        untrained = AutoEncoder(**SMALL, max_iter=1, learning_rate=1e-12,
                                random_state=seed).fit(X[train[:10]])
        accuracy = {}
        for name, ae in (("pretrained", fitted_ae), ("random", untrained)):
            clf = EncoderClassifier(ae, max_iter=100, batch_size=32, learning_rate=0.01,
                                    random_state=seed).fit(X[labelled], y[labelled])
            accuracy[name] = clf.score(X[test], y[test])
        assert accuracy["pretrained"] > 0.6
        assert accuracy["pretrained"] > accuracy["random"] + 0.05, accuracy


def test_clone_and_grid_search_keep_the_pretraining(data, fitted_ae):
    X, y = data
    before = _encoder_weights(fitted_ae.module_)
    clf = EncoderClassifier(fitted_ae, max_iter=3, random_state=0)
    assert clone(clf).autoencoder is fitted_ae
    search = GridSearchCV(make_pipeline(StandardScaler(with_std=False), clf),
                          {"encoderclassifier__freeze": ["frozen", "fine-tune"]}, cv=2)
    search.fit(X[:400], y[:400])
    best = search.best_estimator_[-1]
    assert best.autoencoder is fitted_ae and best.autoencoder_ is fitted_ae
    assert _equal(before, _encoder_weights(fitted_ae.module_))
    with pytest.raises(InvalidInputError, match=r"autoencoder__n_components .*is fitted"):
        clf.set_params(autoencoder__n_components=3)


def test_grid_search_over_pretrained_autoencoders_wrapped_in_frozen_estimator(data, fitted_ae):
    X, y = data
    other = AutoEncoder(n_components=4, hidden_layer_sizes=(16,), max_iter=3,
                        random_state=0).fit(X)
    grid = {"autoencoder": [FrozenEstimator(fitted_ae), FrozenEstimator(other)]}
    search = GridSearchCV(EncoderClassifier(max_iter=3, random_state=0), grid, cv=2)
    best = search.fit(X[:400], y[:400]).best_estimator_
    assert best.autoencoder_.estimator in (fitted_ae, other)


def test_an_unfitted_autoencoder_is_fitted_on_the_same_X_reproducibly(data):
    X, y = data
    ae = AutoEncoder(**SMALL, max_iter=3)  # random_state=None: seeded by the classifier
    state = torch.get_rng_state()
    first = EncoderClassifier(ae, max_iter=3, random_state=1).fit(X[:300], y[:300])
    second = clone(first).fit(X[:300], y[:300])
    assert torch.equal(state, torch.get_rng_state())
    assert not is_fitted(ae) and is_fitted(first.autoencoder_)
    assert first.autoencoder_.n_features_in_ == 64
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert clone(first).autoencoder is not ae and not is_fitted(clone(first).autoencoder)


def test_pipelines_variational_and_tied_autoencoders(data):
    X, y = data
    raw = load_digits().data
    pipe = make_pipeline(StandardScaler(), AutoEncoder(**SMALL, max_iter=3, random_state=0))
    clf = EncoderClassifier(pipe.fit(raw), max_iter=3, random_state=0).fit(raw, y)
    assert clf.predict(raw[:5]).shape == (5,)
    for constraint in (Variational(), TiedWeights()):
        ae = AutoEncoder(**SMALL, max_iter=2, constraints=(constraint,), random_state=0)
        clf = EncoderClassifier(ae, freeze="fine-tune", max_iter=2, random_state=0).fit(X, y)
        proba = clf.predict_proba(X[:20])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(proba, clf.predict_proba(X[:20]))  # the mean coding


def test_early_stopping_records_validation_and_string_labels(data, fitted_ae):
    X, y = data
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])[y]
    clf = EncoderClassifier(fitted_ae, freeze="unfreeze", max_iter=40, early_stopping=True,
                            n_iter_no_change=2, random_state=0).fit(X[:500], names[:500])
    assert {"val_loss", "val_accuracy"} <= set(clf.history_)
    assert clf.n_iter_ <= 40 and set(clf.predict(X[:50])) <= set(names)
    assert clf.score(X[500:], names[500:]) > 0.5


@pytest.mark.parametrize(("params", "message"), [
    ({"freeze": "finetune"}, r"The 'freeze' parameter of EncoderClassifier must be one of "
                             r"'auto', 'frozen', 'fine-tune', 'unfreeze'\. Got 'finetune' "
                             r"instead\. "
                             r"Did you mean 'fine-tune'\?"),
    ({"freeze": "unfreeze", "unfreeze_after": 60},
     r"The 'unfreeze_after' parameter of EncoderClassifier must be an int >= 0 and <= 50\. "
     r"Got 60 instead\."),
    ({"freeze": "frozen"}, r"freeze='frozen' needs an autoencoder whose encoder it freezes; "
                           r"with autoencoder=None the ladder network trains as one network"),
    ({"unsupervised_weight": -1}, r"The 'unsupervised_weight' parameter of EncoderClassifier "
                                  r"must be a float >= 0\. Got -1 instead\."),
    ({"hidden_layer_sizes": (0,)}, r"'hidden_layer_sizes' parameter of EncoderClassifier"),
    ({"learning_rate": 0}, r"'learning_rate' parameter of EncoderClassifier must be a float "
                           r"> 0\. Got 0 instead\."),
    ({"autoencoder": PCA()}, r"The 'autoencoder' parameter of EncoderClassifier must be None, "
                             r"an AutoEncoder, or a Pipeline ending in one\."),
    ({"autoencoder": "ae"}, r"The 'autoencoder' parameter of EncoderClassifier must be None "
                            r"or an estimator with fit and transform"),
])
def test_parameter_errors(data, params, message):
    with pytest.raises(InvalidInputError, match=message):
        EncoderClassifier(**params).fit(*data)


def test_input_errors(data, fitted_ae):
    X, y = data
    with pytest.raises(InvalidInputError, match="requires y to be passed"):
        EncoderClassifier(fitted_ae).fit(X, None)
    with pytest.raises(InvalidInputError, match=r"at least 2 classes in y; got 1 class \(3\)"):
        EncoderClassifier(fitted_ae).fit(X[:10], np.full(10, 3))
    with pytest.raises(InvalidInputError, match=r"X has 10 features .*fitted on 64"):
        EncoderClassifier(fitted_ae).fit(X[:, :10], y)
    with pytest.raises(ValueError, match="Unknown label type"):
        EncoderClassifier(fitted_ae).fit(X, y + 0.5)
    with pytest.raises(NotFittedError):
        EncoderClassifier(fitted_ae).predict(X)

"""AnomalyDetector: scikit-learn's outlier conventions on top of any fitted autoencoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from codings import AutoEncoder, InvalidInputError, Variational
from codings.datasets import load_digits
from codings.estimators.detector import AnomalyDetector, is_fitted

SMALL = dict(n_components=8, hidden_layer_sizes=(32,), max_iter=30)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data / 16.0, digits.target


@pytest.fixture(scope="module")
def fitted_ae(data) -> AutoEncoder:
    return AutoEncoder(**SMALL, random_state=0).fit(data[0])


def _weights(ae: AutoEncoder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in ae.module_.state_dict().items()}


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.filterwarnings("ignore:X does not look scaled")
@parametrize_with_checks([AnomalyDetector(AutoEncoder(n_components=1, hidden_layer_sizes=(4,),
                                                      max_iter=3, random_state=0))])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_offset_is_the_contamination_percentile_and_signs_follow(data, fitted_ae):
    X = data[0]
    detector = AnomalyDetector(fitted_ae, contamination=0.05).fit(X)
    scores = fitted_ae.score_samples(X)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 5))
    np.testing.assert_allclose(detector.score_samples(X), scores)
    np.testing.assert_allclose(detector.decision_function(X), scores - detector.offset_)
    labels = detector.predict(X)
    assert set(np.unique(labels)) == {-1, 1}
    np.testing.assert_array_equal(labels == -1, detector.decision_function(X) < 0)
    assert abs((labels == -1).mean() - 0.05) <= 1.0 / len(X)
    np.testing.assert_array_equal(detector.fit_predict(X), labels)
    assert detector.n_features_in_ == 64


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.5])
def test_the_fraction_flagged_on_training_data_is_the_contamination(data, fitted_ae,
                                                                   contamination):
    flagged = (AnomalyDetector(fitted_ae, contamination=contamination).fit_predict(data[0])
               == -1).mean()
    assert flagged == pytest.approx(contamination, abs=1.0 / len(data[0]))


def test_noise_and_shuffled_pixels_score_lower_than_digits(data, fitted_ae):
    X = data[0]
    rng = np.random.RandomState(0)
    detector = AnomalyDetector(fitted_ae).fit(X)
    noise = rng.uniform(0, 1, (100, 64))
    shuffled = np.array([rng.permutation(row) for row in X[:100]])
    normal = detector.score_samples(X)
    for odd in (noise, shuffled):
        odd_scores = detector.score_samples(odd)
        truth = np.r_[np.zeros(len(X)), np.ones(len(odd))]
        assert roc_auc_score(truth, -np.r_[normal, odd_scores]) > 0.99
        assert (detector.predict(odd) == -1).mean() > 0.9


def test_a_held_out_digit_is_detected(data):
    """Trained without 4s, the detector ranks unseen 4s as anomalies (ROC-AUC 0.93 here)."""
    X, y = data
    order = np.random.RandomState(0).permutation(len(X))
    train, test = order[:1200], order[1200:]
    detector = AnomalyDetector(AutoEncoder(**SMALL, random_state=0))
    detector.fit(X[train][y[train] != 4])
    assert roc_auc_score(y[test] == 4, -detector.score_samples(X[test])) > 0.85


def test_a_fitted_autoencoder_is_used_as_is_and_never_mutated(data, fitted_ae):
    before = _weights(fitted_ae)
    detector = AnomalyDetector(fitted_ae).fit(data[0][:500])
    assert detector.autoencoder_ is fitted_ae
    assert _same_weights(before, _weights(fitted_ae))


def test_an_unfitted_autoencoder_is_cloned_then_fitted(data):
    ae = AutoEncoder(**SMALL, random_state=0)
    detector = AnomalyDetector(ae).fit(data[0])
    assert not is_fitted(ae) and is_fitted(detector.autoencoder_)
    assert detector.autoencoder_ is not ae


def test_default_autoencoder_and_pipelines_work():
    raw = load_digits().data[:300]  # raw 0-16 values: the pipeline scales them
    detector = AnomalyDetector(make_pipeline(StandardScaler(),
                                             AutoEncoder(**SMALL, random_state=0)))
    assert detector.fit_predict(raw).shape == (300,)
    with pytest.warns(UserWarning, match="not look scaled"):
        default = AnomalyDetector().fit(raw[:50])
    assert isinstance(default.autoencoder_, AutoEncoder)


def test_clone_keeps_a_fitted_autoencoder_and_clones_an_unfitted_one(fitted_ae):
    kept = clone(AnomalyDetector(fitted_ae, contamination=0.2))
    assert kept.autoencoder is fitted_ae and kept.contamination == 0.2
    unfitted = AutoEncoder(**SMALL)
    fresh = clone(AnomalyDetector(unfitted))
    assert fresh.autoencoder is not unfitted and not is_fitted(fresh.autoencoder)
    assert clone(AnomalyDetector()).autoencoder is None


def test_grid_search_keeps_the_pretraining(data, fitted_ae):
    X, y = data
    before = _weights(fitted_ae)
    scorer = make_scorer(roc_auc_score, response_method="decision_function")
    search = GridSearchCV(AnomalyDetector(fitted_ae), {"contamination": [0.05, 0.2]},
                          scoring=scorer, cv=2).fit(X, y == 4)
    assert search.best_estimator_.autoencoder_ is fitted_ae
    assert _same_weights(before, _weights(fitted_ae))


def test_nested_parameters_of_a_fitted_autoencoder_cannot_be_set(fitted_ae):
    with pytest.raises(InvalidInputError, match=r"autoencoder__max_iter .*is fitted"):
        AnomalyDetector(fitted_ae).set_params(autoencoder__max_iter=3)
    unfitted = AnomalyDetector(AutoEncoder()).set_params(autoencoder__max_iter=3)
    assert unfitted.autoencoder.max_iter == 3


def test_variational_scores_are_the_deterministic_elbo(data):
    X = data[0][:400]
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(32,), loss="bce",
                     constraints=(Variational(),), max_iter=5, random_state=0).fit(X)
    detector = AnomalyDetector(ae).fit(X)
    np.testing.assert_array_equal(detector.score_samples(X), detector.score_samples(X))
    np.testing.assert_allclose(detector.score_samples(X), ae.elbo(X))


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 0.51, 1, "auto", None])
def test_contamination_errors(data, fitted_ae, value):
    message = (r"The 'contamination' parameter of AnomalyDetector must be a float > 0 and "
               rf"<= 0\.5\. Got {value!r} instead\.")
    with pytest.raises(InvalidInputError, match=message):
        AnomalyDetector(fitted_ae, contamination=value).fit(data[0])


@pytest.mark.parametrize("value", ["ae", AutoEncoder, StandardScaler()])
def test_autoencoder_errors(data, value):
    with pytest.raises(InvalidInputError,
                       match="The 'autoencoder' parameter of AnomalyDetector must be None or "
                             "an estimator with fit and score_samples"):
        AnomalyDetector(value).fit(data[0])


def test_unfitted_detector_and_wrong_width(data, fitted_ae):
    with pytest.raises(NotFittedError):
        AnomalyDetector(fitted_ae).predict(data[0])
    detector = AnomalyDetector(fitted_ae).fit(data[0])
    with pytest.raises(ValueError, match="X has 3 features, but AutoEncoder is expecting 64"):
        detector.predict(data[0][:, :3])

"""Anomaly detection: threshold any fitted autoencoder's score, with scikit-learn's conventions.

An autoencoder trained on normal data reconstructs normal rows well and unusual rows badly, so
``score_samples`` (minus the reconstruction error, or the ELBO of a variational model; higher
means more normal) ranks rows by how typical they are. :class:`AnomalyDetector` adds what
scikit-learn's outlier detectors have: ``offset_``, the ``contamination`` percentile of the
training scores, ``decision_function = score_samples - offset_`` (negative for outliers) and
``predict`` (+1 inliers, -1 outliers).

This module also holds :class:`KeepsFittedAutoEncoder`, the cloning rule shared with
:class:`~codings.estimators.classifier.EncoderClassifier`: a *fitted* autoencoder passed as a
parameter survives ``sklearn.base.clone`` (and so ``GridSearchCV``, ``cross_val_score``,
``Pipeline``) as the same, never-mutated object, in the manner of
``sklearn.frozen.FrozenEstimator``; an unfitted one is cloned and fitted as usual.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from codings._threads import limit_threads
from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.validation import check_number, param_error
from codings.exceptions import InvalidInputError


def is_fitted(estimator: Any) -> bool:
    """Whether ``estimator`` (an estimator or None) is fitted, as ``check_is_fitted`` sees it."""
    if estimator is None:
        return False
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class KeepsFittedAutoEncoder:
    """Cloning keeps a fitted ``autoencoder`` parameter as is; an unfitted one is cloned.

    scikit-learn clones an estimator (and, recursively, its estimator parameters) before
    every fit in ``GridSearchCV``, ``cross_val_score`` and friends; a plain clone would throw
    away the pretraining. Like ``FrozenEstimator``, the fitted object is shared, never
    refitted and never mutated: its parameters cannot be set through the wrapper.
    """

    autoencoder: Any

    def __sklearn_clone__(self) -> Any:
        if not is_fitted(self.autoencoder):
            return super().__sklearn_clone__()  # type: ignore[misc]
        params = self.get_params(deep=False)  # type: ignore[attr-defined]
        del params["autoencoder"]
        params = {name: clone(value, safe=False) for name, value in params.items()}
        cls: Any = type(self)
        return cls(autoencoder=self.autoencoder, **params)

    def set_params(self, **params: Any) -> Any:
        nested = sorted(name for name in params if name.startswith("autoencoder__"))
        if nested and "autoencoder" not in params and is_fitted(self.autoencoder):
            raise InvalidInputError(
                f"Cannot set {', '.join(nested)} on {type(self).__name__}: its autoencoder is "
                "fitted and is kept as it is (it is shared, never refitted). Pass an unfitted "
                "AutoEncoder to tune its parameters, or set 'autoencoder' itself.")
        return super().set_params(**params)  # type: ignore[misc]


def check_autoencoder(owner: str, autoencoder: Any, method: str) -> None:
    """``autoencoder`` must be None or an estimator with ``fit`` and ``method``."""
    if autoencoder is None:
        return
    if isinstance(autoencoder, type) or not (hasattr(autoencoder, "fit")
                                             and hasattr(autoencoder, method)):
        raise param_error(owner, "autoencoder",
                          f"None or an estimator with fit and {method}, such as AutoEncoder() "
                          "or make_pipeline(StandardScaler(), AutoEncoder())", autoencoder)


def fitted_autoencoder(autoencoder: Any, X: Any, seed: int | None = None) -> Any:
    """The fitted autoencoder as is, or a clone of an unfitted one (None: ``AutoEncoder()``)
    fitted on ``X``, without labels. ``seed`` fills the clone's unset ``random_state``
    parameters (nested ones of a Pipeline too), so a seeded wrapper fits reproducibly."""
    if is_fitted(autoencoder):
        return autoencoder
    fresh = clone(autoencoder) if autoencoder is not None else AutoEncoder()
    if seed is not None:
        unset = {name: seed for name, value in fresh.get_params(deep=True).items()
                 if name.rpartition("__")[2] == "random_state" and value is None}
        fresh.set_params(**unset)
    return fresh.fit(X)


class AnomalyDetector(KeepsFittedAutoEncoder, OutlierMixin, BaseEstimator):
    """Flag rows that an autoencoder reconstructs badly (scikit-learn outlier conventions).

    Parameters
    ----------
    autoencoder : estimator, default=None
        A fitted :class:`~codings.AutoEncoder` (or a fitted ``Pipeline`` ending in one, or
        any fitted estimator with ``score_samples``) is used as it is and never modified;
        cloning the detector keeps it. An unfitted one is cloned and fitted on ``X``; None
        means ``AutoEncoder()``.
    contamination : float, default=0.1
        Expected fraction of outliers in the training data, in (0, 0.5]: ``offset_`` is the
        ``100 * contamination`` percentile of the training scores, so that fraction of the
        training rows is flagged.
    n_jobs : int or None, default=None
        Threads for torch and BLAS during each call (see :class:`~codings.AutoEncoder`);
        None keeps the autoencoder's own setting.

    Attributes
    ----------
    autoencoder_ : estimator
        The fitted autoencoder (the ``autoencoder`` object itself when it was fitted).
    offset_ : float
        Threshold on ``score_samples``: rows scoring below it are outliers.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when the autoencoder saw string column names.

    Examples
    --------
    >>> from codings import AutoEncoder
    >>> from codings.datasets import load_digits
    >>> from codings.estimators.detector import AnomalyDetector
    >>> X = load_digits().data / 16
    >>> detector = AnomalyDetector(AutoEncoder(max_iter=5, random_state=0)).fit(X)
    >>> labels = detector.predict(X)           # +1 inlier, -1 outlier
    >>> round(float((labels == -1).mean()), 2)
    0.1
    """

    def __init__(self, autoencoder: Any = None, *, contamination: float = 0.1,
                 n_jobs: int | None = None) -> None:
        self.autoencoder = autoencoder
        self.contamination = contamination
        self.n_jobs = n_jobs

    def _validate_params(self) -> None:
        owner = type(self).__name__
        check_autoencoder(owner, self.autoencoder, "score_samples")
        check_number(owner, "contamination", self.contamination, low=0, high=0.5,
                     low_open=True)
        if self.n_jobs is not None:
            check_number(owner, "n_jobs", self.n_jobs, integer=True)

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Fit the autoencoder if needed, then set ``offset_`` from the scores of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (mostly normal rows).
        y : ignored

        Returns
        -------
        self : AnomalyDetector
        """
        self._fit_scores(X)
        return self

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """``fit(X).predict(X)``, scoring ``X`` once.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
            +1 for inliers, -1 for outliers.
        """
        return self._labels(self._fit_scores(X) - self.offset_)

    def _fit_scores(self, X: Any) -> np.ndarray:
        self._validate_params()
        with self._threads():
            autoencoder = fitted_autoencoder(self.autoencoder, X)
            scores = np.asarray(autoencoder.score_samples(X))
        self.autoencoder_ = autoencoder
        self.offset_ = float(np.percentile(scores.astype(np.float64),
                                           100.0 * self.contamination))
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(autoencoder, name):
                setattr(self, name, getattr(autoencoder, name))
        return scores

    def score_samples(self, X: Any) -> np.ndarray:
        """The autoencoder's score: higher is more normal.

        Minus the reconstruction error, or the (deterministic) ELBO of a variational model.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        with self._threads():
            return np.asarray(self.autoencoder_.score_samples(X))

    def _threads(self) -> Any:
        """``n_jobs`` threads for the call (None: the autoencoder's own setting)."""
        if getattr(self, "n_jobs", None) is None:
            return contextlib.nullcontext()
        return limit_threads(self.n_jobs)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``).

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
        """
        return self._labels(self.decision_function(X))

    @staticmethod
    def _labels(decision: np.ndarray) -> np.ndarray:
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

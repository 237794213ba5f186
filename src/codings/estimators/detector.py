"""Anomaly detection: threshold any fitted autoencoder's score, with scikit-learn's conventions.

An autoencoder trained on normal data reconstructs normal rows well and unusual rows badly, so
``score_samples`` (minus the reconstruction error, or the ELBO of a variational model; higher
means more normal) ranks rows by how typical they are. :class:`AnomalyDetector` adds what
scikit-learn's outlier detectors have: ``offset_``, the ``contamination`` percentile of the
training scores, ``decision_function = score_samples - offset_`` (negative for outliers) and
``predict`` (+1 inliers, -1 outliers).

The cloning rule it shares with :class:`~codings.EncoderClassifier` is in
:mod:`._cloning`; per-time-step scoring in :mod:`._timesteps`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from codings._params import DETECTOR_PARAMS, check_table
from codings._threads import limit_threads
from codings.datasets.windows import sliding_windows
from codings.estimators._cloning import (
    KeepsFittedAutoEncoder,
    check_autoencoder,
    fitted_autoencoder,
    is_fitted,
)
from codings.estimators._saving import write_model
from codings.estimators._timesteps import (
    TIMESTEP_BATCH,
    check_window,
    timestep_scores,
    training_windows,
)
from codings.estimators.validation import check_number
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import unwrap

__all__ = ["AnomalyDetector", "is_fitted"]


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
        Threshold on ``score_samples``: rows scoring below it are outliers. After
        :meth:`fit_timesteps`, a threshold on :meth:`score_timesteps` instead.
    window_ : int
        Only after :meth:`fit_timesteps`: the time steps per window of the per-time-step
        threshold (stored with it by :meth:`save`).
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
        """Every parameter against :data:`codings._params.DETECTOR_PARAMS`."""
        owner = type(self).__name__
        check_table(owner, DETECTOR_PARAMS,
                    {param.name: getattr(self, param.name) for param in DETECTOR_PARAMS})
        check_autoencoder(owner, self.autoencoder, "score_samples")

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
        self.__dict__.pop("window_", None)  # a threshold on rows, not on time steps
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

    # -- time series: one score per time step ------------------------------------------------
    def fit_timesteps(self, series: Any, window: int, stride: int = 1) -> AnomalyDetector:
        """Fit the autoencoder on windows of ``series`` if needed, then set ``offset_`` from
        the per-time-step scores of ``series``.

        Parameters
        ----------
        series : array-like of shape (timesteps,) or (timesteps, channels)
            A training series (mostly normal), as :func:`~codings.datasets.sliding_windows`
            takes it.
        window : int
            Time steps per window. A fitted autoencoder must take samples of ``window *
            channels`` values: ``(window, channels)`` sequences for "lstm", "gru" and
            "conv1d", or flattened windows of ``window * channels`` features for an MLP.
        stride : int, default=1
            Steps between window starts, for training and for the threshold's scores.

        Returns
        -------
        self : AnomalyDetector
            With ``offset_`` the ``100 * contamination`` percentile of
            ``score_timesteps(series, window, stride)`` (so that share of the training time
            steps is flagged) and ``window_ = window``.
        """
        self._fit_timesteps(series, window, stride)
        return self

    def _fit_timesteps(self, series: Any, window: int, stride: int = 1) -> np.ndarray:
        """``fit_timesteps``, returning the training series' per-time-step scores."""
        self._validate_params()
        window = check_window(window)
        windows = sliding_windows(series, window, stride)  # checks the series and stride
        with self._threads():
            autoencoder = self.autoencoder
            if not is_fitted(autoencoder):
                autoencoder = fitted_autoencoder(autoencoder, training_windows(
                    autoencoder, windows))
            scores = timestep_scores(autoencoder, series, window, stride, TIMESTEP_BATCH)
        self.autoencoder_ = autoencoder
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        self.window_ = window
        return scores

    def score_timesteps(self, series: Any, window: int | None = None, stride: int = 1, *,
                        batch_size: int = TIMESTEP_BATCH) -> np.ndarray:
        """One score per time step of ``series``: higher is more normal.

        The series is cut into windows (starting at ``0, stride, 2 * stride, ...``); each
        window is reconstructed, and its error at each of its steps is the mean over the
        channels of the squared error at that step (the binary cross-entropy in nats for
        ``loss="bce"``), in the units the model trained in (after its scalers). A time step's
        score is minus the mean of those per-step errors over every window covering it.
        When ``(timesteps - window) % stride != 0``, the last steps would fall in no window:
        one more window, aligned to the end of the series (starting at ``timesteps -
        window``), is scored, so every step gets a score from its own data. The mean over a
        window's steps of its per-step errors is the window's ``reconstruction_error``. For a
        variational model the errors are those of the reconstruction of the mean coding
        (``score_samples`` of windows is its ELBO instead).

        Windows are scored ``batch_size`` at a time, accumulating per-step sums and counts,
        so a long series never holds all its windows' reconstructions in memory.

        Parameters
        ----------
        series : array-like of shape (timesteps,) or (timesteps, channels)
            As :func:`~codings.datasets.sliding_windows` takes it (finite numbers).
        window : int, optional
            Time steps per window; the model must take ``window * channels`` values per
            sample. Default: ``window_`` (set by :meth:`fit_timesteps`).
        stride : int, default=1
            Steps between window starts: larger is faster, with fewer windows per step.
        batch_size : int, default=4096
            Windows reconstructed at a time (memory, not results: any size gives the same
            scores to rounding).

        Returns
        -------
        scores : ndarray of shape (timesteps,), float64
            Minus the mean reconstruction error per value at each step (squared units of the
            scaled data, or nats for ``loss="bce"``).
        """
        check_is_fitted(self)
        window = self._timestep_window(window, check_threshold=False)
        check_number(type(self).__name__, "batch_size", batch_size, integer=True, low=1)
        with self._threads():
            return timestep_scores(self.autoencoder_, series, window, stride, batch_size)

    def predict_timesteps(self, series: Any, window: int | None = None,
                          stride: int = 1) -> np.ndarray:
        """+1 for normal time steps, -1 for anomalous ones (``score_timesteps < offset_``).

        Needs the per-time-step threshold of :meth:`fit_timesteps` (or of a model file that
        stores one, see :meth:`from_model`); ``window`` defaults to ``window_`` and must
        equal it.

        Returns
        -------
        labels : ndarray of shape (timesteps,), int
        """
        check_is_fitted(self)
        window = self._timestep_window(window, check_threshold=True)
        return self._labels(self.score_timesteps(series, window, stride) - self.offset_)

    def _timestep_window(self, window: int | None, *, check_threshold: bool) -> int:
        fitted = getattr(self, "window_", None)
        if check_threshold and fitted is None:
            raise InvalidInputError(
                f"{type(self).__name__} was fitted on rows (fit), so offset_ is a threshold on "
                "window scores; call fit_timesteps(series, window) for a threshold per time "
                "step.")
        if window is None:
            if fitted is None:
                raise InvalidInputError("Give window= (the time steps per window): this "
                                        "detector was not fitted with fit_timesteps.")
            return int(fitted)
        window = check_window(window)
        if check_threshold and window != fitted:
            raise InvalidInputError(f"The per-time-step threshold was computed with "
                                    f"window={fitted}; predict with the same window, not "
                                    f"{window}.")
        return window

    # -- the threshold in the model file ----------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this fitted detector to one model file (see :func:`codings.save`): the
        autoencoder, its preprocessing, the threshold ``offset_`` (and ``window_`` when
        fitted per time step) and this detector's parameters. :func:`codings.load` gives
        the fitted detector back; the autoencoder is not modified.
        """
        check_is_fitted(self)
        write_model(self, path)

    @classmethod
    def from_model(cls, model: Any, *, contamination: float = 0.1,
                   n_jobs: int | None = None) -> AnomalyDetector:
        """A fitted detector on a loaded model, with the threshold its file stores.

        Parameters
        ----------
        model : AutoEncoder, ScaledAutoEncoder, AnomalyDetector or Pipeline
            As :func:`codings.load` returns it: a model whose file stores a threshold
            (``codings fit`` writes one; ``offset`` and, for a per-time-step threshold,
            ``window`` in its header), or a loaded detector (whose threshold is taken).
        contamination, n_jobs
            Kept as parameters (they take effect only if the detector is refitted).

        Raises
        ------
        InvalidInputError
            If the model stores no threshold.
        """
        parts = unwrap(model)
        offset = parts.stored("offset_")
        if offset is None:
            raise InvalidInputError("This model stores no outlier threshold (offset); fit an "
                                    "AnomalyDetector on it instead.")
        if model is parts.detector:  # a bare detector: its own model, raw rows in
            model = model.autoencoder_
        detector = cls(model, contamination=contamination, n_jobs=n_jobs)
        detector.autoencoder_ = model
        detector.offset_ = float(offset)
        window = parts.stored("window_")
        if window is not None:
            detector.window_ = int(window)
        return detector

    @staticmethod
    def _labels(decision: np.ndarray) -> np.ndarray:
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

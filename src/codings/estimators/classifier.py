"""Classification helped by an autoencoder: pretraining, or learning from few labels.

Supervised (every row labelled), with a given autoencoder: unsupervised pretraining.

An autoencoder fitted on plentiful unlabelled data learns features; a classifier trained on
few labels can start from them (Hinton & Salakhutdinov, Science 2006; Erhan et al., "Why does
unsupervised pre-training help deep learning?", JMLR 2010). :class:`EncoderClassifier` copies
the encoder with its constraints' coding hooks (``z = encode(x).z`` in eval mode: the mean
coding of a variational model), adds ``softmax(head(z))`` and minimises the cross-entropy with
the encoder frozen, fine-tuned, or frozen first and then unfrozen. While the encoder is
frozen its codings are computed once and cached, so those epochs train only the head.

Semi-supervised (rows labelled ``-1`` are unlabelled, scikit-learn's convention): the
autoencoder's loss on every row and the cross-entropy of the labelled rows are minimised
together, through the same trainer (see :mod:`codings.estimators._semisupervised`). Without
a given autoencoder the network is a ladder network (Rasmus et al. 2015,
:mod:`codings.nn.ladder`): a denoising autoencoder at every layer of the classifier, with
lateral connections; pretraining then fine-tuning throws the unlabelled rows away once
labels arrive, and reaches 0.75 on MNIST with 100 labels where the ladder reaches far more
(docs/uses.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d
from torch import Tensor

from codings._params import CLASSIFIER_PARAMS, check_table
from codings._threads import limit_threads
from codings.estimators._classifier_training import (
    UNLABELLED,
    build_network,
    fit_ladder,
    train_joint,
    train_supervised,
)
from codings.estimators._cloning import (
    KeepsFittedAutoEncoder,
    check_autoencoder,
    fitted_autoencoder,
)
from codings.estimators._fitting import seed_from
from codings.estimators._inference import map_batches
from codings.estimators._saving import write_model
from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.validation import (
    as_float_tensor_input,
    check_features,
    check_number,
    param_error,
)
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import Unwrapped, unwrap
from codings.training.callbacks import Callback
from codings.training.loop import TrainState
from codings.training.monitoring import ProgressBar


def unlabelled_rows(y: np.ndarray) -> np.ndarray:
    """Where ``y`` is -1 (numeric labels only: a string "-1" is a class name)."""
    if y.dtype.kind in "iuf":
        return np.asarray(y == UNLABELLED)
    if y.dtype.kind == "O":
        return np.array([isinstance(v, int | float | np.number) and v == UNLABELLED
                         for v in y], dtype=bool)
    return np.zeros(len(y), dtype=bool)



def split_autoencoder(estimator: Any) -> tuple[Unwrapped, AutoEncoder]:
    """(the model unwrapped, the AutoEncoder at its end) by the one rule of
    :func:`codings.formats.pipeline.unwrap`; ``sklearn.frozen.FrozenEstimator`` is seen
    through."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    parts = unwrap(estimator)
    if not isinstance(parts.final, AutoEncoder) or parts.detector is not None:
        raise param_error("EncoderClassifier", "autoencoder",
                          "None, an AutoEncoder, or a Pipeline ending in one",
                          estimator)
    return parts, parts.final


class EncoderClassifier(KeepsFittedAutoEncoder, ClassifierMixin, BaseEstimator):
    """A classifier that learns from an autoencoder: pretrained, or trained jointly with it.

    ``fit(X, y)`` with every row labelled trains a classifier on a (pre)trained autoencoder's
    encoder. Rows labelled ``-1`` are unlabelled (``sklearn.semi_supervised``'s convention):
    they are never used as labels, and training is then joint, the autoencoder's loss on all
    rows plus the cross-entropy of the labelled rows. With ``autoencoder=None`` the network
    is a ladder network (:mod:`codings.nn.ladder`), with or without unlabelled rows.

    Parameters
    ----------
    autoencoder : AutoEncoder or Pipeline, default=None
        A fitted :class:`~codings.AutoEncoder` (or a fitted ``Pipeline`` ending in one, whose
        earlier steps then preprocess ``X``) is used as it is: its encoder is copied, never
        modified, and cloning the classifier (``GridSearchCV``, ``cross_val_score``) keeps
        it. An unfitted one is cloned and fitted on the same ``X`` (all rows) without
        labels. None means the built-in ladder network, built for ``X`` and the classes:
        inputs, ``hidden_layer_sizes``, classes; Gaussian noise 0.3 at every layer of its
        corrupted path; denoising weights 1000, 10, then 0.1 (Rasmus et al. 2015), times
        ``unsupervised_weight``.
    freeze : {"auto", "frozen", "fine-tune", "unfreeze"}, default="auto"
        Whether the classification loss trains the encoder. Supervised: "frozen" trains only
        the head; "fine-tune" trains the encoder with it; "unfreeze" trains the head alone
        for ``unfreeze_after`` epochs, then both. Semi-supervised (a given autoencoder and
        rows labelled -1): the whole autoencoder always trains on its own loss over all
        rows; "frozen" stops the cross-entropy's gradient at the codings (the encoder learns
        from the reconstruction alone, the head from the labels); "fine-tune" lets it
        through; "unfreeze" stops it for ``unfreeze_after`` epochs. "auto" is "frozen" for
        a given autoencoder with every row labelled, "fine-tune" otherwise. The ladder
        network (``autoencoder=None``) is one network: only "auto" and "fine-tune" apply.
    hidden_layer_sizes : tuple of int, optional
        Hidden layers between the codings and the softmax layer (the head, which first
        standardises the codings with their mean and standard deviation over the training
        rows, computed once when training starts); None means none. With
        ``autoencoder=None``: the ladder network's hidden layers, None meaning (500, 250).
    activation : str, default="relu"
        Activation of the head's hidden layers (the ladder's are ReLU).
    learning_rate : float, optional
        Adam's learning rate, for the head and (when trained) the encoder. None means 1e-3,
        or 2e-3 for the ladder network (the paper's), decayed linearly to 0 over the last
        third of its epochs.
    max_iter : int, optional
        Epochs in all (both phases of "unfreeze"). None means 50, or for the ladder network
        enough epochs for about 10,000 steps, between 10 and 200 (21 on 60,000 rows: MNIST
        with 100 labels reaches 0.961 in about 7 minutes on one core; 50 epochs reach 0.971
        in about 20).
    batch_size : int or None, default=128
        None means full batch. Capped at the number of rows. Semi-supervised, each step
        takes ``batch_size`` rows of all rows and ``batch_size`` labelled rows (all of them
        when fewer), so that every step sees labels.
    unfreeze_after : int, optional
        Frozen epochs before unfreezing, with ``freeze="unfreeze"``; None means
        ``max_iter // 2``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows; each phase stops when the validation
        loss has not improved by ``tol`` for ``n_iter_no_change`` epochs and restores the
        phase's best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    unsupervised_weight : float, default=1.0
        Weight of the autoencoder's loss (the ladder's denoising costs, or a given
        autoencoder's reconstruction and penalties) beside the cross-entropy in joint
        training; 0 trains the same network on the labelled rows alone (the supervised-only
        baseline). Unused by supervised training on a given autoencoder.
    random_state : int, RandomState or None, default=None
        Seeds a private ``torch.Generator`` (initialisation, shuffling, noise, validation
        split) and the unset ``random_state`` of an autoencoder fitted here; torch's global
        RNG is left untouched.
    n_jobs : int or None, default=None
        Threads for torch and BLAS during ``fit``, ``predict`` and ``predict_proba``,
        restored afterwards (see :class:`~codings.AutoEncoder`): None means
        ``OMP_NUM_THREADS`` when set, else 1; -1 all cores, -2 all but one.
    verbose : int, default=0
        1 shows a progress bar.

    Attributes
    ----------
    autoencoder_ : AutoEncoder, Pipeline or None
        The fitted autoencoder (the ``autoencoder`` object itself when it was fitted); None
        for the ladder network.
    network_ : ClassifierNet or LadderNetwork
        The trained network: ``network_.encoder`` (a copy of the autoencoder's encoder) and
        ``network_.head`` (standardisation, then layers that output logits), or the ladder
        network (its clean encoder predicts). Set when training starts, so callbacks can
        read it.
    classes_ : ndarray of shape (n_classes,)
        The labels seen, -1 (unlabelled) excluded.
    history_ : dict of str to list of float
        Per epoch: ``loss`` (the minimised loss), ``lr``, and ``val_*`` terms with early
        stopping. Supervised on a given autoencoder: ``frozen`` (1.0 while the encoder was
        frozen), ``accuracy``. Semi-supervised or ladder: ``cross_entropy`` and
        ``accuracy`` of the labelled rows (the corrupted path's, for the ladder), then
        ``denoising`` (ladder) or ``reconstruction`` and penalties (given autoencoder).
    loss_curve_ : list of float
    n_iter_ : int
    stop_reason_ : {"max_iter", "early_stopping", "diverged"}
        Why training ended (after ``fit``; a loaded classifier does not record it).
    n_features_in_ : int

    Examples
    --------
    >>> from codings import AutoEncoder
    >>> from codings.datasets import load_digits
    >>> from codings.estimators.classifier import EncoderClassifier
    >>> digits = load_digits()
    >>> X, y = digits.data / 16, digits.target
    >>> ae = AutoEncoder(n_components=16, max_iter=20, random_state=0).fit(X)  # no labels
    >>> clf = EncoderClassifier(ae, freeze="fine-tune", random_state=0).fit(X[:200], y[:200])
    >>> clf.predict_proba(X[:3]).shape
    (3, 10)
    """

    network_: Any  # ClassifierNet, or LadderNetwork with autoencoder=None

    def __init__(self, autoencoder: Any = None, *, freeze: str = "auto",
                 hidden_layer_sizes: Sequence[int] | None = None, activation: str = "relu",
                 learning_rate: float | None = None, max_iter: int | None = None,
                 batch_size: int | None = 128, unfreeze_after: int | None = None,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4,
                 unsupervised_weight: float = 1.0, random_state: Any = None,
                 n_jobs: int | None = None, verbose: int = 0) -> None:
        self.autoencoder = autoencoder
        self.freeze = freeze
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.unfreeze_after = unfreeze_after
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.unsupervised_weight = unsupervised_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- validation ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Every parameter against :data:`codings._params.CLASSIFIER_PARAMS`, then the rules
        that join two of them."""
        owner = type(self).__name__
        check_table(owner, CLASSIFIER_PARAMS,
                    {param.name: getattr(self, param.name) for param in CLASSIFIER_PARAMS})
        check_autoencoder(owner, self.autoencoder, "transform")
        if self.autoencoder is not None:
            split_autoencoder(self.autoencoder)
        if self.unfreeze_after is not None and self.freeze == "unfreeze":
            check_number(owner, "unfreeze_after", self.unfreeze_after, integer=True, low=0,
                         high=self._max_iter())
        if self.autoencoder is None and self.freeze in ("frozen", "unfreeze"):
            raise InvalidInputError(
                f"freeze={self.freeze!r} needs an autoencoder whose encoder it freezes; with "
                "autoencoder=None the ladder network trains as one network. Use "
                "freeze='auto', or pass an AutoEncoder.")

    def _max_iter(self, default: int = 50) -> int:
        return default if self.max_iter is None else int(self.max_iter)

    def _frozen_epochs(self, supervised: bool) -> int:
        """Epochs whose classification loss leaves the encoder alone."""
        freeze = self.freeze
        if freeze == "auto":
            freeze = "frozen" if supervised else "fine-tune"
        if freeze == "frozen":
            return self._max_iter()
        if freeze == "fine-tune":
            return 0
        return self._max_iter() // 2 if self.unfreeze_after is None \
            else int(self.unfreeze_after)

    def _check_y(self, X: np.ndarray, y: Any) -> np.ndarray:
        """Validate ``y``, set ``classes_``, return class indices (-1: unlabelled)."""
        if y is None:
            raise InvalidInputError(f"{type(self).__name__} requires y to be passed, but the "
                                    "target y is None.")
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        if y.dtype.kind in "UO" and any(isinstance(v, str) and v.strip() == "-1" for v in y):
            raise InvalidInputError(
                f"{type(self).__name__}: y holds the string '-1', which would be trained as a "
                "class of its own. Mark unlabelled rows with the int -1 (an object array such "
                "as np.array(['barolo', -1], dtype=object)), as scikit-learn's "
                "SelfTrainingClassifier does.")
        labelled = ~unlabelled_rows(y)
        # the labelled rows only: names with int -1 make a mixed object array
        check_classification_targets(y[labelled] if labelled.any() else y)
        if not labelled.any():
            raise InvalidInputError(
                f"{type(self).__name__} needs labelled rows, but every row of y is -1 "
                "(unlabelled); label at least one row of each of 2 classes.")
        self.classes_, indices = np.unique(y[labelled], return_inverse=True)
        if len(self.classes_) < 2:
            raise InvalidInputError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got 1 "
                f"class ({self.classes_.tolist()[0]!r}).")
        targets = np.full(len(y), UNLABELLED, dtype=np.int64)
        targets[labelled] = indices.ravel()
        return targets

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, callbacks: Sequence[Callback] = ()) -> EncoderClassifier:
        """Fit the autoencoder if needed (on ``X``, without labels), then the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels; -1 marks an unlabelled row (then training is semi-supervised).
        callbacks : sequence of Callback, optional
            Per-epoch hooks; ``network_`` is readable from the first epoch on.

        Returns
        -------
        self : EncoderClassifier
        """
        self._validate_params()
        with limit_threads(self.n_jobs):
            return self._fit(X, y, callbacks)

    def _fit(self, X: Any, y: Any, callbacks: Sequence[Callback]) -> EncoderClassifier:
        X = check_features(self, X, reset=True)
        targets = self._check_y(X, y)
        seed = seed_from(self.random_state)
        generator = torch.Generator().manual_seed(seed)
        all_callbacks = list(callbacks) + ([ProgressBar()] if self.verbose else [])
        if self.autoencoder is None:
            self.autoencoder_ = None
            x = torch.from_numpy(as_float_tensor_input(X))
            fit_ladder(self, x, torch.from_numpy(targets), generator, seed, all_callbacks)
            return self
        ae_seed = None if self.random_state is None else seed % (2**31 - 1)
        self.autoencoder_ = fitted_autoencoder(self.autoencoder, X, seed=ae_seed)
        parts, autoencoder = split_autoencoder(self.autoencoder_)
        x = self._as_tensor(parts, autoencoder, X)
        self.network_ = build_network(self, autoencoder, len(self.classes_), generator, seed)
        self.network_.to(x.device)
        y_t = torch.from_numpy(targets).to(x.device)
        if (targets != UNLABELLED).all():
            train_supervised(self, x, y_t, generator, all_callbacks)
        else:
            train_joint(self, autoencoder, x, y_t, generator, all_callbacks)
        return self

    def _finish(self, state: TrainState) -> None:
        self.network_.requires_grad_(False)
        self.network_.eval()
        self.history_ = state.history
        self.loss_curve_ = list(state.history["loss"])
        self.n_iter_ = state.epoch
        self.stop_reason_ = state.stop_reason

    def _as_tensor(self, parts: Unwrapped, autoencoder: AutoEncoder, X: np.ndarray) -> Tensor:
        """Preprocess ``X`` like the autoencoder's pipeline; a float32 tensor on its device."""
        if parts.steps:
            X = np.asarray(parts.preprocess(X))
        expected = getattr(autoencoder, "n_features_in_", X.shape[1])
        if X.ndim != 2 or X.shape[1] != expected:
            raise InvalidInputError(
                f"X has {X.shape[1] if X.ndim == 2 else X.shape[1:]} features (after the "
                f"autoencoder's preprocessing), but the autoencoder was fitted on {expected}.")
        device = next(autoencoder.module_.parameters()).device
        return torch.from_numpy(as_float_tensor_input(X)).to(device)

    def _learning_rate(self) -> float:
        return 1e-3 if self.learning_rate is None else float(self.learning_rate)

    # -- inference -------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, the softmax of the network's outputs.

        Each row's probabilities sum to 1 (up to float64 rounding).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float64
        """
        check_is_fitted(self)
        with limit_threads(getattr(self, "n_jobs", None)):
            return self._predict_proba(X)

    @torch.inference_mode()
    def _predict_proba(self, X: Any) -> np.ndarray:
        X = check_features(self, X, reset=False)
        if self.autoencoder_ is not None:
            parts = split_autoencoder(self.autoencoder_)[0]
            if parts.steps:
                X = np.asarray(parts.preprocess(X))
        proba = map_batches(self.network_, X, lambda net, x: torch.softmax(net(x), dim=1),
                            out_dtype=np.float64)
        # The softmax ran in float32: renormalised in float64, each row sums to 1 exactly
        # up to float64 rounding.
        return np.asarray(proba / proba.sum(axis=1, keepdims=True))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy on the labelled rows: rows labelled -1 are left out, so the default
        scoring of ``GridSearchCV`` works on partly labelled ``y`` (scikit-learn's own
        scorers, such as ``scoring="accuracy"``, count them as a class).

        Returns
        -------
        score : float
        """
        y = column_or_1d(y, warn=True)
        keep = ~unlabelled_rows(y)
        if not keep.any():
            raise InvalidInputError("score needs labelled rows, but every row of y is -1 "
                                    "(unlabelled).")
        X = X[keep] if hasattr(X, "shape") else [row for row, k in zip(X, keep, strict=True) if k]
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[keep]
        return float(accuracy_score(y[keep], self.predict(X), sample_weight=sample_weight))

    def save(self, path: Any) -> None:
        """Write the fitted ladder network to one safetensors file (never pickled); read it
        back with :func:`codings.load`. See :mod:`codings.formats.classifier_file`."""
        write_model(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

"""The cloning rule shared by :class:`~codings.AnomalyDetector` and
:class:`~codings.EncoderClassifier`: a *fitted* autoencoder passed as a parameter survives
``sklearn.base.clone`` (and so ``GridSearchCV``, ``cross_val_score``, ``Pipeline``) as the
same, never-mutated object, in the manner of ``sklearn.frozen.FrozenEstimator``; an unfitted
one is cloned and fitted as usual.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from codings.estimators.autoencoder import AutoEncoder
from codings.estimators.validation import param_error
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

"""The one unwrap rule: a model is (preprocessing steps, final estimator).

Every consumer of a model (saving, ONNX export, the command line's ``score``, ``generate``
and ``report``, the detector's per-time-step scores, the classifier on a pretrained
autoencoder) reads a scikit-learn ``Pipeline`` the same way, through :func:`unwrap`:

- a ``Pipeline`` contributes its steps but the last (``None`` and ``"passthrough"`` steps
  do nothing and are skipped), and its last step is looked at next;
- an outlier detector (an estimator whose scikit-learn tags say ``"outlier_detector"``, such
  as :class:`~codings.AnomalyDetector`) is recorded, and its model (the fitted
  ``autoencoder_``, else the ``autoencoder`` parameter) is unwrapped by the same rule;
- anything else is the final estimator.

So ``make_pipeline(StandardScaler(), AnomalyDetector(ae))`` and
``AnomalyDetector(make_pipeline(StandardScaler(), ae))`` both unwrap to the scaler, then
``ae``, with the detector's threshold beside them. No estimator class is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sklearn.base import is_outlier_detector
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class Unwrapped:
    """A model taken apart.

    Attributes
    ----------
    steps : list of (str, transformer)
        Every preprocessing step, in the order applied (those outside a detector first).
    final : estimator or None
        The estimator at the end (an AutoEncoder, an EncoderClassifier, ...); None for a
        detector that holds no model yet (``AnomalyDetector()``, unfitted).
    detector : estimator or None
        The outlier detector the final estimator stands in, if any.
    outer : int
        How many of ``steps`` stand outside the detector (all of them when there is none).
    """

    steps: list[tuple[str, Any]] = field(default_factory=list)
    final: Any = None
    detector: Any = None
    outer: int = 0

    def stored(self, name: str) -> Any:
        """The threshold's ``"offset_"`` or ``"window_"``: the detector's, else the one a
        loaded autoencoder carries from its model file; None when there is none."""
        holder = self.detector if self.detector is not None else self.final
        return getattr(holder, name, None)

    def preprocess(self, X: Any) -> Any:
        """``X`` through every preprocessing step's ``transform``, in order."""
        for _, step in self.steps:
            X = step.transform(X)
        return X


def _pipeline_parts(model: Any) -> tuple[list[tuple[str, Any]], Any]:
    if isinstance(model, Pipeline) and model.steps:
        steps = [(name, step) for name, step in model.steps[:-1]
                 if step is not None and not (isinstance(step, str) and step == "passthrough")]
        return steps, model.steps[-1][1]
    return [], model


def unwrap(model: Any) -> Unwrapped:
    """``model`` as (preprocessing steps, final estimator, the detector around it, if any)."""
    outer, last = _pipeline_parts(model)
    if last is None or isinstance(last, str) or not is_outlier_detector(last):
        return Unwrapped(outer, last, None, len(outer))
    inner_model = getattr(last, "autoencoder_", None)
    if inner_model is None:
        inner_model = getattr(last, "autoencoder", None)
    inner, final = _pipeline_parts(inner_model)
    if final is not None and is_outlier_detector(final):  # a detector of a detector
        deeper = unwrap(final)
        return Unwrapped([*outer, *inner, *deeper.steps], deeper.final, last, len(outer))
    return Unwrapped([*outer, *inner], final, last, len(outer))


def final_estimator(model: Any) -> Any:
    """The estimator at the end of ``model`` (see :func:`unwrap`)."""
    return unwrap(model).final

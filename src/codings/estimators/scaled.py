"""An autoencoder behind its input scaling: one object that takes and returns raw rows.

``codings fit --scale standard`` trains on scaled data; so does
``make_pipeline(StandardScaler(), AutoEncoder())`` in Python. Either way the model file keeps
the fitted scaler (as tensors, never pickled), and :func:`codings.load` returns a
:class:`ScaledAutoEncoder`: a scikit-learn ``Pipeline`` whose last step is the
:class:`~codings.AutoEncoder`. Every method takes and returns data in the raw units, so
``load(path).transform(X)`` is what ``codings encode path X`` writes, bit for bit, and what
the exported ONNX encoder computes (to float32 rounding).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted


class ScaledAutoEncoder(Pipeline):
    """Scalers followed by an :class:`~codings.AutoEncoder`, in raw units throughout.

    A scikit-learn :class:`~sklearn.pipeline.Pipeline` (``steps``, ``fit``, ``transform``,
    ``inverse_transform``, ``score_samples``, ``get_params`` with ``step__param`` names all
    work as usual) with the autoencoder's own methods added. The scalers that a model file
    can carry are ``StandardScaler``, ``MinMaxScaler`` and ``MaxAbsScaler``.

    Parameters
    ----------
    steps : list of (str, estimator)
        Fitted or unfitted scalers, then an ``AutoEncoder`` last.

    Attributes
    ----------
    autoencoder : AutoEncoder
        The last step. Its parameters and fitted attributes (``n_components``,
        ``history_``, ``n_iter_``, ``loss_curve_``, ``stop_reason_``, ``module_``, ...) can
        also be read on this object (set them with ``set_params(autoencoder__...)``); the
        pipeline's own ``n_features_in_`` and ``feature_names_in_`` describe the raw
        columns.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from codings import AutoEncoder, ScaledAutoEncoder, load, save
    >>> model = ScaledAutoEncoder([("standardscaler", StandardScaler()),
    ...                            ("autoencoder", AutoEncoder(max_iter=5))]).fit(X)
    >>> save(model, "model.safetensors")
    >>> load("model.safetensors").transform(X)  # the same codings
    """

    @property
    def autoencoder(self) -> Any:
        """The final step, the fitted or unfitted AutoEncoder."""
        return self.steps[-1][1]

    def __getattr__(self, name: str) -> Any:
        # Called only for names the pipeline lacks: the autoencoder's parameters and fitted
        # attributes read through (model.history_, model.n_components). Not its methods,
        # which take scaled rows (the raw-unit ones are defined below), and not private
        # names, so scikit-learn's own probes are unaffected.
        if not name.startswith("_") and "steps" in self.__dict__:
            value = getattr(self.steps[-1][1], name)
            if not inspect.ismethod(value):
                return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- units ---------------------------------------------------------------------------
    def scale(self, X: Any) -> np.ndarray:
        """Raw rows to what the autoencoder sees: every step but the last, in order."""
        check_is_fitted(self)
        for _, _, step in self._iter(with_final=False):
            X = step.transform(X)
        return np.asarray(X)

    def unscale(self, X: Any) -> np.ndarray:
        """The autoencoder's outputs back to raw units; image-shaped outputs keep their shape."""
        check_is_fitted(self)
        X = np.asarray(X)
        shape = X.shape
        flat = X.reshape(-1, self.n_features_in_)  # rows, images or a chain of rows
        for _, _, step in reversed(list(self._iter(with_final=False))):
            flat = step.inverse_transform(flat)
        return np.asarray(flat).reshape(shape)

    # -- the autoencoder's methods, in raw units -------------------------------------------
    def inverse_transform(self, X: Any, **params: Any) -> np.ndarray:
        """Decode codings to raw units (the decoder, then each scaler's inverse); an
        image-shaped model returns images."""
        return self.unscale(self.autoencoder.inverse_transform(X))

    def reconstruct(self, X: Any) -> np.ndarray:
        """Encode then decode raw rows; the reconstructions are in raw units."""
        return self.unscale(self.autoencoder.reconstruct(self.scale(X)))

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-row reconstruction error, measured in the scaled units the model trained in
        (what ``score_samples`` negates and ``codings score`` writes)."""
        return np.asarray(self.autoencoder.reconstruction_error(self.scale(X)))

    def sample(self, n_samples: int = 1, *, random_state: Any = None, X_start: Any = None,
               **kwargs: Any) -> np.ndarray:
        """New rows in raw units (``X_start``, for a denoising chain, is raw too); keywords
        as for ``AutoEncoder.sample``."""
        if X_start is not None:
            kwargs["X_start"] = self.scale(X_start)
        return self.unscale(self.autoencoder.sample(n_samples, random_state=random_state,
                                                    **kwargs))

    def interpolate(self, a: Any, b: Any, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` codings on the segment from coding ``a`` to ``b``, in raw units."""
        return self.unscale(self.autoencoder.interpolate(a, b, steps))

    def elbo(self, X: Any, **kwargs: Any) -> np.ndarray:
        """A variational model's per-row ELBO of the scaled rows (what ``score_samples``
        returns for it); keywords as for ``AutoEncoder.elbo``."""
        return np.asarray(self.autoencoder.elbo(self.scale(X), **kwargs))

    def log_likelihood(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Importance-weighted ``log p(x)`` of the scaled rows; keywords as for
        ``AutoEncoder.log_likelihood``."""
        return np.asarray(self.autoencoder.log_likelihood(self.scale(X), **kwargs))

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scalers and the autoencoder to one model file (see :func:`codings.save`)."""
        from codings.estimators._saving import write_model

        write_model(self, path)

    def export_onnx(self, directory: str | os.PathLike[str], *, opset: int | None = None,
                    ) -> dict[str, Path]:
        """``encoder.onnx`` (raw rows to codings) and ``decoder.onnx`` (codings to raw rows)."""
        from codings.formats.onnx import export_onnx

        return export_onnx(self, directory, opset=opset)

"""The scikit-learn estimator: one ``AutoEncoder`` for the whole family, built by composition.

``fit`` reads like scikit-learn's: validate the parameters (one table, :mod:`codings._params`),
check and convert X (:mod:`._inputs`), build the module and train it (:mod:`._fitting`, which
builds the one :class:`~codings.training.Trainer`), set the fitted attributes. Inference goes
through one batched path (:mod:`._inference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from codings._threads import limit_threads
from codings.constraints.base import Constraint
from codings.estimators._building import build_module, resolve_input_shape
from codings.estimators._fitting import resolve_device, seed_from, train
from codings.estimators._generative import GenerativeMixin
from codings.estimators._inference import map_batches
from codings.estimators._inputs import InputsMixin, data_range
from codings.estimators._params import constraints_of, validate_params
from codings.estimators._saving import write_model
from codings.nn.module import AutoEncoderModule
from codings.training.callbacks import Callback
from codings.training.loop import TrainingResult
from codings.training.losses import reconstruction_error

__all__ = ["AutoEncoder", "resolve_device", "seed_from"]


def _round_trip(module: Any, x: torch.Tensor) -> torch.Tensor:
    """The decoder's output for ``x`` (logits for BCE): reconstruct and its error."""
    return module.decode(module.encode(x).z)


class AutoEncoder(GenerativeMixin, InputsMixin, ClassNamePrefixFeaturesOutMixin,
                  TransformerMixin, BaseEstimator):
    """An autoencoder with the scikit-learn transformer API.

    The network is ``n_features -> hidden_layer_sizes -> n_components`` (the encoder) and its
    mirror (the decoder). What makes it denoising, sparse, contractive, variational or tied is
    the ``constraints`` tuple; with no constraint, ``hidden_layer_sizes=()`` and
    ``activation="identity"`` it finds the principal subspace of PCA.

    Parameters
    ----------
    n_components : int, default=2
        Size of the coding layer.
    hidden_layer_sizes : tuple of int, default=(100,)
        Encoder hidden layers; the decoder uses them in reverse.
    activation : {"identity", "relu", "elu", "selu", "sigmoid", "tanh"}, default="elu"
        Hidden-layer activation.
    coding_activation : str or None, default="identity"
        Activation of the coding layer: linear by default, so codings are not clipped or
        lopsided (ELU codings stop at -1); None means the same as ``activation`` (the
        chapter's networks); ``"sigmoid"`` for KL sparsity and semantic hashing.
    output_activation : str, default="identity"
        Activation of the reconstruction (``"sigmoid"`` for data in [0, 1]). With
        ``loss="bce"`` the decoder outputs logits and this must be "identity" or "sigmoid".
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. "bce" needs data in [0, 1]; it is computed from logits.
    constraints : tuple of Constraint, default=()
        Applied in order, e.g. ``(Denoising(std=0.2), Sparsity(target=0.05))``.
    architecture : {"mlp", "conv", "lstm", "gru", "conv1d"}, default="mlp"
        "conv": strided 3x3 convolutions (``hidden_layer_sizes`` are their channel counts)
        and a mirrored transposed-convolution decoder, for images given as
        (n, channels, height, width), (n, height, width), or flat with ``image_shape``.
        "lstm" / "gru": for sequences (n, timesteps, channels) or (n, timesteps), an RNN
        encoder (layer widths ``hidden_layer_sizes``; ``activation`` does not apply to the
        recurrent layers) whose last state, through the coding layer, is the coding, and a
        decoder that unrolls the coding back to ``timesteps`` steps without teacher forcing;
        gradients are clipped to norm 1. "conv1d": strided temporal convolutions and their
        mirror, restoring odd lengths exactly. ``inverse_transform`` returns the input's
        shape; see :func:`codings.datasets.sliding_windows` to cut a series into windows.
    image_shape : tuple of int, optional
        (channels, height, width) or (height, width) of flat image inputs.
    encoder, decoder : torch.nn.Module, optional
        Your own modules instead of the built-in architecture (``decoder(encoder(x))`` must
        have x's shape); constraints still apply. ``fit`` trains fresh copies. Saved files
        keep the weights and class names; ``load`` asks for instances of the same classes.
    init : {"auto", "he", "glorot"}, default="auto"
        Weight initialisation; "auto" picks He for relu/elu/selu and Glorot otherwise.
    optimizer : {"adam", "sgd", "rmsprop", "nadam"}, default="adam"
    learning_rate : float, default=1e-3
    momentum : float, default=0.9
        Only used by ``optimizer="sgd"``.
    lr_schedule : {"constant", "plateau", "cosine"}, default="constant"
    batch_size : int, "auto" or None, default="auto"
        Rows per step; None means full batch. Capped at the number of rows. "auto" is
        ``n_rows // 32`` clipped to [32, 256]: 256 on MNIST, and enough optimizer steps per
        epoch on small data (1,600 rows in batches of 256 made 7 steps an epoch). A last
        batch of one row is folded into the one before (one-row batches break BatchNorm).
    max_iter : int, default=200
        Number of epochs. Without early stopping, ``fit`` runs exactly this many.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the validation loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the weights of the
        best validation epoch (also when training ends at ``max_iter``).
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    on_nonfinite : {"warn", "raise"}, default="warn"
        What to do when training diverges: a loss that becomes NaN or infinite, or explodes
        (over 10,000 times the untrained model's), during an epoch or after its last step.
        Training always stops there and restores the best weights; then warn
        (:class:`~codings.training.TrainingDivergedWarning`, saying what to change: the
        learning rate, or the weight of the constraint whose penalty exploded), or raise
        :class:`~codings.exceptions.TrainingDivergedError`.
    checkpoint_dir : str or path, optional
        Write a checkpoint (weights, optimizers, generator state, history, the run's
        parameters and a fingerprint of its data) there every ``checkpoint_every`` epochs and
        at the end, atomically, keeping the newest ``checkpoint_keep``. A fresh fit refuses a
        folder that holds another run's checkpoints.
    checkpoint_every : int or None, default=None
        Epochs between checkpoints; None writes one after the first epoch, then whenever 30
        seconds of training have passed, and at the end (a checkpoint per epoch doubled
        the fit of small data sets).
    checkpoint_keep : int, default=2
    resume : bool, default=False
        Continue from the newest readable checkpoint in ``checkpoint_dir`` (a corrupted
        newest one is skipped with a warning); the result is bit-identical to an
        uninterrupted run. Starts fresh when there is none. ``learning_rate``, ``momentum``,
        ``max_iter``, ``n_iter_no_change``, ``tol`` and the checkpoint, device and
        verbosity settings may change at resume and apply from the resumed epoch
        (``history_["lr"]`` shows the rate of every epoch); changing any other parameter,
        or the data, raises :class:`~codings.exceptions.InvalidInputError` naming it.
    pretraining : {None, "layerwise", "layerwise-frozen"}, default=None
        Greedy layer-wise pretraining of the MLP before training the whole stack: each phase
        trains one encoder layer and its mirror decoder layer on the cached output of the
        layers below, for ``pretraining_iter`` epochs. "layerwise" trains separate shallow
        autoencoders and copies their weights in; "layerwise-frozen" trains the stack's own
        layers with the others frozen (the same result, without copies). Then ``max_iter``
        epochs fine-tune the whole stack (0 skips fine-tuning). Phase terms appear in
        ``history_`` as ``phase1_loss``, ``phase1_reconstruction``, ...
    pretraining_iter : int, optional
        Epochs per pretraining phase; None means ``max_iter``.
    precision : {"32", "bf16-mixed"}, default="32"
        "bf16-mixed" runs forward passes under ``torch.autocast`` in bfloat16 (weights and
        optimizer stay float32); falls back to "32" with a warning where the hardware has no
        native bfloat16.
    device : str, default="cpu"
        "cpu", "cuda", "cuda:N" or "auto".
    n_jobs : int or None, default=None
        Threads for torch and BLAS during each call, restored afterwards: None means
        ``OMP_NUM_THREADS`` when set, else 1 (measured in ``benchmarks/threads.py``); -1 all
        cores, -2 all but one. Results may differ in the last bits between thread counts.
    random_state : int, RandomState, Generator or None, default=None
        Seeds a private ``torch.Generator`` used for initialisation, shuffling and noise, so
        two fits are bit-identical (with the same number of processes and threads) and
        torch's global RNG is left untouched. An int must lie in [0, 2**32 - 1].
    verbose : int, default=0
        1 shows a progress bar (one line per epoch when stderr is not a terminal).

    Attributes
    ----------
    module_ : AutoEncoderModule
        The trained torch module (in eval mode).
    history_ : dict of str to list of float
        Per-epoch values of ``loss``, ``reconstruction``, each penalty, ``lr`` and ``time``
        (and ``val_*`` with early stopping).
    loss_curve_ : list of float
        ``history_["loss"]``.
    n_iter_ : int
        Epochs run.
    stop_reason_ : {"max_iter", "early_stopping", "diverged"}
        Why training ended.
    constraints_ : tuple of Constraint
        The validated ``constraints``.
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        Per-feature range of the training rows (a denoising chain starts inside it).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from codings import AutoEncoder
    >>> from codings.datasets import load_digits
    >>> X = load_digits().data
    >>> ae = AutoEncoder(n_components=2, max_iter=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 2)
    """

    def __init__(self, n_components: int = 2, *, hidden_layer_sizes: Sequence[int] = (100,),
                 activation: str = "elu", coding_activation: str | None = "identity",
                 output_activation: str = "identity", loss: str = "mse",
                 constraints: Sequence[Constraint] = (), architecture: str = "mlp",
                 image_shape: Sequence[int] | None = None, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None, init: str = "auto",
                 optimizer: str = "adam", learning_rate: float = 1e-3, momentum: float = 0.9,
                 lr_schedule: str = "constant", batch_size: int | str | None = "auto",
                 max_iter: int = 200, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 tol: float = 1e-4, on_nonfinite: str = "warn",
                 checkpoint_dir: Any = None, checkpoint_every: int | None = None,
                 checkpoint_keep: int = 2, resume: bool = False,
                 pretraining: str | None = None, pretraining_iter: int | None = None,
                 precision: str = "32", device: str = "cpu", n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0) -> None:
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.coding_activation = coding_activation
        self.output_activation = output_activation
        self.loss = loss
        self.constraints = constraints
        self.architecture = architecture
        self.image_shape = image_shape
        self.encoder = encoder
        self.decoder = decoder
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.on_nonfinite = on_nonfinite
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.checkpoint_keep = checkpoint_keep
        self.resume = resume
        self.pretraining = pretraining
        self.pretraining_iter = pretraining_iter
        self.precision = precision
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- validation and building --------------------------------------------------------
    def _validate_params(self) -> None:
        validate_params(self)

    def _constraints(self) -> tuple[Constraint, ...]:
        """The validated constraints (``constraints_`` once fitted)."""
        return getattr(self, "constraints_", None) or constraints_of(self.constraints)

    def _build_module(self, n_features: int, generator: torch.Generator,
                      seed: int) -> AutoEncoderModule:
        params = self.get_params(deep=False)
        params["hidden_layer_sizes"] = tuple(int(s) for s in self.hidden_layer_sizes)
        shape = None if self.encoder is not None else resolve_input_shape(
            self.architecture, self.image_shape, self._sample_shape(), n_features)
        return build_module(params, n_features, shape, self._constraints(), generator, seed)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, callbacks: Sequence[Callback] = ()) -> AutoEncoder:
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a memory-mapped array, or a path
            to a ``.npy`` file (streamed in shuffled chunks)
        y : ignored
        callbacks : sequence of Callback, optional
            Extra per-epoch hooks (a progress bar is added when ``verbose`` is set); see
            :mod:`codings.training.callbacks` for writing your own.

        Returns
        -------
        self : AutoEncoder

        Raises
        ------
        InvalidInputError
            For a bad parameter or input, a checkpoint folder holding another run, or a
            resume with changed parameters or data. TrainingDivergedError: see on_nonfinite.
        """
        self.constraints_ = validate_params(self)
        X = self._check_training_X(X, self.constraints_)
        with limit_threads(self.n_jobs):
            module, result = train(self, X, callbacks)
        self._set_fitted(module, result)
        self.data_min_, self.data_max_ = data_range(X)  # where a denoising chain starts
        return self

    def _set_fitted(self, module: AutoEncoderModule, result: TrainingResult) -> None:
        self.module_ = module.eval()
        self.history_ = result.history
        self.loss_curve_ = list(result.history.get("loss", []))
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason

    # -- inference -------------------------------------------------------------------------
    def _map_batches(self, X: np.ndarray, function: Any, out: np.ndarray | None = None, *,
                     draws_random: bool = False) -> np.ndarray:
        """``function(module, x)`` over batches of ``X`` (see :mod:`._inference`)."""
        with limit_threads(getattr(self, "n_jobs", None)):
            return map_batches(self.module_, X, function, out, draws_random=draws_random,
                               probe=self._probe())

    def _probe(self) -> tuple[Any, tuple[int, ...]]:
        """What decides the float64 path of every method: the whole round trip on flat
        input rows (see :mod:`._inference`)."""
        return _round_trip, (int(self.n_features_in_),)

    def _decode_output(self, x_hat: torch.Tensor) -> torch.Tensor:  # BCE decodes logits
        return torch.sigmoid(x_hat) if self.loss == "bce" else x_hat

    def transform(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Codings of ``X``: the mean coding for variational models, so it is deterministic.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a memory-mapped array, or a path
            to a ``.npy`` file (memory-mapped and streamed in batches)
        out : ndarray of shape (n_samples, n_components), optional
            Where to write the codings (for example ``np.lib.format.open_memmap(...)``), so
            large inputs are encoded without holding the result in memory. Must be float.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), in X's float dtype
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if out is not None:
            self._check_out(out, X.shape[0])
        return self._map_batches(X, lambda m, x: m.encode(x).z, out)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codings ``X`` of shape (n_samples, n_components) back to the input space
        (probabilities when ``loss="bce"``): an array of shape (n_samples, n_features_in_),
        or (n_samples, *input_shape_) for a model fitted on images or sequences."""
        check_is_fitted(self)
        Z = self._check_codings(X)
        X_hat = self._map_batches(Z, lambda m, z: self._decode_output(m.decode(z)))
        return self._as_input_shape(X_hat)

    def reconstruct(self, X: Any) -> np.ndarray:
        """``inverse_transform(transform(X))`` in one pass, without a round trip to numpy."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        X_hat = self._map_batches(X, lambda m, x: self._decode_output(_round_trip(m, x)))
        return self._as_input_shape(X_hat)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample reconstruction error (mean over features, as the training loss).

        Returns
        -------
        error : ndarray of shape (n_samples,)
            Mean over features of the squared error (``loss="mse"``) or of the binary
            cross-entropy in nats (``loss="bce"``), computed in X's precision.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)

        def error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # in X's precision
            return reconstruction_error(x_hat.to(x.dtype), x, self.loss, "mean")

        with limit_threads(getattr(self, "n_jobs", None)):
            return map_batches(self.module_, X, _round_trip, post=error, probe=self._probe())

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-sample score, higher for typical samples.

        Minus the reconstruction error; for a variational model, the ELBO in nats per sample
        (:meth:`elbo`, deterministic; :meth:`log_likelihood` gives a tighter estimate).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self._variational() is not None:
            return self.elbo(X)
        return -self.reconstruction_error(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean of :meth:`score_samples`, so that greater is better (for model selection)."""
        return float(np.mean(self.score_samples(X)))

    _n_features_out = property(lambda self: int(self.n_components))

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` (one safetensors file; see :func:`codings.load`)."""
        write_model(self, path)

    def export_onnx(self, directory: Any, *, opset: int | None = None) -> dict[str, Path]:
        """Write ``encoder.onnx`` and ``decoder.onnx`` (dynamic batch, weights inside).

        Needs the ``onnx`` extra; see :func:`codings.formats.onnx.export_onnx`.
        Variational models export the mean coding.
        """
        from codings.formats.onnx import export_onnx  # torch.onnx loads only when asked

        return export_onnx(self, directory, opset=opset)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

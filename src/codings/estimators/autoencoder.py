"""The scikit-learn estimator: one ``AutoEncoder`` for the whole family, built by composition."""

from __future__ import annotations

import copy
import os
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from codings.constraints.base import Constraint, check_compatible
from codings.estimators._building import build_module, resolve_image_shape
from codings.estimators._generative import GenerativeMixin
from codings.estimators._params import validate_params
from codings.estimators.validation import (
    as_float_tensor_input,
    check_features,
    check_sizes,
    check_streamed,
    check_unit_interval,
    first_nonfinite,
    open_npy,
    param_error,
)
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.training.callbacks import Callback, ProgressBar
from codings.training.checkpoint import Checkpointer
from codings.training.distributed import DistContext, device_for_rank, launched_by_torchrun
from codings.training.distributed import setup as setup_distributed
from codings.training.distributed import teardown as teardown_distributed
from codings.training.layerwise import pretrain
from codings.training.loop import (
    Trainer,
    TrainingConfig,
    TrainingResult,
    bf16_supported,
)
from codings.training.losses import reconstruction_error
from codings.training.sources import MemmapSource, streamed_rows

_OWNER = "AutoEncoder"
_INFERENCE_BATCH = 4096
_UNSCALED_MAGNITUDE = 5.0
_SCALE_CHECK_ROWS = 10_000  # rows read to judge scaling (a memory map is never read whole)
_STREAMED_VALIDATION_ROWS = 10_000


def torch_to_numpy(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.float64 if dtype == torch.float64 else np.float32)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device={device!r} was requested but CUDA is not available; "
                                "use device='cpu' or device='auto'.")
    return torch.device(device)


def seed_from(random_state: Any) -> int:
    """An int seed from ``random_state`` without touching numpy's or torch's global RNG."""
    if random_state is None:
        return secrets.randbits(63)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int64).max))
    return int(random_state)


class AutoEncoder(GenerativeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                  BaseEstimator):
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
    coding_activation : str or None, default=None
        Activation of the coding layer; None means the same as ``activation``. Use
        ``"identity"`` for linear codings and ``"sigmoid"`` for KL sparsity.
    output_activation : str, default="identity"
        Activation of the reconstruction (``"sigmoid"`` for data in [0, 1]). With
        ``loss="bce"`` the decoder outputs logits and this must be "identity" or "sigmoid".
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. "bce" needs data in [0, 1]; it is computed from logits.
    constraints : tuple of Constraint, default=()
        Applied in order, e.g. ``(Denoising(std=0.2), Sparsity(target=0.05))``.
    architecture : {"mlp", "conv"}, default="mlp"
        "conv": strided 3x3 convolutions (``hidden_layer_sizes`` are their channel counts)
        and a mirrored transposed-convolution decoder, for images given as
        (n, channels, height, width), (n, height, width), or flat with ``image_shape``.
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
    batch_size : int or None, default=256
        Rows per step; None means full batch. Capped at the number of rows.
    max_iter : int, default=200
        Number of epochs. Without early stopping, ``fit`` runs exactly this many.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the validation loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    on_nonfinite : {"warn", "raise"}, default="warn"
        What to do when the loss becomes NaN or infinite: training always stops and restores
        the best weights; then warn, or raise :class:`~codings.exceptions.TrainingDivergedError`.
    checkpoint_dir : str or path, optional
        Write a checkpoint (weights, optimizer, generator state, history) there every
        ``checkpoint_every`` epochs and at the end, atomically, keeping the newest
        ``checkpoint_keep``.
    checkpoint_every : int, default=1
    checkpoint_keep : int, default=2
    resume : bool, default=False
        Continue from the newest readable checkpoint in ``checkpoint_dir`` (a corrupted
        newest one is skipped with a warning); the result is bit-identical to an
        uninterrupted run. Starts fresh when there is none.
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
    random_state : int, RandomState or None, default=None
        Seeds a private ``torch.Generator`` used for initialisation, shuffling and noise, so
        two fits are bit-identical and torch's global RNG is left untouched.
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
                 activation: str = "elu", coding_activation: str | None = None,
                 output_activation: str = "identity", loss: str = "mse",
                 constraints: Sequence[Constraint] = (), architecture: str = "mlp",
                 image_shape: Sequence[int] | None = None, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None, init: str = "auto",
                 optimizer: str = "adam", learning_rate: float = 1e-3, momentum: float = 0.9,
                 lr_schedule: str = "constant", batch_size: int | None = 256,
                 max_iter: int = 200, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 tol: float = 1e-4, on_nonfinite: str = "warn",
                 checkpoint_dir: Any = None, checkpoint_every: int = 1,
                 checkpoint_keep: int = 2, resume: bool = False,
                 pretraining: str | None = None, pretraining_iter: int | None = None,
                 precision: str = "32", device: str = "cpu",
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
        self.random_state = random_state
        self.verbose = verbose

    # -- validation ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        validate_params(self)
        self._constraints()

    def _constraints(self) -> tuple[Constraint, ...]:
        constraints = (self.constraints,) if isinstance(self.constraints, Constraint) \
            else tuple(self.constraints or ())
        for constraint in constraints:
            if not isinstance(constraint, Constraint):
                raise param_error(_OWNER, "constraints",
                                  "a tuple of Constraint objects such as (Denoising(),)",
                                  self.constraints)
        check_compatible(constraints)
        return constraints

    # -- building --------------------------------------------------------------------------
    input_shape_: tuple[int, ...] | None

    def _build_module(self, n_features: int, generator: torch.Generator,
                      seed: int) -> AutoEncoderModule:
        params = self.get_params(deep=False)
        params["hidden_layer_sizes"] = check_sizes(_OWNER, "hidden_layer_sizes",
                                                   self.hidden_layer_sizes)
        image_shape = None
        if self.architecture == "conv" and self.encoder is None:
            image_shape = resolve_image_shape(self.image_shape, self._sample_shape(),
                                              n_features)
        return build_module(params, n_features, image_shape, self._constraints(), generator,
                            seed)

    def _check_memmap(self, X: np.memmap, *, reset: bool) -> np.memmap:
        images_ok = self.architecture == "conv" or self.encoder is not None
        check_streamed(X, images_ok=images_ok)
        n_features = int(np.prod(X.shape[1:]))
        if reset:
            self.n_features_in_ = n_features
            self.input_shape_ = tuple(int(s) for s in X.shape[1:]) if X.ndim > 2 else None
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise InvalidInputError(f"X has {n_features} features, but AutoEncoder is "
                                    f"expecting {self.n_features_in_} features as input.")
        return X

    def _sample_shape(self) -> tuple[int, ...] | None:
        shape = getattr(self, "input_shape_", None)
        return tuple(shape) if shape is not None and len(shape) > 1 else None

    def _check_X(self, X: Any, *, reset: bool) -> np.ndarray:
        """Validate X; images (n, C, H, W) or (n, H, W) are flattened for a conv model.

        A path to a ``.npy`` file is memory-mapped, and a memory-mapped array is checked
        chunk by chunk and returned as is, so it is never loaded whole.
        """
        if isinstance(X, str | os.PathLike):
            X = open_npy(X)
        if isinstance(X, np.memmap):
            return self._check_memmap(X, reset=reset)
        shape = getattr(X, "shape", None)
        images_ok = self.architecture == "conv" or self.encoder is not None
        if shape is not None and len(shape) > 2 and images_ok:
            if reset:
                self.input_shape_ = tuple(int(s) for s in shape[1:])
            elif getattr(self, "input_shape_", None) not in (None, tuple(shape[1:])):
                raise InvalidInputError(
                    f"X has images of shape {tuple(shape[1:])}, but the model was fitted on "
                    f"images of shape {self.input_shape_}.")
            X = np.asarray(X).reshape(shape[0], -1)
        elif shape is not None and len(shape) > 2:
            raise InvalidInputError(
                f"Found array with dim {len(shape)} (shape {tuple(shape)}); the MLP expects "
                "2-D input (n_samples, n_features). Flatten it with X.reshape(len(X), -1), or "
                "use architecture='conv' for images.")
        elif reset:
            self.input_shape_ = None
        return check_features(self, X, reset=reset)

    def _warn_if_identity_possible(self, n_features: int) -> None:
        if self.n_components >= n_features and not self._constraints():
            warnings.warn(
                f"n_components={self.n_components} is not smaller than the number of features "
                f"({n_features}) and no constraint is set: the autoencoder can learn to copy "
                "its input without finding structure. Use fewer components, or add a "
                "Denoising or Sparsity constraint.", UserWarning, stacklevel=3)

    def _warn_if_unscaled(self, X: np.ndarray) -> None:
        # Large raw feature values saturate or kill units at initialisation (an ELU coding
        # layer on raw 0-16 digits collapses to the mean image), and scaling is the fix.
        magnitude = max(float(np.abs(X.mean(axis=0)).max()), float(X.std(axis=0).max()))
        if magnitude > _UNSCALED_MAGNITUDE and self.activation != "identity":
            warnings.warn(
                f"X does not look scaled (a feature has mean or standard deviation "
                f"{magnitude:.3g}); autoencoders with nonlinear units train poorly on raw "
                "values. Put a StandardScaler or MinMaxScaler before AutoEncoder in a "
                "Pipeline.", UserWarning, stacklevel=3)

    def _training_data(self, X: np.ndarray, device: torch.device, generator: torch.Generator,
                       config: TrainingConfig) -> tuple[torch.Tensor | MemmapSource,
                                                        torch.Tensor | None]:
        """An in-memory tensor, or a streamed source (and its validation rows) for a memmap."""
        if not isinstance(X, np.memmap):
            return torch.from_numpy(as_float_tensor_input(X)).to(device), None
        validation, exclude = None, None
        if config.early_stopping:
            # Drawn first from the fresh generator, as for in-memory data, so resumes agree.
            n_val = min(max(1, round(X.shape[0] * config.validation_fraction)),
                        _STREAMED_VALIDATION_ROWS, X.shape[0] - 1)
            exclude = torch.randperm(X.shape[0], generator=generator)[:n_val].numpy()
            validation = streamed_rows(X, exclude).to(device)
        batch = min(config.batch_size or X.shape[0], X.shape[0])
        return MemmapSource(X, device, batch, exclude=exclude), validation

    def _training_config(self, device: torch.device | None = None) -> TrainingConfig:
        config = self._plain_training_config()
        if config.precision == "bf16-mixed" and not bf16_supported(
                device or torch.device("cpu")):
            warnings.warn("precision='bf16-mixed' needs native bfloat16 support, which this "
                          "device lacks; training in float32 instead.", UserWarning,
                          stacklevel=3)
            config.precision = "32"
        return config

    def _plain_training_config(self) -> TrainingConfig:
        return TrainingConfig(
            loss=self.loss, optimizer=self.optimizer, learning_rate=float(self.learning_rate),
            momentum=float(self.momentum), lr_schedule=self.lr_schedule,
            batch_size=self.batch_size, max_iter=int(self.max_iter),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=int(self.n_iter_no_change), tol=float(self.tol),
            on_nonfinite=self.on_nonfinite, precision=self.precision)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, callbacks: Sequence[Callback] = ()) -> AutoEncoder:
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        callbacks : sequence of Callback, optional
            Extra per-epoch hooks (a progress bar is added when ``verbose`` is set).

        Returns
        -------
        self : AutoEncoder
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        if X.shape[0] < 2:
            raise InvalidInputError("An autoencoder cannot learn from n_samples=1 (one "
                                    "sample): give at least 2 samples.")
        if self.loss == "bce":
            check_unit_interval(X)
        n_features = int(np.prod(X.shape[1:]))
        self._warn_if_identity_possible(n_features)
        self._warn_if_unscaled(X[:_SCALE_CHECK_ROWS].reshape(-1, n_features))
        if launched_by_torchrun() and not isinstance(self.random_state, int | np.integer):
            raise InvalidInputError("Training under torchrun needs an int random_state: every "
                                    "process must build the same model and draw the same "
                                    "batches.")
        device = device_for_rank(resolve_device(self.device))
        seed = seed_from(self.random_state)
        generator = torch.Generator().manual_seed(seed)
        module = self._build_module(n_features, generator, seed).to(device)
        config = self._training_config(device)
        data, validation = self._training_data(X, device, generator, config)
        context = setup_distributed(device)
        if context is not None and context.world_size > 1:
            # Each rank corrupts its own rows with its own noise; batches stay in step.
            module.generator = torch.Generator().manual_seed(seed + 7919 * (context.rank + 1))
        callbacks = list(callbacks)
        if self.verbose and (context is None or context.is_main):
            callbacks.append(ProgressBar())
        trainer = None
        try:
            phases = self._pretrain(module, data, config, generator, context, callbacks)
            if self.max_iter > 0:
                trainer = Trainer(module, config, generator, callbacks, context=context)
                result = trainer.fit(data, self._checkpointer(context),
                                     resume=bool(self.resume), validation=validation)
            else:
                result = TrainingResult({}, n_iter=0, best_epoch=-1, stop_reason="max_iter")
        finally:
            wrapper = trainer.forward_module if trainer is not None else None
            trainer = None  # the DDP wrapper must go before the process group
            teardown_distributed(wrapper, context)
        result.history = {**phases, **result.history}
        self._set_fitted(module, result)
        return self

    def _checkpointer(self, context: DistContext | None) -> Checkpointer | None:
        if self.checkpoint_dir is None:
            return None
        return Checkpointer(Path(self.checkpoint_dir), self.checkpoint_every,
                            self.checkpoint_keep, writer=context is None or context.is_main)

    def _pretrain(self, module: AutoEncoderModule, data: Any, config: TrainingConfig,
                  generator: torch.Generator, context: DistContext | None,
                  callbacks: list[Callback]) -> dict[str, list[float]]:
        """Greedy layer-wise phases, unless a checkpoint of the fine-tuning is resumed."""
        checkpointer = self._checkpointer(context)
        if self.pretraining is None or (self.resume and checkpointer is not None
                                        and checkpointer.existing()):
            return {}
        if not isinstance(data, torch.Tensor):
            raise InvalidInputError("Layer-wise pretraining caches every layer's output in "
                                    "memory, so it cannot stream a memory-mapped array; "
                                    "load the data with np.load(path) or drop pretraining.")
        if context is not None:
            raise InvalidInputError("Layer-wise pretraining runs in one process; train "
                                    "without torchrun or without pretraining.")
        epochs = self.pretraining_iter or self.max_iter
        return pretrain(module, data, config, epochs, generator, self.pretraining, callbacks)

    def _set_fitted(self, module: AutoEncoderModule, result: TrainingResult) -> None:
        self.module_ = module.eval()
        self.history_ = result.history
        self.loss_curve_ = list(result.history.get("loss", []))
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason

    # -- inference -------------------------------------------------------------------------
    def _inference_module(self, dtype: np.dtype) -> tuple[AutoEncoderModule, torch.dtype]:
        """The module to run on ``dtype`` input: float64 input on CPU runs on a float64 copy.

        Training is float32; inference on float64 input in float64 makes results independent
        of batch size and row order to ~1e-15 instead of ~1e-6 (the copy costs one pass over
        the weights per call).
        """
        module = self.module_.eval()
        device = next(module.parameters()).device
        if np.dtype(dtype) == np.float64 and device.type == "cpu":
            return copy.deepcopy(module).double(), torch.float64
        return module, torch.float32

    @torch.inference_mode()
    def _map_batches(self, X: np.ndarray, function: Any,
                     out: np.ndarray | None = None) -> np.ndarray:
        """Apply ``function(module, x)`` to tensor batches of ``X``; numpy in X's dtype out.

        With ``out`` (for example a memory-mapped array), each batch's result is written
        there as it is computed, so nothing of size ``n_samples`` is held in memory.
        """
        module, dtype = self._inference_module(X.dtype)
        device = next(module.parameters()).device
        out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        parts = []
        for start in range(0, X.shape[0], _INFERENCE_BATCH):
            batch = np.ascontiguousarray(X[start:start + _INFERENCE_BATCH])
            batch = batch.reshape(len(batch), -1)
            if batch.dtype == torch_to_numpy(dtype) and batch.flags.writeable:
                x = torch.from_numpy(batch).to(device)  # no copy when nothing needs converting
            else:
                x = torch.tensor(batch, dtype=dtype, device=device)
            result = function(module, x).cpu().numpy()
            if out is None:
                parts.append(result)
            else:
                out[start:start + len(result)] = result
        return out if out is not None else np.concatenate(parts).astype(out_dtype, copy=False)

    def _decode_output(self, x_hat: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x_hat) if self.loss == "bce" else x_hat

    def transform(self, X: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Codings of ``X``: the mean coding for variational models, so it is deterministic.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), a memory-mapped array, or a path
            to a ``.npy`` file (memory-mapped and streamed in batches)
        out : ndarray of shape (n_samples, n_components), optional
            Where to write the codings (for example ``np.lib.format.open_memmap(...)``), so
            large inputs are encoded without holding the result in memory.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), in X's float dtype
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if out is not None and tuple(out.shape) != (X.shape[0], self.n_components):
            raise InvalidInputError(f"out must have shape {(X.shape[0], self.n_components)} "
                                    f"(n_samples, n_components); got {tuple(out.shape)}.")
        return self._map_batches(X, lambda m, x: m.encode(x).z, out)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codings back to the input space (probabilities when ``loss="bce"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features_in_)
            Or (n_samples, *image_shape) for a model fitted on image arrays.
        """
        check_is_fitted(self)
        Z = self._check_codings(X)
        X_hat = self._map_batches(Z, lambda m, z: self._decode_output(m.decode(z)))
        return self._as_input_shape(X_hat)

    def _as_input_shape(self, X_flat: np.ndarray) -> np.ndarray:
        shape = getattr(self, "input_shape_", None)
        return X_flat.reshape(len(X_flat), *shape) if shape else X_flat

    def _check_codings(self, Z: Any) -> np.ndarray:
        from sklearn.utils import check_array

        try:
            Z = check_array(Z, dtype=[np.float64, np.float32], ensure_all_finite=False)
        except ValueError as exc:
            raise InvalidInputError(f"Invalid codings for inverse_transform: {exc}") from exc
        if Z.shape[1] != self.n_components:
            raise InvalidInputError(
                f"inverse_transform expects codings with {self.n_components} columns "
                f"(n_components), got an array of shape {Z.shape}.")
        if not np.isfinite(Z).all():
            raise InvalidInputError("The codings passed to inverse_transform contain NaN or "
                                    f"infinity: it {first_nonfinite(Z)}.")
        return Z

    def reconstruct(self, X: Any) -> np.ndarray:
        """``inverse_transform(transform(X))`` in one pass, without a round trip to numpy."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        X_hat = self._map_batches(X, lambda m, x: self._decode_output(m.decode(m.encode(x).z)))
        return self._as_input_shape(X_hat)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Per-sample reconstruction error (mean over features, as the training loss).

        Returns
        -------
        error : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)

        def error(module: AutoEncoderModule, x: torch.Tensor) -> torch.Tensor:
            x_hat = module.decode(module.encode(x).z)
            return reconstruction_error(x_hat, x, self.loss, "mean")

        return self._map_batches(X, error)

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-sample score, higher for typical samples.

        Minus the reconstruction error; for a variational model, the ELBO in nats
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

    @property
    def _n_features_out(self) -> int:
        return int(self.n_components)

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` (one safetensors file; see :func:`codings.load`)."""
        from codings.estimators.persistence import save_model

        save_model(self, path)

    def export_onnx(self, directory: Any, *, opset: int | None = None) -> dict[str, Path]:
        """Write ``encoder.onnx`` and ``decoder.onnx`` (dynamic batch, weights inside).

        Needs ``pip install codings[onnx]``; see :func:`codings.estimators.onnx_export.
        export_onnx`. Variational models export the mean coding.
        """
        from codings.estimators.onnx_export import export_onnx

        return export_onnx(self, directory, opset=opset)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

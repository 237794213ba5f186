"""Turn an estimator's parameters into an :class:`AutoEncoderModule`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import nn

from codings.constraints.base import Constraint
from codings.exceptions import InvalidInputError
from codings.nn.conv import build_conv
from codings.nn.layers import build_mlp
from codings.nn.module import AutoEncoderModule
from codings.nn.sequence import SEQUENCE_ARCHITECTURES, build_conv1d, build_recurrent

ARCHITECTURES = ("mlp", "conv", *SEQUENCE_ARCHITECTURES)
#: (architecture, constraint name) -> why the built-in architecture cannot take it.
REFUSED: dict[tuple[str, str], str] = {
    **{(cell, "tied_weights"): "a recurrent layer has no transpose to share with the decoder, "
       "whose layers read the coding rather than mirror the encoder's; use "
       "architecture='mlp' or 'conv' for tied weights." for cell in ("lstm", "gru")},
    ("conv1d", "tied_weights"): "tied weights cover linear and 2-D convolution layers, not the "
                                "1-D temporal convolutions; use architecture='mlp' or 'conv'.",
}


def resolve_image_shape(image_shape: Any, sample_shape: tuple[int, ...] | None,
                        n_features: int) -> tuple[int, int, int]:
    """``(channels, height, width)`` for a conv model, from the parameter or the input."""
    if image_shape is None and sample_shape is not None and len(sample_shape) in (2, 3):
        image_shape = sample_shape
    if image_shape is None:
        raise InvalidInputError(
            "architecture='conv' needs images: pass X of shape (n, channels, height, width) "
            "or (n, height, width), or flat X with image_shape=(channels, height, width).")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or int(np.prod(shape)) != n_features:
        raise InvalidInputError(
            f"image_shape={tuple(image_shape)} does not fit inputs with {n_features} "
            "features per sample; give (channels, height, width) whose product is the "
            "number of features.")
    return shape[0], shape[1], shape[2]


def resolve_sequence_shape(shape: Any, sample_shape: tuple[int, ...] | None,
                           n_features: int, architecture: str = "lstm") -> tuple[int, int]:
    """``(timesteps, channels)`` for a sequence model, from the input or the parameter.

    Samples shaped ``(timesteps,)`` or ``(timesteps, channels)`` give it; flat rows are one
    channel unless ``shape`` (``(timesteps, channels)``) says otherwise.
    """
    if sample_shape is not None and len(sample_shape) > 2:
        raise InvalidInputError(
            f"architecture={architecture!r} takes sequences of shape (n, timesteps, channels) "
            f"or (n, timesteps); got samples of shape {tuple(sample_shape)}.")
    if sample_shape is not None:
        shape = sample_shape
    dims = (n_features, 1) if shape is None else tuple(int(s) for s in shape)
    if len(dims) == 1:
        dims = (dims[0], 1)
    if len(dims) != 2 or dims[0] * dims[1] != n_features:
        raise InvalidInputError(
            f"The sequence shape {dims} does not fit inputs with {n_features} features per "
            "sample; give (timesteps, channels) whose product is the number of features.")
    return dims[0], dims[1]


def resolve_input_shape(architecture: str, shape: Any, sample_shape: tuple[int, ...] | None,
                        n_features: int) -> tuple[int, ...] | None:
    """The per-sample shape a built-in architecture needs: ``(channels, height, width)`` for
    "conv", ``(timesteps, channels)`` for the sequence ones, None for "mlp"."""
    if architecture == "conv":
        return resolve_image_shape(shape, sample_shape, n_features)
    if architecture in SEQUENCE_ARCHITECTURES:
        return resolve_sequence_shape(shape, sample_shape, n_features, architecture)
    return None


def check_architecture(architecture: str, constraints: Sequence[Constraint]) -> None:
    """Refuse a constraint the built-in ``architecture`` cannot take, with the reason."""
    for constraint in constraints:
        reason = REFUSED.get((architecture, constraint.name))
        if reason:
            raise InvalidInputError(f"{type(constraint).__name__} cannot be used with "
                                    f"architecture={architecture!r}: {reason}")


def _build_builtin(params: dict[str, Any], n_features: int, input_shape: tuple[int, ...] | None,
                   generator: torch.Generator) -> tuple[nn.Module, nn.Module]:
    """The built-in encoder and decoder (inside build_module's forked RNG)."""
    architecture = params["architecture"]
    coding_activation = params["coding_activation"] or params["activation"]
    # With BCE the decoder emits logits; the sigmoid is applied when decoding for the user.
    output_activation = "identity" if params["loss"] == "bce" else params["output_activation"]
    hidden = tuple(params["hidden_layer_sizes"])
    if architecture in ("conv", *SEQUENCE_ARCHITECTURES) and input_shape is None:
        input_shape = resolve_input_shape(architecture, params.get("image_shape"), None,
                                          n_features)
    if architecture in ("conv", "conv1d"):
        assert input_shape is not None
        build = build_conv if architecture == "conv" else build_conv1d
        return build(input_shape, hidden or (32,), params["n_components"], params["activation"],
                     coding_activation, output_activation, params["init"], generator)
    if architecture in SEQUENCE_ARCHITECTURES:
        assert input_shape is not None
        return build_recurrent(architecture, input_shape, hidden or (32,),
                               params["n_components"], coding_activation, output_activation,
                               params["init"], generator)
    return build_mlp(n_features, hidden, params["n_components"], params["activation"],
                     coding_activation, output_activation, params["init"], generator)


def _reset(module: nn.Module) -> nn.Module:
    """A fresh copy of a user's module with re-drawn parameters (fit never mutates theirs)."""
    fresh = copy.deepcopy(module)
    for sub in fresh.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
    return fresh


MAX_WEIGHTS = 2**31  # 8 GiB of float32 weights: far above any autoencoder here


def check_network_size(n_features: int, hidden_layer_sizes: tuple[int, ...],
                       n_components: int) -> None:
    """Refuse layer sizes whose dense weights alone would exceed :data:`MAX_WEIGHTS`, before
    torch tries to allocate them (a typo such as ``n_components=10**9``)."""
    sizes = [n_features, *hidden_layer_sizes, n_components]
    weights = 2 * sum(a * b for a, b in pairwise(sizes))  # encoder and its mirror
    if weights > MAX_WEIGHTS:
        raise InvalidInputError(
            f"n_components={n_components} and hidden_layer_sizes={tuple(hidden_layer_sizes)} "
            f"on {n_features} features make {weights:.3g} weights, more than {MAX_WEIGHTS:.3g} "
            "(8 GiB); use smaller layers.")


def build_module(params: dict[str, Any], n_features: int, input_shape: tuple[int, ...] | None,
                 constraints: Sequence[Constraint], generator: torch.Generator,
                 seed: int) -> AutoEncoderModule:
    """Build encoder, decoder and constraints from validated estimator parameters.

    ``input_shape`` is the per-sample shape from :func:`resolve_input_shape`: ``(channels,
    height, width)`` for "conv", ``(timesteps, channels)`` for "lstm", "gru" and "conv1d"
    (when None, a sequence model takes each flat row as one channel, or the shape in
    ``params["image_shape"]``). torch's default initialisers draw from the global RNG:
    construction runs inside a forked RNG seeded from ``seed``, so the user's random stream is
    untouched and the result is reproducible; the built-in layers are then re-initialised from
    ``generator``.
    """
    if params.get("encoder") is None:
        check_network_size(n_features, tuple(params["hidden_layer_sizes"]),
                           int(params["n_components"]))
    try:
        return _build_module(params, n_features, input_shape, constraints, generator, seed)
    except (MemoryError, RuntimeError) as exc:
        if "allocate" not in str(exc) and not isinstance(exc, MemoryError):
            raise
        raise InvalidInputError(
            f"The network does not fit in memory (n_components={params['n_components']}, "
            f"hidden_layer_sizes={tuple(params['hidden_layer_sizes'])}): use smaller layers."
        ) from None


def _build_module(params: dict[str, Any], n_features: int, input_shape: tuple[int, ...] | None,
                  constraints: Sequence[Constraint], generator: torch.Generator,
                  seed: int) -> AutoEncoderModule:
    if params["encoder"] is None:
        check_architecture(params["architecture"], constraints)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if params["encoder"] is not None:
            encoder, decoder = _reset(params["encoder"]), _reset(params["decoder"])
        else:
            encoder, decoder = _build_builtin(params, n_features, input_shape, generator)
        module = AutoEncoderModule(encoder, decoder, tuple(constraints), generator,
                                   builtin=params["encoder"] is None)
    if params["encoder"] is not None:
        check_custom_modules(module, n_features, params["n_components"])
    return module


def check_custom_modules(module: AutoEncoderModule, n_features: int, n_components: int) -> None:
    """One dry pass on zeros, so a user's modules that do not fit fail here, clearly."""
    x = torch.zeros(2, n_features)
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except (RuntimeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"The custom encoder/decoder failed on input with "
                                f"{n_features} features: {first}") from exc
    finally:
        module.train()
    if out.z.shape != (2, n_components):
        raise InvalidInputError(
            f"The custom encoder gives codings of shape {tuple(out.z.shape[1:])} per sample, "
            f"but n_components={n_components}; make them match (a variational encoder "
            f"outputs 2 * n_components columns: mu and log_var).")
    if out.x_hat.shape != x.shape:
        raise InvalidInputError(
            f"decoder(encoder(x)) has shape {tuple(out.x_hat.shape[1:])} per sample, but x "
            f"has {n_features} features; the decoder must reconstruct the input's shape.")


def module_class_name(module: nn.Module | None) -> str | None:
    if module is None:
        return None
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"

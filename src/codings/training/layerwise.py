"""Greedy layer-wise pretraining: one shallow autoencoder at a time, then the whole stack.

Hinton & Salakhutdinov (Science, 2006) pretrained deep autoencoders one layer at a time;
Bengio, Lamblin, Popovici & Larochelle ("Greedy layer-wise training of deep networks",
NeurIPS 2007) showed autoencoders work for it. Phase ``k`` trains encoder block ``k`` and
its mirror decoder block to reconstruct ``h_{k-1}``, the output of the encoder blocks below,
which stay fixed. ``h_{k-1}`` is computed once per phase and cached, so a phase never runs
the frozen layers again (the chapter's "cache the frozen layer's outputs" variant).

Two forms, as in the chapter:

- ``"layerwise"``: each phase trains a separate shallow autoencoder (copies of the two
  blocks) whose weights are then copied into the stack;
- ``"layerwise-frozen"``: each phase trains the stack's own blocks in place, with every
  other parameter frozen (``requires_grad=False``).

Both start from the same weights and see the same batches, so they give the same stack; the
second avoids the copies.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from codings._params import PRETRAINING
from codings.exceptions import InvalidInputError
from codings.nn.module import AutoEncoderModule
from codings.nn.tied import TiedLinear
from codings.training.callbacks import Callback
from codings.training.inference import batched
from codings.training.recipe import autoencoder_trainer

__all__ = ["PRETRAINING", "blocks", "pretrain"]
_LINEAR = (nn.Linear, TiedLinear)


def blocks(sequential: nn.Module) -> list[nn.Sequential]:
    """Split a built-in MLP half into blocks, each a linear layer and its activation."""
    if not isinstance(sequential, nn.Sequential):
        raise InvalidInputError("Layer-wise pretraining needs the built-in MLP architecture.")
    result: list[list[nn.Module]] = []
    for layer in sequential:
        if isinstance(layer, _LINEAR):
            result.append([layer])
        elif result and not isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Unflatten):
            result[-1].append(layer)
        else:
            raise InvalidInputError("Layer-wise pretraining needs the built-in MLP "
                                    f"architecture; found {type(layer).__name__}.")
    return [nn.Sequential(*layers) for layers in result]


def _phase_constraints(module: AutoEncoderModule, last: bool) -> tuple:
    phase = []
    for constraint in module.constraints:
        mode = constraint.layerwise
        if mode == "refuse":
            raise InvalidInputError(f"{type(constraint).__name__} cannot be pretrained layer "
                                    "by layer: its coding is defined only for the whole stack. "
                                    "Train it with pretraining=None.")
        if mode == "each" or (mode == "last" and last):
            phase.append(constraint)
    return tuple(phase)


def pretrain(module: AutoEncoderModule, x: Tensor, settings: Mapping[str, Any], epochs: int,
             generator: torch.Generator, form: str,
             callbacks: Sequence[Callback] = ()) -> dict[str, list[float]]:
    """Pretrain ``module``'s blocks greedily in place; return the phase histories.

    The history keys are ``phase{k}_{term}`` (``phase1_loss``, ``phase1_reconstruction``,
    each penalty), one value per epoch of that phase.
    """
    encoder_blocks, decoder_blocks = blocks(module.encoder), blocks(module.decoder)
    if len(encoder_blocks) != len(decoder_blocks):
        raise InvalidInputError("Layer-wise pretraining needs a decoder that mirrors the "
                                "encoder block by block.")
    phase_settings = {**settings, "max_iter": epochs, "early_stopping": False, "loss": "mse"}
    history: dict[str, list[float]] = {}
    inputs = x
    n = len(encoder_blocks)
    for k, (encoder, decoder) in enumerate(zip(encoder_blocks, reversed(decoder_blocks),
                                               strict=True), start=1):
        # The first phase reconstructs the data with the model's own loss (BCE logits or
        # MSE); deeper phases reconstruct hidden activations, which only MSE fits.
        cfg = {**phase_settings, "loss": settings["loss"]} if k == 1 else phase_settings
        constraints = _phase_constraints(module, last=k == n)
        if form == "layerwise":
            trained_encoder, trained_decoder = _train_copy(encoder, decoder, constraints,
                                                           inputs, cfg, generator, callbacks,
                                                           history, k)
            encoder.load_state_dict(trained_encoder.state_dict())
            decoder.load_state_dict(trained_decoder.state_dict())
        else:
            _train_in_place(module, encoder, decoder, constraints, inputs, cfg, generator,
                            callbacks, history, k)
        if k < n:
            inputs = batched(encoder, inputs)
    return history


def _record(history: dict[str, list[float]], phase: dict[str, list[float]], k: int) -> None:
    for name, values in phase.items():
        if name not in {"lr", "time"}:
            history[f"phase{k}_{name}"] = list(values)


def _train_copy(encoder: nn.Module, decoder: nn.Module, constraints: tuple,
                inputs: Tensor, settings: Mapping[str, Any], generator: torch.Generator,
                callbacks: Sequence[Callback], history: dict[str, list[float]],
                k: int) -> tuple[nn.Module, nn.Module]:
    # Copied together so a tied decoder keeps pointing at the copied encoder weight.
    encoder_copy, decoder_copy = copy.deepcopy((encoder, decoder))
    shallow = AutoEncoderModule(encoder_copy, decoder_copy, constraints, generator)
    trainer = autoencoder_trainer(shallow, settings, generator, callbacks=callbacks)
    result = trainer.fit(inputs, settings["max_iter"], settings["batch_size"])
    _record(history, result.history, k)
    return encoder_copy, decoder_copy


def _train_in_place(module: AutoEncoderModule, encoder: nn.Module, decoder: nn.Module,
                    constraints: tuple, inputs: Tensor, settings: Mapping[str, Any],
                    generator: torch.Generator, callbacks: Sequence[Callback],
                    history: dict[str, list[float]], k: int) -> None:
    trainable = {id(p) for p in [*encoder.parameters(), *decoder.parameters()]}
    saved = {name: p.requires_grad for name, p in module.named_parameters()}
    for p in module.parameters():
        p.requires_grad_(id(p) in trainable)
    try:
        shallow = AutoEncoderModule(encoder, decoder, constraints, generator)
        params = [p for p in module.parameters() if p.requires_grad]
        trainer = autoencoder_trainer(shallow, settings, generator, callbacks=callbacks,
                                      parameters=params)
        result = trainer.fit(inputs, settings["max_iter"], settings["batch_size"])
        _record(history, result.history, k)
    finally:
        for name, p in module.named_parameters():
            p.requires_grad_(saved[name])

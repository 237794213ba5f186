"""Hyperparameter validation for AutoEncoder: scikit-learn's rule is to check in ``fit``."""

from __future__ import annotations

from typing import Any

from torch import nn

from codings.estimators._building import ARCHITECTURES
from codings.estimators.validation import check_choice, check_number, check_sizes, param_error
from codings.nn.layers import ACTIVATIONS, INITS
from codings.training.layerwise import PRETRAINING
from codings.training.loop import LR_SCHEDULES, OPTIMIZERS, PRECISIONS
from codings.training.losses import LOSSES

OWNER = "AutoEncoder"
NONFINITE_POLICIES = ("warn", "raise")


def validate_params(est: Any) -> None:
    """Check every hyperparameter of an AutoEncoder, with one message template."""
    check_number(OWNER, "n_components", est.n_components, integer=True, low=1)
    check_sizes(OWNER, "hidden_layer_sizes", est.hidden_layer_sizes)
    for name in ("activation", "output_activation"):
        check_choice(OWNER, name, getattr(est, name), ACTIVATIONS)
    if est.coding_activation is not None:
        check_choice(OWNER, "coding_activation", est.coding_activation, ACTIVATIONS)
    check_choice(OWNER, "loss", est.loss, LOSSES)
    if est.loss == "bce" and est.output_activation not in {"identity", "sigmoid"}:
        raise param_error(OWNER, "output_activation",
                          "'identity' or 'sigmoid' with loss='bce' (the decoder outputs "
                          "logits and the sigmoid is applied for you)",
                          est.output_activation)
    check_choice(OWNER, "architecture", est.architecture, ARCHITECTURES)
    if (est.encoder is None) != (est.decoder is None) or not all(
            m is None or isinstance(m, nn.Module) for m in (est.encoder, est.decoder)):
        raise param_error(OWNER, "encoder", "given together with decoder, both torch "
                          "nn.Module instances", (est.encoder, est.decoder))
    check_choice(OWNER, "init", est.init, INITS)
    check_choice(OWNER, "optimizer", est.optimizer, OPTIMIZERS)
    check_choice(OWNER, "lr_schedule", est.lr_schedule, LR_SCHEDULES)
    check_choice(OWNER, "on_nonfinite", est.on_nonfinite, NONFINITE_POLICIES)
    check_number(OWNER, "learning_rate", est.learning_rate, low=0, low_open=True)
    check_number(OWNER, "momentum", est.momentum, low=0, high=1, high_open=True)
    if est.batch_size is not None:
        check_number(OWNER, "batch_size", est.batch_size, integer=True, low=1)
    check_number(OWNER, "max_iter", est.max_iter, integer=True,
                 low=0 if est.pretraining is not None else 1)
    if est.pretraining is not None:
        check_choice(OWNER, "pretraining", est.pretraining, PRETRAINING)
    if est.pretraining_iter is not None:
        check_number(OWNER, "pretraining_iter", est.pretraining_iter, integer=True, low=1)
    check_choice(OWNER, "precision", est.precision, PRECISIONS)
    check_number(OWNER, "validation_fraction", est.validation_fraction, low=0, high=1,
                 low_open=True, high_open=True)
    check_number(OWNER, "n_iter_no_change", est.n_iter_no_change, integer=True, low=1)
    check_number(OWNER, "tol", est.tol, low=0)
    check_number(OWNER, "verbose", est.verbose, integer=True, low=0)
    check_number(OWNER, "checkpoint_every", est.checkpoint_every, integer=True, low=1)
    check_number(OWNER, "checkpoint_keep", est.checkpoint_keep, integer=True, low=1)
    if est.resume and est.checkpoint_dir is None:
        raise param_error(OWNER, "resume", "False unless checkpoint_dir is set (there is "
                          "nowhere to resume from)", est.resume)
    if not isinstance(est.device, str):
        raise param_error(OWNER, "device", "a str such as 'cpu', 'cuda' or 'auto'",
                          est.device)

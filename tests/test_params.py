"""The one parameter table: the signature, the docstring, validation and the CLI read it."""

from __future__ import annotations

import inspect

import pytest

from codings import AnomalyDetector, AutoEncoder, EncoderClassifier
from codings._params import (
    AUTOENCODER_PARAMS,
    CLASSIFIER_PARAMS,
    DETECTOR_PARAMS,
    PARAMS_BY_NAME,
    cli_params,
)
from codings.cli.flags import parameter_kwargs
from codings.cli.parser import build_parser, estimator_kwargs
from codings.exceptions import InvalidInputError


def test_signature_is_the_table() -> None:
    parameters = inspect.signature(AutoEncoder).parameters
    assert list(parameters) == [p.name for p in AUTOENCODER_PARAMS]
    for param in AUTOENCODER_PARAMS:
        assert parameters[param.name].default == param.default, param.name


def test_every_parameter_is_documented() -> None:
    doc = AutoEncoder.__doc__ or ""
    for param in AUTOENCODER_PARAMS:
        assert f"\n    {param.name}" in doc or f", {param.name}" in doc, param.name


def test_every_cli_flag_is_a_parameter_and_parses_back() -> None:
    parser = build_parser()
    args = parser.parse_args(["fit", "--learning-rate", "0.05", "--batch-size", "full",
                              "--hidden-layer-sizes", "8,4", "--no-early-stopping",
                              "--random-state", "3"])
    assert estimator_kwargs(args) == {"learning_rate": 0.05, "batch_size": None,
                                      "hidden_layer_sizes": (8, 4), "early_stopping": False,
                                      "random_state": 3}
    help_text = parser._subparsers._group_actions[0].choices["fit"].format_help()
    for param in cli_params():
        assert param.option in help_text, param.option
    assert "--encoder" not in help_text and "--verbose" not in help_text


def test_module_constants_come_from_the_table() -> None:
    from codings import _params
    from codings.nn.layers import ACTIVATIONS, INITS
    from codings.training.layerwise import PRETRAINING
    from codings.training.losses import LOSSES

    assert tuple(ACTIVATIONS) == _params.ACTIVATIONS
    assert INITS is _params.INITS and LOSSES is _params.LOSSES
    assert PRETRAINING is _params.PRETRAINING


@pytest.mark.parametrize("name", [p.name for p in AUTOENCODER_PARAMS
                                  if p.spec.kind in {"int", "float", "choice"}])
def test_each_checked_parameter_refuses_a_bad_value_by_name(name: str, small_data) -> None:
    param = PARAMS_BY_NAME[name]
    bad = "not-a-choice" if param.spec.kind == "choice" else -1e9
    with pytest.raises(InvalidInputError, match=f"'{name}' parameter of AutoEncoder"):
        AutoEncoder(**{name: bad}).fit(small_data)


@pytest.mark.parametrize("value", ["abc", 2**64, -1, 1.5, True])
def test_random_state_refuses_anything_but_a_seed(value, small_data) -> None:
    with pytest.raises(InvalidInputError, match="'random_state' parameter"):
        AutoEncoder(max_iter=1, random_state=value).fit(small_data)


@pytest.mark.parametrize("value", [None, 0, 2**32 - 1])
def test_random_state_accepts_numpys_seed_range(value, small_data) -> None:
    import numpy as np

    AutoEncoder(max_iter=1, random_state=value).fit(small_data)
    AutoEncoder(max_iter=1, random_state=np.random.RandomState(0)).fit(small_data)
    AutoEncoder(max_iter=1, random_state=np.random.default_rng(0)).fit(small_data)


@pytest.mark.parametrize("device", ["tpu", "banana", "cuda:x"])
def test_unknown_device_gets_one_line(device, small_data) -> None:
    with pytest.raises(InvalidInputError, match="device"):
        AutoEncoder(max_iter=1, device=device).fit(small_data)


@pytest.mark.parametrize("params", [{"n_components": 10**9},
                                    {"hidden_layer_sizes": (10**6, 10**6)}])
def test_a_network_too_large_is_refused_before_allocating(params, small_data) -> None:
    with pytest.raises(InvalidInputError, match="use smaller layers"):
        AutoEncoder(max_iter=1, **params).fit(small_data)


# -- the classifier's and the detector's tables ---------------------------------------------
TABLES = [(EncoderClassifier, CLASSIFIER_PARAMS), (AnomalyDetector, DETECTOR_PARAMS)]


@pytest.mark.parametrize(("cls", "table"), TABLES)
def test_each_estimators_signature_is_its_table(cls, table) -> None:
    parameters = inspect.signature(cls).parameters
    assert list(parameters) == [p.name for p in table]
    for param in table:
        assert parameters[param.name].default == param.default, param.name


@pytest.mark.parametrize(("cls", "table"), TABLES)
def test_each_estimators_parameters_are_documented(cls, table) -> None:
    doc = cls.__doc__ or ""
    for param in table:
        assert f"\n    {param.name}" in doc or f", {param.name}" in doc, param.name


@pytest.mark.parametrize(("cls", "name"), [
    (cls, p.name) for cls, table in TABLES for p in table
    if p.spec.kind in {"int", "float", "choice", "seed"}])
def test_each_table_refuses_a_bad_value_by_name(cls, name: str) -> None:
    param = {p.name: p for p in dict(TABLES)[cls]}[name]
    bad = "not-a-choice" if param.spec.kind in {"choice", "seed"} else -1e9
    with pytest.raises(InvalidInputError, match=f"'{name}' parameter of {cls.__name__}"):
        cls(**{name: bad})._validate_params()


def test_fit_classifier_flags_are_the_classifiers_names_and_keep_the_old_spellings() -> None:
    parser = build_parser()
    new = parser.parse_args(["fit-classifier", "--data", "digits", "--max-iter", "3",
                             "--random-state", "4", "--learning-rate", "0.01"])
    old = parser.parse_args(["fit-classifier", "--data", "digits", "--epochs", "3",
                             "--seed", "4", "--learning-rate", "0.01"])
    expected = {"max_iter": 3, "random_state": 4, "learning_rate": 0.01}
    assert parameter_kwargs(new, cli_params(CLASSIFIER_PARAMS)) == expected
    assert parameter_kwargs(old, cli_params(CLASSIFIER_PARAMS)) == expected
    # the same name means the same thing on fit
    fit = parser.parse_args(["fit", "--max-iter", "3", "--random-state", "4"])
    assert estimator_kwargs(fit) == {"max_iter": 3, "random_state": 4}

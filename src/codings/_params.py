"""The estimators' parameters, written once: name, default, allowed values and CLI help.

One table per estimator (:data:`AUTOENCODER_PARAMS`, :data:`CLASSIFIER_PARAMS`,
:data:`DETECTOR_PARAMS`). Everything that walks the parameters reads them: each estimator's
``_validate_params``, the CLI's flags (``codings fit --learning-rate ...``, ``codings
fit-classifier --max-iter ...``: one name means one thing on every command), the run identity
a checkpoint records, and the test that every parameter is documented. The ``__init__``
signatures stay written out (type checkers and IDEs read them); a test holds each equal to
its table.

This module imports only the standard library, so ``codings --help`` loads neither torch nor
numpy.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from codings.exceptions import InvalidInputError, did_you_mean

ACTIVATIONS = ("identity", "relu", "elu", "selu", "sigmoid", "tanh")
INITS = ("auto", "he", "glorot")
LOSSES = ("mse", "bce")
ARCHITECTURES = ("mlp", "conv", "lstm", "gru", "conv1d")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "nadam")
LR_SCHEDULES = ("constant", "plateau", "cosine")
PRECISIONS = ("32", "bf16-mixed")
PRETRAINING = ("layerwise", "layerwise-frozen")
NONFINITE_POLICIES = ("warn", "raise")
SEED_MAX = 2**32 - 1  # numpy's seed range


def param_error(owner: str, name: str, expected: str, value: Any) -> InvalidInputError:
    """scikit-learn's template: "The 'x' parameter of Y must be ... Got ... instead."."""
    return InvalidInputError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        listed = ", ".join(repr(o) for o in options)
        raise InvalidInputError(f"The {name!r} parameter of {owner} must be one of {listed}. "
                                f"Got {value!r} instead.{hint}")
    return value


def check_number(owner: str, name: str, value: Any, *, integer: bool = False,
                 low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> Any:
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and not integer:
        ok = math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        what = "an int" if integer else "a float"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        expected = what + (f" {' and '.join(bounds)}" if bounds else "")
        raise param_error(owner, name, expected, value)
    return value


def check_sizes(owner: str, name: str, value: Any) -> tuple[int, ...]:
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if sizes is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                and int(s) > 0 for s in sizes):
        raise param_error(owner, name, "a tuple of positive ints such as (300, 150)", value)
    return tuple(int(s) for s in sizes)


def check_random_state(owner: str, value: Any) -> None:
    """None, an int in numpy's seed range, a ``RandomState`` or a ``Generator``."""
    if value is None or type(value).__name__ in {"RandomState", "Generator"}:
        return
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) \
            and 0 <= int(value) <= SEED_MAX:
        return
    raise param_error(owner, "random_state", f"None, an int in [0, {SEED_MAX}], a "
                      "numpy RandomState or a numpy Generator", value)


# -- the table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """The values a parameter accepts; ``check`` raises the library's one-line error."""

    kind: str  # "int", "float", "choice", "bool", "sizes", "str", "any", "seed"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False  # None is allowed
    literals: tuple[str, ...] = ()  # strings accepted besides the kind's values ("auto")

    def check(self, owner: str, name: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if isinstance(value, str) and value in self.literals:
            return
        if self.kind in {"int", "float"}:
            check_number(owner, name, value, integer=self.kind == "int", low=self.low,
                         high=self.high, low_open=self.low_open, high_open=self.high_open)
        elif self.kind == "choice":
            check_choice(owner, name, value, self.choices)
        elif self.kind == "bool":
            if not isinstance(value, bool) and type(value).__name__ != "bool_":
                raise param_error(owner, name, "True or False", value)
        elif self.kind == "sizes":
            check_sizes(owner, name, value)
        elif self.kind == "str":
            if not isinstance(value, str):
                raise param_error(owner, name, "a str", value)
        elif self.kind == "seed":
            check_random_state(owner, value)


@dataclass(frozen=True)
class Param:
    """One ``AutoEncoder`` parameter.

    ``cli`` turns the flag's text into a value (None: a ``--flag/--no-flag`` switch; the
    string ``"skip"``: not a flag, such as ``encoder``); ``resumable`` parameters may change
    when a run resumes from a checkpoint (they apply from the resumed epoch); changing any
    other one there is refused.
    """

    name: str
    default: Any
    spec: Spec
    help: str
    cli: Callable[[str], Any] | str | None = str
    default_text: str | None = None
    resumable: bool = False
    flag: str | None = None  # the CLI option when it is not --kebab-case of the name
    aliases: tuple[str, ...] = ()  # older spellings of the option, still accepted

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"300,150"`` -> ``(300, 150)``; ``""`` -> ``()`` (no hidden layer)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        sizes = (0,)
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected positive ints separated by commas such as '300,150' ('' for no hidden "
            f"layer), got {text!r}")
    return sizes


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` -> ``(1, 28, 28)``."""
    sizes = parse_sizes(text)
    if not sizes:
        raise argparse.ArgumentTypeError("expected a shape such as '28,28' or '1,28,28'")
    return sizes


def parse_positive_int(text: str, also: str = "") -> int:
    """A positive int; ``also`` names another accepted spelling in the error message."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int{also}, got {text!r}")
    return value


def parse_seed(text: str) -> int:
    """A seed on the command line: an int in numpy's range ``[0, 2**32 - 1]``."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected a seed, an int in [0, {SEED_MAX}], got "
                                         f"{text!r}")
    return value


def parse_batch_size(text: str) -> int | str | None:
    """A positive int, ``"auto"``, or ``"full"`` for full-batch training (``batch_size=None``)."""
    word = text.strip().lower()
    if word == "full":
        return None
    if word == "auto":
        return "auto"
    return parse_positive_int(text, ", 'auto' or 'full'")


# Small data needs optimizer steps, not epochs: 1,600 rows in batches of 256 are 7 steps an
# epoch, and 100 epochs left a digits autoencoder far from its optimum (benchmarks/defaults.py).
# "auto" aims at >= 32 steps an epoch, in batches of 32 to 256 rows: MNIST keeps 256.
AUTO_BATCH_MIN, AUTO_BATCH_MAX, AUTO_STEPS_PER_EPOCH = 32, 256, 32


def choose_batch_size(batch_size: int | str | None, n_rows: int) -> int | None:
    """The rows per step that ``batch_size`` means for ``n_rows`` training rows.

    ``"auto"`` gives ``clip(n_rows // 32, 32, 256)``; an int or None (full batch) is returned
    unchanged.
    """
    if batch_size != "auto":
        return None if batch_size is None else int(batch_size)
    return min(AUTO_BATCH_MAX, max(AUTO_BATCH_MIN, n_rows // AUTO_STEPS_PER_EPOCH))


_INT1 = Spec("int", low=1)
_FRACTION = Spec("float", low=0, high=1, low_open=True, high_open=True)

AUTOENCODER_PARAMS: tuple[Param, ...] = (
    Param("n_components", 2, _INT1, "size of the coding layer", int),
    Param("hidden_layer_sizes", (100,), Spec("sizes"),
          "encoder hidden layers, e.g. '300,150'; '' for none (the decoder mirrors them)",
          parse_sizes),
    Param("activation", "elu", Spec("choice", ACTIVATIONS), "hidden-layer activation"),
    Param("coding_activation", "identity", Spec("choice", ACTIVATIONS, optional=True),
          "coding-layer activation (linear codings by default)"),
    Param("output_activation", "identity", Spec("choice", ACTIVATIONS),
          "activation of the reconstruction ('sigmoid' for data in [0, 1])"),
    Param("loss", "mse", Spec("choice", LOSSES),
          "reconstruction loss ('bce' needs data in [0, 1])"),
    Param("constraints", (), Spec("any"), "constraints, given with --constraint", "skip"),
    Param("architecture", "mlp", Spec("choice", ARCHITECTURES),
          "'conv' for images: strided convolutions, whose channel counts are "
          "--hidden-layer-sizes; 'lstm', 'gru' or 'conv1d' for sequences (windows of a "
          "series)"),
    Param("image_shape", None, Spec("sizes", optional=True),
          "(channels,)height,width of flat image rows, e.g. '1,28,28'; known for digits, "
          "faces and image arrays", parse_shape),
    Param("encoder", None, Spec("any"), "your own encoder module", "skip"),
    Param("decoder", None, Spec("any"), "your own decoder module", "skip"),
    Param("init", "auto", Spec("choice", INITS), "weight initialisation"),
    Param("optimizer", "adam", Spec("choice", OPTIMIZERS), "optimizer"),
    Param("learning_rate", 1e-3, Spec("float", low=0, low_open=True), "step size", float,
          resumable=True),
    Param("momentum", 0.9, Spec("float", low=0, high=1, high_open=True),
          "momentum of --optimizer sgd", float, resumable=True),
    Param("lr_schedule", "constant", Spec("choice", LR_SCHEDULES), "learning-rate schedule"),
    Param("batch_size", "auto", Spec("int", low=1, optional=True, literals=("auto",)),
          "rows per step, 'auto' (n_rows // 32, clipped to 32..256) or 'full'",
          parse_batch_size),
    Param("max_iter", 200, Spec("int", low=0), "number of epochs", int, resumable=True),
    Param("early_stopping", False, Spec("bool"),
          "hold out --validation-fraction of the rows; stop when its loss stops improving",
          None),
    Param("validation_fraction", 0.1, _FRACTION, "share of rows held out by --early-stopping",
          float),
    Param("n_iter_no_change", 10, _INT1, "epochs without improvement before stopping", int,
          resumable=True),
    Param("tol", 1e-4, Spec("float", low=0), "smallest improvement that counts", float,
          resumable=True),
    Param("on_nonfinite", "warn", Spec("choice", NONFINITE_POLICIES),
          "when the loss diverges (NaN, infinite or exploding): keep the best weights and "
          "warn, or raise (exit code 1)", resumable=True),
    Param("checkpoint_dir", None, Spec("any"), "write resumable checkpoints to this folder",
          default_text="RUN_DIR/checkpoints", resumable=True),
    Param("checkpoint_every", None, Spec("int", low=1, optional=True),
          "epochs between checkpoints", int,
          default_text="after the first epoch, then every 30 s, and at the end",
          resumable=True),
    Param("checkpoint_keep", 2, _INT1, "newest checkpoints kept", int, resumable=True),
    Param("resume", False, Spec("bool"),
          "continue from the newest checkpoint in --checkpoint-dir; '--resume RUN_DIR' "
          "resumes a run folder with its own arguments", None, resumable=True),
    Param("pretraining", None, Spec("choice", PRETRAINING, optional=True),
          "greedy layer-wise pretraining of the stack before --max-iter epochs of "
          "fine-tuning"),
    Param("pretraining_iter", None, Spec("int", low=1, optional=True),
          "epochs per pretraining phase", int, default_text="--max-iter"),
    Param("precision", "32", Spec("choice", PRECISIONS),
          "'bf16-mixed' runs forward passes in bfloat16"),
    Param("device", "cpu", Spec("str"), "'cpu', 'cuda', 'cuda:N' or 'auto'", resumable=True),
    Param("n_jobs", None, Spec("int", optional=True),
          "threads for torch and BLAS: -1 all cores, -2 all but one", int,
          default_text="1, or OMP_NUM_THREADS", resumable=True, flag="--jobs"),
    Param("random_state", None, Spec("seed"), "seed, for a reproducible run", parse_seed),
    Param("verbose", 0, Spec("int", low=0), "progress output", "skip", resumable=True),
)

PARAMS_BY_NAME = {param.name: param for param in AUTOENCODER_PARAMS}


FREEZE_MODES = ("auto", "frozen", "fine-tune", "unfreeze")

CLASSIFIER_PARAMS: tuple[Param, ...] = (
    Param("autoencoder", None, Spec("any"), "a pretrained autoencoder", "skip"),
    Param("freeze", "auto", Spec("choice", FREEZE_MODES), "what happens to the encoder",
          "skip"),
    Param("hidden_layer_sizes", None, Spec("sizes", optional=True),
          "hidden layers: the ladder's, e.g. '500,250', or the head's on a given encoder",
          parse_sizes, default_text="500,250 for the ladder, none for a head"),
    Param("activation", "relu", Spec("choice", ACTIVATIONS), "the head's activation",
          "skip"),
    Param("learning_rate", None, Spec("float", low=0, low_open=True, optional=True),
          "step size", float, default_text="2e-3 for the ladder, else 1e-3"),
    Param("max_iter", None, Spec("int", low=1, optional=True), "number of epochs", int,
          default_text="about 10,000 steps, 10-200 epochs", aliases=("--epochs",)),
    Param("batch_size", 128, Spec("int", low=1, optional=True), "rows per step", int),
    Param("unfreeze_after", None, Spec("int", low=0, optional=True),
          "epochs before a frozen encoder is unfrozen", "skip"),
    Param("early_stopping", False, Spec("bool"), "stop on held-out labelled rows", "skip"),
    Param("validation_fraction", 0.1, _FRACTION, "share held out by early stopping", "skip"),
    Param("n_iter_no_change", 10, _INT1, "epochs without improvement", "skip"),
    Param("tol", 1e-4, Spec("float", low=0), "smallest improvement that counts", "skip"),
    Param("unsupervised_weight", 1.0, Spec("float", low=0),
          "weight of the unlabelled rows' denoising loss", float),
    Param("random_state", None, Spec("seed"), "seed, for a reproducible run", parse_seed,
          aliases=("--seed",)),
    Param("n_jobs", None, Spec("int", optional=True), "threads", "skip"),
    Param("verbose", 0, Spec("int", low=0), "progress output", "skip"),
)

DETECTOR_PARAMS: tuple[Param, ...] = (
    Param("autoencoder", None, Spec("any"), "the autoencoder", "skip"),
    Param("contamination", 0.1, Spec("float", low=0, high=0.5, low_open=True),
          "share of the training rows flagged by the stored threshold", float),
    Param("n_jobs", None, Spec("int", optional=True), "threads", "skip"),
)


def cli_params(table: tuple[Param, ...] = AUTOENCODER_PARAMS) -> tuple[Param, ...]:
    """The parameters of ``table`` that are command-line flags (``codings fit``'s by
    default)."""
    return tuple(p for p in table if p.cli != "skip")


def check_table(owner: str, table: tuple[Param, ...], values: dict[str, Any]) -> None:
    """Check each parameter of ``table`` against its spec, naming ``owner``."""
    for param in table:
        param.spec.check(owner, param.name, values[param.name])
    if "n_jobs" in values and values["n_jobs"] == 0:
        raise param_error(owner, "n_jobs", "None, a positive int, or a negative int (-1: all "
                          "cores)", 0)


def validate(owner: str, values: dict[str, Any]) -> None:
    """Check each AutoEncoder parameter against its spec, then the rules that join two."""
    check_table(owner, AUTOENCODER_PARAMS, values)
    if values["loss"] == "bce" and values["output_activation"] not in {"identity", "sigmoid"}:
        raise param_error(owner, "output_activation",
                          "'identity' or 'sigmoid' with loss='bce' (the decoder outputs "
                          "logits and the sigmoid is applied for you)",
                          values["output_activation"])
    if values["max_iter"] == 0 and values["pretraining"] is None:
        raise param_error(owner, "max_iter", "an int >= 1 (0 only with pretraining, to skip "
                          "fine-tuning)", values["max_iter"])
    if values["resume"] and values["checkpoint_dir"] is None:
        raise param_error(owner, "resume", "False unless checkpoint_dir is set (there is "
                          "nowhere to resume from)", values["resume"])

"""The constraint base class: four do-nothing hooks, a dict round-trip and a registry by name.

A constraint turns a plain autoencoder into a denoising, sparse, contractive, variational or
tied one. Subclasses are frozen dataclasses whose fields are their hyperparameters, registered
under a short name::

    @dataclass(frozen=True)
    class Sparsity(Constraint, name="sparsity"):
        target: float = 0.1
        weight: float = 0.2

        def penalty(self, out, module):
            return {"sparsity": ...}

``Sparsity(target=0.05).to_dict() == {"name": "sparsity", "target": 0.05, "weight": 0.2}``,
and :func:`constraint_from_dict` / :func:`parse_constraint` ("sparsity:target=0.05") invert it.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from codings.exceptions import InvalidInputError, did_you_mean
from codings.nn.module import AutoEncoderModule, Output

_REGISTRY: dict[str, type[Constraint]] = {}


@dataclass(frozen=True)
class Constraint:
    """Base class: every hook does nothing, so a subclass overrides only what it needs."""

    name: ClassVar[str] = ""
    #: "mean" averages the reconstruction loss over features (MSE as in the chapter);
    #: "sum" sums it (a variational model's negative log-likelihood in nats per sample).
    reconstruction_reduction: ClassVar[str | None] = None
    #: Constraints whose ``build`` reshapes the network (variational heads) run before those
    #: that read its shape (tied weights): lower first, then in the order given.
    build_order: ClassVar[int] = 10
    #: In greedy layer-wise pretraining: "each" phase applies it, only the "last" (the
    #: coding layer), "skip" (already built into the shared layers), or "refuse".
    layerwise: ClassVar[str] = "each"
    #: name of another constraint -> why the two cannot be combined.
    incompatible: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
                raise ValueError(f"A constraint named {name!r} is already registered "
                                 f"({_REGISTRY[name].__qualname__}).")
            cls.name = name
            _REGISTRY[name] = cls
        # Each field's declared type is checked too, so Adversarial(weight="1") names
        # 'weight' instead of failing inside the subclass's own comparison.
        own = cls.__dict__.get("__post_init__")

        def __post_init__(self: Constraint) -> None:
            try:
                if own is not None:
                    own(self)  # its own messages first ("weight must be >= 0")
            except TypeError:
                check_field_types(self)  # names the field a comparison choked on
                raise
            check_field_types(self)

        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]

    # -- hooks ---------------------------------------------------------------------------
    def build(self, module: AutoEncoderModule, constraints: tuple[Constraint, ...]) -> None:
        """Adjust ``module`` once and check compatibility with the other ``constraints``."""

    def corrupt(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """Return the corrupted input; called in training mode only."""
        return x

    def latent(self, out: Output, training: bool, generator: torch.Generator | None) -> Tensor:
        """Return the coding ``z`` from ``out.h`` (and ``out.z`` from earlier constraints)."""
        return out.z

    def penalty(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        """Named scalar terms added to the loss and recorded in the history."""
        return {}

    # -- a second optimizer step per batch (an adversarial discriminator) ----------------
    def auxiliary_parameters(self, module: AutoEncoderModule) -> list[nn.Parameter]:
        """Parameters this constraint trains with its own optimizer, after each autoencoder
        step; the trainer leaves them out of the autoencoder's optimizer."""
        return []

    def auxiliary_optimizer(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer of :meth:`auxiliary_parameters` (Adam unless overridden)."""
        return torch.optim.Adam(parameters)

    def auxiliary_loss(self, out: Output, module: AutoEncoderModule) -> dict[str, Tensor]:
        """Named terms whose sum the auxiliary step minimises over
        :meth:`auxiliary_parameters`; ``out`` is the autoencoder step's forward record (detach
        what must not reach the autoencoder). Each term is recorded in the history."""
        return {}

    #: the constraint's parameter that scales its penalty (named when training diverges
    #: because the penalty exploded), e.g. "beta" or "weight"; None when it has none.
    weight_parameter: ClassVar[str | None] = None

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"name": self.name, **params}


_KINDS = {"float": ((numbers.Real,), "a number"), "int": ((numbers.Integral,), "an int"),
          "str": ((str,), "a str"), "bool": ((bool,), "True or False")}


def check_field_types(constraint: Constraint) -> None:
    """Raise InvalidInputError naming the first field whose value has the wrong type."""
    for field in dataclasses.fields(constraint):
        value = getattr(constraint, field.name)
        declared = str(field.type).replace(" ", "").split("|")
        if value is None and "None" in declared:
            continue
        kinds = [_KINDS[d] for d in declared if d in _KINDS]
        if not kinds:
            continue  # a type this check does not know: the constraint checks it itself
        numeric = isinstance(value, bool) and "bool" not in declared
        if numeric or not any(isinstance(value, k) for kind, _ in kinds for k in kind):
            expected = " or ".join([text for _, text in kinds]
                                   + (["None"] if "None" in declared else []))
            raise InvalidInputError(
                f"The {field.name!r} parameter of {type(constraint).__name__} must be "
                f"{expected}. Got {value!r} instead.")


def registered_constraints() -> dict[str, type[Constraint]]:
    """A copy of the registry: name -> constraint class."""
    return dict(_REGISTRY)


def constraint_class(name: str) -> type[Constraint]:
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InvalidInputError(f"Unknown constraint {name!r}.{did_you_mean(name, _REGISTRY)} "
                                f"Known constraints: {known}.")
    return _REGISTRY[name]


def constraint_from_dict(spec: Mapping[str, Any]) -> Constraint:
    """Inverse of :meth:`Constraint.to_dict`."""
    params = dict(spec)
    if "name" not in params:
        raise InvalidInputError(f"A constraint dict needs a 'name' key; got {spec!r}.")
    cls = constraint_class(str(params.pop("name")))
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in params:
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "no parameters"
            raise InvalidInputError(
                f"Constraint {cls.name!r} has no parameter {key!r}."
                f"{did_you_mean(key, fields)} It takes: {allowed}.")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Invalid parameters for constraint {cls.name!r}: {exc}") from exc


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"none", "null"}:
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_constraint(text: str) -> Constraint:
    """Parse the CLI form ``"name:key=value,key=value"`` (the part after ``:`` is optional)."""
    name, _, rest = text.strip().partition(":")
    spec: dict[str, Any] = {"name": name.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInputError(
                f"Cannot parse {item!r} in constraint {text!r}: expected key=value, "
                "as in 'sparsity:kind=kl,target=0.1'.")
        spec[key.strip().replace("-", "_")] = _parse_value(value.strip())
    return constraint_from_dict(spec)


def check_compatible(constraints: tuple[Constraint, ...]) -> None:
    """Refuse duplicates and pairs that make no sense, naming both and the reason."""
    seen: set[str] = set()
    for constraint in constraints:
        if constraint.name in seen:
            raise InvalidInputError(f"The constraint {constraint.name!r} is given twice; "
                                    "give it once with the combined settings.")
        seen.add(constraint.name)
    for first in constraints:
        for second in constraints:
            reason = first.incompatible.get(second.name)
            if reason:
                raise InvalidInputError(f"{type(first).__name__} cannot be combined with "
                                        f"{type(second).__name__}: {reason}")

"""The constraint base: hooks are called where they should be, dict round trip, registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

from codings import AutoEncoder, Constraint, InvalidInputError, load
from codings.constraints import (
    constraint_from_dict,
    parse_constraint,
    registered_constraints,
)


@dataclass(frozen=True)
class Recording(Constraint, name="_recording"):
    """Counts its hook calls, shifts the input in training, scales the coding, adds a term."""

    shift: float = 0.0
    weight: float = 0.5
    calls: ClassVar[dict[str, int]] = {}

    def _count(self, hook: str) -> None:
        self.calls[hook] = self.calls.get(hook, 0) + 1

    def build(self, module, constraints):
        self._count("build")
        assert self in constraints

    def corrupt(self, x, generator):
        self._count("corrupt")
        return x + self.shift

    def latent(self, out, training, generator):
        self._count("latent")
        return out.z * 2.0

    def penalty(self, out, module):
        self._count("penalty")
        return {"_recording": self.weight * out.z.square().mean()}


@pytest.fixture(autouse=True)
def reset_calls():
    Recording.calls.clear()


def test_every_hook_is_called_and_the_penalty_is_recorded(small_data):
    ae = AutoEncoder(hidden_layer_sizes=(4,), max_iter=3, batch_size=40,
                     constraints=(Recording(shift=1.0),), random_state=0).fit(small_data)
    assert Recording.calls["build"] == 1
    assert Recording.calls["corrupt"] == 9  # 3 epochs x 3 batches, training only
    assert Recording.calls["penalty"] == 9
    assert len(ae.history_["_recording"]) == 3
    losses = np.array(ae.history_["loss"])
    np.testing.assert_allclose(losses, np.array(ae.history_["reconstruction"])
                               + np.array(ae.history_["_recording"]), rtol=1e-5)


def test_corrupt_runs_in_training_only_and_latent_always(small_data):
    ae = AutoEncoder(hidden_layer_sizes=(), activation="identity", max_iter=1,
                     constraints=(Recording(shift=100.0),), random_state=0).fit(small_data)
    corrupt_calls = Recording.calls["corrupt"]
    Z = ae.transform(small_data)
    assert Recording.calls["corrupt"] == corrupt_calls  # eval mode: no corruption
    linear = ae.module_.encoder[0]
    expected = 2.0 * (torch.tensor(small_data[:3]) @ linear.weight.double().T
                      + linear.bias.double())
    np.testing.assert_allclose(Z[:3], expected.detach().numpy(), rtol=1e-6)


def test_dict_round_trip_and_registry():
    constraint = Recording(shift=0.5)
    spec = constraint.to_dict()
    assert spec == {"name": "_recording", "shift": 0.5, "weight": 0.5}
    assert constraint_from_dict(spec) == constraint
    assert registered_constraints()["_recording"] is Recording
    assert parse_constraint("_recording:shift=2,weight=1e-3") == Recording(2, 0.001)
    assert repr(constraint) == "Recording(shift=0.5, weight=0.5)"


def test_constraints_survive_save_and_load(small_data, tmp_path):
    ae = AutoEncoder(max_iter=1, constraints=(Recording(shift=0.25),),
                     random_state=0).fit(small_data)
    ae.save(tmp_path / "m.safetensors")
    assert load(tmp_path / "m.safetensors").constraints == (Recording(shift=0.25),)


@pytest.mark.parametrize(("text", "match"), [
    ("_recordin:shift=1", r"Unknown constraint '_recordin'. Did you mean '_recording'\?"),
    ("_recording:shfit=1", r"no parameter 'shfit'. Did you mean 'shift'\?"),
    ("_recording:shift", r"expected key=value"),
])
def test_bad_constraint_specs_are_explained(text, match):
    with pytest.raises(InvalidInputError, match=match):
        parse_constraint(text)


def test_the_same_constraint_twice_is_refused(small_data):
    with pytest.raises(InvalidInputError, match="given twice"):
        AutoEncoder(constraints=(Recording(), Recording(1.0)), max_iter=1).fit(small_data)

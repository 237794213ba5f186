"""One unwrap rule: any Pipeline of storable scalers ending in an AutoEncoder, an
AnomalyDetector or an EncoderClassifier saves, loads and scores identically, in either
nesting, from Python and from ``codings score``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from codings import AnomalyDetector, AutoEncoder, InvalidInputError, load, save
from codings.cli import main
from codings.formats.pipeline import unwrap


def _ae() -> AutoEncoder:
    return AutoEncoder(n_components=2, hidden_layer_sizes=(6,), max_iter=4, random_state=0)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    # raw columns on very different scales: a model that lost its scaler flags every row
    return rng.normal(size=(120, 5)) * np.array([1.0, 10.0, 100.0, 0.1, 1000.0]) + 50.0


def _same_detector(a, b, X: np.ndarray) -> None:
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_the_natural_pipeline_saves_loads_and_scores_identically(X, tmp_path: Path) -> None:
    pipe = make_pipeline(StandardScaler(), AnomalyDetector(_ae(), contamination=0.05)).fit(X)
    save(pipe, tmp_path / "m.safetensors")
    same = load(tmp_path / "m.safetensors")
    assert isinstance(same, Pipeline) and isinstance(same[-1], AnomalyDetector)
    assert same[-1].offset_ == pipe[-1].offset_ and same[-1].contamination == 0.05
    _same_detector(pipe, same, X)
    assert (same.predict(X) == -1).mean() == pytest.approx(0.05, abs=1 / 120)


def test_the_inner_nesting_saves_and_loads_as_a_detector(X, tmp_path: Path) -> None:
    detector = AnomalyDetector(make_pipeline(StandardScaler(), _ae())).fit(X)
    detector.save(tmp_path / "d.safetensors")
    same = load(tmp_path / "d.safetensors")
    assert isinstance(same, AnomalyDetector)
    assert same.n_features_in_ == 5
    _same_detector(detector, same, X)


def test_scalers_on_both_sides_of_the_detector_keep_their_places(X, tmp_path: Path) -> None:
    pipe = make_pipeline(MinMaxScaler(), AnomalyDetector(make_pipeline(
        StandardScaler(), _ae()))).fit(X)
    parts = unwrap(pipe)
    assert [type(s).__name__ for _, s in parts.steps] == ["MinMaxScaler", "StandardScaler"]
    assert parts.outer == 1 and parts.detector is pipe[-1]
    save(pipe, tmp_path / "m.safetensors")
    same = load(tmp_path / "m.safetensors")
    assert [type(s).__name__ for _, s in same.steps] == ["MinMaxScaler", "AnomalyDetector"]
    _same_detector(pipe, same, X)


def test_codings_score_uses_the_saved_pipeline_and_its_threshold(
        X, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pipe = make_pipeline(StandardScaler(), AnomalyDetector(_ae())).fit(X)
    save(pipe, "m.safetensors")
    np.save("x.npy", X)
    assert main(["score", "m.safetensors", "x.npy", "-o", "s.csv"]) == 0
    table = np.loadtxt("s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 0], pipe.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(table[:, 1] == 1, pipe.predict(X) == -1)
    assert 0 < table[:, 1].sum() < len(X)  # the scaler travelled: not every row flagged


@pytest.mark.filterwarnings("ignore:X does not look scaled")
def test_what_a_model_file_cannot_hold_is_refused_naming_the_step(X, tmp_path: Path) -> None:
    pipe = make_pipeline(PCA(3), AnomalyDetector(_ae())).fit(X)
    with pytest.raises(InvalidInputError, match=r"got PCA as step 'pca'"):
        save(pipe, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_unwrap_skips_passthrough_steps_and_sees_a_bare_model() -> None:
    ae = _ae()
    parts = unwrap(Pipeline([("a", "passthrough"), ("b", None), ("s", StandardScaler()),
                             ("ae", ae)]))
    assert [name for name, _ in parts.steps] == ["s"] and parts.final is ae
    assert unwrap(ae).final is ae and unwrap(ae).steps == [] and unwrap(ae).detector is None
    unfitted = AnomalyDetector(make_pipeline(StandardScaler(), ae))
    assert unwrap(unfitted).final is ae and unwrap(unfitted).detector is unfitted

"""Model files written before the floor-plan move (main of 2026-12) still load and give the
same numbers: the fixtures were saved by that main, with the outputs it computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codings import AnomalyDetector, load

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "main-2026-12-expected.json").read_text())
X = np.asarray(EXPECTED["X"])
SERIES = np.asarray(EXPECTED["series"])


def test_an_autoencoder_file_of_the_old_main_loads_with_the_same_codings():
    model = load(FIXTURES / "main-2026-12-autoencoder.safetensors")
    np.testing.assert_allclose(model.transform(X), EXPECTED["autoencoder_transform"],
                               rtol=1e-6, atol=1e-7)


def test_a_scaled_detector_file_of_the_old_main_keeps_its_threshold_and_scores():
    detector = AnomalyDetector.from_model(
        load(FIXTURES / "main-2026-12-scaled-detector.safetensors"))
    assert detector.offset_ == pytest.approx(EXPECTED["scaled_detector_offset"])
    np.testing.assert_allclose(detector.score_samples(X), EXPECTED["scaled_detector_scores"],
                               rtol=1e-6, atol=1e-7)


def test_a_per_time_step_detector_file_of_the_old_main_keeps_its_window():
    detector = AnomalyDetector.from_model(
        load(FIXTURES / "main-2026-12-timesteps-detector.safetensors"))
    assert detector.window_ == 8
    assert detector.offset_ == pytest.approx(EXPECTED["timesteps_offset"])
    np.testing.assert_allclose(detector.score_timesteps(SERIES), EXPECTED["timesteps_scores"],
                               rtol=1e-6, atol=1e-7)


def test_a_classifier_file_of_the_old_main_predicts_the_same_probabilities():
    model = load(FIXTURES / "main-2026-12-classifier.safetensors")
    np.testing.assert_allclose(model.predict_proba(X), EXPECTED["classifier_proba"],
                               rtol=1e-6, atol=1e-7)

"""The benchmark scripts keep working: each runs in its smallest mode and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=1800, check=False)  # a hang guard only
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow  # minutes of CPU: run with -m slow
@pytest.mark.skipif(not MNIST.exists(), reason="MNIST file not beside the checkout")
def test_chapter_quick_mode_prints_the_table(tmp_path):
    out = _run("benchmarks/chapter.py", str(MNIST), "--quick", "--out", str(tmp_path))
    assert "mode: QUICK" in out
    for name in ("stacked", "tied", "denoising, gaussian", "denoising, dropout", "sparse",
                 "variational", "convolutional"):
        assert name in out
    assert (tmp_path / "variational_samples.png").exists()


@pytest.mark.slow  # minutes of CPU: run with -m slow
def test_pca_equivalence_prints_ratios():
    out = _run("benchmarks/pca_equivalence.py", "--repeats", "1", "--seeds", "2")
    assert "3-D demo 3-2-3" in out and "digits 64-8-64" in out


@pytest.mark.slow  # minutes of CPU: run with -m slow
@pytest.mark.skipif(not MNIST.exists(), reason="MNIST file not beside the checkout")
def test_throughput_quick_mode_prints_ratios():
    out = _run("benchmarks/throughput.py", str(MNIST), "--quick", "--epochs", "1",
               "--repeats", "1")
    assert "ratio vs hand loop fp32" in out and "same computation" in out


def test_generation_quick_mode_prints_the_table_and_figures(tmp_path):
    out = _run("benchmarks/generation.py", "--quick", "--out", str(tmp_path))
    assert "mode: QUICK" in out and "test accuracy" in out
    for row in ("noise floor", "| VAE |", "| AAE |", "| denoising chain |", "| plain AE |",
                "real test images"):
        assert row in out
    assert (tmp_path / "generation_samples.png").exists()
    assert (tmp_path / "generation_chain.png").exists()


@pytest.mark.slow  # minutes of CPU: run with -m slow
def test_scaling_reports_the_mode(tmp_path):
    out = _run("benchmarks/scaling.py", "--max-rows", "100000", "--dir", str(tmp_path))
    assert "mode: STREAMING" in out


@pytest.mark.slow
@pytest.mark.skipif(not MNIST.exists(), reason="MNIST file not beside the checkout")
@pytest.mark.parametrize("script", ["pretraining", "features", "anomaly", "hashing",
                                    "pca_speed"])
def test_other_benchmarks_quick(script):
    out = _run(f"benchmarks/{script}.py", str(MNIST), "--quick")
    assert "QUICK" in out.upper()


def test_timeseries_quick_mode_prints_the_synthetic_table():
    out = _run("benchmarks/timeseries.py", "--quick", "--only", "synthetic")
    assert "mode: QUICK" in out
    for name in ("lstm autoencoder", "gru autoencoder", "conv1d autoencoder",
                 "mlp autoencoder", "PCA (8 components)", "rolling z-score"):
        assert f"| {name}" in out

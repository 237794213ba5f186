"""The commands beyond fit / encode / reconstruct / decode, config files, new data sources,
and resuming runs (in-process, plus one real Ctrl-C in a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codings import load
from codings.cli import main
from codings.datasets import load_digits

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "16", "--random-state", "0", "-q"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A plain and a variational digits model, fitted once for the module."""
    runs = tmp_path_factory.mktemp("models") / "runs"
    assert main(["fit", "--runs-dir", str(runs), "--name", "plain", *FAST]) == 0
    assert main(["fit", "--runs-dir", str(runs), "--name", "vae", "--constraint",
                 "variational", "--scale", "minmax", "--loss", "bce", *FAST]) == 0
    return {"plain": runs / "plain", "vae": runs / "vae"}


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, match: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("codings: error:")
    assert match in err, err


# -- --config ----------------------------------------------------------------------------
def test_config_file_sets_flags_and_constraints_and_flags_win(workdir: Path) -> None:
    Path("run.toml").write_text(
        'name = "from-config"\nn_components = 3\nhidden_layer_sizes = [12]\n'
        'max_iter = 2\nbatch_size = "full"\nrandom_state = 0\nquiet = true\n'
        'constraints = ["denoising:std=0.2", {name = "sparsity", target = 0.2}]\n')
    assert main(["fit", "--config", "run.toml", "--n-components", "4",
                 "--coding-activation", "sigmoid"]) == 0
    model = load("runs/from-config/model.safetensors")
    assert model.n_components == 4  # the command line wins
    assert model.hidden_layer_sizes == (12,) and model.batch_size is None
    assert [c.to_dict() for c in model.constraints] == [
        {"name": "denoising", "noise": "gaussian", "std": 0.2, "rate": None},
        {"name": "sparsity", "kind": "kl", "target": 0.2, "weight": 0.2}]


@pytest.mark.parametrize("text, match", [
    ("n_componets = 3\n", "Unknown key 'n_componets' in run.toml. Did you mean 'n_components'?"),
    ('constraints = ["variatonal"]\n', "Did you mean 'variational'?"),
    ("image_shape = [0, 8]\n", "image_shape: expected positive ints"),
    ("early_stopping = 1\n", "early_stopping must be true or false"),
    ("scale = \"standrd\"\n", "Did you mean 'standard'?"),
    ("n_components = \n", "Cannot read run.toml as TOML"),
])
def test_bad_config_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str], text: str,
                            match: str) -> None:
    Path("run.toml").write_text(text)
    one_line_error(capsys, main(["fit", "--config", "run.toml", *FAST]), match)
    assert not Path("runs").exists() or not any(Path("runs").iterdir())


# -- data sources: Parquet and folders of images --------------------------------------------
def test_fit_on_parquet(workdir: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = load_digits().data[:40]
    table = pa.table({f"p{i}": X[:, i] for i in range(64)})
    pq.write_table(table, "digits.parquet")
    assert main(["fit", "--data", "digits.parquet", "--name", "pq", *FAST]) == 0
    assert load("runs/pq/model.safetensors").n_features_in_ == 64
    assert main(["encode", "runs/pq/model.safetensors", "digits.parquet", "-o", "z.npy"]) == 0
    assert np.load("z.npy").shape == (40, 2)


def test_parquet_errors(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1.0, 2.0], "name": ["a", "b"]}), "mixed.parquet")
    one_line_error(capsys, main(["fit", "--data", "mixed.parquet", *FAST]),
                   "column 'name' holds string values")
    Path("broken.parquet").write_bytes(b"not parquet")
    one_line_error(capsys, main(["fit", "--data", "broken.parquet", *FAST]),
                   "Cannot read broken.parquet as Parquet")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # as if not installed
    one_line_error(capsys, main(["fit", "--data", "mixed.parquet", *FAST]),
                   "needs pyarrow, which is not installed")


def write_images(folder: Path, n: int, size: tuple[int, int] = (8, 8), mode: str = "L") -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(pixels, mode).save(folder / f"img{i:03d}.{'png' if i % 2 else 'jpg'}")


def test_fit_on_a_folder_of_images_with_class_subfolders(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_images(Path("images/cats"), 6)
    write_images(Path("images/dogs"), 5, mode="RGB")  # the grey cats get 3 equal channels
    assert main(["fit", "--data", "images", "--name", "img", *FAST]) == 0
    assert "mixes 6 grey and 5 colour images" in capsys.readouterr().err
    model = load("runs/img/model.safetensors")
    assert model.n_features_in_ == 192 and model.image_shape_ == (3, 8, 8)
    assert model[0].scale_.tolist() == [255.0] * 192  # 8-bit images map to [0, 1]
    params = json.loads(Path("runs/img/params.json").read_text())
    assert params["data"]["n_samples"] == 11 and params["data"]["image_shape"] == [3, 8, 8]
    assert "label: 2 distinct values" in Path("runs/img/report.html").read_text()


@pytest.mark.parametrize("case, match", [
    ("sizes", "must have the same size"),
    ("empty", "holds no images"),
    ("corrupt", "Cannot read the image"),
])
def test_image_folder_errors(workdir: Path, capsys: pytest.CaptureFixture[str], case: str,
                             match: str) -> None:
    folder = Path("images")
    folder.mkdir()
    if case == "sizes":
        write_images(folder, 2)
        write_images(folder / "x", 0)
        from PIL import Image

        Image.fromarray(np.zeros((9, 8), dtype=np.uint8)).save(folder / "z_odd.png")
    elif case == "corrupt":
        write_images(folder, 2)
        (folder / "z_bad.png").write_bytes(b"not a png")
    one_line_error(capsys, main(["fit", "--data", "images", *FAST]), match)


# -- generate --------------------------------------------------------------------------------
def test_generate_writes_samples_and_a_grid(workdir: Path, models: dict[str, Path]) -> None:
    model = str(models["vae"] / "model.safetensors")
    assert main(["generate", model, "-n", "6", "-o", "s.npy", "--random-state", "1"]) == 0
    samples = np.load("s.npy")
    assert samples.shape == (6, 8, 8) and np.isfinite(samples).all()  # digits are 8x8 images
    assert 0 <= samples.min() and samples.max() <= 16  # back in the digits' own scale
    assert Path("s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["generate", model, "-n", "6", "-o", "t.npy", "--random-state", "1"]) == 0
    np.testing.assert_array_equal(np.load("t.npy"), samples)


@pytest.mark.parametrize("constraint", ["adversarial", "denoising"])
def test_generate_from_adversarial_and_denoising_model_files(workdir: Path,
                                                             constraint: str) -> None:
    """The prior of an adversarial model, the GSN chain of a denoising one: from the file."""
    assert main(["fit", "--name", constraint, "--constraint", constraint, "--scale", "minmax",
                 "--loss", "bce", *FAST]) == 0
    model = f"runs/{constraint}"  # a run folder stands for its model file
    assert main(["generate", model, "-n", "5", "-o", "s.npy", "--random-state", "2"]) == 0
    samples = np.load("s.npy")
    assert samples.shape[0] == 5 and np.isfinite(samples).all()
    assert 0 <= samples.min() and samples.max() <= 16  # the digits' own scale
    np.testing.assert_array_equal(
        samples.reshape(5, -1), load(model).sample(5, random_state=2).reshape(5, -1))


def test_generate_needs_a_variational_model(workdir: Path, models: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", str(models["plain"] / "model.safetensors"), "-o", "s.npy"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "is not a generative model: generate needs one trained with --constraint " \
        "variational" in err
    assert "AutoEncoder(" not in err  # advice in flags, not Python


def test_a_run_folder_stands_for_its_model(workdir: Path, models: dict[str, Path]) -> None:
    X = load_digits().data[:20]
    np.save("x.npy", X)
    assert main(["encode", str(models["plain"]), "x.npy", "-o", "from_folder.npy"]) == 0
    assert main(["encode", str(models["plain"] / "model.safetensors"), "x.npy",
                 "-o", "from_file.npy"]) == 0
    np.testing.assert_array_equal(np.load("from_folder.npy"), np.load("from_file.npy"))
    np.testing.assert_array_equal(np.load("from_folder.npy"),
                                  load(models["plain"]).transform(X))


# -- score -----------------------------------------------------------------------------------
def test_score_writes_scores_and_flags(workdir: Path, models: dict[str, Path]) -> None:
    X = load_digits().data[:50]
    np.save("x.npy", X)
    model_path = models["plain"] / "model.safetensors"
    assert main(["score", str(model_path), "x.npy", "-o", "scores.csv",
                 "--contamination", "0.2"]) == 0
    lines = Path("scores.csv").read_text().splitlines()
    assert lines[0] == "score,outlier" and len(lines) == 51
    table = np.loadtxt("scores.csv", delimiter=",", skiprows=1)
    model = load(model_path)
    np.testing.assert_array_equal(table[:, 0], model.score_samples(X))  # the same object
    assert set(table[:, 1]) <= {0.0, 1.0} and table[:, 1].sum() == 10
    assert table[table[:, 1] == 1, 0].max() < table[table[:, 1] == 0, 0].min()


def test_score_rejects_a_bad_contamination(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["score", "m.safetensors", "x.npy", "-o", "s.csv", "--contamination", "0.7"])
    one_line_error(capsys, code, "expected a number in (0, 0.5]")


# -- report ----------------------------------------------------------------------------------
def test_report_rebuilds_the_page(workdir: Path, models: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = models["vae"]
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    for heading in ("Training history", "Reconstructions", "First-layer features", "Codings",
                    "Generated samples", "Interpolations", "Anomaly scores", "Timing"):
        assert f"<h2>{heading}</h2>" in page
    assert "codings fit --runs-dir" in page and "Not shown" not in page


def test_report_without_its_data_still_writes_a_page(workdir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    np.save("train.npy", load_digits().data[:40])
    assert main(["fit", "--data", "train.npy", "--name", "gone", *FAST]) == 0
    Path("train.npy").unlink()
    assert main(["report", "runs/gone"]) == 0
    assert "could not be reloaded" in capsys.readouterr().err
    page = Path("runs/gone/report.html").read_text()
    assert "Data file not found" in page and "<h2>Training history</h2>" in page


@pytest.mark.parametrize("argv, match", [
    (["report", "nowhere"], "Run folder not found: nowhere"),
    (["report", "."], "is not a codings run folder"),
])
def test_report_errors(workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                       match: str) -> None:
    one_line_error(capsys, main(argv), match)


# -- export ----------------------------------------------------------------------------------
def test_export_onnx(workdir: Path, models: dict[str, Path]) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    if not Path(__file__).with_name("test_onnx.py").exists():
        pytest.skip("ONNX export is not part of this version")
    assert main(["export", str(models["plain"] / "model.safetensors"), "-o", "onnx"]) == 0
    assert {p.name for p in Path("onnx").iterdir()} >= {"encoder.onnx", "decoder.onnx"}


def test_export_without_the_exporter_exits_2(workdir: Path, models: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "codings.formats.onnx", None)
    code = main(["export", str(models["plain"] / "model.safetensors"), "-o", "onnx"])
    one_line_error(capsys, code, "ONNX export is not available in this installation")


# -- resume ----------------------------------------------------------------------------------


def weights(path: str) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load(path).module_.state_dict().items()}


def test_interrupted_fit_resumes_to_the_same_weights(workdir: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str],
                                                     interrupt_at: Any) -> None:
    args = ["--max-iter", "4", "--hidden-layer-sizes", "16", "--random-state", "0"]
    assert main(["fit", "--name", "whole", *args, "-q"]) == 0
    with monkeypatch.context() as patch:
        patch.setattr("codings.cli.fit.ProgressBar", interrupt_at(epoch=1))
        assert main(["fit", "--name", "cut", *args]) == 130
    err = capsys.readouterr().err.strip()
    assert err == ("codings: interrupted; the checkpoint of epoch 1 is in runs/cut/checkpoints. "
                   "Resume with: codings fit --resume runs/cut (or repeat the command with "
                   "--checkpoint-dir runs/cut/checkpoints --resume)")
    assert json.loads(Path("runs/cut/params.json").read_text())["status"] == "interrupted"
    assert not Path("runs/cut/model.safetensors").exists()
    assert main(["fit", "--resume", "runs/cut", "-q"]) == 0
    whole, resumed = weights("runs/whole/model.safetensors"), weights("runs/cut/model.safetensors")
    for name, value in whole.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    params = json.loads(Path("runs/cut/params.json").read_text())
    assert params["status"] == "finished" and params["n_iter"] == 4
    assert params["resumed_with"] == ["codings", "fit", "--resume", "runs/cut", "-q"]
    # A finished run trains further when resumed with a larger --max-iter.
    assert main(["fit", "--resume", "runs/cut", "--max-iter", "6", "-q"]) == 0
    assert load("runs/cut/model.safetensors").n_iter_ == 6


def test_interrupt_before_the_first_checkpoint_keeps_nothing(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], interrupt_at: Any) -> None:
    monkeypatch.setattr("codings.cli.fit.ProgressBar", interrupt_at(epoch=0))
    assert main(["fit", "--name", "cut", "--max-iter", "3", "--hidden-layer-sizes", "8"]) == 130
    assert "nothing to resume from" in capsys.readouterr().err
    assert list(Path("runs").iterdir()) == []


@pytest.mark.parametrize("argv, match", [
    (["fit", "--resume", "nowhere"], "Run folder not found"),
    (["fit", "--resume", "runs/x", "--data", "faces"], "do not combine it with --data"),
])
def test_resume_errors(workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                       match: str) -> None:
    Path("runs/x").mkdir(parents=True)
    one_line_error(capsys, main(argv), match)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_in_a_real_process_then_resume(workdir: Path) -> None:
    """SIGINT after the first checkpoint: exit 130, a resume hint, and --resume finishes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "codings", "fit", "--name", "long", "--max-iter", "100000",
               "--hidden-layer-sizes", "16", "--batch-size", "32", "--random-state", "0"]
    # A shell that starts jobs in the background (CI scripts do) ignores SIGINT in them,
    # and Python keeps an inherited SIG_IGN: restore the default so Ctrl-C reaches fit.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, preexec_fn=_default_sigint)
    checkpoints = Path("runs/long/checkpoints")
    # Wait for the event (the first checkpoint), however slow the machine; the ceiling only
    # stops a hung run from hanging the suite.
    hung = time.monotonic() + 600
    while not any(checkpoints.glob("checkpoint-*.safetensors")):
        assert process.poll() is None, process.communicate()
        if time.monotonic() > hung:
            process.kill()
            pytest.fail("codings fit hung: no checkpoint after 600 s")
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("codings: interrupted; the checkpoint of epoch ")
    assert "Resume with: codings fit --resume runs/long" in last
    epoch = int(last.split("epoch ")[1].split()[0])
    assert main(["fit", "--resume", "runs/long", "--max-iter", str(epoch + 2), "-q"]) == 0
    assert load("runs/long/model.safetensors").n_iter_ == epoch + 2


# -- tour (arguments only; the tour itself is tested in test_tour.py) -------------------------
def test_tour_data_must_be_images(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save("table.npy", np.zeros((200, 7)))
    one_line_error(capsys, main(["tour", "--data", "table.npy"]), "needs grey images")

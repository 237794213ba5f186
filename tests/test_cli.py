"""The command line, run in-process through ``main(argv)``: run folders, round trips, errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codings import load
from codings.cli import main
from codings.cli.flags import SCALES
from codings.cli.parser import build_parser, estimator_kwargs
from codings.cli.runs import reserve_run_dir
from codings.datasets import load_digits

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "16", "--random-state", "0", "--quiet"]
RUN_FILES = {"model.safetensors", "history.csv", "history.json", "params.json", "loss.png",
             "reconstructions.png", "codings.png", "report.html", "checkpoints"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One digits model shared by the encode / reconstruct / decode tests."""
    runs = tmp_path_factory.mktemp("shared") / "runs"
    assert main(["fit", "--runs-dir", str(runs), "--name", "digits", *FAST]) == 0
    return runs / "digits" / "model.safetensors"


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return load_digits().data[:30]


def write_data(X: np.ndarray, fmt: str) -> list[str]:
    """Write X in ``fmt``; return the command-line arguments that read it back."""
    path = f"data.{fmt}"
    if fmt == "npy":
        np.save(path, X.reshape(len(X), 8, 8))  # images: the loader flattens them
    elif fmt == "npz":
        np.savez(path, other=np.zeros(3), pixels=X)
        return [path, "--key", "pixels"]
    else:
        np.savetxt(path, X, delimiter=",", header=",".join(f"p{i}" for i in range(64)),
                   comments="")
    return [path]


def assert_one_line_error(err: str, code: int, expected_code: int, match: str) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("codings: error: "), err
    assert all(line.startswith("codings: ") for line in lines), err
    assert match in lines[-1]


# -- fit ---------------------------------------------------------------------------------
def test_fit_on_digits_writes_the_run_folder(workdir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", *FAST]) == 0
    (run,) = (workdir / "runs").iterdir()
    assert run.name.startswith("digits-")
    assert {p.name for p in run.iterdir()} == RUN_FILES
    out = capsys.readouterr().out
    assert str(Path("runs") / run.name) in out and "final loss:" in out

    model = load(run / "model.safetensors")
    assert model.n_iter_ == 2 and model.hidden_layer_sizes == (16,)
    assert model.image_shape_ == (8, 8) and model.input_shape_ is None
    assert type(model[0]).__name__ == "StandardScaler"  # the scaling travels in the model
    with open(run / "history.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(model.history_) and len(rows) == 3
    assert float(rows[-1][rows[0].index("loss")]) == pytest.approx(model.loss_curve_[-1])
    assert json.loads((run / "history.json").read_text())["loss"] == pytest.approx(
        model.loss_curve_)
    params = json.loads((run / "params.json").read_text())
    assert params["command"] == ["codings", "fit", *FAST]
    assert params["params"]["max_iter"] == 2 and params["params"]["random_state"] == 0
    assert params["data"]["source"] == "digits"
    for figure in ("loss.png", "reconstructions.png", "codings.png"):
        assert (run / figure).read_bytes()[:8] == PNG_SIGNATURE


def test_fit_on_a_file_with_flags_and_constraints(workdir: Path, X: np.ndarray) -> None:
    np.savez("train.npz", x_train=X, y_train=np.arange(len(X)) % 3)
    code = main(["fit", "--data", "train.npz", "--key", "x_train", "--scale", "minmax",
                 "--hidden-layer-sizes", "", "--activation", "identity", "--batch-size",
                 "full", "--constraint", "denoising:std=0.1", "--name", "mine", "--max-iter",
                 "2", "-q"])
    assert code == 0
    model = load("runs/mine/model.safetensors")
    assert model.hidden_layer_sizes == () and model.batch_size is None
    assert [c.name for c in model.constraints] == ["denoising"]
    assert type(model[0]).__name__ == "MinMaxScaler"
    assert getattr(model, "input_shape_", None) is None  # a flat file has no image shape
    assert {p.name for p in Path("runs/mine").iterdir()} == RUN_FILES


def test_run_names_get_a_suffix_but_an_explicit_name_is_never_reused(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("codings.cli.runs.time.strftime", lambda fmt: "20240101-000000")
    first = reserve_run_dir(Path("runs"), None, "digits")
    second = reserve_run_dir(Path("runs"), None, "digits")
    assert (first.name, second.name) == ("digits-20240101-000000", "digits-20240101-000000-2")
    (first / "model.safetensors").write_bytes(b"")
    code = main(["fit", "--name", first.name, *FAST])
    assert_one_line_error(capsys.readouterr().err, code, 2, "already exists")


def test_diverging_training_exits_1_and_leaves_no_run_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save("huge.npy", np.full((20, 4), 1e20))
    code = main(["fit", "--data", "huge.npy", "--scale", "none", "--on-nonfinite", "raise",
                 "--max-iter", "3", "-q"])
    assert_one_line_error(capsys.readouterr().err, code, 1, "NaN or infinite")
    assert list(Path("runs").iterdir()) == []


# -- encode / reconstruct / decode -------------------------------------------------------
@pytest.mark.parametrize("fmt", ["npy", "npz", "csv"])
def test_encode_reconstruct_decode_round_trip(workdir: Path, model_path: Path, X: np.ndarray,
                                              fmt: str) -> None:
    data, model = write_data(X, fmt), str(model_path)
    assert main(["encode", model, *data, "-o", "z.npy"]) == 0
    assert main(["reconstruct", model, *data, "-o", "r.csv", "--header"]) == 0
    assert main(["decode", model, "z.npy", "-o", "d.npy"]) == 0

    estimator = load(model_path)  # raw rows in, raw units out, as the CLI
    Z = np.load("z.npy")
    assert Z.shape == (30, 2)
    np.testing.assert_allclose(Z, estimator.transform(X), rtol=1e-6)
    expected = estimator.reconstruct(X).reshape(30, -1)
    R = np.loadtxt("r.csv", delimiter=",", skiprows=1)
    assert R.shape == (30, 64)
    np.testing.assert_allclose(R, expected, rtol=1e-5, atol=1e-5)
    D = np.load("d.npy")
    assert D.shape[0] == 30 and D.size == 30 * 64
    np.testing.assert_allclose(D.reshape(30, -1), expected, rtol=1e-5, atol=1e-5)


def test_csv_codings_with_a_header_decode_again(workdir: Path, model_path: Path,
                                                X: np.ndarray) -> None:
    data = write_data(X, "csv")
    assert main(["encode", str(model_path), *data, "-o", "z.csv", "--header"]) == 0
    assert Path("z.csv").read_text().splitlines()[0] == "autoencoder0,autoencoder1"
    assert main(["decode", str(model_path), "z.csv", "-o", "d.csv"]) == 0
    header = Path("d.csv").read_text().splitlines()[0]
    assert header.startswith("x0,x1,") and header.endswith(",x63")  # digits: no names
    assert np.loadtxt("d.csv", delimiter=",", skiprows=1).shape == (30, 64)
    assert main(["decode", str(model_path), "z.csv", "-o", "n.csv", "--no-header"]) == 0
    assert np.loadtxt("n.csv", delimiter=",").shape == (30, 64)


# -- bad input: exit code 2 and one line ---------------------------------------------------
ERRORS = {
    "missing file": (["encode", "MODEL", "missing.npy", "-o", "z.npy"], "Data file not found"),
    "folder without images": (["encode", "MODEL", ".", "-o", "z.npy"], "holds no images"),
    "missing model": (["encode", "nope.safetensors", "data.npy", "-o", "z.npy"],
                      "Model file not found"),
    "unknown constraint": (["fit", "--constraint", "sparsty:target=0.1"],
                           "Did you mean 'sparsity'?"),
    "wrong feature count": (["encode", "MODEL", "narrow.npy", "-o", "z.npy"],
                            "narrow.npy has 10 features per sample, but the model was fitted "
                            "on 64"),
    "wrong coding count": (["decode", "MODEL", "data.npy", "-o", "d.npy"],
                           "data.npy has 64 columns, but the model's codings have 2"),
    "text in a csv": (["reconstruct", "MODEL", "text.csv", "-o", "r.npy"],
                      "line 2, column 2: 'abc' is not a number"),
    "unknown flag": (["fit", "--bogus"], "unrecognized arguments: --bogus. See 'codings fit"),
    "bad sizes": (["fit", "--hidden-layer-sizes", "3,x"], "argument --hidden-layer-sizes"),
    "bad output type": (["encode", "MODEL", "data.npy", "-o", "z.txt"], "use .npy or .csv"),
    "missing output folder": (["encode", "MODEL", "data.npy", "-o", "no/z.npy"],
                              "does not exist"),
    "unknown data set": (["fit", "--data", "digit"], "Did you mean 'digits'?"),
    "key on embedded data": (["fit", "--key", "x"], "--key selects an array"),
    "bad parameter": (["fit", "--activation", "relux", "--max-iter", "1", "-q"],
                      "Did you mean 'relu'?"),
    "no command": ([], "required: COMMAND"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_exits_2_with_one_line(case: str, workdir: Path, model_path: Path,
                                         X: np.ndarray,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv, match = ERRORS[case]
    np.save("data.npy", X)
    np.save("narrow.npy", X[:, :10])
    Path("text.csv").write_text("1,2\n3,abc\n")
    code = main([str(model_path) if arg == "MODEL" else arg for arg in argv])
    assert_one_line_error(capsys.readouterr().err, code, 2, match)
    assert not Path("runs").exists() or list(Path("runs").iterdir()) == []


# -- parser --------------------------------------------------------------------------------
def test_flag_values_are_parsed_and_unset_flags_keep_the_estimator_defaults() -> None:
    args = build_parser().parse_args(["fit", "--hidden-layer-sizes", "", "--batch-size", "full",
                                      "--no-early-stopping", "--image-shape", "1,8,8"])
    assert estimator_kwargs(args) == {"hidden_layer_sizes": (), "batch_size": None,
                                      "early_stopping": False, "image_shape": (1, 8, 8)}
    args = build_parser().parse_args(["fit", "--hidden-layer-sizes", "300, 150",
                                      "--early-stopping", "--learning-rate", "0.01"])
    assert estimator_kwargs(args) == {"hidden_layer_sizes": (300, 150), "early_stopping": True,
                                      "learning_rate": 0.01}


def test_scale_choices_match_the_library() -> None:
    from codings.datasets import SCALES as LIBRARY_SCALES

    assert SCALES == LIBRARY_SCALES


@pytest.mark.parametrize("command", ["fit", "encode", "reconstruct", "decode", "generate",
                                     "score", "report", "export", "tour",
                                     "fit-classifier", "predict"])
def test_each_command_help_shows_an_example(command: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out and f"codings {command} " in out


def test_python_dash_m_codings_help() -> None:
    result = subprocess.run([sys.executable, "-m", "codings", "--help"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "fit" in result.stdout and "reconstruct" in result.stdout


def test_help_imports_no_heavy_module() -> None:
    """The CLI's own modules import only the standard library until a command runs.

    The check runs under a bare ``codings`` package object, so it holds whatever the
    package's ``__init__`` imports.
    """
    import codings

    script = (
        "import sys, types\n"
        "package = types.ModuleType('codings')\n"
        f"package.__path__ = [{str(Path(codings.__file__).parent)!r}]\n"
        "sys.modules['codings'] = package\n"
        "from codings.cli import main\n"
        "assert main(['fit', '--help']) == 0\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'numpy', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_flag_gets_a_did_you_mean(capsys):
    assert main(["fit", "--n-componets", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    # Full sentences: the argparse message, the suggestion, where to read more.
    assert "unrecognized arguments: --n-componets 3. Did you mean '--n-components'? " \
        "See 'codings fit --help'." in err


def test_nan_in_a_data_file_is_located_before_scaling(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    X = np.random.default_rng(0).random((40, 6))
    X[3, 4] = np.nan
    np.save("nan.npy", X)
    assert main(["fit", "--data", "nan.npy", "-q"]) == 2
    err = capsys.readouterr().err
    assert "NaN at row 3, column 4" in err and err.count("\n") == 1


def test_a_mistyped_command_gets_a_did_you_mean(capsys):
    assert main(["encod", "model", "x.npy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Did you mean 'encode'? See 'codings --help'." in err

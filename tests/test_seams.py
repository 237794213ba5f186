"""Seams between the paths (issue 23): the reported inputs, each a test, and their kin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from codings import (
    Adversarial,
    AutoEncoder,
    EncoderClassifier,
    InvalidInputError,
    Variational,
    load,
)
from codings.cli import main


def _error(capsys: pytest.CaptureFixture[str], code: int, match: str,
           expected: int = 2) -> str:
    captured = capsys.readouterr()
    assert code == expected, captured.err
    assert "Traceback" not in captured.err and match in captured.err, captured.err
    return captured.out


# -- 1. a loaded model carries no run's plumbing into the next fit --------------------------
def test_a_cli_model_cross_validates_in_python_without_touching_its_run(
        workdir: Path, digits: np.ndarray) -> None:
    assert main(["fit", "--max-iter", "2", "--hidden-layer-sizes", "8", "--name", "bc",
                 "--random-state", "0", "-q"]) == 0
    model = load("runs/bc/model.safetensors")
    assert model[-1].checkpoint_dir is None and model[-1].resume is False
    before = sorted(p.name for p in Path("runs/bc/checkpoints").iterdir())
    scores = cross_val_score(clone(model).set_params(autoencoder__max_iter=2),
                             digits[:300], cv=3)
    assert np.isfinite(scores).all()
    assert sorted(p.name for p in Path("runs/bc/checkpoints").iterdir()) == before
    assert not Path("runs/bc/checkpoints/runs").exists()


# -- 5. a diverged fit exits 1 ----------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::codings.training.TrainingDivergedWarning")
def test_a_diverged_fit_exits_1_and_keeps_its_run(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fit", "--max-iter", "5", "--hidden-layer-sizes", "8", "--learning-rate",
                 "1000", "--name", "div", "--random-state", "0", "-q"])
    _error(capsys, code, "diverged", expected=1)
    assert Path("runs/div/model.safetensors").is_file()  # the best weights before it


# -- 7. names compared without case; every parameter checked before anything is printed ----
def test_a_choice_in_another_case_is_that_choice(workdir: Path) -> None:
    assert main(["fit", "--max-iter", "1", "--hidden-layer-sizes", "4", "--activation",
                 "Relu", "--name", "relu", "-q"]) == 0
    assert load("runs/relu/model.safetensors")[-1].activation == "relu"


@pytest.mark.parametrize(("argv", "match"), [
    (["--activation", "Rleu"], "Did you mean 'relu'?"),
    (["--contamination", "0.7"], "'contamination'"),
    (["--constraint", "adversarial:weight=abc"], "'weight' parameter of Adversarial"),
])
def test_a_bad_parameter_is_refused_before_the_banner_or_a_run_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        match: str) -> None:
    code = main(["fit", "--max-iter", "1", "--name", "bad", *argv])
    assert _error(capsys, code, match) == ""  # nothing printed: no banner
    assert not Path("runs/bad").exists()


# -- 17. one validation wherever a seed enters ------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 1.5, True, "abc", 2**64])
def test_every_seed_is_checked_where_it_enters(seed: object, small_data: np.ndarray) -> None:
    vae = AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_iter=1,
                      constraints=(Variational(),), random_state=0).fit(small_data)
    with pytest.raises(InvalidInputError, match="'random_state' parameter of AutoEncoder"):
        vae.sample(3, random_state=seed)
    with pytest.raises(InvalidInputError, match="'random_state' parameter of EncoderClassifier"):
        EncoderClassifier(random_state=seed).fit(small_data, np.arange(len(small_data)) % 2)


def test_generate_refuses_a_negative_seed(workdir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "m.safetensors", "-n", "2", "-o", "s.npy", "--random-state", "-5"])
    assert code == 2 and "expected a seed" in capsys.readouterr().err


# -- 20. a classifier's file given to an autoencoder's command -------------------------------
def test_a_classifier_file_is_refused_by_the_autoencoders_commands(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit-classifier", "--data", "digits", "--labels-per-class", "5",
                 "--max-iter", "1", "--hidden-layer-sizes", "8", "--name", "clf", "-q"]) == 0
    np.save("x.npy", np.zeros((3, 64)))
    model = "runs/clf/model.safetensors"
    for command in (["encode", model, "x.npy", "-o", "z.npy"],
                    ["reconstruct", model, "x.npy", "-o", "r.npy"],
                    ["decode", model, "x.npy", "-o", "d.npy"],
                    ["score", model, "x.npy", "-o", "s.csv"],
                    ["generate", model, "-n", "2", "-o", "g.npy"]):
        _error(capsys, main(command), "holds an EncoderClassifier")
    _error(capsys, main(["report", "runs/clf"]), "run folder of codings fit-classifier")


# -- 23. a constraint parameter of the wrong type is named -----------------------------------
@pytest.mark.parametrize(("make", "name"), [
    (lambda: Adversarial(weight="1"), "weight"),
    (lambda: Adversarial(weight=True), "weight"),
    (lambda: Variational(beta=None), "beta"),
])
def test_a_constraint_parameter_of_the_wrong_type_is_named(make, name: str) -> None:
    with pytest.raises(InvalidInputError, match=f"'{name}' parameter of"):
        make()


# -- 18. a refused resume leaves the run as it was -----------------------------------------
def test_a_refused_resume_keeps_params_json_and_a_plain_resume_still_works(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--max-iter", "2", "--hidden-layer-sizes", "8", "--name", "r",
                 "--random-state", "0", "-q"]) == 0
    before = Path("runs/r/params.json").read_bytes()
    code = main(["fit", "--resume", "runs/r", "--n-components", "3", "-q"])
    _error(capsys, code, "n_components")
    assert Path("runs/r/params.json").read_bytes() == before
    assert main(["fit", "--resume", "runs/r", "--max-iter", "3", "-q"]) == 0
    assert load("runs/r/model.safetensors")[-1].n_iter_ == 3


# -- 13. scikit-learn's label conventions (scikit-learn #12610, #17951) ----------------------
def test_names_with_int_minus_one_are_labels_and_unlabelled_rows(small_data: np.ndarray) -> None:
    y = np.array(["barolo", "chianti"] * (len(small_data) // 2), dtype=object)
    y[::3] = -1
    clf = EncoderClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    clf.fit(small_data, y)
    assert sorted(clf.classes_) == ["barolo", "chianti"]
    assert set(clf.predict(small_data)) <= {"barolo", "chianti"}


@pytest.mark.parametrize("dtype", [str, object])
def test_a_string_minus_one_is_refused_not_trained_as_a_class(
        small_data: np.ndarray, dtype: type) -> None:
    y = np.array(["barolo", "chianti", "-1"] * (len(small_data) // 3 + 1))[:len(small_data)]
    with pytest.raises(InvalidInputError, match="the string '-1'"):
        EncoderClassifier(max_iter=1).fit(small_data, y.astype(dtype))


# -- 8. every text column named at once -------------------------------------------------------
def test_every_text_column_is_named_in_one_message(workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    Path("t.csv").write_text("patient_id,age,clinic,diagnosis,bp\n"
                             "p1,40,north,flu,120\np2,51,south,cold,130\n")
    code = main(["fit", "--data", "t.csv", "--id", "patient_id", "--max-iter", "1"])
    _error(capsys, code, "'clinic', 'diagnosis'")
    from codings.datasets import load_file

    with pytest.raises(InvalidInputError, match="--drop clinic,diagnosis"):
        load_file("t.csv", id_column="patient_id")
    assert load_file("t.csv", drop=["clinic", "diagnosis"], id_column="patient_id"
                     ).data.shape == (2, 2)


# -- 2. the report describes the saved model's threshold -------------------------------------
def test_the_report_states_the_models_threshold(workdir: Path) -> None:
    assert main(["fit", "--max-iter", "2", "--hidden-layer-sizes", "8", "--name", "c",
                 "--contamination", "0.02", "--random-state", "0", "-q"]) == 0
    model = load("runs/c/model.safetensors")
    offset = model[-1].offset_
    for _ in range(2):  # as fit wrote it, and as codings report rebuilds it
        page = Path("runs/c/report.html").read_text()
        assert "lowest 10%" not in page and "0.02 share of the training rows" in page
        assert f"{offset:.4g}" in page
        assert main(["report", "runs/c"]) == 0

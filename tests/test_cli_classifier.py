"""codings fit-classifier and codings predict: learning from few labels on the command line,
the classifier's model file, and bad labels (tiny ladder networks on the digits)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from codings import AutoEncoder, load
from codings.cli import main
from codings.datasets import load_digits
from codings.estimators.classifier import EncoderClassifier
from codings.exceptions import InvalidInputError, ModelFileError

FAST = ["--epochs", "2", "--hidden-layer-sizes", "16", "--seed", "0", "-q"]


def partly_labelled(n_per_class: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The digits, their labels, and the labels with ``n_per_class`` kept (the rest -1)."""
    digits = load_digits()
    y = np.full(len(digits.target), -1)
    for label in range(10):
        rows = np.flatnonzero(digits.target == label)[:n_per_class]
        y[rows] = label
    return digits.data, digits.target, y


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier fitted once for the module from X.npy and y.npy (-1: unlabelled)."""
    folder = tmp_path_factory.mktemp("classifier")
    X, _, y = partly_labelled()
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    assert main(["fit-classifier", "--data", str(folder / "X.npy"), "--labels",
                 str(folder / "y.npy"), "--runs-dir", str(folder / "runs"), "--name", "clf",
                 *FAST]) == 0
    return folder


def read_predictions(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    labels = np.array([int(row[0]) for row in rows[1:]])
    proba = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    return rows[0], labels, proba


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, match: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("codings: error:") and match in err, err


def test_fit_classifier_writes_model_history_and_report(run: Path) -> None:
    folder = run / "runs" / "clf"
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "history.csv",
                                                  "report.html"}
    header = (folder / "history.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "loss", "cross_entropy", "denoising", "held_out_accuracy"} <= set(header)
    assert len((folder / "history.csv").read_text().splitlines()) == 3  # 2 epochs
    report = (folder / "report.html").read_text()
    assert "Accuracy" in report and "data:image/png;base64," in report
    model = load(folder / "model.safetensors")  # the scaling to [0, 1], then the classifier
    assert type(model[0]).__name__ == "MinMaxScaler" and isinstance(model[-1], EncoderClassifier)
    assert model[-1].network_.sizes == (64, 16, 10)
    assert model[-1].history_["loss"] and model[-1].n_iter_ == 2


def test_predict_equals_the_loaded_model(run: Path, workdir: Path) -> None:
    model_path = run / "runs" / "clf" / "model.safetensors"
    X = np.load(run / "X.npy")
    assert main(["predict", str(model_path), str(run / "X.npy"), "-o", "out.csv"]) == 0
    header, labels, proba = read_predictions(workdir / "out.csv")
    assert header == ["label", *(f"p_{c}" for c in range(10))]
    model = load(model_path)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(proba, model.predict_proba(X))  # %.17g: exact
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_labels_from_a_table_column_and_labels_per_class(workdir: Path) -> None:
    X, target, _ = partly_labelled()
    names = [f"f{i}" for i in range(X.shape[1])]
    with open("table.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["digit", *names])
        for label, row in zip(target, X, strict=True):
            writer.writerow([label, *row])
    # every row labelled in the file, 3 per class kept; "digit" is never a feature
    assert main(["fit-classifier", "--data", "table.csv", "--target", "digit",
                 "--labels-per-class", "3", "--validation-fraction", "0", "--name", "t",
                 *FAST]) == 0
    model = load("runs/t/model.safetensors")
    assert model.n_features_in_ == 64
    assert main(["predict", "runs/t/model.safetensors", "table.csv", "-o", "p.csv"]) == 0
    _, labels, _ = read_predictions(Path("p.csv"))
    np.testing.assert_array_equal(labels, model.predict(X))


@pytest.mark.parametrize(("labels", "match"), [
    (np.zeros(10, dtype=int), "has 10 labels but the data has 1797 rows"),
    (np.full(1797, -1), "Every label in y.npy is -1"),
    (np.where(np.arange(1797) == 7, np.nan, np.arange(1797) % 2), "holds nan at row 7"),
    (np.arange(1797) % 3 - 2, "holds -2 at row 0"),
    (np.full(1797, 4), "one class only"),
])
def test_bad_labels_give_one_line_errors(workdir: Path, capsys: pytest.CaptureFixture[str],
                                         labels: np.ndarray, match: str) -> None:
    np.save("X.npy", load_digits().data)
    np.save("y.npy", labels)
    one_line_error(capsys, main(["fit-classifier", "--data", "X.npy", "--labels", "y.npy",
                                 *FAST]), match)
    assert not Path("runs").exists() or not any(Path("runs").iterdir())


def test_other_bad_input(workdir: Path, capsys: pytest.CaptureFixture[str], run: Path) -> None:
    np.save("X.npy", load_digits().data)
    one_line_error(capsys, main(["fit-classifier", "--data", "X.npy", *FAST]),
                   "carries no labels")
    one_line_error(capsys, main(["fit-classifier", "--data", "X.npy", "--target", "y",
                                 *FAST]), "--target names a column of a .csv or .parquet")
    model = str(run / "runs" / "clf" / "model.safetensors")
    one_line_error(capsys, main(["predict", model, "X.npy", "-o", "out.npy"]),
                   "predict writes a .csv file")
    AutoEncoder(n_components=2, hidden_layer_sizes=(), max_iter=1, random_state=0).fit(
        load_digits().data[:50] / 16).save("ae.safetensors")
    one_line_error(capsys, main(["predict", "ae.safetensors", "X.npy", "-o", "out.csv"]),
                   "holds an autoencoder, not a classifier")


def test_classifier_file_round_trip_and_damage(tmp_path: Path) -> None:
    X, _, y = partly_labelled()
    clf = EncoderClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=0).fit(X / 16, y)
    clf.save(tmp_path / "c.safetensors")
    loaded = load(tmp_path / "c.safetensors")
    assert isinstance(loaded, EncoderClassifier) and loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X / 16), clf.predict_proba(X / 16))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    raw = bytearray((tmp_path / "c.safetensors").read_bytes())
    start = raw.index(b"[0,1,2,3,4,5,6,7,8,9]", raw.index(b"classes"))
    raw[start + 1] = ord("7")  # a class label changed
    (tmp_path / "d.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupted"):
        load(tmp_path / "d.safetensors")


def test_a_classifier_on_a_given_autoencoder_is_not_saved(tmp_path: Path) -> None:

    X = load_digits().data[:100] / 16
    y = np.arange(100) % 2
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(), max_iter=1, random_state=0).fit(X)
    clf = EncoderClassifier(ae, max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(InvalidInputError, match="Only the built-in ladder network"):
        clf.save(tmp_path / "c.safetensors")

"""Tables keep their column names: fit remembers them (``--columns``, ``--drop``, ``--id``),
``encode``, ``reconstruct`` and ``score`` find them by name, and every .csv output has a header
row (``--no-header`` leaves it out)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from codings import load
from codings.cli import main
from codings.datasets import load_file, load_parquet
from codings.exceptions import InvalidInputError

# The tests compare with the model's own methods on arrays in its column order.
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "4", "--random-state", "0", "-q"]
FEATURES = ["age", "income", "kids"]


def write_people(path: Path, n: int = 40, order: tuple[str, ...] = ("user", "age", "income",
                                                                   "city", "kids")) -> None:
    """A table with an id, three numeric columns of very different sizes and a text column."""
    rng = np.random.default_rng(0)
    age = rng.integers(20, 70, n)
    cells = {"user": [f"u{i}" for i in range(n)], "age": [str(a) for a in age],
             "income": [f"{1000.0 * a + rng.normal(0, 5000):.1f}" for a in age],
             "city": [f"c{i % 3}" for i in range(n)], "kids": [str(k) for k in
                                                               rng.integers(0, 4, n)]}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(order)
        writer.writerows(zip(*(cells[name] for name in order), strict=True))


def read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, match: str) -> None:
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("codings: error: ") and match in err, err


@pytest.fixture(scope="module")
def people_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model fitted on people.csv without its text column and with its id kept aside."""
    folder = tmp_path_factory.mktemp("people")
    write_people(folder / "people.csv")
    assert main(["fit", "--data", str(folder / "people.csv"), "--drop", "city", "--id", "user",
                 "--runs-dir", str(folder / "runs"), "--name", "p", *FAST]) == 0
    return folder / "runs" / "p" / "model.safetensors"


# -- the reader ------------------------------------------------------------------------------
def test_columns_are_chosen_by_name_before_any_cell_is_read_as_a_number(
        workdir: Path) -> None:
    write_people(Path("t.csv"), n=3)
    kept = load_file("t.csv", columns="income,age", id_column="user")
    assert kept.feature_names == ["income", "age"] and kept.ids.tolist() == ["u0", "u1", "u2"]
    full = load_file("t.csv", drop=["city"], id_column="user")
    assert full.feature_names == FEATURES
    np.testing.assert_array_equal(kept.data, full.data[:, [1, 0]])
    Path("bare.csv").write_text("1,2\n3,4\n")  # no header: names match by position only
    np.testing.assert_array_equal(load_file("bare.csv", columns=["a", "b"]).data,
                                  [[1, 2], [3, 4]])


def test_parquet_columns_are_chosen_by_name(workdir: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [7, 8], "b": [1.0, 2.0], "name": ["x", "y"],
                             "a": [3, 4]}), "t.parquet")
    bunch = load_parquet("t.parquet", columns=["a", "b"], id_column="id")
    assert bunch.feature_names == ["a", "b"] and bunch.ids.tolist() == ["7", "8"]
    np.testing.assert_array_equal(bunch.data, [[3, 1], [4, 2]])


@pytest.mark.parametrize("kwargs, match", [
    ({"columns": "incom"}, "t.csv has no column 'incom'. Did you mean 'income'? Its columns: "
                           "'user', 'age', 'income', 'city', 'kids'."),
    ({"drop": "user,age,income,city,kids"}, "no feature columns are left after --drop"),
    ({"columns": "age", "id_column": "age"}, "'age' is the id column, kept aside"),
    ({"columns": ""}, "--columns (Python: columns=) takes column names"),
])
def test_a_bad_selection_is_one_clear_error(workdir: Path, kwargs: dict[str, str],
                                            match: str) -> None:
    write_people(Path("t.csv"), n=3)
    with pytest.raises(InvalidInputError, match=re.escape(match)):
        load_file("t.csv", **kwargs)


def test_selection_needs_column_names(workdir: Path) -> None:
    np.save("x.npy", np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match=re.escape(
            "choose columns by name in a .csv or .parquet file; x.npy has no column names")):
        load_file("x.npy", id_column="user")
    Path("bare.csv").write_text("1,2\n3,4\n")
    with pytest.raises(InvalidInputError, match="no header row, so the columns 'user' cannot"):
        load_file("bare.csv", id_column="user")


# -- fit, encode, reconstruct, score ------------------------------------------------------
def test_column_names_survive_fit_encode_reconstruct_score(
        workdir: Path, people_model: Path) -> None:
    model = load(people_model)
    assert list(model.feature_names_in_) == FEATURES  # --drop and --id are remembered
    # Another order, an extra column: the model finds its own columns by name.
    write_people(Path("new.csv"), n=6, order=("kids", "city", "income", "user", "age"))
    X = load_file("new.csv", columns=FEATURES).data
    model_path = str(people_model)

    assert main(["reconstruct", model_path, "new.csv", "-o", "rec.csv"]) == 0
    header, rows = read_csv("rec.csv")
    assert header == FEATURES
    np.testing.assert_allclose(np.asarray(rows, dtype=float), model.reconstruct(X),
                               rtol=1e-6)

    assert main(["encode", model_path, "new.csv", "-o", "z.csv", "--id", "user"]) == 0
    header, rows = read_csv("z.csv")
    assert header == ["user", "autoencoder0", "autoencoder1"]
    assert [row[0] for row in rows] == [f"u{i}" for i in range(6)]
    np.testing.assert_allclose(np.asarray([r[1:] for r in rows], dtype=float),
                               model.transform(X), rtol=1e-6)

    assert main(["score", model_path, "new.csv", "-o", "s.csv", "--id", "user"]) == 0
    header, rows = read_csv("s.csv")
    assert header == ["user", "score", "outlier"] and rows[0][0] == "u0"
    np.testing.assert_allclose(np.asarray([r[1] for r in rows], dtype=float),
                               model.score_samples(X), rtol=1e-6)

    # The encode output, with its id column, decodes back to named columns.
    assert main(["decode", model_path, "z.csv", "--id", "user", "-o", "d.csv"]) == 0
    header, rows = read_csv("d.csv")
    assert header == ["user", *FEATURES] and rows[5][0] == "u5"


def test_no_header_leaves_the_header_row_out(workdir: Path, people_model: Path) -> None:
    write_people(Path("new.csv"), n=4)
    for command, width in (("reconstruct", 3), ("encode", 2), ("score", 2)):
        assert main([command, str(people_model), "new.csv", "-o", "o.csv", "--no-header"]) == 0
        assert np.loadtxt("o.csv", delimiter=",").shape == (4, width), command


def test_columns_at_fit_set_the_model_columns_and_their_order(workdir: Path) -> None:
    write_people(Path("people.csv"), n=20)
    assert main(["fit", "--data", "people.csv", "--columns", "kids,age", "--name", "k",
                 *FAST]) == 0
    assert list(load("runs/k/model.safetensors").feature_names_in_) == ["kids", "age"]


def test_table_errors_are_one_line(workdir: Path, people_model: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    model = str(people_model)
    write_people(Path("new.csv"), n=4, order=("user", "age", "city", "kids"))
    one_line_error(capsys, main(["score", model, "new.csv", "-o", "s.csv"]),
                   "new.csv has no column 'income'.")
    one_line_error(capsys, main(["encode", model, "new.csv", "-o", "z.npy", "--id", "user"]),
                   "z.npy is a .npy file, which holds numbers only: use a .csv output")
    Path("twice.csv").write_text("a,b,a\n1,2,3\n4,5,6\n")
    one_line_error(capsys, main(["fit", "--data", "twice.csv", *FAST]),
                   "twice.csv has two columns named 'a'")
    one_line_error(capsys, main(["fit", "--columns", "a", *FAST]),
                   "it does not apply to the embedded data set 'digits'")


def test_the_report_draws_a_table_column_by_column(people_model: Path) -> None:
    page = (people_model.parent / "report.html").read_text()
    assert "in standard deviations from each column" in page
    assert "Reconstruction error per column" in page
    assert all(f"<td>{name}</td>" in page for name in FEATURES)
    # Sections that do not apply to a table are left out, not explained away.
    for section in ("First-layer features", "Generated samples", "Interpolations"):
        assert f"<h2>{section}</h2>" not in page

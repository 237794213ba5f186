"""Files the library reads as data, and outputs that must never overwrite them: each input an
attacker or a spreadsheet produced is read right or refused in one line naming the file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from codings import InvalidInputError
from codings.cli import main
from codings.datasets import load_array, load_file, load_image_folder, load_parquet

FAST = ["--max-iter", "2", "--hidden-layer-sizes", "8", "--random-state", "0", "-q"]
ROWS = np.array([[1.5, 2.5, 3.5], [4.0, 5.0, 6.0], [7.0, 8.5, 9.0], [0.5, 1.0, 1.5]])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    np.save(folder / "data.npy", ROWS)
    assert main(["fit", "--data", str(folder / "data.npy"), "--runs-dir", str(folder),
                 "--name", "t", *FAST]) == 0
    return folder / "t" / "model.safetensors"


@pytest.fixture
def fitted_run(workdir: Path, model_path: Path) -> str:
    np.save("data.npy", ROWS)
    return str(model_path)


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, match: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert match in err, err


def csv_text(rows: np.ndarray) -> str:
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows)


# -- CSV ----------------------------------------------------------------------------------------
def test_a_byte_order_mark_does_not_make_the_first_row_a_header(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + csv_text(ROWS).encode())  # Excel's "CSV UTF-8"
    bunch = load_array(path)
    np.testing.assert_array_equal(bunch.data, ROWS)
    assert bunch.feature_names is None
    named = tmp_path / "named.csv"
    named.write_bytes("\ufeffa,b,c\n".encode() + csv_text(ROWS).encode())
    assert load_array(named).feature_names == ["a", "b", "c"]


def test_encode_keeps_one_output_row_per_input_row_with_a_bom(fitted_run: str) -> None:
    Path("excel.csv").write_bytes("\ufeff".encode() + csv_text(ROWS).encode())
    assert main(["encode", fitted_run, "excel.csv", "-o", "z.npy"]) == 0
    assert main(["encode", fitted_run, "data.npy", "-o", "y.npy"]) == 0
    np.testing.assert_array_equal(np.load("z.npy"), np.load("y.npy"))


@pytest.mark.parametrize(("first", "match"), [
    ("NA,1.5,2.5", r"line 1, column 1: missing value \('NA'\)"),
    ("nan,1.5,2.5", r"line 1, column 1: missing value \('nan'\)"),
    ("1.5,,2.5", r"line 1, column 2: missing value\."),
    ("1.5,N/A,2.5", r"line 1, column 2: missing value \('N/A'\)"),
    ("1.5,2.5,inf", r"line 1, column 3: 'inf' is not a finite number"),
])
def test_a_first_row_with_missing_values_is_data_not_a_header(tmp_path: Path, first: str,
                                                              match: str) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(first + "\n" + csv_text(ROWS))
    with pytest.raises(InvalidInputError, match=match) as info:
        load_array(path)
    assert str(path) in str(info.value)


def test_a_header_with_a_missing_value_token_among_names_is_still_a_header(
        tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_text("height,NA,width\n" + csv_text(ROWS))
    assert load_array(path).feature_names == ["height", "NA", "width"]


# -- images -------------------------------------------------------------------------------------
def test_16_bit_pngs_keep_their_values(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 65536, (4, 5), dtype=np.uint16) for _ in range(3)]
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
    bunch = load_image_folder(tmp_path)
    assert bunch.source_dtype == np.uint16 and bunch.image_shape == (4, 5)
    np.testing.assert_array_equal(bunch.data, np.stack(pixels).reshape(3, -1))
    assert bunch.data.max() > 255  # not clipped to 8 bits


def test_the_cli_scales_16_bit_pngs_by_65535(workdir: Path) -> None:
    from PIL import Image

    from codings import load

    folder = Path("deep")
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 65536, (4, 4), dtype=np.uint16)).save(
            folder / f"{i}.png")
    assert main(["fit", "--data", "deep", "--name", "t", *FAST]) == 0
    model = load("runs/t/model.safetensors")
    assert model[0].scale_.tolist() == [65535.0] * 16


def test_a_folder_mixing_8_and_16_bit_images_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((4, 4), 1000, dtype=np.uint16)).save(tmp_path / "b.png")
    with pytest.raises(InvalidInputError, match=r"has 16-bit pixels but a\.png has 8-bit"):
        load_image_folder(tmp_path)


# -- --key applies to .npz only -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["x.csv", "x.npy", "x.parquet", "folder"])
def test_key_is_refused_where_it_does_not_apply(workdir: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                name: str) -> None:
    np.savetxt("x.csv", ROWS, delimiter=",")
    np.save("x.npy", ROWS)
    Path("folder").mkdir()
    if name == "x.parquet":
        pd = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        pd.DataFrame(ROWS, columns=list("abc")).to_parquet(name)
    with pytest.raises(InvalidInputError, match=f"does not apply to {name}"):
        load_file(name, key="x_train")
    one_line_error(capsys, main(["fit", "--data", name, "--key", "x_train", *FAST]),
                   "does not apply to")


# -- non-regular files --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".npy", ".npz", ".parquet"])
def test_a_link_to_dev_zero_is_refused_before_reading(tmp_path: Path, suffix: str) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    link = tmp_path / f"data{suffix}"
    link.symlink_to("/dev/zero")
    reader = load_parquet if suffix == ".parquet" else load_array
    for read in (reader, load_file):
        with pytest.raises(InvalidInputError, match="not a regular file") as info:
            read(link)
        assert str(link) in str(info.value)


def test_a_link_to_dev_zero_among_images_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").symlink_to("/dev/zero")
    with pytest.raises(InvalidInputError, match=r"b\.png is not a regular file"):
        load_image_folder(tmp_path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            load_file(fifo)
        except InvalidInputError as exc:
            errors.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)  # a ceiling against a hang, not a time budget
    assert errors and "not a regular file" in str(errors[0])


def test_the_cli_refuses_a_data_link_to_dev_zero(workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    Path("zero.csv").symlink_to("/dev/zero")
    one_line_error(capsys, main(["fit", "--data", "zero.csv", *FAST]), "not a regular file")


# -- outputs never overwrite inputs -------------------------------------------------------------
@pytest.mark.parametrize("command", ["encode", "reconstruct", "decode", "score"])
@pytest.mark.parametrize("spelling", ["data.npy", "./data.npy", "link.npy", "hard.npy"])
def test_an_output_that_is_an_input_is_refused_before_any_work(
        fitted_run: str, capsys: pytest.CaptureFixture[str], command: str,
        spelling: str) -> None:
    Path("link.npy").symlink_to("data.npy")
    os.link("data.npy", "hard.npy")
    before = Path("data.npy").read_bytes()
    code = main([command, fitted_run, spelling, "-o", "data.npy"])
    one_line_error(capsys, code, "Cannot write data.npy: it is the input")
    assert Path("data.npy").read_bytes() == before


def test_an_output_that_is_the_model_is_refused(fitted_run: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    Path("model.npy").write_bytes(Path(fitted_run).read_bytes())  # read by content
    before = Path("model.npy").read_bytes()
    one_line_error(capsys, main(["encode", "model.npy", "data.npy", "-o", "model.npy"]),
                   "it is the input model.npy")
    Path("onnx").mkdir()
    Path("model.npy").rename("onnx/encoder.onnx")
    one_line_error(capsys, main(["export", "onnx/encoder.onnx", "-o", "onnx"]),
                   "it is the input onnx/encoder.onnx")
    assert Path("onnx/encoder.onnx").read_bytes() == before


def test_every_reader_is_reachable_from_python(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame(ROWS, columns=list("abc")).to_parquet(tmp_path / "x.parquet")
    for bunch in (load_parquet(tmp_path / "x.parquet"), load_file(tmp_path / "x.parquet")):
        np.testing.assert_array_equal(bunch.data, ROWS)
        assert bunch.feature_names == ["a", "b", "c"]
    np.save(tmp_path / "x.npy", ROWS.astype(np.float32))
    assert load_file(tmp_path / "x.npy", mmap=True).data.dtype == np.float32

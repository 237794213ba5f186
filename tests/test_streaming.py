"""Data larger than memory: a memory-mapped .npy trains and encodes under a memory limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from codings import AutoEncoder

LIMIT_HEADROOM_MB = 256
FILE_MB = 600  # well over the headroom: loading it whole would break the limit


def _write_big_file(path) -> int:
    """FILE_MB of random float32 rows of 256 features, written through a memory map one
    chunk at a time (so writing it never needs the memory the test limits)."""
    rows, features = FILE_MB * 2**20 // (4 * 256), 256
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 65_536):
        stop = min(start + 65_536, rows)
        data[start:stop] = rng.random((stop - start, features), dtype=np.float32)
    data.flush()
    del data
    return rows


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA and /proc are Linux")
def test_a_file_larger_than_the_memory_limit_trains_and_encodes(tmp_path):
    rows = _write_big_file(tmp_path / "big.npy")
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        torch.set_num_threads(1)
        from codings import AutoEncoder

        def private_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmData:"):
                    return int(line.split()[1]) // 1024

        path = {str(tmp_path / "big.npy")!r}
        small = {str(tmp_path / "small.npy")!r}
        np.save(small, np.load(path, mmap_mode="r")[:20000])
        ae = AutoEncoder(n_components=4, hidden_layer_sizes=(), activation="identity",
                         batch_size=4096, max_iter=1, random_state=0)
        ae.fit(small).transform(small)  # imports and first-use allocations happen here
        limit = (private_mb() + {LIMIT_HEADROOM_MB}) * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        ae.fit(path)
        out = np.lib.format.open_memmap({str(tmp_path / "codings.npy")!r}, mode="w+",
                                        dtype=np.float32, shape=(ae.n_features_in_ and
                                        np.load(path, mmap_mode="r").shape[0], 4))
        ae.transform(path, out=out)
        out.flush()
        try:
            np.ones(({LIMIT_HEADROOM_MB} + 100) * 2**20 // 8)  # proves the limit is real
            print("limit not enforced")
        except MemoryError:
            print("ok", private_mb())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("ok"), result.stdout
    codings = np.load(tmp_path / "codings.npy", mmap_mode="r")
    assert codings.shape == (rows, 4) and np.isfinite(codings[-1000:]).all()


def test_memmap_and_in_memory_training_agree_in_quality(tmp_path):
    X = np.random.default_rng(0).random((3000, 12), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    streamed = AutoEncoder(n_components=3, max_iter=5, random_state=0).fit(
        np.load(tmp_path / "x.npy", mmap_mode="r"))
    in_memory = AutoEncoder(n_components=3, max_iter=5, random_state=0).fit(X)
    # Different batch orders (chunks), same model and data: the losses end close.
    assert streamed.loss_curve_[-1] == pytest.approx(in_memory.loss_curve_[-1], rel=0.2)
    np.testing.assert_allclose(streamed.transform(tmp_path / "x.npy"), streamed.transform(X),
                               rtol=1e-5, atol=1e-6)


def test_streamed_early_stopping_and_errors(tmp_path):
    X = np.random.default_rng(0).random((500, 6), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    ae = AutoEncoder(n_components=2, max_iter=50, early_stopping=True, n_iter_no_change=2,
                     tol=0.5, random_state=0).fit(tmp_path / "x.npy")
    assert ae.stop_reason_ == "early_stopping" and "val_loss" in ae.history_
    X[7, 3] = np.inf
    np.save(tmp_path / "bad.npy", X)
    from codings import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"infinity \(inf\) at row 7, column 3"):
        AutoEncoder(max_iter=1).fit(tmp_path / "bad.npy")
    with pytest.raises(InvalidInputError, match=r"only \.npy files by path"):
        AutoEncoder(max_iter=1).fit(str(tmp_path / "x.csv"))
    with pytest.raises(InvalidInputError, match="cannot stream a memory-mapped array"):
        AutoEncoder(max_iter=1, pretraining="layerwise").fit(tmp_path / "x.npy")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA and /proc are Linux")
def test_every_method_that_takes_a_path_streams_in_bounded_memory(tmp_path):
    """Each method reads a .npy path batch by batch: under a data limit far below the
    file's size, per-row results come back and nothing grows with the file (one child
    process runs them all under the limit, one after the other)."""
    rows = _write_big_file(tmp_path / "big.npy")
    calls = {
        "score_samples": "ae.score_samples(path)",
        "reconstruction_error": "ae.reconstruction_error(path)",
        "detector_fit": "AnomalyDetector(ae).fit(path).offset_",
        "detector_decision": "AnomalyDetector(ae).fit(small).decision_function(path)",
        "transform_out": "ae.transform(path, out=np.lib.format.open_memmap("
                         f"{str(tmp_path / 'z.npy')!r}, mode='w+', dtype=np.float32, "
                         "shape=(np.load(path, mmap_mode='r').shape[0], 4)))",
    }
    lines = "\n".join(f"result = {call}\nprint({name!r}, np.size(result), "
                      "bool(np.isfinite(np.atleast_1d(result)[-100:]).all()), flush=True)"
                      for name, call in calls.items())
    script = textwrap.dedent(f"""
        import resource, numpy as np, torch
        torch.set_num_threads(1)
        from codings import AnomalyDetector, AutoEncoder

        def private_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmData:"):
                    return int(line.split()[1]) // 1024

        path = {str(tmp_path / "big.npy")!r}
        small = {str(tmp_path / "small.npy")!r}
        np.save(small, np.load(path, mmap_mode="r")[:20000])
        ae = AutoEncoder(n_components=4, hidden_layer_sizes=(16,), max_iter=1,
                         random_state=0).fit(small)
        ae.score_samples(small); AnomalyDetector(ae).fit(small).decision_function(small)
        limit = (private_mb() + {LIMIT_HEADROOM_MB}) * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    """) + lines
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    printed = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert set(printed) == set(calls)
    for name in ("score_samples", "reconstruction_error", "detector_decision"):
        assert printed[name] == [str(rows), "True"], name
    assert printed["detector_fit"] == ["1", "True"]

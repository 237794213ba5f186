"""Checkpoints: a killed run resumes to bit-identical weights; damaged checkpoints are skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from codings import AutoEncoder, Denoising, InvalidInputError
from codings.exceptions import ModelFileError
from codings.training import Callback
from codings.training.checkpoint import Checkpointer, CheckpointWarning

PARAMS = dict(hidden_layer_sizes=(8,), n_components=3, max_iter=12, batch_size=32,
              constraints=(Denoising(std=0.1),), lr_schedule="cosine", random_state=0)


def _data() -> np.ndarray:
    return np.random.RandomState(0).rand(300, 10)


def _same_weights(a: AutoEncoder, b: AutoEncoder) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.module_.parameters(),
                                                 b.module_.parameters(), strict=True))


class Interrupt(Callback):
    def __init__(self, at_epoch: int) -> None:
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_sigkill_then_resume_gives_bit_identical_weights(tmp_path):
    script = textwrap.dedent(f"""
        import time, numpy as np, torch
        torch.set_num_threads(1)
        from codings import AutoEncoder, Denoising
        from codings.training import Callback

        class Slow(Callback):
            def on_epoch_end(self, epoch, logs):
                time.sleep(0.15)

        X = np.random.RandomState(0).rand(300, 10)
        params = dict(hidden_layer_sizes=(8,), n_components=3, max_iter=12, batch_size=32,
                      constraints=(Denoising(std=0.1),), lr_schedule="cosine", random_state=0)
        AutoEncoder(**params, checkpoint_dir={str(tmp_path)!r}).fit(X, callbacks=[Slow()])
        print("finished")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    # Wait for the event (the first checkpoint), however slow the machine; the ceiling only
    # stops a hung run from hanging the suite.
    hung = time.monotonic() + 600
    while not list(tmp_path.glob("checkpoint-*.safetensors")):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        if time.monotonic() > hung:
            process.kill()
            pytest.fail("the training process hung: no checkpoint after 600 s")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=600)
    assert process.returncode == -signal.SIGKILL
    newest = Checkpointer(tmp_path).existing()[0]
    assert int(newest.stem.split("-")[1]) < 12  # really killed part-way

    resumed = AutoEncoder(**PARAMS, checkpoint_dir=tmp_path, resume=True).fit(_data())
    uninterrupted = AutoEncoder(**PARAMS).fit(_data())
    assert _same_weights(resumed, uninterrupted)
    assert resumed.n_iter_ == 12 and len(resumed.history_["loss"]) == 12
    assert resumed.history_["loss"] == uninterrupted.history_["loss"]


@pytest.mark.parametrize("extra", [{}, {"early_stopping": True, "n_iter_no_change": 50},
                                   {"lr_schedule": "plateau", "optimizer": "sgd"}])
def test_interrupted_fit_resumes_exactly(tmp_path, extra):
    params = {**PARAMS, **extra}
    with pytest.raises(KeyboardInterrupt):
        AutoEncoder(**params, checkpoint_dir=tmp_path).fit(_data(), callbacks=[Interrupt(5)])
    resumed = AutoEncoder(**params, checkpoint_dir=tmp_path, resume=True).fit(_data())
    assert _same_weights(resumed, AutoEncoder(**params).fit(_data()))


def test_keeps_the_newest_k_and_writes_at_the_end(tmp_path):
    AutoEncoder(**{**PARAMS, "max_iter": 7}, checkpoint_dir=tmp_path, checkpoint_every=3,
                checkpoint_keep=2).fit(_data())
    names = [p.name for p in Checkpointer(tmp_path).existing()]
    assert names == ["checkpoint-000007.safetensors", "checkpoint-000006.safetensors"]
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_a_corrupted_newest_checkpoint_is_skipped_with_a_warning(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        AutoEncoder(**PARAMS, checkpoint_dir=tmp_path).fit(_data(), callbacks=[Interrupt(5)])
    newest = Checkpointer(tmp_path).existing()[0]
    data = bytearray(newest.read_bytes())
    data[-3] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(CheckpointWarning, match=f"Skipping checkpoint {newest.name}.*sha256"):
        resumed = AutoEncoder(**PARAMS, checkpoint_dir=tmp_path, resume=True).fit(_data())
    assert _same_weights(resumed, AutoEncoder(**PARAMS).fit(_data()))


def test_a_finished_run_can_be_extended(tmp_path):
    params = {**PARAMS, "lr_schedule": "constant"}
    AutoEncoder(**{**params, "max_iter": 4}, checkpoint_dir=tmp_path).fit(_data())
    longer = AutoEncoder(**params, checkpoint_dir=tmp_path, resume=True).fit(_data())
    assert longer.n_iter_ == 12
    assert _same_weights(longer, AutoEncoder(**params).fit(_data()))


def test_resume_needs_a_directory_and_a_matching_model(tmp_path):
    with pytest.raises(InvalidInputError, match=r"'resume' parameter .* checkpoint_dir"):
        AutoEncoder(resume=True).fit(_data())
    AutoEncoder(**{**PARAMS, "max_iter": 2}, checkpoint_dir=tmp_path).fit(_data())
    other = {**PARAMS, "hidden_layer_sizes": (5,)}
    with pytest.raises(ValueError, match="does not fit this model"):
        AutoEncoder(**other, checkpoint_dir=tmp_path, resume=True).fit(_data())


def test_every_header_byte_flip_is_caught_or_harmless(tmp_path):
    """Flip each byte of a checkpoint's header in turn: the read either fails with a
    ModelFileError (and resume would skip the file with a warning) or returns exactly what
    was written; never a silent change, never a raw traceback."""
    from codings.training.checkpoint import read_checkpoint

    AutoEncoder(**{**PARAMS, "max_iter": 1}, checkpoint_dir=tmp_path,
                checkpoint_keep=1).fit(_data())
    (path,) = Checkpointer(tmp_path).existing()
    raw = path.read_bytes()
    tensors, header = read_checkpoint(path)
    length = int.from_bytes(raw[:8], "little")
    flipped = tmp_path / "flipped"
    flipped.mkdir()
    target = flipped / path.name
    outcomes = {"refused": 0, "unchanged": 0}
    for position in range(8 + length):
        data = bytearray(raw)
        data[position] ^= 0x01
        target.write_bytes(bytes(data))
        try:
            got_tensors, got_header = read_checkpoint(target)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        assert got_header == header, f"byte {position}: the header changed silently"
        assert all(torch.equal(got_tensors[k], tensors[k]) for k in tensors), position
        outcomes["unchanged"] += 1
    assert outcomes["refused"] > 0.9 * (8 + length)
    # And resume skips a corrupted newest checkpoint with a warning, not a traceback.
    data = bytearray(raw)
    data[8 + length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.warns(CheckpointWarning, match="Skipping"):
        AutoEncoder(**{**PARAMS, "max_iter": 1}, checkpoint_dir=tmp_path, resume=True).fit(
            _data())

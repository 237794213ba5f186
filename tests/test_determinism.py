"""Same data, parameters and random_state: bit-identical weights, codings and samples,
within one process and across processes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import hashlib, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from codings import AutoEncoder, Denoising, Variational

    def digest():
        X = np.random.RandomState(0).rand(200, 12)
        ae = AutoEncoder(n_components=3, hidden_layer_sizes=(8,), max_iter=4, batch_size=32,
                         constraints=(Denoising(std=0.1), Variational()), random_state=7)
        ae.fit(X)
        h = hashlib.sha256()
        for p in ae.module_.parameters():
            h.update(p.detach().numpy().tobytes())
        h.update(ae.transform(X).tobytes())
        h.update(ae.sample(5, random_state=1).tobytes())
        return h.hexdigest()

    print(digest())
""")


def _in_subprocess() -> str:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]


def test_two_processes_and_this_one_agree_bit_for_bit():
    namespace: dict = {}
    exec(SCRIPT.replace("print(digest())", ""), namespace)
    here = [namespace["digest"](), namespace["digest"]()]
    there = [_in_subprocess(), _in_subprocess()]
    assert len({*here, *there}) == 1
    assert len(here[0]) == len(hashlib.sha256().hexdigest())
    assert np.all([h == here[0] for h in there])

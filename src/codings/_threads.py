"""How many threads torch and numpy's BLAS use during a call: scikit-learn's ``n_jobs``.

``n_jobs=None`` is the measured default (:data:`DEFAULT_THREADS`, see
``benchmarks/threads.py``): on a shared 2-core machine, torch's default of one thread per core
made training 6-12x slower than one thread when another process was busy, and one thread
lost little on an idle machine. ``OMP_NUM_THREADS``, when set (torchrun sets it for each
process), wins over the default. ``-1`` means all cores, ``-2`` all but one (scikit-learn's
convention); a positive ``n_jobs`` is capped at the number of cores (more threads only
oversubscribe, and ``n_jobs=10**6`` once spawned 32,094 threads). The previous settings are
restored after the call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: threads used when ``n_jobs=None`` and OMP_NUM_THREADS is not set (benchmarks/threads.py)
DEFAULT_THREADS = 1
# The limit of an enclosing call (a detector's n_jobs around its autoencoder's): None inside
# it means "as the caller said", not the default.
_ENCLOSING: ContextVar[int | None] = ContextVar("codings_threads", default=None)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """The number of threads ``n_jobs`` means on this machine (at least 1)."""
    cores = os.cpu_count() or 1
    if n_jobs is None and _ENCLOSING.get() is not None:
        return int(_ENCLOSING.get())  # type: ignore[arg-type]
    if n_jobs is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        return max(1, int(env)) if env.isdigit() else DEFAULT_THREADS
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    # More threads than cores only oversubscribe; n_jobs=10**6 once spawned 32,094 threads.
    return min(cores, max(1, int(n_jobs)))


@contextmanager
def limit_threads(n_jobs: int | None) -> Iterator[int]:
    """Run the block with ``resolve_n_jobs(n_jobs)`` torch intra-op and BLAS threads."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = resolve_n_jobs(n_jobs)
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    token = _ENCLOSING.set(threads)
    try:
        with threadpool_limits(limits=threads):
            yield threads
    finally:
        _ENCLOSING.reset(token)
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

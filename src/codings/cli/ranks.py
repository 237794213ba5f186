"""``codings fit`` under ``torchrun``: one run folder, one voice, one seed.

Every rank runs the same command. Rank 0 chooses what must be chosen once (the run folder,
a random seed when none is given) and the others receive it; only rank 0 prints progress and
writes files. Outside torchrun this is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Ranks:
    """The processes of one ``codings fit``: a process group under torchrun, else none."""

    def __init__(self, device: str = "cpu") -> None:
        from codings.training.distributed import launched_by_torchrun

        self.context: Any = None
        if launched_by_torchrun():
            from codings.estimators._fitting import resolve_device
            from codings.training.distributed import device_for_rank, setup

            self.context = setup(device_for_rank(resolve_device(device)))

    @property
    def active(self) -> bool:
        return self.context is not None and self.context.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.context is None or self.context.is_main

    def shared(self, choose: Callable[[], T]) -> T:
        """``choose()`` on rank 0, its result on every rank."""
        if self.context is None:
            return choose()
        import torch.distributed as dist

        box = [choose() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]  # type: ignore[return-value]

    def close(self) -> None:
        """Wait for every rank, then leave the group this command created."""
        if self.context is not None:
            from codings.training.distributed import teardown

            teardown(None, self.context)
            self.context = None


def random_seed() -> int:
    """A fresh seed in numpy's range (rank 0 draws it; it is recorded in params.json)."""
    import secrets

    return secrets.randbits(32)

"""A matplotlib Figure that Jupyter displays inline; imported only when a figure is drawn."""

from __future__ import annotations

import io

from matplotlib.figure import Figure


class CodingsFigure(Figure):
    """A plain Figure plus ``_repr_png_``, so that evaluating one in a notebook shows it even
    when pyplot (and with it the inline backend) was never imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()

"""``codings score MODEL DATA -o OUT``: a score per row and an outlier flag.

The score is the model's ``score_samples`` (minus the reconstruction error, or the ELBO of a
variational model): higher is more typical. The ``--contamination`` share of DATA with the
lowest scores is flagged.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codings.cli.apply import read_rows
from codings.cli.files import check_output, write_array
from codings.estimators import load


def score_and_flag(model: Any, X: np.ndarray, contamination: float) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Scores and boolean outlier flags of the raw rows of ``X`` (the model scales them)."""
    try:
        from codings.estimators.detector import AnomalyDetector
    except ImportError:
        scores = model.score_samples(X)
        return scores, scores < np.quantile(scores, contamination)
    detector = AnomalyDetector(model, contamination=contamination).fit(X)
    return detector.score_samples(X), detector.predict(X) == -1


def score(args: argparse.Namespace) -> int:
    output = check_output(args.output, args.model, args.data)
    model = load(args.model)
    X = read_rows(model, args.data, args.key)
    scores, outliers = score_and_flag(model, X, args.contamination)
    table = np.column_stack([np.asarray(scores, dtype=np.float64), outliers.astype(np.float64)])
    write_array(output, table, ["score", "outlier"])
    print(f"Wrote the scores of {len(table)} samples to {output}: {int(outliers.sum())} "
          f"flagged as outliers (contamination {args.contamination:g})")
    return 0

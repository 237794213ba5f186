"""``codings score MODEL DATA -o OUT``: a score per row and an outlier flag.

The score is the model's ``score_samples`` (minus the reconstruction error, or the ELBO of a
variational model): higher is more typical. A row is flagged when its score is below the
model's threshold, which ``codings fit`` sets from the training rows' scores (the
``--contamination`` share of them, 0.1 by default) and stores in the model file; with
``--contamination`` given here, the share of DATA with the lowest scores is flagged instead.
A model fitted on named columns finds them by name in DATA; ``--id COLUMN`` writes that
column first in each row (``user,score,outlier``); ``--no-header`` leaves the header out.

With ``--window W``, DATA is one long series (one row per time step, one column per
channel) and the output has one row per time step: the score of
``AnomalyDetector.score_timesteps`` (minus the mean, over the windows of W steps covering the
step, of their reconstruction error at that step) and its flag. The threshold is the one the
model file stores when it was fitted with ``codings fit --window`` (the same W), else the
``--contamination`` quantile of DATA's own per-step scores.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from codings.cli.apply import check_id_output, load_autoencoder, read_rows
from codings.cli.files import check_output, write_array
from codings.exceptions import InvalidInputError
from codings.formats.pipeline import unwrap


def score_and_flag(model: Any, X: np.ndarray,
                   contamination: float | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Scores and boolean outlier flags of the raw rows of ``X`` (the model scales them),
    and where the threshold came from: the model file's (set by ``codings fit`` from the
    training rows), or, only when asked with ``--contamination``, that share of ``X``."""
    scores = np.asarray(model.score_samples(X), dtype=np.float64)
    stored = unwrap(model).stored("offset_")
    if contamination is None and stored is not None:
        return scores, scores < stored, f"the model's threshold {stored:.6g}"
    if contamination is None:
        raise InvalidInputError(
            "This model file has no outlier threshold (it was saved by an older codings or "
            "from Python without one): give --contamination FRACTION to flag that share of "
            "DATA's rows.")
    threshold = float(np.quantile(scores, contamination))
    return scores, scores < threshold, f"contamination {contamination:g} of DATA"


def score_timesteps_and_flag(model: Any, series: np.ndarray, window: int,
                             contamination: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-time-step scores and flags of a series ``(timesteps, channels)``, and where the
    threshold came from (the model file's, or the ``contamination`` quantile)."""
    from codings.estimators.detector import AnomalyDetector

    stored = unwrap(model).stored("window_")
    if stored is not None and unwrap(model).stored("offset_") is not None:
        if stored != window:
            raise InvalidInputError(f"The model's threshold is per time step with windows of "
                                    f"{stored} steps; score with --window {stored}, not "
                                    f"{window}.")
        detector = AnomalyDetector.from_model(model)
        scores = detector.score_timesteps(series, window)
        return scores, scores < detector.offset_, f"the model's threshold {detector.offset_:.6g}"
    detector = AnomalyDetector(model, contamination=contamination)
    scores = detector._fit_timesteps(series, window)  # scored once: threshold and output
    return scores, scores < detector.offset_, f"contamination {contamination:g}"


def score(args: argparse.Namespace) -> int:
    output = check_output(args.output, args.model, args.data)
    check_id_output(output, args.id)
    header = ["score", "outlier"] if args.header else None
    model = load_autoencoder(args.model, "score", keep_detector=True)
    if getattr(args, "window", None) is not None:
        from codings.cli.sources import load_data

        bunch = load_data(args.data, args.key, id_column=args.id)
        scores, outliers, source = score_timesteps_and_flag(
            model, np.asarray(bunch.data), args.window,
            0.1 if args.contamination is None else args.contamination)
        table = np.column_stack([scores, outliers.astype(np.float64)])
        write_array(output, table, header, ids=bunch.ids, id_name=args.id or "id")
        print(f"Wrote the scores of {len(table)} time steps to {output}: "
              f"{int(outliers.sum())} flagged as anomalous ({source})")
        return 0
    bunch = read_rows(model, args.data, args.key, args.id)
    scores, outliers, source = score_and_flag(model, bunch.data, args.contamination)
    table = np.column_stack([scores, outliers.astype(np.float64)])
    write_array(output, table, header, ids=bunch.ids, id_name=args.id or "id")
    print(f"Wrote the scores of {len(table)} samples to {output}: {int(outliers.sum())} "
          f"flagged as outliers ({source})")
    return 0

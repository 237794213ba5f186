"""``codings report RUN_DIR``: rebuild a run folder's report.html from its files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codings.cli.data import reload_run_data
from codings.cli.runs import read_params
from codings.estimators import load
from codings.exceptions import CodingsError, InvalidInputError


def report(args: argparse.Namespace) -> int:
    from codings.report import write_run_report

    run_dir = Path(args.run_dir)
    document = read_params(run_dir)
    model_path = run_dir / "model.safetensors"
    if not model_path.is_file():
        raise InvalidInputError(
            f"{run_dir} has no model.safetensors: the run has not finished (status "
            f"{document.get('status', 'unknown')}). Resume it with: codings fit --resume "
            f"{run_dir}")
    model = load(model_path)
    try:
        data = reload_run_data(document, model)
    except CodingsError as exc:  # moved or deleted data: report what is in the folder
        data = None
        document["data_problem"] = f"The training data could not be reloaded: {exc}"
        print(f"codings: warning: {document['data_problem']}", file=sys.stderr)
    path = write_run_report(run_dir, model, data, document)
    print(f"Wrote {path}")
    return 0

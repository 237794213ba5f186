"""The README is part of the product: its set-up commands match CI and its code runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(b.strip() for b in _blocks("bash") if "pytest" in b)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_setup_commands_pin_torch_before_the_project():
    for block in _blocks("bash")[:2]:
        assert block.index("pip install torch==2.13.0") < block.index("pip install -e")


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_blocks_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[index], f"README block {index}", "exec"), {})


def test_the_tour_times_agree_everywhere() -> None:
    """--help, the README and docs/cli.md state the tour's times from one place."""
    from codings.cli.subcommands import TOUR_FULL_TIME, TOUR_QUICK_TIME

    readme = (ROOT / "README.md").read_text()
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    assert f"in {TOUR_FULL_TIME} on 2 idle cores\n(`--quick`: {TOUR_QUICK_TIME};" in readme
    assert f"# {TOUR_QUICK_TIME} on 2 idle cores" in cli_doc
    assert f"the full story: {TOUR_FULL_TIME} on 2 idle cores" in cli_doc

"""The README tells the truth: CI runs its test command verbatim, and its model table is `mmzoo list`'s."""
from __future__ import annotations

import re
from pathlib import Path

from mmzoo.cli.models import COLUMNS, format_table, model_rows
from mmzoo.registry import list_models

ROOT = Path(__file__).resolve().parents[1]


def readme_command(comment: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^# {re.escape(comment)}.*\n(.+)$", text, flags=re.MULTILINE)
    assert match, f"README has no command under '# {comment}'"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim():
    command = readme_command("the tests")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_readme_model_table_matches_the_registry():
    table = format_table(COLUMNS, model_rows(list_models()))
    assert table in (ROOT / "README.md").read_text(), "regenerate the README table with `mmzoo list`"

"""The README tells the truth: CI runs its test command verbatim, its model table is `mmzoo list`'s, and its
names and tables come from the package and the harness."""
from __future__ import annotations

import re
from pathlib import Path

import mmzoo
from mmzoo.cli.models import COLUMNS, format_table, model_rows
from mmzoo.registry import list_models

ROOT = Path(__file__).resolve().parents[1]


def readme_command(comment: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^# {re.escape(comment)}.*\n(.+)$", text, flags=re.MULTILINE)
    assert match, f"README has no command under '# {comment}'"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim():
    """The README's test command is CI's script itself, and that script tests the installed wheel from outside
    the checkout (so a file missing from the wheel fails a test)."""
    assert readme_command("the tests") == "bash .ci/run"
    script = (ROOT / ".ci" / "run").read_text()
    for step in ("pip wheel", 'pip install --quiet "${wheel}[$extras]"', 'cd "$work"', "MMZOO_TEST_INSTALLED=1",
                 "--import-mode=importlib", '"$root/tests"', "run_tests .venv\n",
                 ".ci/deps.py lower-bounds", 'run_tests .venv-lower -m "not slow"'):
        assert step in script, step
    extras = re.search(r'^extras="([^"]*)"', script, re.M).group(1).split(",")
    assert {"test", "export", "docs"} <= set(extras), extras


#: The README's model table: the notebooks' architectures (mmzoo's own are in docs/catalogue.md).
NOTEBOOK_MODELS = ["course_*", "late_fusion*", "intermediate_add*", "intermediate_cat*", "intermediate_hadamard*"]


def test_readme_model_table_matches_the_registry():
    names = list_models(NOTEBOOK_MODELS)
    assert len(names) == 14 and {mmzoo.model_info(n).source for n in names} == {"assignment", "course"}
    table = format_table(COLUMNS, model_rows(names))
    text = (ROOT / "README.md").read_text()
    assert table in text, "regenerate the README table with the `mmzoo list ...` command it names"
    assert "mmzoo list " + " ".join(f"'{p}'" for p in NOTEBOOK_MODELS) in " ".join(text.split())


def test_every_mmzoo_name_the_readme_uses_exists():
    """A public name shown in the README never disappears without a deprecation path."""
    import importlib

    import mmzoo

    text = (ROOT / "README.md").read_text()
    missing = [name for name in set(re.findall(r"\bmmzoo\.(\w+)", text)) if not hasattr(mmzoo, name)]
    for module, name in set(re.findall(r"from (mmzoo[\w.]*) import (\w+)", text)):
        if not hasattr(importlib.import_module(module), name):
            missing.append(f"{module}.{name}")
    assert not missing, f"the README uses names mmzoo no longer has: {missing}"


def test_readme_tables_are_generated_not_hand_written():
    """The README holds the summary table only; every other benchmark table lives in docs/benchmarks.md."""
    text = (ROOT / "README.md").read_text()
    assert re.findall(r"<!-- bench:([\w./-]+) -->", text) == ["summary"]
    assert "% of peak" not in text and "x faster" not in text, "speeds belong in docs/benchmarks.md with their method"

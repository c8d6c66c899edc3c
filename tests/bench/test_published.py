"""The published tables are what the harness wrote, and the README shows them as written."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import mmzoo
from mmzoo.bench import load_rows
from mmzoo.bench.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
PUBLISHED = sorted(p.parent.name for p in RESULTS.glob("*/results.json"))


def _run_tables():
    spec = importlib.util.spec_from_file_location("run_tables", ROOT / "benchmarks" / "run_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("table", PUBLISHED)
def test_readme_shows_the_published_table(table):
    block = _run_tables().readme_block(table)
    readme = (ROOT / "README.md").read_text()
    start, end = f"<!-- bench:{table} -->\n", f"<!-- /bench:{table} -->"
    assert start in readme, f"README has no block for table {table}; add the markers"
    shown = readme.split(start, 1)[1].split(end, 1)[0]
    assert shown == block, f"README's {table} table is stale: run python benchmarks/run_tables.py --readme-only"


@pytest.mark.parametrize("table", PUBLISHED)
def test_published_rows_are_true_to_the_registry(table):
    rows = load_rows(RESULTS / table)
    assert rows, f"{table} has a results.json but no rows"
    results = json.loads((RESULTS / table / "results.json").read_text())
    assert len(results["rows"]) == len(rows)
    spec = TABLES[table]
    for row in rows:
        assert row["model"] in spec.models
        assert row["params"] == mmzoo.model_info(row["model"]).num_params
        assert row["variant"] == spec.variant
        assert len(row["history"]) == row["recipe_fields"]["epochs"]

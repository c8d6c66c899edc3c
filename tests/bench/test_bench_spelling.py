"""``mmzoo bench --quick`` is the one spelling of the README's table; the older ones still run it, with a warning."""
from __future__ import annotations

import warnings

import pytest

import mmzoo.cli.bench as bench_cli
from mmzoo.cli import main


@pytest.fixture
def asked(tmp_path, monkeypatch):
    """The tables the command would run (the harness is replaced: the spelling is what is tested)."""
    names = []
    (tmp_path / "results.md").write_text("| table |\n")

    def record(name, **kwargs):
        names.append(name)
        return {"md": tmp_path / "results.md"}

    monkeypatch.setattr(bench_cli, "run_table", record)
    return names, ["--out", str(tmp_path)]


def test_quick_runs_the_quick_table_without_a_warning(asked):
    names, out = asked
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert main(["bench", "--quick", *out]) == 0
        assert main(["bench", "--table", "assignment-scaled", *out]) == 0
    assert names == ["quick", "assignment-scaled"]


@pytest.mark.parametrize("argv", [["bench"], ["bench", "--table", "quick"]], ids=["bare", "table-quick"])
def test_the_older_spellings_warn_and_run_the_same_table(asked, argv):
    names, out = asked
    with pytest.warns(FutureWarning, match="mmzoo bench --quick"):
        assert main([*argv, *out]) == 0
    assert names == ["quick"]

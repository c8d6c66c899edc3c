"""``mmzoo list`` and ``mmzoo info`` print the registry; errors exit 1 with the message, no traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import mmzoo
from mmzoo.cli import main


def test_list_prints_every_architecture_with_params_and_source(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in mmzoo.list_models():
        info = mmzoo.model_info(name)
        row = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert f"{info.num_params:,}" in row and info.source in row
    assert "course lab 'Intermediate Fusion'" in out and "Fusion Architecture Comparison" in out


def test_list_filters_and_json(capsys):
    assert main(["list", "intermediate_[ach]*", "--exclude", "*strided", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["intermediate_add", "intermediate_cat", "intermediate_hadamard"]
    assert rows[1]["num_params"] == 914_201 and rows[1]["input_spec"]["xyza_formula"] == "assignment"


def test_info(capsys):
    assert main(["info", "course_intermediate_matmul"]) == 0
    out = capsys.readouterr().out
    assert "6,616,659" in out and "matmul" in out and "course formula" in out and "3 conv blocks" in out


def test_unknown_name_exits_1_with_close_matches(capsys):
    assert main(["info", "late_fusin"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'late_fusin'" in err and "'late_fusion'" in err and "Traceback" not in err


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "mmzoo", "list", "late_fusion"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1,415,051" in result.stdout

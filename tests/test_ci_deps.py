"""CI's two ends of the dependency ranges: the constraints pin exactly the lower bounds setup.cfg declares, and
each pass's record marks what changed since the committed one."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def deps(repo_script, tmp_path, monkeypatch):
    module = repo_script(".ci/deps.py")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RECORDS", tmp_path / "versions")
    return module


def write_setup_cfg(folder, requires: str, extras: str = "test =\n    pytest>=7.1\n") -> None:
    (folder / "setup.cfg").write_text(f"[options]\ninstall_requires =\n{requires}\n[options.extras_require]\n{extras}")


def test_lower_bounds_pin_each_declared_minimum(deps, tmp_path):
    write_setup_cfg(tmp_path, "    torch>=2.3\n    numpy >= 1.24, <3\n    pillow[extra]>=9.0 ; python_version>'3'")
    assert deps.lower_bounds([]) == ["torch==2.3", "numpy==1.24", "pillow==9.0"]
    assert deps.lower_bounds(["test"])[-1] == "pytest==7.1"


def test_a_requirement_without_a_lower_bound_is_refused(deps, tmp_path):
    write_setup_cfg(tmp_path, "    torch>=2.3\n    fiftyone")
    with pytest.raises(SystemExit, match="'fiftyone' without a lower bound"):
        deps.lower_bounds([])
    with pytest.raises(SystemExit, match="no extra 'gpu'"):
        deps.lower_bounds(["gpu"])


def test_the_record_marks_a_version_that_changed(deps, tmp_path, capsys):
    write_setup_cfg(tmp_path, "    pytest>=7\n    no-such-package-mmzoo>=1")
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "resolved.json").write_text(json.dumps({"packages": {"pytest": "0.0.1"}}))
    assert deps.record("resolved", []) == 0
    out = capsys.readouterr().out
    assert "changed since the committed record (0.0.1)" in out
    written = json.loads((tmp_path / "versions" / "resolved.json").read_text())
    assert written["packages"]["pytest"] == pytest.__version__
    assert written["packages"]["no-such-package-mmzoo"] is None and written["python"].count(".") == 2


def test_the_committed_setup_cfg_bounds_every_requirement(repo_script):
    """What CI's lower-bounds pass needs: every requirement of the package and of the tested extras has one."""
    deps = repo_script(".ci/deps.py")
    pins = deps.lower_bounds(["test", "export"])
    assert any(pin.startswith("torch==") for pin in pins) and any(pin.startswith("pytest==") for pin in pins)

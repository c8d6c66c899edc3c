"""The source distribution holds what a clone's user runs: the scripts of benchmarks/ and studies/ with their
result files, the docs with their site config, the weights and the tests (MANIFEST.in says so)."""
from __future__ import annotations

import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rules() -> tuple[set[str], dict[str, list[str]]]:
    """MANIFEST.in's ``include`` files and ``recursive-include`` patterns per folder."""
    files, folders = set(), {}
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        command, *args = line.split()
        if command == "include":
            files.update(args)
        elif command == "recursive-include":
            folders.setdefault(args[0], []).extend(args[1:])
    return files, folders


def test_the_sdist_holds_the_scripts_their_results_and_the_docs():
    files, folders = _rules()
    assert {"README.md", "setup.cfg", "pyproject.toml", "mkdocs.yml"} <= files
    for folder, kinds in {"benchmarks": ("*.py", "*.md", "*.json"), "studies": ("*.py", "*.md", "*.json", "*.sh"),
                          "docs": ("*.md", "*.png"), "tests": ("*.py",)}.items():
        present = {p.name for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        for kind in kinds:
            if fnmatch.filter(present, kind):
                assert kind in folders.get(folder, []), f"MANIFEST.in: add '{kind}' to recursive-include {folder}"

"""Shared fixtures: keep tests that register things from leaking into the global registry."""
from __future__ import annotations

import copy

import pytest

from mmzoo.registry import _registry as registry


@pytest.fixture
def clean_registry():
    """Snapshot the registry and restore it after the test, so test registrations never leak."""
    saved = {name: copy.copy(getattr(registry, name)) for name in ("_entrypoints", "_infos", "_origins", "_weights")}
    saved["_weights"] = {arch: dict(tags) for arch, tags in registry._weights.items()}
    yield registry
    for name, value in saved.items():
        target = getattr(registry, name)
        target.clear()
        target.update(value)


@pytest.fixture
def no_local_weights(monkeypatch, tmp_path):
    """mmzoo as a wheel without shipped weights would see it: no $MMZOO_WEIGHTS_DIR, no mmzoo/_weights/, no
    source checkout's weights/."""
    from mmzoo.pretrained import locate

    monkeypatch.delenv(locate.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setattr(locate, "_PACKAGE_DIR", tmp_path / "site-packages" / "mmzoo")
    monkeypatch.setattr(locate, "_SOURCE_ROOT", tmp_path / "site-packages")
    assert locate.local_weight_dirs() == []
    return tmp_path


def pytest_sessionstart(session):
    """Under ``.ci/run`` (MMZOO_TEST_INSTALLED=1) the suite must test the installed wheel, never the checkout:
    refuse to run if ``import mmzoo`` would load the source tree."""
    import os
    from pathlib import Path

    if os.environ.get("MMZOO_TEST_INSTALLED"):
        import mmzoo

        root = Path(__file__).resolve().parents[1]
        if Path(mmzoo.__file__).resolve().parent == root / "mmzoo":
            raise pytest.UsageError(f"MMZOO_TEST_INSTALLED is set but mmzoo was imported from the checkout "
                                    f"({mmzoo.__file__}); run the tests from outside {root} (see .ci/run)")


@pytest.fixture
def repo_script():
    """``repo_script("studies/speed_ratio.py")``: a script of the repository loaded as a module (scripts are
    not part of the installed package, so they are loaded from the checkout by path)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def load(relative: str):
        path = root / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def published(repo_script):
    """``published("studies/speed_ratio.py", "speed-ratio")``: the measurement script as a module, its committed
    ``results/<folder>/results.json`` beside the script, and the block between the script's ``MARKERS`` of the page
    that publishes it (docs/studies.md for a study, docs/benchmarks.md for a benchmark); the test is skipped where
    no result is committed."""
    import json
    from pathlib import Path

    from mmzoo.bench.docs_tables import read_block

    root = Path(__file__).resolve().parents[1]

    def load(script: str, folder: str):
        results = root / Path(script).parent / "results" / folder / "results.json"
        if not results.is_file():
            pytest.skip(f"no {folder} result committed yet")
        module = repo_script(script)
        page = root / "docs" / ("studies.md" if script.startswith("studies/") else "benchmarks.md")
        return module, json.loads(results.read_text()), read_block(page, module.MARKERS)

    return load


def _slow_tests() -> tuple[set[str], set[str]]:
    """The files and test ids that ``tests/slow_tests.txt`` lists (see its header)."""
    from pathlib import Path

    listed = Path(__file__).with_name("slow_tests.txt").read_text().splitlines()
    entries = {line.strip() for line in listed if line.strip() and not line.startswith("#")}
    return {e for e in entries if "::" not in e}, {e for e in entries if "::" in e}


def pytest_collection_modifyitems(config, items):
    """Mark the tests that ``tests/slow_tests.txt`` lists as ``slow`` (``pytest -m "not slow"``: the fast tier)."""
    files, ids = _slow_tests()
    for item in items:
        if item.nodeid in ids or item.nodeid.split("::")[0] in files:
            item.add_marker(pytest.mark.slow)

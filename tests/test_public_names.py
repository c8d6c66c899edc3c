"""The names the docs tell users to catch or call are exported from ``mmzoo`` itself."""
from __future__ import annotations

import re
from pathlib import Path

import mmzoo
import mmzoo.errors

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_error_is_exported_from_mmzoo():
    for name in mmzoo.errors.__all__:
        assert name in mmzoo.__all__, f"add {name} to mmzoo/__init__.py's imports and __all__"
        assert getattr(mmzoo, name) is getattr(mmzoo.errors, name)
    assert issubclass(mmzoo.PublishError, mmzoo.MmzooError)


def test_every_mmzoo_name_the_docs_use_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    used = {name for page in pages for name in re.findall(r"`mmzoo\.([A-Z]\w+)", page.read_text())}
    missing = sorted(name for name in used if not hasattr(mmzoo, name))
    assert not missing, f"the docs name mmzoo.{missing}, which mmzoo does not export"

"""The import-time figures in docs/contributing.md are the committed measurement's, and it loaded nothing heavy."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_contributing_page_shows_the_committed_import_times():
    result = json.loads((ROOT / "studies" / "results" / "import-time" / "results.json").read_text())
    page = " ".join((ROOT / "docs" / "contributing.md").read_text().split())
    median = result["median_s"]
    assert f"{median['mmzoo']:.2f} s in a fresh interpreter against {median['torch']:.2f} s" in page
    assert f"mmzoo adds {result['mmzoo_over_torch_s']:.2f} s" in page
    assert result["mmzoo_over_torch_s"] == round(median["mmzoo"] - median["torch"], 3)
    assert result["heavy_modules_loaded_by_import_mmzoo"] == []

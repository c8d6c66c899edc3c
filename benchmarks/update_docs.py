"""Regenerate the published tables' reports from their measured rows, and copy them into the documentation.

    python benchmarks/update_docs.py              # results.{json,csv,md} of every table, then the pages
    python benchmarks/update_docs.py --pages-only # only the ``<!-- bench:NAME -->`` blocks of the pages

The rows (``benchmarks/results/**/rows/*.json``) are what ``mmzoo bench`` measured; everything else is written
from them by ``mmzoo.bench.report`` (the one table writer), so a change to how tables are written reaches every
copy. ``python benchmarks/run_tables.py`` measures tables and then runs this.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmzoo.bench.docs_tables import published_tables, update_page
from mmzoo.bench.harness import load_rows
from mmzoo.bench.report import write_reports

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: The pages that hold ``bench:`` blocks (docs/benchmarks.md: the tables; docs/studies.md: the tables a study
#: reads; README.md: the summary).
PAGES = (ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "studies.md", ROOT / "README.md")


def rewrite_reports(results_dir: Path = RESULTS) -> list[str]:
    """Rewrite every published table's reports from its rows (the rows themselves are never touched)."""
    names = published_tables(results_dir)
    for name in names:
        folder = results_dir / name
        table = json.loads((folder / "results.json").read_text())["table"]
        write_reports(folder, table, load_rows(folder))
    return names


def update_pages(pages: tuple[Path, ...] = PAGES, results_dir: Path = RESULTS) -> dict[str, list[str]]:
    """Fill every page's ``bench:`` blocks; returns the names filled per page."""
    return {page.name: update_page(page, results_dir) for page in pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages-only", action="store_true", help="do not rewrite the results' reports")
    args = parser.parse_args()
    if not args.pages_only:
        print("reports rewritten:", ", ".join(rewrite_reports()))
    for page, names in update_pages().items():
        print(f"{page}: {', '.join(names) or 'no bench: blocks'}")


if __name__ == "__main__":
    main()

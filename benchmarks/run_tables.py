"""Regenerate the published benchmark tables into benchmarks/results/ and copy them into the README.

    python benchmarks/run_tables.py                      # every table, then the README
    python benchmarks/run_tables.py --tables quick       # one table
    python benchmarks/run_tables.py --readme-only        # only copy finished tables into the README

Each table is measured with ``mmzoo.bench.run_table`` (one process per row; a rerun skips finished rows and an
interrupted row resumes from its last epoch, so this script can be stopped and started again at any time).
On this project's 2-core CPU the full set takes hours; on a GPU, minutes. ``--set`` changes every table's recipe
(the course table was published with ``--set train_frames=1000`` on CPU; see the README).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from mmzoo.bench import TABLES, run_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORDER = ("quick", "assignment-scaled", "assignment", "course")  # the default run order


def readme_block(table: str) -> str | None:
    """The Markdown a table contributes to the README: its results.md without the title line.

    ``table`` is a folder under benchmarks/results/: a table name, or ``<machine>/<table>`` for tables measured
    elsewhere (e.g. ``gpu-h100/assignment``).
    """
    path = RESULTS / table / "results.md"
    if not path.is_file():
        return None
    return path.read_text().split("\n", 2)[2].strip() + "\n"


def update_readme(readme: Path = ROOT / "README.md") -> list[str]:
    """Replace every ``<!-- bench:NAME -->`` ... ``<!-- /bench:NAME -->`` block with that table's results."""
    text = readme.read_text()
    done = []
    for table in dict.fromkeys(re.findall(r"<!-- bench:([\w./-]+) -->", text)):
        block = readme_block(table)
        pattern = re.compile(rf"(<!-- bench:{re.escape(table)} -->\n).*?(<!-- /bench:{re.escape(table)} -->)", re.S)
        if block is not None:
            text = pattern.sub(lambda m: m.group(1) + block + m.group(2), text)
            done.append(table)
    readme.write_text(text)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(ORDER), choices=sorted(TABLES))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--machine", help="write under benchmarks/results/MACHINE/ (e.g. gpu-h100) instead of benchmarks/results/"
    )
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"), help="engine checkpoints (not committed)")
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args()
    if not args.readme_only:
        out_dir = RESULTS / args.machine if args.machine else RESULTS
        for table in args.tables:
            run_table(table, out_dir=out_dir, runs_dir=args.runs_dir, overrides=tuple(args.overrides))
    print("README tables updated:", ", ".join(update_readme()) or "none")


if __name__ == "__main__":
    main()

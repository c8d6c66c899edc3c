"""Copy the published benchmark tables into documentation pages, from the result files the harness wrote.

A page marks where a table goes with a pair of HTML comments, which Markdown renders as nothing::

    <!-- bench:assignment-scaled -->
    (replaced by the table's caption, recipe, machine, table and speed ratio)
    <!-- /bench:assignment-scaled -->

``NAME`` is a folder under the results directory holding a ``results.json``: a table name, or
``<machine>/<table>`` for tables measured on another machine (``gpu-h100/course``). ``bench:summary`` is the
short table of the README: accuracy of every assignment network on both machines.

Every block is rendered from the rows (``rows/*.json``) by :func:`mmzoo.bench.report.render_markdown`, the same
writer as ``results.md``, so a page never copies another rendering.

>>> fill_blocks("a\\n<!-- bench:x -->\\nold\\n<!-- /bench:x -->\\nb", {"x": "new\\n"})
('a\\n<!-- bench:x -->\\nnew\\n<!-- /bench:x -->\\nb', ['x'])
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from mmzoo.bench.harness import load_rows
from mmzoo.bench.report import render_markdown
from mmzoo.utils.files import atomic_write_text

__all__ = [
    "SUMMARY", "SUMMARY_TABLES", "published_tables", "table_block", "summary_block", "block_names", "fill_blocks",
    "update_page", "read_block", "write_block",
]

#: The marker name of the README's summary table.
SUMMARY = "summary"
#: The tables the summary reads, as (column label, results folder).
SUMMARY_TABLES = (("CPU", "assignment-scaled"), ("GPU", "gpu-h100/assignment-scaled"))
_MARKER = re.compile(r"<!-- bench:([\w./-]+) -->")


def published_tables(results_dir: Path) -> list[str]:
    """Every harness table under ``results_dir`` (a folder with ``results.json`` and measured ``rows/``), as
    names relative to it, sorted. Other result files (a script's own JSON) are not harness tables."""
    root = Path(results_dir)
    return sorted(
        path.parent.relative_to(root).as_posix()
        for path in root.glob("**/results.json")
        if (path.parent / "rows").is_dir()
    )


def _load(results_dir: Path, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    folder = Path(results_dir) / name
    if not (folder / "results.json").is_file():
        raise FileNotFoundError(
            f"no published table {name!r}: {folder / 'results.json'} is missing "
            f"(published: {', '.join(published_tables(results_dir)) or 'none'})"
        )
    return json.loads((folder / "results.json").read_text())["table"], load_rows(folder)


def table_block(results_dir: Path, name: str) -> str:
    """The Markdown of one published table, without its title (the page has its own heading)."""
    meta, rows = _load(results_dir, name)
    return render_markdown(meta, rows, title=False)


def _accuracy(rows: list[dict[str, Any]], model: str) -> str:
    values = [r["val_accuracy"] for r in rows if r["model"] == model and r["loop"] == "engine"]
    if not values:
        return "-"
    spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.3f}{spread}"


def summary_block(results_dir: Path) -> str:
    """The README's table: validation accuracy (mean ± sd over seeds) of each model on each machine."""
    loaded = [(label, *_load(results_dir, name)) for label, name in SUMMARY_TABLES]
    models = list(dict.fromkeys(r["model"] for _, _, rows in loaded for r in rows if r["loop"] == "engine"))
    seeds = {label: len({r["seed"] for r in rows}) for label, _, rows in loaded}
    header = ["model", "params"] + [f"val acc, {label} ({seeds[label]} seeds)" for label, _, _ in loaded]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in models:
        params = next(r["params"] for _, _, rows in loaded for r in rows if r["model"] == model)
        cells = [model, f"{params:,}"] + [_accuracy(rows, model) for _, _, rows in loaded]
        lines.append("| " + " | ".join(cells) + " |")
    machines = "; ".join(
        f"{label}: {rows[0]['device']}, torch {rows[0]['torch']} (`{name}`)"
        for (label, _, rows), (_, name) in zip(loaded, SUMMARY_TABLES, strict=True)
    )
    return "\n".join(lines) + f"\n\nMachines: {machines}.\n"


def block_names(text: str) -> list[str]:
    """The marker names in ``text``, in order, without repeats."""
    return list(dict.fromkeys(_MARKER.findall(text)))


def fill_blocks(text: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """Replace the body of every ``bench:NAME`` block whose name is in ``blocks``; return the text and names."""
    done = []
    for name in block_names(text):
        if name not in blocks:
            continue
        pattern = re.compile(rf"(<!-- bench:{re.escape(name)} -->\n).*?(<!-- /bench:{re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"the block bench:{name} has no closing <!-- /bench:{name} --> marker")
        text = pattern.sub(lambda m, body=blocks[name]: m.group(1) + body + m.group(2), text)
        done.append(name)
    return text, done


def update_page(page: Path, results_dir: Path) -> list[str]:
    """Regenerate every ``bench:`` block of ``page`` from ``results_dir``; return the names filled."""
    page = Path(page)
    text = page.read_text()
    blocks = {
        name: summary_block(results_dir) if name == SUMMARY else table_block(results_dir, name)
        for name in block_names(text)
    }
    text, done = fill_blocks(text, blocks)
    page.write_text(text)
    return done


def _block_span(text: str, markers: tuple[str, str], page: Path) -> tuple[int, int]:
    """Where the body between ``markers`` starts (after the opening marker's line) and ends in ``text``."""
    start, end = text.find(markers[0]), text.find(markers[1])
    if start < 0 or end < start:
        raise ValueError(f"{page} needs the markers {markers[0]} and then {markers[1]} around the block to write")
    return start + len(markers[0]) + 1, end


def read_block(page: Path, markers: tuple[str, str]) -> str:
    """The body between the comments ``markers`` in ``page``, as :func:`write_block` wrote it.

    Raises:
        ValueError: ``page`` lacks either marker, or has the closing one first.
    """
    text = Path(page).read_text()
    start, end = _block_span(text, markers, page)
    return text[start:end]


def write_block(page: Path, markers: tuple[str, str], body: str) -> None:
    """Replace what lies between the comments ``markers`` (opening, closing) in ``page`` with ``body``.

    The page is rewritten atomically. For the blocks of measurement scripts that keep their own result file
    (``<!-- speed-ratio -->``, ``<!-- step-profile -->``, ...), as :func:`fill_blocks` is for harness tables.

    Raises:
        ValueError: ``page`` lacks either marker, or has the closing one first.
    """
    text = Path(page).read_text()
    start, end = _block_span(text, markers, page)
    atomic_write_text(Path(page), text[:start] + body.strip("\n") + "\n" + text[end:])

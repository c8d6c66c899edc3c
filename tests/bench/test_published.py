"""Every benchmark number in the README and the docs is the measured rows' number (CPU and GPU tables alike),
the tables are regenerated from those rows, and no invalid "% of peak" is published."""
from __future__ import annotations

import functools
import json
import re
import statistics
from pathlib import Path

import pytest

import mmzoo
from mmzoo.bench import load_rows
from mmzoo.bench.docs_tables import SUMMARY, SUMMARY_TABLES, block_names, published_tables
from mmzoo.bench.report import INVALID, markdown_table, speed_ratio, summarize
from mmzoo.bench.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
BENCH_PAGE = ROOT / "docs" / "benchmarks.md"
STUDIES_PAGE = ROOT / "docs" / "studies.md"  # the tables a study reads (bf16 parity)
README = ROOT / "README.md"
PUBLISHED = published_tables(RESULTS)


def _block(page: Path, name: str) -> str:
    text = page.read_text()
    start, end = f"<!-- bench:{name} -->\n", f"<!-- /bench:{name} -->"
    assert start in text, f"{page.name} has no block for {name}; add the markers and run benchmarks/update_docs.py"
    return text.split(start, 1)[1].split(end, 1)[0]


def _page_of(name: str) -> Path:
    """The docs page that shows the table called ``name``."""
    pages = [page for page in (BENCH_PAGE, STUDIES_PAGE) if f"<!-- bench:{name} -->" in page.read_text()]
    assert pages, f"no page shows {name}: add its <!-- bench:{name} --> block and run benchmarks/update_docs.py"
    return pages[0]


def _table_lines(block: str) -> tuple[list[str], list[list[str]]]:
    """The header and body cells of the first Markdown table in ``block``."""
    lines = [line for line in block.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]


def _mean_sd(values: list[float], digits: int) -> str:
    """Mean (and sample standard deviation over 2+ seeds), computed here from the raw rows."""
    text = f"{statistics.fmean(values):,.{digits}f}"
    return text + (f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else "")


#: Table column -> (row key, decimals) for the columns that are a mean over seeds.
MEAN_COLUMNS = {
    "val loss": ("val_loss", 3), "val acc": ("val_accuracy", 3), "pos. error": ("val_position_error", 3),
}
PLAIN_COLUMNS = {
    "train s": ("train_time_s", 1), "s / epoch": ("epoch_time_s", 2), "train samples/s": ("train_samples_per_s", 0),
    "infer samples/s": ("inference_samples_per_s", 0), "latency ms": ("latency_ms", 2),
    "train GFLOP/sample": ("train_gflops_per_sample", 3), "peak RSS MiB (CPU)": ("peak_rss_mib", 0),
}


def _expected_cell(column: str, members: list[dict]) -> str | None:
    if column == "params":
        return f"{members[0]['params']:,}"
    if column == "seeds":
        return str(len(members))
    if column in MEAN_COLUMNS or column in PLAIN_COLUMNS:
        key, digits = {**MEAN_COLUMNS, **PLAIN_COLUMNS}[column]
        values = [m[key] for m in members]
        return _mean_sd(values, digits) if column in MEAN_COLUMNS else f"{statistics.fmean(values):,.{digits}f}"
    if column == "% of peak":
        fractions = [m["fraction_of_peak"] for m in members]
        return INVALID if max(fractions) > 1.0 else f"{100 * statistics.fmean(fractions):.0f}%"
    if column == "GPU MiB alloc / reserved":
        alloc = statistics.fmean(m["cuda_peak_allocated_mib"] for m in members)
        reserved = statistics.fmean(m["cuda_peak_reserved_mib"] for m in members)
        return f"{alloc:,.0f} / {reserved:,.0f}"
    return None


@pytest.mark.parametrize("table", PUBLISHED)
def test_every_number_in_the_docs_table_is_the_measured_rows(table):
    rows = load_rows(RESULTS / table)
    header, body = _table_lines(_block(_page_of(table), table))
    assert len(body) == len({(r["model"], r["loop"]) for r in rows}), "one line per model and loop"
    checked = 0
    for cells in body:
        line = dict(zip(header, cells, strict=True))
        members = [r for r in rows if r["model"] == line["model"] and r["loop"] == line["loop"]]
        assert members, f"{table}: no measured rows for {line['model']} {line['loop']}"
        for column, shown in line.items():
            expected = _expected_cell(column, members)
            if expected is not None:
                assert shown == expected, f"{table} {line['model']} {line['loop']} {column}: shows {shown}, rows give {expected}"
                checked += 1
    assert checked >= 10 * len(body)


@pytest.mark.parametrize("table", PUBLISHED)
def test_the_speed_ratio_shown_is_seed_matched(table):
    rows = load_rows(RESULTS / table)
    block = _block(_page_of(table), table)
    shown = re.findall(r"on (\w+), seed (\d+) for both: ([\d.]+) s vs ([\d.]+) s .*?\*\*([\d.]+)x faster\*\*", block)
    references = [r for r in rows if r["loop"] == "reference"]
    assert len(shown) == len(references)
    for model, seed, engine_s, reference_s, ratio in shown:
        (engine,) = [r for r in rows if (r["model"], r["seed"], r["loop"]) == (model, int(seed), "engine")]
        (reference,) = [r for r in references if (r["model"], r["seed"]) == (model, int(seed))]
        assert engine_s == f"{engine['train_time_s']:.1f}" and reference_s == f"{reference['train_time_s']:.1f}"
        assert ratio == f"{reference['train_time_s'] / engine['train_time_s']:.2f}"


def test_no_published_page_shows_a_peak_fraction_above_100_percent():
    for page in (README, *sorted((ROOT / "docs").glob("*.md"))):
        for name in block_names(page.read_text()):
            header, body = _table_lines(_block(page, name))
            if "% of peak" not in header:
                continue
            for cells in body:
                value = cells[header.index("% of peak")]
                assert value in (INVALID, "-") or int(value.rstrip("%")) <= 100, f"{page.name} {name}: {cells}"


def test_the_readme_summary_is_the_measured_rows():
    header, body = _table_lines(_block(README, SUMMARY))
    loaded = [(label, load_rows(RESULTS / name)) for label, name in SUMMARY_TABLES]
    assert [h.split(",")[1].split("(")[0].strip() for h in header[2:]] == [label for label, _ in loaded]
    assert {cells[0] for cells in body} == {r["model"] for _, rows in loaded for r in rows}
    for cells in body:
        model = cells[0]
        assert cells[1] == f"{mmzoo.model_info(model).num_params:,}"
        for (_, rows), shown in zip(loaded, cells[2:], strict=True):
            values = [r["val_accuracy"] for r in rows if r["model"] == model and r["loop"] == "engine"]
            assert shown == _mean_sd(values, 3), f"README summary {model}: shows {shown}"
    for (label, rows), (_, name) in zip(loaded, SUMMARY_TABLES, strict=True):
        assert f"{label}: {rows[0]['device']}, torch {rows[0]['torch']} (`{name}`)" in README.read_text()


def test_docs_show_every_published_table_and_nothing_else():
    shown = block_names(BENCH_PAGE.read_text()) + block_names(STUDIES_PAGE.read_text())
    assert sorted(shown) == sorted(PUBLISHED), "each published table is shown once, on one page"
    assert block_names(README.read_text()) == [SUMMARY], "the README shows the summary only; tables go in docs/"


def test_update_docs_script_rewrites_the_pages_from_the_rows(tmp_path, repo_script):
    """Emptied blocks come back exactly as committed: the pages are what the harness's files give today."""
    pages = []
    for page in (BENCH_PAGE, STUDIES_PAGE, README):
        text = re.sub(r"(<!-- bench:([\w./-]+) -->\n).*?(<!-- /bench:\2 -->)", r"\1\3", page.read_text(), flags=re.S)
        (tmp_path / page.name).write_text(text)
        pages.append(tmp_path / page.name)
    filled = repo_script("benchmarks/update_docs.py").update_pages(tuple(pages), RESULTS)
    assert filled[README.name] == [SUMMARY]
    assert set(filled[BENCH_PAGE.name]) | set(filled[STUDIES_PAGE.name]) == set(PUBLISHED)
    for page in (BENCH_PAGE, STUDIES_PAGE, README):
        assert (tmp_path / page.name).read_text() == page.read_text(), (
            f"{page.name} is stale: run python benchmarks/update_docs.py"
        )


@functools.lru_cache(maxsize=None)
def _params(model: str, outputs: int) -> int:
    """The parameter count of ``model`` with a head of ``outputs`` (the zoo tables train every network on both
    tasks, so a course network on cube vs sphere has a 1-output head)."""
    info = mmzoo.model_info(model)
    if info.num_outputs == outputs:
        return info.num_params
    return sum(p.numel() for p in mmzoo.create(model, num_outputs=outputs).parameters())


@pytest.mark.parametrize("table", PUBLISHED)
def test_published_rows_are_true_to_the_registry(table):
    rows = load_rows(RESULTS / table)
    assert rows, f"{table} has a results.json but no rows"
    results = json.loads((RESULTS / table / "results.json").read_text())
    assert len(results["rows"]) == len(rows)
    spec = TABLES[table.rsplit("/", 1)[-1]]  # gpu-h100/assignment is the assignment table on another machine
    for row in rows:
        assert row["model"] in spec.models
        assert row["params"] == _params(row["model"], 1 if row["recipe_fields"]["task"] == "classification" else 9)
        assert row["variant"] == spec.variant
        assert len(row["history"]) == row["recipe_fields"]["epochs"]
        assert row["device"] and row["torch"], "every row names its machine and torch version"


# ------------------------------------------------------------------------------------- the report writer


def _row(seed: int, loop: str = "engine", fraction: float = 0.5, time_s: float = 10.0) -> dict:
    return {"model": "m", "variant": "", "loop": loop, "seed": seed, "params": 10, "val_loss": 0.1,
            "val_accuracy": 0.9, "train_time_s": time_s, "train_samples_per_s": 100 / time_s,
            "fraction_of_peak": fraction}


def test_a_peak_fraction_above_one_marks_the_row_invalid_and_is_not_published():
    valid, invalid = summarize([_row(1, fraction=0.6)]), summarize([_row(1, fraction=0.4), _row(2, fraction=1.06)])
    assert valid[0]["fraction_of_peak"] == pytest.approx(0.6) and not valid[0].get("fraction_of_peak_invalid")
    assert invalid[0]["fraction_of_peak"] is None and invalid[0]["fraction_of_peak_invalid"]
    text = markdown_table(invalid, "classification")
    assert f"| {INVALID} |" in text and "106%" not in text and "73%" not in text  # neither the value nor a mean
    assert "is not published" in text
    assert "| 60% |" in markdown_table(valid, "classification")


def test_every_published_row_above_its_ceiling_is_marked_invalid():
    for name in published_tables(RESULTS):
        over = {(r["model"], r["loop"]) for r in load_rows(RESULTS / name) if (r.get("fraction_of_peak") or 0.0) > 1.0}
        header, body = _table_lines(_block(_page_of(name), name))
        for cells in body:
            line = dict(zip(header, cells, strict=True))
            if (line["model"], line["loop"]) in over:
                assert line["% of peak"] == INVALID, (name, line["model"])


def test_the_speed_ratio_pairs_the_same_seed():
    rows = [_row(51, time_s=40.0), _row(52, time_s=20.0), _row(53, time_s=30.0), _row(51, "reference", time_s=60.0)]
    (ratio,) = speed_ratio(rows)
    assert ratio["seed"] == 51 and ratio["speedup"] == pytest.approx(60.0 / 40.0)  # not 60 / mean(40, 20, 30)
    assert speed_ratio([_row(52), _row(51, "reference")]) == []  # no engine row of that seed: no ratio


ZOO_READINGS = {"zoo-shapes": ("### Cube vs sphere\n", "val_accuracy", "accuracy"),
                "zoo-cubes": ("### Positions of three cubes\n", "val_position_error", "position_error")}


@pytest.mark.parametrize("table", sorted(ZOO_READINGS))
def test_the_zoo_readings_quote_only_finished_rows_of_the_tables_recipe(table):
    """Every "`model` (mean ± sd)" in the text under a zoo table is that model's mean and spread over the three
    seeds of the table's own recipe (rows of another recipe in the folder never count), and the text names the
    input-blind score of the same recipe's frames."""
    from mmzoo.bench.harness import rows_of, table_jobs

    heading, key, blind_key = ZOO_READINGS[table]
    section = BENCH_PAGE.read_text().split(heading, 1)[1].split("\n#", 1)[0]
    reading = section.split(f"<!-- /bench:{table} -->", 1)[1]
    rows = rows_of(RESULTS / table, table_jobs(TABLES[table]))
    for model, mean, sd in re.findall(r"`(\w+)` \((\d+\.\d+) ± (\d+\.\d+)\)", reading):
        values = [r[key] for r in rows if r["model"] == model and r["loop"] == "engine"]
        assert len(values) == 3, f"{model}: {len(values)} seeds of {table}'s recipe; a reading quotes finished rows"
        assert (mean, sd) == (f"{statistics.fmean(values):.3f}", f"{statistics.stdev(values):.3f}"), model
    baselines = json.loads((RESULTS / "baselines" / "results.json").read_text())[table]
    overrides = dict(o.split("=") for o in TABLES[table].overrides)
    assert baselines["train_frames"] == int(overrides["train_frames"]), "baselines.py ran on another recipe"
    assert f"input-blind {baselines[blind_key]:.3f}" in reading, "the reading names the input-blind score"


def test_the_zoo_heads_differ_by_the_parameters_the_page_says():
    """A 9-output head against a 1-output head, read from the 100-step rows kept in zoo-100-steps/."""
    kept = RESULTS / "zoo-100-steps"
    shapes, cubes = load_rows(kept / "zoo-shapes"), load_rows(kept / "zoo-cubes")
    extra = {r["params"] - next(s["params"] for s in shapes if s["model"] == r["model"]) for r in cubes}
    assert extra == {808, 728} and "holds 808 parameters more than its 1-output head (728" in BENCH_PAGE.read_text()


def test_write_block_replaces_only_the_marked_block_and_names_missing_markers(tmp_path):
    from mmzoo.bench.docs_tables import read_block, write_block

    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- x -->\nold table\n<!-- /x -->\nafter <!-- x --> prose\n")
    write_block(page, ("<!-- x -->", "<!-- /x -->"), "\nnew table\n")
    assert page.read_text() == "intro\n<!-- x -->\nnew table\n<!-- /x -->\nafter <!-- x --> prose\n"
    assert read_block(page, ("<!-- x -->", "<!-- /x -->")) == "new table\n"
    with pytest.raises(ValueError, match="<!-- y -->"):
        write_block(page, ("<!-- y -->", "<!-- /y -->"), "body")
    assert "new table" in page.read_text()

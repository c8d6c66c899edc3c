"""Weights of the zoo tables: each architecture's best seed on each task, exported from the harness's own run.

The zoo tables (``zoo-shapes``, ``zoo-cubes``) train every architecture with three seeds and keep each run's
checkpoints (``runs/<table>/<model>/seed<seed>-<key>/``). Once all seeds of an architecture have finished, this
script picks the seed with the best validation figure, exports that finished run with ``mmzoo.release`` (no new
training: ``export_weights`` reuses a finished run), and records the seeds' spread in the weight's training record,
which its model card states. Architectures whose seeds have not all finished are listed as not trained yet.

    python benchmarks/zoo_weights.py                      # export every finished architecture into weights/
    python benchmarks/zoo_weights.py --out /tmp/w --results-dir benchmarks/results/gpu-h200 --runs-dir runs

Writes ``benchmarks/results/zoo-weights/results.{json,md}``: per table and architecture the status (exported, or
not trained yet: n of 3 seeds), the chosen seed, the spread and the file size.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from mmzoo.bench import get_table
from mmzoo.bench.harness import rows_of, table_jobs
from mmzoo.bench.report import write_result
from mmzoo.bench.verdict import metric_of
from mmzoo.pretrained.index import read_index, write_index
from mmzoo.release.export import default_index_path, export_weights
from mmzoo.release.weight_files import write_weight_files

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: The pretrained tag of each zoo table's weights (``<arch>.<tag>``).
TAGS = {"zoo-shapes": "shapes_zoo", "zoo-cubes": "cubes_zoo"}


def finished_models(table: str, results_dir: Path, runs_dir: Path, overrides: tuple[str, ...] = (),
                    models: tuple[str, ...] | None = None, seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Per architecture of ``table``: its finished engine rows and their jobs (with run folders), and whether
    every seed has finished."""
    bench = get_table(table)
    out: dict[str, Any] = {}
    for job in table_jobs(bench, overrides, models, seeds):
        if job["loop"] != "engine":
            continue
        entry = out.setdefault(job["model"], {"jobs": [], "rows": []})
        # where the harness keeps this row's checkpoints (mmzoo.bench.harness names them by the row's identity)
        job["run_dir"] = str((runs_dir / table / job["model"] / f"seed{job['seed']}-{job['key']}").resolve())
        entry["jobs"].append(job)
        entry["rows"] += rows_of(results_dir / table, [job])
    for entry in out.values():
        entry["complete"] = len(entry["rows"]) == len(entry["jobs"])
    return out


def seed_spread(table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The seeds' figures, their mean and standard deviation, and the best seed (the one exported)."""
    key, higher = metric_of(rows[0]["recipe_fields"]["task"])
    values = {row["seed"]: row[key] for row in rows}
    best = (max if higher else min)(values, key=values.get)
    return {"table": table, "metric": key.removeprefix("val_"), "values": values, "mean": statistics.fmean(values.values()),
            "sd": statistics.stdev(values.values()) if len(values) > 1 else 0.0, "selected_seed": best}


def _add_spread(index_path: Path, name: str, spread: dict[str, Any]) -> None:
    entries = read_index(index_path)
    entries[name]["training"]["seed_spread"] = spread
    write_index(entries, index_path)


def export_table(table: str, results_dir: Path, runs_dir: Path, out: Path, overrides: tuple[str, ...] = (),
                 models: tuple[str, ...] | None = None, seeds: tuple[int, ...] | None = None,
                 index: Path | None = None) -> list[dict[str, Any]]:
    """Export every architecture of ``table`` whose seeds have all finished; one status line per architecture."""
    bench = get_table(table)
    index_path = index or default_index_path(out)
    statuses = []
    for model, entry in finished_models(table, results_dir, runs_dir, overrides, models, seeds).items():
        status = {"table": table, "model": model, "seeds_finished": len(entry["rows"]),
                  "seeds": len(entry["jobs"])}
        if not entry["complete"]:
            statuses.append({**status, "status": "not trained yet"})
            continue
        spread = seed_spread(table, entry["rows"])
        job = next(j for j in entry["jobs"] if j["seed"] == spread["selected_seed"])
        result = export_weights(model, bench.recipe, TAGS[table], out, run_dir=job["run_dir"],
                                overrides=[*bench.overrides, *overrides, f"seed={spread['selected_seed']}"],
                                model_kwargs=dict(bench.model_kwargs), index=index_path)
        _add_spread(index_path, result.weight.name, spread)
        statuses.append({**status, "status": "exported", "name": result.weight.name, "reused_run": result.reused_run,
                         "num_bytes": result.weight.num_bytes, "spread": spread, "metrics": result.weight.metrics})
    write_weight_files(out, index_path)  # the cards now state each weight's seed spread
    return statuses


def markdown(statuses: list[dict[str, Any]]) -> str:
    lines = ["| table | architecture | status | seeds | best seed | figure over seeds | size MB |",
             "|---|---|---|---|---|---|---|"]
    for s in statuses:
        spread = s.get("spread")
        figure = f"{spread['metric']} {spread['mean']:.4f} ± {spread['sd']:.4f}" if spread else "-"
        size = f"{s['num_bytes'] / 1e6:.2f}" if "num_bytes" in s else "-"
        lines.append(f"| {s['table']} | {s['model']} | {s['status']} | {s['seeds_finished']}/{s['seeds']} | "
                     f"{spread['selected_seed'] if spread else '-'} | {figure} | {size} |")
    return "# Zoo weights: the best seed of every finished architecture\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=sorted(TAGS), choices=sorted(TAGS))
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the tables' rows are")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs", help="the tables' run folders")
    parser.add_argument("--out", type=Path, default=ROOT / "weights", help="folder receiving <arch>.<tag>/")
    parser.add_argument("--index", type=Path, help="pretrained index (default: as mmzoo export)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="the recipe changes the tables ran with (as run_tables.py --set)")
    parser.add_argument("--models", nargs="+", help="only these architectures")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these seeds (default: the tables' three)")
    parser.add_argument("--report", type=Path, default=RESULTS / "zoo-weights", help="status folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    statuses = [s for table in args.tables for s in export_table(
        table, args.results_dir, args.runs_dir, args.out, tuple(args.overrides),
        tuple(args.models) if args.models else None, tuple(args.seeds) if args.seeds else None, args.index)]
    args.report.mkdir(parents=True, exist_ok=True)
    print(write_result(args.report, {"weights": statuses}, markdown(statuses)))
    return statuses


if __name__ == "__main__":
    main()

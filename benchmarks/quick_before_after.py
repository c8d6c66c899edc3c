"""``mmzoo bench --quick`` timed as a user runs it, for two or more source trees, interleaved.

Each named tree (a checkout of mmzoo, put first on ``PYTHONPATH``) runs ``python -m mmzoo bench --quick`` in a fresh
empty folder, in turn (A B A B ...), so that the load of a shared machine hits every tree alike. Recorded per run:
the whole command's wall and CPU seconds, the recipe it ran, its rows' training times and the engine / notebook-loop
ratio the table reports (None where the table has no notebook-loop row). Writes one JSON with every run and the
medians per tree; resumable (finished runs in the output are kept).

    git worktree add /tmp/before <commit>; git worktree add /tmp/after <commit>
    python benchmarks/quick_before_after.py --tree before=/tmp/before --tree after=/tmp/after --runs 3 \\
        --out benchmarks/results/quick-before-after/results.json

``--tree NAME=PATH:ARGS`` adds bench arguments for that tree (``before-fp32=/tmp/before:--amp fp32``).
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(root: str, extra: list[str]) -> dict[str, Any]:
    """One ``mmzoo bench --quick`` in a fresh folder with ``root`` first on the import path."""
    with tempfile.TemporaryDirectory(prefix="quick-") as folder:
        command = [sys.executable, "-m", "mmzoo", "bench", "--quick", "--quiet", "--out", folder, *extra]
        cpu, start = _children_cpu(), time.perf_counter()
        done = subprocess.run(command, cwd=folder, env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        table = json.loads((Path(folder) / "quick" / "results.json").read_text())
    rows = table["rows"]
    ratios = table.get("speed_ratio") or []
    return {
        "wall_s": wall, "cpu_s": cpu,
        "recipe": rows[0]["recipe_fields"], "precision": sorted({row["precision"] for row in rows}),
        "rows": [{"model": r["model"], "loop": r["loop"], "train_time_s": r["train_time_s"],
                  "val_accuracy": r["val_accuracy"]} for r in rows],
        "engine_vs_notebook": ratios[0]["speedup"] if ratios else None,  # notebook-loop time / engine time
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [run["engine_vs_notebook"] for run in runs if run["engine_vs_notebook"] is not None]
    return {
        "runs": len(runs),
        "median_wall_s": statistics.median(run["wall_s"] for run in runs),
        "median_cpu_s": statistics.median(run["cpu_s"] for run in runs),
        "median_engine_vs_notebook": statistics.median(ratios) if ratios else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH[:bench args]")
    parser.add_argument("--runs", type=int, default=3, help="runs per tree (default 3)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    trees = {}
    for spec in args.tree:
        name, _, rest = spec.partition("=")
        root, _, extra = rest.partition(":")
        trees[name] = (root, extra.split())
    out = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": {}}
    out.update(machine=f"{_cpu_name()} ({len(__import__('os').sched_getaffinity(0))} cores, shared)",
               python=platform.python_version(), command="python -m mmzoo bench --quick --quiet --out FRESH_FOLDER")
    for round_ in range(args.runs):
        for name, (root, extra) in trees.items():
            runs = out["runs"].setdefault(name, [])
            if len(runs) > round_:
                continue
            runs.append({"round": round_, "args": extra, **run_once(root, extra)})
            out["summary"] = {key: _summary(value) for key, value in out["runs"].items()}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=1) + "\n")
            print(name, round_, f"{runs[-1]['wall_s']:.1f} s", runs[-1]["engine_vs_notebook"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

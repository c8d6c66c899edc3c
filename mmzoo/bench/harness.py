"""The benchmark harness: every row of a table in its own process, results written as each row finishes.

    >>> from mmzoo.bench import run_table          # doctest: +SKIP
    >>> run_table("quick", out_dir="bench-results")  # doctest: +SKIP

Layout under ``out_dir/<table>/``: ``rows/<row>.json`` (one file per finished row: what a rerun skips),
``results.{json,csv,md}`` and ``curves.png`` (regenerated from the row files after every row, under a file lock,
atomically), and engine checkpoints under ``runs_dir/<table>/<model>/seed<seed>/`` (an interrupted row resumes
from its last finished epoch). Rows can be spread over processes: each of ``world`` shards (e.g. the ranks of a
torchrun job, read from RANK / WORLD_SIZE) takes every ``world``-th row, and over GPUs with ``devices``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mmzoo.bench.report import write_reports
from mmzoo.bench.tables import BenchTable, get_table
from mmzoo.train.distributed import rank_and_world, single_process_env
from mmzoo.train.recipes import get_recipe

__all__ = ["run_table", "table_jobs", "load_rows", "shard_from_env"]


def shard_from_env() -> tuple[int, int]:
    """``(rank, world_size)`` of a torchrun (or similar) job from the environment; ``(0, 1)`` outside one."""
    return rank_and_world()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text) or "default"


def table_jobs(
    table: BenchTable,
    overrides: tuple[str, ...] = (),
    models: tuple[str, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
) -> list[dict[str, Any]]:
    """The jobs (one per row) of ``table``, with the recipe resolved and optional filters applied."""
    recipe = get_recipe(table.recipe).override([*table.overrides, *overrides])
    jobs = []
    for job in table.jobs():
        if models and job["model"] not in models:
            continue
        if seeds and job["seed"] not in seeds:
            continue
        row_recipe = recipe.replace(seed=job["seed"])
        name = f"{job['model']}--{_slug(table.variant)}--seed{job['seed']}--{job['loop']}"
        jobs.append({
            **job, "table": table.name, "variant": table.variant, "model_kwargs": dict(table.model_kwargs),
            "recipe": row_recipe.to_dict(), "task": row_recipe.task, "name": name,
        })
    return jobs


def load_rows(table_dir: Path) -> list[dict[str, Any]]:
    """Every finished row of a table folder, in the order they were measured."""
    rows = [json.loads(path.read_text()) for path in sorted((Path(table_dir) / "rows").glob("*.json"))]
    return sorted(rows, key=lambda row: row.get("finished_at", 0))


def _is_done(path: Path, job: dict[str, Any]) -> bool:
    if not path.is_file():
        return False
    try:
        row = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return row.get("recipe_fields") == job["recipe"]  # another recipe under the same name is not this row


@contextmanager
def _locked(table_dir: Path) -> Iterator[None]:
    table_dir.mkdir(parents=True, exist_ok=True)
    with open(table_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # shards finishing together must not interleave their reports
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _report(table: BenchTable, table_dir: Path, task: str) -> dict[str, Path]:
    with _locked(table_dir):
        meta = {"name": table.name, "title": table.title, "caption": table.caption, "task": task}
        return write_reports(table_dir, meta, load_rows(table_dir))


def _launch(job: dict[str, Any], row_path: Path, device: str | None, options: dict[str, Any]) -> subprocess.Popen:
    # A sweep's rows are independent runs: a worker must not join the torchrun job its parent belongs to.
    env = single_process_env()
    opts = {**options, "distributed": False}
    if device is not None and device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]  # each worker sees only its GPU, as cuda:0
        opts["device"] = "cuda"
    fd, job_path = tempfile.mkstemp(prefix="mmzoo-job-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump({**job, "options": opts}, handle)
    process = subprocess.Popen([sys.executable, "-m", "mmzoo.bench.worker", job_path, str(row_path)], env=env)
    process.job_path = job_path  # removed when the process is reaped
    return process


def run_table(
    table: str | BenchTable,
    out_dir: str | Path = "bench-results",
    runs_dir: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    models: tuple[str, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    options: dict[str, Any] | None = None,
    devices: tuple[str, ...] = (),
    shard: tuple[int, int] | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Measure every row of ``table`` that is not measured yet and write the table's reports.

    Args:
        table: a table name (``mmzoo.bench.TABLES``) or a :class:`BenchTable`.
        out_dir: results go to ``out_dir/<table>/``.
        runs_dir: engine checkpoints go to ``runs_dir/<table>/<model>/seed<seed>`` (default ``out_dir/runs``).
        overrides: ``key=value`` recipe changes (changing the recipe makes new rows; old ones are replaced).
        models, seeds: run only these.
        options: :class:`~mmzoo.train.EngineOptions` fields for the workers (``device``, ``amp``, ``compile``...).
        devices: run rows concurrently, one per device (e.g. ``("cuda:0", "cuda:1")``); default one at a time.
        shard: ``(rank, world)``: run only rows ``rank, rank + world, ...`` (default: from RANK / WORLD_SIZE).
        data_dir: train on a course / assessment folder instead of the generated frames.

    Returns the paths of the written reports. Raises RuntimeError naming the rows that failed (after writing
    the reports of those that did not).
    """
    from tqdm.auto import tqdm

    table = table if isinstance(table, BenchTable) else get_table(table)
    rank, world = shard if shard is not None else shard_from_env()
    table_dir = Path(out_dir) / table.name
    runs_root = Path(runs_dir) if runs_dir is not None else Path(out_dir) / "runs"
    jobs = table_jobs(table, tuple(overrides), models, seeds)
    if not jobs:
        raise ValueError(f"no rows of table {table.name!r} match models={models} seeds={seeds}")
    task = jobs[0]["task"]
    mine = [job for index, job in enumerate(jobs) if index % world == rank]
    pending = []
    for job in mine:
        row_path = table_dir / "rows" / f"{job['name']}.json"
        if job["loop"] == "engine":
            job["run_dir"] = str((runs_root / table.name / job["model"] / f"seed{job['seed']}").resolve())
        if data_dir is not None:
            job["data_dir"] = str(Path(data_dir).resolve())
        if not _is_done(row_path, job):
            pending.append((job, row_path))
    (table_dir / "rows").mkdir(parents=True, exist_ok=True)
    slots = list(devices) or [None]
    running: list[tuple[subprocess.Popen, dict[str, Any], str | None]] = []
    failed: list[str] = []
    bar = tqdm(total=len(mine), initial=len(mine) - len(pending), desc=f"bench {table.name}", unit="row", disable=not progress)
    while pending or running:
        while pending and len(running) < len(slots):
            job, row_path = pending.pop(0)
            device = next(s for s in slots if s not in {d for _, _, d in running}) if devices else None
            bar.set_postfix_str(f"{job['model']} seed {job['seed']} {job['loop']}")
            running.append((_launch(job, row_path, device, options or {}), {**job, "row_path": row_path}, device))
        time.sleep(0.2)
        for entry in list(running):
            process, job, _ = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            Path(process.job_path).unlink(missing_ok=True)
            if process.returncode != 0:
                failed.append(f"{job['name']} (exit {process.returncode})")
                continue
            _stamp(job["row_path"])
            bar.update(1)
            _report(table, table_dir, task)
    bar.close()
    paths = _report(table, table_dir, task)
    if failed:
        raise RuntimeError(f"{len(failed)} benchmark row(s) failed: {', '.join(failed)}; their errors are printed above")
    return paths


def _stamp(row_path: Path) -> None:
    """Record when a row finished (orders the table as measured)."""
    from mmzoo.utils.files import atomic_write_json

    row = json.loads(row_path.read_text())
    row["finished_at"] = time.time()
    atomic_write_json(row_path, row)

"""The benchmark harness: every row of a table in its own process, results written as each row finishes.

    >>> from mmzoo.bench import run_table          # doctest: +SKIP
    >>> run_table("quick", out_dir="bench-results")  # doctest: +SKIP

A row's identity is everything that changes its result (:func:`row_identity`: recipe, model arguments, data
source, precision, compilation, device kind); its row file and run folder are named by it, so a rerun with other
settings makes new rows instead of reusing, or failing on, the old ones. Layout under ``out_dir/<table>/``:
``rows/<row>.json`` (one file per finished row: what a rerun of the same identity skips), ``results.{json,csv,md}``
and ``curves.png`` (regenerated after every row from the rows of the current identity, under a file lock,
atomically), and engine checkpoints under ``runs_dir/<table>/<model>/seed<seed>-<key>/`` (an interrupted row
resumes from its last finished epoch). Rows can be spread over processes: each of ``world`` shards (e.g. the ranks of a
torchrun job, read from RANK / WORLD_SIZE) takes every ``world``-th row, and over GPUs with ``devices``. With
``seeds_at_once`` each model's seeds train together in one worker (:func:`seed_groups`), and shards take whole groups.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mmzoo.bench.report import write_reports
from mmzoo.bench.tables import BenchTable, get_table
from mmzoo.train.distributed import rank_and_world, single_process_env
from mmzoo.train.precision import check_amp
from mmzoo.train.engine import EngineOptions
from mmzoo.train.experimental import ExperimentalOptions
from mmzoo.train.many import check_fit_many_options
from mmzoo.train.recipes import Recipe, get_recipe
from mmzoo.train.resources import resolve_device
from mmzoo.train.tracking import Tracking, tracking_from
from mmzoo.utils.files import atomic_write_json

__all__ = ["run_table", "table_jobs", "table_options", "load_rows", "rows_of",
           "row_identity", "identity_key", "shard_from_env", "seed_groups", "check_seeds_at_once"]


def shard_from_env() -> tuple[int, int]:
    """``(rank, world_size)`` of a torchrun (or similar) job from the environment; ``(0, 1)`` outside one."""
    return rank_and_world()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text) or "default"


def _variant(model_kwargs: dict[str, Any]) -> str:
    """Constructor arguments as a short label (as :attr:`BenchTable.variant`)."""
    return ",".join(f"{key}={value}" for key, value in sorted(model_kwargs.items()))


def row_identity(job: dict[str, Any], options: dict[str, Any] | None = None,
                 data_dir: str | Path | None = None) -> dict[str, Any]:
    """Everything that changes a row's result: model, loop, recipe (seed included), model arguments, data source,
    precision, compilation and the kind of device. A finished row is reused, and a run folder resumed, only by a
    job of the same identity. The precision is the engine's ``amp`` (``"bf16"``, or None for float32: the
    notebook-style loop always trains in float32)."""
    options = options or {}
    device = resolve_device(options.get("device", "auto"))
    return {
        "model": job["model"], "loop": job["loop"], "recipe": job["recipe"], "model_kwargs": job["model_kwargs"],
        "data": None if data_dir is None else str(Path(data_dir).expanduser().resolve()),
        "amp": check_amp(options.get("amp")) if job["loop"] == "engine" else None,
        "compile": options.get("compile", False),
        "device": device.type,
    }


def table_options(table: BenchTable, options: dict[str, Any] | None) -> dict[str, Any]:
    """The workers' engine options: ``options`` with the table's precision where they name none."""
    return {"amp": table.amp, **(options or {})}


def identity_key(identity: dict[str, Any]) -> str:
    """A short stable digest of a row identity (part of its row file's and run folder's names)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]


def table_jobs(
    table: BenchTable,
    overrides: tuple[str, ...] = (),
    models: tuple[str, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    *,
    model_kwargs: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    seeds_at_once: bool = False,
) -> list[dict[str, Any]]:
    """The jobs (one per row) of ``table``, with the recipe resolved, ``model_kwargs`` added to the table's, and
    optional filters applied; each job carries its :func:`row_identity` and a name that includes its key.

    With ``seeds_at_once`` the engine rows are to be trained by :func:`~mmzoo.train.many.fit_many`, each model's
    seeds together: their identities say so (``"seeds_at_once": True``), so they are new rows, not the rows trained
    one at a time (the same maths within float rounding, but each row's time is a share of its group's)."""
    options = table_options(table, options)
    recipe = get_recipe(table.recipe).override([*table.overrides, *overrides])
    kwargs = {**table.model_kwargs, **(model_kwargs or {})}
    jobs = []
    for job in table.jobs():
        if (models and job["model"] not in models) or (seeds and job["seed"] not in seeds):
            continue
        row_recipe = recipe.replace(seed=job["seed"])
        job = {**job, "table": table.name, "variant": _variant(kwargs), "model_kwargs": dict(kwargs),
               "recipe": row_recipe.to_dict(), "task": row_recipe.task, "inference": table.inference}
        if data_dir is not None:
            job["data_dir"] = str(Path(data_dir).expanduser().resolve())
        job["identity"] = row_identity(job, options, data_dir)
        if seeds_at_once and job["loop"] == "engine":
            job["identity"]["seeds_at_once"] = True
        job["key"] = identity_key(job["identity"])
        job["name"] = f"{job['model']}--{_slug(job['variant'])}--seed{job['seed']}--{job['loop']}--{job['key']}"
        jobs.append(job)
    return jobs


def load_rows(table_dir: Path) -> list[dict[str, Any]]:
    """Every finished row of a table folder, in the order they were measured."""
    rows = [json.loads(path.read_text()) for path in sorted((Path(table_dir) / "rows").glob("*.json"))]
    return sorted(rows, key=lambda row: row.get("finished_at", 0))


def _legacy_identity(row: dict[str, Any]) -> dict[str, Any]:
    # Rows measured before identities were recorded: rebuilt from what they recorded. Their data were always
    # the generated frames (no such row was published from a folder).
    kwargs = {}
    for item in filter(None, row.get("variant", "").split(",")):
        key, _, value = item.partition("=")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    accelerations = row.get("accelerations", "")
    compile_: bool | str = False
    if "compile" in accelerations:  # "compile" (default mode) or "compile MODE"
        compile_ = accelerations.split("compile", 1)[1].split(",")[0].strip() or True
    return {
        "model": row["model"], "loop": row["loop"], "recipe": row["recipe_fields"], "model_kwargs": kwargs,
        "data": None, "amp": "bf16" if row.get("dtype", "").startswith("bfloat16") else None, "compile": compile_,
        "device": "cpu" if row.get("device", "").endswith("threads)") else "cuda",
    }


def rows_of(table_dir: Path, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished rows of ``table_dir`` that belong to ``jobs`` (same identity), one per job: rows of other
    settings, data or precision in the same folder are never reported with them."""
    wanted = {job["key"] for job in jobs}
    found: dict[str, dict[str, Any]] = {}
    for row in load_rows(table_dir):
        key = identity_key(row.get("identity") or _legacy_identity(row))
        if key in wanted and (key not in found or "identity" in row):  # a re-measured row replaces a legacy one
            found[key] = row
    return sorted(found.values(), key=lambda row: row.get("finished_at", 0))


def _is_done(path: Path, job: dict[str, Any]) -> bool:
    if not path.is_file():
        return False
    try:
        row = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return row.get("identity") == job["identity"]  # another recipe, data or precision is not this row


@contextmanager
def _locked(table_dir: Path) -> Iterator[None]:
    table_dir.mkdir(parents=True, exist_ok=True)
    with open(table_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # shards finishing together must not interleave their reports
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _report(table: BenchTable, table_dir: Path, jobs: list[dict[str, Any]]) -> dict[str, Path]:
    with _locked(table_dir):
        meta = {"name": table.name, "title": table.title, "caption": table.caption, "task": jobs[0]["task"],
                "baselines": list(table.baselines)}
        return write_reports(table_dir, meta, rows_of(table_dir, jobs))


def seed_groups(pending: list[tuple[dict[str, Any], Path]]) -> list[list[tuple[dict[str, Any], Path]]]:
    """The units a sweep's workers run: each ``seeds_at_once`` row together with the pending rows whose identity
    differs from its own only in the seed (one :func:`~mmzoo.train.many.fit_many` group), every other row alone.

    >>> jobs = [{"identity": {"model": m, "recipe": {"seed": s}, "seeds_at_once": True}} for m in "ab" for s in (1, 2)]
    >>> [len(unit) for unit in seed_groups([(job, None) for job in jobs])]
    [2, 2]
    """
    units: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    for index, (job, path) in enumerate(pending):
        identity = job["identity"]
        if identity.get("seeds_at_once"):
            key = identity_key({**identity, "recipe": {**identity["recipe"], "seed": None}})
        else:
            key = f"alone-{index}"
        units.setdefault(key, []).append((job, path))
    return list(units.values())


def check_seeds_at_once(recipe: Recipe, options: dict[str, Any]) -> None:
    """Refuse, before any row runs, a recipe or engine options that :func:`~mmzoo.train.many.fit_many` does not
    implement (see :func:`~mmzoo.train.many.check_fit_many_options`)."""
    engine, experimental = ExperimentalOptions.split(options)
    engine = replace(EngineOptions(**engine), distributed=False)  # as the workers run it
    try:
        check_fit_many_options(engine, recipe, resolve_device(engine.device),
                               whole_step=experimental.whole_step_graphs)
    except ValueError as error:
        raise ValueError(f"seeds at once (--seeds-at-once): {error} (the command-line flags: --compile, "
                         "--cuda-graphs, --whole-step-graphs)") from None


def _launch(unit: list[tuple[dict[str, Any], Path]], device: str | None, options: dict[str, Any]) -> subprocess.Popen:
    """Start the worker of one unit (one row, or a group of seeds trained at once)."""
    # A sweep's rows are independent runs: a worker must not join the torchrun job its parent belongs to.
    env = single_process_env()
    opts = {**options, "distributed": False}
    if device is not None and device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]  # each worker sees only its GPU, as cuda:0
        opts["device"] = "cuda"
    fd, job_path = tempfile.mkstemp(prefix="mmzoo-job-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump([{**job, "options": opts} for job, _ in unit], handle)
    process = subprocess.Popen([sys.executable, "-m", "mmzoo.bench.worker", job_path, *(str(p) for _, p in unit)],
                               env=env)
    process.job_path = job_path  # removed when the process is reaped
    return process


def _run_rows(pending: list[tuple[dict[str, Any], Path]], devices: tuple[str, ...], options: dict[str, Any],
              on_row: Callable[[dict[str, Any]], None]) -> list[str]:
    """Run the pending rows, one worker process per unit (:func:`seed_groups`) and at most one per device at a
    time; returns the names of the rows that failed."""
    slots = list(devices) or [None]
    running: list[tuple[subprocess.Popen, list[tuple[dict[str, Any], Path]], str | None]] = []
    failed: list[str] = []
    units = seed_groups(pending)
    while units or running:
        while units and len(running) < len(slots):
            unit = units.pop(0)
            device = next(s for s in slots if s not in {d for _, _, d in running}) if devices else None
            running.append((_launch(unit, device, options), unit, device))
        time.sleep(0.2)
        for entry in list(running):
            process, unit, _ = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            Path(process.job_path).unlink(missing_ok=True)
            for job, row_path in unit:
                if process.returncode != 0:
                    failed.append(f"{job['name']} (exit {process.returncode})")
                    continue
                _stamp(row_path)
                on_row(job)
    return failed


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
    model_kwargs: dict[str, Any] | None = None,
    seeds_at_once: bool = False,
    log: str | Sequence[str] | Tracking | None = None,
) -> dict[str, Path]:
    """Measure every row of ``table`` that is not measured yet and write the table's reports.

    Args:
        table: a table name (``mmzoo.bench.TABLES``) or a :class:`BenchTable`.
        out_dir: results go to ``out_dir/<table>/``.
        runs_dir: engine checkpoints go to ``runs_dir/<table>/<model>/seed<seed>-<key>`` (default ``out_dir/runs``),
            ``key`` being the digest of the row's identity (:func:`row_identity`).
        overrides: ``key=value`` recipe changes (changing the recipe makes new rows).
        models, seeds: run only these.
        options: :class:`~mmzoo.train.EngineOptions` fields for the workers (``device``, ``amp``, ``compile``...),
            and :class:`~mmzoo.train.experimental.ExperimentalOptions`' (``whole_step_graphs``).
        devices: run rows concurrently, one per device (e.g. ``("cuda:0", "cuda:1")``); default one at a time.
        shard: ``(rank, world)``: run only rows ``rank, rank + world, ...`` (default: from RANK / WORLD_SIZE).
        data_dir: train on a course / assessment folder instead of the generated frames.
        model_kwargs: constructor arguments added to the table's for every row (they make new rows).
        seeds_at_once: train each model's pending seeds together in one worker with
            :func:`~mmzoo.train.many.fit_many` (new rows; see :func:`table_jobs`). An interrupted group starts
            again: ``fit_many`` keeps no checkpoints.
        log: trackers to log every row to (``"tensorboard,mlflow,wandb"`` or a
            :class:`~mmzoo.train.tracking.Tracking`): the table is one experiment (``bench-<table>``) with one run
            per row, the stores under ``out_dir`` unless ``log`` says otherwise. An interrupted row continues its
            tracker runs. Logging changes no row's identity.

    Returns the paths of the written reports (which hold only rows of this identity). Raises RuntimeError naming
    the rows that failed (after writing the reports of those that did not).
    """
    table = table if isinstance(table, BenchTable) else get_table(table)
    options = table_options(table, options)
    rank, world = shard if shard is not None else shard_from_env()
    table_dir = Path(out_dir) / table.name
    settings = {"model_kwargs": model_kwargs, "options": options, "data_dir": data_dir, "seeds_at_once": seeds_at_once}
    jobs = table_jobs(table, tuple(overrides), models, seeds, **settings)
    if not jobs:
        raise ValueError(f"no rows of table {table.name!r} match models={models} seeds={seeds}")
    if seeds_at_once:
        check_seeds_at_once(Recipe.from_dict(jobs[0]["recipe"]), options)
    runs_root = Path(runs_dir) if runs_dir is not None else Path(out_dir) / "runs"
    mine = _assign_run_dirs(_shard_of(jobs, rank, world), runs_root, table.name)
    _attach_tracking(mine, tracking_from(log, root=Path(out_dir).resolve(), experiment=f"bench-{table.name}"))
    pending = _pending(table_dir, mine)
    # Every row of the table with these settings (not only this shard's or the filtered ones) is reported.
    reported = table_jobs(table, tuple(overrides), **settings)
    bar = {"total": len(mine), "initial": len(mine) - len(pending), "disable": not progress}
    failed = _run_with_reports(table, table_dir, reported, pending, tuple(devices), options, bar)
    paths = _report(table, table_dir, reported)
    if failed:
        raise RuntimeError(f"{len(failed)} benchmark row(s) failed: {', '.join(failed)}; their errors are printed above")
    return paths


def _pending(table_dir: Path, jobs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Path]]:
    """``(job, row file)`` of the jobs whose row is not measured yet (no file, or one of another identity)."""
    (table_dir / "rows").mkdir(parents=True, exist_ok=True)
    rows = [(job, table_dir / "rows" / f"{job['name']}.json") for job in jobs]
    return [(job, path) for job, path in rows if not _is_done(path, job)]


def _attach_tracking(jobs: list[dict[str, Any]], tracking: Tracking | None) -> None:
    """Give each job the trackers its worker logs to; each row is a run of its own name (a shared run_name would
    give every row the same one)."""
    for job in jobs if tracking is not None else ():
        job["log"] = {**asdict(tracking), "root": str(Path(tracking.root).resolve()), "run_name": None}


def _run_with_reports(table: BenchTable, table_dir: Path, reported: list[dict[str, Any]],
                      pending: list[tuple[dict[str, Any], Path]], devices: tuple[str, ...], options: dict[str, Any],
                      bar: dict[str, Any]) -> list[str]:
    """Run the pending rows under a progress bar (``bar``: tqdm's arguments), rewriting the table's reports after
    each finished row; returns the names of the rows that failed."""
    from tqdm.auto import tqdm

    with tqdm(desc=f"bench {table.name}", unit="row", **bar) as progress:
        def finished(job: dict[str, Any]) -> None:
            progress.update(1)
            _report(table, table_dir, reported)

        return _run_rows(pending, devices, options, finished)


def _shard_of(jobs: list[dict[str, Any]], rank: int, world: int) -> list[dict[str, Any]]:
    """The jobs of shard ``rank`` of ``world``: every ``world``-th unit (:func:`seed_groups`), so that a group of
    seeds trains together."""
    units = seed_groups([(job, None) for job in jobs])
    return [job for index, unit in enumerate(units) if index % world == rank for job, _ in unit]


def _assign_run_dirs(jobs: list[dict[str, Any]], runs_root: Path, table: str) -> list[dict[str, Any]]:
    """Give each engine row its run folder, named by the row's identity key, so that a row with other settings
    never resumes another's checkpoint."""
    for job in jobs:
        if job["loop"] == "engine" and not job["identity"].get("seeds_at_once"):
            job["run_dir"] = str((runs_root / table / job["model"] / f"seed{job['seed']}-{job['key']}").resolve())
    return jobs


def _stamp(row_path: Path) -> None:
    """Record when a row finished (orders the table as measured)."""
    row = json.loads(row_path.read_text())
    row["finished_at"] = time.time()
    atomic_write_json(row_path, row)

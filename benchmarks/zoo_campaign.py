"""The zoo's GPU campaign: both zoo tables (every architecture, 3 seeds) and their weights in one call of a lent GPU.

    python benchmarks/zoo_campaign.py --out "$OUT"                # on the GPU machine (benchmarks/gpu_checks.sh)
    python benchmarks/zoo_campaign.py --out /tmp/c --tiny --device cpu --workers 2   # the CPU rehearsal (a test)
    python benchmarks/zoo_campaign.py --unpack FOLDER   # back here: results, weights/ and the index, in place

Steps, all inside ``--budget-s`` seconds (default 420, so that a 15-minute lease holds the machine's start, this
and a rerun):

1. ``zoo-shapes`` and ``zoo-cubes`` at their recipes, rows spread over ``--workers`` processes sharing the GPU
   (harness shards: one process per row, each row's checkpoints kept), with the engine's per-part CUDA graphs
   (its default on a GPU; measured faster for these batch-32 networks). Seeds are not trained at once here:
   ``fit_many`` keeps no run folders, and the weights below are exported from the best seed's run folder.
   Rows still running at the deadline are stopped; every finished row is kept.
2. The weights: ``benchmarks/zoo_weights.py`` exports each architecture whose three seeds finished, from its best
   seed's run, with the seeds' spread on its card.
3. Packing for the trip back: ``results.tgz`` (both tables' rows and reports, the weights' status) and weight
   archives of at most ``--max-file-mib`` each, at most ``--max-files`` files in all; weights that do not fit
   are listed in ``manifest.json`` with the command that reproduces them (they stay Hub-only).

Results land in ``benchmarks/results/<machine>/zoo-{shapes,cubes}/`` inside the archive (``<machine>`` from the
device's name, e.g. ``gpu-h200``), so that unpacking it at the repository root puts them beside the CPU tables.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from mmzoo.pretrained.index import INDEX_PATH, read_index, write_index
from mmzoo.release.export import default_index_path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("zoo-shapes", "zoo-cubes")
#: The rehearsal's settings: two architectures, a recipe of a few steps (new rows: the recipe is their identity).
TINY_MODELS = ("late_fusion_strided", "intermediate_add_strided")
TINY_RECIPE = ("train_frames=64", "val_frames=32", "epochs=2")
MIB = 1024 * 1024


def _zoo_weights():
    """benchmarks/zoo_weights.py (loaded by path: benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("zoo_weights", Path(__file__).with_name("zoo_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine_slug(device: str) -> str:
    """``gpu-h200`` for an NVIDIA H200, ``cpu`` on a CPU: the results folder of this machine's rows.

    >>> machine_slug("cpu")
    'cpu'
    """
    if not device.startswith("cuda"):
        return "cpu"
    import torch

    name = torch.cuda.get_device_name(torch.device(device))
    model = re.search(r"\b([A-Z]\d{2,4}[A-Za-z]*)\b", name)
    return f"gpu-{(model.group(1) if model else name).lower()}"


def run_shard(rank: int, world: int, args: argparse.Namespace) -> None:
    """Measure this shard's rows of both tables (failed rows are reported, not fatal: the others go on)."""
    from mmzoo.bench import run_table

    options = {"device": args.device, "amp": None, **({"threads": args.threads} if args.threads else {})}
    for table in TABLES:
        try:
            run_table(table, out_dir=args.results_dir, runs_dir=args.runs_dir, overrides=tuple(args.overrides),
                      models=tuple(args.models) if args.models else None, seeds=tuple(args.seeds) if args.seeds else None,
                      options=options, shard=(rank, world), progress=False)
        except RuntimeError as error:
            print(f"shard {rank}/{world} {table}: {error}", file=sys.stderr)


def _shard_command(rank: int, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--shard", f"{rank}/{args.workers}",
               "--device", args.device, "--results-dir", str(args.results_dir), "--runs-dir", str(args.runs_dir)]
    command += [f"--set={o}" for o in args.overrides]
    command += ["--models", *args.models] if args.models else []
    command += ["--seeds", *map(str, args.seeds)] if args.seeds else []
    return command + (["--threads", str(args.threads)] if args.threads else [])


def train_all(args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Run the shards as parallel processes until they finish or the deadline passes (then stop them)."""
    started = time.monotonic()
    processes = [subprocess.Popen(_shard_command(rank, args), start_new_session=True) for rank in range(args.workers)]
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(1)
    stopped = [p for p in processes if p.poll() is None]
    for process in stopped:  # its own session: the shard and the row workers it started
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait()
    return {"train_s": time.monotonic() - started, "shards_stopped_at_deadline": len(stopped)}


def pack(out: Path, results: list[Path], weights_dir: Path, statuses: list[dict[str, Any]], max_files: int,
         max_bytes: int, info: dict[str, Any]) -> dict[str, Any]:
    """``results.tgz`` plus weight archives (first fit, largest first), within ``max_files`` of ``max_bytes``."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "results.tgz", "w:gz") as archive:
        for folder in results:
            if folder.exists():
                archive.add(folder, arcname=str(folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder.name),
                            filter=lambda item: None if "/runs/" in item.name or item.name.endswith(".lock") else item)
    exported = [s for s in statuses if s["status"] == "exported"]
    sizes = {s["name"]: sum(f.stat().st_size for f in (weights_dir / s["name"]).iterdir()) for s in exported}
    bins: list[list[str]] = []
    left_out = []
    for name in sorted(sizes, key=sizes.get, reverse=True):
        fits = next((b for b in bins if sum(sizes[n] for n in b) + sizes[name] <= max_bytes), None)
        if fits is not None:
            fits.append(name)
        elif len(bins) < max_files - 1 and sizes[name] <= max_bytes:
            bins.append([name])
        else:
            left_out.append(name)
    for number, names in enumerate(bins, 1):
        with tarfile.open(out / f"weights-{number}.tar", "w") as archive:  # safetensors do not compress
            for name in names:
                archive.add(weights_dir / name, arcname=f"weights/{name}")
    index = default_index_path(weights_dir)
    manifest = {**info, "archives": {f"weights-{i}.tar": names for i, names in enumerate(bins, 1)},
                "left_out": {name: _reproduce(name, statuses) for name in left_out},
                "index": read_index(index), "weights": statuses}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    return manifest


def _reproduce(name: str, statuses: list[dict[str, Any]]) -> str:
    status = next(s for s in statuses if s.get("name") == name)
    return f"python benchmarks/run_tables.py --tables {status['table']} --models {status['model']}" \
           f" && python benchmarks/zoo_weights.py --tables {status['table']} --models {status['model']}"


def unpack(folder: Path, root: Path = ROOT, index_path: Path = INDEX_PATH) -> list[str]:
    """Put a campaign's files where they belong in this checkout: the results at ``root``, the packed weights under
    ``root/weights/``, their index entries into the package's index. Returns the weights added."""
    manifest = json.loads((folder / "manifest.json").read_text())
    with tarfile.open(folder / "results.tgz") as archive:
        archive.extractall(root, filter="data")
    for name in manifest["archives"]:
        with tarfile.open(folder / name) as archive:
            archive.extractall(root, filter="data")
    packed = [weight for names in manifest["archives"].values() for weight in names]
    write_index({**read_index(index_path), **{name: manifest["index"][name] for name in packed}}, index_path)
    return packed


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=12, help="row processes at once (sharing the device)")
    parser.add_argument("--threads", type=int, help="CPU threads per row process")
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--tiny", action="store_true", help="the rehearsal: TINY_MODELS on TINY_RECIPE")
    parser.add_argument("--models", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these seeds (default: the tables' three)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--results-dir", type=Path, help="default benchmarks/results/<machine>")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    parser.add_argument("--max-files", type=int, default=8)
    parser.add_argument("--max-file-mib", type=float, default=16.0)
    parser.add_argument("--unpack", type=Path, metavar="FOLDER",
                        help="on the development machine: put a campaign's returned files into this checkout")
    parser.add_argument("--shard", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.unpack:
        print("weights added:", ", ".join(unpack(args.unpack)) or "none")
        return None
    if args.tiny:
        args.models = args.models or list(TINY_MODELS)
        args.overrides = [*TINY_RECIPE, *args.overrides]
    if args.shard:
        rank, world = (int(part) for part in args.shard.split("/"))
        run_shard(rank, world, args)
        return None
    deadline = time.monotonic() + args.budget_s
    machine = machine_slug(args.device)
    args.results_dir = args.results_dir or ROOT / "benchmarks" / "results" / machine
    info = {"machine": machine, "settings": {k: str(v) for k, v in vars(args).items()}}
    info.update(train_all(args, deadline - 60))  # the last minute exports and packs
    weights_dir = args.out / "weights-work"
    statuses = _zoo_weights().main(
        ["--results-dir", str(args.results_dir), "--runs-dir", str(args.runs_dir), "--out", str(weights_dir),
         "--report", str(args.results_dir / "zoo-weights"), *(f"--set={o}" for o in args.overrides),
         *(["--models", *args.models] if args.models else []),
         *(["--seeds", *map(str, args.seeds)] if args.seeds else [])])
    results = [args.results_dir / table for table in (*TABLES, "zoo-weights")]
    manifest = pack(args.out, results, weights_dir, statuses, args.max_files, int(args.max_file_mib * MIB), info)
    shutil.rmtree(weights_dir, ignore_errors=True)  # only the archives go back
    print(json.dumps({k: manifest[k] for k in ("machine", "train_s", "archives", "left_out")}, indent=1))
    return manifest


if __name__ == "__main__":
    main()

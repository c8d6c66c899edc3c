"""Which property of the frames decides whether the notebook's exact recipe leaves ln 2 on mmzoo's ``shapes`` set.

On the real frames the assignment notebook's four networks all left ln 2 (a constant output, validation loss
0.693) within their first 4 epochs; on ``shapes`` v1.0 ``intermediate_cat`` and ``intermediate_add`` often stay
there. This script measures, in two parts:

1. Properties of the training and validation frames next to what is known of the real ones: LiDAR beams that hit
   per frame, the no-return value, RGB mean and alpha, class counts, and whether the two classes' frames differ
   anywhere but in the object (beam angles). No training.
2. The first epochs of ``intermediate_add`` and ``intermediate_cat`` on the exact recipe (the cosine schedule of
   all 20 epochs, stopped after ``--epochs``), seeds 51-53, with one property of the frames changed at a time.
   These variants are diagnostics, not proposals: each says whether that property can decide the outcome, and
   none is applied to the generator unless a real-data fact supports it. The unchanged frames' first epochs are
   the ``assignment`` table's rows (the same runs), so they are read, not retrained.

Resumable and sharded like the other sweeps (one JSON per run under ``runs/``)::

    python studies/frame_properties.py --shard 0/2 &
    python studies/frame_properties.py --shard 1/2
    python studies/frame_properties.py --report
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import torch

from mmzoo.data import depth_to_xyza
from mmzoo.bench import load_rows
from mmzoo.bench.report import epochs_text, write_result
from mmzoo.data.tensors import FusionTensors
from mmzoo.train.data import recipe_frames, recipe_tensors
from mmzoo.train.engine import EngineOptions, fit
from mmzoo.train.metrics import LEFT_LN2, epoch_left_ln2
from mmzoo.train.recipes import get_recipe
from mmzoo.train.resources import device_name
from mmzoo.utils.files import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
#: The benchmark tables whose rows this study reads.
TABLE_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
OUT = RESULTS / "frame-properties"
MODELS = ("intermediate_add", "intermediate_cat")
SEEDS = (51, 52, 53)
EPOCHS = 4  # by the end of epoch 4 every network of the notebook had left ln 2 on the real frames


def camera_blank(tensors: FusionTensors, frames) -> FusionTensors:
    """RGB set to black (alpha kept): does the camera's content take part in leaving ln 2?"""
    rgb = tensors.rgb.clone()
    rgb[:, :3] = 0
    return FusionTensors(rgb, tensors.lidar, tensors.target, tensors.metadata)


def no_return_at_origin(tensors: FusionTensors, frames) -> FusionTensors:
    """No-return beams' x, y, z set to 0 instead of the max-range point (the real files hold 50.0, so this is a
    diagnostic of the input's scale, not a candidate fix)."""
    lidar = tensors.lidar.clone()
    lidar[:, :3] *= lidar[:, 3:4]
    return FusionTensors(tensors.rgb, lidar, tensors.target, tensors.metadata)


def sphere_angles_shifted(tensors: FusionTensors, frames) -> FusionTensors:
    """The sphere frames' beam angles shifted by half a beam (0.25 degrees): what a difference between the two
    classes' angle files, beyond the object, would do (the real set keeps azimuth.npy / zenith.npy per class)."""
    shift = 0.5 * float(frames.azimuth[1] - frames.azimuth[0])
    lidar = tensors.lidar.clone()
    spheres = torch.as_tensor(frames.labels == 1)
    shifted = depth_to_xyza(frames.depth[frames.labels == 1], frames.azimuth + shift, frames.zenith + shift,
                            formula=tensors.metadata["xyza_formula"])
    lidar[spheres] = shifted
    return FusionTensors(tensors.rgb, lidar, tensors.target, tensors.metadata)


VARIANTS: dict[str, Callable] = {
    "camera_blank": camera_blank, "no_return_at_origin": no_return_at_origin,
    "sphere_angles_shifted": sphere_angles_shifted,
}


class _Stop(Exception):
    """Raised from the epoch callback to end a run after its first epochs."""


def train_first_epochs(model: str, variant: str, seed: int, epochs: int) -> dict[str, Any]:
    """The exact recipe's first ``epochs`` epochs of ``model`` at ``seed`` on frames changed by ``variant``."""
    recipe = get_recipe("assignment", seed=seed)
    frames = recipe_frames(recipe)
    tensors = recipe_tensors(recipe, frames=frames)
    data = tuple(VARIANTS[variant](t, f) for t, f in zip(tensors, frames))
    history: list[dict[str, Any]] = []

    def record(epoch: dict[str, Any]) -> None:
        history.append(epoch)
        if len(history) >= epochs:
            raise _Stop

    start = time.perf_counter()
    try:
        fit(model, recipe, data=data, options=EngineOptions(device="cpu", progress=False, amp=None), on_epoch=record)
    except _Stop:
        pass
    return {"model": model, "variant": variant, "seed": seed, "val_loss": [e["val_loss"] for e in history],
            "val_accuracy": [e["val_accuracy"] for e in history], "seconds": time.perf_counter() - start,
            "machine": device_name(torch.device("cpu")), "torch": torch.__version__}


def frame_statistics() -> dict[str, Any]:
    """Part 1: the exact recipe's frames (training and validation) measured where a real fact is known."""
    recipe = get_recipe("assignment")
    frames = recipe_frames(recipe)
    depth = torch.cat([torch.as_tensor(f.depth) for f in frames])
    rgba = torch.cat([torch.as_tensor(f.rgba) for f in frames]).float() / 255
    labels = torch.cat([torch.as_tensor(f.labels) for f in frames])
    hits = (depth < 50.0).flatten(1).sum(1).float()
    return {
        "frames": len(depth), "hit_beams_mean": float(hits.mean()), "hit_beams_min": int(hits.min()),
        "hit_beams_max": int(hits.max()), "hit_share": float(hits.mean() / depth[0].numel()),
        "no_return_value": float(depth.max()), "rgb_mean": [float(v) for v in rgba[..., :3].mean((0, 1, 2))],
        "rgb_std": [float(v) for v in rgba[..., :3].std((0, 1, 2))], "alpha_mean": float(rgba[..., 3].mean()),
        "class_counts": {str(c): int((labels == c).sum()) for c in labels.unique().tolist()},
        "angle_arrays_shared_by_both_classes": True,  # a Frames holds one azimuth and one zenith array
    }


def assignment_rows(table: Path = TABLE_RESULTS / "assignment") -> list[dict[str, Any]]:
    """The unchanged frames' runs: the assignment table's engine rows of the two networks."""
    return [{"model": row["model"], "variant": "v1.0 (unchanged)", "seed": row["seed"],
             "val_loss": [e["val_loss"] for e in row["history"]]}
            for row in load_rows(table) if row["model"] in MODELS and row["loop"] == "engine" and not row["variant"]]


def summarise(runs: list[dict[str, Any]], epochs: int) -> list[dict[str, Any]]:
    """Per variant and network: the seeds, how many left ln 2 within ``epochs`` epochs and when."""
    groups = []
    for variant in dict.fromkeys(run["variant"] for run in runs):
        for model in MODELS:
            mine = sorted((r for r in runs if r["variant"] == variant and r["model"] == model), key=lambda r: r["seed"])
            if not mine:
                continue
            left = [epoch_left_ln2(r["val_loss"][:epochs]) for r in mine]
            groups.append({"variant": variant, "model": model, "seeds": [r["seed"] for r in mine], "left_at": left,
                           "left": sum(e is not None for e in left),
                           "val_loss_at_end": [r["val_loss"][epochs - 1] for r in mine]})
    return groups


def render(stats: dict[str, Any], groups: list[dict[str, Any]], epochs: int, machine: str) -> str:
    """Part 1's measurements as a paragraph and part 2's runs as a Markdown table."""
    s = stats
    rgb = ", ".join(f"{v:.4f}" for v in s["rgb_mean"])
    lines = [
        f"Frames of the exact recipe ({s['frames']:,}, data seed 0): {s['hit_beams_mean']:.0f} hit beams per frame "
        f"({s['hit_beams_min']} to {s['hit_beams_max']}, {100 * s['hit_share']:.1f}% of beams); no-return value "
        f"{s['no_return_value']:.1f}; RGB mean {rgb}; alpha mean {s['alpha_mean']:.3f}; class counts "
        f"{', '.join(f'{k}: {v}' for k, v in s['class_counts'].items())}; one pair of angle arrays for both classes.",
        "",
        f"| frames | network | seeds | left ln 2 by epoch {epochs} | epoch it left (per seed) | "
        f"val loss at epoch {epochs} (per seed) |",
        "|---|---|---|---|---|---|",
    ]
    for g in groups:
        lines.append(f"| {g['variant']} | `{g['model']}` | {epochs_text(g['seeds'])} | {g['left']} of "
                     f"{len(g['seeds'])} | {epochs_text(g['left_at'])} | {epochs_text(g['val_loss_at_end'], 3)} |")
    lines += ["", f"Exact assignment recipe (20-epoch cosine schedule), first {epochs} epochs; a run left ln 2 at the "
                  f"first epoch with a validation loss below {LEFT_LN2}. Machine: {machine}."]
    return "\n".join(lines) + "\n"


def report(out: Path, epochs: int) -> str:
    runs = assignment_rows() + [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    trained = [r for r in runs if "machine" in r]
    machine = "; ".join(sorted({f"{r['machine']}, torch {r['torch']}" for r in trained})) or "-"
    stats = frame_statistics()
    groups = summarise(runs, epochs)
    markdown = render(stats, groups, epochs, machine)
    write_result(out, {"epochs": epochs, "machine": machine, "frame_statistics": stats, "groups": groups}, markdown)
    return markdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=sorted(VARIANTS))
    parser.add_argument("--shard", default="0/1", help="RANK/WORLD: run only every WORLD-th run, from RANK")
    parser.add_argument("--report", action="store_true", help="only merge the finished runs into the report")
    args = parser.parse_args(argv)
    if not args.report:
        rank, world = (int(part) for part in args.shard.split("/"))
        jobs = [(v, m, s) for v in args.variants for s in args.seeds for m in MODELS]
        for variant, model, seed in jobs[rank::world]:
            path = args.out / "runs" / f"{variant}--{model}--seed{seed}.json"
            if not path.is_file():
                atomic_write_json(path, train_first_epochs(model, variant, seed, args.epochs))
                print(f"{path.name} done", flush=True)
    print(report(args.out, args.epochs))


if __name__ == "__main__":
    main()

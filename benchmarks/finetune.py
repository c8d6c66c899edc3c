"""Fine-tuning on a task no shipped weight was trained on: a ``shapes_v1`` start against a random start.

The task: cube vs sphere vs torus (three classes; the shipped ``shapes_v1`` weights only ever saw cubes and
spheres, and no torus). Frames come from mmzoo's generator (the ``shapes`` scenes: one object, random pose, hue
and light, with every third object made a torus) and are written to disk in the documented own-data format
(``rgb/<id>.png``, ``lidar/<id>.npy``, ``labels.csv`` with a split column: 320 train, 160 val, 160 test,
balanced), then read back by ``mmzoo.train.finetune`` exactly as a user's folder would be.

Each run trains ``late_fusion_strided`` with the fine-tuning recipe (Adam 1e-3 cosine to 1e-6 over the run,
batch 32, softmax cross-entropy, the epoch with the lowest validation loss kept) for the same number of steps
from three starts: ``late_fusion_strided.shapes_v1`` fine-tuned whole, the same with its encoders frozen
(``--freeze encoders``), and random weights; at 100 and 300 steps; seeds 51, 52, 53. Test accuracy is measured
on the 160 test samples with ``mmzoo.train.predict``. Each finished run is appended to ``runs.jsonl`` at once,
so an interrupted benchmark resumes where it stopped; the summary is rewritten after every run.

Run from an installed wheel, offline, in a folder outside the checkout::

    HF_HUB_OFFLINE=1 nice python benchmarks/finetune.py --threads 1 --out benchmarks/results/finetune
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import mmzoo
from mmzoo.data import render, sample_scene
from mmzoo.train import EngineOptions, finetune
from mmzoo.train.predict import evaluation_report, predict, select_split
from mmzoo.train.resources import device_name

ARCH = "late_fusion_strided"
CLASSES = ("cube", "sphere", "torus")  # the generator's object kinds 0, 1, 2
SPLITS = {"train": 320, "val": 160, "test": 160}
BATCH = 32
STARTS = {"shapes_v1": {"pretrained": "shapes_v1"}, "shapes_v1, encoders frozen": {"pretrained": "shapes_v1",
          "freeze": "encoders"}, "random": {"pretrained": False}}
STEPS = (100, 300)
SEEDS = (51, 52, 53)


def write_task(root: Path, splits: dict[str, int] = SPLITS, seed: int = 0) -> Path:
    """The three-class task in the own-data format (what a user would write with their own code)."""
    total = sum(splits.values())
    scene, _ = sample_scene("shapes", total, seed=seed)
    kinds = np.random.default_rng(seed).permutation(np.arange(total) % len(CLASSES))
    scene.kinds[:, 0] = kinds
    out = render(scene)
    parts = [name for name, count in splits.items() for _ in range(count)]
    (root / "rgb").mkdir(parents=True)
    (root / "lidar").mkdir()
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "label", "split"])
        for i in range(total):
            Image.fromarray(out.rgba[i]).save(root / "rgb" / f"frame{i:04d}.png")
            np.save(root / "lidar" / f"frame{i:04d}.npy", out.depth[i])
            writer.writerow([f"frame{i:04d}", CLASSES[kinds[i]], parts[i]])
    return root


def run_one(data: Path, start: str, steps: int, seed: int, threads: int, splits: dict[str, int] = SPLITS) -> dict:
    epochs = max(1, steps // (splits["train"] // BATCH))
    began = time.perf_counter()
    result = finetune(ARCH, data, **STARTS[start], epochs=epochs, batch_size=BATCH, seed=seed,
                      options=EngineOptions(device="cpu", progress=False, threads=threads))
    wall = time.perf_counter() - began
    model = result.model
    frames = mmzoo.transforms_for(model).read_folder(data, labels=True)
    test = select_split(frames, "test")
    report = evaluation_report(predict(model, test), test)
    return {"start": start, "steps": steps, "epochs": epochs, "seed": seed, "test_accuracy": report["accuracy"],
            "test_confusion": report["confusion"], "val_accuracy": result.best["accuracy"],
            "val_loss": result.best["loss"], "best_epoch": result.fit.best_epoch,
            "train_time_s": round(result.fit.train_time_s, 1), "wall_s": round(wall, 1), "start_weights": result.start}


def summarise(runs: list[dict], machine: str, splits: dict[str, int] = SPLITS) -> tuple[dict, str]:
    rows = []
    for start in STARTS:
        for steps in sorted({r["steps"] for r in runs}):
            done = [r for r in runs if r["start"] == start and r["steps"] == steps]
            if not done:
                continue
            acc = [r["test_accuracy"] for r in done]
            rows.append({"start": start, "steps": steps, "seeds": [r["seed"] for r in done], "test_accuracy": acc,
                         "mean_test_accuracy": statistics.mean(acc),
                         "min_test_accuracy": min(acc), "max_test_accuracy": max(acc),
                         "mean_train_time_s": statistics.mean(r["train_time_s"] for r in done)})
    lines = ["| start | steps | seeds | test accuracy (per seed) | mean | mean train time (s) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['start']} | {r['steps']} | {', '.join(map(str, r['seeds']))} | "
              f"{', '.join(f'{a:.3f}' for a in r['test_accuracy'])} | {r['mean_test_accuracy']:.3f} | "
              f"{r['mean_train_time_s']:.1f} |" for r in rows]
    lines.append("")
    lines.append(f"Task: cube / sphere / torus, {splits['train']} train, {splits['val']} val, {splits['test']} test "
                 f"samples (generator, written in the own-data format), `{ARCH}`, batch {BATCH}, Adam 1e-3 cosine. "
                 f"Machine: {machine}.")
    return {"arch": ARCH, "classes": CLASSES, "splits": splits, "machine": machine, "rows": rows}, "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/finetune"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, help="where the task folder is written (default: a temp folder)")
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS), help="step budgets (default 100 300)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--samples", type=int, nargs=3, default=list(SPLITS.values()), metavar=("TRAIN", "VAL", "TEST"))
    args = parser.parse_args(argv)
    splits = dict(zip(SPLITS, args.samples))
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="mmzoo-finetune-"))
    data = work / "task"
    if not (data / "labels.csv").is_file():
        write_task(data, splits)
    machine = f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, python {platform.python_version()}, " \
              f"mmzoo {mmzoo.__version__} (installed wheel: {Path(mmzoo.__file__).parent})"
    log = args.out / "runs.jsonl"
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    done = {(r["start"], r["steps"], r["seed"]) for r in runs}
    for steps in args.steps:
        for seed in args.seeds:
            for start in STARTS:
                if (start, steps, seed) in done:
                    continue
                run = run_one(data, start, steps, seed, args.threads, splits)
                print(json.dumps({k: run[k] for k in ("start", "steps", "seed", "test_accuracy", "train_time_s")}),
                      flush=True)
                with open(log, "a") as handle:
                    handle.write(json.dumps(run) + "\n")
                runs.append(run)
                write_summary(args.out, runs, machine, splits)
    write_summary(args.out, runs, machine, splits)


def write_summary(out: Path, runs: list[dict], machine: str, splits: dict[str, int]) -> None:
    summary, table = summarise(runs, machine, splits)
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")


if __name__ == "__main__":
    main()

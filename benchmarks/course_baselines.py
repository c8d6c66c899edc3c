"""The course's single-modality baselines on mmzoo's ``cubes`` frames, next to what the course reports for the
real frames, and the yardsticks that read them.

The course's intermediate-fusion lab (the source of the ``course_*`` networks) trains an RGB-only and a
LiDAR-only ``Net(4)`` on its real three-cube frames with Adam 1e-4, batch 32, MSE, 20 epochs, and reports in its
text (no table): RGB-only reaches a validation MSE of about 6 (each cube about 2 units off); LiDAR-only overfits,
with a training MSE under 1 and a validation MSE over 8. This script reads the harness's rows of the same two
networks on mmzoo's ``cubes`` frames (the published course tables: full training set on a GPU, 1,000 frames on
CPU), takes from each run's history the best validation MSE and the last epoch's training and validation MSE,
and adds two yardsticks computed on the same validation frames:

- input-blind: every frame predicted as the training set's mean of each of the 9 numbers;
- colour-blind: each colour's x, y, z predicted as the frame's mean of the three cubes, the best (MSE) a model
  can do that locates the three cubes exactly but cannot tell which is which (LiDAR sees no colour).

Writes ``benchmarks/results/course-baselines/results.{json,md}`` (read by ``docs/data.md``)::

    python benchmarks/course_baselines.py
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from mmzoo.bench import load_rows
from mmzoo.bench.report import write_result
from mmzoo.train.data import recipe_tensors
from mmzoo.train.recipes import get_recipe

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "course-baselines"
MODELS = ("course_rgb_only", "course_lidar_only")
#: The published course tables whose rows are read (results folders).
TABLES = ("gpu-h100/course", "course")
#: What the course's lab text reports for its real frames at the end of training (MSE).
REPORTED = {
    "course_rgb_only": {"final_train_mse": "-", "final_val_mse": "about 6"},
    "course_lidar_only": {"final_train_mse": "under 1", "final_val_mse": "over 8"},
}


def yardsticks(train_frames: int) -> dict[str, float]:
    """Validation MSE of the input-blind and the colour-blind predictions on the course recipe's frames."""
    train, val = recipe_tensors(get_recipe("course", train_frames=train_frames))
    blind = train.target.mean(0, keepdim=True).expand_as(val.target)
    per_cube = val.target.reshape(len(val.target), 3, 3)  # (frame, colour, xyz) in positions.csv's order
    colour_blind = per_cube.mean(1, keepdim=True).expand_as(per_cube).reshape_as(val.target)
    mse = lambda prediction: float(torch.nn.functional.mse_loss(prediction, val.target))  # noqa: E731
    return {"input_blind_mse": mse(blind), "colour_blind_mse": mse(colour_blind)}


def from_row(row: dict[str, Any]) -> dict[str, Any]:
    """The numbers the course's text speaks of, from one harness row's per-epoch history."""
    history = row["history"]
    return {
        "best_val_mse": row["val_mse"], "best_epoch": row["best_epoch"],
        "final_train_mse": history[-1]["train_loss"], "final_val_mse": history[-1]["val_loss"],
        "epochs": len(history), "train_frames": row["recipe_fields"]["train_frames"], "device": row["device"],
    }


def collect(results: Path = RESULTS) -> dict[str, Any]:
    """Every published course table's two single-modality rows, with the yardsticks of its frames."""
    tables = []
    for folder in TABLES:
        rows = {row["model"]: from_row(row) for row in load_rows(results / folder) if row["model"] in MODELS}
        first = next(iter(rows.values()))
        label = f"{first['device']}, {first['train_frames']:,} training frames"
        tables.append({"table": folder, "label": label, "rows": rows, **yardsticks(first["train_frames"])})
    return {"reported": REPORTED, "tables": tables}


def render(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| data | network | best val MSE (epoch) | last epoch: train MSE | last epoch: val MSE |",
        "|---|---|---|---|---|",
    ]
    for model in MODELS:
        reported = result["reported"][model]
        lines.append(f"| real frames (course text) | `{model}` | - | {reported['final_train_mse']} | "
                     f"{reported['final_val_mse']} |")
    for table in result["tables"]:
        for model in MODELS:
            row = table["rows"][model]
            lines.append(f"| mmzoo `cubes` v1.0, {table['label']} | `{model}` | {row['best_val_mse']:.2f} "
                         f"({row['best_epoch']}) | {row['final_train_mse']:.2f} | {row['final_val_mse']:.2f} |")
    lines.append("")
    for table in result["tables"]:
        lines.append(f"Yardsticks on the validation frames of {table['label']}: input-blind MSE "
                     f"{table['input_blind_mse']:.2f}, colour-blind MSE {table['colour_blind_mse']:.2f}.  ")
    return "\n".join(lines).rstrip(" ") + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = collect()
    print(write_result(args.out, result, render(result)))
    return result


if __name__ == "__main__":
    main()

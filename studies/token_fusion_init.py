"""Why ``tokens`` fusion adds back a rescaled update of the transformer, from zero-initialised projections.

The first ``TokenFusion`` added the transformer's whole output (the pooled tokens themselves included) back to
each branch, with PyTorch's default initialisation of the attention and MLP output projections, as TransFuser
adds its GPT's output. At the zoo recipe ``intermediate_tokens`` and ``transfuser_tiny`` stayed at chance
(validation accuracy 0.500) on seed 51. This study trains ``intermediate_tokens`` in three forms, and
``intermediate_add`` (what the last two forms are at initialisation) as the reference, on a short budget over
several seeds, and records per run the training loss and validation accuracy of every epoch and whether the run
left chance:

- ``whole_output``: TransFuser's form, the whole output added back, default initialisation;
- ``update``: only the transformer's update ``T(t) - t`` added back, from zero-initialised output projections;
- ``scaled_update`` (mmzoo's): as ``update``, with each modality's tokens divided by their root mean square
  before the transformer and its update multiplied by it after (the assignment's camera map is hundreds of
  times its LiDAR map).

    python studies/token_fusion_init.py                      # 5 seeds, 640 frames, 4 epochs
    python studies/token_fusion_init.py --seeds 51 52 --epochs 2 --train-frames 64 --out /tmp/t

Resumable: each finished run is written at once (``results.{json,md}``), and a rerun with the same settings
skips the runs it holds.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmzoo.bench.report import write_result
from mmzoo.train import build_model, device_name, fit, get_recipe

OUT = Path(__file__).resolve().parent / "results" / "token-fusion-init"
FORMS = ("whole_output", "update", "scaled_update", "addition")
#: Validation accuracy above which a run has left chance (a balanced two-class set).
LEFT_CHANCE = 0.6


def legacy_form(model: nn.Module, form: str) -> nn.Module:
    """``model``'s token fusion in an earlier ``form``: ``whole_output`` (default-initialised projections, the
    whole output added back) or ``update`` (zero-initialised projections, the update added back unscaled)."""
    op = model.fusion
    if form == "whole_output":
        for block in op.transformer.layers:
            block.linear2.reset_parameters()
            block.self_attn.out_proj.reset_parameters()
            nn.init.zeros_(block.self_attn.out_proj.bias)  # as nn.MultiheadAttention initialises it

    def exchange(rgb: torch.Tensor, lidar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = op.grid * op.grid
        tokens = torch.cat([op._tokens(rgb), op._tokens(lidar)], dim=1) + op.pos
        out = op.transformer(tokens) - (0 if form == "whole_output" else tokens)
        return rgb + op._back(out[:, :n], rgb), lidar + op._back(out[:, n:], lidar)

    op.exchange = exchange
    return model


def train_one(form: str, seed: int, settings: dict[str, int]) -> dict[str, Any]:
    """One run of ``form`` at ``seed``: per epoch the training loss and validation accuracy."""
    recipe = dataclasses.replace(get_recipe("assignment"), seed=seed, **settings)
    name = "intermediate_add" if form == "addition" else "intermediate_tokens"
    model = build_model(name, recipe, 1, lidar_scale=0.02)
    if form in ("whole_output", "update"):
        model = legacy_form(model, form)
    history = fit(model, recipe).history
    accuracy = [round(epoch["val_accuracy"], 4) for epoch in history]
    return {"form": form, "model": name, "seed": seed, "train_loss": [round(e["train_loss"], 4) for e in history],
            "val_accuracy": accuracy, "left_chance": max(accuracy) > LEFT_CHANCE}


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "# Token fusion: three forms",
        "",
        f"`intermediate_tokens` (`lidar_scale=0.02`) in three forms and `intermediate_add` for reference; the "
        f"assignment recipe at {data['settings']['train_frames']} training frames, {data['settings']['epochs']} epochs, "
        f"{data['settings']['val_frames']} validation frames; machine: {data['machine']}, torch {data['torch']}. A run "
        f"*left chance* when its validation accuracy passed {LEFT_CHANCE} at some epoch.",
        "",
        "| form | seed | train loss per epoch | val accuracy per epoch | left chance |",
        "|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        lines.append(f"| {run['form']} | {run['seed']} | {', '.join(f'{v:.3f}' for v in run['train_loss'])} | "
                     f"{', '.join(f'{v:.3f}' for v in run['val_accuracy'])} | {'yes' if run['left_chance'] else 'no'} |")
    lines += ["", "| form | runs that left chance | mean val accuracy at the last epoch |", "|---|---|---|"]
    for form, count in data["left_chance"].items():
        runs = [run for run in data["runs"] if run["form"] == form]
        last = sum(run["val_accuracy"][-1] for run in runs) / max(len(runs), 1)
        lines.append(f"| {form} | {count} of {len(runs)} | {last:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[51, 52, 53, 54, 55])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-frames", type=int, default=640)
    parser.add_argument("--val-frames", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = {"epochs": args.epochs, "train_frames": args.train_frames, "val_frames": args.val_frames}
    data = {"settings": settings, "machine": device_name(torch.device("cpu")),
            "torch": torch.__version__.split("+")[0], "runs": []}
    previous = args.out / "results.json"
    if previous.exists() and json.loads(previous.read_text())["settings"] == settings:
        data["runs"] = json.loads(previous.read_text())["runs"]
    for seed in args.seeds:
        for form in FORMS:
            if any(run["form"] == form and run["seed"] == seed for run in data["runs"]):
                continue
            data["runs"].append(train_one(form, seed, settings))
            data["left_chance"] = {f: sum(r["left_chance"] for r in data["runs"] if r["form"] == f) for f in FORMS}
            print(write_result(args.out, data, markdown(data)).splitlines()[-4:], flush=True)
    return data


if __name__ == "__main__":
    main()

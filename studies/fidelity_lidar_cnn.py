"""How faithful are mmzoo's synthetic LiDAR frames? Ask a classifier trained on the real ones.

The NVIDIA DLI course's assessment LiDAR classifier was trained on the real cube/sphere frames (raw 1-channel
depth input, cube = 0, sphere = 1). If the generator reproduces the real geometry (sizes, distances, ranges,
beam grid, no-return value), that network classifies mmzoo's ``shapes`` frames as well as it classified its
own validation data. This script builds the network, loads the given state dict (never shipped with mmzoo:
pass its path), and reports accuracy overall and per class.

Usage::

    python studies/fidelity_lidar_cnn.py --checkpoint lidar_cnn.pt --frames 2000 --seed 0 \\
        [--json studies/results/fidelity-lidar-cnn/results.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmzoo.data.render import SceneSettings
from mmzoo.data.sets import generate, get_dataset

DATASET = "shapes"


def build_lidar_cnn() -> nn.Module:
    """The course's assessment LiDAR classifier; state-dict keys ``embedder.{0,3,6,9}``, ``classifier.{0,2}``."""
    blocks: list[nn.Module] = []
    for c_in, c_out in ((1, 50), (50, 100), (100, 200), (200, 200)):
        blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    model = nn.Module()
    model.embedder = nn.Sequential(*blocks, nn.Flatten())
    model.classifier = nn.Sequential(nn.Linear(200 * 4 * 4, 100), nn.ReLU(), nn.Linear(100, 1))
    model.forward = lambda x: model.classifier(model.embedder(x))  # type: ignore[method-assign]
    return model


def load_lidar_cnn(checkpoint: str | Path) -> nn.Module:
    """Build the classifier and load ``checkpoint`` strictly (CPU, weights only)."""
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} not found; pass --checkpoint PATH to the course's lidar_cnn.pt state dict "
            "(assessment/lidar_cnn.pt of the public GitHub repository skr3178/MultiModal-Coursework)"
        )
    model = build_lidar_cnn()
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"), strict=True)
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, depth: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted labels (logit > 0 -> sphere = 1) for raw depth maps ``(N, 64, 64)``."""
    out = []
    for start in range(0, len(depth), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(depth[start : start + batch_size]))[:, None]
        out.append((model(x)[:, 0] > 0).long().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def evaluate(checkpoint: str | Path, frames: int, seed: int, settings: SceneSettings | None = None) -> dict:
    """Generate ``frames`` ``shapes`` frames and score the classifier on them; returns a JSON-ready dict."""
    settings = settings or SceneSettings()
    model = load_lidar_cnn(checkpoint)
    start = time.perf_counter()
    data = generate(DATASET, frames, seed=seed, settings=settings)
    gen_seconds = time.perf_counter() - start
    pred = predict(model, data.depth)
    labels = data.labels
    per_class = {
        name: float((pred[labels == i] == i).mean()) if (labels == i).any() else float("nan")
        for i, name in enumerate(data.class_names)
    }
    hits = (data.depth < settings.max_range).sum(axis=(1, 2))
    return {
        "benchmark": "fidelity_lidar_cnn",
        "dataset": DATASET,
        "version": get_dataset(DATASET).version,
        "frames": int(frames),
        "seed": int(seed),
        "accuracy": float((pred == labels).mean()),
        "per_class_accuracy": per_class,
        "class_counts": {name: int((labels == i).sum()) for i, name in enumerate(data.class_names)},
        "hit_beams_per_frame": {"mean": float(hits.mean()), "min": int(hits.min()), "max": int(hits.max())},
        "generate_seconds": round(gen_seconds, 3),
        "settings": dataclasses.asdict(settings),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="path to the course's lidar_cnn.pt state dict")
    parser.add_argument("--frames", type=int, default=2000, help="number of shapes frames (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here (JSON)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        result = evaluate(args.checkpoint, args.frames, args.seed)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"fidelity_lidar_cnn: error: {err}", file=sys.stderr)
        return 1
    print(f"dataset {result['dataset']} v{result['version']}, {result['frames']} frames, seed {result['seed']}")
    print(f"accuracy {result['accuracy']:.4f}")
    for name, acc in result["per_class_accuracy"].items():
        print(f"  {name:<7} {acc:.4f}  ({result['class_counts'][name]} frames)")
    hits = result["hit_beams_per_frame"]
    print(f"hit beams per frame: mean {hits['mean']:.0f}, min {hits['min']}, max {hits['max']}")
    print(f"generator settings: {json.dumps(result['settings'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

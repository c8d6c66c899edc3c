"""``mmzoo predict MODEL FOLDER``: one row per sample of an own-data folder (id, prediction, probability).

    mmzoo predict local-dir:my_model new_data --out predictions.csv
    mmzoo predict local-dir:my_model my_data --split test               # only the labels file's test rows

MODEL is anything ``mmzoo.create`` loads with weights (``local-dir:FOLDER``, ``hf-hub:org/name``,
``late_fusion.shapes_v1``); the folder is read with the model's own preprocessing (``mmzoo.transforms_for``).
Classification rows hold the predicted class, its probability and one ``p_<class>`` column per class;
regression rows the predicted values, one column per target.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from mmzoo.pretrained.factory import create
from mmzoo.train.predict import predict

__all__ = ["register", "load_model"]


def load_model(name: str, device: str = "cpu"):
    """The model ``name`` with its weights, on ``device``, in eval mode."""
    return create(name, pretrained=True).to(device).eval()


def add_model_and_folder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a model with weights: local-dir:FOLDER, hf-hub:ORG/NAME or arch.tag")
    parser.add_argument("folder", help="an own-data folder: rgb/<id>.png and lidar/<id>.npy (labels optional)")
    parser.add_argument("--split", choices=("train", "val", "test"), help="only the samples of this split")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=int, default=256, help="samples per forward pass (default 256)")


def _cmd_predict(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.device)
    rows = predict(model, args.folder, batch_size=args.batch_size, split=args.split).rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()})
    if args.out:
        Path(args.out).write_text(buffer.getvalue())
        print(f"wrote {len(rows)} predictions to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict every sample of an own-data folder (CSV rows)")
    add_model_and_folder(parser)
    parser.add_argument("--out", help="write the CSV here (default: standard output)")
    parser.set_defaults(func=_cmd_predict)

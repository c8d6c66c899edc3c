"""``mmzoo export-onnx``: a model as an ONNX file; ``mmzoo golden``: record or check weights' golden outputs.

    mmzoo export-onnx intermediate_cat --pretrained --out cat.onnx
    mmzoo export-onnx course_late_fusion --out late.onnx --opset 18
    mmzoo golden --check weights/*        # every published weight still gives its recorded output
    mmzoo golden weights/late_fusion.shapes_v1   # (re)record it, e.g. for a folder exported before golden records
"""
from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    # Imported here: torch.onnx and onnx load slowly and are an optional extra, not needed for `mmzoo --help`.
    from mmzoo.release.onnx import export_onnx, read_onnx_metadata

    try:
        path = export_onnx(args.model, args.out, pretrained=args.pretrained, opset=args.opset)
    except ImportError as err:  # the optional extra is missing: say how to install it, without a traceback
        print(f"mmzoo: error: {err}", file=sys.stderr)
        return 1
    meta = read_onnx_metadata(path)
    summary = {
        "path": str(path),
        "architecture": meta["mmzoo.architecture"],
        "inputs": meta["mmzoo.inputs"],
        "output": meta["mmzoo.output"],
        "opset": meta["mmzoo.opset"],
        "weight": meta["mmzoo.weight"],
        "num_bytes": path.stat().st_size,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        weight = summary["weight"]["name"] if summary["weight"] else "random initialisation"
        print(f"{path}: {summary['architecture']} ({weight}), inputs {', '.join(summary['inputs'])} "
              f"(batch, C, H, W) -> {summary['output']}, opset {summary['opset']}, {summary['num_bytes']:,} bytes")
    return 0


def _cmd_golden(args: argparse.Namespace) -> int:
    from mmzoo.errors import GoldenOutputError
    from mmzoo.release.golden import check_golden_folder, record_golden

    failed = 0
    for folder in args.folders:
        if not args.check:
            record = record_golden(folder)
            print(f"{folder}: recorded the output of {record['batch']} inputs (seed {record['seed']})")
            continue
        try:
            print(f"{folder}: ok (max abs difference {check_golden_folder(folder):.2g})")
        except GoldenOutputError as err:
            print(f"{folder}: FAILED: {err}")
            failed += 1
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export-onnx`` and ``golden``."""
    p = subparsers.add_parser("export-onnx", help="export a model to ONNX (named rgb/lidar inputs, dynamic batch)")
    p.add_argument("model", metavar="NAME", help="a model name for mmzoo.create, e.g. intermediate_cat")
    p.add_argument("--pretrained", action="store_true", help="export the published weights (default tag)")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--opset", type=int, metavar="N", help="ONNX opset (default: torch's exporter's; 18 or more)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=_cmd_export_onnx)

    p = subparsers.add_parser("golden", help="record (or --check) the golden outputs of weight folders")
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="weight folders, e.g. weights/late_fusion.shapes_v1")
    p.add_argument("--check", action="store_true", help="check instead of record; exit 1 if any differs")
    p.set_defaults(func=_cmd_golden)

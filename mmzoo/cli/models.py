"""``mmzoo list`` and ``mmzoo info NAME``: the registry as readable tables (or JSON with ``--json``)."""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from mmzoo.registry.metadata import SOURCES, ArchInfo
from mmzoo.registry import get_weights, list_models, list_pretrained, model_info, split_model_name_tag

__all__ = ["register", "format_table", "model_rows"]

COLUMNS = ("name", "source", "fusion", "fused after", "op", "downsample", "params", "outputs", "inputs")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table with left-aligned columns (right-aligned for numbers)."""
    cells = [[str(h) for h in headers]] + [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [bool(rows) and all(isinstance(row[i], int) for row in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _inputs(info: ArchInfo) -> str:
    spec = info.input_spec
    parts = [f"{m} {spec.shape(m)[0]}ch" for m in spec.modalities]
    if "lidar" in spec.modalities and spec.xyza_formula:
        parts[-1] += f" ({spec.xyza_formula} xyza)"
    return ", ".join(parts)


def model_rows(names: Sequence[str]) -> list[tuple]:
    """One row per architecture, in ``COLUMNS`` order."""
    rows = []
    for name in names:
        info = model_info(name)
        rows.append((name, info.source, info.fusion_point, info.fused_after, info.fusion_op or "-", info.downsample,
                     info.num_params, info.num_outputs, _inputs(info)))
    return rows


def _cmd_list(args: argparse.Namespace) -> int:
    if args.pretrained:
        names = list_pretrained(args.filter or "", args.exclude or "")
        if args.json:
            print(json.dumps(names, indent=2))
        else:
            print("\n".join(_availability(n) for n in names) if names else "no pretrained weights are published yet")
        return 0
    point = int(args.fusion_point) if args.fusion_point and args.fusion_point.isdigit() else args.fusion_point
    names = list_models(args.filter or "", args.exclude or "", family=args.family, fusion_op=args.fusion_op,
                        fusion_point=point)
    if args.json:
        print(json.dumps([model_info(n).to_dict() for n in names], indent=2))
        return 0
    print(format_table(COLUMNS, model_rows(names)))
    print()
    for key in sorted({model_info(n).source for n in names}):
        print(f"source {key}: {SOURCES[key]}")
    return 0


def _availability(name: str) -> str:
    """``arch.tag (shipped; built with lidar_scale=0.02, ...)``: where the weight would load from now, and the
    constructor arguments ``create(name, pretrained=True)`` builds with."""
    from mmzoo.pretrained.availability import weight_availability

    weight = get_weights(name)
    kwargs = ", ".join(f"{key}={value!r}" for key, value in sorted(weight.model_kwargs.items()))
    return f"{name} ({weight_availability(weight).describe()}; built with {kwargs or 'the defaults'})"


def _cmd_info(args: argparse.Namespace) -> int:
    if split_model_name_tag(args.name)[1]:
        get_weights(args.name)  # an unknown tag fails here as mmzoo.create fails, listing the published tags
    info = model_info(args.name)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    spec = info.input_spec
    fields = [
        ("name", info.name),
        ("source", f"{info.source}: {info.source_title}"),
        ("task", info.task),
        ("fusion point", info.fusion_point),
        ("fused after", info.fused_after),
        ("fusion op", info.fusion_op or "none (single modality)"),
        ("fusion detail", info.fusion_detail),
        ("downsample", info.downsample),
        ("parameters", f"{info.num_params:,}"),
        ("outputs", info.num_outputs),
        ("inputs", spec.describe()),
        ("pretrained", ", ".join(_availability(n) for n in list_pretrained(f"{info.name}.*")) or "none published yet"),
    ]
    width = max(len(k) for k, _ in fields)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in fields))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``list`` and ``info``."""
    p = subparsers.add_parser("list", help="list registered architectures with parameter counts and sources")
    p.add_argument("filter", nargs="*", help="fnmatch wildcards, e.g. 'intermediate_*'")
    p.add_argument("--exclude", action="append", help="wildcard to leave out (repeatable)")
    p.add_argument("--pretrained", action="store_true", help="list published weights (arch.tag) instead")
    p.add_argument("--family", help="only this family: assignment, course, catalogue, timm")
    p.add_argument("--fusion-op", help="only architectures fusing with this operator, e.g. film (mmzoo.models.list_fusions())")
    p.add_argument("--fusion-point", help="only this fusion point (early, intermediate, late, none) or stage number")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_list)

    p = subparsers.add_parser("info", help="show one architecture's metadata")
    p.add_argument("name", help="architecture name, e.g. intermediate_cat")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_info)

"""``mmzoo data ...``: generate a synthetic dataset into a folder, list the datasets, preview a folder.

    mmzoo data list
    mmzoo data generate NAME --out DIR [--frames N] [--seed S] [--layout course|assessment] [--overwrite]
    mmzoo data preview DIR [--out PNG] [--n N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from mmzoo.data.frames import Frames
from mmzoo.data.writers import FolderWriter, default_layout
from mmzoo.data.manifest import check_space, estimate_bytes
from mmzoo.data.sets import CHUNK_FRAMES, DATASETS, generate, get_dataset, list_datasets

__all__ = ["register", "generate_frames", "generate_to_folder"]


def generate_frames(name: str, frames: int, seed: int = 0, chunk: int = CHUNK_FRAMES, progress: bool = True) -> Frames:
    """:func:`mmzoo.data.sets.generate` in chunks of ``chunk`` frames with a progress bar, all in memory (to
    write a large set to disk, :func:`generate_to_folder` streams it instead).

    The result is byte-identical to one ``generate(name, frames, seed)`` call (randomness is keyed by frame
    index, not by call).
    """
    get_dataset(name)  # fail on an unknown name before drawing the progress bar
    if frames < 1:
        raise ValueError(f"--frames must be at least 1; got {frames}")
    parts: list[Frames] = []
    with tqdm(total=frames, unit="frame", desc=f"generate {name}", disable=not progress) as bar:
        for start in range(0, frames, chunk):
            parts.append(generate(name, min(chunk, frames - start), seed=seed, start=start))
            bar.update(len(parts[-1]))
    frames_out = Frames.concat(parts)
    frames_out.metadata["start"] = 0
    return frames_out


def _cmd_list(args: argparse.Namespace) -> int:
    for name in list_datasets():
        spec = DATASETS[name]
        print(f"{name:<10} v{spec.version:<5} {spec.description}")
    return 0


def generate_to_folder(name: str, out: str | Path, frames: int, seed: int = 0, layout: str | None = None,
                       overwrite: bool = False, chunk: int = CHUNK_FRAMES, progress: bool = True) -> Path:
    """Generate ``frames`` frames of dataset ``name`` straight into ``out``, one chunk in memory at a time.

    The request is checked before anything is written: the folder must be empty (or, with ``overwrite``, hold
    only a dataset mmzoo wrote), and the disk must hold the estimated size (refused with that size otherwise).
    The folder is locked while it is written; the frames are byte-identical to one ``generate`` call.
    """
    get_dataset(name)  # fail on an unknown name first
    if frames < 1:
        raise ValueError(f"--frames must be at least 1; got {frames}")
    sample = generate(name, min(frames, 8), seed=seed)
    layout = layout or default_layout(sample)
    check_space(out, estimate_bytes(sample.rgba, sample.depth, frames, row_bytes=120 if layout == "course" else 0))
    with FolderWriter(out, layout, frames, overwrite=overwrite) as writer, \
            tqdm(total=frames, unit="frame", desc=f"generate {name}", disable=not progress) as bar:
        for start in range(0, frames, chunk):
            part = generate(name, min(chunk, frames - start), seed=seed, start=start)
            writer.add(part)
            bar.update(len(part))
    return writer.root


def _cmd_generate(args: argparse.Namespace) -> int:
    begin = time.perf_counter()
    try:
        out = generate_to_folder(args.name, args.out, args.frames, seed=args.seed, layout=args.layout,
                                 overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\nmmzoo: interrupted; {args.out} is incomplete (its mmzoo.json says so and readers refuse it). "
              "Rerun the same command with --overwrite to generate it again.", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - begin
    spec = get_dataset(args.name)
    print(
        f"{args.name} v{spec.version}: {args.frames} frames, seed {args.seed} -> {out}\n"
        f"generated and written at {args.frames / max(seconds, 1e-9):,.0f} frames/s ({seconds:.2f} s)"
    )
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from mmzoo.data.preview import write_preview

    folder = Path(args.dir)
    out = Path(args.out) if args.out else folder / "preview.png"
    written = write_preview(folder, out, n=args.n)
    print(f"wrote {written}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group (``list``, ``generate``, ``preview``)."""
    parser = subparsers.add_parser("data", help="synthetic datasets: list, generate, preview")
    commands = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    p_list = commands.add_parser("list", help="list the synthetic datasets and their versions")
    p_list.set_defaults(func=_cmd_list)

    p_gen = commands.add_parser("generate", help="generate a synthetic dataset into a folder")
    p_gen.add_argument("name", metavar="NAME", help=f"dataset name: {', '.join(list_datasets())}")
    p_gen.add_argument("--out", required=True, help="folder to write (must be empty unless --overwrite); locked "
                       "while it is written")
    p_gen.add_argument("--frames", type=int, default=1000, help="number of frames (default 1000)")
    p_gen.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same bytes")
    p_gen.add_argument(
        "--layout",
        choices=("course", "assessment"),
        default=None,
        help="folder layout (default: assessment for labelled sets, course for position sets)",
    )
    p_gen.add_argument("--overwrite", action="store_true",
                       help="replace a dataset mmzoo wrote in --out (a folder holding other files is refused)")
    p_gen.add_argument("--quiet", action="store_true", help="no progress bar")
    p_gen.set_defaults(func=_cmd_generate)

    p_prev = commands.add_parser("preview", help="write a PNG grid of RGB, depth and LiDAR top view per frame")
    p_prev.add_argument("dir", metavar="DIR", help="dataset folder (course or assessment layout)")
    p_prev.add_argument("--out", default=None, help="PNG to write (default DIR/preview.png)")
    p_prev.add_argument("--n", type=int, default=8, help="number of frames to show (default 8)")
    p_prev.set_defaults(func=_cmd_preview)

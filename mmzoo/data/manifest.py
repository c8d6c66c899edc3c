"""What mmzoo wrote into a data folder, so that rewriting it never deletes anything else, and whether it fits.

A folder written by mmzoo holds ``mmzoo.json``, its manifest: the frames' metadata, how many frames each frame
folder holds (``rgb/NNNN.png`` + ``lidar/NNNN.npy``), the other files written (angles, ``positions.csv``) and
whether writing finished. The manifest is written before the first frame (with the counts the writer may reach)
and again at the end (with the exact counts, ``complete: true``), so even an interrupted write is known.

Overwriting (:func:`clear_written`) deletes exactly the files the manifest names and the folders left empty; a
folder holding anything else (a user's notes, frames of another tool, no manifest at all) is refused with the
names of those files. :func:`check_space` refuses a write that the disk cannot hold, with the size it would take.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from mmzoo.data import _io
from mmzoo.utils.files import LOCK_NAME, atomic_write_text

__all__ = ["MANIFEST_NAME", "FRAME_FILES", "read_manifest", "write_manifest", "written_files", "clear_written",
           "estimate_bytes", "check_space"]

MANIFEST_NAME = "mmzoo.json"
#: The files of one frame inside a frame folder: (subfolder, extension).
FRAME_FILES = (("rgb", ".png"), ("lidar", ".npy"))
_BLOCK = 4096  # file systems allocate whole blocks: a 3 KB PNG takes 4 KiB of disk


def read_manifest(root: str | Path) -> dict[str, Any] | None:
    """The manifest of ``root`` (None if it has none); a manifest that is not mmzoo's JSON is an error."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON written by mmzoo ({err}); delete it or fix it") from err
    return manifest


def write_manifest(root: Path, layout: str, frames: dict[str, int], files: list[str], metadata: dict[str, Any],
                   complete: bool) -> None:
    """Write ``root/mmzoo.json`` atomically (``frames``: frame count per frame folder, ``""`` for ``root``)."""
    manifest = {"layout": layout, "num_frames": sum(frames.values()), "frames": frames, "files": sorted(files),
                "complete": complete, "metadata": metadata}
    atomic_write_text(root / MANIFEST_NAME, _io.dumps(manifest) + "\n")


def _legacy_frames(root: Path, manifest: dict[str, Any]) -> dict[str, int]:
    # Manifests written before per-folder counts were recorded: every numbered frame file was mmzoo's.
    folders = [""] if manifest.get("layout") == "course" else ["cubes", "spheres"]
    counts = {}
    for folder in folders:
        numbered = [p for p in (root / folder / "rgb").glob("*.png") if p.stem.isdigit()]
        counts[folder] = max((int(p.stem) + 1 for p in numbered), default=0)
    return counts


def written_files(root: str | Path, manifest: dict[str, Any]) -> set[str]:
    """Paths (relative to ``root``, ``/``-separated) of every file the manifest says mmzoo wrote."""
    root = Path(root)
    frames = manifest.get("frames") or _legacy_frames(root, manifest)
    files = {MANIFEST_NAME, *manifest.get("files", ())}
    if "frames" not in manifest:  # legacy: the angles and positions.csv beside the frames
        files |= {f"{folder}/{name}".lstrip("/") for folder in frames for name in ("azimuth.npy", "zenith.npy")}
        files.add("positions.csv")
    for folder, count in frames.items():
        for sub, ext in FRAME_FILES:
            files.update(f"{folder}/{sub}/{_io.frame_name(i, ext)}".lstrip("/") for i in range(count))
    return files


def _present_files(root: Path) -> set[str]:
    found = set()
    for folder, _, names in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        found.update(name if relative == "." else f"{relative}/{name}" for name in names)
    return found - {LOCK_NAME}


def _refuse(root: Path, names: list[str], why: str) -> FileExistsError:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return FileExistsError(f"{root} {why}: {shown}; mmzoo overwrites only the files it wrote, so move these away "
                           "or choose another folder")


def clear_written(root: str | Path, overwrite: bool) -> None:
    """Make ``root`` ready for a new write: nothing to do if it is empty; with ``overwrite``, delete the files its
    manifest names (and the folders that leaves empty). Anything else in it is refused (FileExistsError)."""
    root = Path(root)
    present = _present_files(root) if root.is_dir() else set()
    if not present:
        return
    if not overwrite:
        raise FileExistsError(f"{root} is not empty; write to an empty folder, or pass overwrite "
                              "(--overwrite) to replace a dataset mmzoo wrote there")
    manifest = read_manifest(root)
    if manifest is None:
        raise _refuse(root, sorted(present), f"has no {MANIFEST_NAME} (mmzoo did not write it) and holds")
    foreign = sorted(present - written_files(root, manifest))
    if foreign:
        raise _refuse(root, foreign, "holds files mmzoo did not write")
    for name in sorted(present, key=lambda n: n == MANIFEST_NAME):  # the manifest last: a crash keeps the record
        (root / name).unlink()
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        if Path(folder) != root and not os.listdir(folder):
            os.rmdir(folder)


def _on_disk(num_bytes: int) -> int:
    return -(-num_bytes // _BLOCK) * _BLOCK


def estimate_bytes(rgba: np.ndarray, depth: np.ndarray, total_frames: int, row_bytes: int = 0) -> int:
    """Disk space ``total_frames`` frames like the sample ``rgba`` / ``depth`` (a few frames) will take: their
    PNG and .npy files as written (rounded up to whole file-system blocks) plus ``row_bytes`` per frame for a
    CSV row."""
    png = []
    for image in rgba:
        buffer = io.BytesIO()
        _io.write_rgba(buffer, image)
        png.append(_on_disk(buffer.tell()))
    buffer = io.BytesIO()
    _io.write_depth(buffer, depth[0])
    per_frame = (sum(png) / len(png)) + _on_disk(buffer.tell()) + row_bytes
    return int(per_frame * total_frames) + 64 * _BLOCK  # angles, manifest and folders


def check_space(root: str | Path, needed: int) -> None:
    """Raise OSError (with the sizes) if the file system of ``root`` has less than ``needed`` bytes free."""
    existing = Path(root).expanduser().absolute()
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise OSError(f"writing to {root} would take about {needed / 2**30:,.2f} GiB but only {free / 2**30:,.2f} "
                      "GiB are free there; ask for fewer frames or choose a folder on a larger disk")

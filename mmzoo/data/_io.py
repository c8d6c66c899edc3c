"""Low-level frame file I/O shared by the folder layouts and the FiftyOne reader (private).

Reading thousands of 64x64 frames is dominated by per-file overhead, not by decoding, so the readers here
fill one preallocated array and avoid repeated work: PNGs are decoded by Pillow straight into the batch, and
``.npy`` files whose header is byte-identical to the first file's (the normal case) are read as raw bytes at
a known offset instead of going through ``np.load`` each time. Every error names the offending file.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "frame_files",
    "read_rgba_stack",
    "read_depth_stack",
    "read_angles",
    "write_rgba",
    "write_depth",
    "frame_name",
    "json_safe",
]


def frame_name(index: int, ext: str) -> str:
    """The layouts' file name of frame ``index``: zero-padded to 4 digits (``0007.png``)."""
    return f"{index:04d}{ext}"


def frame_files(folder: Path, ext: str) -> list[Path]:
    """The numbered frame files ``folder/NNNN{ext}``, as a list where entry ``i`` is frame ``i``.

    Files whose stem is not all digits (``.DS_Store``, notes) are ignored. Raises FileNotFoundError if the
    folder is missing or holds no frames, or if the numbering has a gap (naming the first missing file), and
    ValueError if two files carry the same number (``1.png`` and ``0001.png``).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"missing folder {folder} (expected numbered {ext} frame files in it)")
    found: dict[int, Path] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or "." + suffix.lower() != ext or not stem.isdigit():
                continue
            number = int(stem)
            if number in found:
                raise ValueError(
                    f"{found[number]} and {folder / entry.name} are both frame {number}; keep only one of them"
                )
            found[number] = folder / entry.name
    if not found:
        raise FileNotFoundError(f"no frames in {folder}: expected files 0000{ext}, 0001{ext}, ...")
    count = len(found)
    if max(found) != count - 1:  # numbers are unique and >= 0, so this is exactly "has a gap"
        missing = next(i for i in range(count) if i not in found)
        raise FileNotFoundError(
            f"{folder / frame_name(missing, ext)} is missing: frames must be numbered from "
            f"{frame_name(0, ext)} without gaps, but {folder} runs up to {found[max(found)].name}"
        )
    return [found[i] for i in range(count)]


def _open_png(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path} is not a readable PNG image: {err}") from err
    return image


def read_rgba_stack(paths: Sequence[Path]) -> np.ndarray:
    """Decode PNG files into one ``(N, H, W, 4)`` uint8 array.

    8-bit RGBA is the real data's format; 8-bit RGB files are accepted and given an opaque alpha (255), as the
    real files' alpha is 255 everywhere. Any other mode, or a size differing from the first file's, raises
    ValueError naming the file.
    """
    if not paths:
        return np.empty((0, 0, 0, 4), dtype=np.uint8)
    with _open_png(paths[0]) as first:
        width, height = first.size
    out = np.empty((len(paths), height, width, 4), dtype=np.uint8)
    for i, path in enumerate(paths):
        with _open_png(path) as image:
            if image.size != (width, height):
                raise ValueError(
                    f"{path} is {image.size[0]}x{image.size[1]} pixels but {paths[0]} is {width}x{height}; "
                    "all frames must have the same size"
                )
            if image.mode == "RGBA":
                out[i] = np.asarray(image)
            elif image.mode == "RGB":
                out[i, ..., :3] = np.asarray(image)
                out[i, ..., 3] = 255
            else:
                raise ValueError(
                    f"{path} has PNG mode {image.mode!r}; expected 8-bit RGBA (or RGB) images. "
                    "Convert it, e.g. Image.open(p).convert('RGBA').save(p)"
                )
    return out


def _load_npy(path: Path, buf: bytes) -> np.ndarray:
    if not buf.startswith(b"\x93NUMPY"):  # np.load would fall back to unpickling and say something confusing
        raise ValueError(f"{path} is not a valid .npy file (no NumPy header); save depth maps with np.save")
    try:
        return np.load(io.BytesIO(buf), allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{path} is not a plain numeric .npy array: {err}") from err


def _npy_header(path: Path, buf: bytes) -> tuple[int, tuple[int, ...], bool, np.dtype]:
    """Header length, shape, Fortran order and dtype of an .npy file's bytes."""
    fp = io.BytesIO(buf)
    try:
        version = np.lib.format.read_magic(fp)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(fp)
    except ValueError as err:
        raise ValueError(f"{path} is not a valid .npy file: {err}") from err
    return fp.tell(), shape, fortran, dtype


def _check_depth(path: Path, array: np.ndarray, shape: tuple[int, ...] | None) -> None:
    if array.dtype.kind != "f":
        raise ValueError(f"{path} holds {array.dtype} values; expected a float32 depth map (range per beam)")
    if array.ndim != 2:
        raise ValueError(f"{path} has shape {array.shape}; expected a 2-D (azimuth, zenith) depth map")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{path} has shape {array.shape} but the other frames are {shape}")


def read_depth_stack(paths: Sequence[Path]) -> np.ndarray:
    """Load ``.npy`` depth maps into one ``(N, A, Z)`` float32 array.

    Every file must hold a 2-D floating-point array of the first file's shape (float64/float16 are cast to
    float32); anything else raises ValueError naming the file.
    """
    if not paths:
        return np.empty((0, 0, 0), dtype=np.float32)
    first_buf = Path(paths[0]).read_bytes()
    offset, shape, fortran, dtype = _npy_header(paths[0], first_buf)
    first = _load_npy(paths[0], first_buf)
    _check_depth(paths[0], first, None)
    header = first_buf[:offset]
    nbytes = int(np.prod(shape)) * dtype.itemsize
    order = "F" if fortran else "C"
    out = np.empty((len(paths), *shape), dtype=np.float32)
    out[0] = first
    for i in range(1, len(paths)):
        path = paths[i]
        with open(path, "rb") as fh:
            buf = fh.read()
        if buf[:offset] == header and len(buf) - offset == nbytes:
            # Same header as frame 0, hence same dtype/shape/order: skip np.load's parsing.
            out[i] = np.frombuffer(buf, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(
                shape, order=order
            )
        else:
            array = _load_npy(path, buf)
            _check_depth(path, array, shape)
            out[i] = array
    return out


def read_angles(path: Path, length: int, what: str) -> np.ndarray:
    """Load a 1-D angle array (radians) of ``length`` entries as float32.

    ``what`` says what the length must match (used in the error message), e.g. "azimuth rows of lidar/0000.npy".
    """
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}: the layout needs one angle per beam ({length} values, radians)")
    array = _load_npy(path, path.read_bytes())
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{path} holds {array.dtype} values; expected angles in radians (float)")
    if array.ndim > 1 and array.size == max(array.shape):  # tolerate (64, 1) / (1, 64)
        array = array.reshape(-1)
    if array.ndim != 1 or array.size != length:
        raise ValueError(
            f"{path} has shape {array.shape} but must hold {length} angles, one per {what}; "
            "check that the angle file belongs to these frames"
        )
    return array.astype(np.float32)


def write_rgba(path: Path, rgba: np.ndarray) -> None:
    """Write one ``(H, W, 4)`` uint8 frame as an 8-bit RGBA PNG."""
    # compress_level 1: several times faster than the default 6 and barely larger on these sparse images.
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(path, format="PNG", compress_level=1)


def write_depth(path: Path, depth: np.ndarray) -> None:
    """Write one ``(A, Z)`` depth map as a float32 ``.npy`` file."""
    np.save(path, np.ascontiguousarray(depth, dtype=np.float32), allow_pickle=False)


def json_safe(value: Any) -> Any:
    """``value`` with numpy arrays/scalars and paths turned into JSON types (anything else becomes a string)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def dumps(value: Any) -> str:
    """Pretty JSON of :func:`json_safe` ``value``."""
    return json.dumps(json_safe(value), indent=2, sort_keys=True)

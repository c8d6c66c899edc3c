"""Files written so that nothing half-written is ever read, checked against their records, and guarded against
a second writer.

- :func:`atomic_write_bytes` (and ``_text`` / ``_json``): write a temporary file beside the target, fsync it,
  then ``os.replace`` it: a reader (or a crash) sees the old file or the whole new one. The target's permission
  bits are kept (a new file gets the umask's, not ``mkstemp``'s private 0600).
- :func:`file_sha256` / :func:`verify_file`: the digest and size that weights are published with, checked.
- :func:`folder_lock`: an exclusive ``fcntl`` lock on ``<folder>/.mmzoo.lock`` held for a block; a second
  writer is refused at once with :class:`mmzoo.errors.BusyError` instead of mixing its output with the first.
  The kernel drops the lock when the process dies, so a killed run never leaves a stale lock behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from mmzoo.errors import BusyError, IntegrityError

__all__ = [
    "LOCK_NAME",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "file_sha256",
    "verify_file",
    "folder_lock",
]

#: The lock file a writer holds in the folder it writes.
LOCK_NAME = ".mmzoo.lock"


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync it and move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _default_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_bytes(target, b"hello").read_bytes()
    b'hello'
    """
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``text`` (UTF-8) written atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value: Any, *, sort_keys: bool = False) -> Path:
    """``json.dumps(value, indent=2)`` plus a newline, written atomically."""
    return atomic_write_text(path, json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: str | Path, sha256: str | None, num_bytes: int | None) -> None:
    """Raise :class:`IntegrityError` unless ``path`` has the recorded size and sha256.

    Either record may be None (that one is not checked); callers decide whether an unrecorded file may load.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; re-download or re-save the model")
    size = path.stat().st_size
    if num_bytes is not None and size != num_bytes:
        raise IntegrityError(f"{path} is {size:,} bytes but {num_bytes:,} were recorded: the file is truncated or "
                             "corrupted; re-download or re-save it")
    if sha256 is not None and (actual := file_sha256(path)) != sha256:
        raise IntegrityError(f"{path} has sha256 {actual} but {sha256} was recorded: the file is corrupted or was "
                             "modified; re-download or re-save it")


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "this folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` for the block, or raise :class:`BusyError` at once if another
    process holds it.

    Args:
        folder: the folder to guard (created if missing).
        what: how to name the folder in the error, e.g. ``"the run folder"``.
    """
    import fcntl  # POSIX only; imported here so that the rest of the module works everywhere

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / LOCK_NAME
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"{what} {folder} is being written by another mmzoo process (it holds {lock_path}); "
                            "wait for it to finish, or choose another folder") from None
        try:
            yield folder
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

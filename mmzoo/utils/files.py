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
import ctypes
import hashlib
import json
import os
import stat
import tempfile
import time
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
    "file_lock",
    "folder_lock",
    "replace_folder",
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
def file_lock(lock_path: str | Path, what: str, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold an exclusive ``fcntl`` lock on ``lock_path`` for the block, or raise :class:`BusyError` if another
    holder has it (at once, or after ``wait_s`` seconds of retrying: writers that only need turns wait).

    Args:
        lock_path: the lock file (created if missing; its content is never read).
        what: what the lock guards, for the error, e.g. ``"the run folder runs/x"``.
        wait_s: how long to wait for the other holder before giving up.
    """
    import fcntl  # POSIX only; imported here so that the rest of the module works everywhere

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with open(lock_path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BusyError(f"{what} is being written by another mmzoo process (it holds {lock_path}); "
                                    "wait for it to finish, or choose another folder") from None
                time.sleep(0.05)
        try:
            yield lock_path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "the folder", wait_s: float = 0.0) -> Iterator[Path]:
    """:func:`file_lock` on ``<folder>/.mmzoo.lock``: one writer of ``folder`` at a time (created if missing).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with folder_lock(folder):
    ...     with folder_lock(folder):  # a second writer (here: a second handle) is refused
    ...         pass
    Traceback (most recent call last):
    ...
    mmzoo.errors.BusyError: the folder ... is being written by another mmzoo process ...
    """
    folder = Path(folder)
    with file_lock(folder / LOCK_NAME, f"{what} {folder}", wait_s):
        yield folder


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step with Linux ``renameat2(RENAME_EXCHANGE)``; False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def replace_folder(staging: str | Path, target: str | Path) -> Path:
    """Move the complete folder ``staging`` onto ``target``, replacing an existing ``target`` without a moment in
    which a reader finds it deleted or half-written.

    On Linux the two folders are exchanged in one ``renameat2`` call; elsewhere the old folder is renamed aside
    first (never deleted before the new one is in place). The old content ends up at ``staging``'s path, for
    the caller to delete.
    """
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.replace(staging, target)
        return target
    if _exchange(staging, target):
        return target
    aside = staging.with_name(staging.name + ".old")
    os.replace(target, aside)
    os.replace(staging, target)
    os.replace(aside, staging)
    return target

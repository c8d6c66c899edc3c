"""Small helpers every layer may use: atomic file writes, file digests, folder locks. Imports nothing of mmzoo
but :mod:`mmzoo.errors`."""
from mmzoo.utils.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    file_sha256,
    folder_lock,
    verify_file,
)

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "file_sha256", "folder_lock", "verify_file"]

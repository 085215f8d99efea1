"""Writing outputs: atomically (temporary file in the same folder, then rename), never
over an existing file unless asked.
"""
from __future__ import annotations

__all__ = ["write_text_atomic", "write_bytes_atomic", "write_chunks_atomic", "check_writable"]

import os
import tempfile
from pathlib import Path
from typing import Iterable

from ..errors import ExportError


def check_writable(path: str | Path, *, force: bool = False) -> Path:
    """Fail early, before any work, when ``path`` cannot be written: it exists (without
    ``force``), is a directory, or its folder is missing."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path}: is a directory; give a file name")
    if path.exists() and not force:
        raise ExportError(f"{path}: exists; pass --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{path}: folder {folder} does not exist")
    return path


def write_bytes_atomic(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Raises ExportError when the file exists and ``force`` is false, or the folder is missing.
    """
    return write_chunks_atomic(path, (data,), force=force)


def write_chunks_atomic(path: str | Path, chunks: Iterable[bytes | str], *, force: bool = False) -> Path:
    """Stream ``chunks`` (bytes, or text written as UTF-8) to ``path`` atomically: they go to
    a temporary file in the same folder, renamed into place only once the last is written,
    so memory holds one chunk at a time and a failure (or a kill) leaves the old file."""
    path = check_writable(path, force=force)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the permissions a new file gets
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text_atomic(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"), force=force)

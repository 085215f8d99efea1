"""Writing outputs: atomically (temporary file in the same folder, then rename), never
over an existing file unless asked.
"""
from __future__ import annotations

__all__ = ["write_text_atomic"]

import os
import tempfile
from pathlib import Path

from .errors import ExportError


def write_text_atomic(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one.

    Raises ExportError when the file exists and ``force`` is false, or the folder is missing.
    """
    path = Path(path)
    if path.exists() and not force:
        raise ExportError(f"{path}: exists; pass --force to overwrite it")
    if path.is_dir():
        raise ExportError(f"{path}: is a directory; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path

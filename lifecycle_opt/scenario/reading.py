"""Reading an input file whole, safely: only a regular file (not a device, a FIFO or a
socket, which could be read forever or block), and never more than a limit, counted
while reading (a file under /proc says it is empty and is not). Every reason a file
cannot be read comes back as one ``UnreadableFile`` whose text completes "found …"."""
from __future__ import annotations

__all__ = ["UnreadableFile", "read_bounded"]

import os
import stat
from pathlib import Path


class UnreadableFile(ValueError):
    """Why a file could not be read, in words that follow "found" ("no such file")."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; UnreadableFile
    otherwise (missing, a directory, not a regular file, too large, unreadable)."""
    if "\x00" in str(path):
        raise UnreadableFile("a NUL byte in the file name")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UnreadableFile("no such file") from None
    except OSError as exc:
        raise UnreadableFile((exc.strerror or str(exc)).lower()) from None
    if stat.S_ISDIR(mode):
        raise UnreadableFile("a directory")
    if not stat.S_ISREG(mode):
        raise UnreadableFile("not a regular file (a device, a FIFO or a socket)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UnreadableFile((exc.strerror or str(exc)).lower()) from None
    if len(data) > limit:
        raise UnreadableFile(f"more than {limit:,} bytes")
    return data

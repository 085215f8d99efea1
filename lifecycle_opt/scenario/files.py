"""Reading a TOML file whole, with every way it can be unreadable as one ScenarioError:
missing, a directory, over 1 MB, not UTF-8, not TOML, empty. Scenario files and law
files are read here and nowhere else."""
from __future__ import annotations

__all__ = ["read_toml", "MAX_SCENARIO_BYTES"]

import tomllib
from pathlib import Path

from .schema import fail

#: the largest scenario (or law) file read [bytes]
MAX_SCENARIO_BYTES = 1_000_000


def read_toml(path: Path) -> dict:
    """The dict of the TOML file at ``path``; ScenarioError for anything unreadable."""
    source = str(path)
    if path.is_dir():
        fail(source, "file", "a TOML scenario file", found_text="found a directory")
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:       # before reading it all
            fail(source, "file", "a scenario file under 1 MB", found_text=f"found {path.stat().st_size} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        fail(source, "file", "an existing TOML scenario file", found_text="found no such file")
    except OSError as exc:
        fail(source, "file", "a readable TOML scenario file", found_text=f"found {exc.strerror}")
    if len(raw) > MAX_SCENARIO_BYTES:
        fail(source, "file", "a scenario file under 1 MB", found_text=f"found {len(raw)} bytes")
    try:
        text = raw.decode("utf-8-sig")           # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        fail(source, "file", "UTF-8 text", found_text=f"found an invalid byte at position {exc.start}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        what = str(exc).replace("Cannot overwrite a value", "a key or table defined twice")
        fail(source, "file", "valid TOML", found_text=f"found {what}")
    if not data:
        fail(source, "file", "a scenario with at least a [law] and a [target]",
              found_text="found an empty file")
    return data

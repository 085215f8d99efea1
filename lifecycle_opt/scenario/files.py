"""Reading a TOML file whole, with every way it can be unreadable as one ScenarioError:
missing, a directory or any other non-regular file, over 1 MB, not UTF-8, not TOML,
nested too deeply, empty. Scenario files and law
files are read here and nowhere else."""
from __future__ import annotations

__all__ = ["read_toml", "MAX_SCENARIO_BYTES"]

import tomllib
from pathlib import Path

from .reading import UnreadableFile, read_bounded
from .schema import fail

#: the largest scenario (or law) file read [bytes]
MAX_SCENARIO_BYTES = 1_000_000


def read_toml(path: Path) -> dict:
    """The dict of the TOML file at ``path``; ScenarioError for anything unreadable."""
    source = str(path)
    try:
        raw = read_bounded(path, MAX_SCENARIO_BYTES)
    except UnreadableFile as exc:
        expected = "a scenario file under 1 MB" if "bytes" in str(exc) else "a readable TOML scenario file"
        fail(source, "file", expected, found_text=f"found {exc}")
    try:
        text = raw.decode("utf-8-sig")           # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        fail(source, "file", "UTF-8 text", found_text=f"found an invalid byte at position {exc.start}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        what = str(exc).replace("Cannot overwrite a value", "a key or table defined twice")
        fail(source, "file", "valid TOML", found_text=f"found {what}")
    except RecursionError:
        fail(source, "file", "TOML nested less deeply (tables and arrays within each other)",
             found_text="found nesting deeper than the reader follows")
    if not data:
        fail(source, "file", "a scenario with at least a [law] and a [target]",
              found_text="found an empty file")
    return data

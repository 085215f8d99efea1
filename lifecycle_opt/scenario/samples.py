"""Reading a scenario's bootstrap laws: ``[law] samples = "law_samples.csv"``, the CSV that
``lifeopt fit --bootstrap N --samples FILE`` writes (one law a row: E, A, B, alpha, beta).
Nothing of a file that is not the scenario itself is quoted in an error (a path given by
mistake, such as /proc/self/environ, must not be printed)."""
from __future__ import annotations

__all__ = ["SAMPLE_COLUMNS", "read_samples"]

import csv
import io
import math
from pathlib import Path

from ..errors import ScenarioError
from .reading import UnreadableFile, read_bounded

#: the largest CSV of samples read [bytes]
_MAX_CSV_BYTES = 64 * 2**20

SAMPLE_COLUMNS = ("E", "A", "B", "alpha", "beta")


def read_samples(path: str | Path, key: str = "law.samples") -> list[tuple[float, ...]]:
    """Bootstrap laws from a CSV written by ``lifeopt fit --samples`` (fit.parametric.write_samples):
    [(E, A, B, alpha, beta)]; ScenarioError naming ``key`` and the file otherwise."""
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(read_bounded(path, _MAX_CSV_BYTES).decode("utf-8"))))
    except (UnreadableFile, UnicodeDecodeError) as exc:
        reason = exc if isinstance(exc, UnreadableFile) else f"an invalid byte at position {exc.start}"
        raise ScenarioError(key, "a readable CSV of bootstrap laws (lifeopt fit --samples)",
                            found_text=f"found {path}: {reason}") from None
    if not rows or tuple(h.strip() for h in rows[0]) != SAMPLE_COLUMNS:
        raise ScenarioError(key, f"a CSV with the header {','.join(SAMPLE_COLUMNS)}",
                            found_text=f"found {path} without it" if rows else f"found {path} empty")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            values = tuple(float(v) for v in row)
        except ValueError:
            values = ()
        if len(values) != 5 or not all(math.isfinite(v) and v > 0 for v in values):
            raise ScenarioError(key, "five positive numbers per row",
                                found_text=f"found a row of {len(row)} cells that are not at {path}:{line}")
        out.append(values)
    if len(out) < 10:
        raise ScenarioError(key, "at least 10 bootstrap laws", found_text=f"found {len(out)} in {path}")
    return out

"""A sweep from its plan to its outputs in one pass over its chunks: a file in any of
:data:`.sweep_files.SWEEP_FORMATS`, standard output, the table of a small sweep, and the
workbook (streamed beside any of them). The chunks are solved by the execution stage
(:func:`~lifecycle_opt.execution.sweeps.sweep_chunks`), each encoded where it is solved
when nothing else needs its columns."""
from __future__ import annotations

__all__ = ["run_sweep", "check_table", "TEXT_WORKER_FORMATS", "TABLE_POINTS", "POINT_BYTES"]

import os
from typing import Callable

from ..errors import ScenarioError
from ..execution.sweeps import CHUNK, sweep_chunks
from ..plan.sweep_rows import chunk_rows
from .sweep_book import write_sweep_book
from .sweep_files import encoder, json_array_of, write_sweep
from .text_cells import csv_header

#: the memory a point of a chunk takes while it is solved and encoded in each format
#: [bytes]: measured with /usr/bin/time -v on one chunk of 2e6 points of
#: examples/chat_assistant.toml (2026-12-07; Parquet 0.62 kB, CSV 1.75 kB, JSON Lines
#: 5.1 kB), rounded up
POINT_BYTES = {"table": 1_000, "parquet": 1_000, "arrow": 1_000, "csv": 2_000, "json": 6_000, "jsonl": 6_000}
#: the most points of the text table on standard output: its rows are held in memory to
#: align its columns (5.7 kB a row: 0.57 GB and 55 s at 1e5 points, 2026-12-07)
TABLE_POINTS = 100_000

#: formats encoded in Python text, which holds the GIL: forked worker processes format
#: them, in smaller chunks so that memory stays bounded (CSV is formatted by pyarrow in C,
#: in threads, as Parquet and Arrow are encoded)
TEXT_WORKER_FORMATS = ("json", "jsonl")


def run_sweep(plan, fmt: str, output: str | None = None, *, client=None, chunk: int | None = None,
              progress: Callable = None, xlsx: str | None = None, source: str = "", stamp=None,
              force: bool = False, stdout: Callable = None) -> str | None:
    """Solve every chunk of ``plan`` and write it as ``fmt`` to ``output`` (a file), or
    through ``stdout(text)`` when there is none; with ``xlsx``, the workbook too, from the
    same chunks. ``fmt`` "table" returns the table of the main fields (its rows are held
    in memory: a small sweep's). ``progress(chunks)`` passes (points, payload) pairs on as
    payloads (the command's progress bar); ``client`` a Dask client or None."""
    progress = progress or (lambda chunks: (payload for _, payload in chunks))
    if fmt == "table":
        check_table(plan.size)
    encode = encoder(fmt, plan) if fmt != "table" else None
    processes = os.cpu_count() if fmt in TEXT_WORKER_FORMATS and not xlsx else None
    sizes = dict(chunk=chunk, default=CHUNK // 4 if processes else CHUNK, point_bytes=POINT_BYTES[fmt])
    if not xlsx:
        # each chunk encoded where it is solved: the writer only writes
        parts = progress(sweep_chunks(plan, client=client, encode=encode, processes=processes, **sizes))
        return _deliver(plan, fmt, output, parts, force, stdout)
    # the workbook reads the columns: the chunks come back as columns, and are encoded here
    raw = progress(sweep_chunks(plan, client=client, **sizes))
    return write_sweep_book(
        xlsx, plan.keys, [a.key for a in plan.axes], plan.size, source, raw,
        lambda chunks: _deliver(plan, fmt, output, chunks if encode is None else map(encode, chunks), force, stdout),
        stamp=stamp, force=force)


def check_table(points: int) -> None:
    """ScenarioError when a sweep of ``points`` is too large for the text table, whose rows
    are held in memory (a file is written a chunk at a time)."""
    if points > TABLE_POINTS:
        raise ScenarioError("--output", f"a sweep of at most {TABLE_POINTS:,} points for the text table "
                            f"(its rows are held in memory to align them); write a larger one to a file a chunk "
                            f"at a time: -o sweep.parquet, sweep.csv, ...", found_text=f"found {points:,} points")


def _deliver(plan, fmt: str, output: str | None, parts, force: bool, stdout) -> str | None:
    """Write the encoded chunks ``parts`` to ``output`` or standard output; for "table",
    the table of the main fields of the chunks (columns)."""
    if fmt == "table":
        from .reports import render_rows
        return render_rows([r for cols in parts for r in chunk_rows(cols)], [a.key for a in plan.axes])
    if output:
        write_sweep(output, fmt, plan, parts, force=force)
        return None
    if fmt in ("parquet", "arrow"):
        raise ValueError(f"{fmt} is written to a file")       # the command refuses it first
    if fmt == "csv":
        stdout(csv_header(plan.keys))
    for text in json_array_of(parts) if fmt == "json" else parts:
        stdout(text if isinstance(text, str) else memoryview(text).tobytes())    # CSV: pyarrow's bytes
    return None

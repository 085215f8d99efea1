"""A sweep from its plan to its outputs in one pass over its chunks: a file in any of
:data:`.sweep_files.SWEEP_FORMATS`, standard output, the table of a small sweep, and the
workbook (streamed beside any of them). The chunks are solved by the execution stage
(:func:`~lifecycle_opt.execution.sweeps.sweep_chunks`), each encoded where it is solved
when nothing else needs its columns."""
from __future__ import annotations

__all__ = ["run_sweep", "TEXT_WORKER_FORMATS"]

import os
from typing import Callable

from ..execution.sweeps import CHUNK, sweep_chunks
from ..plan.sweep_rows import chunk_rows
from .sweep_book import write_sweep_book
from .sweep_files import encoder, json_array_of, write_sweep
from .text_cells import csv_header

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
    encode = encoder(fmt, plan) if fmt != "table" else None
    processes = os.cpu_count() if fmt in TEXT_WORKER_FORMATS and not xlsx else None
    size = chunk or (CHUNK // 4 if processes else CHUNK)
    if not xlsx:
        # each chunk encoded where it is solved: the writer only writes
        parts = progress(sweep_chunks(plan, size, client, encode, processes=processes))
        return _deliver(plan, fmt, output, parts, force, stdout)
    # the workbook reads the columns: the chunks come back as columns, and are encoded here
    raw = progress(sweep_chunks(plan, size, client))
    return write_sweep_book(
        xlsx, plan.keys, [a.key for a in plan.axes], plan.size, source, raw,
        lambda chunks: _deliver(plan, fmt, output, chunks if encode is None else map(encode, chunks), force, stdout),
        stamp=stamp, force=force)


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

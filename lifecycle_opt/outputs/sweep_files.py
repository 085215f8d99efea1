"""A sweep's rows as files, a chunk of columns at a time, so that memory holds one chunk
however many points: CSV, JSON (a streamed array), JSON Lines, Parquet and Arrow IPC
(the last two with pyarrow, the ``arrow`` extra). Every file is written atomically
(:func:`.exports.write_stream_atomic`).

Parquet and Arrow files carry, in their schema's metadata under ``lifecycle_opt``, the
scenario, the axes and the unit of every column (JSON), so a file read years later still
says what it holds. Numbers are float64 (``warnings`` int64), text is UTF-8, a point with
no value is null.
"""
from __future__ import annotations

__all__ = ["SWEEP_FORMATS", "format_for", "encoder", "write_sweep", "jsonl_text", "json_rows", "json_array_of"]

import functools
import json
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import ExportError
from ..plan.sweep_result import arrow_table, plan_schema, pyarrow_module
from .exports import write_stream_atomic
from .reports import strict
from .text_cells import column_texts, csv_chunk, csv_header, float_texts, memo_texts

#: the formats a sweep is written in, and the file endings that choose them
SWEEP_FORMATS = ("csv", "json", "jsonl", "parquet", "arrow")
_ENDINGS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def format_for(path: str | None, given: str | None) -> str | None:
    """The format of a sweep's file: the one given, else the one its ending names
    (``sweep.parquet``), else None."""
    if given is not None:
        return given
    return _ENDINGS.get(Path(path).suffix.lower()) if path else None


def encoder(fmt: str, plan):
    """What turns a chunk of columns into ``fmt`` (picklable, so that Dask workers can run
    it): CSV lines, JSON lines, the rows of a JSON array joined by ",\\n  ", or for
    Parquet and Arrow an Arrow table of the plan's schema."""
    keys = plan.keys
    if fmt in ("parquet", "arrow"):
        # the schema travels with the function; each process imports pyarrow itself
        return functools.partial(arrow_table, plan_schema(pyarrow_module(), plan))
    return {"csv": functools.partial(csv_chunk, keys=keys), "jsonl": functools.partial(jsonl_text, keys=keys),
            "json": functools.partial(json_rows, keys=keys)}.get(fmt)


def write_sweep(path: str | Path, fmt: str, plan, chunks: Iterable, *, force: bool = False) -> Path:
    """Write a sweep's chunks, in grid order, to ``path``: each chunk the output of
    :func:`encoder` (text, or an Arrow table)."""
    if fmt == "csv":
        write = _text(lambda: _prepend(csv_header(plan.keys), chunks))
    elif fmt == "jsonl":
        write = _text(lambda: chunks)
    elif fmt == "json":
        write = _text(lambda: json_array_of(chunks))
    elif fmt in ("parquet", "arrow"):
        write = _columnar_writer(fmt, plan, chunks)
    else:
        raise ExportError(f"{path}: a sweep is written as one of {', '.join(SWEEP_FORMATS)}")
    return write_stream_atomic(path, write, force=force)


def _text(parts):
    def write(fh):
        for part in parts():
            fh.write(part.encode("utf-8"))
    return write


def _prepend(first, rest):
    yield first
    yield from rest


def _json_values(key: str, column) -> list[str]:
    """The JSON text of each value of a column, as ``json.dumps`` writes it (floats by
    repr, nan and inf as null: strict JSON), a column at a time."""
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return float_texts(key, column, ~np.isfinite(column), "null")
    return memo_texts(column, lambda v: json.dumps(strict(v), allow_nan=False))


def _template(keys, start: str, between: str, end: str) -> str:
    """A %-template of one row: each key (as JSON) and a slot for its value's text."""
    return start + between.join(json.dumps(k).replace("%", "%%") + ": %s" for k in keys) + end


def jsonl_text(cols: dict, keys) -> str:
    """One strict JSON object per row, a line each: the bytes of ``json.dumps(row)``."""
    template = _template(keys, "{", ", ", "}\n")
    return "".join(template % row for row in zip(*column_texts(keys, cols, _json_values)))


def json_rows(cols: dict, keys) -> str:
    """The rows of a chunk as they stand in ``json.dumps(rows, indent=2)``, joined by ",\\n  "."""
    template = _template(keys, "{\n    ", ",\n    ", "\n  }")
    return ",\n  ".join(template % row for row in zip(*column_texts(keys, cols, _json_values)))


def json_array_of(parts):
    """The JSON array of chunks of :func:`json_rows`: the bytes of ``json.dumps(rows, indent=2)``."""
    first = True
    for part in parts:
        if part:
            yield ("[\n  " if first else ",\n  ") + part
            first = False
    yield "[]\n" if first else "\n]\n"


# ------------------------------------------------------------------ Parquet and Arrow
def _columnar_writer(fmt: str, plan, tables):
    """Parquet (a row group per chunk, zstd) or an Arrow IPC file (a record batch per chunk)."""
    pa = pyarrow_module()
    schema = plan_schema(pa, plan)

    def write(fh):
        sink = pa.PythonFile(fh, mode="w")
        with _open(pa, fmt, sink, schema) as writer:
            for table in tables:
                writer.write_table(table)
    return write


def _open(pa, fmt: str, sink, schema):
    if fmt == "parquet":
        import pyarrow.parquet as pq
        # dictionaries for text only (status, binding limits: a few values repeated); a
        # float column of distinct values gains nothing from one: at 1e6 points it took
        # half the writing time and made the file 25 % larger
        text = [f.name for f in schema if pa.types.is_string(f.type)]
        return pq.ParquetWriter(sink, schema, compression="zstd", use_dictionary=text)
    return pa.ipc.new_file(sink, schema)

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

__all__ = ["SWEEP_FORMATS", "format_for", "encoder", "write_sweep", "csv_bytes", "jsonl_text", "json_rows",
           "json_array_of"]

import functools
import json
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import ExportError
from ..plan.sweep_table import arrow_table, plain_schema, plan_schema, pyarrow_module, string_array
from .exports import write_stream_atomic
from .reports import strict
from .text_cells import column_texts, csv_header, float_texts, memo_texts, neutralise

#: the formats a sweep is written in, and the file endings that choose them
SWEEP_FORMATS = ("csv", "json", "jsonl", "parquet", "arrow")
_ENDINGS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def format_for(path: str | None, given: str | None) -> str | None:
    """The format of a sweep's file: the one given, else the one its ending names
    (``sweep.parquet``; ``.txt`` the text table), else None without a file. Any other
    ending (``sweep.xlsx``, ``sweep.json.gz``, none) is refused (ExportError): the text
    table written under it would pass for what it is not."""
    if given is not None or not path:
        return given
    ending = Path(path).suffix.lower()
    if ending in _ENDINGS:
        return _ENDINGS[ending]
    if ending == ".txt":
        return "table"
    hint = " (a workbook is written with --xlsx FILE)" if ending in (".xlsx", ".xls", ".ods") else ""
    raise ExportError(f"{path}: a sweep's file ends in one of {', '.join(_ENDINGS)} or .txt (the text table), "
                      f"which chooses its format, or give --format{hint}")


def encoder(fmt: str, plan):
    """What turns a chunk of columns into ``fmt`` (picklable, so that Dask workers can run
    it): an Arrow table of the plan's schema for Parquet (text as dictionaries) and Arrow
    (decoded), the bytes of CSV lines (formatted from that table by pyarrow, in C), JSON
    lines, or the rows of a JSON array joined by ",\\n  "."""
    keys = plan.keys
    if fmt in ("parquet", "arrow", "csv"):
        # the schema travels with the function; each process imports pyarrow itself
        schema = plan_schema(pyarrow_module(), plan)
        if fmt == "csv":
            return functools.partial(csv_bytes, schema)
        return functools.partial(arrow_table, schema, plain=fmt == "arrow")
    return {"jsonl": functools.partial(jsonl_text, keys=keys), "json": functools.partial(json_rows, keys=keys)}.get(fmt)


def csv_bytes(schema, cols: dict):
    """CSV lines of a chunk of columns (no header; CRLF ends, as the header's): the Arrow
    table of ``schema`` written by pyarrow, text neutralised against formula injection
    (OWASP; on the dictionaries, a few values each) and quoted. Numbers are pyarrow's
    shortest text that reads back to the same double (``1e+22``, ``100``), none empty."""
    pa = pyarrow_module()
    import pyarrow.csv as pacsv
    table = arrow_table(schema, cols)
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.chunk(0)
            texts = column.dictionary.to_pylist()
            safe = [neutralise(t) for t in texts]
            if safe != texts:
                column = pa.DictionaryArray.from_arrays(column.indices, string_array(pa, safe))
        columns.append(column)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.Table.from_arrays(columns, schema=schema), sink,
                    pacsv.WriteOptions(include_header=False, eol="\r\n"))
    return sink.getvalue()


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
            fh.write(part.encode("utf-8") if isinstance(part, str) else part)
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
        if fmt == "parquet":
            _write_parquet(pa, sink, schema, tables)
            return
        with pa.ipc.new_file(sink, plain_schema(schema)) as writer:
            for table in tables:
                writer.write_table(table)
    return write


def _write_parquet(pa, sink, schema, tables) -> None:
    """The chunks' tables as row groups. Text columns come as dictionaries, written as they
    are (a float column of distinct values is written plain: a dictionary of a million
    floats took half the writing time and made the file 25 % larger). The file's schema
    is not stored as Arrow's own, so that readers see strings rather than dictionaries;
    the sweep's metadata goes into the file's key-value metadata instead."""
    import pyarrow.parquet as pq
    text = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    with pq.ParquetWriter(sink, schema, compression="zstd", use_dictionary=text, store_schema=False) as writer:
        for table in tables:
            writer.write_table(table)
        writer.add_key_value_metadata({k.decode(): v.decode() for k, v in schema.metadata.items()})

"""The text of table cells, for CSV and JSON: Python's csv quoting with CRLF ends, the
OWASP guard against formula injection, and numbers as repr, a column at a time. A sweep
of a million rows spends its time here (see :func:`csv_chunk`)."""
from __future__ import annotations

__all__ = ["csv_writer", "neutralise", "csv_header", "csv_chunk", "column_texts", "float_texts", "memo_texts"]

import csv
import io

import numpy as np

from ..plan.rows import INT_FIELDS


def csv_writer(buf):
    """A CSV writer with RFC 4180's CRLF line ends: a field that holds a carriage return
    or a newline is then quoted, so a CR typed into a name cannot start a new row (with
    bare "\n" ends, Python leaves a lone CR unquoted and readers split the row there)."""
    return csv.writer(buf, lineterminator="\r\n")


def neutralise(value):
    """OWASP CSV-injection guard: text starting with = + - @ tab or CR is prefixed with '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value


def _csv_cell(value):
    return neutralise("" if value is None else repr(value) if isinstance(value, float) else value)


def csv_header(keys) -> str:
    """The header line of a CSV of rows."""
    return csv_chunk({k: [k] for k in keys}, keys, cell=lambda v: neutralise(v))


def csv_chunk(columns: dict, keys, cell=_csv_cell) -> str:
    """Columns {key: list or numpy array of values} as CSV lines (no header): floats as
    repr, None (and nan in a float array) empty, text neutralised against formula
    injection (OWASP) and quoted as CSV needs, CRLF line ends.

    A sweep of a million rows spends its time here, so it goes a column at a time: a
    float array through ``float.__repr__`` over its list, any other column through a
    memo of its distinct values (a scenario's name is quoted once, not per row); the
    rows are then joined. The bytes are those of Python's csv writer."""
    cells = column_texts(keys, columns, lambda k, v: _csv_cells(k, v, cell))
    if not cells or not cells[0]:
        return ""
    return "\r\n".join(map(",".join, zip(*cells))) + "\r\n"


def _csv_cells(key: str, values, cell) -> list[str]:
    """The CSV text of one column's cells."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and cell is _csv_cell:
        return float_texts(key, values, np.isnan(values), "")
    return memo_texts(values, lambda v: _csv_field(cell(v)))


def column_texts(keys, columns: dict, texts) -> list[list[str]]:
    """``texts(key, column)`` for each key, once per distinct float column: a sweep's rows
    repeat whole columns (without [finance], each present value is its nominal value), and
    a float's repr is most of the cost of writing it."""
    out, seen = [], []
    for k in keys:
        v = columns[k]
        if isinstance(v, np.ndarray) and v.dtype == np.float64 and v.size and k not in INT_FIELDS:
            bits = v.view(np.int64)            # the same bits, the same text (0.0 is not -0.0)
            same = next((t for b, t in seen if b[0] == bits[0] and np.array_equal(b, bits)), None)
            if same is None:
                same = texts(k, v)
                seen.append((bits, same))
            out.append(same)
        else:
            out.append(texts(k, v))
    return out


def float_texts(key: str, values: np.ndarray, missing: np.ndarray, missing_text: str) -> list[str]:
    """The repr of each float of a column (``str(int)`` for a whole-number field), and
    ``missing_text`` where ``missing``: the text CSV and JSON write for numbers."""
    if missing.all():
        return [missing_text] * values.size
    if not missing.any() and values.size and (values == values[0]).all():
        # one value down the whole column (a sweep's target, its corpus): one repr
        first = values[0].item()
        return [str(int(first)) if key in INT_FIELDS else float.__repr__(first)] * values.size
    if key in INT_FIELDS:
        return [missing_text if m else str(int(v)) for v, m in zip(values.tolist(), missing.tolist())]
    text = list(map(float.__repr__, values.tolist()))
    for i in np.flatnonzero(missing).tolist():
        text[i] = missing_text
    return text


def memo_texts(values, fmt) -> list[str]:
    """``fmt(v)`` for each value, computed once per distinct value (a column of text
    repeats a few values: a scenario's name, "optimal")."""
    if isinstance(values, np.ndarray):
        if values.size and values.dtype == object and type(values[0]) is str and (values == values[0]).all():
            return [fmt(values[0])] * values.size       # one text down the whole column
        values = values.tolist()
    memo: dict = {}
    out = []
    for v in values:
        if isinstance(v, np.generic):
            v = v.item()
        k = (type(v), v)                      # 1, 1.0 and True are equal keys otherwise
        text = memo.get(k)
        if text is None:
            text = memo[k] = fmt(v)
        out.append(text)
    return out


def _csv_field(value) -> str:
    """One field as Python's csv writer writes it (quoted where it must be)."""
    buf = io.StringIO()
    csv_writer(buf).writerow(["" if value is None else value, ""])
    return buf.getvalue()[:-3]                 # the empty second field and the CRLF

"""A sweep's rows as columns: what :func:`.sweep.sweep` returns.

:class:`SweepResult` holds one numpy array per field (numbers as float64, nan where a
point has none; text as objects) and still behaves as the list of row dicts it replaced:
``len``, indexing, iteration and ``pandas.DataFrame(result)`` give plain dicts, built as
they are asked for. ``.to_pandas()`` and ``.to_arrow()`` (pandas and pyarrow, optional)
hand the columns over without going through rows. :func:`arrow_schema` and
:func:`arrow_table` are shared with the Parquet and Arrow files of a sweep.
"""
from __future__ import annotations

__all__ = ["SweepResult", "sweep_keys", "arrow_schema", "plan_schema", "arrow_table", "sweep_metadata", "pyarrow_module"]

import json
from collections.abc import Sequence

import numpy as np

from ..errors import ExportError
from .rows import INT_FIELDS, field_unit, numeric_fields, plain_column, rows_of


class SweepResult(Sequence):
    """The rows of a sweep, column by column (see the module docstring).

    keys : the fields, in row order (varied keys, status, message, the plan's fields)
    columns : {field: numpy array}, one element per point in grid order
    metadata : the scenario, the axes and the unit of every field (:func:`sweep_metadata`)
    """

    def __init__(self, keys: list[str], columns: dict, metadata: dict | None = None):
        self.keys = list(keys)
        self._columns = columns
        self.metadata = metadata or {}

    @classmethod
    def from_chunks(cls, plan, chunks) -> "SweepResult":
        """The result of a plan's chunks of columns (in grid order)."""
        parts = list(chunks)
        columns = {k: np.concatenate([c[k] for c in parts]) if parts else np.empty(0) for k in plan.keys}
        return cls(plan.keys, columns, sweep_metadata(plan))

    @property
    def columns(self) -> dict:
        """{field: numpy array} (read-only views)."""
        out = {}
        for k in self.keys:
            view = self._columns[k].view()
            view.flags.writeable = False
            out[k] = view
        return out

    def __len__(self) -> int:
        return len(self._columns[self.keys[0]]) if self.keys else 0

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("sweep row index out of range")
        return {k: plain_column(k, self._columns[k][i:i + 1])[0] for k in self.keys}

    def __iter__(self):
        step = 65_536                           # rows are made a slice at a time
        for start in range(0, len(self), step):
            yield from rows_of({k: self._columns[k][start:start + step] for k in self.keys}, self.keys)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"<SweepResult: {len(self)} points × {len(self.keys)} fields>"

    def to_pandas(self):
        """A pandas DataFrame of the columns (numbers with NaN where a point has none)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install 'lifecycle_opt[pandas]'") from None
        frame = pd.DataFrame({k: self._columns[k] for k in self.keys})
        for k in INT_FIELDS:
            if k in frame:
                frame[k] = frame[k].astype("Int64")
        frame.attrs["lifecycle_opt"] = self.metadata
        return frame

    def to_arrow(self):
        """A pyarrow Table of the columns, the scenario, axes and units in its metadata."""
        pa = pyarrow_module()
        axes = {a["key"]: self._columns[a["key"]] for a in self.metadata.get("axes", [])}
        return arrow_table(arrow_schema(pa, self.keys, axes, self.metadata), self._columns)


def sweep_keys(rows) -> list[str]:
    """The columns of a list of rows, in first-seen order."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)


def sweep_metadata(plan) -> dict:
    """What a sweep says about itself: the scenario, the axes (key, number of values, first
    and last) and the unit of every field that has one."""
    from .. import __version__
    axes = [{"key": a.key, "values": len(a.values), "first": a.item(0), "last": a.item(-1)} for a in plan.axes]
    units = {k: field_unit(k)[0] for k in plan.keys if field_unit(k)[0]}
    return {"made_by": f"lifeopt {__version__}", "scenario": plan.base.name, "source": plan.base.source,
            "axes": axes, "points": plan.size, "units": units}


def pyarrow_module():
    try:
        import pyarrow
    except ImportError:
        raise ExportError("Parquet and Arrow need pyarrow: pip install 'lifecycle_opt[arrow]'") from None
    return pyarrow


def arrow_schema(pa, keys: list[str], axes: dict, metadata: dict):
    """One schema for every chunk of a sweep, from its fields alone: numbers float64
    (whole-number fields int64), text strings, a varied key by its values' type (``axes``:
    {key: array of its values}); ``metadata`` under ``lifecycle_opt``."""
    numeric = set(numeric_fields())
    fields = []
    for k in keys:
        if k in axes and axes[k].dtype == object:
            values = [v for v in axes[k].tolist() if v is not None]
            kind = (pa.bool_() if all(type(v) is bool for v in values) else
                    pa.int64() if all(type(v) is int for v in values) else pa.string())
        elif k in INT_FIELDS:
            kind = pa.int64()
        elif k in numeric or k in axes:
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(k, kind))
    return pa.schema(fields, metadata={b"lifecycle_opt": json.dumps(metadata, default=str).encode("utf-8")})


def plan_schema(pa, plan):
    """The Arrow schema of a sweep plan's rows."""
    return arrow_schema(pa, plan.keys, {a.key: a.array for a in plan.axes}, sweep_metadata(plan))


def arrow_table(schema, cols: dict):
    """A chunk of columns as an Arrow table of ``schema`` (nan and None as null)."""
    pa = pyarrow_module()
    arrays = []
    for f in schema:
        values = cols[f.name]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            missing = np.isnan(values)
            if pa.types.is_integer(f.type):
                arrays.append(pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing))
            else:
                arrays.append(pa.array(values, type=f.type, mask=missing if missing.any() else None))
            continue
        if isinstance(values, np.ndarray):
            try:                                # text and None: pyarrow reads the objects directly
                arrays.append(pa.array(values, type=f.type))
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
        listed = plain_column(f.name, values)
        if pa.types.is_string(f.type):
            listed = [None if v is None else str(v) for v in listed]
        arrays.append(pa.array(listed, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)

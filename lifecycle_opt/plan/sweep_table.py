"""A chunk of a sweep's columns as an Arrow table, built from numpy buffers alone.

``pyarrow.array`` imports pandas on its first call (0.3 s: it looks for pandas objects
among its inputs), so every array here is made from buffers: numbers from the chunk's
float arrays with a validity bitmap of their nans, text as dictionaries (a few distinct
values repeated: a status, a scenario's name, the binding constraints). A column that
holds one value down the chunk (a stride-0 view, as the plan stage hands over a
scenario's name, its corpus or a serving field the MFU model leaves empty) costs no
copy: a one-value dictionary over shared zero indices, or an all-null array on shared
buffers.

Parquet writes the dictionaries as they are (no hashing of the chunk's strings); the
Arrow IPC file and :meth:`SweepResult.to_arrow` decode them (``plain=True``), so that
readers see strings either way.
"""
from __future__ import annotations

__all__ = ["pyarrow_module", "arrow_schema", "plan_schema", "plain_schema", "arrow_table", "string_array",
           "sweep_metadata"]

import json

import numpy as np

from ..errors import ExportError
from .rows import INT_FIELDS, field_unit, numeric_fields

#: at most this many distinct texts in a column are coded by comparisons (one pass over
#: the column each); beyond, by one pass through a dict
_FEW = 8


def pyarrow_module():
    try:
        import pyarrow
    except ImportError:
        raise ExportError("Parquet and Arrow need pyarrow: pip install 'lifecycle_opt[arrow]'") from None
    return pyarrow


def sweep_metadata(plan) -> dict:
    """What a sweep says about itself: the scenario, the axes (key, number of values, first
    and last) and the unit of every field that has one."""
    from .. import __version__
    axes = [{"key": a.key, "values": len(a.values), "first": a.item(0), "last": a.item(-1)} for a in plan.axes]
    units = {k: field_unit(k)[0] for k in plan.keys if field_unit(k)[0]}
    return {"made_by": f"lifeopt {__version__}", "scenario": plan.base.name, "source": plan.base.source,
            "axes": axes, "points": plan.size, "units": units}


def arrow_schema(pa, keys: list[str], axes: dict, metadata: dict):
    """One schema for every chunk of a sweep, from its fields alone: numbers float64
    (whole-number fields int64), text as dictionaries of strings, a varied key by its
    values' type (``axes``: {key: array of its values}); ``metadata`` under ``lifecycle_opt``."""
    numeric = set(numeric_fields())
    text = pa.dictionary(pa.int32(), pa.string())
    fields = []
    for k in keys:
        if k in axes and axes[k].dtype == object:
            values = [v for v in axes[k].tolist() if v is not None]
            kind = (pa.bool_() if all(type(v) is bool for v in values) else
                    pa.int64() if all(type(v) is int for v in values) else text)
        elif k in INT_FIELDS:
            kind = pa.int64()
        elif k in numeric or k in axes:
            kind = pa.float64()
        else:
            kind = text
        fields.append(pa.field(k, kind))
    return pa.schema(fields, metadata={b"lifecycle_opt": json.dumps(metadata, default=str).encode("utf-8")})


def plan_schema(pa, plan):
    """The Arrow schema of a sweep plan's rows."""
    return arrow_schema(pa, plan.keys, {a.key: a.array for a in plan.axes}, sweep_metadata(plan))


def plain_schema(schema):
    """``schema`` with its dictionaries as their values' type (strings)."""
    pa = pyarrow_module()
    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                      for f in schema], metadata=schema.metadata)


def arrow_table(schema, cols: dict, plain: bool = False):
    """A chunk of columns {key: numpy array} as an Arrow table of ``schema`` (nan and None
    as null); ``plain``: with the dictionaries decoded (:func:`plain_schema`)."""
    pa = pyarrow_module()
    n = len(cols[schema[0].name]) if len(schema) else 0
    shared = _Shared(pa, n)
    arrays = []
    for f in schema:
        array = _array(pa, f.type, cols[f.name], shared)
        arrays.append(array.dictionary_decode() if plain and pa.types.is_dictionary(f.type) else array)
    return pa.Table.from_arrays(arrays, schema=plain_schema(schema) if plain else schema)


class _Shared:
    """Buffers of zeros for the columns of one chunk of n rows that need no data of their
    own: the indices of one-value dictionaries, and all-null columns."""

    def __init__(self, pa, n: int):
        self.pa, self.n, self._zeros = pa, n, None

    def zeros(self):
        """n zero bytes × 8: room for n int32 indices, n float64 values or n validity bits."""
        if self._zeros is None:
            self._zeros = self.pa.py_buffer(np.zeros(self.n, dtype=np.float64))
        return self._zeros

    def constant_indices(self):
        return self.pa.Array.from_buffers(self.pa.int32(), self.n, [None, self.zeros()], null_count=0)

    def nulls(self, kind):
        pa = self.pa
        if pa.types.is_dictionary(kind):
            indices = pa.Array.from_buffers(pa.int32(), self.n, [self.zeros(), self.zeros()], null_count=self.n)
            return pa.DictionaryArray.from_arrays(indices, string_array(pa, []))
        return pa.Array.from_buffers(kind, self.n, [self.zeros(), self.zeros()], null_count=self.n)


def _constant(values: np.ndarray) -> bool:
    """Whether ``values`` is one value repeated by a stride-0 view (known without a look)."""
    return values.ndim == 1 and values.shape[0] > 1 and values.strides[0] == 0


def _array(pa, kind, values, shared: _Shared):
    if not isinstance(values, np.ndarray):
        listed = np.empty(len(values), dtype=object)
        listed[:] = list(values)
        values = listed
    if pa.types.is_dictionary(kind):
        return _dictionary(pa, values, shared)
    if pa.types.is_boolean(kind):
        return _bools(pa, values)
    if pa.types.is_integer(kind):
        return _ints(pa, values)
    return _floats(pa, values, shared)


def _as_floats(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([np.nan if v is None else v for v in values.tolist()], dtype=float)
    return np.asarray(values, dtype=float)


def _floats(pa, values: np.ndarray, shared: _Shared):
    values = _as_floats(values)
    if _constant(values):
        if values[0] != values[0]:
            return shared.nulls(pa.float64())
        values = np.full(values.shape[0], values[0])
    values = np.ascontiguousarray(values)
    missing = np.isnan(values)
    count = int(np.count_nonzero(missing))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if count else None
    return pa.Array.from_buffers(pa.float64(), values.shape[0], [validity, pa.py_buffer(values)], null_count=count)


def _ints(pa, values: np.ndarray):
    floats = _as_floats(values)
    missing = np.isnan(floats)
    data = np.where(missing, 0, floats).astype(np.int64)
    count = int(np.count_nonzero(missing))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if count else None
    return pa.Array.from_buffers(pa.int64(), data.shape[0], [validity, pa.py_buffer(data)], null_count=count)


def _bools(pa, values: np.ndarray):
    listed = values.tolist()
    missing = np.array([v is None for v in listed], dtype=bool)
    bits = np.packbits(np.array([bool(v) for v in listed], dtype=bool), bitorder="little")
    count = int(np.count_nonzero(missing))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if count else None
    return pa.Array.from_buffers(pa.bool_(), len(listed), [validity, pa.py_buffer(bits)], null_count=count)


def _text(v) -> str:
    return str(v.item() if isinstance(v, np.generic) else v)


def _dictionary(pa, values: np.ndarray, shared: _Shared):
    """Text as a dictionary array: its distinct values, and each row's code."""
    n = values.shape[0]
    if _constant(values):
        if values[0] is None:
            return shared.nulls(pa.dictionary(pa.int32(), pa.string()))
        return pa.DictionaryArray.from_arrays(shared.constant_indices(), string_array(pa, [_text(values[0])]))
    listed = values.tolist()
    distinct = list(dict.fromkeys(listed))
    texts = [v for v in distinct if v is not None]
    if len(distinct) <= _FEW and None not in distinct:
        codes = np.zeros(n, dtype=np.int32)
        for k, v in enumerate(distinct[1:], start=1):
            codes[values == v] = k
    else:
        lookup = {v: k for k, v in enumerate(texts)}
        lookup[None] = -1
        codes = np.fromiter(map(lookup.__getitem__, listed), dtype=np.int32, count=n)
    missing = codes < 0
    count = int(np.count_nonzero(missing))
    validity = None
    if count:
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
        codes[missing] = 0
    indices = pa.Array.from_buffers(pa.int32(), n, [validity, pa.py_buffer(codes)], null_count=count)
    return pa.DictionaryArray.from_arrays(indices, string_array(pa, [_text(v) for v in texts]))


def string_array(pa, texts: list[str]):
    """A string array of ``texts`` (no nulls), from its buffers."""
    data = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])

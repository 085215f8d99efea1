"""A sweep's rows as columns: what :func:`lifecycle_opt.execution.sweeps.sweep` returns.

:class:`SweepResult` holds one numpy array per field (numbers as float64, nan where a
point has none; text as objects) and still behaves as the list of row dicts it replaced:
``len``, indexing, iteration and ``pandas.DataFrame(result)`` give plain dicts, built as
they are asked for. ``.to_pandas()`` and ``.to_arrow()`` (pandas and pyarrow, optional)
hand the columns over without going through rows (the Arrow table is built as the
Parquet and Arrow files of a sweep are, :mod:`.sweep_table`).
"""
from __future__ import annotations

__all__ = ["SweepResult", "sweep_keys"]

from collections.abc import Sequence

import numpy as np

from .rows import INT_FIELDS, plain_column, rows_of
from .sweep_table import arrow_schema, arrow_table, pyarrow_module, sweep_metadata


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
        """The result of a plan's chunks of columns (in grid order), each copied into its
        place as it comes (the chunks and their joined copy were in memory at once)."""
        columns: dict = {}
        start = 0
        for cols in chunks:
            stop = start + len(cols[plan.keys[0]])
            for k in plan.keys:
                if k not in columns:
                    columns[k] = np.empty(plan.size, dtype=np.asarray(cols[k]).dtype)
                columns[k][start:stop] = cols[k]
            start = stop
        if start == 0:
            columns = {k: np.empty(0) for k in plan.keys}
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
        return arrow_table(arrow_schema(pa, self.keys, axes, self.metadata), self._columns, plain=True)


def sweep_keys(rows) -> list[str]:
    """The columns of a list of rows, in first-seen order."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)

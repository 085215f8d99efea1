"""Sweeps run: every chunk of a sweep's points solved where it is cheapest (threads,
forked workers, a Dask cluster), in grid order; and :func:`sweep`, the Python API's
sweep, which gathers them into a :class:`~lifecycle_opt.plan.sweep_result.SweepResult`."""
from __future__ import annotations

__all__ = ["CHUNK", "sweep", "sweep_chunks"]

import os
from typing import Iterator

from ..plan.sweep_plan import SweepPlan, plan_sweep
from ..plan.sweep_result import SweepResult
from ..plan.sweep_rows import AxesLike, ScenarioLike
from .cluster import cluster_chunks
from .local import local_chunks

#: points solved together; a chunk's rows are all in memory at once
CHUNK = 65_536


def sweep(scenario: ScenarioLike, axes: AxesLike) -> SweepResult:
    """Solve ``scenario`` at every point of ``axes`` and return one row per point, in grid
    order, as columns: ``scenario`` a Scenario (read from a file or a dict, perhaps
    changed in code since), a path or a dict of file keys; ``axes`` {key: values or
    "a..b:log:n"} or a list of Axis or "key=spec" strings.

    A row holds the varied values under their keys, then ``status`` (one of
    :data:`~lifecycle_opt.plan.rows.ROW_STATUSES`), ``message`` and every field of
    :meth:`Solution.as_row` (None where the point did not solve). The
    :class:`~lifecycle_opt.plan.sweep_result.SweepResult` is a sequence of row dicts
    (``len``, indexing, iteration) with ``.columns`` (numpy arrays), ``.to_pandas()`` and
    ``.to_arrow()``.

    >>> rows = sweep("examples/research_model.toml", {"budget.training_flops": [1e22, 1e23]})
    >>> [r["status"] for r in rows], rows[0]["params"] < rows[1]["params"]
    (['optimal', 'optimal'], True)
    >>> rows.columns["params"].shape
    (2,)
    """
    plan = plan_sweep(scenario, axes)
    return SweepResult.from_chunks(plan, (cols for _, cols in sweep_chunks(plan)))


def sweep_chunks(plan: SweepPlan, chunk: int = CHUNK, client=None, encode=None,
                 threads: int | None = None, processes: int | None = None) -> Iterator[tuple[int, object]]:
    """(points, columns) of each chunk in grid order, or (points, ``encode(columns)``):
    ``encode`` (picklable) runs where the chunk is solved, so that with a Dask ``client``
    the workers format their chunks and this process only writes them.

    Without a client, ``threads`` threads (default: one per core, at most 4) solve and
    encode chunks a few ahead; where the encoding holds the GIL (Python text), give
    ``processes`` instead: forked worker processes (where the system can fork).

    With a client, chunks are solved on its workers (a few ahead of the one being
    yielded) and come back in order. A chunk lost with a worker is solved again on the
    workers that remain (the shared plan scattered anew); ClusterError when none remains
    or a chunk is lost three times."""
    ranges = [(s, min(s + chunk, plan.size)) for s in range(0, plan.size, chunk)]
    if client is None:
        return local_chunks(plan, ranges, encode, threads or min(os.cpu_count() or 1, 4), processes)
    return cluster_chunks(plan, ranges, client, encode)

"""Sweeps run: every chunk of a sweep's points solved where it is cheapest (threads,
forked workers, a Dask cluster), in grid order; and :func:`sweep`, the Python API's
sweep, which gathers them into a :class:`~lifecycle_opt.plan.sweep_result.SweepResult`."""
from __future__ import annotations

__all__ = ["CHUNK", "POINT_BYTES", "sweep", "sweep_chunks", "chunk_size", "check_in_memory"]

import os
from typing import Iterator

from ..errors import ScenarioError
from ..plan.sweep_plan import SweepPlan, plan_sweep
from ..plan.sweep_result import SweepResult
from ..plan.sweep_rows import AxesLike, ScenarioLike
from .cluster import cluster_chunks
from .local import local_chunks
from .machine import machine_memory, memory_text

#: points solved together; a chunk's rows are all in memory at once
CHUNK = 65_536
#: the memory a point of a chunk takes while it is solved and held until written [bytes]:
#: its columns and their Arrow table. Measured with /usr/bin/time -v on one chunk of 2e6
#: points of examples/chat_assistant.toml (2026-12-07): 0.62 kB to Parquet (the columns),
#: 1.75 kB to CSV, 5.1 kB to JSON Lines (the text); the writers pass their own
POINT_BYTES = 1_000
#: the share of the machine's memory the chunks in flight may take
_CHUNK_SHARE = 0.5


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
    check_in_memory(plan)
    return SweepResult.from_chunks(plan, (cols for _, cols in sweep_chunks(plan)))


def check_in_memory(plan: SweepPlan) -> None:
    """ScenarioError, before any point is solved, when the rows of ``plan`` would take
    more than a quarter of this machine's memory (a number a field a point, 8 bytes; text
    shares its strings), the rest left to the chunks in flight and the caller. The
    command line writes such a sweep to a file a chunk at a time."""
    memory = machine_memory()
    if memory is None:
        return
    per_point = 8 * len(plan.keys)
    most = memory // 4 // per_point
    if plan.size > most:
        raise ScenarioError("axes", f"a sweep of at most {most:,} points held in memory on this machine "
                            f"({memory_text(memory)}; {per_point} bytes a point); write a larger one a chunk "
                            f"at a time: lifeopt sweep ... -o FILE", found_text=f"found {plan.size:,} points")


def chunk_size(chunk: int | None, held: int, point_bytes: int = POINT_BYTES, default: int = CHUNK) -> int:
    """The points of a chunk when ``held`` chunks are in memory at once, each point taking
    ``point_bytes``: ``chunk`` as asked, refused (ScenarioError naming the limit) when
    they would take more than half this machine's memory; without one, ``default``
    lowered to what fits."""
    memory = machine_memory()
    most = None if memory is None else max(1024, int(memory * _CHUNK_SHARE) // (point_bytes * held))
    if chunk is None:
        return default if most is None else min(default, most)
    if most is not None and chunk > most:
        raise ScenarioError("--chunk", f"at most {most:,} points on this machine ({memory_text(memory)} of "
                            f"memory, half of it for {held} chunks in flight of about {point_bytes:,} bytes a "
                            f"point)", chunk)
    return chunk


def sweep_chunks(plan: SweepPlan, chunk: int | None = None, client=None, encode=None,
                 threads: int | None = None, processes: int | None = None, *, point_bytes: int = POINT_BYTES,
                 default: int = CHUNK) -> Iterator[tuple[int, object]]:
    """(points, columns) of each chunk in grid order, or (points, ``encode(columns)``):
    ``encode`` (picklable) runs where the chunk is solved, so that with a Dask ``client``
    the workers format their chunks and this process only writes them.

    Without a client, ``threads`` threads (default: one per core, at most 4) solve and
    encode chunks a few ahead; where the encoding holds the GIL (Python text), give
    ``processes`` instead: forked worker processes (where the system can fork).

    With a client, chunks are solved on its workers (a few ahead of the one being
    yielded) and come back in order. A chunk lost with a worker is solved again on the
    workers that remain (the shared plan scattered anew); ClusterError when none remains
    or a chunk is lost three times.

    ``chunk`` points are solved together (refused when the chunks in flight, of
    ``point_bytes`` a point, would not fit in memory: :func:`chunk_size`); without it,
    ``default`` or what memory holds."""
    threads = threads or min(os.cpu_count() or 1, 4)
    if client is not None:
        # a local cluster's workers hold theirs here too: one running and one waiting each
        held = 2 * len(client.scheduler_info().get("workers", {})) + 3
    else:
        held = 2 * processes + 1 if processes and processes > 1 else threads + 2
    chunk = chunk_size(chunk, held, point_bytes, default)
    ranges = [(s, min(s + chunk, plan.size)) for s in range(0, plan.size, chunk)]
    if client is None:
        return local_chunks(plan, ranges, encode, threads, processes)
    return cluster_chunks(plan, ranges, client, encode)

"""Sweeps: solve one scenario at every point of a grid of changed settings.

Each point is the scenario with the axes' keys replaced (:mod:`.axes`), validated and
solved as ``lifeopt solve`` would, so a sweep point and a single solve give the same
plan. A point that is infeasible or invalid becomes a row saying so; the sweep goes on.

A Scenario changed in code (``dataclasses.replace``) after it was read keeps its
changes at every point: each point is read from the file's keys with the axis values
laid in, and what the axes changed is laid over the changed scenario (:mod:`.sweep_plan`).
"""
from __future__ import annotations

__all__ = ["iter_sweep", "sweep", "sweep_keys", "SweepPlan", "plan_sweep", "point_scenarios",
           "sweep_chunks", "solved_chunk", "chunk_rows", "sweep_columns", "trim_threshold"]

import itertools
import multiprocessing
import os
import queue
import threading
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

from ..errors import ClusterError, InfeasibleError, ScenarioError, SolverError, UnknownKeyError
from ..scenario.reader import Scenario
from ..solvers.batch import solve_batch
from .axes import Axis, grid
from .sweep_plan import (Base, SweepPlan, base_of, check_keys, combine_sides, plan_sweep, point_label, point_of,
                         side_indices)
from .sweep_result import SweepResult
from .rows import OVERFLOW_MESSAGE, numeric_fields, plan_columns, row_fields, rows_of, status_of


#: what a sweep starts from: a Scenario, the path of a scenario file, or a dict of its keys
ScenarioLike = Union[Scenario, str, Path, dict]
#: the axes: {key: values or "a..b:log:n"}, or Axis objects or "key=spec" strings
AxesLike = Union[Mapping[str, object], Sequence[Union[Axis, str]]]

#: points solved together; a chunk's rows are all in memory at once
CHUNK = 65_536



def iter_sweep(scenario: ScenarioLike, axes: AxesLike, chunk: int = CHUNK) -> Iterator[dict]:
    """Solve ``scenario`` (Scenario from a file or dict, path, or dict) at every point of
    ``axes`` and yield one flat row per point, in grid order.

    A row holds the varied values under their keys, then ``status`` (one of
    :data:`.rows.ROW_STATUSES`), ``message`` and every field of :meth:`Solution.as_row` (None where
    the point did not solve). Rows are plain dicts: ``pandas.DataFrame(rows)`` works.
    Points are solved ``chunk`` at a time by the batch solver (see :func:`sweep_chunks`).
    """
    plan = plan_sweep(scenario, axes)
    for start in range(0, plan.size, chunk):
        yield from chunk_rows(sweep_columns(plan, start, min(start + chunk, plan.size)))


def sweep(scenario: ScenarioLike, axes: AxesLike) -> SweepResult:
    """Every row of :func:`iter_sweep`, as columns: ``scenario`` a Scenario (read from a
    file or a dict, perhaps changed in code since), a path or a dict of file keys; ``axes``
    {key: values or "a..b:log:n"} or a list of Axis or "key=spec" strings.

    The :class:`~.sweep_result.SweepResult` is a sequence of row dicts (``len``, indexing,
    iteration) with ``.columns`` (numpy arrays), ``.to_pandas()`` and ``.to_arrow()``.

    >>> rows = sweep("examples/research_model.toml", {"budget.training_flops": [1e22, 1e23]})
    >>> [r["status"] for r in rows], rows[0]["params"] < rows[1]["params"]
    (['optimal', 'optimal'], True)
    >>> rows.columns["params"].shape
    (2,)
    """
    plan = plan_sweep(scenario, axes)
    return SweepResult.from_chunks(plan, (cols for _, cols in sweep_chunks(plan)))


def point_scenarios(scenario: ScenarioLike, axes: AxesLike) -> Iterator[tuple[dict, Scenario | ScenarioError]]:
    """(point, Scenario) at every point of ``axes`` in grid order, read as a sweep reads
    it (the point's Scenario is a ScenarioError when its values are bad; a varied key that
    does not exist fails at once)."""
    base = base_of(scenario)
    points = grid(axes)
    if points:
        check_keys(base, points[0])
    for point in points:
        try:
            label = f"{base.source or base.name} [{point_label(point)}]"
            yield point, base.build(base.point_data(point), source=label)
        except UnknownKeyError:
            raise
        except ScenarioError as exc:
            yield point, exc

def _solve_point(base: Base, point: dict) -> dict:
    from .planning import solve        # scipy (0.3 s to import) only once a point needs it
    row = dict(point)
    try:
        label = f"{base.source or base.name} [{point_label(point)}]"
        solution = solve(base.build(base.point_data(point), source=label))
    except (ScenarioError, InfeasibleError, SolverError) as exc:
        return {**row, "status": status_of(exc), "message": str(exc)}
    return {**row, "status": "optimal", "message": "", **_without_status(solution.as_row())}


def _without_status(row: dict) -> dict:
    row = dict(row)
    row.pop("status")
    return row


def sweep_keys(rows: Iterable[dict]) -> list[str]:
    """The columns of a list of rows, in first-seen order."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)

def _row_keys(plan: SweepPlan) -> list[str]:
    """The fields a chunk solves for: every key but the varied ones."""
    varied = {a.key for a in plan.axes}
    return [k for k in plan.keys if k not in varied]


def _empty_columns(plan: SweepPlan, n: int) -> dict:
    """The columns of n rows before any is solved: numbers as float arrays (nan: none),
    text as object arrays (None: none)."""
    numeric = set(numeric_fields())
    return {k: (np.full(n, np.nan) if k in numeric else np.full(n, None, dtype=object)) for k in _row_keys(plan)}


def sweep_columns(plan: SweepPlan, start: int, stop: int) -> dict:
    """The rows of points start..stop−1 as columns {key: numpy array}, solved by the
    batch solver: numbers as float arrays (nan where a point has none), text as object
    arrays. Points it cannot solve (and invalid or infeasible ones, whose messages only
    the exact path writes) go through the exact per-scenario path."""
    return _solve_columns(plan, start, stop)[0]


def _solve_columns(plan: SweepPlan, start: int, stop: int) -> tuple[dict, int]:
    """:func:`sweep_columns`, and how many of the points the exact path solved."""
    flat = np.arange(start, stop)
    n = flat.size
    multi = np.unravel_index(flat, plan.shape)
    cols: dict = {a.key: a.array[i] for a, i in zip(plan.axes, multi)}
    exact = np.ones(n, dtype=bool)
    solved = None
    if not plan.exact:
        li, ci = side_indices(plan, flat)
        sel = np.flatnonzero(plan.loss.ok_at(li) & plan.cost.ok_at(ci))
        if sel.size:
            batch, facts = combine_sides(plan, li[sel], ci[sel])
            result = solve_batch(batch)
            good = result.status == 0
            exact[sel[good]] = False
            solved = sel[good], {k: v[good] for k, v in facts.items()}, result, good
    if exact.any():                            # rows the batch does not fill: room for them
        cols.update(_empty_columns(plan, n))
    if solved is not None:
        _fill(cols, *solved, n)
    if exact.any():
        with _EXACT:
            for j in np.flatnonzero(exact):
                row = _solve_point(plan.base, point_of(plan, int(flat[j])))
                for k in _row_keys(plan):
                    value = row.get(k)
                    cols[k][j] = (np.nan if value is None else value) if cols[k].dtype.kind == "f" else value
    return {k: cols[k] for k in plan.keys}, int(exact.sum())


#: one chunk at a time on the exact path (cvxpy and scipy are not known to be thread-safe)
_EXACT = threading.Lock()


def _fill(cols, rows, facts, result, good, n: int) -> None:
    """Write the batch plans into the columns (rows: their positions in the chunk of n
    points) with the row function; where they are the whole chunk, the row function's
    arrays become the columns (numbers as floats, text as objects)."""
    binding = result.binding_texts(np.flatnonzero(good))
    columns = plan_columns(facts, result.params[good], result.tokens[good], loss=result.loss[good],
                           effective_tokens=result.effective_tokens[good],
                           objective_value=result.objective[good],
                           kkt_residual=result.kkt_residual[good], binding=binding)
    whole = rows.size == n                             # every point of the chunk, in order
    numeric = set(numeric_fields())
    for key in row_fields():
        dtype = np.dtype(float) if key in numeric else np.dtype(object)
        values = columns[key]
        if dtype.kind == "f":
            values = np.asarray(values, dtype=float)
        elif not isinstance(values, np.ndarray):
            values = _objects(values)
        if whole:
            # the row function's own array where it is one of the chunk's size, else a copy
            fits = values.shape == rows.shape and values.dtype == dtype and values.flags.writeable
            cols[key] = values if fits else np.array(np.broadcast_to(values, rows.shape), dtype=dtype)
        else:
            cols[key][rows] = values
    message = np.where(cols["status"][rows] == "invalid", OVERFLOW_MESSAGE, "").astype(object)
    if whole:
        cols["message"] = message
    else:
        cols["message"][rows] = message


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def chunk_rows(cols: dict) -> Iterator[dict]:
    """The rows of a chunk of columns, as dicts of plain Python values (None where a
    point has no value)."""
    return rows_of(cols)


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
        yield from _local_chunks(plan, ranges, encode, threads or min(os.cpu_count() or 1, 4), processes)
        return
    yield from _fetched_ahead(_cluster_chunks(plan, ranges, client, encode))


def _cluster_chunks(plan: SweepPlan, ranges: list, client, encode) -> Iterator[tuple[int, object]]:
    """The chunks solved on a Dask cluster's workers, in grid order (see :func:`sweep_chunks`)."""
    def scatter():
        # hash=False: Dask would otherwise tokenize the whole plan, visiting every array and
        # dataclass in it, for a key it does not need
        try:
            return client.scatter(plan, broadcast=True, hash=False)
        except TimeoutError as exc:            # Dask: "No valid workers found"
            raise ClusterError(f"no Dask worker took the sweep of {plan.base.name} ({exc}); start workers "
                               f"for the scheduler (dask worker ADDRESS), or run without --scheduler") from None
    shared = [scatter()]
    submit = lambda r: client.submit(solved_chunk, shared[0], *r, encode, pure=False)   # noqa: E731
    ahead = max(2, 2 * len(client.scheduler_info().get("workers", {})))
    futures = [submit(r) for r in ranges[:ahead]]
    for k, (s, e) in enumerate(ranges):
        cols, exact = _chunk_result(client, plan, futures, k, ranges, submit, shared, scatter)
        plan.exact_points += exact
        futures[k] = None
        nxt = k + ahead
        if nxt < len(ranges):
            futures.append(submit(ranges[nxt]))
        yield e - s, cols


def _fetched_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """The items of ``items``, taken in a thread of their own up to ``depth`` ahead of the
    one yielded, so that a cluster's next chunks cross the network (and are unpickled)
    while this thread writes the last one: writing is otherwise a pause for the workers.
    An error of the thread is raised here, in its place in the order."""
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, end))
        except BaseException as exc:           # noqa: BLE001 — raised again in the caller
            put((False, exc))

    worker = threading.Thread(target=take, name="lifeopt-sweep-fetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        # a thread still waiting on a chunk after a second is left to end with the client
        # (closed by the caller): a stopped sweep does not wait for its workers
        worker.join(timeout=1)
        if not worker.is_alive():
            items.close()                      # its own clean-up


def _local_chunks(plan: SweepPlan, ranges: list, encode, threads: int,
                  processes: int | None = None) -> Iterator[tuple[int, object]]:
    """The chunks solved on this machine, in grid order: in ``processes`` forked worker
    processes when given (for encodings that hold the GIL: Python text), else in
    ``threads`` threads (numpy's batch solve and pyarrow's encoding release the GIL for
    most of a chunk's work), a few chunks ahead of the one yielded. The exact path,
    Python through and through, takes one chunk at a time in a process (_EXACT)."""
    global _FORKED_PLAN
    if processes and processes > 1 and len(ranges) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _FORKED_PLAN = plan                    # inherited by the forked workers, never pickled
        yield from _process_chunks(plan, ranges, encode, processes)
        return
    if threads == 1 or len(ranges) < 2:
        for s, e in ranges:
            payload, exact = solved_chunk(plan, s, e, encode)
            plan.exact_points += exact
            yield e - s, payload
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="lifeopt-sweep") as pool:
        yield from _in_order(plan, ranges, lambda r: pool.submit(solved_chunk, plan, *r, encode), threads + 1)


def _in_order(plan: SweepPlan, ranges: list, submit, ahead: int) -> Iterator[tuple[int, object]]:
    """The results of ``submit(range)`` for every range, in order, ``ahead`` in flight."""
    pending = iter(ranges)
    queue = deque((r, submit(r)) for r in itertools.islice(pending, ahead))
    try:
        while queue:
            (s, e), future = queue.popleft()
            payload, exact = future.result()
            nxt = next(pending, None)
            if nxt is not None:
                queue.append((nxt, submit(nxt)))
            plan.exact_points += exact
            yield e - s, payload
    finally:
        for _, future in queue:
            future.cancel()


def _process_chunks(plan: SweepPlan, ranges: list, encode, processes: int) -> Iterator[tuple[int, object]]:
    """The chunks solved by ``processes`` forked workers, in order: chunk k goes to worker
    k mod n, each worker holding at most two, over a pipe of its own. No lock is shared
    with the workers, so a worker that dies (killed, out of memory) is seen as the end of
    its pipe (one ClusterError), and a sweep that stops (an error, a signal) kills them."""
    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for _ in range(processes):
            mine, theirs = context.Pipe()
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork in a threaded process (numpy's BLAS threads); a
                # worker runs the sweep's own code only, which takes no lock held at the fork
                warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
                worker = context.Process(target=_serve, args=(theirs, encode), daemon=True)
                worker.start()
            theirs.close()
            workers.append((worker, mine))
        n = len(workers)
        for k, r in enumerate(ranges[:2 * n]):
            workers[k % n][1].send(r)
        for k, (s, e) in enumerate(ranges):
            conn = workers[k % n][1]
            try:
                ok, value = conn.recv()
            except (EOFError, OSError):
                raise ClusterError(f"a worker process of the sweep of {plan.base.name} died (out of memory, "
                                   f"or killed); run it again, perhaps with a smaller --chunk") from None
            if not ok:
                raise value
            if k + 2 * n < len(ranges):
                conn.send(ranges[k + 2 * n])
            payload, exact = value
            plan.exact_points += exact
            yield e - s, payload
    finally:
        for worker, conn in workers:
            worker.kill()                      # done, or stopped: no chunk is waited for
            worker.join()
            conn.close()


def _serve(conn, encode) -> None:
    """A worker: solve and encode each range it is sent, send back the result (or the
    error), until the sweep's process goes."""
    import signal
    # a terminal's Ctrl-C reaches the whole process group: the sweep's process stops (and
    # kills) its workers itself, where each would print a KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    while True:
        try:
            start, stop = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = True, solved_chunk(_FORKED_PLAN, start, stop, encode)
        except Exception as exc:               # noqa: BLE001 — the sweep's process raises it
            reply = False, exc
        conn.send(reply)


#: the plan of the sweep being solved, for the worker processes forked to solve it
_FORKED_PLAN: SweepPlan | None = None


def _die_with_parent() -> None:
    """A forked worker ends when the sweep's process does, however it ends (Linux's
    PR_SET_PDEATHSIG; elsewhere when its pipe closes)."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)          # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def solved_chunk(plan: SweepPlan, start: int, stop: int, encode=None):
    """(columns of points start..stop−1 (:func:`sweep_columns`), encoded if asked; how
    many of them the exact path solved)."""
    cols, exact = _solve_columns(plan, start, stop)
    return (cols if encode is None else encode(cols)), exact


def trim_threshold() -> str | None:
    """MALLOC_TRIM_THRESHOLD_ as this process started with it (None: unset, or not Linux).

    Run on Dask workers: Dask starts them with it at 64 KiB, which switches off glibc's
    adaptive mmap threshold, so that a chunk's arrays are mapped and unmapped afresh and a
    chunk takes up to 3x as long. glibc read the starting environment; ``os.environ`` may
    have changed since (Dask's nannies write into it), so /proc is read instead."""
    try:
        with open("/proc/self/environ", "rb") as fh:
            pairs = [item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item]
    except OSError:
        return None
    value = dict(pairs).get(b"MALLOC_TRIM_THRESHOLD_")
    return None if value is None else value.decode(errors="replace")


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says a task's worker (or the data it needed) was lost."""
    import asyncio

    names = {"FutureCancelledError", "KilledWorker", "CommClosedError", "CancelledError", "FutureLostError"}
    return isinstance(exc, (asyncio.CancelledError, OSError)) or type(exc).__name__ in names


def _chunk_result(client, plan, futures, k, ranges, submit, shared, scatter, attempts: int = 3):
    """The columns of chunk ``k``, resubmitting it (and every pending chunk, whose shared
    plan may have gone with the worker) when a worker was lost."""
    for _ in range(attempts):
        try:
            return futures[k].result()
        except BaseException as exc:                  # noqa: BLE001 — sorted by _lost below
            if not _lost(exc):
                raise
            if not client.scheduler_info().get("workers"):
                raise ClusterError(f"every Dask worker was lost (or the scheduler) while sweeping "
                                   f"{plan.base.name}; restart the cluster (or run without --scheduler)") from None
            shared[0] = scatter()
            for j in range(k, len(futures)):
                if futures[j] is not None:
                    futures[j] = submit(ranges[j])
    raise ClusterError(f"chunk {k + 1} of the sweep of {plan.base.name} was lost with a Dask worker "
                       f"{attempts} times; check the cluster's workers")

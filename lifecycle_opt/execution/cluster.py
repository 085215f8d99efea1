"""A sweep's chunks solved on a Dask cluster's workers, in grid order: the plan scattered
once to every worker, a few chunks in flight ahead of the one being written, the next
ones fetched in a thread meanwhile, and a chunk lost with a worker solved again on the
workers that remain."""
from __future__ import annotations

__all__ = ["cluster_chunks", "fetched_ahead", "trim_threshold"]

import queue
import threading
from typing import Iterator

from ..errors import ClusterError
from ..plan.sweep_plan import SweepPlan
from ..plan.sweep_rows import solved_chunk


def cluster_chunks(plan: SweepPlan, ranges: list, client, encode) -> Iterator[tuple[int, object]]:
    """(points, payload) of each chunk solved on the cluster of ``client``, in grid order,
    the next one fetched in a thread while this one is written (:func:`fetched_ahead`)."""
    return fetched_ahead(_cluster_chunks(plan, ranges, client, encode), depth=1)


def _cluster_chunks(plan: SweepPlan, ranges: list, client, encode) -> Iterator[tuple[int, object]]:
    """The chunks solved on a Dask cluster's workers, in grid order."""
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
    # chunks in flight: one running on each worker and one more waiting, so that a worker
    # never idles while its last result is fetched; each is a table held on a worker until
    # fetched (at 1e7 points, two per worker and two fetched ahead held 1.29 GB in all)
    ahead = max(2, len(client.scheduler_info().get("workers", {})) + 1)
    futures = [submit(r) for r in ranges[:ahead]]
    for k, (s, e) in enumerate(ranges):
        cols, exact = _chunk_result(client, plan, futures, k, ranges, submit, shared, scatter)
        plan.exact_points += exact
        futures[k] = None
        nxt = k + ahead
        if nxt < len(ranges):
            futures.append(submit(ranges[nxt]))
        yield e - s, cols


def fetched_ahead(items: Iterator, depth: int = 2) -> Iterator:
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

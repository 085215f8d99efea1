"""A sweep's chunks solved on this machine: in threads (numpy's batch solve and pyarrow's
encoders release the GIL for most of a chunk's work), or in forked worker processes for
encodings that hold it (Python text), a few chunks ahead of the one yielded, in order."""
from __future__ import annotations

__all__ = ["local_chunks"]

import itertools
import multiprocessing
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from ..errors import ClusterError
from ..plan.sweep_plan import SweepPlan
from ..plan.sweep_rows import solved_chunk


def local_chunks(plan: SweepPlan, ranges: list, encode, threads: int,
                 processes: int | None = None) -> Iterator[tuple[int, object]]:
    """The chunks solved on this machine, in grid order: in ``processes`` forked worker
    processes when given (for encodings that hold the GIL: Python text), else in
    ``threads`` threads, a few chunks ahead of the one yielded. The exact path, Python
    through and through, takes one chunk at a time in a process (see
    :func:`~lifecycle_opt.plan.sweep_rows.sweep_columns`)."""
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

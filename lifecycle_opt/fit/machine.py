"""What the machine allows a fit: its cores, the memory it may hold, and the processes that
share the work, so that a large request is refused with the limit named before any work
starts instead of ending in a MemoryError or the out-of-memory killer.

The memory a fit may hold is the smaller of :data:`FIT_MEMORY` and a quarter of what the
machine has (its physical memory, or the process's address-space limit when one is set,
``ulimit -v``), shared among the processes that run it. The cores and the machine's
memory are the execution stage's (:mod:`lifecycle_opt.execution.machine`), shared with
the sweep.
"""
from __future__ import annotations

__all__ = ["cores", "machine_memory", "memory_budget", "check_workers", "default_workers", "run_parts",
           "FIT_MEMORY", "MAX_DEFAULT_WORKERS"]

from ..execution.machine import check_workers, cores, machine_memory

#: the most memory one fit holds in its batches, whatever the machine [bytes]
FIT_MEMORY = 512 * 2**20
#: the processes a fit starts when not told (each holds its share of the batches)
MAX_DEFAULT_WORKERS = 8


def memory_budget(workers: int = 1, ceiling: float | None = None) -> int:
    """The bytes each of ``workers`` processes may hold in its batches: ``ceiling``
    (default FIT_MEMORY), or a quarter of :func:`machine_memory` when that is less, shared
    among them."""
    total = FIT_MEMORY if ceiling is None else ceiling
    known = machine_memory()
    if known is not None:
        total = min(total, known // 4)
    return max(1 << 20, int(total // max(1, workers)))


def default_workers() -> int:
    """The processes a fit starts when not told: the cores, at most MAX_DEFAULT_WORKERS."""
    return min(cores(), MAX_DEFAULT_WORKERS)


def run_parts(job, parts: list, workers: int, progress=None) -> list:
    """``[job(p) for p in parts]``, on ``workers`` forked processes when more than one
    (``job`` top-level), in order; ``progress(i)`` after each part is done. The workers
    ignore Ctrl-C, which reaches the parent: it stops them and unwinds (nothing waits
    for their work to finish)."""
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork") if workers > 1 else None
    except ValueError:                                  # no fork on this platform: one process
        ctx = None
    if ctx is None:
        out = []
        for i, part in enumerate(parts):
            out.append(job(part))
            if progress is not None:
                progress(i + 1)
        return out
    with ctx.Pool(min(workers, len(parts)), initializer=_ignore_interrupts) as pool:
        out = []
        for i, result in enumerate(pool.imap(job, parts)):
            out.append(result)
            if progress is not None:
                progress(i + 1)
        return out                                      # leaving the block terminates the workers


def _ignore_interrupts() -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)

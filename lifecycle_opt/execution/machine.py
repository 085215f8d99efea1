"""What this machine allows the work it runs: its cores and the memory a process may
hold, so that a request beyond them (``--workers 512``, ``--chunk 10000000``, a sweep
held in memory whole) is refused with the limit named before any work starts, instead
of ending in a MemoryError or the out-of-memory killer. The fit's own budgets
(:mod:`lifecycle_opt.fit.machine`) are made of these."""
from __future__ import annotations

__all__ = ["cores", "machine_memory", "check_workers", "memory_text"]

import os

from ..errors import ScenarioError


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def machine_memory() -> int | None:
    """The memory this process may use [bytes]: physical memory, or the address-space
    limit when it is lower; None when neither is known."""
    found = []
    try:
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            found.append(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    return min(found) if found else None


def check_workers(workers: int | None) -> None:
    """ScenarioError when ``workers`` asks for more processes than the machine has cores:
    each would hold a share of the work and none would run faster."""
    if workers is not None and workers > cores():
        raise ScenarioError("--workers", f"at most {cores()} (the cores of this machine)", workers)


def memory_text(nbytes: float) -> str:
    """Bytes in binary units, as a limit is named: "512 MiB", "3.9 GiB"."""
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.1f} GiB"
    return f"{nbytes / 2**20:.0f} MiB"

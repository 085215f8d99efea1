"""The Dask client of a sweep: a running cluster's scheduler reached within a timeout, or
a local cluster of worker processes started as a sweep needs them (no MALLOC_TRIM_THRESHOLD_,
SIGINT ignored, quiet logs, no fixed port), closed when the sweep ends."""
from __future__ import annotations

__all__ = ["DaskClient"]

import os
import sys

from ..errors import ClusterError
from .cluster import trim_threshold


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


class DaskClient:
    """A Dask client for a scheduler's address or a local cluster of ``workers`` processes
    (neither: None), as a context manager; the local cluster it starts is closed on exit.
    ``say`` takes the one-line notes (a cluster whose workers will be slow)."""

    def __init__(self, scheduler: str | None, workers: int | None, timeout: float = 10.0, say=_stderr):
        self.scheduler, self.workers, self.timeout, self.say = scheduler, workers, timeout, say
        self.client = self.cluster = None

    def __enter__(self):
        if not (self.scheduler or self.workers):
            return None
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError("--scheduler and --workers need Dask: pip install 'lifecycle_opt[dask]'") from None
        import logging
        # Dask logs a worker's loss and its recovery on several lines; the sweep recovers
        # (or says in one line that it could not), so only Dask's critical logs are shown.
        # Dask's config gives some loggers levels of their own (distributed.client: a lost
        # scheduler was an ERROR line before the sweep's own), so each is set.
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.startswith("distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.workers:
            # a Client dropped unclosed earlier in this process (a connection given up on)
            # closes itself when collected; collected while the cluster below starts, it
            # waited on the lock the start holds, for ever: collect it first
            import gc
            gc.collect()
            self.cluster = local_cluster(LocalCluster, self.workers)
            self.client = Client(self.cluster)
        else:
            self.client = _connect(Client, self.scheduler, self.timeout)
            _say_trim_threshold(self.client, self.say)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


def _connect(Client, address: str, timeout: float):
    """A Client of the scheduler at ``address`` within ``timeout`` seconds, or one line
    saying why not: nothing there, not a Dask scheduler (an HTTP server can hold the
    handshake open for minutes, a server with a banner made Dask allocate exabytes), or
    an address Dask cannot use (tls:// without certificates)."""
    import threading

    found: dict = {}
    given_up = threading.Event()

    def attempt():
        try:
            client = Client(address, timeout=f"{timeout}s")
        except BaseException as exc:           # noqa: BLE001 — any failure is the address's
            found["error"] = exc
            return
        with lock:
            late = given_up.is_set()
            if not late:
                found["client"] = client
        if late:
            client.close()                     # given up on: nobody would close it otherwise
    lock = threading.Lock()
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 5.0)
    with lock:
        given_up.set()
        if "client" in found:
            return found["client"]
    why = (f"no Dask scheduler answered within {timeout:g} s" if worker.is_alive() or "error" not in found
           else f"{type(found['error']).__name__}: {str(found['error']).splitlines()[0] if str(found['error']) else ''}")
    raise ClusterError(f"--scheduler {address}: cannot connect ({why}); give the address of a running "
                       f"Dask scheduler, e.g. tcp://host:8786")


def local_cluster(LocalCluster, workers: int):
    """A local Dask cluster of ``workers`` processes of one thread each, started as the
    sweep needs (see the comments) and with its workers as quiet as the command."""
    import logging
    import signal

    import dask
    # Without Dask's MALLOC_TRIM_THRESHOLD_ (why it slows a sweep: .cluster.trim_threshold;
    # --workers 2 on 1e6 points took 9.0 s with it, 6.4 s without). Dask's nannies also
    # write it into the environment of the process that starts them (an earlier cluster in
    # a notebook), whence new workers would inherit it: it is lifted meanwhile.
    trim = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    # Ctrl-C reaches the whole process group, and each worker printed a KeyboardInterrupt
    # traceback; the command stops its cluster itself, so the workers start with SIGINT
    # ignored (kept across exec, and then left so by Python). This process ignores it too
    # for the second the cluster takes to start.
    try:
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:                         # not the main thread: signals are not ours
        sigint = None
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            # Dask starts the scheduler's HTTP server whatever dashboard_address says
            # (dask/distributed#7207, #8136): a random port on loopback, not 8787, so that no
            # fixed port is taken and a taken 8787 prints no multi-line warning. The
            # workers log as the command does (critical only): a stopped sweep's workers
            # warned of their cancelled tasks on several lines each.
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    finally:
        if sigint is not None:
            signal.signal(signal.SIGINT, sigint)
        if trim is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = trim


def _say_trim_threshold(client, say) -> None:
    """A line when the cluster's workers started with MALLOC_TRIM_THRESHOLD_ (Dask's
    default): the sweep runs, more slowly than it could."""
    try:
        found = client.run(trim_threshold)
    except Exception:                          # noqa: BLE001 — a hint only; the sweep says what fails
        return
    slow = sorted({v for v in found.values() if v is not None})
    if slow:
        say(f"note: {sum(v is not None for v in found.values())} of {len(found)} Dask workers started "
            f"with MALLOC_TRIM_THRESHOLD_={','.join(slow)} (Dask's default), which makes a sweep's "
            f"chunks up to 3x slower; the README's 'Columnar sweeps' says how to start them without it")

"""Sweeps end to end, as a user runs them, each figure beside its floor measured in the
same run (issue 31: at the floor).

Every figure is a ratio taken pair by pair, the command and its floor run in turn, and
given as min and median over the repetitions (the machine's speed drifts; the median is
the figure to quote):

* ``lifeopt sweep -o sweep.parquet`` (a child process, wall time) against pyarrow writing
  a table of the same rows and columns, already in memory (``pq.write_table``, zstd, its
  default dictionaries): goal ≤ 2x;
* ``-o sweep.csv`` against pyarrow's CSV writer on the same table: goal ≤ 1.5x;
* ``-o sweep.arrow`` and ``-o sweep.jsonl`` against the same Parquet floor, for scale;
* a 1,000-point sweep against one ``lifeopt solve`` of the same scenario: goal ≤ 1.5x;
* ``--xlsx`` of 1e5 points against the CSV sweep of the same points: goal ≤ 10x, and its
  peak memory: goal ≤ 300 MB;
* ``--workers 2`` (a local Dask cluster) against the local run, Parquet: goal ≤ 1.25x on a
  machine whose cores the local run fills; with ``--big``, at 1e7 points, with the memory
  of the command and all its processes (proportional set size, summed, sampled every
  50 ms): goal ≤ 1 GB.

    python benchmarks/bench_sweep.py [--reps N] [--big]
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

EXAMPLE = "examples/small_corpus.toml"          # data-constrained, with an epochs and a deadline limit
ONE_AXIS = "inference.tokens=1e9..1e15:log:{n}"


def command(args: list[str]) -> tuple[float, float]:
    """(seconds, peak MB summed over the process and its descendants) of one command."""
    import psutil
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = [0.0], threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                peak[0] = max(peak[0], total / 1e6)
            except psutil.NoSuchProcess:
                return
            done.wait(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {err.decode()[-500:]}")
    return seconds, peak[0]


def lifeopt(*args: str) -> list[str]:
    return [sys.executable, "-m", "lifecycle_opt.cli", *args]


def sweep_cmd(spec: str, out: str, *extra: str) -> list[str]:
    return lifeopt("sweep", EXAMPLE, "--vary", spec, "-o", out, "--force", "--no-progress", *extra)


def table_of(spec: str):
    """The sweep's rows as a plain Arrow table in memory (what the floors write)."""
    from lifecycle_opt.execution.sweeps import sweep
    return sweep(EXAMPLE, [spec]).to_arrow()


def floors(table, folder: str) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    out = {}
    t = time.perf_counter()
    pq.write_table(table, os.path.join(folder, "floor.parquet"), compression="zstd")
    out["parquet"] = time.perf_counter() - t
    t = time.perf_counter()
    pacsv.write_csv(table, os.path.join(folder, "floor.csv"))
    out["csv"] = time.perf_counter() - t
    return out


def report(name: str, pairs: list[tuple[float, float]], goal: str = "", unit: str = "s") -> None:
    ratios = [a / b for a, b in pairs]
    a, b = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(f"  {name:44s} {a:8.2f} {unit} beside {b:7.2f} {unit}: ratio min {min(ratios):5.2f}x, "
          f"median {statistics.median(ratios):5.2f}x{'  (goal ' + goal + ')' if goal else ''}", flush=True)


def at_the_floor(n: int, reps: int, folder: str) -> None:
    spec = ONE_AXIS.format(n=n)
    table = table_of(spec)
    pairs: dict[str, list] = {k: [] for k in ("parquet", "csv", "arrow", "jsonl")}
    peaks: dict[str, list] = {k: [] for k in pairs}
    for _ in range(reps):
        floor = floors(table, folder)
        for fmt in pairs:
            seconds, peak = command(sweep_cmd(spec, os.path.join(folder, f"sweep.{fmt}")))
            pairs[fmt].append((seconds, floor["csv" if fmt == "csv" else "parquet"]))
            peaks[fmt].append(peak)
    print(f"\n{n:,} points, one axis ({EXAMPLE}); floor: pyarrow writing the same {table.num_rows:,} rows "
          f"x {table.num_columns} columns from memory")
    report("sweep -o sweep.parquet / pq.write_table", pairs["parquet"], "<= 2x")
    report("sweep -o sweep.csv / pyarrow.csv.write_csv", pairs["csv"], "<= 1.5x")
    report("sweep -o sweep.arrow / pq.write_table", pairs["arrow"])
    report("sweep -o sweep.jsonl / pq.write_table", pairs["jsonl"])
    print("  peak memory (PSS, MB, median): " + ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in peaks.items()))


def small_and_xlsx(reps: int, folder: str) -> None:
    spec = ONE_AXIS.format(n=1000)
    solve = lifeopt("solve", EXAMPLE)
    small = [(command(sweep_cmd(spec, os.path.join(folder, "small.csv")))[0], command(solve)[0])
             for _ in range(reps)]
    print("\nfixed costs")
    report("sweep of 1,000 points / one lifeopt solve", small, "<= 1.5x")
    spec = ONE_AXIS.format(n=100_000)
    xlsx, peaks = [], []
    for _ in range(max(1, reps // 2)):
        seconds, peak = command(sweep_cmd(spec, os.path.join(folder, "x.csv"), "--xlsx",
                                          os.path.join(folder, "x.xlsx")))
        xlsx.append((seconds, command(sweep_cmd(spec, os.path.join(folder, "c.csv")))[0]))
        peaks.append(peak)
    report("sweep --xlsx, 1e5 points / the CSV sweep", xlsx, "<= 10x")
    print(f"  sweep --xlsx, 1e5 points: peak memory {statistics.median(peaks):.0f} MB (goal <= 300 MB)")


def dask(n: int, reps: int, folder: str) -> None:
    spec = ONE_AXIS.format(n=n)
    pairs, peaks = [], []
    for _ in range(reps):
        local = command(sweep_cmd(spec, os.path.join(folder, "local.parquet")))
        workers = command(sweep_cmd(spec, os.path.join(folder, "dask.parquet"), "--workers", "2"))
        pairs.append((workers[0], local[0]))
        peaks.append((workers[1], local[1]))
    print(f"\nDask, {n:,} points, Parquet")
    report("--workers 2 / the local run", pairs, "<= 1.25x")
    report("peak memory, --workers 2 / the local run", peaks, "<= 1 GB" if n >= 10**7 else "", unit="MB")


def main() -> None:
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
    print(f"{os.cpu_count()} cores; {reps} repetitions, each figure run in turn with its floor")
    with tempfile.TemporaryDirectory() as folder:
        at_the_floor(1_000_000, reps, folder)
        small_and_xlsx(reps, folder)
        dask(1_000_000, reps, folder)
        if "--big" in sys.argv:
            dask(10_000_000, max(1, reps // 2), folder)


if __name__ == "__main__":
    main()

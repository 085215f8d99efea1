"""Sweeps end to end, as a user runs them, against the batch solver alone on the same points
(issue: sweeps at the speed of the batch solver).

Prints, measured in one run on the machine at hand:
* the batch solver alone on every point of the sweep (the plan built, then only
  ``solve_batch`` on each chunk's Batch): the floor nothing can beat;
* the floor of the writers: numpy columns of the same rows written by pyarrow as
  Parquet and as CSV;
* ``lifeopt sweep ... -o FILE`` for Parquet, CSV, JSON Lines and Arrow (the command, in a
  child process, wall time and peak memory), and the ratio to the bare solve;
* the same with ``--workers 2`` (a local Dask cluster started by the command) for Parquet
  and CSV (Parquet only at 1e7), and with ``--scheduler`` sent to a running cluster of two workers on this
  machine (started here, warmed by one small sweep), as a user with a cluster runs it.

    python benchmarks/bench_sweep.py            # 1e6 points on one axis, and 1,000 × 1,000
    python benchmarks/bench_sweep.py --big      # and 1e7 points on one axis (peak memory)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from lifecycle_opt.execution.sweeps import sweep_chunks
from lifecycle_opt.plan.sweep_plan import combine_sides, plan_sweep, side_indices
from lifecycle_opt.solvers.batch import solve_batch

EXAMPLE = "examples/small_corpus.toml"          # data-constrained, with an epochs and a deadline limit
CASES = {
    "1e6 points, one axis": ["--vary", "inference.tokens=1e9..1e15:log:1000000"],
    "1e6 points, 1,000 x 1,000": ["--vary", "inference.tokens=1e9..1e15:log:1000",
                                  "--vary", "hardware.training.price_per_gpu_hour=1..4:lin:1000"],
}
BIG = {"1e7 points, one axis": ["--vary", "inference.tokens=1e9..1e15:log:10000000"]}


def bare_solve(specs: list[str]) -> tuple[float, int]:
    """Seconds for solve_batch alone over every chunk of the sweep (its Batch built first)."""
    axes = [v for k, v in zip(specs[::2], specs[1::2])]
    plan = plan_sweep(EXAMPLE, axes)
    total, n = 0.0, 0
    for start in range(0, plan.size, 65_536):
        flat = np.arange(start, min(start + 65_536, plan.size))
        li, ci = side_indices(plan, flat)
        batch, _ = combine_sides(plan, li, ci)
        t = time.perf_counter()
        result = solve_batch(batch)
        total += time.perf_counter() - t
        n += int((result.status == 0).sum())
    return total, n


def floor(specs: list[str], folder: str) -> dict:
    """pyarrow writing the sweep's own columns (already in memory) as Parquet and CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from lifecycle_opt.plan.sweep_result import SweepResult
    axes = [v for k, v in zip(specs[::2], specs[1::2])]
    plan = plan_sweep(EXAMPLE, axes)
    table = SweepResult.from_chunks(plan, (c for _, c in sweep_chunks(plan))).to_arrow()
    out = {}
    t = time.perf_counter()
    pq.write_table(table, os.path.join(folder, "floor.parquet"), compression="zstd")
    out["parquet"] = time.perf_counter() - t
    t = time.perf_counter()
    pacsv.write_csv(table, os.path.join(folder, "floor.csv"))
    out["csv"] = time.perf_counter() - t
    del table, pa
    return out


def command(specs: list[str], out: str, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """(seconds, peak MB) of `lifeopt sweep` writing ``out``, in a child process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:]); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); "
            "sys.exit(r.returncode)")
    argv = [sys.executable, "-c", code, sys.executable, "-m", "lifecycle_opt.cli", "sweep", EXAMPLE, *specs,
            "-o", out, "--force", "--no-progress", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.split()
    return float(seconds), float(peak)


def running_cluster():
    """A running local Dask cluster of two one-thread workers, configured as the command's
    own (no MALLOC_TRIM_THRESHOLD_), warmed by one small sweep."""
    from dask.distributed import LocalCluster
    from lifecycle_opt.execution.dask_client import local_cluster
    cluster = local_cluster(LocalCluster, 2)
    with tempfile.TemporaryDirectory() as folder:
        command(["--vary", "inference.tokens=1e9..1e15:log:200000"], os.path.join(folder, "warm.csv"),
                ("--scheduler", cluster.scheduler_address))
    return cluster


def main() -> None:
    cases = dict(CASES)
    if "--big" in sys.argv:
        cases.update(BIG)
    with tempfile.TemporaryDirectory() as folder:
        for name, specs in cases.items():
            solve_s, solved = bare_solve(specs)
            print(f"\n{name} ({EXAMPLE}): batch solver alone {solve_s:.2f} s ({solved:,} plans solved)")
            if "1e7" not in name:
                fl = floor(specs, folder)
                print(f"  floor, pyarrow writing the same columns: Parquet {fl['parquet']:.2f} s, CSV {fl['csv']:.2f} s")
            for fmt in ("parquet", "csv", "jsonl", "arrow"):
                seconds, peak = command(specs, os.path.join(folder, f"sweep.{fmt}"))
                size = os.path.getsize(os.path.join(folder, f"sweep.{fmt}")) / 1e6
                print(f"  lifeopt sweep -o sweep.{fmt:8s} {seconds:7.2f} s  {seconds / solve_s:5.1f}x the bare solve"
                      f"  peak {peak:6.0f} MB  file {size:7.0f} MB")
            dask_runs(specs, folder, solve_s, ("parquet",) if "1e7" in name else ("parquet", "csv"))


def dask_runs(specs: list[str], folder: str, solve_s: float, formats: tuple[str, ...]) -> None:
    """``formats`` on a local cluster the command starts (--workers 2), then on a running
    one (--scheduler), which is up only meanwhile: its idle workers and scheduler would
    take CPU from the other runs."""
    for fmt in formats:
        seconds, peak = command(specs, os.path.join(folder, f"sweep.{fmt}"), ("--workers", "2"))
        print(f"  lifeopt sweep -o sweep.{fmt:8s} --workers 2 {seconds:7.2f} s  "
              f"{seconds / solve_s:5.1f}x the bare solve  peak {peak:6.0f} MB (client)")
    cluster = running_cluster()
    try:
        for fmt in formats:
            seconds, peak = command(specs, os.path.join(folder, f"sweep.{fmt}"),
                                    ("--scheduler", cluster.scheduler_address))
            print(f"  lifeopt sweep -o sweep.{fmt:8s} --scheduler (2 running workers) {seconds:7.2f} s  "
                  f"{seconds / solve_s:5.1f}x the bare solve  peak {peak:6.0f} MB (client)")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()

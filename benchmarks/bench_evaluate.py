"""`lifeopt evaluate --vary` on 1e4 and 1e5 points (issue 32: it took 5 s a hundred points,
point by point; 1e5 did not finish in 300 s).

Prints, for each size, the time of the command (a child process, CSV to a file, its peak
memory) and of the API's `evaluate_sweep` alone, and the time of 100 points evaluated one
by one (the old path, `evaluation.evaluate` per point) for scale.

    python benchmarks/bench_evaluate.py [--sizes 10000 100000]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

EXAMPLE = "examples/chat_assistant.toml"
PLAN = ["--params", "7B", "--flops", "8.4e22"]


def command(points: int) -> tuple[float, float]:
    """(seconds, peak MB) of `lifeopt evaluate --vary` on ``points`` points, CSV to a file."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lifecycle_opt.cli", "evaluate", EXAMPLE, *PLAN, "--vary",
                        f"inference.requests=1e9..1e12:log:{points}", "--format", "csv", "-o",
                        os.path.join(folder, "e.csv")], check=True, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def api(points: int) -> float:
    from lifecycle_opt.plan.evaluation_sweep import evaluate_sweep
    start = time.perf_counter()
    rows = evaluate_sweep(EXAMPLE, {"inference.requests": f"1e9..1e12:log:{points}"}, params="7B", flops="8.4e22")
    assert len(rows) == points and all(r["status"] == "evaluated" for r in rows)
    return time.perf_counter() - start


def one_by_one(points: int = 100) -> float:
    from lifecycle_opt.plan.evaluation import evaluate
    from lifecycle_opt.plan.sweep_rows import point_scenarios
    start = time.perf_counter()
    for _, scenario in point_scenarios(EXAMPLE, {"inference.requests": f"1e9..1e12:log:{points}"}):
        evaluate(scenario, params="7B", flops="8.4e22")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"{EXAMPLE}, {' '.join(PLAN)}, inference.requests varied; {os.cpu_count()} cores")
    for n in args.sizes:
        seconds, peak = command(n)
        print(f"{n:>7,} points: lifeopt evaluate --vary (CSV to a file) {seconds:6.2f} s, peak {peak:,.0f} MB "
              f"(the largest child so far); evaluate_sweep alone {api(n):6.2f} s")
    print(f"    100 points one by one (the old path): {one_by_one():.2f} s")


if __name__ == "__main__":
    main()

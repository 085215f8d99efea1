"""The roofline serving model's speed: a sweep of 1e5 serving points end to end, every point
certified, and single solves (docs/model.md §8).

Run: python benchmarks/bench_serving.py [--points 100000] [--check 12]
Prints:
* the wall-clock and CPU seconds of ``lifeopt sweep examples/serving_slo.toml --vary
  target.loss=… --vary serving.tpot_ms=…`` writing a CSV of ~1e5 rows (the batch path:
  solvers/batch_serving.py), the largest KKT residual of its rows and how many points the
  exact path solved; and the machine's load average, since the timings are wall-clock on a
  shared machine;
* the agreement of ``--check`` random rows with the exact solver (cvxpy's geometric program
  and SLSQP, polished to KKT ≤ 1e-9, each replica size its own problem): the largest
  relative difference in N, D and the lifecycle cost;
* a single ``solve`` of the example, warm: the exact path (the batch solver prices each
  replica size, the cheapest is solved and certified).
"""
import argparse
import copy
import csv
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "serving_slo.toml"


def sweep_end_to_end(points: int, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the CLI sweep, the child processes' CPU included."""
    side = int(round(math.sqrt(points)))
    lifeopt = os.path.join(os.path.dirname(sys.executable), "lifeopt")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([lifeopt, "sweep", str(EXAMPLE), "--vary", f"target.loss=1.86..2.1:{side}",
                    "--vary", f"serving.tpot_ms=26..100:log:{side}", "--format", "csv", "-o", str(out), "--force"],
                   check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check_rows(rows: list[dict], n: int) -> dict:
    """The largest relative differences of ``n`` random rows from their exact solves."""
    from lifecycle_opt import load_scenario, solve
    from lifecycle_opt.scenario.reader import scenario_from_dict

    raw = copy.deepcopy(load_scenario(EXAMPLE).raw)
    rng = np.random.default_rng(0)
    worst = {"params": 0.0, "tokens": 0.0, "total_cost_pv_usd": 0.0}
    for i in rng.choice(len(rows), size=n, replace=False):
        row = rows[i]
        point = copy.deepcopy(raw)
        point["target"] = {"loss": float(row["target.loss"])}
        point["serving"]["tpot_ms"] = float(row["serving.tpot_ms"])
        one = solve(scenario_from_dict(point)).as_row()
        for key in worst:
            worst[key] = max(worst[key], abs(float(row[key]) / one[key] - 1.0))
    return worst


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--check", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.csv"
        wall, cpu = sweep_end_to_end(args.points, out)
        rows = list(csv.DictReader(open(out)))
        load = os.getloadavg()
        kkt = max(float(r["kkt_residual"]) for r in rows if r["status"] == "optimal")
        optimal = sum(r["status"] == "optimal" for r in rows)
        print(f"lifeopt sweep, {len(rows):,} serving points: {wall:.1f} s wall, {cpu:.1f} s CPU "
              f"(load average {load[0]:.1f} on {os.cpu_count()} cores); {optimal:,} optimal, "
              f"largest KKT residual {kkt:.1e}")
        if args.check:
            worst = check_rows(rows, args.check)
            print(f"{args.check} random rows against the exact solver: largest relative difference "
                  + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    from lifecycle_opt import load_scenario, solve
    s = load_scenario(EXAMPLE)
    solve(s)
    t, c = time.perf_counter(), time.process_time()
    solve(s)
    print(f"one solve of {EXAMPLE.name}, warm: {time.perf_counter() - t:.2f} s wall, {time.process_time() - c:.2f} s CPU")


if __name__ == "__main__":
    main()

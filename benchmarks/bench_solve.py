"""Time one certified solve per shipped example, and the floor every cvxpy command pays.

Run: python benchmarks/bench_solve.py
Prints, measured in the same run: the cold `import cvxpy` time, the time of a first solve
(cvxpy compile included) and of repeated solves per example, and the ratio to the import.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cold(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def main():
    floor = min(cold([sys.executable, "-c", "import cvxpy"]) for _ in range(3))
    print(f"bare `import cvxpy`: {floor:.2f} s")
    from lifecycle_opt import solve
    from lifecycle_opt.scenario.reader import load_scenarios
    for path in sorted((ROOT / "examples").glob("*.toml")):
        s = load_scenarios(path)[0]
        if len(load_scenarios(path)) > 1:
            continue                     # a [[scenario]] file is for `lifeopt compare`
        cli = min(cold([os.path.join(os.path.dirname(sys.executable), "lifeopt"), "solve", str(path)])
                  for _ in range(2))
        t = time.perf_counter()
        n = 10
        for _ in range(n):
            solve(s)
        warm = (time.perf_counter() - t) / n
        print(f"{path.name:28s} CLI {cli:.2f} s ({cli / floor:.2f}x import)   warm solve {1e3 * warm:.0f} ms")


if __name__ == "__main__":
    main()

"""Time one certified solve per shipped example against a numpy/scipy-only script that
answers the same question, and the floor a cvxpy command pays.

Run: python benchmarks/bench_solve.py
Prints, measured in the same run: the cold `import cvxpy` and `import scipy.optimize`
times; `benchmarks/reference_solve.py` (numpy and scipy alone, no certificate) against
`lifeopt solve examples/chat_assistant.toml` end to end, with the default solvers (the
numpy batch solver and scipy) and with `--solver cvxpy`, as ratios; then per example the
cold CLI time and the warm solve time of each solver choice.
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
    scipy_floor = min(cold([sys.executable, "-c", "import scipy.optimize"]) for _ in range(3))
    print(f"bare `import cvxpy`: {floor:.2f} s; bare `import scipy.optimize`: {scipy_floor:.2f} s")
    lifeopt = os.path.join(os.path.dirname(sys.executable), "lifeopt")
    chat = str(ROOT / "examples" / "chat_assistant.toml")
    reference = min(cold([sys.executable, str(ROOT / "benchmarks" / "reference_solve.py")]) for _ in range(5))
    auto = min(cold([lifeopt, "solve", chat]) for _ in range(5))
    with_cvxpy = min(cold([lifeopt, "solve", chat, "--solver", "cvxpy"]) for _ in range(5))
    print(f"chat_assistant: numpy/scipy reference script {reference:.2f} s; lifeopt solve {auto:.2f} s "
          f"({auto / reference:.2f}x the script); lifeopt solve --solver cvxpy {with_cvxpy:.2f} s "
          f"({with_cvxpy / reference:.2f}x)")
    from lifecycle_opt import solve
    from lifecycle_opt.scenario.reader import load_scenarios
    for path in sorted((ROOT / "examples").glob("*.toml")):
        s = load_scenarios(path)[0]
        if len(load_scenarios(path)) > 1:
            continue                     # a [[scenario]] file is for `lifeopt compare`
        cli = min(cold([lifeopt, "solve", str(path)]) for _ in range(2))
        warm = {}
        for solver in ("auto", "cvxpy"):
            solve(s, solver)
            t = time.perf_counter()
            n = 10
            for _ in range(n):
                solve(s, solver)
            warm[solver] = (time.perf_counter() - t) / n
        print(f"{path.name:28s} CLI {cli:.2f} s   warm solve {1e3 * warm['auto']:.0f} ms "
              f"({1e3 * warm['cvxpy']:.0f} ms with cvxpy)")


if __name__ == "__main__":
    main()

"""Time `lifeopt solve` for every shipped example against its floor: a numpy/scipy-only
script that answers one such question without a certificate (`reference_solve.py`).

Run: python benchmarks/bench_solve.py [--reps N]
Prints, measured in one run, each figure beside its floor: for every example, `lifeopt
solve` (the installed command, a child process) and the reference script run in turn,
A B A B ..., so that the machine's drift over the run touches both alike; the ratio is
taken pair by pair and given as min and median (the figure to quote), with the two times'
medians. Then `--solver cvxpy` on chat_assistant against the same floor, the cold
`import cvxpy` and `import scipy.optimize`, and the warm solve of each example.

The package's bytecode is compiled first, as `pip install .` does at install (see the
README): an editable install run with PYTHONDONTWRITEBYTECODE would compile every module
on every run.
"""
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = [sys.executable, str(ROOT / "benchmarks" / "reference_solve.py")]


def cold(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def paired(cmd, floor, reps: int) -> tuple[float, float, float, float]:
    """(median seconds of cmd, median of floor, min ratio, median ratio), run in turn."""
    cold(cmd), cold(floor)                      # warm the file cache
    a, b = [], []
    for _ in range(reps):
        a.append(cold(cmd))
        b.append(cold(floor))
    ratios = [x / y for x, y in zip(a, b)]
    return statistics.median(a), statistics.median(b), min(ratios), statistics.median(ratios)


def examples() -> list[Path]:
    from lifecycle_opt.scenario.reader import load_scenarios
    # a [[scenario]] file is for `lifeopt compare`
    return [p for p in sorted((ROOT / "examples").glob("*.toml")) if len(load_scenarios(p)) == 1]


def main() -> None:
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 7
    compileall.compile_dir(str(ROOT / "lifecycle_opt"), quiet=1)
    lifeopt = os.path.join(os.path.dirname(sys.executable), "lifeopt")
    print(f"floor: {' '.join(Path(c).name for c in REFERENCE)} (numpy and scipy, no certificate); "
          f"{reps} pairs each, run in turn")
    print(f"{'example':28s} {'lifeopt solve':>13s} {'floor':>7s} {'ratio min':>9s} {'median':>7s}")
    for path in examples():
        cmd_s, floor_s, lo, mid = paired([lifeopt, "solve", str(path)], REFERENCE, reps)
        print(f"{path.name:28s} {cmd_s:11.3f} s {floor_s:5.3f} s {lo:8.2f}x {mid:6.2f}x")
    chat = str(ROOT / "examples" / "chat_assistant.toml")
    cmd_s, floor_s, lo, mid = paired([lifeopt, "solve", chat, "--solver", "cvxpy"], REFERENCE, max(3, reps // 2))
    print(f"{'chat_assistant --solver cvxpy':28s} {cmd_s:11.3f} s {floor_s:5.3f} s {lo:8.2f}x {mid:6.2f}x")
    imports = {m: min(cold([sys.executable, "-c", f"import {m}"]) for _ in range(3))
               for m in ("cvxpy", "scipy.optimize")}
    print("bare " + "; ".join(f"`import {m}`: {s:.2f} s" for m, s in imports.items()))
    warm()


def warm() -> None:
    """The warm solve of each example, with each first solver (no imports, no start-up)."""
    from lifecycle_opt import solve
    from lifecycle_opt.scenario.reader import load_scenarios
    for path in examples():
        s = load_scenarios(path)[0]
        times = {}
        for solver in ("auto", "cvxpy"):
            solve(s, solver)
            t = time.perf_counter()
            for _ in range(10):
                solve(s, solver)
            times[solver] = (time.perf_counter() - t) / 10
        methods = ", ".join(solve(s).certificate.methods)
        print(f"{path.name:28s} warm solve {1e3 * times['auto']:5.0f} ms ({1e3 * times['cvxpy']:.0f} ms with cvxpy)"
              f"  [{methods}]")


if __name__ == "__main__":
    main()

"""Time the 4,500-start Approach 3 fit and the bootstrap, against plain scipy per start.

Run: python benchmarks/bench_fit.py [--baseline-starts 4500]
Data: the Chinchilla points reconstructed by Epoch AI (../shared/validation/, 240 runs after
dropping the 5 highest-loss rows); synthetic runs when that file is absent.

Prints, measured in the same run:
* the batched fit (all 4,500 starts at once, on 1 process and on all cores);
* the baseline: scipy's L-BFGS-B run from each start in turn, with the same vectorised
  objective and analytic gradient (so the ratio measures the batching, not the objective);
* 1,000 bootstrap refits;
and the best objective each reached.
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from lifecycle_opt.fit.parametric import _features, bootstrap, fit_law, huber_objective, start_grid
from lifecycle_opt.fit.runs import Runs, read_runs
from lifecycle_opt.model.presets import preset

EPOCH = Path(__file__).resolve().parent.parent.parent / "shared" / "validation" / "chinchilla_fig4_extracted.csv"


def runs():
    if EPOCH.exists():
        return read_runs(EPOCH).without_highest_loss(5)
    law = preset("besiroglu2024")
    N = np.repeat(np.geomspace(5e7, 1.6e10, 24), 10)
    D = N * np.tile(np.geomspace(1, 500, 10), 24)
    return Runs(N, D, np.asarray(law.loss(N, D)) * np.exp(np.random.default_rng(0).normal(0, 0.01, N.size)),
                "synthetic")


def scipy_per_start(data, starts):
    x, z, y = _features(data)

    def fun(t):
        f, g = huber_objective(t[None, :], x, z, y)
        return float(f[0]), g[0]
    best = np.inf
    for t0 in starts:
        res = minimize(fun, t0, jac=True, method="L-BFGS-B")
        best = min(best, res.fun)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-starts", type=int, default=4500,
                    help="starts for the scipy baseline (all 4,500 by default; fewer are extrapolated)")
    args = ap.parse_args()
    data = runs()
    grid = start_grid()
    print(f"{len(data)} runs ({data.source}), {len(grid)} starts, {os.cpu_count()} cores")

    t = time.perf_counter()
    one = fit_law(data, workers=1)
    t_one = time.perf_counter() - t
    t = time.perf_counter()
    result = fit_law(data)
    t_all = time.perf_counter() - t
    print(f"batched fit, 1 process:     {t_one:6.2f} s   objective {one.objective:.10g}")
    print(f"batched fit, all cores:     {t_all:6.2f} s   objective {result.objective:.10g}")

    picks = grid if args.baseline_starts >= len(grid) else \
        grid[np.random.default_rng(0).choice(len(grid), args.baseline_starts, replace=False)]
    t = time.perf_counter()
    best = scipy_per_start(data, picks)
    t_base = (time.perf_counter() - t) * len(grid) / len(picks)
    note = "" if len(picks) == len(grid) else f" (extrapolated from {len(picks)} starts)"
    print(f"scipy L-BFGS-B per start:   {t_base:6.2f} s{note}   objective {best:.10g}")
    print(f"speed-up: {t_base / t_one:.1f}x on 1 process, {t_base / t_all:.1f}x on all cores")

    t = time.perf_counter()
    boot = bootstrap(result, 1000, seed=1)
    print(f"1,000 bootstrap refits:     {time.perf_counter() - t:6.2f} s   "
          f"alpha {boot.interval('alpha')[0]:.3f}–{boot.interval('alpha')[1]:.3f}, "
          f"beta {boot.interval('beta')[0]:.3f}–{boot.interval('beta')[1]:.3f}")


if __name__ == "__main__":
    main()

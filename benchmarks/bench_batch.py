"""Batch solver throughput against the exact per-scenario solver (issue: a million plans a second).

Prints, measured in the same run:
* plans per second of the batch solver on 1e4, 1e5 and 1e6 data-constrained scenarios with
  mixed limits (one process, and the points split over the machine's cores);
* a warm loop of the exact per-scenario solver (cvxpy + scipy + Newton polish) on a sample,
  and the ratio;
* `lifeopt solve` on a shipped example against a bare `python -c "import cvxpy"`;
* with --big, the peak memory of a 1e7-point sweep streamed to CSV.

    python benchmarks/bench_batch.py [--big]
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from lifecycle_opt.solvers.batch import Batch, solve_batch
from lifecycle_opt.model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR
from lifecycle_opt.model.presets import preset
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.plan.planning import solve

LAW = preset("muennighoff2023")


def random_batch(n: int, seed: int = 0) -> tuple[Batch, list[dict]]:
    """n cost-minimising plans under the repetition penalty: demand 1e9–1e14 tokens, corpus
    1e10–1e13 unique tokens, targets 0.15–0.6 nats above E, and each limit present in a
    share of the points: max params (30 %), max epochs (50 %), min and max D/N (20 % each),
    a training compute cap (30 %). Also returns the first 50 as scenario dicts."""
    rng = np.random.default_rng(seed)
    full = lambda v: np.full(n, float(v))
    demand = 10 ** rng.uniform(9, 14, n)
    unique = 10 ** rng.uniform(10, 13, n)
    target = LAW.E + rng.uniform(0.15, 0.6, n)
    pick = lambda p: rng.random(n) < p
    max_params = np.where(pick(0.3), 10 ** rng.uniform(9, 11.5, n), np.inf)
    epochs = np.where(pick(0.5), rng.uniform(1, 30, n), np.inf)
    min_ratio = np.where(pick(0.2), rng.uniform(5, 60, n), 0.0)
    max_ratio = np.where(pick(0.2), rng.uniform(100, 2000, n), np.inf)
    flops_cap = np.where(pick(0.3), 10 ** rng.uniform(22, 26, n), np.inf)
    names = ("loss_target", "max_params", "max_epochs", "min_tokens_per_param",
             "max_tokens_per_param", "budget_training_flops", "max_total_cost")
    code = lambda k: np.full(n, names.index(k), dtype=np.int32)
    with np.errstate(divide="ignore"):
        batch = Batch(E=full(LAW.E), A=full(LAW.A), B=full(LAW.B), alpha=full(LAW.alpha), beta=full(LAW.beta),
                      power=full(1.0), unique=unique, r_d=full(MUENNIGHOFF_R_D_STAR),
                      r_n=full(MUENNIGHOFF_R_N_STAR), minimise_loss=np.zeros(n, bool), target=target,
                      a=full(6.0), b=2.0 * demand, x_le=np.log(max_params), y_le=np.log(epochs * unique),
                      ratio_ge=np.log(min_ratio), ratio_le=np.log(max_ratio), nd_le=np.log(flops_cap / 6.0),
                      cost_c1=full(0.0), cost_c2=full(0.0), x_le_name=code("max_params"),
                      y_le_name=code("max_epochs"), ratio_ge_name=code("min_tokens_per_param"),
                      ratio_le_name=code("max_tokens_per_param"), nd_le_name=code("budget_training_flops"),
                      cost_le_name=code("max_total_cost"), unsupported=np.zeros(n, bool), names=names)
    raws = []
    for i in range(min(n, 50)):
        limits = {k: float(v) for k, v in (("max_params", max_params[i]), ("min_tokens_per_param", min_ratio[i]),
                                           ("max_tokens_per_param", max_ratio[i])) if 0 < v < np.inf}
        raw = {"law": {"preset": "muennighoff2023"}, "objective": {"minimize": "flops"},
               "target": {"loss": float(target[i])}, "inference": {"tokens": float(demand[i])},
               "data": {"unique_tokens": float(unique[i]), "repetition_penalty": True}}
        if np.isfinite(epochs[i]):
            raw["data"]["max_epochs"] = float(epochs[i])
        if np.isfinite(flops_cap[i]):
            raw["budget"] = {"training_flops": float(flops_cap[i])}
        if limits:
            raw["limits"] = limits
        raws.append(raw)
    return batch, raws


_SHARED: list = []


def _solve_part(bounds):
    lo, hi = bounds
    return solve_batch(_SHARED[0].take(np.arange(lo, hi))).params


def parallel_solve(batch: Batch, workers: int):
    """Split the points over ``workers`` forked processes (they inherit the batch; only the
    answers travel back)."""
    n = len(batch)
    edges = np.linspace(0, n, workers + 1).astype(int)
    _SHARED[:] = [batch]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_solve_part, [(0, 10)] * workers)                    # processes up
        t = time.perf_counter()
        parts = pool.map(_solve_part, [(edges[i], edges[i + 1]) for i in range(workers)])
        return time.perf_counter() - t, np.concatenate(parts)


def main(big: bool) -> None:
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, numpy {np.__version__}")
    print("\nbatch solver, data-constrained plans with mixed limits (muennighoff2023 + penalty):")
    print(f"{'plans':>10} {'1 process':>12} {'plans/s':>12} {f'{cores} processes':>14} {'plans/s':>12}  optimal")
    rates = {}
    for n in (10_000, 100_000, 1_000_000):
        batch, _ = random_batch(n)
        solve_batch(batch.take(np.arange(min(n, 1000))))            # warm
        t = time.perf_counter()
        result = solve_batch(batch)
        one = time.perf_counter() - t
        many, params = parallel_solve(batch, cores)
        assert np.array_equal(params, result.params, equal_nan=True)
        rates[n] = n / many
        share = np.mean(result.status == 0)
        print(f"{n:>10,} {one:>11.3f}s {n / one:>12,.0f} {many:>13.3f}s {n / many:>12,.0f}  {share:.1%}")

    batch, raws = random_batch(1000)
    scenarios = [scenario_from_dict(r) for r in raws[:20]]
    solve(scenarios[0])                                               # warm: cvxpy imported, compiled
    t = time.perf_counter()
    for s in scenarios:
        try:
            solve(s)
        except Exception:
            pass
    exact = len(scenarios) / (time.perf_counter() - t)
    print(f"\nexact per-scenario solver (cvxpy + scipy + polish), warm loop over {len(scenarios)}: "
          f"{exact:,.1f} plans/s")
    print(f"batch at 1e6 on {cores} processes / exact loop: {rates[1_000_000] / exact:,.0f}x")

    print("\nstart-up: `lifeopt solve examples/chat_assistant.toml` against `python -c 'import cvxpy'`")
    imp = min(_wall([sys.executable, "-c", "import cvxpy"]) for _ in range(5))
    # the installed command, as a user runs it (python -m adds runpy and compiles cli.py each time)
    lifeopt = os.path.join(os.path.dirname(sys.executable), "lifeopt")
    cli = min(_wall([lifeopt, "solve", "examples/chat_assistant.toml"]) for _ in range(5))
    print(f"  import cvxpy {imp:.2f} s, lifeopt solve {cli:.2f} s, ratio {cli / imp:.2f} (best of 5)")

    if big:
        streamed_sweep()


def _wall(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def streamed_sweep() -> None:
    """1e7 points (1000 demands × 100 targets × 100 corpus sizes) streamed to CSV."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "big.csv")
        cmd = [sys.executable, "-m", "lifecycle_opt.cli", "sweep", "examples/small_corpus.toml",
               "--vary", "inference.tokens=1e10..1e14:log:1000", "--vary", "target.loss=2.3..2.6:lin:100",
               "--vary", "data.unique_tokens=1e10..1e12:log:100", "--format", "csv", "-o", out,
               "--no-progress"]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with open(out, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
        print(f"\n1e7-point sweep streamed to CSV: {lines - 1:,} rows, {os.path.getsize(out) / 1e9:.2f} GB, "
              f"{wall:.0f} s, peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    main("--big" in sys.argv)

"""Time the fits beyond the Chinchilla form: the repetition fit of Muennighoff et al. 2023 on
their 182-run layout, the likelihood fit of Besiroglu et al. 2024, the downstream mapping of
Gadre et al. 2024; with the accuracy each reached.

Run: python benchmarks/bench_fit_models.py [--workers N]
Data: examples/runs/datablations_runs.csv (losses redrawn from the paper's law for the
recovery figures), examples/runs/sardana2024_runs.csv, and Epoch AI's points from
../shared/validation/ when present.

Prints, measured in the same run:
* the repetition fit, joint and with the base law fixed, on noise-free runs (relative error
  of R_D*, R_N*) and on the published runs; 200 and 1,000 bootstrap refits;
* the likelihood fit (Huber errors) of Epoch's 240 points from the full grid;
* the downstream fit of Sardana et al.'s 47 runs and 1,000 bootstrap refits.
"""
import argparse
import math
import time
from pathlib import Path

import numpy as np

from lifecycle_opt.fit.constraints import Constraints
from lifecycle_opt.fit.downstream import downstream_bootstrap, fit_downstream
from lifecycle_opt.fit.likelihood import fit_likelihood
from lifecycle_opt.fit.repetition import fit_repetition, repetition_bootstrap, repetition_log_loss
from lifecycle_opt.fit.runs import Runs, read_runs
from lifecycle_opt.model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR
from lifecycle_opt.model.presets import preset

ROOT = Path(__file__).resolve().parent.parent
EPOCH = ROOT.parent / "shared" / "validation" / "chinchilla_fig4_extracted.csv"


def timed(label, fn):
    started = time.perf_counter()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - started:7.2f} s")
    return out


def repetition(workers):
    published = read_runs(ROOT / "examples" / "runs" / "datablations_runs.csv")
    base = preset("muennighoff2023")
    theta = [math.log(base.A), math.log(base.B), math.log(base.E), base.alpha, base.beta,
             math.log(MUENNIGHOFF_R_D_STAR), math.log(MUENNIGHOFF_R_N_STAR)]
    clean = np.exp(repetition_log_loss(theta, published.params, published.tokens, published.unique)[0])
    runs = Runs(published.params, published.tokens, clean, "drawn", published.unique)
    truth = np.array([MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR])
    for label, constraints in (("joint", Constraints()), ("base fixed", Constraints(base=base))):
        fit = timed(f"repetition fit, {label}, 182 noise-free runs", lambda: fit_repetition(
            runs, constraints=constraints, workers=workers))
        err = np.abs(np.array([fit.R_D_star, fit.R_N_star]) / truth - 1).max()
        print(f"{'':<4}R_D*, R_N* to {err:.1e} relative")
    fit = timed("repetition fit, base fixed, the 182 published runs", lambda: fit_repetition(
        published, constraints=Constraints(base=base), workers=workers))
    print(f"{'':<4}R_D* = {fit.R_D_star:.4g}, R_N* = {fit.R_N_star:.4g}, objective {fit.objective:.6g} "
          f"({fit.objective_at(*truth):.6g} at the published constants)")
    noisy = Runs(runs.params, runs.tokens, clean * np.exp(np.random.default_rng(0).normal(0, 0.005, clean.size)),
                 "noisy", runs.unique)
    fit = fit_repetition(noisy, workers=workers)
    for samples in (200, 1000):
        timed(f"repetition bootstrap, joint, {samples} resamples", lambda: repetition_bootstrap(fit, samples))


def likelihood(workers):
    if not EPOCH.exists():
        print(f"likelihood fit: skipped ({EPOCH} absent)")
        return
    runs = read_runs(EPOCH).without_highest_loss(5)
    fit = timed("likelihood fit (Huber errors), Epoch's 240 points, full grid",
                lambda: fit_likelihood(runs, workers=workers))
    law = fit.result.law
    print(f"{'':<4}A {law.A:.5f}, B {law.B:.5f}, E {law.E:.5f}, alpha {law.alpha:.5f}, beta {law.beta:.5f}, "
          f"log-likelihood {fit.log_likelihood:.4f}")


def downstream():
    runs = read_runs(ROOT / "examples" / "runs" / "sardana2024_runs.csv")
    fit = timed("downstream fit, Sardana et al.'s 47 runs", lambda: fit_downstream(runs.loss, runs.error))
    timed("downstream bootstrap, 1,000 resamples", lambda: downstream_bootstrap(fit, 1000))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    repetition(args.workers)
    likelihood(args.workers)
    downstream()


if __name__ == "__main__":
    main()

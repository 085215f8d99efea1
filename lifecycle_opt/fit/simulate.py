"""How well a planned design of runs would recover a law: simulate its runs from a known
law with noise, fit each simulation, and look at the spread of what comes back.

A planner choosing how many runs to buy, and at which sizes and tokens, asks: with this
ladder and this noise, how close to the truth will the fitted exponents and the
compute-optimal tokens per parameter be? ``simulate_design`` draws ``simulations``
noisy copies of the design's losses (log-normal noise of relative size ``noise``) and
fits every copy at once with the batched L-BFGS of :mod:`.parametric`, from the true law
and 100 points of the usual start grid (as a parametric bootstrap does; the grid lets a
poor design show its other basins), then polishes each copy's best from there.
"""
from __future__ import annotations

__all__ = ["DesignStudy", "simulate_design", "check_simulations", "DEFAULT_BUDGETS", "MAX_SIMULATED_RUNS"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.laws import ChinchillaLaw
from ..model.frontier import compute_optimal_plan
from .machine import memory_budget
from .parametric import FitObjective, _features, batched_lbfgs, huber_objective, start_grid
from .runs import Runs

#: the training budgets at which the recovered compute-optimal ratio is reported [FLOP]
DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 1e24, 1e25)
#: the most simulated runs (simulations × design runs) a study fits: 1,000 copies of a
#: 64-run ladder took 190 s on two shared cores (200 copies 38 s; time grows with both)
MAX_SIMULATED_RUNS = 64_000
_NAMES = ("E", "A", "B", "alpha", "beta")


@dataclass(frozen=True)
class DesignStudy:
    """The fits of ``simulations`` noisy copies of a design's runs under a known ``law``.

    fitted : {"E", "A", "B", "alpha", "beta"} → the fitted constant of every copy
    ratios : {budget [FLOP] → the compute-optimal D/N of every copy's fit at that budget}
    """

    law: ChinchillaLaw
    noise: float
    runs: int
    seed: int
    fitted: dict
    ratios: dict

    @property
    def simulations(self) -> int:
        return len(self.fitted["alpha"])

    def true_value(self, name: str) -> float:
        return float(getattr(self.law, name))

    def true_ratio(self, budget: float) -> float:
        n, d = compute_optimal_plan(budget, self.law.A, self.law.B, self.law.alpha, self.law.beta)
        return float(d / n)

    @staticmethod
    def quantiles(values) -> tuple[float, float, float]:
        """(5 %, 50 %, 95 %) of a sample."""
        return tuple(float(q) for q in np.quantile(values, [0.05, 0.5, 0.95]))

    def as_dict(self) -> dict:
        constants = {k: {"true": self.true_value(k), "quantiles_5_50_95": list(self.quantiles(v))}
                     for k, v in self.fitted.items()}
        ratios = [{"flops": c, "true": self.true_ratio(c), "quantiles_5_50_95": list(self.quantiles(v))}
                  for c, v in self.ratios.items()]
        return {"law": {k: self.true_value(k) for k in _NAMES}, "noise": self.noise, "runs": self.runs,
                "simulations": self.simulations, "seed": self.seed, "constants": constants,
                "tokens_per_param": ratios}


def simulate_design(law: ChinchillaLaw, design: Runs, noise: float, simulations: int = 200, *,
                    seed: int = 0, objective: FitObjective = FitObjective(),
                    budgets=DEFAULT_BUDGETS) -> DesignStudy:
    """Fit ``simulations`` copies of the design's runs (N, D of ``design``; its losses are
    ignored) whose losses are ``law``'s times exp(ε), ε ~ Normal(0, ``noise``).

    The copies are fitted in blocks sized to the machine's memory
    (:func:`.machine.memory_budget`); ScenarioError, before any work, when simulations ×
    runs exceeds MAX_SIMULATED_RUNS."""
    n = len(design.params)
    check_simulations(simulations, n)
    x, z, _ = _features(Runs(design.params, design.tokens, np.ones(n), design.source))
    clean = np.log(np.asarray(law.loss(design.params, design.tokens), dtype=float))
    rng = np.random.default_rng(seed)
    Y = clean[None, :] + rng.normal(0.0, noise, (simulations, clean.size))
    truth = np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])
    starts = np.vstack([truth, start_grid()[::45]])
    # copies × starts × runs × 8 bytes, about 16 arrays of that size alive at once
    block = max(1, int(memory_budget() // (16 * 8 * n * len(starts))))
    theta = np.vstack([_fit_copies(Y[lo:lo + block], starts, x, z, objective)
                       for lo in range(0, simulations, block)])
    a, b, e, al, be = theta.T
    fitted = {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}
    ratios = {}
    for c in budgets:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # a wild copy: inf, in the spread
            n_opt, d_opt = compute_optimal_plan(c, fitted["A"], fitted["B"], fitted["alpha"], fitted["beta"])
            ratios[float(c)] = np.asarray(d_opt / n_opt, dtype=float)
    return DesignStudy(law, float(noise), n, seed, fitted, ratios)


def check_simulations(simulations: int, runs: int) -> None:
    """ScenarioError when ``simulations`` copies of a design of ``runs`` runs exceed
    MAX_SIMULATED_RUNS."""
    from ..errors import ScenarioError

    if simulations * runs > MAX_SIMULATED_RUNS:
        raise ScenarioError("--simulations", f"at most {max(1, MAX_SIMULATED_RUNS // runs):,} for a design of {runs:,} "
                            f"runs (simulations × runs ≤ {MAX_SIMULATED_RUNS:,}, about three minutes on two cores)",
                            simulations)


def _fit_copies(Y: np.ndarray, starts: np.ndarray, x, z, objective: FitObjective) -> np.ndarray:
    """The best fit (a, b, e, α, β) of each copy (a row of log-losses ``Y``) from every
    start, polished as the bootstrap polishes (progress judged relatively)."""
    copies, k = len(Y), len(starts)
    rows_y = np.repeat(Y, k, axis=0)                      # copy s, start j at row s·k + j

    def fit_pass(theta0, y, **tolerances):
        def fun(t, rows, grad=True):
            return huber_objective(t, x, z, y[rows], None, objective.delta, grad=grad, loss=objective.loss)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta, f, _ = batched_lbfgs(fun, theta0, **tolerances)
        return theta, np.where(np.isfinite(f), f, np.inf)

    theta, f = fit_pass(np.tile(starts, (copies, 1)), rows_y)
    best = np.argmin(f.reshape(copies, k), axis=1)
    theta = theta.reshape(copies, k, 5)[np.arange(copies), best]
    theta, _ = fit_pass(theta, Y, gtol=1e-11, ftol=1e-13, fscale=0.0, patience=3)
    return theta

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

__all__ = ["DesignStudy", "simulate_design", "DEFAULT_BUDGETS"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.laws import ChinchillaLaw, compute_optimal_plan
from .parametric import FitObjective, _features, batched_lbfgs, huber_objective, start_grid
from .runs import Runs

#: the training budgets at which the recovered compute-optimal ratio is reported [FLOP]
DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 1e24, 1e25)
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
    ignored) whose losses are ``law``'s times exp(ε), ε ~ Normal(0, ``noise``)."""
    x, z, _ = _features(Runs(design.params, design.tokens, np.ones(len(design.params)), design.source))
    clean = np.log(np.asarray(law.loss(design.params, design.tokens), dtype=float))
    rng = np.random.default_rng(seed)
    Y = clean[None, :] + rng.normal(0.0, noise, (simulations, clean.size))
    truth = np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])
    starts = np.vstack([truth, start_grid()[::45]])
    k = len(starts)
    rows_y = np.repeat(Y, k, axis=0)                      # copy s, start j at row s·k + j

    def fit_pass(theta0, y, **tolerances):
        def fun(t, rows, grad=True):
            return huber_objective(t, x, z, y[rows], None, objective.delta, grad=grad, loss=objective.loss)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta, f, _ = batched_lbfgs(fun, theta0, **tolerances)
        return theta, np.where(np.isfinite(f), f, np.inf)

    theta, f = fit_pass(np.tile(starts, (simulations, 1)), rows_y)
    best = np.argmin(f.reshape(simulations, k), axis=1)
    theta = theta.reshape(simulations, k, 5)[np.arange(simulations), best]
    # each copy's best, polished as the bootstrap polishes (progress judged relatively)
    theta, _ = fit_pass(theta, Y, gtol=1e-11, ftol=1e-13, fscale=0.0, patience=3)
    a, b, e, al, be = theta.T
    fitted = {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}
    ratios = {}
    for c in budgets:
        n, d = compute_optimal_plan(c, fitted["A"], fitted["B"], fitted["alpha"], fitted["beta"])
        ratios[float(c)] = np.asarray(d / n, dtype=float)
    return DesignStudy(law, float(noise), len(design.params), seed, fitted, ratios)

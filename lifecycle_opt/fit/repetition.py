"""Fit the repetition constants R_D* and R_N* of Muennighoff et al. 2023 (eq. 14–15) to
runs that repeat their data (a ``unique_tokens`` column, D > U).

As Muennighoff et al. do (their App. A), the base law is fitted first, on the runs that
saw each token at most once (:func:`.parametric.fit_law`); then, with it fixed, the two
constants θ = (log R_D*, log R_N*) minimise the same summed loss of log residuals
(Huber by default) of L(N', D') over the repeated runs. The starts are a 5 × 5 grid from
1 to 100 for each constant, all run at once by the batched L-BFGS of :mod:`.parametric`
(the gradient in two variables by central differences), and the best is polished by
scipy. The bootstrap refits on runs resampled with replacement, all at once.
"""
from __future__ import annotations

__all__ = ["RepetitionFit", "fit_repetition", "repetition_bootstrap"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.laws import ChinchillaLaw, repetition_effective
from .parametric import FitObjective, batched_lbfgs
from .runs import Runs

_STARTS = np.log(np.array([[d, n] for d in (1.0, 3.0, 10.0, 30.0, 100.0) for n in (1.0, 3.0, 10.0, 30.0, 100.0)]))
_STEP = 1e-6
#: the range of R_D*, R_N* searched, in logs
_LOG_BOUNDS = (math.log(1e-2), math.log(1e4))


def _objective(law: ChinchillaLaw, runs: Runs, objective: FitObjective, weights=None):
    """f(θ (m, 2), rows, grad) of the batched L-BFGS: the summed loss of log residuals of
    the repeated runs under R_D* = e^θ0, R_N* = e^θ1 (weights (m, n) for a bootstrap)."""
    N, D, U, y = runs.params, runs.tokens, runs.unique, np.log(runs.loss)

    def value(theta, rows):
        rd, rn = np.exp(theta[:, :1]), np.exp(theta[:, 1:2])
        N_eff, D_eff = repetition_effective(N[None, :], D[None, :], U[None, :], rd, rn, law.G,
                                            law.beta / law.alpha)[:2]
        r = np.log(np.asarray(law.loss(N_eff, D_eff), dtype=float)) - y[None, :]
        if objective.loss == "huber":
            c = np.clip(r, -objective.delta, objective.delta)
            h = c * (r - 0.5 * c)
        elif objective.loss == "mse":
            h = 0.5 * r * r
        else:
            h = np.abs(r)
        if weights is not None:
            h = h * weights[rows]
        # R* beyond 1e4 is no penalty at all (and below 1e-2 all repetition is worthless):
        # the search stays between, where the objective is not flat
        outside = np.any((theta < _LOG_BOUNDS[0]) | (theta > _LOG_BOUNDS[1]), axis=1)
        return np.where(outside, np.inf, h.sum(1))

    def fun(theta, rows, grad=True):
        f = value(theta, rows)
        if not grad:
            return f
        g = np.empty_like(theta)
        for k in range(theta.shape[1]):
            e = np.zeros(theta.shape[1])
            e[k] = _STEP
            g[:, k] = (value(theta + e, rows) - value(theta - e, rows)) / (2 * _STEP)
        return f, g
    return fun


@dataclass(frozen=True)
class RepetitionFit:
    """R_D* and R_N* fitted on ``runs`` (the repeated runs) with the base law fixed.

    objective : the summed loss at the fit; residuals : log L_fit − log L per run
    thetas : bootstrap fits (log R_D*, log R_N*) per resample, or None
    """

    R_D_star: float
    R_N_star: float
    objective: float
    residuals: np.ndarray
    runs: Runs
    base: ChinchillaLaw
    thetas: np.ndarray | None = None

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float] | None:
        if self.thetas is None:
            return None
        column = {"R_D_star": 0, "R_N_star": 1}[name]
        lo, hi = np.quantile(np.exp(self.thetas[:, column]), [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def as_dict(self) -> dict:
        return {"R_D_star": self.R_D_star, "R_N_star": self.R_N_star, "objective": self.objective,
                "runs": len(self.runs),
                "residuals_rms": float(np.sqrt(np.mean(self.residuals ** 2))),
                "intervals_95": None if self.thetas is None else
                {k: list(self.interval(k)) for k in ("R_D_star", "R_N_star")}}


def fit_repetition(base: ChinchillaLaw, runs: Runs, objective: FitObjective = FitObjective()) -> RepetitionFit:
    """Fit R_D*, R_N* to the repeated runs of ``runs`` (D > U) under ``base``."""
    from scipy.optimize import minimize

    repeated = runs.subset(runs.repeated)
    fun = _objective(base, repeated, objective)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        theta, f, _ = batched_lbfgs(fun, _STARTS.copy(), max_iter=3000)
    best = theta[int(np.argmin(np.where(np.isfinite(f), f, np.inf)))]
    res = minimize(lambda t: fun(t[None, :], np.arange(1))[0][0], best,
                   jac=lambda t: fun(t[None, :], np.arange(1))[1][0], method="L-BFGS-B",
                   bounds=[_LOG_BOUNDS] * 2,
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
    theta = res.x if res.fun <= fun(best[None, :], np.arange(1), False)[0] else best
    rd, rn = math.exp(theta[0]), math.exp(theta[1])
    N_eff, D_eff = repetition_effective(repeated.params, repeated.tokens, repeated.unique, rd, rn, base.G,
                                        base.beta / base.alpha)[:2]
    residuals = np.log(np.asarray(base.loss(N_eff, D_eff), dtype=float)) - np.log(repeated.loss)
    return RepetitionFit(rd, rn, float(fun(theta[None, :], np.arange(1), False)[0]), residuals, repeated, base)


def repetition_bootstrap(fit: RepetitionFit, samples: int = 1000, *, seed: int = 0,
                         objective: FitObjective = FitObjective()) -> RepetitionFit:
    """The fit with bootstrap refits on the repeated runs resampled with replacement."""
    rng = np.random.default_rng(seed)
    n = len(fit.runs)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(samples)]).astype(float)
    fun = _objective(fit.base, fit.runs, objective, weights=counts)
    start = np.tile(np.log([fit.R_D_star, fit.R_N_star]), (samples, 1))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        theta, _, _ = batched_lbfgs(fun, start, gtol=1e-10, ftol=1e-13, fscale=0.0, patience=3)
    return RepetitionFit(fit.R_D_star, fit.R_N_star, fit.objective, fit.residuals, fit.runs, fit.base, theta)

"""The objective of a Chinchilla-form fit: the summed loss (Huber by default; squared or
absolute error) of the log-loss residuals

    r_i = LSE(a − α·log N_i, b − β·log D_i, e) − log L_i,

with its analytic gradient for many starting points at once; the start grid of Hoffmann et
al. 2022 (App. D.2) as replicated by Besiroglu et al. 2024 (arXiv 2404.10102); and the
scipy polish of one optimum. :mod:`.parametric` runs the fit on these.

The Huber function follows scipy.special.huber: r²/2 for |r| ≤ δ, δ·(|r| − δ/2) beyond.
"""
from __future__ import annotations

__all__ = ["FitObjective", "HUBER_DELTA", "MIN_HUBER_DELTA", "MAX_HUBER_DELTA", "FIT_LOSSES", "features", "huber_objective", "start_grid",
           "free_objective", "polish_lbfgsb", "huber_residuals"]

from dataclasses import dataclass

import numpy as np

from .constraints import Layout
from .runs import Runs

#: Huber threshold on log-loss residuals (Hoffmann et al. 2022, App. D.2)
HUBER_DELTA = 1e-3
#: the Huber thresholds a fit accepts: below 1e-6 the summed loss of a noise-free fit falls
#: under the optimiser's tolerances before the constants are found (1e-7 misses Besiroglu
#: et al.'s law by 50 % in alpha, 1e-6 recovers it to 1e-4); above 1 (a factor e in the loss)
#: every residual is in the squared part
MIN_HUBER_DELTA, MAX_HUBER_DELTA = 1e-6, 1.0
#: the losses of the log residuals a fit may sum
FIT_LOSSES = ("huber", "mse", "mae")


@dataclass(frozen=True)
class FitObjective:
    """What a fit sums over the runs' log-loss residuals r: ``loss`` "huber" (threshold
    ``delta``; Hoffmann et al. 2022, App. D.2), "mse" (r²/2) or "mae" (|r|)."""

    loss: str = "huber"
    delta: float = HUBER_DELTA

    def describe(self) -> str:
        return {"huber": f"Huber δ={self.delta:g}", "mse": "squared error", "mae": "absolute error"}[self.loss]


def features(runs: Runs):
    """(log N, log D, log L) of the runs."""
    return np.log(runs.params), np.log(runs.tokens), np.log(runs.loss)


def huber_objective(theta: np.ndarray, x, z, y, weights=None, delta: float = HUBER_DELTA,
                    grad: bool = True, loss: str = "huber"):
    """Σ_i w_i·huber(r_i) and its gradient, for every row of ``theta`` (S, 5) at once
    (``loss`` "mse": r²/2, "mae": |r| instead of Huber's).

    theta columns: a = log A, b = log B, e = log E, α, β. x, z, y: log N, log D, log L of the
    runs (n,). weights: (S, n) counts (bootstrap), or None for ones.
    Returns f (S,) and, with ``grad``, the gradient (S, 5).

    Written for speed (the fit evaluates it for thousands of starts): two exponentials and
    one logarithm per start and run. No max-shift is needed in the log-sum-exp: a term that
    overflows makes f infinite, which the line search rejects.
    """
    theta = np.atleast_2d(theta)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        a, b, e, al, be = (theta[:, k:k + 1] for k in range(5))
        w1 = np.exp(a - al * x)                      # A / N^α
        w2 = np.exp(b - be * z)                      # B / D^β
        w3 = np.exp(e)                               # E, one per row
        s = w1 + w2
        s += w3
        r = np.log(s)
        r -= y
        if loss == "huber":
            c = np.clip(r, -delta, delta)            # huber'(r)
            h = c * (r - 0.5 * c)                    # r²/2 inside δ, δ(|r| − δ/2) beyond
        elif loss == "mse":
            c, h = r.copy(), 0.5 * r * r
        else:                                        # mae: |r|, a subgradient at 0
            c, h = np.sign(r), np.abs(r)
        if weights is not None:
            h *= weights
            c *= weights
        f = h.sum(1)
        if not grad:
            return f
        c /= s                                       # huber'(r) / Σ terms: d lse = term / Σ
        w1 *= c
        w2 *= c
        g = np.stack([w1.sum(1), w2.sum(1), w3[:, 0] * c.sum(1), -(w1 @ x), -(w2 @ z)], axis=1)
    return f, g


def start_grid() -> np.ndarray:
    """The 4,500 starting points of Hoffmann et al. / Besiroglu et al. (a, b, e, α, β)."""
    alphas = betas = np.arange(0.0, 2.01, 0.5)
    es = np.arange(-1.0, 1.01, 0.5)
    abs_ = np.arange(0.0, 25.01, 5.0)
    grid = np.array(np.meshgrid(abs_, abs_, es, alphas, betas, indexing="ij")).reshape(5, -1).T
    return grid


def free_objective(x, z, y, objective: FitObjective, layout: Layout, run_weights=None, weights=None):
    """The summed loss of the log residuals as a function of the free constants of
    ``layout``, in the signature of :func:`.lbfgs.batched_lbfgs`: ``weights`` (problems, runs)
    are counts per problem (a bootstrap resample) or None, ``run_weights`` (runs,) the
    runs' own weights or None."""
    def fun(theta, rows, grad=True):
        w = None if weights is None else weights[rows]
        if run_weights is not None:
            w = run_weights[None, :] if w is None else w * run_weights
        return huber_objective(theta, x, z, y, w, objective.delta, grad=grad, loss=objective.loss)
    return layout.wrap(fun)


def polish_lbfgsb(u, fun):
    """scipy L-BFGS-B from the free constants ``u`` with tight tolerances: (u, f)."""
    from scipy.optimize import minimize

    def one(t):
        f, g = fun(t[None, :], np.arange(1))
        return float(f[0]), g[0]
    res = minimize(one, u, jac=True, method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 20000, "maxcor": 20})
    return res.x, float(res.fun)


def huber_residuals(theta, x, z, y) -> np.ndarray:
    a, b, e, al, be = theta
    lse = np.logaddexp(np.logaddexp(a - al * x, b - be * z), e)
    return lse - y

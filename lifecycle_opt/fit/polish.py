"""A final polish of a fit's best optimum: full-memory BFGS, or Newton's method with the
Hessian from central differences of the analytic gradient (scipy's trust-exact).

The batched L-BFGS and scipy's L-BFGS-B stop when the objective stops falling to about
1e-9 relatively; on a flat objective (47 runs of Sardana et al. 2024) that leaves the
constants A and B a few tenths of a per cent from the optimum a full quasi-Newton or
Newton method reaches from there. The polish is kept only where it lowers the objective.
"""
from __future__ import annotations

__all__ = ["final_polish", "POLISH_METHODS"]

import warnings

import numpy as np

#: the final polishes a fit offers
POLISH_METHODS = ("bfgs", "newton")


def _hessian(grad, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    n = theta.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        H[:, i] = (grad(theta + e) - grad(theta - e)) / (2 * step)
    return (H + H.T) / 2


def final_polish(theta, fun, method: str) -> tuple[np.ndarray, float]:
    """(θ, objective) after polishing ``theta`` with ``method`` ("bfgs" or "newton");
    ``fun(θ)`` returns (f, g) as arrays of one row (:func:`.parametric.huber_objective`)."""
    from scipy.optimize import minimize

    if method not in POLISH_METHODS:
        raise ValueError(f"unknown polish {method!r}; one of {', '.join(POLISH_METHODS)}")

    def value(t):
        f, g = fun(t)
        return float(f[0]), np.asarray(g[0], dtype=float)

    grad = lambda t: value(t)[1]                              # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                       # "precision loss": judged by f below
        if method == "bfgs":
            res = minimize(value, np.asarray(theta, float), jac=True, method="BFGS",
                           options={"gtol": 1e-14, "maxiter": 20000})
        else:
            res = minimize(value, np.asarray(theta, float), jac=True, method="trust-exact",
                           hess=lambda t: _hessian(grad, t), options={"gtol": 1e-14, "maxiter": 500})
    return np.asarray(res.x, float), float(res.fun)

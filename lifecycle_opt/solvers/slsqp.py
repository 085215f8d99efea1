"""The scipy paths of the exact solver: Phase I (the point of least violation), SLSQP on
the problem in (log N, log D, ...) — the second opinion where the numpy barrier method of
:mod:`.barrier` does not apply — and the minimisation of one constraint under the others
that the infeasibility explanation uses. ``scipy.optimize`` (0.3 s to import) is imported
by these functions only, so that a plan certified without them never loads it."""
from __future__ import annotations

__all__ = ["phase_one", "start_point", "solve_scipy", "minimise_constraint", "FEAS_TOL"]

import math
import warnings as _warnings

import numpy as np

from ..problem.formulation import BOX, Problem

#: Phase I: a violation above this means no plan exists
FEAS_TOL = 1e-9


def phase_one(problem: Problem, constraints, z_start=None):
    """(z, s): the point minimising the largest violation s = max h_i over the box."""
    from scipy.optimize import minimize
    z = start_point(problem) if z_start is None else np.asarray(z_start, float)
    if not constraints:
        return z, -math.inf
    n, box = problem.dim, problem.box
    hs = [c.evaluate(z)[0] for c in constraints]
    v = np.r_[z, max(hs) + 1.0]
    cons = [{"type": "ineq", "fun": (lambda v, c=c: v[n] - c.evaluate(v[:n])[0]),
             "jac": (lambda v, c=c: np.r_[-c.evaluate(v[:n])[1], 1.0])} for c in constraints]
    bounds = list(box) + [(-50.0, None)]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda v: v[n], v, jac=lambda v: np.r_[np.zeros(n), 1.0], method="SLSQP",
                       bounds=bounds, constraints=cons, options={"ftol": 1e-14, "maxiter": 500})
    z = np.clip(res.x[:n], [b[0] for b in box], [b[1] for b in box])
    return z, max(c.evaluate(z)[0] for c in constraints)


def start_point(problem: Problem) -> np.ndarray:
    """A sensible place to start: the compute-optimal plan of the target, else 1B / 20B;
    under the roofline serving model, 8 sequences on 1 GPU at 50 ms a step."""
    z = np.array([math.log(1e9), math.log(2e10)])
    loss = next((c for c in problem.constraints if c.is_loss), None)
    if loss is not None:
        N, D = problem.law.compute_optimal_at_loss(loss.target)
        if np.isfinite(N) and np.isfinite(D) and N > 0 and D > 0:
            z = np.array([math.log(float(N)), math.log(float(D))])
    if problem.dim > 2:
        z = np.r_[z, math.log(8.0), 0.0, math.log(0.05)]
    return np.clip(z, [b[0] for b in problem.box], [b[1] for b in problem.box])


def solve_scipy(problem: Problem, z0) -> np.ndarray:
    """SLSQP in (log N, log D): the independent path."""
    from scipy.optimize import minimize
    obj = problem.objective
    cons = [{"type": "ineq", "fun": (lambda z, c=c: -c.evaluate(z)[0]),
             "jac": (lambda z, c=c: -c.evaluate(z)[1])} for c in problem.constraints]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda z: obj.evaluate(z)[0], np.asarray(z0, float),
                       jac=lambda z: obj.evaluate(z)[1], method="SLSQP", bounds=list(problem.box),
                       constraints=cons, options={"ftol": 1e-15, "maxiter": 1000})
    return np.asarray(res.x, float)


def minimise_constraint(c, others, z0, box=BOX):
    """The point minimising constraint ``c`` under ``others`` (SLSQP from ``z0``)."""
    from scipy.optimize import minimize
    cons = [{"type": "ineq", "fun": (lambda z, o=o: -o.evaluate(z)[0]),
             "jac": (lambda z, o=o: -o.evaluate(z)[1])} for o in others]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda z: c.evaluate(z)[0], np.asarray(z0, float),
                       jac=lambda z: c.evaluate(z)[1], method="SLSQP", bounds=list(box),
                       constraints=cons, options={"ftol": 1e-15, "maxiter": 1000})
    return res.x

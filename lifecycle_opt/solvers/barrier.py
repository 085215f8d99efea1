"""The exact solver's numpy opinion: a primal-dual interior-point (barrier) method on the
problem in the log variables, and its Phase I, with scipy's SLSQP as the fallback.

The problem min φ(z) s.t. h_i(z) ≤ 0, z in the box, is convex in z = (log N, log D, ...)
(docs/model.md §4) and every function gives its gradient and Hessian, so Newton's method
on the perturbed optimality conditions

    ∇φ + Σ λ_i ∇h_i = 0,    −λ_i h_i = 1/t,    h < 0, λ > 0,

with t raised as the surrogate gap η = −hᵀλ falls, converges to the optimum from any
strictly feasible point (Boyd & Vandenberghe 2004, *Convex Optimization*, §11.7,
Algorithm 11.2: the Newton system reduced to the variables, a step kept inside h < 0 and
λ > 0, backtracking on the residual norm). The box's bounds are constraints like the
others. Phase I is the same method on min s s.t. h_i(z) ≤ s, from a point made feasible by
its s: a positive optimum means no plan exists (§11.4).

It shares nothing with the batch solver (which follows the loss boundary in one variable
and solves its stationarity by safeguarded 1-D Newton, :mod:`.batch_cost`), so the two
opinions of a certificate stay independent, and it needs no scipy: ``lifeopt solve``
does not import ``scipy.optimize`` (0.3 s). Where it does not apply — no strictly feasible
point (a feasible set without interior: limits that pin the plan exactly), or no
convergence — the exact solver falls back to scipy's SLSQP (:mod:`.slsqp`) and says so in
the certificate's methods. A variable pinned exactly by a cap and a floor of itself alone
(the replica size of a serving problem, each size its own problem: docs/model.md §8) is
no such case: it is substituted, and the method runs on the other variables.

References
----------
Boyd, S. & Vandenberghe, L. (2004). Convex Optimization, Cambridge University Press,
§11.4 (feasibility and Phase I), §11.7 (primal-dual interior-point methods).
"""
from __future__ import annotations

__all__ = ["phase_one_ipm", "solve_barrier", "pinned", "BARRIER_METHOD"]

import math

import numpy as np

from ..problem.formulation import Problem

#: the name of this method in a certificate
BARRIER_METHOD = "numpy-barrier"
#: μ: the factor t grows by against the surrogate gap (B&V §11.7.3: 10 works well)
_MU = 10.0
#: backtracking: sufficient decrease α and step shrink β (B&V §11.7.3, α in 0.01–0.1)
_ALPHA, _BETA = 0.05, 0.5
#: converged: surrogate gap and dual residual [log units of the objective]
_GAP_TOL, _DUAL_TOL = 1e-11, 1e-9
#: a strictly feasible start keeps at least this margin from the box's bounds [log units]
_BOX_MARGIN = 1e-3


def _single_bound(c, z) -> tuple[int, float, bool] | None:
    """(j, v, upper) when h = a + g·z_j, affine in one variable alone (z_j ≤ v, or ≥ v),
    else None: a one-hot gradient and no curvature at z and at a point apart (a log-sum-exp
    of affine terms without curvature is affine)."""
    found = []
    for w in (z, z + 0.37):
        try:
            h, g, H = c.evaluate(w)
        except (NotImplementedError, OverflowError, ValueError, ZeroDivisionError):
            return None
        g, nonzero = np.asarray(g, dtype=float), np.flatnonzero(np.asarray(g) != 0)
        if nonzero.size != 1 or np.any(np.asarray(H) != 0):
            return None
        j = int(nonzero[0])
        found.append((j, float(w[j] - h / g[j]), bool(g[j] > 0)))
    (j, v, up), (j2, v2, up2) = found
    return (j, v, up) if j == j2 and up == up2 and abs(v - v2) <= 1e-12 * max(1.0, abs(v)) else None


def pinned(problem: Problem, z) -> tuple[dict, list]:
    """({coordinate: value in logs} of the variables a cap and a floor of themselves alone
    pin to one value, the constraints left once they are substituted), at the point ``z``
    the bounds are read from."""
    z = np.asarray(z, dtype=float)
    bounds = [(c, _single_bound(c, z)) for c in problem.constraints]
    upper, lower = {}, {}
    for _, b in bounds:
        if b is not None:
            side = upper if b[2] else lower
            side[b[0]] = min(side.get(b[0], math.inf), b[1]) if b[2] else max(side.get(b[0], -math.inf), b[1])
    pins = {j: upper[j] for j in upper if j in lower and abs(upper[j] - lower[j]) <= 1e-12 * max(1.0, abs(upper[j]))}
    left = [c for c, b in bounds if b is None or b[0] not in pins]
    return pins, left


class _Reduced:
    """The problem over its free variables, the pinned ones substituted: ``full`` puts a
    free point back among the pins, ``free`` takes it out."""

    def __init__(self, problem: Problem, z):
        self.pins, self.constraints = pinned(problem, z)
        self.keep = np.array([j not in self.pins for j in range(problem.dim)])
        self.box = tuple(b for j, b in enumerate(problem.box) if self.keep[j])
        self.base = np.asarray(z, dtype=float).copy()
        for j, v in self.pins.items():
            self.base[j] = v

    def full(self, zr) -> np.ndarray:
        z = self.base.copy()
        z[self.keep] = zr
        return z

    def free(self, z) -> np.ndarray:
        return np.asarray(z, dtype=float)[self.keep]

    def evaluate(self, c, zr):
        """(h, ∇h, ∇²h) of ``c`` (a constraint or the objective) over the free variables."""
        h, g, H = c.evaluate(self.full(zr))
        k = self.keep
        return h, np.asarray(g)[k], np.asarray(H)[np.ix_(k, k)]


class _Functions:
    """The constraints h(z) ≤ 0 of a problem with its box, evaluated together: values (m,),
    gradients (m, n), Hessians (m, n, n); over the free variables of ``reduced``."""

    def __init__(self, reduced: _Reduced, shift=False):
        self.constraints, self.shift, self.reduced = list(reduced.constraints), shift, reduced
        self.lo = np.array([b[0] for b in reduced.box])
        self.hi = np.array([b[1] for b in reduced.box])

    def inside_box(self, w, dw) -> float:
        """The largest step in (0, 1] along ``dw`` that keeps z strictly inside the box
        (99 % of the way to its nearest bound), so that no function is asked for a value
        far outside it (exp(722) overflows)."""
        n = self.lo.size
        z, dz = w[:n], dw[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(dz > 0, (self.hi - z) / dz, np.where(dz < 0, (self.lo - z) / dz, np.inf))
        return min(1.0, 0.99 * float(np.min(room)))

    def __call__(self, w):
        n = self.lo.size
        z = w[:n]
        k = len(self.constraints)
        m = k + 2 * n + (1 if self.shift else 0)
        size = w.size
        h, G, H = np.empty(m), np.zeros((m, size)), np.zeros((m, size, size))
        for i, c in enumerate(self.constraints):
            h[i], G[i, :n], H[i, :n, :n] = self.reduced.evaluate(c, z)
        eye = np.eye(n)
        h[k:k + n], G[k:k + n, :n] = z - self.hi, eye
        h[k + n:k + 2 * n], G[k + n:k + 2 * n, :n] = self.lo - z, -eye
        if self.shift:                     # Phase I: h_i(z) − s ≤ 0, and s ≥ −50
            G[:k, n] = -1.0
            h[:k] -= w[n]
            h[-1], G[-1, n] = -50.0 - w[n], -1.0
        return h, G, H


def _ipm(objective, functions, w, stop=None, iters: int = 200):
    """Primal-dual interior-point iterations from the strictly feasible ``w``; (w, λ,
    converged). ``stop(w, h)`` may end the run early (Phase I, once a margin is reached)."""
    h, G, H = functions(w)
    lam = 1.0 / -h                                     # B&V: λ = −1/(t·h) at t = 1
    m = h.size

    def residual(f_grad, lam, h, G, t):
        return np.concatenate([f_grad + G.T @ lam, -lam * h - 1.0 / t])

    for _ in range(iters):
        _, g, Hf = objective(w)
        eta = float(-h @ lam)
        dual = g + G.T @ lam
        if stop is not None and stop(w, h):
            return w, lam, True
        if eta <= _GAP_TOL and float(np.max(np.abs(dual))) <= _DUAL_TOL * max(1.0, float(np.max(np.abs(g)))):
            return w, lam, True
        t = _MU * m / eta
        d = lam / -h
        K = Hf + np.einsum("i,ijk->jk", lam, H) + (G.T * d) @ G
        rhs = -(g + (G.T @ (1.0 / -h)) / t)
        try:
            dw = np.linalg.solve(K, rhs)
        except np.linalg.LinAlgError:
            dw = np.linalg.lstsq(K, rhs, rcond=None)[0]
        dlam = -lam - (lam * (G @ dw) + 1.0 / t) / h
        if not (np.all(np.isfinite(dw)) and np.all(np.isfinite(dlam))):
            return w, lam, False
        shrinking = dlam < 0
        s = min(1.0, 0.99 * float(np.min(-lam[shrinking] / dlam[shrinking]))) if shrinking.any() else 1.0
        s = min(s, functions.inside_box(w, dw))
        r0 = float(np.linalg.norm(residual(g, lam, h, G, t)))
        while s > 1e-16:
            wn, ln = w + s * dw, lam + s * dlam
            try:
                hn, Gn, Hn = functions(wn)
            except (OverflowError, ValueError, ZeroDivisionError):
                hn = np.full(1, np.inf)        # beyond what the model evaluates: shorter
            if np.all(hn < 0):
                rn = float(np.linalg.norm(residual(objective(wn)[1], ln, hn, Gn, t)))
                if rn <= (1.0 - _ALPHA * s) * r0:
                    break
            s *= _BETA
        else:
            # no step lowers the residual: at the precision of the doubles (the polish
            # takes it from here) when the gap is already small, else a failure
            return w, lam, eta <= 1e3 * _GAP_TOL
        w, lam, h, G, H = wn, ln, hn, Gn, Hn
    return w, lam, False


def _inside(problem: Problem, z) -> np.ndarray:
    lo = np.array([b[0] for b in problem.box]) + _BOX_MARGIN
    hi = np.array([b[1] for b in problem.box]) - _BOX_MARGIN
    return np.clip(np.asarray(z, dtype=float), lo, hi)


def _pins_inside(problem: Problem, reduced: _Reduced) -> bool:
    return all(problem.box[j][0] < v < problem.box[j][1] for j, v in reduced.pins.items())


def phase_one_ipm(problem: Problem, z_start) -> tuple[np.ndarray, float, bool]:
    """(z, s, strict): the point of least largest violation s = max h_i(z) over the box,
    found by the barrier method on min s s.t. h_i(z) ≤ s; ``strict`` when z is strictly
    feasible (s < 0: a start for :func:`solve_barrier`). Stops once every constraint
    holds with a margin of 1e-2 (or at the optimum of s, when the feasible set is thin).
    Variables pinned to one value (:func:`pinned`) take it, and s is that of the other
    constraints (the pins hold exactly)."""
    z = _inside(problem, z_start)
    red = _Reduced(problem, z)
    if not _pins_inside(problem, red):
        return z, math.inf, False
    cons = red.constraints
    z = red.full(red.free(z))
    if not cons:
        return z, -math.inf, True
    zr = red.free(z)
    n = zr.size
    worst = max(c.value(z) for c in cons)
    w = np.r_[zr, max(worst, -49.0) + 1.0]
    objective = lambda w: (w[n], np.eye(w.size)[n], np.zeros((w.size, w.size)))    # noqa: E731
    functions = _Functions(red, shift=True)
    margin = lambda w, h: w[n] < 0 and max(c.value(red.full(w[:n])) for c in cons) < -1e-2      # noqa: E731
    w, _, _ = _ipm(objective, functions, w, stop=margin)
    z = red.full(w[:n])
    s = max(c.value(z) for c in cons)
    return z, float(s), bool(s < 0)


def solve_barrier(problem: Problem, z0) -> np.ndarray | None:
    """The optimum by the primal-dual barrier method from the strictly feasible ``z0``
    (from :func:`phase_one_ipm`), or None when it did not converge."""
    z = _inside(problem, z0)
    red = _Reduced(problem, z)
    if not _pins_inside(problem, red):
        return None
    functions = _Functions(red)
    zr = red.free(z)
    if not np.all(functions(zr)[0] < 0):
        return None
    with np.errstate(all="ignore"):
        zr, _, converged = _ipm(lambda w: red.evaluate(problem.objective, w), functions, zr)
    z = red.full(zr)
    return np.asarray(z, dtype=float) if converged and np.all(np.isfinite(z)) else None

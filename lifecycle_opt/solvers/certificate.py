"""The certificate of an exact plan: the Newton polish on the optimality (KKT) conditions,
their relative residual, and the records a certified plan carries (binding constraints
with shadow prices, and the certificate itself).

The problem is convex in (log N, log D) (docs/model.md §4), so a point that meets the
KKT conditions is the global optimum: the residual is the evidence.
"""
from __future__ import annotations

__all__ = ["Binding", "Certificate", "polish", "kkt_residual", "KKT_TOL", "AGREEMENT_TOL",
           "POLISHED_AGREEMENT_TOL", "ACTIVE_TOL"]

import math
from dataclasses import dataclass

import numpy as np

from ..problem.formulation import Problem

#: the relative KKT residual a plan must reach to be certified
KKT_TOL = 1e-9
#: the relative gap in N and D within which the two solvers are said to agree
AGREEMENT_TOL = 1e-6
#: ... or within which the KKT polish from each solver's answer lands on the same plan
POLISHED_AGREEMENT_TOL = 1e-9
#: a constraint this close to its bound starts in the active set
ACTIVE_TOL = 1e-6


@dataclass(frozen=True)
class Binding:
    """A constraint active at the optimum.

    Parameters
    ----------
    name : str
        Identifier ("max_params", "loss_target", ...).
    label : str
        What the constraint says.
    key : str
        The scenario setting it comes from ("limits.serving_memory").
    setting : float
        That setting's value [``unit``].
    unit : str
        The setting's own unit ("bytes", "parameters", "$", ...).
    multiplier : float
        The Lagrange multiplier ν ≥ 0 of h ≤ 0 against φ (for a cost objective φ = log
        cost, so ν is an elasticity: relaxing the limit by 1 % saves about ν %).
    shadow_price : float
        Change of the optimal objective per unit increase of the setting [objective unit
        / ``unit``]; negative when raising the setting saves.
    """

    name: str
    label: str
    key: str
    setting: float
    unit: str
    multiplier: float
    shadow_price: float


@dataclass(frozen=True)
class Certificate:
    """Evidence that the plan is the global optimum.

    kkt_residual : the relative residual of the optimality conditions at the polished plan
    methods_agree : the two independent solvers both land within ``agreement_tol`` of it,
        or the Newton polish from each lands on the same certified plan (to 1e-9)
    agreement : the largest relative gap in N or D between either solver and the plan
    polished_agreement : the relative gap in N or D between the plans the polish reaches
        from each solver's answer (nan when only one solver answered or one did not certify)
    status : "optimal" once every check passed
    methods : the solvers used, e.g. ("cvxpy-gp/CLARABEL", "scipy-slsqp", "newton-kkt")
    """

    kkt_residual: float
    methods_agree: bool
    agreement: float
    agreement_tol: float
    status: str
    methods: tuple[str, ...]
    polished_agreement: float = math.nan


def polish(problem: Problem, z_start):
    """Newton on the KKT system of the active set; returns (z, ν per constraint, residual)."""
    cons = problem.constraints
    z = np.asarray(z_start, float).copy()
    active = [i for i, c in enumerate(cons) if c.evaluate(z)[0] > -ACTIVE_TOL]
    best = (z, np.zeros(len(cons)), math.inf, [])
    for _ in range(2 * len(cons) + 4):
        z, nu_a = _newton_kkt(problem, z, active)
        nu = np.zeros(len(cons))
        nu[active] = nu_a
        res = kkt_residual(problem, z, nu)
        if res < best[2]:
            best = (z, nu, res, list(active))
        negative = [i for i in active if nu[i] < -1e-12]
        violated = [i for i, c in enumerate(cons) if i not in active and c.evaluate(z)[0] > 1e-13]
        if not negative and not violated:
            break
        if negative:
            active.remove(min(negative, key=lambda i: nu[i]))
        if violated:
            # one at a time, the worst first: two violated limits may be parallel (a FLOP
            # and a dollar budget both cap N·D), and with both active the system is
            # singular and its least-squares answer meets neither
            active.append(max(violated, key=lambda i: cons[i].evaluate(z)[0]))
    z, nu, res, active = best
    if res > 1e-12 and active:
        z2, nu2 = _restore(problem, z, active)
        res2 = kkt_residual(problem, z2, nu2)
        if res2 < res:
            return z2, nu2, res2
    return z, nu, res


def _restore(problem: Problem, z, active, iters: int = 8):
    """(z, ν): the active constraints met to the last bit by Newton on h_active = 0 alone,
    then ν by least squares on stationarity.

    Where the loss is nearly flat in D (hundreds of epochs under the repetition penalty,
    a plan pinned by a limit on N) the elasticities reach 1e6, and the full KKT Newton
    stalls with the loss constraint off by 1e-14, a complementarity residual ν·h of 1e-8.
    At a vertex (two constraints active) the plan is fixed by the constraints alone."""
    cons = problem.constraints
    worst = lambda v: max(abs(cons[i].evaluate(v)[0]) for i in active)
    best, size = z, worst(z)
    for _ in range(iters):
        F = np.array([cons[i].evaluate(z)[0] for i in active])
        J = np.array([cons[i].evaluate(z)[1] for i in active])
        z = np.clip(z + np.linalg.lstsq(J, -F, rcond=None)[0], [b[0] for b in problem.box],
                    [b[1] for b in problem.box])
        now = worst(z)
        if now < size:
            best, size = z, now
        if now == 0.0:
            break
    J = np.array([cons[i].evaluate(best)[1] for i in active])
    nu = np.zeros(len(cons))
    nu[active] = np.linalg.lstsq(J.T, -problem.objective.evaluate(best)[1], rcond=None)[0]
    return best, nu


def _newton_kkt(problem: Problem, z, active, iters: int = 60):
    """Solve ∇φ + Σ ν_i ∇h_i = 0, h_i = 0 (i active) by Newton with least-squares steps."""
    cons = problem.constraints
    k = len(active)
    grad_phi = problem.objective.evaluate(z)[1]
    if k:
        J = np.array([cons[i].evaluate(z)[1] for i in active])
        nu = np.linalg.lstsq(J.T, -grad_phi, rcond=None)[0]
    else:
        nu = np.zeros(0)
    prev = math.inf
    for _ in range(iters):
        _, g, H = problem.objective.evaluate(z)
        F_top, K = g.copy(), H.copy()
        rows = []
        F_bot = []
        for j, i in enumerate(active):
            h, gh, Hh = cons[i].evaluate(z)
            F_top += nu[j] * gh
            K += nu[j] * Hh
            rows.append(gh)
            F_bot.append(h)
        A = np.array(rows).reshape(k, z.size)
        M = np.block([[K, A.T], [A, np.zeros((k, k))]])
        F = np.r_[F_top, F_bot]
        norm = float(np.max(np.abs(F)))
        if norm < 1e-15 or (norm >= prev and norm < 1e-11):
            break
        prev = norm
        step = np.linalg.lstsq(M, -F, rcond=None)[0]
        # keep inside the box and never jump wildly (log space: a factor e^2 at most)
        n = z.size
        step[:n] = np.clip(step[:n], -2.0, 2.0)
        z = np.clip(z + step[:n], [b[0] for b in problem.box], [b[1] for b in problem.box])
        nu = nu + step[n:]
    return z, nu


def kkt_residual(problem: Problem, z, nu) -> float:
    """Relative KKT residual: stationarity, primal and dual feasibility, complementarity."""
    _, g, _ = problem.objective.evaluate(z)
    lag = g.copy()
    scale = float(np.max(np.abs(g)))
    worst = 0.0
    for c, n in zip(problem.constraints, nu):
        h, gh, _ = c.evaluate(z)
        lag += n * gh
        scale = max(scale, float(np.max(np.abs(n * gh))))
        hn = h / c.scale()
        worst = max(worst, hn, -n, abs(n * hn))
    return max(worst, float(np.max(np.abs(lag))) / max(scale, 1e-300))

"""Batch plans that minimise cost under a loss target: the minimum of the convex cost
along the target's boundary, one monotone equation per plan, clamped by the limits."""
from __future__ import annotations

__all__ = ["solve_cost_objective"]

import numpy as np

from .batch_data import EDGE, INFEASIBLE, NO_NAME, OPTIMAL, TOL, X_BOX, Y_BOX, Results
from .batch_kkt import limit_gradients, loss_code, multipliers, violations
from .boundary import BatchLaw
from .checks import at_box_edge
from .roots import newton


def solve_cost_objective(law: BatchLaw, where, out: Results) -> None:
    """The cost-minimising plans of ``law``'s part of the batch (rows ``where`` of ``out``):
    the optimum along the target's boundary, clamped into the interval the limits allow."""
    n = len(law)
    status = np.zeros(n, dtype=np.int8)
    status[~(law.level > 0)] = INFEASIBLE          # a target at or below the floor E

    y_star = _optimum_on_boundary(law, status)
    y_lo, y_hi, lo_by, hi_by = _limit_interval(law, y_star, status)
    both = (lo_by != NO_NAME) & (hi_by != NO_NAME)
    status[both & (status == OPTIMAL)] = INFEASIBLE
    y = np.where(lo_by != NO_NAME, y_lo, np.where(hi_by != NO_NAME, y_hi, y_star))
    limit = np.where(lo_by != NO_NAME, lo_by, hi_by)
    _finish_cost(law, where, out, y, limit, status)



def _optimum_on_boundary(law: BatchLaw, status):
    """y* = log D minimising the log cost along the target's boundary, limits aside (nan,
    with ``status`` set, where there is none: the target out of reach, or off the box)."""
    b = law.b
    n = len(law)
    def q(y, i):                                    # d log(a·D + b)/dy
        D = np.exp(y)
        return b.a[i] * D / (b.a[i] * D + b.b[i])

    def stationarity(y, i, right=None):
        """(f′, f″) of f(y) = g(y) + log(a·D + b), the log cost along the boundary."""
        _, g1, g2 = law.curve(y, i, second=True, right=right)
        p = q(y, i)
        return g1 + p, g2 + p * (1.0 - p)

    # Start from the base law (no repetition) with the serving term's share q = aD/(aD+b)
    # of the cost's slope bounded by its two regimes: q → 1 gives the compute-optimal D
    # (Hoffmann et al. 2022), q ≈ aD/b with A·N^−α ≈ P_t the over-trained D of
    # β·B·D^−β / (α·P_t) = a·D/b. The root lies just above the larger of the two.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        y_chinchilla = np.log(b.B * (b.alpha + b.beta) / (b.alpha * law.level)) / b.beta
        y_served = np.log(b.beta * b.B * b.b / (b.alpha * b.a * law.level)) / (1.0 + b.beta)
        y0 = np.fmax(y_chinchilla, y_served)
    ok = np.flatnonzero(status == OPTIMAL)
    y_star = np.full(n, np.nan)
    y_star[ok] = _stationary(law, stationarity, ok, np.clip(y0[ok], *Y_BOX))
    lost = np.flatnonzero(np.isnan(y_star) & (status == OPTIMAL))
    # no root: the target is out of reach at every D (infeasible), or the plan runs off the box
    reach = np.isfinite(law.curve(np.full(lost.size, Y_BOX[1]), lost)[0])
    status[lost] = np.where(reach, EDGE, INFEASIBLE)

    return y_star


def _limit_interval(law: BatchLaw, y_star, status):
    """(y_lo, y_hi, lo_by, hi_by): the interval of y that every limit allows along the
    boundary, and which limit sets each end (NO_NAME for none); ``status`` marks the plans
    some limit makes infeasible."""
    b = law.b
    n = len(law)
    # every limit is an interval of y on the boundary: clamp y* into their intersection
    ok = np.flatnonzero(status == OPTIMAL)
    y_lo = np.full(n, -np.inf)
    y_hi = np.full(n, np.inf)
    lo_by = np.full(n, NO_NAME, dtype=np.int32)
    hi_by = np.full(n, NO_NAME, dtype=np.int32)
    ys = y_star[ok]
    x_star, x1_star = law.curve(ys, ok)

    def clamp(i, root, name, lower):
        better = (root > y_lo[i]) if lower else (root < y_hi[i])
        i, root, name = i[better], root[better], name[better]
        if lower:
            y_lo[i], lo_by[i] = root, name
        else:
            y_hi[i], hi_by[i] = root, name

    def monotone(shape, lower, fun):
        """A limit r(y) ≥ 0 (``lower``: feasible to the right) or r(y) ≤ 0 (to the left),
        r increasing along the boundary; ``fun(y, x, x′, i)`` gives (r, r′)."""
        value = fun(ys, x_star, x1_star, ok)[0]
        bad = ok[value < 0] if lower else ok[value > 0]
        if bad.size == 0:
            return
        def f(y, j):
            return fun(y, *law.curve(y, bad[j]), bad[j])
        start = y_star[bad]
        open_ = np.full(bad.size, np.inf)
        root = newton(f, start, start if lower else -open_, open_ if lower else start, give_up=Y_BOX)
        found = np.isfinite(root)
        status[bad[~found]] = INFEASIBLE
        clamp(bad[found], root[found], getattr(b, shape + "_name")[bad[found]], lower)

    # limits on N and on D/N: monotone along the boundary
    monotone("x_le", True, lambda y, x, x1, i: (b.x_le[i] - x, -x1))
    monotone("ratio_ge", True, lambda y, x, x1, i: ((y - x) - b.ratio_ge[i], 1.0 - x1))
    monotone("ratio_le", False, lambda y, x, x1, i: ((y - x) - b.ratio_le[i], 1.0 - x1))
    over = ok[ys > b.y_le[ok]]
    clamp(over, b.y_le[over], b.y_le_name[over], lower=False)

    # caps on N·D and on lifecycle dollars: convex along the boundary. fun(y, x, i) gives
    # (h − x, d(h − x)/dy, d²(h − x)/dy²) for the cap h ≤ 0.
    def nd(y, i):
        return y - b.nd_le[i], 1.0, 0.0
    def dollars(y, i):
        c1, c2 = b.cost_c1[i], b.cost_c2[i]
        p = c1 * np.exp(y) / (c1 * np.exp(y) + c2)
        with np.errstate(divide="ignore"):
            return np.log(c1 * np.exp(y) + c2), p, p * (1.0 - p)
    for shape, fun, present in (("nd_le", nd, np.isfinite(b.nd_le)), ("cost_le", dollars, b.cost_c1 > 0)):
        i = ok[present[ok]]
        h = law.curve(y_star[i], i)[0] + fun(y_star[i], i)[0]
        i = i[h > 0]
        if i.size:
            _convex_cap(law, fun, i, y_star, status, clamp, getattr(b, shape + "_name"))

    return y_lo, y_hi, lo_by, hi_by

def _stationary(law: BatchLaw, fun, idx, y0):
    """The root of the increasing f′ along the boundary for the points idx (nan where none
    is found), given ``fun(y, i, right)`` → (f′, f″). Under the repetition penalty g′ may
    jump at D = U (the kink of :meth:`BatchLaw.curve`): both sides are evaluated there first,
    which settles a root at the kink and brackets every other one on its side."""
    m = idx.size
    lo, hi = np.full(m, -np.inf), np.full(m, np.inf)
    y = y0.copy()
    pole = np.full(m, -np.inf)
    todo = np.ones(m, dtype=bool)
    if law.penalty:
        yu = np.clip(law.log_u[idx], *Y_BOX)
        with np.errstate(invalid="ignore", divide="ignore"):
            f, fp = fun(yu, idx, right=np.ones(m, dtype=bool))
            f = np.where(np.isnan(f), -np.inf, f)
            right = f < 0
            step = yu - f / fp
            lo[right] = yu[right]
            y[right] = np.where(np.isfinite(step) & (step > yu), step, yu + 0.5)[right]
            # out of reach at D = U: f′ has a pole where the target comes within reach
            far = np.flatnonzero(right & np.isinf(f))
            pole[far] = law.reach_repeated(idx[far])
            never = far[pole[far] == np.inf]            # out of reach at every D
            y[never], todo[never] = np.nan, False
            far = far[np.isfinite(pole[far])]
            # start a factor e above the pole: near it f′ is dominated by the pole and
            # Newton's first steps are wasted (measured: 4.9 steps from here, 5.8 from +0.05)
            lo[far], y[far] = pole[far], pole[far] + 1.0
            pole[~np.isfinite(pole)] = -np.inf
            k = np.flatnonzero(~right)
            f, fp = fun(yu[k], idx[k], right=np.zeros(k.size, dtype=bool))
            f = np.where(np.isnan(f), -np.inf, f)
            at = f <= 0
            y[k[at]], todo[k[at]] = yu[k[at]], False
            k, f, fp = k[~at], f[~at], fp[~at]
            hi[k] = yu[k]
            # below the corpus the law is the base law: its estimate y0 beats a step from U
            step = np.where(y0[k] < yu[k], y0[k], yu[k] - f / fp)
            y[k] = np.where(np.isfinite(step) & (step < yu[k]), step, yu[k] - 0.5)
    j = np.flatnonzero(todo)
    y[j] = newton(lambda v, s: fun(v, idx[j[s]]), y[j], lo[j], hi[j], pole[j], give_up=Y_BOX)
    return y


def _convex_cap(law, fun, i, y_star, status, clamp, names):
    """Clamp by a cap h(y) = x + fun(y) ≤ 0, convex along the boundary and violated at y*:
    find its minimiser on the side where h falls, then the crossing between y* and it."""
    def dh(y, j):
        _, x1, x2 = law.curve(y, i[j], second=True)
        _, p1, p2 = fun(y, i[j])
        return x1 + p1, x2 + p2
    ys = y_star[i]
    every = np.arange(i.size)
    d0 = dh(ys, every)[0]
    d0 = np.where(np.isnan(d0), -np.inf, d0)
    open_ = np.full(i.size, np.inf)
    m = newton(dh, ys, np.where(d0 < 0, ys, -open_), np.where(d0 < 0, open_, ys), give_up=Y_BOX)
    hm = np.full(i.size, np.inf)
    found = np.flatnonzero(np.isfinite(m))
    hm[found] = law.curve(m[found], i[found])[0] + fun(m[found], i[found])[0]
    reachable = hm <= 0
    status[i[~reachable]] = INFEASIBLE
    right = (d0 < 0) & reachable
    left = (d0 >= 0) & reachable
    for mask, lower in ((right, True), (left, False)):
        j = np.flatnonzero(mask)
        if not j.size:
            continue
        sign = -1.0 if lower else 1.0         # make the function increasing on the bracket
        def f(y, k, j=j, sign=sign):
            x, x1 = law.curve(y, i[j[k]])
            h, p1, _ = fun(y, i[j[k]])
            return sign * (x + h), sign * (x1 + p1)
        a, c = (ys[j], m[j]) if lower else (m[j], ys[j])
        root = newton(f, np.where(lower, a, c), a, c, give_up=Y_BOX)
        clamp(i[j], root, names[i[j]], lower)


def _finish_cost(law: BatchLaw, where, out: Results, y, limit, status) -> None:
    """Plans on the target's boundary at y: box and feasibility checks, multipliers, KKT."""
    b = law.b
    n = len(law)
    idx = np.arange(n)
    good = status == OPTIMAL
    y = np.where(good, y, Y_BOX[0] + 1.0)
    x, _ = law.curve(y, idx)
    status[good & ~np.isfinite(x)] = INFEASIBLE      # clamped where the target is out of reach
    good &= np.isfinite(x)
    x = np.where(good, x, X_BOX[0] + 1.0)
    edge = at_box_edge(x, y)
    status[good & edge] = EDGE
    good &= ~edge
    N, D = np.exp(x), np.exp(y)
    viol = violations(b, x, y)
    status[good & (viol > TOL)] = INFEASIBLE
    good &= viol <= TOL

    # stationarity: ∇φ + ν_L ∇h_L + ν_j ∇h_j = 0 with φ = log(a·N·D + b·N)
    P, nPN, dPD, De = law.reducible(N, D, idx)
    q = b.a * D / (b.a * D + b.b)
    grad_phi = np.stack([np.ones(n), q], axis=1)
    if law.penalty:
        grad_loss = np.stack([nPN, dPD], axis=1)          # h = L − L_t
    else:
        grad_loss = np.stack([nPN, dPD], axis=1) / P[:, None]   # h = log(P / P_t)
    grad_lim = limit_gradients(b, limit, N, D)
    nu, resid = multipliers(grad_phi, grad_loss, grad_lim, limit != NO_NAME)

    loss_viol = (out.plans(law, where, good, N, D, P, De) - b.target) / b.target
    w = where[good]
    out.objective[w] = (b.a * N * D + b.b * N)[good]
    out.kkt[w] = np.maximum(resid, np.maximum(loss_viol, viol))[good]
    out.binding[w, 0] = loss_code(out.names)
    out.binding[w, 1] = limit[good]
    out.nu[w, 0], out.nu[w, 1] = nu[good, 0], nu[good, 1]
    out.status[where] = status

"""Batch plans that minimise the loss under a budget: D at the ceiling every cap allows,
then one monotone equation in log N along it, clamped by the limits on N."""
from __future__ import annotations

__all__ = ["solve_loss_objective"]

import numpy as np

from .batch_data import EDGE, INFEASIBLE, NO_NAME, OPTIMAL, TOL, X_BOX, Y_BOX, Results
from .batch_kkt import limit_gradients, multipliers, violations
from .boundary import BatchLaw
from .checks import at_box_edge, flat_loss
from .roots import bracket, bracketed_root


def solve_loss_objective(law: BatchLaw, where, out: Results) -> None:
    """The loss-minimising plans of ``law``'s part of the batch (rows ``where`` of ``out``):
    D at the ceiling every cap allows, log N from one monotone equation along it."""
    b = law.b
    n = len(law)
    idx = np.arange(n)
    status = np.zeros(n, dtype=np.int8)
    with np.errstate(divide="ignore"):
        x_dom = np.where(b.cost_c2 > 0, -np.log(np.where(b.cost_c2 > 0, b.cost_c2, 1.0)), np.inf)
    # without a cap on D (or N·D, or dollars) the loss falls without bound: the exact path
    # reports it as unbounded
    bounded = np.isfinite(b.y_le) | np.isfinite(b.nd_le) | (b.cost_c1 > 0) | \
        (np.isfinite(b.ratio_le) & np.isfinite(b.x_le))
    status[~bounded] = EDGE
    x_star, clamped = _optimal_log_params(law, status, x_dom)
    good = status == OPTIMAL
    x = np.where(good, x_star, 0.0)
    c, dc, k, pieces = _ceiling(b, x, idx)
    y = c
    edge = at_box_edge(x, y, top_x_margin=1e-6)         # the search stops 1e-6 below the top
    status[good & edge] = EDGE
    good &= ~edge
    viol = violations(b, x, y)
    status[good & (viol > TOL)] = INFEASIBLE
    good &= viol <= TOL

    first, second = _active_limits(b, x, k, pieces, c, clamped, idx)
    N, D = np.exp(x), np.exp(y)
    P, nPN, dPD, De = law.reducible(N, D, idx)
    dL = b.power * (b.E + P) ** (b.power - 1.0)
    grad_phi = np.stack([nPN * dL, dPD * dL], axis=1)
    # a flat loss has no single optimum: the exact path says so and what to set instead
    flat = good & flat_loss(law, x, y, idx, grad_phi)
    status[flat] = EDGE
    good &= ~flat
    g1 = limit_gradients(b, first, N, D)
    g2 = limit_gradients(b, second, N, D)
    nu, resid = multipliers(grad_phi, g1, g2, second != NO_NAME)

    w = where[good]
    out.objective[w] = out.plans(law, where, good, N, D, P, De)[good]
    out.kkt[w] = np.maximum(resid, viol)[good]
    out.binding[w, 1], out.binding[w, 2] = first[good], second[good]
    out.nu[w, 1], out.nu[w, 2] = nu[good, 0], nu[good, 1]
    out.status[where] = status


def _optimal_log_params(law: BatchLaw, status, x_dom):
    """(x*, clamped): the log N minimising the loss along the ceiling, clamped by the
    limits on N and by a minimum D/N (``clamped`` where that minimum binds); ``status``
    marks the plans with none."""
    b = law.b
    n = len(law)

    def derivative(x, i):
        return _ceiling_slope(law, x, i, x_dom)

    x_top = np.minimum(np.minimum(b.x_le, X_BOX[1] - 1e-6), x_dom - 1e-12)
    ok = np.flatnonzero(status == OPTIMAL)
    x_star = np.full(n, np.nan)
    if ok.size:
        f_top = derivative(x_top[ok], ok)
        at_top = f_top <= 0
        x_star[ok[at_top]] = x_top[ok[at_top]]
        j = ok[~at_top]
        if j.size:
            def f(x, k):
                return derivative(x, j[k])
            lo, hi, flo, fhi, found = bracket(f, x_top[j], -1, f_top[~at_top])
            x_star[j] = np.where(found, bracketed_root(f, lo, hi, flo, fhi), np.nan)
    status[np.isnan(x_star) & (status == OPTIMAL)] = EDGE

    # at least a minimum D/N: c(x) − x falls with x, so it caps x
    ok = np.flatnonzero(status == OPTIMAL)
    c, _, _, _ = _ceiling(b, x_star[ok], ok)
    short = ok[(c - x_star[ok]) < b.ratio_ge[ok]]
    clamped = np.zeros(n, dtype=bool)
    if short.size:
        def r(x, k):
            c_, _, _, _ = _ceiling(b, x, short[k])
            return b.ratio_ge[short[k]] - (c_ - x)
        lo, hi, flo, fhi, found = bracket(r, x_star[short], -1)
        status[short[~found]] = INFEASIBLE
        x_star[short] = np.where(found, bracketed_root(r, lo, hi, flo, fhi), x_star[short])
        clamped[short[found]] = True

    return x_star, clamped


def _ceiling(b, x, i):
    """(c(x), c'(x), which piece): the largest y every cap allows at x = log N."""
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp(-x)
        c1 = np.where(b.cost_c1[i] > 0, b.cost_c1[i], 1.0)
        dollars = np.where((b.cost_c1[i] > 0), np.log((e - b.cost_c2[i]) / c1), np.inf)
        dollars = np.where(np.isnan(dollars), -np.inf, dollars)
        d_dollars = -e / (e - b.cost_c2[i])
    pieces = np.stack([b.y_le[i] + 0 * x, x + b.ratio_le[i], b.nd_le[i] - x, dollars,
                       np.full_like(x, Y_BOX[1])])
    slopes = np.stack([np.zeros_like(x), np.ones_like(x), -np.ones_like(x), d_dollars,
                       np.zeros_like(x)])
    k = np.argmin(pieces, axis=0)
    c = np.take_along_axis(pieces, k[None], 0)[0]
    return c, np.take_along_axis(slopes, k[None], 0)[0], k, pieces


def _ceiling_slope(law: BatchLaw, x, i, x_dom):
    """d loss/dx along the ceiling (inf past the dollar cap's domain x_dom)."""
    c, dc, _, _ = _ceiling(law.b, x, i)
    ok = np.isfinite(c) & (x < x_dom[i])
    N, D = np.exp(x), np.exp(np.where(ok, c, 0.0))
    _, nPN, dPD, _ = law.reducible(N, D, i)
    return np.where(ok, nPN + dPD * dc, np.inf)


def _active_limits(b, x, k, pieces, c, clamped, idx):
    """(first, second): the limits active at the plans, as constraint names — the ceiling's
    piece (two at a kink), and a limit on x (the cap on N, or a minimum D/N that clamped)."""
    n = len(idx)
    piece_names = np.stack([b.y_le_name, b.ratio_le_name, b.nd_le_name, b.cost_le_name,
                            np.full(n, NO_NAME, dtype=np.int32)])
    first = np.take_along_axis(piece_names, k[None], 0)[0]
    gap = pieces - c
    gap[k, idx] = np.inf
    k2 = np.argmin(gap, axis=0)
    kink = np.take_along_axis(gap, k2[None], 0)[0] <= 1e-9 * np.maximum(np.abs(c), 1.0)
    x_limit = np.where(clamped, b.ratio_ge_name,
                       np.where(np.abs(x - b.x_le) <= 1e-12 * np.abs(x), b.x_le_name, NO_NAME))
    second = np.where(kink, np.take_along_axis(piece_names, k2[None], 0)[0], x_limit)

    return first, second

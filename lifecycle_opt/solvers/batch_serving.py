"""Many plans under the roofline serving model at once: the lifecycle optimum of every
point of a sweep, in numpy (docs/model.md §8).

For a replica size G and a model of N parameters, the cheapest GPU-seconds of a generated
token c_G(N) = min over the batch B of G·t/B is the value of a geometric program; its
constraints, read from the problem's own typed constraints (:func:`forms_of`), are
affine in B: the step t ≥ a_k(N) + b_k(N)·B (compute and memory, each with the prompts'
share and the links), caps m0(N) + m1(N)·B ≤ 1 (memory, max_batch), t ≤ T (the TPOT
target), B ≥ 1, and limits on N alone (TTFT, the longest sequence). G·t/B falls with B,
so the batch is the largest the caps and the target allow, and c_G(N) = G·max_k(a_k/B* +
b_k) in closed form, with its derivative in log N from the cap that binds.

The value of a GP is log-convex in log N, and the lifecycle cost a·N·D + b·N + k·c_G(N)
along the loss target's boundary x = g(y) (:class:`~.boundary.BatchLaw`) is a convex
function f of y = log D: each size's optimum is one bisection on the sign of f′,
vectorised over every point, then clamped into the interval the plane's limits allow (as
:mod:`.batch_cost` does); the plan is the cheapest size's (ties to the smaller).

**Certified** means, per point: the directional derivatives of f at the answer,
f′(y − δ) and f′(y + δ) with δ = 1e-12, show no descent along the boundary (the residual
max(0, f′(y−δ), −f′(y+δ)), or its one-sided form at a clamped limit, is ≤ 1e-9: the KKT
conditions of the problem reduced to its one free direction), the serving point is the
closed-form optimum of its geometric program, and every other allowed size's optimum is
no cheaper. Points it cannot settle (infeasible, off the box, a loss objective, spending
caps on the serving cost) are marked and go to the exact path.
"""
from __future__ import annotations

__all__ = ["ServingBatch", "solve_serving_batch"]

from dataclasses import dataclass, replace

import numpy as np

from .batch_cost import _limit_interval, _optimum_on_boundary
from .batch_data import EDGE, INFEASIBLE, NO_NAME, OPTIMAL, UNSUPPORTED, X_BOX, Y_BOX, Batch, Results
from .batch_kkt import loss_code, violations
from .boundary import BatchLaw
from .roots import newton
from .serving_forms import StackedSize, batch_points

#: the relative residual below which a point is certified (the exact solver's KKT_TOL)
TOL = 1e-9
_DELTA = 1e-12


@dataclass(frozen=True)
class ServingBatch:
    """The plans of a batch of serving points: the plane results (``result``, as the batch
    solver's: N, D, loss, objective, KKT residual, status) and per point the chosen replica
    size, its relaxed batch, and the names of its binding limits ("loss_target", a plane
    limit, the serving cap that sets the batch)."""

    result: object
    size: np.ndarray
    batch: np.ndarray
    binding: np.ndarray


def solve_serving_batch(batch: Batch, sizes: list[StackedSize], serving_k: np.ndarray) -> ServingBatch:
    """Minimise a·N·D + b·N + k·c_G(N) on each point's loss boundary, for every size of
    ``sizes``, and keep the cheapest. ``batch`` holds the laws, targets, plane limits and
    (a, b); ``serving_k`` the objective's unit (dollars or FLOP) per GPU-second of
    generated tokens. Under the repetition penalty the points are solved apart from the rest."""
    n = len(batch)
    out = Results(n, batch.names)
    out.status[:] = UNSUPPORTED
    found = {"value": np.full(n, np.inf), "size": np.full(n, np.nan), "y": np.full(n, np.nan),
             "kkt": np.full(n, np.nan), "limit": np.full(n, NO_NAME, dtype=np.int32)}
    supported = ~batch.unsupported & ~batch.minimise_loss
    for penalty in (False, True):
        idx = np.flatnonzero(supported & (np.isfinite(batch.unique) == penalty))
        if not idx.size:
            continue
        out.status[idx] = INFEASIBLE
        law = BatchLaw(batch.take(idx), penalty)
        start = _first_guess(batch.take(idx), penalty, sizes, serving_k[idx], idx)
        for s in sizes:
            value, y, resid, status, limit = _one_size(law, s, serving_k[idx], idx, start)
            # the next size's optimum lies near this one's (the same boundary, a cost a
            # factor away): its search starts there
            start = np.where(status == OPTIMAL, y, np.nan) if start is None else np.where(status == OPTIMAL, y, start)
            better = (status == OPTIMAL) & (value < found["value"][idx] * (1 - 1e-12))
            j = idx[better]
            for key, v in (("value", value), ("size", s.g), ("y", y), ("kkt", resid), ("limit", limit)):
                found[key][j] = v[better] if np.ndim(v) else v
            out.status[j] = OPTIMAL
        _finish(law, idx, out, found)
    return _serving_batch(out, found, sizes)


def _first_guess(part: Batch, penalty: bool, sizes, k, idx):
    """Where each point's optimum lies, roughly: the plan whose serving costs b·N, b the
    serving cost per parameter of a 10B model on the first size serving it (the serving
    cost is near linear in N: the weights read every step), found as :mod:`.batch_cost`
    finds an MFU plan's; nan where no size serves 10B."""
    x0 = np.full(len(part), np.log(1e10))
    per_param = np.full(len(part), np.nan)
    for s in sizes:
        c = batch_points(s, x0, idx)[1]
        per_param = np.where(np.isnan(per_param) & np.isfinite(c), k * c / 1e10, per_param)
    law = BatchLaw(replace(part, b=part.b + np.nan_to_num(per_param)), penalty)
    status = np.where(np.isnan(per_param), INFEASIBLE, OPTIMAL).astype(np.int8)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        y = _optimum_on_boundary(law, status)
    return np.where(status == OPTIMAL, y, np.nan)


def _finish(law: BatchLaw, idx, out: Results, found: dict) -> None:
    """The plans' N, D, loss, objective, residual and binding limits, for the points idx."""
    good = out.status[idx] == OPTIMAL
    y = np.where(good, found["y"][idx], Y_BOX[0] + 1.0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        x = law.curve(y, np.arange(idx.size))[0]
        N, D = np.exp(np.where(good, x, X_BOX[0] + 1.0)), np.exp(y)
        P, _, _, De = law.reducible(N, D, np.arange(idx.size))
    out.plans(law, idx, good, N, D, P, De)
    w = idx[good]
    out.objective[w], out.kkt[w] = found["value"][w], found["kkt"][w]
    out.binding[w, 0] = loss_code(out.names)
    out.binding[w, 1] = found["limit"][w]
    out.nu[w, 0] = 1.0
    out.nu[w, 1] = np.where(found["limit"][w] != NO_NAME, 1.0, 0.0)


def _serving_batch(out: Results, found: dict, sizes: list[StackedSize]) -> ServingBatch:
    result = out.result()
    n = result.params.size
    good = result.status == OPTIMAL
    batch_at, binds = np.full(n, np.nan), np.full(n, "", dtype=object)
    for s in sizes:
        j = np.flatnonzero(good & (found["size"] == s.g))
        if j.size:
            got = batch_points(s, np.log(result.params[j]), j)
            batch_at[j] = got[4]
            names = np.array(list(s.cap_names) + [""], dtype=object)
            binds[j] = names[got[5]]
    texts = result.binding_texts(np.arange(n))
    # joined once per distinct pair, not once per plan
    pairs, inverse = np.unique(np.stack([texts.astype(str), binds.astype(str)]), axis=1, return_inverse=True)
    joined = np.array([";".join(t for t in pair if t) for pair in pairs.T], dtype=object)
    return ServingBatch(result, found["size"], batch_at, joined[np.ravel(inverse)])


def _objective(law: BatchLaw, s: StackedSize, k, idx, y, sub=None):
    """(f, f′, served) with f = log(a·N·D + b·N + k·c(N)) along the boundary x = g(y), at the
    points ``sub`` of ``law`` (all: None); idx maps them to the stacked forms' rows."""
    rows = None if sub is None else sub        # the forms are the law's points, in order (_one_size)
    sub = np.arange(len(law)) if sub is None else sub
    b = law.b
    x, x1 = law.curve(y, sub)
    with np.errstate(over="ignore", invalid="ignore"):
        got = batch_points(s, np.where(np.isfinite(x), x, X_BOX[0]), rows)
        c, dc, ok = got[1], got[2], got[3]
        N, D = np.exp(x), np.exp(y)
        total = b.a[sub] * N * D + b.b[sub] * N + k[sub] * c
        slope = b.a[sub] * N * D * (x1 + 1.0) + b.b[sub] * N * x1 + k[sub] * dc * x1
        ok = ok & np.isfinite(x) & np.isfinite(total)
        # where the size does not serve N (small D on the boundary: N too large) or the
        # target is out of reach, the optimum lies to the right
        return np.where(ok, np.log(total), np.inf), np.where(ok, slope / total, -np.inf), ok


def _root(fun, lo, hi, glo, ghi, width: float = 1e-12):
    """The minimiser of convex functions f, one per element, in brackets where f′(lo) < 0 <
    f′(hi): (y, f(y), residual). ``fun(y, i)`` gives (f, f′) at the points i; ``glo``,
    ``ghi`` are (f, f′) at the ends. Steps alternate between regula falsi on f′ in its
    Illinois form (fast at a smooth minimum) and the meeting point of the tangents at the
    two ends (fast at a kink of f, where the serving cap that binds changes: f is the larger
    of two smooth branches there); a bisection when neither lands inside or two steps have
    not halved the bracket. A point stops at |f′| ≤ 1e-13 (f′ is a relative slope, of order
    1: its residual is |f′|) or when the bracket is ``width`` wide (its residual is the
    bracket's width times the larger |f′| at its ends: a bound on how far f(y) is above the
    minimum). Where no minimum is bracketed, the end nearer it, residual inf."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    (flo, dlo), (fhi, dhi) = (np.array(v, dtype=float) for v in glo), (np.array(v, dtype=float) for v in ghi)
    wlo, whi = dlo.copy(), dhi.copy()           # the derivatives regula falsi uses (Illinois-scaled)
    y = np.where(dhi <= 0, hi, lo)
    fy = np.where(dhi <= 0, fhi, flo)
    resid = np.full(lo.size, np.inf)
    active = np.flatnonzero((dlo < 0) & (dhi > 0))
    side = np.zeros(lo.size, dtype=np.int8)
    before = hi - lo
    for it in range(150):
        if active.size == 0:
            break
        l, h, fl, fh, dl, dh = (v[active] for v in (lo, hi, flo, fhi, dlo, dhi))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if it % 2 == 0:
                m = l - wlo[active] * (h - l) / (whi[active] - wlo[active])
            else:
                m = (fh - fl + dl * l - dh * h) / (dl - dh)
        stalled = (it % 3 == 2) & ((h - l) > 0.5 * before[active])
        m = np.where(np.isfinite(m) & (m > l) & (m < h) & ~stalled, m, 0.5 * (l + h))
        if it % 3 == 2:
            before[active] = h - l
        fm, dm = fun(m, active)
        right = dm > 0
        # Illinois: an end kept twice has its derivative halved for the next falsi step
        wlo[active] = np.where(right, np.where(side[active] == 1, 0.5 * wlo[active], wlo[active]), dm)
        whi[active] = np.where(right, dm, np.where(side[active] == -1, 0.5 * whi[active], whi[active]))
        side[active] = np.where(right, 1, -1)
        lo[active], flo[active], dlo[active] = (np.where(right, a, b) for a, b in ((l, m), (fl, fm), (dl, dm)))
        hi[active], fhi[active], dhi[active] = (np.where(right, a, b) for a, b in ((m, h), (fm, fh), (dm, dh)))
        smooth = np.abs(dm) <= 1e-13
        narrow = (hi[active] - lo[active] <= width) & ~smooth
        a_lo = flo[active] <= fhi[active]
        y[active] = np.where(narrow, np.where(a_lo, lo[active], hi[active]), m)
        fy[active] = np.where(narrow, np.minimum(flo[active], fhi[active]), fm)
        resid[active] = np.where(smooth, np.abs(dm), (hi[active] - lo[active]) *
                                 np.maximum(np.abs(dlo[active]), np.abs(dhi[active])))
        active = active[~(smooth | narrow)]
    return y, fy, resid


def _wall(law: BatchLaw, s: StackedSize, idx, start) -> np.ndarray:
    """y = log D on the boundary where N reaches the largest the size serves (x_max): below
    it (larger N) the size serves nothing; the box's lower end where no such point exists."""
    m = len(law)
    x_max = s.x_max[idx]
    wall = np.full(m, Y_BOX[0])
    j = np.flatnonzero(np.isfinite(x_max))
    if j.size:
        def fun(y, i):
            x, x1 = law.curve(y, j[i])
            return x_max[j[i]] - x, -x1
        y0 = np.where(np.isfinite(start[j]), start[j], 0.5 * (Y_BOX[0] + Y_BOX[1])) if start is not None \
            else np.full(j.size, 0.5 * (Y_BOX[0] + Y_BOX[1]))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            root = newton(fun, y0, np.full(j.size, Y_BOX[0]), np.full(j.size, Y_BOX[1]), give_up=Y_BOX)
        wall[j] = np.where(np.isfinite(root), np.maximum(root, Y_BOX[0]), Y_BOX[0])
    wall[x_max == -np.inf] = Y_BOX[1]
    return wall


def _walk(fun, y0, g0, direction: int, first_step: float = 0.05):
    """From y0 (f′ < 0 there when direction = +1, > 0 when −1) step outwards, doubling, until
    f′ changes sign: (near, far, (f, f′) at near, (f, f′) at far, found), the walk's last
    two points; ``fun(y, i)`` gives (f, f′) at the points i."""
    near, far = y0.copy(), y0.copy()
    gnear, gfar = [v.copy() for v in g0], [v.copy() for v in g0]
    found = np.zeros(y0.size, dtype=bool)
    step = np.full(y0.size, first_step)
    active = np.arange(y0.size)
    while active.size:
        y = far[active] + direction * step[active]
        f, d = fun(y, active)
        near[active] = far[active]
        for a, b in zip(gnear, gfar):
            a[active] = b[active]
        far[active], gfar[0][active], gfar[1][active] = y, f, d
        step[active] *= 2.0
        hit = d > 0 if direction > 0 else d < 0
        found[active] = hit
        active = active[~hit & (np.abs(far[active] - y0[active]) < Y_BOX[1] - Y_BOX[0])]
    return near, far, gnear, gfar, found


def _bracket(law, s, k, idx, start):
    """(lo, hi, (f, f′) at lo, (f, f′) at hi) around each point's optimum: from the wall
    where the size stops serving N (f′ there ≥ 0: the optimum is the wall), to where a
    walk from the start (or from the wall) finds f′ change sign."""
    fun = lambda y, i: _objective(law, s, k, idx, y, i)[:2]      # noqa: E731
    lo = _wall(law, s, idx, start)
    y0 = lo if start is None else np.where(np.isfinite(start) & (start > lo), start, lo)
    g0 = list(fun(y0, np.arange(y0.size)))
    glo = [v.copy() for v in g0]
    hi, ghi = y0.copy(), [v.copy() for v in g0]
    # (where y0 is the wall, f at the wall is g0 too)
    at_wall = y0 == lo
    for direction in (1, -1):
        # walk up from y0 where f′ < 0 there, down (not past the wall) where f′ > 0
        go = np.flatnonzero(g0[1] < 0 if direction > 0 else (g0[1] > 0) & ~at_wall)
        if not go.size:
            continue
        near, far, gnear, gfar, found = _walk(lambda y, i, go=go: fun(y, go[i]), y0[go], [v[go] for v in g0],
                                              direction)
        a, b, ga, gb = (near, far, gnear, gfar) if direction > 0 else (far, near, gfar, gnear)
        if direction < 0:
            found &= a >= lo[go]          # a walk that passes the wall keeps the wall as its lower end
        w = go[found]
        lo[w], hi[w] = a[found], b[found]
        for full, part in ((glo, ga), (ghi, gb)):
            for v, pv in zip(full, part):
                v[w] = pv[found]
        if direction > 0:
            lost = go[~found]
            hi[lost], ghi[1][lost] = Y_BOX[1], -np.inf     # no minimum in the box: the plan runs off it
        else:
            back = go[~found]                              # reached the wall: the bracket is [wall, y0]
            lo[back] = _wall(law, s, idx, start)[back]
            g_wall = fun(lo[back], back)
            glo[0][back], glo[1][back] = g_wall
    # where y0 is not the wall and no walk went down, lo is y0 (f′ < 0 there) unless the
    # up-walk moved it; the wall's own slope decides whether the optimum is the wall
    return lo, hi, glo, ghi


def _one_size(law: BatchLaw, s: StackedSize, k, idx, start=None):
    """The optimum of size s for every point of ``law``: (value, y, residual, status, the
    plane limit that clamps it); ``start``: a guess of each optimum (nan: none)."""
    s = s.take(idx) if idx.size != s.allowed.size or np.any(idx != np.arange(idx.size)) else s
    idx = np.arange(idx.size)
    m = len(law)
    every = np.arange(m)
    lo, hi, glo, ghi = _bracket(law, s, k, idx, start)
    y_star, f, resid = _root(lambda y, i: _objective(law, s, k, idx, y, i)[:2], lo, hi, glo, ghi)
    # f′ ≥ 0 at the wall: the optimum is the largest model the size serves (its limits bind)
    wall = glo[1] >= 0
    y_star, f, resid = np.where(wall, lo, y_star), np.where(wall, glo[0], f), np.where(wall, 0.0, resid)
    status = np.full(m, OPTIMAL, dtype=np.int8)
    status[ghi[1] <= 0] = EDGE
    status[~(law.level > 0) | ~np.isfinite(f)] = INFEASIBLE
    y_lo, y_hi, lo_by, hi_by = _limit_interval(law, y_star, status)
    status[(lo_by != NO_NAME) & (hi_by != NO_NAME)] = INFEASIBLE
    y = np.clip(y_star, y_lo, y_hi)
    limit = np.where(y > y_star, lo_by, np.where(y < y_star, hi_by, NO_NAME)).astype(np.int32)
    clamped = np.flatnonzero(y != y_star)
    if clamped.size:
        # at a plane limit: the slope must point into it (its multiplier ≥ 0)
        fc, dc, ok = _objective(law, s, k, idx, y[clamped], clamped)
        f[clamped] = fc
        resid[clamped] = np.where(y[clamped] > y_star[clamped], np.maximum(0.0, -dc), np.maximum(0.0, dc))
        status[clamped[~ok]] = INFEASIBLE
    with np.errstate(invalid="ignore"):
        status[(status == OPTIMAL) & ~(resid <= TOL)] = INFEASIBLE
        x = law.curve(y, every)[0]
        status[(status == OPTIMAL) & (violations(law.b, x, y) > TOL)] = INFEASIBLE
    return np.exp(f), y, resid, status, limit

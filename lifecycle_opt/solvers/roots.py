"""Vectorised root finding: many monotone equations at once, one per array element.

* :func:`newton` — Newton steps kept inside a bracket, for smooth increasing functions
  with an analytic derivative (the batch solver's stationarity equations);
* :func:`bracketed_root` — Anderson–Björck regula falsi with bisection safeguards, for
  functions with kinks (the loss objective's ceiling);
* :func:`bracket` — walk out from a start until the sign changes.

Each runs to the last bits of a double.
"""
from __future__ import annotations

__all__ = ["newton", "bracketed_root", "bracket"]

import numpy as np


def newton(fun, y, lo, hi, pole=None, iters: int = 100, give_up=(-1e3, 1e3)):
    """Roots of increasing functions, one per element, by Newton steps kept in a bracket.

    ``fun(y, j)`` gives (f, f′) at the points j; the root lies in [lo, hi] (±inf where not
    yet known; f = nan counts as −inf, the side where the loss target is out of reach).
    Each step is Newton's from the last point if it lands inside the bracket, else
    Newton's from the bracket's other end (for a convex or a concave f one of the two
    lands inside), else a bisection, or a doubling step outwards while the bracket is
    open. Where a Newton step cut |f| by less than 30 % (near a kink, a root where f′
    jumps) the next step is a bisection, so that no point creeps. Stops when the error of
    the last Newton step, estimated from its quadratic convergence, is below 1e-16
    relative, or at the noise floor. Roots beyond the search box come back as nan.

    Where f has a pole −c/(y − p) at a known p below the root (``pole``, −inf for none),
    the steps are Newton's on (y − p)·f, which has the same root and no pole.
    """
    y, lo, hi = (np.array(v, dtype=float) for v in (y, lo, hi))
    out = np.full(y.size, np.nan)
    # the state of the points still looking, compacted as they finish
    ids = np.arange(y.size)
    p = np.full(y.size, -np.inf) if pole is None else np.asarray(pole, dtype=float)
    # f and f′ at the bracket's ends (nan until an end is evaluated)
    f_lo, fp_lo, f_hi, fp_hi = (np.full(y.size, np.nan) for _ in range(4))
    last = np.full(y.size, np.inf)    # |f| at the previous point
    reach = np.ones(y.size)           # the outward step while a side is open
    before = np.full(y.size, np.inf)  # the size of the previous step
    newton = np.zeros(y.size, dtype=bool)   # was it a Newton step from the point before
    tangent = np.zeros(y.size, dtype=bool)  # was it a Newton step from either point
    for _ in range(iters):
        if ids.size == 0:
            break
        f, fp = fun(y, ids)
        f = np.where(np.isnan(f), -np.inf, f)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            d = y - p
            f, fp = np.where(np.isfinite(d), (f * d, fp * d + f), (f, fp))
            left, right = f < 0, f > 0
            lo, f_lo, fp_lo = (np.where(left, a, b) for a, b in ((y, lo), (f, f_lo), (fp, fp_lo)))
            hi, f_hi, fp_hi = (np.where(right, a, b) for a, b in ((y, hi), (f, f_hi), (fp, fp_hi)))
            closed = np.isfinite(lo) & np.isfinite(hi)
            slow = closed & tangent & (np.abs(f) > 0.7 * last)
            dy = -f / fp
            step = np.abs(dy)
            good = np.isfinite(dy) & (y + dy > lo) & (y + dy < hi) & (step <= 8.0) & ~slow
            other = np.where(left, hi - f_hi / fp_hi, lo - f_lo / fp_lo)
            other_good = np.isfinite(other) & (other > lo) & (other < hi) & ~slow
            nxt = np.where(good, y + dy, np.where(other_good, other, np.where(
                closed, 0.5 * (lo + hi), y + np.where(left, reach, -reach))))
        reach = np.where(good | closed, reach, 2.0 * reach)
        scale = np.maximum(np.abs(y), 1.0)
        # converged: after two Newton steps in a row the error of y + dy is about
        # step³/before² (quadratic convergence, its constant estimated from the two steps),
        # which saves the last evaluation; or at the noise floor: tiny steps that no
        # longer shrink
        with np.errstate(over="ignore", invalid="ignore"):
            quadratic = newton & (step <= 1e-6 * scale) & (step ** 3 <= 1e-16 * scale * before ** 2)
        close = np.isfinite(dy) & (fp > 0) & (quadratic | (step <= 1e-14 * scale)
                                              | ((step <= 1e-12 * scale) & (step > 0.25 * before)))
        done = close | (hi - lo <= 1e-15 * scale)
        newton, tangent = good, good | other_good
        last = np.abs(f)
        before = np.abs(nxt - y)
        nxt = np.where(close, y + dy, nxt)
        out[ids[done]] = nxt[done]
        # the root is past the search range ``give_up`` (the search box): stop looking
        gone = (left & (y > give_up[1] + 1.0)) | (right & (y < give_up[0] - 1.0))
        keep = ~(done | gone)
        ids, y, lo, hi, p, reach, before, newton, tangent, last, f_lo, fp_lo, f_hi, fp_hi = (
            a[keep] for a in (ids, nxt, lo, hi, p, reach, before, newton, tangent, last, f_lo, fp_lo, f_hi, fp_hi))
    return out


def bracketed_root(fun, lo, hi, flo, fhi, iters: int = 200):
    """Roots of increasing functions, one per element, inside brackets flo ≤ 0 ≤ fhi.

    ``fun(y, i)`` evaluates at the points i (−inf is allowed left of a function's domain).
    Anderson–Björck regula falsi, with bisection when an end is infinite and every third
    step when the bracket has not halved; stops when the bracket is a few ulps wide.
    """
    lo, hi, flo, fhi = (np.array(v, dtype=float) for v in (lo, hi, flo, fhi))
    y = np.where(np.abs(flo) <= np.abs(fhi), lo, hi)
    side = np.zeros(lo.size, dtype=np.int8)
    width = hi - lo
    active = np.flatnonzero((flo < 0) & (fhi > 0))
    for it in range(iters):
        if active.size == 0:
            break
        l, h, fl, fh = lo[active], hi[active], flo[active], fhi[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = fl / (fl - fh)
        bisect = ~np.isfinite(t) | (t <= 0) | (t >= 1)
        if it % 3 == 2:
            bisect |= (h - l) > 0.5 * width[active]
            width[active] = h - l
        m = np.where(bisect, 0.5 * (l + h), l + t * (h - l))
        fm = fun(m, active)
        fm = np.where(np.isnan(fm), -np.inf, fm)
        right = fm > 0
        # Anderson–Björck: when the same end moves twice, scale the other end's value
        with np.errstate(invalid="ignore", divide="ignore"):
            g_hi = np.where(fh != 0, 1.0 - fm / fh, 0.5)
            g_lo = np.where(fl != 0, 1.0 - fm / fl, 0.5)
        g_hi = np.where((g_hi > 0) & np.isfinite(g_hi), g_hi, 0.5)
        g_lo = np.where((g_lo > 0) & np.isfinite(g_lo), g_lo, 0.5)
        again_hi = right & (side[active] == 1)
        again_lo = ~right & (side[active] == -1)
        flo[active] = np.where(again_hi, fl * g_hi, np.where(right, fl, fm))
        lo[active] = np.where(right, l, m)
        fhi[active] = np.where(again_lo, fh * g_lo, np.where(right, fm, fh))
        hi[active] = np.where(right, m, h)
        side[active] = np.where(right, 1, -1)
        y[active] = m
        # 1e-14 relative in log D or log N is ~1e-13 relative in D or N: far inside 1e-9
        done = (fm == 0) | (hi[active] - lo[active] <= 1e-14 * np.maximum(np.abs(m), 1.0))
        active = active[~done]
    return y


def bracket(fun, y0, direction, f0=None, first_step: float = 0.5, limit: float = 120.0):
    """From y0 (f(y0) ≤ 0 when direction = +1, ≥ 0 when −1) step outwards, doubling, until
    the increasing fun changes sign. Returns (lo, hi, flo, fhi, found)."""
    y0 = np.asarray(y0, dtype=float)
    idx = np.arange(y0.size)
    f0 = fun(y0, idx) if f0 is None else np.asarray(f0, dtype=float)
    f0 = np.where(np.isnan(f0), -np.inf, f0)
    near, fnear = y0.copy(), f0.copy()
    far, ffar = y0.copy(), f0.copy()
    found = (f0 >= 0) if direction > 0 else (f0 <= 0)
    step = np.full(y0.size, first_step)
    active = np.flatnonzero(~found)
    travelled = np.zeros(y0.size)
    while active.size:
        y = far[active] + direction * step[active]
        f = fun(y, active)
        f = np.where(np.isnan(f), -np.inf, f)
        near[active], fnear[active] = far[active], ffar[active]
        far[active], ffar[active] = y, f
        travelled[active] += step[active]
        step[active] *= 2.0
        hit = (f >= 0) if direction > 0 else (f <= 0)
        found[active] = hit
        active = active[~hit & (travelled[active] < limit)]
    if direction > 0:
        return near, far, fnear, ffar, found
    return far, near, ffar, fnear, found

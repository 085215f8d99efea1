"""The serving constraints of one replica size as functions of N alone, for the batch
solver of serving plans (:mod:`.batch_serving`, docs/model.md §8).

Every serving constraint g ≤ 1 of :func:`~lifecycle_opt.problem.formulation.serving_constraints`
is, at a fixed size G, affine in the batch B with coefficients posynomial in N: the step
t ≥ a(N) + b(N)·B, caps m0(N) + m1(N)·B ≤ 1, B ≥ f, a target c·t ≤ 1, limits n(N) ≤ 1
(:func:`forms_of` reads which from the exponents). :class:`StackedSize` holds them over
many points, and :func:`batch_points` gives, at any N, the largest batch they allow, the
GPU-seconds G·t/B of a generated token there and its derivative in log N.
"""
from __future__ import annotations

__all__ = ["SizeForm", "StackedSize", "forms_of", "stack_forms", "batch_points", "at_batch"]

import functools
from dataclasses import dataclass, replace

import numpy as np

from .batch_data import X_BOX


@dataclass(frozen=True)
class SizeForm:
    """One replica size's serving constraints, each a map exponent of N → coefficient:
    steps (a, b): t ≥ a + b·B; caps (m0, m1): m0 + m1·B ≤ 1; floors f: B ≥ f; tcaps c:
    c·t ≤ 1; ncaps n: n ≤ 1. ``allowed``: whether this size is allowed at all."""

    g: float
    steps: dict
    caps: dict
    floors: dict
    tcaps: dict
    ncaps: dict
    allowed: bool = True


def _split(p, by: int) -> dict:
    """{exponent of the variable ``by`` → {exponent of N → coefficient}} of a posynomial in
    N and (B, t) with G fixed; None when a term depends on D."""
    out: dict = {}
    for c, eN, eD, eB, eG, et in p.terms:
        if eD != 0:
            return None
        key = (eB, et)[by] if by >= 0 else 0.0
        out.setdefault(key, {}).setdefault(eN, 0.0)
        out[key][eN] += c
    return out


def forms_of(constraints, g: float) -> SizeForm | None:
    """The SizeForm of a problem's serving constraints at replica size g, or None when a
    constraint has a shape this solver does not know (the exact path solves it)."""
    kinds = {"steps": {}, "caps": {}, "floors": {}, "tcaps": {}, "ncaps": {}}
    for c in constraints:
        got = _form(c, g)
        if got is None:
            return None
        kinds[got[0]][c.name] = got[1]
    return SizeForm(g, **kinds)


@functools.lru_cache(maxsize=4096)
def _form(c, g: float):
    """(kind, its maps) of one constraint at replica size g; None for an unknown shape."""
    p = c.posynomial.fixed(G=g)
    eB = {t[3] for t in p.terms}
    et = {t[5] for t in p.terms}
    by_B = _split(p, 0)
    if by_B is None:
        return None
    if et == {-1.0} and eB <= {0.0, 1.0}:
        return "steps", (by_B.get(0.0, {}), by_B.get(1.0, {}))
    if et == {1.0} and eB == {0.0}:
        return "tcaps", by_B[0.0]
    if et <= {0.0} and eB == {-1.0}:
        return "floors", by_B[-1.0]
    if et <= {0.0} and eB <= {0.0, 1.0}:
        return ("caps", (by_B.get(0.0, {}), by_B[1.0])) if 1.0 in eB else ("ncaps", by_B.get(0.0, {}))
    return None


@dataclass(frozen=True, eq=False)
class StackedSize:
    """A size's forms stacked over the points: every quantity (a posynomial in N alone) as
    its coefficients per point over one list of exponents, ``coef[quantity][exponent]`` an
    array over the points (None where zero everywhere), in the order steps (a, b), caps
    (m0, m1), floors, tcaps, ncaps (a constraint a point's scenario lacks: zero, harmless);
    ``allowed``: whether the size is allowed at each point."""

    g: float
    allowed: np.ndarray
    coef: list
    exp: np.ndarray
    counts: tuple
    cap_names: tuple = ()
    #: the largest log N the size serves at each point (every serving limit tightens with N,
    #: so the size serves exactly x ≤ x_max): found once, then the searches test it alone
    x_max: np.ndarray | None = None

    def take(self, rows) -> "StackedSize":
        """The same size's forms for the points ``rows`` (an index array)."""
        coef = [[None if c is None else c[rows] for c in q] for q in self.coef]
        return StackedSize(self.g, self.allowed[rows], coef, self.exp, self.counts, self.cap_names,
                           None if self.x_max is None else self.x_max[rows])

    @functools.cached_property
    def _matrix(self):
        """(C, where): the non-zero coefficient arrays as the rows of one matrix (one gather
        per evaluation), and per quantity its (exponent index, row of C) pairs."""
        rows, where = [], []
        for q in self.coef:
            mine = []
            for i, c in enumerate(q):
                if c is not None:
                    mine.append((i, len(rows)))
                    rows.append(c)
            where.append(mine)
        C = np.array(rows) if rows else np.zeros((0, self.allowed.size))
        return C, where

    def values(self, x, rows=None, slope: bool = True, skip_limits: bool = False):
        """[(value, d value/d log N)] of every quantity at x = log N (arrays over the points;
        ``skip_limits``: zeros for the floors and the limits on N alone, whose test x_max holds)."""
        power = [None if e == 0 else np.exp(e * x) for e in self.exp]
        zero = np.zeros(np.shape(x))
        C, where = self._matrix
        C = C if rows is None else C[:, rows]
        ns, nc, nf, nt, nn = self.counts
        first_floor, first_n = 2 * ns + 2 * nc, 2 * ns + 2 * nc + nf + nt
        out = []
        for i, pairs in enumerate(where):
            v, d = zero, zero
            if skip_limits and (first_floor <= i < first_floor + nf or i >= first_n):
                out.append((v, d))
                continue
            for e, r in pairs:
                term = C[r] if power[e] is None else C[r] * power[e]
                v = v + term
                if slope and power[e] is not None:
                    d = d + self.exp[e] * term
            out.append((v, d))
        return out

    def split(self, items):
        """``items`` per quantity as lists (steps a, steps b, caps m0, caps m1, floors, tcaps, ncaps)."""
        ns, nc, nf, nt, nn = self.counts
        cuts = np.cumsum([0, ns, ns, nc, nc, nf, nt, nn])
        return [items[cuts[i]:cuts[i + 1]] for i in range(7)]


def stack_forms(forms: list[SizeForm | None], g: float) -> StackedSize:
    """The size-g forms of many points (None: the size is not allowed there)."""
    present = [f for f in forms if f is not None]
    empty = SizeForm(g, {}, {}, {}, {}, {}, allowed=False)
    forms = [f if f is not None else empty for f in forms]

    def names(kind):
        return sorted({n for f in present for n in getattr(f, kind)})
    columns = []          # per quantity: one {exponent → coefficient} map per point
    for kind in ("steps", "caps"):
        for part in (0, 1):
            columns += [[getattr(f, kind).get(n, ({}, {}))[part] for f in forms] for n in names(kind)]
    for kind in ("floors", "tcaps", "ncaps"):
        columns += [[getattr(f, kind).get(n, {}) for f in forms] for n in names(kind)]
    exps = sorted({e for col in columns for m in col for e in m})
    coef = []
    for col in columns:
        row = []
        for e in exps:
            c = np.array([m.get(e, 0.0) for m in col], dtype=float)
            row.append(c if np.any(c) else None)
        coef.append(row)
    tpot = names("tcaps")
    counts = tuple(len(names(k)) for k in ("steps", "caps", "floors", "tcaps", "ncaps"))
    out = StackedSize(g, np.array([f.allowed for f in forms]), coef, np.array(exps, dtype=float), counts,
                      tuple(names("caps")) + (tpot[0] if tpot else "",))
    return replace(out, x_max=_largest_served(out))


def _largest_served(s: StackedSize) -> np.ndarray:
    """The largest x = log N each point's size serves (−inf: none in the box), by bisection:
    whether N is served falls from true to false once as N grows."""
    lo, hi = np.full(s.allowed.size, X_BOX[0]), np.full(s.allowed.size, X_BOX[1])
    served_lo = batch_points(s, lo, full=True)[3]
    served_hi = batch_points(s, hi, full=True)[3]
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        ok = batch_points(s, mid, full=True)[3]
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(served_hi, np.inf, np.where(served_lo, lo, -np.inf))


def batch_points(s: StackedSize, x, rows=None, full: bool = False):
    """(B*, c, dc/dlogN, feasible, B_cheap, binds) at x = log N: the largest batch the caps
    and the target allow, the GPU-seconds G·t/B of a generated token there and its
    derivative, whether N is served at all, the smallest batch as cheap (when
    compute-bound), and which cap sets B* (an index into ``s.cap_names``). ``full``: test
    every limit (else whether N is served is x ≤ ``s.x_max``)."""
    n = np.shape(x)[0]
    full = full or s.x_max is None
    a, b, m0, m1, fl, tc, nc = s.split(s.values(x, rows, skip_limits=not full))
    ok = (s.allowed if rows is None else s.allowed[rows]).copy()
    if not full:
        ok &= x <= (s.x_max if rows is None else s.x_max[rows])
    for v, _ in nc:
        ok &= v <= 1.0 + 1e-12
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        T = np.full(n, np.inf)
        for v, _ in tc:
            T = np.minimum(T, np.where(v > 0, 1.0 / v, np.inf))
        lo = np.ones(n)
        for v, _ in fl:
            lo = np.maximum(lo, v)
        B, dB, binds = np.full(n, np.inf), np.zeros(n), np.full(n, len(m0))
        for j, ((v0, d0), (v1, d1)) in enumerate(zip(m0, m1)):
            if full:
                ok &= (v1 > 0) | (v0 <= 1.0 + 1e-12)
            cap = np.where(v1 > 0, (1.0 - v0) / v1, np.inf)
            tighter = cap < B
            dB = np.where(tighter, (-d0 * v1 - (1.0 - v0) * d1) / v1 ** 2, dB)
            binds, B = np.where(tighter, j, binds), np.where(tighter, cap, B)
        for (va, da), (vb, db) in zip(a, b):
            if full:
                ok &= va <= T * (1 + 1e-12)
            cap = np.where(vb > 0, (T - va) / vb, np.inf)
            tighter = cap < B
            dB = np.where(tighter, (-da * vb - (T - va) * db) / vb ** 2, dB)
            binds, B = np.where(tighter, len(m0), binds), np.where(tighter, cap, B)
        if full:
            ok &= np.isfinite(B) & (B >= lo * (1 - 1e-12))
        Bs = np.where(ok, np.maximum(B, lo), 1.0)
        per, dper = np.full(n, -np.inf), np.zeros(n)
        for (va, da), (vb, db) in zip(a, b):
            v = va / Bs + vb
            higher = v > per
            dper = np.where(higher, da / Bs - va * dB / (Bs * Bs) + db, dper)
            per = np.where(higher, v, per)
        c = np.where(ok, s.g * per, np.inf)
        # the smallest batch as cheap: a_k/B + b_k ≤ per for every k
        cheap = lo
        for (va, _), (vb, _) in zip(a, b):
            room = per * (1 + 1e-14) - vb
            cheap = np.maximum(cheap, np.where(room > 0, va / room, 0.0))
    return Bs, c, s.g * dper, ok, np.minimum(cheap, Bs), binds


def at_batch(s: StackedSize, x, B, rows=None):
    """(G·t/B, feasible) at x = log N and a given batch B (arrays): the GPU-seconds of a
    generated token and whether B meets every constraint of size s."""
    a, b, m0, m1, fl, tc, nc = s.split(s.values(x, rows, slope=False))
    B = np.asarray(B, dtype=float)
    ok = (s.allowed if rows is None else s.allowed[rows]) & (B >= 1)
    t = np.zeros(np.shape(x))
    for (va, _), (vb, _) in zip(a, b):
        t = np.maximum(t, va + vb * B)
    for v, _ in nc:
        ok &= v <= 1.0 + 1e-12
    for v, _ in fl:
        ok &= B >= v * (1 - 1e-12)
    for (v0, _), (v1, _) in zip(m0, m1):
        ok &= v0 + v1 * B <= 1.0 + 1e-12
    for v, _ in tc:
        ok &= v * t <= 1.0 + 1e-12
    return s.g * t / B, ok

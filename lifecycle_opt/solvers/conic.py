"""The cvxpy path of the exact solver: a geometric program when the loss is a posynomial,
tangent-plane cuts under the repetition penalty, and a quadratic refinement of either.

cvxpy's exponential-cone solvers stop about 1e-6 short along the flat iso-loss
direction (docs/model.md §5); the quadratic refinement and then the KKT polish
(:mod:`.certificate`) take the plan to machine precision. cvxpy is imported inside
:func:`solve_cvxpy`: it costs about a second, paid only when solving.
"""
from __future__ import annotations

__all__ = ["solve_cvxpy"]

import contextlib
import io
import math
import warnings as _warnings

import numpy as np

from ..model.posynomial import Posynomial
from ..problem.constraints import loss_minus_target
from ..problem.formulation import Problem


def solve_cvxpy(problem: Problem, z0):
    """(z, duals, method) from cvxpy, or (None, None, method) when it fails."""
    import cvxpy as cp   # imported here: about a second, paid only when solving

    posy_law = problem.law.posynomial() is not None
    try:
        with _warnings.catch_warnings():
            # "Solution may be inaccurate" at our tight tolerances: the polish and the
            # certificate judge accuracy, not the conic solver's own flag
            _warnings.simplefilter("ignore", UserWarning)
            if posy_law:
                return _cvxpy_gp(cp, problem, z0)
            found = _cvxpy_cuts(cp, problem, z0)
            if "no convergence" in found[2]:
                # heavy repetition bends the loss sharply: allow more cuts (rare, seconds)
                found = _cvxpy_cuts(cp, problem, z0, max_cuts=400)
            return found
    except (cp.error.SolverError, cp.error.DCPError, cp.error.DGPError, ValueError, ArithmeticError):
        return None, None, "cvxpy (failed)"


_CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12,
                   "tol_ktratio": 1e-10, "max_iter": 400}


def _run(cp, prob, **kw) -> str:
    """Solve with tight Clarabel tolerances ("tight"); on a numerical failure, with its
    defaults ("loose": the quadratic refinement and the polish recover the accuracy), and
    then with SCS ("scs"). SCS's iterations are capped: at 200,000 one solve took two
    seconds, and a cutting-plane loop that fell back to it on every round ran for twelve
    minutes."""
    try:
        prob.solve(solver=cp.CLARABEL, **_CLARABEL_TIGHT, **kw)
        return "tight"
    except cp.error.SolverError:
        try:
            prob.solve(solver=cp.CLARABEL, **kw)
            return "loose"
        except cp.error.SolverError:
            # SCS writes "ERROR: could not determine problem status." to sys.stdout, where
            # it would land in front of `lifeopt solve --format json`; the certificate says
            # what happened instead
            with contextlib.redirect_stdout(io.StringIO()):
                prob.solve(solver=cp.SCS, eps=1e-10, max_iters=20000, **kw)
            return "scs"


def _monomials(cp, V, terms, z0, scale=1.0):
    """Σ c·Π V_i^e_i with V_i = e^z0_i·v_i in the scaled variables v (N, D, and under the
    roofline serving model B, G, t)."""
    out = []
    for c, *e in terms:
        m = c * math.exp(sum(ei * zi for ei, zi in zip(e, z0))) * scale
        for v, ei in zip(V, e):
            if ei:
                m = m * v ** ei
        out.append(m)
    return cp.sum(cp.hstack(out)) if len(out) > 1 else out[0]


def _cvxpy_gp(cp, problem: Problem, z0):
    """The geometric program; its dual values are the elasticities ν.

    Variables are scaled around the Phase I point z0 (N = e^x0·n, D = e^y0·d) and the
    objective by its value there, so that the interior-point solver works with numbers
    near one: unscaled, log N ≈ 25 and log cost ≈ 57 cost it two digits of accuracy.
    """
    z0 = np.asarray(z0, float)
    V = [cp.Variable(pos=True, name=name) for name in ("n", "d", "batch", "replica", "step")[:problem.dim]]
    constraints = []
    for c in problem.constraints:
        # every constraint in its geometric-program form g ≤ 1 (the loss target: P/level)
        constraints.append(_monomials(cp, V, c.posynomial.terms, z0) <= 1.0)
    for v, (lo, hi), zi in zip(V, problem.box, z0):
        constraints += [v <= math.exp(hi - zi), v >= math.exp(lo - zi)]
    obj = problem.objective
    terms = obj.cost.terms if obj.kind == "cost" else problem.law.posynomial().terms
    # (for a loss objective: the loss is increasing in the law's posynomial, minimise that)
    scale = math.exp(-Posynomial(terms).log_value(z0)[0])
    objective = _monomials(cp, V, terms, z0, scale)
    prob = cp.Problem(cp.Minimize(objective), constraints)
    _run(cp, prob, gp=True)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        return None, None, f"cvxpy-gp/CLARABEL ({prob.status})"
    duals = [float(con.dual_value) for con in constraints[:len(problem.constraints)]]
    z = z0 + np.log([float(v.value) for v in V])
    if problem.dim > 2:
        # with the serving variables the refinement's small programs are ill-posed along
        # the flat serving directions (Clarabel gives up, SCS crawls): the KKT polish
        # from this answer does its work (docs/model.md §8)
        return z, duals, f"cvxpy-gp/CLARABEL ({prob.status})"
    # the interior-point solution is accurate to ~1e-6 along the flat iso-loss direction;
    # a few curved-model steps (still cvxpy) bring it to ~1e-9
    zq = _cvxpy_quadratic_refine(cp, problem, z0, z)
    if zq is not None:
        return zq, duals, f"cvxpy-gp+quadratic/CLARABEL ({prob.status})"
    return z, duals, f"cvxpy-gp/CLARABEL ({prob.status})"


def _cut_program(cp, problem: Problem, z0, max_cuts: int):
    """(problem, w, t, cut sets) of :func:`_cvxpy_cuts`: the limits and objective in
    w = z − z0, and for each loss constraint a parameter block of ``max_cuts`` cuts (t is
    the loss epigraph variable of a loss objective, else None)."""
    n = problem.dim
    w = cp.Variable(n, name="shift_from_start")

    def log_posy(posy, shift=0.0):
        logc, V = posy.log_parts(n)
        base = logc + V @ z0 - shift
        return cp.log_sum_exp(base + V @ w) if len(base) > 1 else base[0] + V[0] @ w

    cons = [log_posy(c.posynomial) <= 0 for c in problem.constraints if not c.is_loss]
    for i, (lo, hi) in enumerate(problem.box):
        cons += [w[i] >= lo - z0[i], w[i] <= hi - z0[i]]
    obj = problem.objective
    loss_cons = [c for c in problem.constraints if c.is_loss]
    if obj.kind == "cost":
        objective = log_posy(obj.cost, shift=obj.evaluate(z0)[0])
        # (law, level) of each loss constraint: the target is a constant
        sets = [(c.law, c.target) for c in loss_cons]
        t = None
    else:
        t = cp.Variable(name="loss_epigraph")
        objective = t
        sets = [(problem.law, None)]
    cut_sets = []
    for law, level in sets:
        G = cp.Parameter((max_cuts, 2))
        r = cp.Parameter(max_cuts)
        # the loss depends on (x, y) alone: its cuts see the first two variables
        cons.append(G @ w[:2] <= r + (level if t is None else t))
        cut_sets.append({"law": law, "level": level, "G": G, "r": r, "count": 0,
                         "slopes": np.zeros((max_cuts, 2)), "offsets": np.full(max_cuts, 1e3)})
    prob = cp.Problem(cp.Minimize(objective), cons)
    return prob, w, t, cut_sets


def _add_cut(cut: dict, z0, point) -> None:
    """A supporting hyperplane of the cut set's loss at ``point``:
    L(p) + g·(z − p) ≤ t  ⇔  g·w ≤ t + g·(p − z0) − L(p)."""
    L, g = _loss_and_grad(cut["law"], point)
    k = cut["count"]
    cut["slopes"][k] = g
    cut["offsets"][k] = g @ (point[:2] - z0[:2]) - L
    cut["count"] = k + 1


def _cvxpy_cuts(cp, problem: Problem, z0, max_cuts: int = 120):
    """Convex program in (x, y) = (log N, log D) with each penalised loss replaced by
    supporting hyperplanes (an outer approximation), refined until the gap closes.

    The variable is w = z − z0 (z0 the Phase I point) and the cost is measured relative to
    its value at z0, so the solver sees numbers near zero (see _cvxpy_gp). A robust plan
    has one loss constraint per law kept, each with its own set of cuts.
    """
    z0 = np.asarray(z0, float)
    prob, w, t, cut_sets = _cut_program(cp, problem, z0, max_cuts)
    for cut in cut_sets:
        _add_cut(cut, z0, z0)
        for dz in ([1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]):
            _add_cut(cut, z0, z0 + np.r_[dz, np.zeros(z0.size - 2)])
    status = "not run"
    previous = None
    rounds = rescued = 0
    while max(c["count"] for c in cut_sets) < max_cuts and rounds < max_cuts:
        rounds += 1
        for cut in cut_sets:
            cut["G"].value, cut["r"].value = cut["slopes"], cut["offsets"]
        how = _run(cp, prob)
        tight = how == "tight"
        rescued += how == "scs"
        if rescued > 12:
            # Clarabel fails round after round: SCS's inaccurate rounds never settle the
            # loop, so cvxpy gives no opinion rather than run for minutes
            return None, None, "cvxpy-cuts/CLARABEL (failed)"
        status = prob.status
        if status not in ("optimal", "optimal_inaccurate"):
            return None, None, f"cvxpy-cuts/CLARABEL ({status})"
        zk = z0 + np.array(w.value, float)
        N, D = math.exp(zk[0]), math.exp(zk[1])
        levels = [cut["level"] if t is None else float(t.value) for cut in cut_sets]
        gaps = [float(cut["law"].loss(N, D)) - lv for cut, lv in zip(cut_sets, levels)]
        # converged when the plan meets every true loss and the cuts no longer move it
        # (in N and D: the serving variables may drift along a flat direction, docs/model.md §8)
        settled = previous is not None and float(np.max(np.abs(zk[:2] - previous[:2]))) < 1e-5
        # only a tight solve of the relaxation proves that a feasible point is optimal
        if all(g <= 1e-9 * lv for g, lv in zip(gaps, levels)) and settled and tight and status == "optimal":
            # (not with the serving variables: see _cvxpy_gp)
            zq = _cvxpy_quadratic_refine(cp, problem, z0, zk) if problem.dim == 2 else None
            cuts = sum(c["count"] for c in cut_sets)
            if zq is None:
                return zk, None, f"cvxpy-cuts/CLARABEL ({cuts} cuts)"
            return zq, None, f"cvxpy-cuts+quadratic/CLARABEL ({cuts} cuts)"
        previous = zk
        # cut every law the plan violates; when all hold (not yet settled), the nearest one
        violated = [i for i, (g, lv) in enumerate(zip(gaps, levels)) if g > 1e-9 * lv]
        chosen = set(violated) if violated else {int(np.argmax(gaps))}
        for i, (cut, lv, gap) in enumerate(zip(cut_sets, levels, gaps)):
            if i not in chosen:
                continue
            if t is None and _is_interior(cut["law"], z0, lv):
                # supporting hyperplane: cut where the segment to the interior crosses the boundary
                _add_cut(cut, z0, _boundary_point(cut["law"], z0, zk, lv))
            else:
                _add_cut(cut, z0, zk)
    # unconverged: the last plan of the outer approximation is still cvxpy's own answer,
    # which the certificate compares after the polish (None if no round ran)
    if previous is None:
        return None, None, f"cvxpy-cuts/CLARABEL (no convergence in {max_cuts} cuts)"
    return previous, None, f"cvxpy-cuts/CLARABEL (no convergence in {max_cuts} cuts; last plan)"


def _cvxpy_quadratic_refine(cp, problem: Problem, z0, zk, iterations: int = 10):
    """Refine a conic solution with the loss replaced by its second-order model at the iterate.

    An interior-point solver stops at a duality gap of ~1e-12, which fixes the plan only to
    about its square root, 1e-6, along the flat iso-loss direction. Each step here solves
    for the *change* u of the plan in units of a trust scale s (w = s·u) with the objective
    divided by s², so the gap tolerance applies to the step, not to the plan: steps shrink
    geometrically and the fixed point is a KKT point of the true problem.
    """
    law = problem.law
    obj = problem.objective
    z = np.asarray(zk, float)
    n = z.size
    u = cp.Variable(n, name="scaled_step")
    # the conic solution is good to ~1e-6: start with steps of that order (a larger scale
    # makes the feasible region of a step at a vertex of two limits too thin to solve)
    scale = 1e-5
    def model(law_):
        L_, g_, H_ = loss_minus_target(law_, 0.0, z)
        vals, vecs = np.linalg.eigh(H_)
        return L_, g_, (vecs * np.maximum(vals, 0.0)) @ vecs.T      # convex model (PSD)

    for _ in range(iterations):
        cons = [cp.norm(u, "inf") <= 10.0]
        for c in problem.constraints:
            if c.is_loss:
                # loss model, divided by s: (L − L_t)/s + g·u + ½·s·uᵀHu ≤ 0 (one per law:
                # a robust plan meets the target under several)
                if obj.kind == "cost":
                    L, g, H = model(c.law)
                    g, H = g[:n], H[:n, :n]
                    cons.append((L - c.target) / scale + g @ u
                                + 0.5 * scale * cp.quad_form(u, cp.psd_wrap(H)) <= 0)
                continue
            logc, V = c.posynomial.log_parts(n)
            base = logc + V @ z
            cons.append(cp.log_sum_exp(base + scale * (V @ u)) <= 0 if len(base) > 1
                        else base[0] + scale * (V[0] @ u) <= 0)
        for i, (lo, hi) in enumerate(problem.box):
            cons += [scale * u[i] >= lo - z[i], scale * u[i] <= hi - z[i]]
        if obj.kind == "cost":
            # second-order model of φ = log cost, divided by s²
            _, gphi, Hphi = obj.evaluate(z)
            objective = (gphi @ u) / scale + 0.5 * cp.quad_form(u, cp.psd_wrap(Hphi))
        else:
            _, g, H = model(law)
            objective = (g @ u) / scale + 0.5 * cp.quad_form(u, cp.psd_wrap(H))
        prob = cp.Problem(cp.Minimize(objective), cons)
        try:
            _run(cp, prob)
        except cp.error.SolverError:
            break          # e.g. at a vertex of two limits, where the plan is already exact
        if prob.status not in ("optimal", "optimal_inaccurate"):
            break
        step = scale * np.array(u.value, float)
        z = z + step
        # converged in N and D (the serving variables may slide along a flat direction)
        size = float(np.max(np.abs(step[:2])))
        if size < 1e-13:
            break
        scale = min(max(10 * size, 1e-9), 1e-2)
    return z


def _is_interior(law, z, level) -> bool:
    """Whether z lies strictly inside the loss level set."""
    return float(law.loss(math.exp(z[0]), math.exp(z[1]))) < level


def _boundary_point(law, inside, outside, level, iters: int = 80):
    """The point on [inside, outside] where the loss equals ``level`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        p = inside + mid * (outside - inside)
        if float(law.loss(math.exp(p[0]), math.exp(p[1]))) <= level:
            lo = mid
        else:
            hi = mid
    return inside + lo * (outside - inside)


def _loss_and_grad(law, z):
    N, D = math.exp(z[0]), math.exp(z[1])
    L, dN, dD = law.loss_grad(N, D)
    return float(L), np.array([float(dN) * N, float(dD) * D])

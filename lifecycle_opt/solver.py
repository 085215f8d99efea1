"""solve(scenario) → Solution: two independent solvers, a polish, and a certificate.

1. **Phase I** (scipy): minimise the largest constraint violation. A positive optimum
   means no plan exists; :func:`_explain_infeasible` then relaxes each constraint in turn
   to find the smallest change of its setting that restores feasibility.
2. **cvxpy**: a geometric program (``gp=True``) when the law's reducible loss is a
   posynomial (Chinchilla and Kaplan forms, no repetition penalty), read with its dual
   values; under the repetition penalty, a convex program in (log N, log D) whose loss is
   replaced by supporting hyperplanes, refined until the gap closes.
3. **scipy** SLSQP on the same problem in (log N, log D), from the Phase I point: the
   independent check.
4. **Polish**: Newton's method on the optimality (KKT) conditions of the active set,
   started from the cvxpy plan, to machine precision; multipliers give the shadow prices.
5. **Certificate**: relative KKT residual, agreement of the two solvers with the polished
   plan, status. Nothing is returned without status "optimal".

The problem is convex in (log N, log D) (domain reference §4), so a KKT point is the
global optimum.
"""
from __future__ import annotations

__all__ = ["solve", "quick_plan", "caution_context", "caution_count", "KKT_TOL", "AGREEMENT_TOL"]

import contextlib
import io
import math
import warnings as _warnings

import numpy as np
from scipy.optimize import minimize

from .errors import Conflict, InfeasibleError, ScenarioError, SolverError
from .laws import DataConstrainedLaw, KaplanLaw
from .problem import BOX, Posy, Problem, loss_minus_target, build_problem
from .scenario import Scenario
from .solution import Baseline, Binding, Certificate, Solution
from .finance import HOURS_PER_MONTH
from .units import format_count, format_money, format_number

#: the relative KKT residual a plan must reach to be certified
KKT_TOL = 1e-9
#: the relative gap in N and D within which the two solvers are said to agree
AGREEMENT_TOL = 1e-6
#: ... or within which the KKT polish from each solver's answer lands on the same plan
POLISHED_AGREEMENT_TOL = 1e-9
_FEAS_TOL = 1e-9          # Phase I: a violation above this means infeasible
_ACTIVE_TOL = 1e-6        # a constraint this close to its bound starts in the active set


def solve(scenario: Scenario, extra_loss_laws: tuple = ()) -> Solution:
    """The certified lifecycle-optimal plan of ``scenario`` (with the target also met under
    each (index, law) of ``extra_loss_laws``, for robust plans).

    Raises InfeasibleError (with the conflicting constraints and how far each must move)
    or SolverError (the optimum could not be certified).

    >>> from lifecycle_opt import load_scenario
    >>> plan = solve(load_scenario("examples/research_model.toml"))
    >>> plan.certificate.status, bool(plan.certificate.kkt_residual < 1e-9)
    ('optimal', True)
    """
    problem = build_problem(scenario, extra_loss_laws)
    z0, violation = _phase_one(problem, problem.constraints)
    if violation > _FEAS_TOL:
        raise _explain_infeasible(scenario, problem)
    z_cvx, duals, method = _solve_cvxpy(problem, z0)
    z_sp = _solve_scipy(problem, z0)
    # the Newton polish from each solver's answer: the plan is the first that certifies
    # (cvxpy's, else scipy's, which may sit in the right active set when cvxpy's does not)
    polished = [_polish(problem, s) for s in ([z_cvx] if z_cvx is not None else []) + [z_sp]]
    z, nu, kkt = next((p for p in polished if p[2] <= KKT_TOL), min(polished, key=lambda p: p[2]))
    # an optimum off the search box is the input's doing (the box's bounds carry no
    # multipliers, so there the optimality conditions cannot be met)
    _check_box(scenario, z)
    _check_flat(scenario, problem, z)
    if kkt > KKT_TOL:
        _check_box(scenario, z_sp)
        raise SolverError(f"{scenario.name}: the optimality conditions could not be met to "
                          f"{KKT_TOL:g} (residual {kkt:.2e}); please report this scenario")
    starts = [z_sp] + ([z_cvx] if z_cvx is not None else [])
    agreement = max(float(np.max(np.abs(np.expm1(s - z)))) for s in starts)
    # Where the plan is ill-conditioned (a toy law, a target a hair above E, a tiny corpus)
    # the conic solver stops 1e-6–1e-3 away along the flat direction; the two answers
    # still agree when the polish from each reaches the same certified plan.
    polished_agreement = math.nan
    if len(polished) == 2 and max(p[2] for p in polished) <= KKT_TOL:
        polished_agreement = float(np.max(np.abs(np.expm1(polished[0][0] - polished[1][0]))))
        # two certified plans far apart: the loss is flat between them
        _check_flat(scenario, problem, z, apart=polished_agreement > AGREEMENT_TOL)
    agree = z_cvx is not None and (agreement <= AGREEMENT_TOL or polished_agreement <= POLISHED_AGREEMENT_TOL)
    certificate = Certificate(kkt_residual=float(kkt), methods_agree=bool(agree), agreement=float(agreement),
                              agreement_tol=AGREEMENT_TOL, status="optimal",
                              methods=(method, "scipy-slsqp", "newton-kkt"), polished_agreement=polished_agreement)
    return _solution(scenario, problem, z, nu, certificate)


def quick_plan(scenario: Scenario, z0=None) -> tuple[float, float, float] | None:
    """(N, D, objective) of ``scenario`` by scipy alone, uncertified: for the many solves
    of a distribution over bootstrap laws. None when no feasible plan was found."""
    problem = build_problem(scenario)
    z0 = _start_point(problem) if z0 is None else np.asarray(z0, float)
    z = _solve_scipy(problem, z0)
    if problem.constraints and max(c.value(z) for c in problem.constraints) > 1e-7:
        z, violation = _phase_one(problem, problem.constraints, z)
        if violation > _FEAS_TOL:
            return None
        z = _solve_scipy(problem, z)
        if max(c.value(z) for c in problem.constraints) > 1e-7:
            return None
    phi = problem.objective.evaluate(z)[0]
    return float(math.exp(z[0])), float(math.exp(z[1])), float(problem.objective.value_natural(phi))


# ------------------------------------------------------------------ Phase I
def _phase_one(problem: Problem, constraints, z_start=None):
    """(z, s): the point minimising the largest violation s = max h_i over the box."""
    z = _start_point(problem) if z_start is None else np.asarray(z_start, float)
    if not constraints:
        return z, -math.inf
    hs = [c.evaluate(z)[0] for c in constraints]
    v = np.array([z[0], z[1], max(hs) + 1.0])
    cons = [{"type": "ineq", "fun": (lambda v, c=c: v[2] - c.evaluate(v[:2])[0]),
             "jac": (lambda v, c=c: np.r_[-c.evaluate(v[:2])[1], 1.0])} for c in constraints]
    bounds = list(BOX) + [(-50.0, None)]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda v: v[2], v, jac=lambda v: np.array([0.0, 0.0, 1.0]), method="SLSQP",
                       bounds=bounds, constraints=cons, options={"ftol": 1e-14, "maxiter": 500})
    z = np.clip(res.x[:2], [b[0] for b in BOX], [b[1] for b in BOX])
    return z, max(c.evaluate(z)[0] for c in constraints)


def _start_point(problem: Problem) -> np.ndarray:
    """A sensible place to start: the compute-optimal plan of the target, else 1B / 20B."""
    z = np.array([math.log(1e9), math.log(2e10)])
    loss = next((c for c in problem.constraints if c.is_loss), None)
    if loss is not None:
        N, D = problem.law.compute_optimal_at_loss(loss.loss_target)
        if np.isfinite(N) and np.isfinite(D) and N > 0 and D > 0:
            z = np.array([math.log(float(N)), math.log(float(D))])
    return np.clip(z, [b[0] for b in BOX], [b[1] for b in BOX])


# ------------------------------------------------------------------ scipy
def _solve_scipy(problem: Problem, z0) -> np.ndarray:
    """SLSQP in (log N, log D): the independent path."""
    obj = problem.objective
    cons = [{"type": "ineq", "fun": (lambda z, c=c: -c.evaluate(z)[0]),
             "jac": (lambda z, c=c: -c.evaluate(z)[1])} for c in problem.constraints]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda z: obj.evaluate(z)[0], np.asarray(z0, float),
                       jac=lambda z: obj.evaluate(z)[1], method="SLSQP", bounds=list(BOX),
                       constraints=cons, options={"ftol": 1e-15, "maxiter": 1000})
    return np.asarray(res.x, float)


# ------------------------------------------------------------------ cvxpy
def _solve_cvxpy(problem: Problem, z0):
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


def _monomials(cp, N, D, terms, z0=(0.0, 0.0), scale=1.0):
    """Σ c·N^a·D^b with N = e^x0·n, D = e^y0·d in the scaled variables n, d."""
    out = []
    for c, a, b in terms:
        m = c * math.exp(a * z0[0] + b * z0[1]) * scale
        if a:
            m = m * N ** a
        if b:
            m = m * D ** b
        out.append(m)
    return cp.sum(cp.hstack(out)) if len(out) > 1 else out[0]


def _cvxpy_gp(cp, problem: Problem, z0):
    """The geometric program; its dual values are the elasticities ν.

    Variables are scaled around the Phase I point z0 (N = e^x0·n, D = e^y0·d) and the
    objective by its value there, so that the interior-point solver works with numbers
    near one: unscaled, log N ≈ 25 and log cost ≈ 57 cost it two digits of accuracy.
    """
    z0 = np.asarray(z0, float)
    N, D = cp.Variable(pos=True, name="n"), cp.Variable(pos=True, name="d")
    constraints = []
    for c in problem.constraints:
        if c.is_loss:
            level = c.law.posynomial_level(c.loss_target)
            constraints.append(_monomials(cp, N, D, c.law.posynomial().terms, z0, 1.0 / level) <= 1.0)
        else:
            constraints.append(_monomials(cp, N, D, c.posy.terms, z0) <= 1.0)
    (xl, xu), (yl, yu) = BOX
    constraints += [N <= math.exp(xu - z0[0]), N >= math.exp(xl - z0[0]),
                    D <= math.exp(yu - z0[1]), D >= math.exp(yl - z0[1])]
    obj = problem.objective
    terms = obj.posy.terms if obj.kind == "cost" else problem.law.posynomial().terms
    # (for a loss objective: the loss is increasing in the law's posynomial, minimise that)
    scale = 1.0 / Posy(terms).value(math.exp(z0[0]), math.exp(z0[1]))
    objective = _monomials(cp, N, D, terms, z0, scale)
    prob = cp.Problem(cp.Minimize(objective), constraints)
    _run(cp, prob, gp=True)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        return None, None, f"cvxpy-gp/CLARABEL ({prob.status})"
    duals = [float(con.dual_value) for con in constraints[:len(problem.constraints)]]
    z = z0 + np.array([math.log(N.value), math.log(D.value)])
    # the interior-point solution is accurate to ~1e-6 along the flat iso-loss direction;
    # a few curved-model steps (still cvxpy) bring it to ~1e-9
    zq = _cvxpy_quadratic_refine(cp, problem, z0, z)
    if zq is not None:
        return zq, duals, f"cvxpy-gp+quadratic/CLARABEL ({prob.status})"
    return z, duals, f"cvxpy-gp/CLARABEL ({prob.status})"


def _cvxpy_cuts(cp, problem: Problem, z0, max_cuts: int = 120):
    """Convex program in (x, y) = (log N, log D) with each penalised loss replaced by
    supporting hyperplanes (an outer approximation), refined until the gap closes.

    The variable is w = z − z0 (z0 the Phase I point) and the cost is measured relative to
    its value at z0, so the solver sees numbers near zero (see _cvxpy_gp). A robust plan
    has one loss constraint per law kept, each with its own set of cuts.
    """
    z0 = np.asarray(z0, float)
    w = cp.Variable(2, name="shift_from_start")

    def log_posy(posy, shift=0.0):
        logc = np.log([t[0] for t in posy.terms])
        V = np.array([[t[1], t[2]] for t in posy.terms])
        base = logc + V @ z0 - shift
        return cp.log_sum_exp(base + V @ w) if len(base) > 1 else base[0] + V[0] @ w

    cons = [log_posy(c.posy) <= 0 for c in problem.constraints if not c.is_loss]
    (xl, xu), (yl, yu) = BOX
    cons += [w[0] >= xl - z0[0], w[0] <= xu - z0[0], w[1] >= yl - z0[1], w[1] <= yu - z0[1]]
    obj = problem.objective
    loss_cons = [c for c in problem.constraints if c.is_loss]
    if obj.kind == "cost":
        objective = log_posy(obj.posy, shift=obj.evaluate(z0)[0])
        # (law, level) of each loss constraint: the target is a constant
        sets = [(c.law, c.loss_target) for c in loss_cons]
        t = None
    else:
        t = cp.Variable(name="loss_epigraph")
        objective = t
        sets = [(problem.law, None)]
    cut_sets = []
    for law, level in sets:
        G = cp.Parameter((max_cuts, 2))
        r = cp.Parameter(max_cuts)
        cons.append(G @ w <= r + (level if t is None else t))
        cut_sets.append({"law": law, "level": level, "G": G, "r": r, "count": 0,
                         "slopes": np.zeros((max_cuts, 2)), "offsets": np.full(max_cuts, 1e3)})
    prob = cp.Problem(cp.Minimize(objective), cons)

    def add_cut(cut, point):
        # L(p) + g·(z − p) ≤ t  ⇔  g·w ≤ t + g·(p − z0) − L(p)
        L, g = _loss_and_grad(cut["law"], point)
        k = cut["count"]
        cut["slopes"][k] = g
        cut["offsets"][k] = g @ (point - z0) - L
        cut["count"] = k + 1

    for cut in cut_sets:
        add_cut(cut, z0)
        for dz in ([1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]):
            add_cut(cut, z0 + dz)
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
        settled = previous is not None and float(np.max(np.abs(zk - previous))) < 1e-5
        # only a tight solve of the relaxation proves that a feasible point is optimal
        if all(g <= 1e-9 * lv for g, lv in zip(gaps, levels)) and settled and tight and status == "optimal":
            zq = _cvxpy_quadratic_refine(cp, problem, z0, zk)
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
                add_cut(cut, _boundary_point(cut["law"], z0, zk, lv))
            else:
                add_cut(cut, zk)
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
    u = cp.Variable(2, name="scaled_step")
    z = np.asarray(zk, float)
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
                    cons.append((L - c.loss_target) / scale + g @ u
                                + 0.5 * scale * cp.quad_form(u, cp.psd_wrap(H)) <= 0)
                continue
            logc = np.log([t[0] for t in c.posy.terms])
            V = np.array([[t[1], t[2]] for t in c.posy.terms])
            base = logc + V @ z
            cons.append(cp.log_sum_exp(base + scale * (V @ u)) <= 0 if len(base) > 1
                        else base[0] + scale * (V[0] @ u) <= 0)
        (xl, xu), (yl, yu) = BOX
        cons += [scale * u[0] >= xl - z[0], scale * u[0] <= xu - z[0],
                 scale * u[1] >= yl - z[1], scale * u[1] <= yu - z[1]]
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
        size = float(np.max(np.abs(step)))
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


# ------------------------------------------------------------------ polish
def _polish(problem: Problem, z_start):
    """Newton on the KKT system of the active set; returns (z, ν per constraint, residual)."""
    cons = problem.constraints
    z = np.asarray(z_start, float).copy()
    active = [i for i, c in enumerate(cons) if c.evaluate(z)[0] > -_ACTIVE_TOL]
    best = (z, np.zeros(len(cons)), math.inf, [])
    for _ in range(2 * len(cons) + 4):
        z, nu_a = _newton_kkt(problem, z, active)
        nu = np.zeros(len(cons))
        nu[active] = nu_a
        res = _kkt_residual(problem, z, nu)
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
            # singular and its least-squares answer meets neither (found by the fuzzer)
            active.append(max(violated, key=lambda i: cons[i].evaluate(z)[0]))
    z, nu, res, active = best
    if res > 1e-12 and active:
        z2, nu2 = _restore(problem, z, active)
        res2 = _kkt_residual(problem, z2, nu2)
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
        z = np.clip(z + np.linalg.lstsq(J, -F, rcond=None)[0], [b[0] for b in BOX], [b[1] for b in BOX])
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
        A = np.array(rows).reshape(k, 2)
        M = np.block([[K, A.T], [A, np.zeros((k, k))]])
        F = np.r_[F_top, F_bot]
        norm = float(np.max(np.abs(F)))
        if norm < 1e-15 or (norm >= prev and norm < 1e-11):
            break
        prev = norm
        step = np.linalg.lstsq(M, -F, rcond=None)[0]
        # keep inside the box and never jump wildly (log space: a factor e^2 at most)
        step[:2] = np.clip(step[:2], -2.0, 2.0)
        z = np.clip(z + step[:2], [b[0] for b in BOX], [b[1] for b in BOX])
        nu = nu + step[2:]
    return z, nu


def _kkt_residual(problem: Problem, z, nu) -> float:
    """Relative KKT residual: stationarity, primal and dual feasibility, complementarity."""
    _, g, _ = problem.objective.evaluate(z)
    lag = g.copy()
    scale = float(np.max(np.abs(g)))
    worst = 0.0
    for c, n in zip(problem.constraints, nu):
        h, gh, _ = c.evaluate(z)
        lag += n * gh
        scale = max(scale, float(np.max(np.abs(n * gh))))
        hn = h / c.loss_target if (c.is_loss and c.posy is None and c.law.posynomial() is None) else h
        worst = max(worst, hn, -n, abs(n * hn))
    return max(worst, float(np.max(np.abs(lag))) / max(scale, 1e-300))


def _check_flat(scenario: Scenario, problem: Problem, z, apart: bool = False) -> None:
    """A SolverError that says what to do when the loss objective is flat at the plan: a
    budget that buys more than the unique corpus can use under the repetition penalty
    leaves the loss constant to 1e-12 over a range of plans, none of them the optimum
    (the relative KKT residual cannot tell: it may pass at any of them). Flat means a
    gradient under 1e-12 nats, a plan 10 % smaller in N or in D that meets every limit and
    reaches the same loss to 1e-12 (with D pinned by the epochs the penalised loss stops
    falling with N: N′ saturates, eq. 15), or (``apart``) two certified plans far apart.
    The batch solver applies the same tests."""
    if problem.objective.kind != "loss":
        return
    loss, grad, _ = problem.objective.evaluate(z)

    def as_good(w) -> bool:
        """The plan w meets every limit and reaches the same loss to 1e-12."""
        return (problem.objective.evaluate(w)[0] - loss <= 1e-12 * loss
                and all(c.value(w) <= 1e-12 for c in problem.constraints))

    flat = apart or float(np.max(np.abs(grad))) < 1e-12 or as_good(z - (0.1, 0.0)) or as_good(z - (0.0, 0.1))
    if not flat:
        return
    corpus = (f"the {format_count(scenario.data.unique_tokens)} unique tokens"
              if scenario.data.unique_tokens else "the data")
    raise SolverError(
        f"{scenario.name}: the loss is flat at {loss:.4f} nats (plans far apart all reach it): "
        f"the budget buys more than {corpus} can use, so no single plan is the optimum; "
        f"minimise cost under a target instead ([objective] minimize = \"cost\", [target] "
        f"loss = {loss + 1e-4:.4f})")


def _check_box(scenario: Scenario, z) -> None:
    """A ScenarioError when the plan sits on the edge of the search box (1e3–1e16
    parameters, 1e3–1e19 tokens): the optimum lies beyond it, so the law's constants, the
    target or the bounds of the scenario are off, and the message says which side."""
    for value, (lo, hi), what in ((z[0], BOX[0], "parameters"), (z[1], BOX[1], "tokens")):
        found = f"found an optimum at {math.exp(value):.3g} {what}"
        span = f"{math.exp(lo):.0e}–{math.exp(hi):.0e} {what}"
        if value <= lo + 1e-9:
            raise ScenarioError("target.loss", f"a target that needs a plan within {span}",
                                source=scenario.source,
                                found_text=f"{found}, the smallest the planner covers: lower the "
                                           f"target or check the law's constants")
        if value >= hi - 1e-9:
            if scenario.objective == "loss":
                raise ScenarioError("budget", f"a budget or limits that keep the plan within {span}",
                                    source=scenario.source,
                                    found_text=f"{found}: the loss keeps falling; add a budget or a limit")
            raise ScenarioError("target.loss", f"a target reachable within {span}", source=scenario.source,
                                found_text=f"{found}: relax the target or check the law's constants")


# ------------------------------------------------------------------ the Solution
def _solution(scenario: Scenario, problem: Problem, z, nu, certificate) -> Solution:
    N, D = float(math.exp(z[0])), float(math.exp(z[1]))
    law = scenario.loss_law
    loss = float(law.loss(N, D))
    if isinstance(law, DataConstrainedLaw):
        N_eff, D_eff = float(law.effective_params(N, D)), float(law.effective_tokens(D))
    else:
        N_eff, D_eff = N, D
    costs = scenario.costs.breakdown(N, D)
    phi = problem.objective.evaluate(z)[0]
    value = problem.objective.value_natural(phi)
    dvalue = problem.objective.d_value_d_phi(phi)
    binding = tuple(
        Binding(c.name, c.label, c.key, c.knob, float(n), float(dvalue * n * c.d_h_d_knob(z)))
        for c, n in zip(problem.constraints, nu) if n > 1e-12)
    baseline = _baseline(scenario, problem, loss)
    return Solution(
        scenario_name=scenario.name, params=N, tokens=D, loss=loss, effective_params=N_eff,
        effective_tokens=D_eff, unique_tokens=scenario.data.unique_tokens, costs=costs,
        objective=scenario.objective, objective_unit=problem.objective.unit, objective_value=value,
        baseline=baseline, binding=binding, certificate=certificate, law_name=law.name,
        law_source=law.source, target_loss=scenario.target.loss if scenario.target else None,
        warnings=tuple(_warnings_for(scenario, N, D, costs, certificate)),
        assumptions=scenario.assumptions, cash_flow=_cash_flow(scenario, costs))


def _cash_flow(scenario: Scenario, costs):
    """The plan month by month, from its GPU-hours and today's prices (None without finance)."""
    if scenario.finance is None:
        return None
    t, i = scenario.training, scenario.inference
    return scenario.finance.cash_flow(costs.training_gpu_hours or 0.0, t.price_per_gpu_hour if t else None,
                                      costs.inference_gpu_hours or 0.0,
                                      i.price_per_gpu_hour if i else None)


def _baseline(scenario: Scenario, problem: Problem, loss: float) -> Baseline:
    N, D = scenario.law.compute_optimal_at_loss(loss)
    N, D = float(N), float(D)
    costs = scenario.costs.breakdown(N, D)
    if problem.objective.kind == "cost":
        value = problem.objective.posy.value(N, D)
    else:
        value = loss
    return Baseline(N, D, float(scenario.law.loss(N, D)), costs, value)


def caution_context(scenario: Scenario) -> dict:
    """The scenario facts the plan's warnings depend on, as plain numbers and flags (nan and
    False where absent), so that :func:`caution_count` can test many plans at once."""
    law, fitted, fin = scenario.law, scenario.law.fitted, scenario.finance
    nan = math.nan

    def limit(name):
        value = getattr(fitted, name, None) if fitted is not None else None
        return float(value) if value else nan
    return {"max_params": limit("max_params"), "min_params": limit("min_params"),
            "max_flops": limit("max_flops"), "max_tokens": limit("max_tokens"),
            "unique": nan if scenario.data.unique_tokens is None else float(scenario.data.unique_tokens),
            "penalty": bool(scenario.data.repetition_penalty),
            "penalty_off_law": bool(scenario.data.repetition_penalty and law.name != "muennighoff2023"),
            "kaplan": isinstance(law, KaplanLaw), "minimise_loss": scenario.objective == "loss",
            "max_days": nan if fin is None else fin.training_months * HOURS_PER_MONTH / 24 * 1.05}


def _caution_tests(c: dict, N, D, training_flops, inference_flops, training_days):
    """(condition, name) of every warning; scalars or arrays alike (nan compares False)."""
    epochs = D / c["unique"]
    days = np.nan if training_days is None else training_days
    return [
        (N > 1.5 * c["max_params"], "beyond_max_params"),
        (N < c["min_params"] / 1.5, "below_min_params"),
        (training_flops > 10 * c["max_flops"], "beyond_max_flops"),
        (D > 1.5 * c["max_tokens"], "beyond_max_tokens"),
        (epochs > 4, "epochs"),
        (np.logical_and(epochs > 1, np.logical_not(c["penalty"])), "repeated_without_penalty"),
        (c["penalty_off_law"], "penalty_law"),
        (c["kaplan"], "kaplan"),
        (np.logical_and(c["minimise_loss"], inference_flops > 0.5 * training_flops), "serving_ignored"),
        (days > c["max_days"], "training_too_long"),
    ]


def caution_count(c: dict, N, D, training_flops, inference_flops, training_days):
    """How many warnings each plan gets (arrays: one element per plan; the context's values
    may be arrays too). The solvers-disagree warning needs a certificate and is not counted."""
    total = 0
    for condition, _ in _caution_tests(c, N, D, training_flops, inference_flops, training_days):
        total = total + np.asarray(condition, dtype=int)
    return total


def _warnings_for(scenario: Scenario, N, D, costs, certificate) -> list[str]:
    c = caution_context(scenario)
    law, fitted = scenario.law, scenario.law.fitted
    U = scenario.data.unique_tokens
    epochs = D / U if U is not None else math.nan
    fin = scenario.finance
    messages = {
        "beyond_max_params": lambda: (
            f"extrapolation: {format_count(N)} parameters is beyond the largest model the law was "
            f"fitted on ({format_count(fitted.max_params)}); fit your own law on IsoFLOP runs before "
            f"committing a large budget"),
        "below_min_params": lambda: (
            f"extrapolation: {format_count(N)} parameters is below the smallest model the law was "
            f"fitted on ({format_count(fitted.min_params)})"),
        "beyond_max_flops": lambda: (
            f"extrapolation: {costs.training_flops:.3g} FLOP of training is "
            f"{costs.training_flops / fitted.max_flops:.0f}x the largest run the law was fitted on "
            f"({fitted.max_flops:.3g} FLOP)"),
        "beyond_max_tokens": lambda: (
            f"extrapolation: {format_count(D)} training tokens is beyond the longest run the law "
            f"was fitted on ({format_count(fitted.max_tokens)})"),
        "epochs": lambda: (
            f"{epochs:.1f} epochs over the unique corpus: past about 16 epochs extra repetitions "
            f"are worth little (Muennighoff et al. 2023)" if epochs > 16 else
            f"{epochs:.1f} epochs over the unique corpus: past about 4 epochs repeated data is "
            f"worth noticeably less than fresh data (Muennighoff et al. 2023)"),
        "repeated_without_penalty": lambda: (
            "data is repeated but data.repetition_penalty is off: the law treats repeated tokens "
            "as fresh, which overstates their value"),
        "penalty_law": lambda: (
            f"the repetition penalty (R_D*, R_N*) was fitted with the muennighoff2023 law; using it "
            f"with {law.name} is an extrapolation"),
        "kaplan": lambda: (
            "kaplan2020 counts non-embedding parameters on a different corpus and tokenizer: its "
            "losses and sizes are not comparable with the Chinchilla-form laws"),
        "serving_ignored": lambda: (
            f"this plan minimises loss for its budget and ignores serving cost, yet inference is "
            f"{costs.inference_flops / costs.training_flops:.1f}x the training compute: a smaller "
            f"model trained longer would serve cheaper (minimize = \"cost\")"),
        "training_too_long": lambda: (
            f"training takes {costs.training_days:.0f} days on {scenario.training.gpus} GPUs, longer "
            f"than finance.training_months = {fin.training_months}: the cash flow starts serving "
            f"too early"),
    }
    out = [messages[name]() for condition, name in
           _caution_tests(c, N, D, costs.training_flops, costs.inference_flops, costs.training_days)
           if condition]
    if not certificate.methods_agree:
        out.append(f"the two solvers differ from the polished plan by {certificate.agreement:.2e} "
                   f"(tolerance {certificate.agreement_tol:g}); the KKT certificate still holds")
    return out


# ------------------------------------------------------------------ infeasibility
def _explain_infeasible(scenario: Scenario, problem: Problem) -> InfeasibleError | ScenarioError:
    """For each constraint, the smallest change of its setting that alone restores a plan
    (a ScenarioError when the target is out of the planner's reach whatever the limits)."""
    conflicts = []
    cons = problem.constraints
    for i, c in enumerate(cons):
        others = [o for j, o in enumerate(cons) if j != i]
        z0, violation = _phase_one(problem, others)
        if violation > _FEAS_TOL:
            continue            # the others conflict among themselves: this one alone cannot help
        z = _minimise_constraint(c, others, z0)
        current, required = c.knob, c.knob_at(z)
        if c.name == "max_params":
            # a cap from serving memory or GPUs: say it in that setting's units
            per_unit = scenario.limits.max_params_per_unit
            current, required = current / per_unit, required / per_unit
        required = math.ceil(required * (1 - 1e-12)) if c.key == "limits.serving_gpus" else \
            _round_outward(required, c)
        conflicts.append(Conflict(c.name, c.key, current, required, _advice(c, current, required)))
    if conflicts:
        lines = "; ".join(f"{k.advice}" for k in conflicts)
        message = (f"{scenario.name}: no plan meets the target and every limit at once. "
                   f"Any one of these changes would make it feasible: {lines}")
    else:
        beyond = _target_beyond_box(scenario, problem)
        if beyond is not None:
            return beyond
        message = (f"{scenario.name}: no plan meets the target and every limit, and no single "
                   f"setting can fix it; relax several of: {', '.join(c.key for c in cons)}")
    return InfeasibleError(message, tuple(conflicts))


def _target_beyond_box(scenario: Scenario, problem: Problem) -> ScenarioError | None:
    """The error for a loss target that no plan in the search box reaches, limits or not
    (the loss falls with N and D, so the box's far corner gives the lowest loss there)."""
    losses = [c for c in problem.constraints if c.is_loss]
    if not losses or _phase_one(problem, losses)[1] <= _FEAS_TOL:
        return None
    (_, x_hi), (_, y_hi) = BOX
    lowest = max(float(c.law.loss(math.exp(x_hi), math.exp(y_hi))) for c in losses)
    return ScenarioError("target.loss", f"a loss the planner can reach within {math.exp(x_hi):.0e} "
                         f"parameters and {math.exp(y_hi):.0e} tokens: above {lowest:.6g}",
                         source=scenario.source, found_text=f"found {losses[0].loss_target:.6g}")


def _minimise_constraint(c, others, z0):
    cons = [{"type": "ineq", "fun": (lambda z, o=o: -o.evaluate(z)[0]),
             "jac": (lambda z, o=o: -o.evaluate(z)[1])} for o in others]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        res = minimize(lambda z: c.evaluate(z)[0], np.asarray(z0, float),
                       jac=lambda z: c.evaluate(z)[1], method="SLSQP", bounds=list(BOX),
                       constraints=cons, options={"ftol": 1e-15, "maxiter": 1000})
    return res.x


def _round_outward(value: float, c) -> float:
    """Round to 4 significant figures in the direction that relaxes the constraint."""
    if value == 0 or not math.isfinite(value):
        return value
    relax_up = c.is_loss or c.elasticity > 0
    exp = math.floor(math.log10(abs(value))) - 3
    scaled = value / 10 ** exp
    scaled = math.ceil(scaled * (1 + 1e-9)) if relax_up else math.floor(scaled * (1 - 1e-9))
    return scaled * 10 ** exp


def _format_knob(key: str, value: float) -> str:
    if "cost" in key:
        return format_money(value)
    if key.endswith("days"):
        return f"{value:.4g} days"
    if key == "limits.serving_memory":
        return f"{value / 1e9:.4g} GB"
    if key == "limits.serving_gpus":
        return f"{value:g} GPUs"
    if key == "limits.max_params":
        return format_count(value)
    return format_number(value)


def _advice(c, current: float, required: float) -> str:
    direction = "at least" if (c.is_loss or c.elasticity > 0) else "at most"
    if c.is_loss:
        return (f"target.loss {current:.6g} is below the lowest loss reachable within the other "
                f"limits, {required:.6g}: raise it to {direction} {required:.6g}")
    return f"{c.key}: {_format_knob(c.key, current)} → {direction} {_format_knob(c.key, required)}"

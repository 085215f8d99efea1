"""The exact solver: two independent solvers, a polish, and a certificate, for one scenario.

1. **Phase I** (numpy, :mod:`.barrier`): minimise the largest constraint violation. Where
   no strictly feasible point is found, scipy's Phase I (:mod:`.slsqp`) decides: a positive
   optimum means no plan exists; :func:`.infeasibility.explain_infeasible` then finds, for
   each constraint, the smallest change of its setting that restores a plan.
2. **cvxpy** (:mod:`.conic`): a geometric program (``gp=True``) when the law's reducible
   loss is a posynomial (Chinchilla and Kaplan forms, no repetition penalty), read with
   its dual values; under the repetition penalty, a convex program in (log N, log D)
   whose loss is replaced by supporting hyperplanes, refined until the gap closes.
3. **numpy** primal-dual barrier method (:mod:`.barrier`) on the same problem in the log
   variables, from the Phase I point: the independent check (scipy's SLSQP where the
   barrier method does not apply: no strictly feasible point, or no convergence).
4. **Polish** (:mod:`.certificate`): Newton's method on the optimality (KKT) conditions
   of the active set, from each solver's answer, to machine precision; the multipliers
   give the shadow prices.
5. **Certificate**: relative KKT residual, agreement of the two solvers, status. Nothing
   is returned without status "optimal".

The problem is convex in (log N, log D) (docs/model.md §4), so a KKT point is the
global optimum. The answer is an :class:`ExactPlan` of numbers; the plan stage turns
it into a :class:`~lifecycle_opt.plan.solution.Solution`.
"""
from __future__ import annotations

__all__ = ["ExactPlan", "solve_exact", "quick_plan", "SOLVERS"]

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InfeasibleError, ScenarioError, SolverError
from ..model.units import format_count
from ..scenario.schema import Scenario
from .batch import solve_batch
from .batch_data import OPTIMAL, batch_from_problems
from .boundary import BatchLaw
from .certificate import (ACTIVE_TOL, AGREEMENT_TOL, KKT_TOL, POLISHED_AGREEMENT_TOL, Binding, Certificate,
                          polish)
from .checks import box_sides, flat_loss
from .conic import solve_cvxpy
from .infeasibility import explain_infeasible
from ..problem.formulation import BOX, CELL_PINS, SERVING_BOX, Problem, build_problem, plane_problem, serving_constraints
from ..problem.serving_points import cell_price
from .batch_serving import solve_serving_batch
from .serving_forms import forms_of, stack_forms
from .slsqp import FEAS_TOL, phase_one, solve_scipy, start_point
from .barrier import BARRIER_METHOD, phase_one_ipm, solve_barrier


@dataclass(frozen=True)
class ExactPlan:
    """The certified optimum of one problem, in numbers.

    params : N [parameters]; tokens : D [tokens]
    objective_value : the optimal objective in ``problem.objective.unit`` (dollars, FLOP
        or nats)
    binding : the active constraints with their multipliers and shadow prices
    certificate : the evidence (KKT residual, solver agreement, status)
    problem : the problem that was solved (its objective prices the baseline)
    serving : (B, G, t) of the relaxed serving point the solver found under the roofline
        serving model (batch, replica GPUs, decode step [s]), else ()
    """

    params: float
    tokens: float
    objective_value: float
    binding: tuple[Binding, ...]
    certificate: Certificate
    problem: Problem
    serving: tuple = ()


#: which solver gives the first of the two opinions: "auto" (the numpy batch solver where
#: it covers the problem, else cvxpy) or "cvxpy" (always)
SOLVERS = ("auto", "cvxpy")


def solve_exact(scenario: Scenario, extra_loss_laws: tuple = (), solver: str = "auto",
                explain: bool = True) -> ExactPlan:
    """The certified optimum of ``scenario`` (with the target also met under each
    (index, law) of ``extra_loss_laws``, for robust plans).

    Two independent solvers answer: first the numpy batch solver (``solver="auto"``, where
    it covers the problem: no cvxpy import, a second or so saved) or cvxpy (``"cvxpy"``, and
    wherever the batch solver cannot answer); then the numpy barrier method (scipy's SLSQP
    where it does not apply).

    Raises InfeasibleError (with the conflicting constraints and how far each must move;
    ``explain`` False: without them, for one replica size among several) or SolverError
    (the optimum could not be certified).

    >>> from lifecycle_opt import load_scenario
    >>> plan = solve_exact(load_scenario("examples/research_model.toml"))
    >>> plan.certificate.status, bool(plan.certificate.kkt_residual < 1e-9)
    ('optimal', True)
    """
    if solver not in SOLVERS:
        raise ScenarioError("solver", f"one of {', '.join(SOLVERS)}", solver, source=scenario.source)
    if _cells(scenario) is not None:
        return _best_cell(scenario, extra_loss_laws, solver)
    problem = build_problem(scenario, extra_loss_laws)
    z0, _, strict = phase_one_ipm(problem, start_point(problem))
    if not strict:                  # infeasible, or no interior: scipy's Phase I decides
        z0, violation = phase_one(problem, problem.constraints)
        if violation > FEAS_TOL:
            if not explain:                # (one replica size of several: explained if none serves)
                raise InfeasibleError(f"{scenario.name}: infeasible", ())
            raise explain_infeasible(scenario, problem)
    z_cvx, duals, method = _batch_opinion(problem) if solver == "auto" else (None, None, "")
    if z_cvx is None:
        z_cvx, duals, method = solve_cvxpy(problem, z0)
    z_sp, second = (solve_barrier(problem, z0) if strict else None), BARRIER_METHOD
    if z_sp is None:                # the barrier method does not apply: SLSQP
        z_sp, second = solve_scipy(problem, z0), "scipy-slsqp"
    # the Newton polish from each solver's answer: the plan is the first that certifies
    # (cvxpy's, else scipy's, which may sit in the right active set when cvxpy's does not)
    polished = [polish(problem, s) for s in ([z_cvx] if z_cvx is not None else []) + [z_sp]]
    z, nu, kkt = next((p for p in polished if p[2] <= KKT_TOL), min(polished, key=lambda p: p[2]))
    # an optimum off the search box is the input's doing (the box's bounds carry no
    # multipliers, so there the optimality conditions cannot be met)
    _check_box(scenario, z)
    _check_flat(scenario, problem, z)
    if kkt > KKT_TOL:
        _check_box(scenario, z_sp)
        _check_batch_bounded(scenario, problem, z)
        raise SolverError(f"{scenario.name}: the optimality conditions could not be met to "
                          f"{KKT_TOL:g} (residual {kkt:.2e}); please report this scenario")
    starts = [z_sp] + ([z_cvx] if z_cvx is not None else [])
    # agreement in N and D: under the roofline serving model the batch and the replica
    # size may be tied along a flat direction (a compute-bound batch costs the same at
    # any size), which the plan stage settles by rule (docs/model.md §8)
    agreement = max(float(np.max(np.abs(np.expm1(s[:2] - z[:2])))) for s in starts)
    # Where the plan is ill-conditioned (a toy law, a target a hair above E, a tiny corpus)
    # the conic solver stops 1e-6–1e-3 away along the flat direction; the two answers
    # still agree when the polish from each reaches the same certified plan.
    polished_agreement = math.nan
    if len(polished) == 2 and max(p[2] for p in polished) <= KKT_TOL:
        polished_agreement = float(np.max(np.abs(np.expm1(polished[0][0][:2] - polished[1][0][:2]))))
        # two certified plans far apart: the loss is flat between them
        _check_flat(scenario, problem, z, apart=polished_agreement > AGREEMENT_TOL)
    agree = z_cvx is not None and (agreement <= AGREEMENT_TOL or polished_agreement <= POLISHED_AGREEMENT_TOL)
    if z_cvx is not None and not agree:
        # two answers that neither agree nor polish to one plan: no plan is certified,
        # whatever the KKT residual of one of them says
        raise SolverError(f"{scenario.name}: the two solvers ({method}, {second}) reach plans "
                          f"{agreement:.1e} apart that do not polish to one: no plan is certified; please "
                          f"report this scenario")
    certificate = Certificate(kkt_residual=float(kkt), methods_agree=bool(agree), agreement=float(agreement),
                              agreement_tol=AGREEMENT_TOL, status="optimal",
                              methods=(method, second, "newton-kkt"), polished_agreement=polished_agreement)
    return _exact_plan(problem, z, nu, certificate)


def _cells(scenario: Scenario) -> list | None:
    """The one-cell rooflines of a scenario whose serving has several (replica sizes, a
    mixture's batch buckets), else None."""
    r = scenario.serving
    if r is None or (len(r.replica_gpus) == 1 and (r.moe.is_dense or r.batch_bucket is not None)):
        return None
    return r.cells()


def _best_cell(scenario: Scenario, extra_loss_laws: tuple, solver: str) -> ExactPlan:
    """The best of the certified optima of each cell: each allowed replica size (docs/model.md
    §8: the links between a replica's GPUs cost what its size makes them cost, so each size
    is its own geometric program) and, for a mixture of experts, each batch bucket (the
    experts a step reads, docs/model.md §10); the plan is the cheapest, or the one of least
    loss.

    Where the batch solver of serving plans covers the scenario, it prices every cell's
    optimum first (each certified by its own optimality residual); the cheapest cell is
    then solved and certified here, and the cells the batch proved dearer (or, a mixture's
    buckets, without a plan) are not solved again. With N pinned by an exact architecture
    the cells differ only in the serving of that N: they are priced by it. When no cell
    admits a plan, the explanation of the largest size (a mixture's first bucket: every
    serving limit tightens with the batch and the experts read, so it admits a plan if any
    bucket does) is raised: its advice includes a larger replica."""
    r = scenario.serving
    cells, sizes = r.cells(), sorted(r.replica_gpus)
    priced, hopeless = _cell_prices(scenario, cells) if not extra_loss_laws else ({}, set())
    plans, least = [], math.inf
    for i in sorted(range(len(cells)), key=lambda i: priced.get(i, -math.inf)):
        if plans and (i in hopeless or (i in priced and priced[i] > least * (1 + 1e-9))):
            continue                      # proven dearer (or without a plan) by its price
        try:
            plans.append(solve_exact(replace(scenario, serving=cells[i]), extra_loss_laws, solver, explain=False))
            least = min(least, priced.get(i, math.inf))
        except InfeasibleError:
            pass
    if not plans:
        # (a mixture's first bucket, the fewest sequences and experts: feasible if any is)
        solve_exact(replace(scenario, serving=r.at_cell(sizes[-1], cells[0].batch_bucket)), extra_loss_laws, solver)
    # ties (equal to the last bits) go to the smaller replica
    best = min(plans, key=lambda p: p.objective_value * (1 + 1e-12 * p.problem.constraint("max_replica_gpus").setting))
    # the cell is pinned in each problem: its pins bind by construction. "No larger" is a
    # limit of the scenario only at the largest size allowed; "no smaller" never is (the
    # smaller sizes were priced), nor is a bucket, so they are not reported as binding
    largest = best.problem.constraint("max_replica_gpus").setting >= max(sizes)
    kept = tuple(b for b in best.binding if b.name not in CELL_PINS or (b.name == "max_replica_gpus" and largest))
    return replace(best, binding=kept)



def _cell_prices(scenario: Scenario, cells) -> tuple[dict, set]:
    """({cell index: its price}, {cell indices without a plan}): the certified optimum of
    each cell the batch solver of serving plans settles (solvers/batch_serving.py), or,
    with N pinned by an exact mixture, the GPU-seconds of a generated token at its cheapest
    point in the cell (the rest of the cost is the same in every cell); empty where neither
    covers the scenario."""
    got = plane_problem(scenario)
    if got is None:
        return _pinned_prices(scenario, cells)
    plane, k = got
    batch = batch_from_problems([plane])
    if bool(batch.unsupported[0]):
        return {}, set()
    out, none = {}, set()
    for i, cell in enumerate(cells):
        form = forms_of(serving_constraints(cell), float(cell.size))
        if form is None:
            return {}, set()
        solved = solve_serving_batch(batch, [stack_forms([form], float(cell.size))], np.array([k]))
        if int(solved.result.status[0]) == OPTIMAL:
            out[i] = float(solved.result.objective[0])
        elif cell.batch_bucket is not None:
            none.add(i)
    return out, none


def _pinned_prices(scenario: Scenario, cells) -> tuple[dict, set]:
    """The cells of a mixture whose N an exact architecture pins, priced by the GPU-seconds
    of a generated token at their cheapest point (relaxed batch), when the cost is the
    plane's plus k·G·t/B with k > 0 (the plane_problem of the same scenario with N free)."""
    r = scenario.serving
    if r.architecture is None or r.moe.is_dense:
        return {}, set()
    got = plane_problem(replace(scenario, serving=r.free()))
    if got is None or not got[1] > 0:
        return {}, set()
    N = r.architecture.active_params
    out, none = {}, set()
    for i, cell in enumerate(cells):
        price = cell_price(cell, N)
        if price is None:
            none.add(i)
        else:
            out[i] = price
    return out, none


def _batch_opinion(problem: Problem):
    """(z, None, "numpy-batch") from the batch solver when it covers ``problem`` and finds
    its optimum, else (None, None, "") (the serving variables, several loss laws, a plan
    on the box's edge: cvxpy answers instead)."""
    if problem.dim != 2 or sum(c.is_loss for c in problem.constraints) > 1:
        return None, None, ""
    batch = batch_from_problems([problem])
    if bool(batch.unsupported[0]):
        return None, None, ""
    result = solve_batch(batch)
    if int(result.status[0]) != OPTIMAL:
        return None, None, ""
    return np.log([float(result.params[0]), float(result.tokens[0])]), None, "numpy-batch"


def quick_plan(scenario: Scenario, z0=None) -> tuple[float, float, float] | None:
    """(N, D, objective) of ``scenario`` by scipy alone, uncertified: for the many solves
    of a distribution over bootstrap laws. None when no feasible plan was found."""
    if _cells(scenario) is not None:
        found = [quick_plan(replace(scenario, serving=cell), z0) for cell in _cells(scenario)]
        found = [f for f in found if f is not None]
        return min(found, key=lambda f: f[2]) if found else None
    problem = build_problem(scenario)
    start = start_point(problem)
    # a start in (log N, log D) alone takes the serving variables' start (roofline model)
    z0 = start if z0 is None else np.r_[np.asarray(z0, float), start[len(z0):]]
    z = solve_scipy(problem, z0)
    if problem.constraints and max(c.value(z) for c in problem.constraints) > 1e-7:
        z, violation = phase_one(problem, problem.constraints, z)
        if violation > FEAS_TOL:
            return None
        z = solve_scipy(problem, z)
        if max(c.value(z) for c in problem.constraints) > 1e-7:
            return None
    phi = problem.objective.evaluate(z)[0]
    return float(math.exp(z[0])), float(math.exp(z[1])), float(problem.objective.value_natural(phi))


def _check_flat(scenario: Scenario, problem: Problem, z, apart: bool = False) -> None:
    """A SolverError that says what to do when the loss objective is flat at the plan
    (:func:`.checks.flat_loss`, the test the batch solver applies too; the relative KKT
    residual cannot tell, it may pass at any of the plans), or when (``apart``) two
    certified plans lie far apart."""
    if problem.objective.kind != "loss":
        return
    # the loss depends on N and D alone: the test looks at (x, y), the serving variables
    # of the roofline model aside (issue: the check was skipped for serving problems, which
    # then reported a flat plan as optimal)
    loss, grad, _ = problem.objective.evaluate(z)
    batch = batch_from_problems([problem])
    law = BatchLaw(batch, penalty=bool(np.isfinite(batch.unique[0])))
    x, y = np.array([z[0]]), np.array([z[1]])
    if not (apart or bool(flat_loss(law, x, y, np.arange(1), np.asarray(grad)[None, :2])[0])):
        return
    why = (f"the budget buys more than the {format_count(scenario.data.unique_tokens)} unique tokens can use"
           if scenario.data.unique_tokens else
           f"the budget is so large that the loss sits at its floor E = {scenario.law.irreducible_loss:.4g} "
           f"to the last digit")
    raise SolverError(
        f"{scenario.name}: the loss is flat at {loss:.4f} nats (plans far apart all reach it): "
        f"{why}, so no single plan is the optimum; "
        f"minimise cost under a target instead ([objective] minimize = \"cost\", [target] "
        f"loss = {loss + 1e-4:.4f})")


def _check_box(scenario: Scenario, z) -> None:
    """A ScenarioError when the plan sits on the edge of the search box (1e3–1e16
    parameters, 1e3–1e19 tokens; :func:`.checks.box_sides`): the optimum lies beyond it,
    so the law's constants, the target or the bounds of the scenario are off, and the
    message says which side."""
    sides = {k: bool(v[0]) for k, v in box_sides(np.array([z[0]]), np.array([z[1]])).items()}
    for value, (lo, hi), what, low, high in ((z[0], BOX[0], "parameters", "x_low", "x_high"),
                                             (z[1], BOX[1], "tokens", "y_low", "y_high")):
        found = f"found an optimum at {math.exp(value):.3g} {what}"
        span = f"{math.exp(lo):.0e}–{math.exp(hi):.0e} {what}"
        if sides[low]:
            raise ScenarioError("target.loss", f"a target that needs a plan within {span}",
                                source=scenario.source,
                                found_text=f"{found}, the smallest the planner covers: lower the "
                                           f"target or check the law's constants")
        if sides[high]:
            if scenario.objective == "loss":
                raise ScenarioError("budget", f"a budget or limits that keep the plan within {span}",
                                    source=scenario.source,
                                    found_text=f"{found}: the loss keeps falling; add a budget or a limit")
            raise ScenarioError("target.loss", f"a target reachable within {span}", source=scenario.source,
                                found_text=f"{found}: relax the target or check the law's constants")
    _check_serving_box(scenario, z)


def _unbounded_batch(scenario: Scenario, B: float) -> ScenarioError:
    """The error of a serving point whose batch nothing bounds: the serving cost keeps
    falling as the batch grows, with no latency target, batch cap or full memory to stop it."""
    b_hi = SERVING_BOX[0][1]
    return ScenarioError("serving.max_batch", f"a cap on the sequences a replica batches: nothing else bounds the "
                         f"batch here (the KV cache of a sequence of {scenario.serving.max_context_tokens:g} tokens "
                         f"is too small to fill the memory, and no latency target holds it), and the planner covers "
                         f"at most {math.exp(b_hi):.0e}", source=scenario.source,
                         found_text=f"found an optimum at a batch of {B:.3g} sequences per replica")


#: the serving constraints that can stop the batch from growing
_BATCH_BOUNDS = ("memory_capacity", "max_batch", "tpot_target", "ttft_target")


def _check_batch_bounded(scenario: Scenario, problem: Problem, z) -> None:
    """Where the optimality conditions were not met under the roofline model: the batch
    grows towards the box's 1e8 sequences without a constraint that bounds it (each step
    saves less, so the solvers stop short of the edge at different batches, with a
    residual of 1e-7 or so): the same input error as on the edge."""
    if len(z) < 5:
        return
    if not any(c.name in _BATCH_BOUNDS and c.value(z) > -ACTIVE_TOL for c in problem.constraints):
        raise _unbounded_batch(scenario, math.exp(z[2]))


#: how close to a side of the serving variables' box a plan is on it [log units]: a solver
#: stops a few 1e-7 short of a bound that carries no multiplier
_SERVING_EDGE = 1e-5


def _check_serving_box(scenario: Scenario, z) -> None:
    """A ScenarioError when the roofline serving point sits on the edge of its search box
    (SERVING_BOX): the batch grows without bound where nothing caps it (a KV cache of a
    few tokens leaves the memory no bound: set serving.max_batch), or a model too small for
    the planner's range decodes in under a nanosecond. The KKT conditions cannot hold
    there (the box carries no multipliers), and "please report" would blame us."""
    if len(z) < 5:
        return
    (b_lo, b_hi), _, (t_lo, t_hi) = SERVING_BOX
    B, t = math.exp(z[2]), math.exp(z[4])
    if z[2] >= b_hi - _SERVING_EDGE:
        raise _unbounded_batch(scenario, B)
    if z[4] <= t_lo + _SERVING_EDGE or z[4] >= t_hi - _SERVING_EDGE:
        raise ScenarioError("target.loss", f"a target whose plan decodes a token in {math.exp(t_lo):.0e}–"
                            f"{math.exp(t_hi):.0e} s (the roofline model's range)", source=scenario.source,
                            found_text=f"found an optimum whose decode step takes {t:.3g} s: check the target, "
                                       f"the law's constants and the [serving] settings")


def _exact_plan(problem: Problem, z, nu, certificate: Certificate) -> ExactPlan:
    """The polished point as numbers: N, D, the objective, and the binding constraints with
    their shadow prices (objective units per unit of the setting, from
    :meth:`~lifecycle_opt.problem.constraints.Constraint.shadow_price`)."""
    phi = problem.objective.evaluate(z)[0]
    dvalue = problem.objective.d_value_d_phi(phi)
    binding = tuple(
        Binding(c.name, c.label, c.key, c.setting, c.unit, float(n), float(c.shadow_price(n, dvalue, z)))
        for c, n in zip(problem.constraints, nu) if n > 1e-12)
    return ExactPlan(float(math.exp(z[0])), float(math.exp(z[1])),
                     float(problem.objective.value_natural(phi)), binding, certificate, problem,
                     tuple(float(math.exp(v)) for v in z[2:]))

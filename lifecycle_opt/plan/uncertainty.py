"""Plans under an uncertain law: the distribution of the optimal plan over bootstrap laws,
and robust plans that reach the target under a chosen share of them.

A scenario whose ``[law]`` names ``samples`` (bootstrap laws written by ``lifeopt fit
--bootstrap N --samples FILE``) gets, on top of its certified plan:

* the **distribution** of the optimal plan: the scenario solved again under each of
  ``robust.distribution_samples`` laws spread evenly through the file (uncertified scipy
  solves), summarised by its 5 %, 50 % and 95 % quantiles;
* with ``[robust] probability = p``, a **robust plan**: the cheapest plan that meets the
  target under the point-estimate law *and* under every bootstrap law it keeps, keeping
  the ⌈p·S⌉ laws that are easiest at the plan. Each law is one more convex loss
  constraint, so the plan is still a certified global optimum of a convex problem. The
  laws are added a few at a time (the most violated first) until every kept law holds;
  which (1 − p)·S laws to give up is chosen at the plan, a heuristic — the share it
  reaches is measured, never assumed. Because the point-estimate constraint stays, a
  robust plan never costs less than the point-estimate plan.
"""
from __future__ import annotations

__all__ = ["with_uncertainty", "plan_distribution", "solve_robust"]

import math
from dataclasses import replace

import numpy as np

from ..errors import ScenarioError, SolverError
from ..scenario.schema import Scenario
from .solution import Solution, Uncertainty
from ..solvers.exact import quick_plan
from .certified import certified_plan

_LOSS_TOL = 1e-9          # relative: a law "reaches the target" within this
_MAX_ROUNDS = 60


def with_uncertainty(scenario: Scenario, solver: str = "auto") -> Solution:
    """The plan of a scenario whose law has bootstrap ``samples``: certified, robust when
    ``[robust] probability`` asks, with the distribution of the optimum under the samples."""
    robust = scenario.robust
    point = certified_plan(scenario, solver=solver)
    if robust is not None and robust.probability is not None:
        result, working = solve_robust(scenario, robust.probability, point, solver)
    else:
        result, working = point, 0
    quantiles, used, infeasible = plan_distribution(scenario, point)
    achieved = float(np.mean(_losses(scenario, result.params, result.tokens)
                             <= scenario.target.loss * (1 + _LOSS_TOL))) if scenario.target else float("nan")
    return replace(result, uncertainty=Uncertainty(
        samples=len(scenario.law_samples), quantiles=quantiles, distribution_samples=used,
        infeasible_samples=infeasible, probability=robust.probability if robust else None,
        achieved=achieved, point_params=point.params, point_tokens=point.tokens,
        point_objective=point.objective_value, working_laws=working))


def _loss_laws(scenario: Scenario):
    """The bootstrap laws as the target is met under them (repetition penalty, quantisation)."""
    return [scenario.served(law) for law in scenario.law_samples]


def _losses(scenario: Scenario, N: float, D: float) -> np.ndarray:
    return np.array([float(law.loss(N, D)) for law in _loss_laws(scenario)])


def solve_robust(scenario: Scenario, probability: float, point: Solution | None = None,
                 solver: str = "auto"):
    """(Solution, number of bootstrap laws held as constraints) — see the module docstring."""
    laws = _loss_laws(scenario)
    target = scenario.target.loss
    keep = math.ceil(probability * len(laws) - 1e-9)
    sol = point or certified_plan(scenario, solver=solver)
    working: dict[int, object] = {}
    for _ in range(_MAX_ROUNDS):
        losses = _losses(scenario, sol.params, sol.tokens)
        kept = np.argsort(losses, kind="stable")[:keep]
        violated = [int(i) for i in kept if losses[i] > target * (1 + _LOSS_TOL)]
        if not violated:
            return sol, len(working)
        # the most violated few join the working set
        for i in sorted(violated, key=lambda i: -losses[i])[:8]:
            working[i] = laws[i]
        sol = certified_plan(scenario, tuple(sorted(working.items())), solver)
    raise SolverError(f"{scenario.name}: the robust plan did not settle after {_MAX_ROUNDS} rounds "
                      f"({len(working)} bootstrap laws held); please report this scenario")


def plan_distribution(scenario: Scenario, point: Solution):
    """Quantiles (5, 50, 95 %) of the optimal plan under bootstrap laws spread evenly
    through the samples; (quantiles, laws used, laws without a feasible plan)."""
    laws = scenario.law_samples
    count = min(scenario.robust.distribution_samples if scenario.robust else 200, len(laws))
    picks = np.unique(np.linspace(0, len(laws) - 1, count).round().astype(int))
    z0 = (math.log(point.params), math.log(point.tokens))
    rows, infeasible = [], 0
    for i in picks:
        try:
            got = quick_plan(replace(scenario, law=laws[i], law_samples=(), robust=None), z0)
        except ScenarioError:                       # e.g. the target is below this law's E
            got = None
        if got is None:
            infeasible += 1
            continue
        N, D, value = got
        rows.append((N, D, D / N, value))
    if not rows:
        return {}, len(picks), infeasible
    a = np.array(rows)
    q = np.quantile(a, [0.05, 0.5, 0.95], axis=0)
    quantiles = {name: tuple(float(v) for v in q[:, k])
                 for k, name in enumerate(("params", "tokens", "tokens_per_param", "objective"))}
    return quantiles, len(picks), infeasible

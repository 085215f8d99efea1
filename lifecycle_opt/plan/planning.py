"""The one planning entry point: ``solve(scenario) -> Solution``.

Every way of asking for a plan goes through :func:`solve`: the Python API
(``lifecycle_opt.solve``), ``lifeopt solve``, ``compare`` and ``plot``, and the points a
sweep sends to the exact path. A scenario whose law has bootstrap samples gets its plan
under the law's uncertainty (and a robust plan when ``[robust] probability`` is set);
any other gets the certified plan of the exact solver.
"""
from __future__ import annotations

__all__ = ["solve"]

from dataclasses import replace

from ..errors import InfeasibleError, ScenarioError, SolverError
from ..scenario.reader import ScenarioLike, as_scenario
from ..scenario.schema import Scenario
from .certified import certified_plan
from .choices import Alternative, choice_variants
from .solution import Solution
from .uncertainty import with_uncertainty


def solve(scenario: ScenarioLike, solver: str = "auto") -> Solution:
    """The certified lifecycle-optimal plan of ``scenario``: a Scenario, the path of a
    scenario file, or a dict of its keys.

    ``solver`` chooses the first of the two independent solvers behind the certificate
    (the other is scipy's SLSQP): "auto" — the numpy batch solver where it covers the
    scenario, else cvxpy — or "cvxpy". The plan is the same; the certificate names them.

    Raises InfeasibleError (which settings conflict and how far each must move),
    ScenarioError (the plan lies outside what the planner covers) or SolverError (the
    optimum could not be certified, or a loss objective is flat).

    >>> from lifecycle_opt import load_scenario
    >>> plan = solve(load_scenario("examples/small_corpus.toml"))
    >>> plan.certificate.status, plan.uncertainty is None
    ('optimal', True)
    >>> solve("examples/small_corpus.toml").params == plan.params
    True
    """
    scenario = as_scenario(scenario)
    if scenario.choices:
        return _best_choice(scenario, solver)
    return _solve_one(scenario, solver)


def _solve_one(scenario: Scenario, solver: str) -> Solution:
    if scenario.law_samples:
        return with_uncertainty(scenario, solver)
    return certified_plan(scenario, solver=solver)


def _best_choice(scenario: Scenario, solver: str) -> Solution:
    """The best of the plans of each allowed combination of the scenario's discrete choices
    (the least objective: dollars, FLOP or loss), with every combination's objective
    beside it (:mod:`.choices`)."""
    plans, out = [], []
    for v in choice_variants(scenario):
        try:
            sol = _solve_one(v.scenario, solver)
        except (InfeasibleError, SolverError, ScenarioError) as exc:
            out.append(Alternative(v.settings, None, allowed=v.allowed, note=str(exc)))
            continue
        plans.append((v, sol))
        out.append(Alternative(v.settings, sol.objective_value, allowed=v.allowed, params=sol.params,
                               total_params=sol.row.get("total_params")))
    allowed = [(v, sol) for v, sol in plans if v.allowed]
    if not allowed:
        reasons = "; ".join(f"{a.label}: {a.note}" for a in out if a.allowed)
        raise InfeasibleError(f"{scenario.name}: no allowed choice gives a plan: {reasons}", ())
    best, sol = min(allowed, key=lambda p: p[1].objective_value)
    alternatives = tuple(replace(a, chosen=a.settings == best.settings) for a in out)
    return replace(sol, alternatives=alternatives)

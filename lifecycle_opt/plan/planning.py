"""The one planning entry point: ``solve(scenario) -> Solution``.

Every way of asking for a plan goes through :func:`solve`: the Python API
(``lifecycle_opt.solve``), ``lifeopt solve``, ``compare`` and ``plot``, and the points a
sweep sends to the exact path. A scenario whose law has bootstrap samples gets its plan
under the law's uncertainty (and a robust plan when ``[robust] probability`` is set);
any other gets the certified plan of the exact solver.
"""
from __future__ import annotations

__all__ = ["solve"]

from ..scenario.schema import Scenario
from .certified import certified_plan
from .solution import Solution
from .uncertainty import with_uncertainty


def solve(scenario: Scenario, solver: str = "auto") -> Solution:
    """The certified lifecycle-optimal plan of ``scenario``.

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
    """
    if scenario.law_samples:
        return with_uncertainty(scenario, solver)
    return certified_plan(scenario, solver=solver)

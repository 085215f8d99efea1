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
    """Solve a scenario for its certified lifecycle-optimal plan.

    Parameters
    ----------
    scenario : Scenario, str, pathlib.Path or dict
        The planning question: a :class:`~lifecycle_opt.scenario.schema.Scenario`, the path
        of a scenario file (TOML), or a dict of the file's keys (quantities in base units
        or as human strings such as "70B", "1.4T", "$2.1M").
    solver : {"auto", "cvxpy"}, default "auto"
        The first of the two independent solvers behind the certificate (the second is
        always scipy's SLSQP): "auto" takes the numpy batch solver where it covers the
        scenario and cvxpy where it does not; "cvxpy" forces cvxpy. The plan is the same;
        the certificate names both.

    Returns
    -------
    Solution
        The plan (N [parameters], D [tokens]), its loss [nats/token], its costs [FLOP,
        GPU-hours, days, $], the compute-optimal baseline of equal loss, the binding
        limits with shadow prices in each setting's unit, and the certificate (relative
        KKT residual under 1e-9). With bootstrap laws the plan carries its
        ``uncertainty``; with discrete choices (``[moe] experts``, ``[quantisation]
        dtypes``) the cheapest allowed one, the others' objectives in ``alternatives``.

    Raises
    ------
    ScenarioError
        The scenario is malformed, or the plan lies outside what the planner covers.
    InfeasibleError
        No plan meets the limits; the message names the conflicting settings and how far
        each must move.
    SolverError
        The optimum could not be certified, or a loss objective is flat.

    See Also
    --------
    lifecycle_opt.plan.evaluation.evaluate : a given plan's costs, broken limits and regret.

    Notes
    -----
    The problem is convex in (log N, log D) (a geometric program without the repetition
    penalty); the certificate is the KKT residual after a Newton polish from two solvers'
    answers (docs/model.md §4–§5).

    References
    ----------
    .. [1] Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
       arXiv:2203.15556.
    .. [2] Sardana et al. 2024, "Beyond Chinchilla-Optimal: Accounting for Inference in
       Language Model Scaling Laws", arXiv:2401.00448.

    Examples
    --------
    Paths are relative to the repository root.

    >>> from lifecycle_opt import load_scenario
    >>> plan = solve(load_scenario("examples/small_corpus.toml"))
    >>> plan.certificate.status, plan.certificate.kkt_residual < 1e-9
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

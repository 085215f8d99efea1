"""A certified plan as a :class:`~.solution.Solution`: the exact solver's answer with its
costs, its baseline (the compute-optimal plan of equal loss), its cash flow and warnings."""
from __future__ import annotations

__all__ = ["certified_plan"]

from ..model.laws import DataConstrainedLaw
from ..scenario.reader import Scenario
from ..solvers.exact import solve_exact
from ..solvers.problem import Problem
from .cautions import plan_warnings
from .solution import Baseline, Solution


def certified_plan(scenario: Scenario, extra_loss_laws: tuple = ()) -> Solution:
    """The certified optimum of ``scenario`` as a Solution (see :func:`solve_exact`; the
    planning entry point :func:`lifecycle_opt.solve` adds the law's uncertainty).

    >>> from lifecycle_opt import load_scenario
    >>> plan = certified_plan(load_scenario("examples/research_model.toml"))
    >>> plan.certificate.status, bool(plan.certificate.kkt_residual < 1e-9)
    ('optimal', True)
    """
    exact = solve_exact(scenario, extra_loss_laws)
    N, D = exact.params, exact.tokens
    law = scenario.loss_law
    loss = float(law.loss(N, D))
    if isinstance(law, DataConstrainedLaw):
        N_eff, D_eff = float(law.effective_params(N, D)), float(law.effective_tokens(D))
    else:
        N_eff, D_eff = N, D
    costs = scenario.costs.breakdown(N, D)
    return Solution(
        scenario_name=scenario.name, params=N, tokens=D, loss=loss, effective_params=N_eff,
        effective_tokens=D_eff, unique_tokens=scenario.data.unique_tokens, costs=costs,
        objective=scenario.objective, objective_unit=exact.problem.objective.unit,
        objective_value=exact.objective_value, baseline=_baseline(scenario, exact.problem, loss),
        binding=exact.binding, certificate=exact.certificate, law_name=law.name,
        law_source=law.source, target_loss=scenario.target.loss if scenario.target else None,
        warnings=tuple(plan_warnings(scenario, N, D, costs, exact.certificate)),
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

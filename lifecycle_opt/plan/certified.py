"""A certified plan as a :class:`~.solution.Solution`: the exact solver's answer with its
costs, its baseline (the compute-optimal plan of equal loss), its cash flow and warnings.

The numbers come from the row function (:func:`.rows.plan_columns` with n = 1), the
same lines that write a sweep's rows, so a Solution, its row and a sweep row agree.
"""
from __future__ import annotations

__all__ = ["certified_plan"]

import numpy as np

from ..model.laws import DataConstrainedLaw
from ..scenario.schema import Scenario
from ..solvers.exact import solve_exact
from .cautions import plan_warnings
from .rows import BASELINE_COSTS, breakdown_of, plan_columns, row_facts, stack_facts
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
    disagree = 0 if exact.certificate.methods_agree else 1
    columns = plan_columns(stack_facts([row_facts(scenario)]), np.array([N]), np.array([D]),
                           loss=loss, effective_tokens=D_eff, objective_value=exact.objective_value,
                           kkt_residual=exact.certificate.kkt_residual,
                           binding=[";".join(b.name for b in exact.binding)], extra_warnings=disagree)
    costs = breakdown_of(columns)
    Nb, Db = float(columns["baseline_params"][0]), float(columns["baseline_tokens"][0])
    base_costs = breakdown_of(columns[BASELINE_COSTS])
    base_value = (exact.problem.objective.posy.value(Nb, Db) if exact.problem.objective.kind == "cost"
                  else loss)
    row = {k: _scalar(v[0]) for k, v in columns.items() if k != BASELINE_COSTS}
    return Solution(
        scenario_name=scenario.name, params=N, tokens=D, loss=loss, effective_params=N_eff,
        effective_tokens=D_eff, unique_tokens=scenario.data.unique_tokens, costs=costs,
        objective=scenario.objective, objective_unit=exact.problem.objective.unit,
        objective_value=exact.objective_value,
        baseline=Baseline(Nb, Db, float(scenario.law.loss(Nb, Db)), base_costs, base_value),
        binding=exact.binding, certificate=exact.certificate, law_name=law.name,
        law_source=law.source, target_loss=scenario.target.loss if scenario.target else None,
        warnings=tuple(plan_warnings(scenario, N, D, costs, exact.certificate)),
        assumptions=scenario.assumptions, cash_flow=_cash_flow(scenario, costs),
        tokens_served=scenario.demand.tokens, serving_days=scenario.demand.deployment_days, row=row)


def _scalar(x):
    """A row cell as a plain Python value: numbers as float or int (nan → None), text as is."""
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if x != x else float(x)
    return x


def _cash_flow(scenario: Scenario, costs):
    """The plan month by month, from its GPU-hours and today's prices (None without finance)."""
    if scenario.finance is None:
        return None
    t, i = scenario.training, scenario.inference
    return scenario.finance.cash_flow(costs.training_gpu_hours or 0.0, t.price_per_gpu_hour if t else None,
                                      costs.inference_gpu_hours or 0.0,
                                      i.price_per_gpu_hour if i else None)

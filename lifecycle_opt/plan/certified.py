"""A certified plan as a :class:`~.solution.Solution`: the exact solver's answer with its
costs, its baseline (the compute-optimal plan of equal loss), its cash flow and warnings.

The numbers come from the row function (:func:`.rows.plan_columns` with n = 1), the
same lines that write a sweep's rows, so a Solution, its row and a sweep row agree.
"""
from __future__ import annotations

__all__ = ["certified_plan", "served_at", "plain_value"]

from dataclasses import replace

import numpy as np

from ..errors import ScenarioError
from ..model.units import format_count
from ..problem.formulation import build_problem
from ..scenario.schema import Scenario
from ..solvers.exact import ExactPlan, solve_exact
from .cautions import plan_warnings
from .rows import (BASELINE_COSTS, INFER_FIELDS, OVERFLOW_MESSAGE, baseline_plans, breakdown_of, plan_columns,
                   row_facts, stack_facts, trained_figures)
from .serving_plan import ServingPlan, baseline_point, nan_if_none, point_z, serving_plan, serving_points
from .solution import Baseline, Solution


def certified_plan(scenario: Scenario, extra_loss_laws: tuple = (), solver: str = "auto") -> Solution:
    """The certified optimum of ``scenario`` as a Solution (see :func:`solve_exact`; the
    planning entry point :func:`lifecycle_opt.solve` adds the law's uncertainty).

    >>> from lifecycle_opt import load_scenario
    >>> plan = certified_plan(load_scenario("examples/research_model.toml"))
    >>> plan.certificate.status, bool(plan.certificate.kkt_residual < 1e-9)
    ('optimal', True)
    """
    exact = solve_exact(scenario, extra_loss_laws, solver)
    N, D = exact.params, exact.tokens
    law = scenario.loss_law
    loss, N_eff, D_eff = trained_figures(scenario, N, D)
    facts = stack_facts([row_facts(scenario)])
    serving, serving_columns, extra = None, {}, []
    if scenario.serving is not None:
        serving, serving_columns = _serving(scenario, exact, facts, loss)
        extra = [_serving_caution(serving, c) for c in serving.broken]
    disagree = () if exact.certificate.methods_agree else ("the two solvers differ; the KKT certificate holds",)
    columns = plan_columns(facts, np.array([N]), np.array([D]),
                           loss=loss, effective_tokens=D_eff, objective_value=exact.objective_value,
                           kkt_residual=exact.certificate.kkt_residual,
                           binding=[";".join(b.name for b in exact.binding)], extra_warnings=disagree + tuple(extra),
                           **serving_columns)
    if columns["status"][0] == "invalid":
        raise ScenarioError("scenario", "quantities whose costs fit in a double", source=scenario.source,
                            found_text=f"found {OVERFLOW_MESSAGE}")
    costs = breakdown_of(columns)
    Nb, Db = float(columns["baseline_params"][0]), float(columns["baseline_tokens"][0])
    base_costs = breakdown_of(columns[BASELINE_COSTS])
    base_value = _baseline_value(exact, Nb, Db, base_costs, loss)
    row = {k: plain_value(v[0]) for k, v in columns.items() if k != BASELINE_COSTS}
    return Solution(
        scenario_name=scenario.name, params=N, tokens=D, loss=loss, effective_params=N_eff,
        effective_tokens=D_eff, unique_tokens=scenario.data.unique_tokens, costs=costs,
        objective=scenario.objective, objective_unit=exact.problem.objective.unit,
        objective_value=exact.objective_value,
        baseline=Baseline(Nb, Db, float(scenario.law.loss(Nb, Db)), base_costs, base_value),
        binding=exact.binding, certificate=exact.certificate, law_name=law.name,
        law_source=law.source, target_loss=scenario.target.loss if scenario.target else None,
        warnings=tuple(plan_warnings(scenario, N, D, costs, exact.certificate) + extra),
        assumptions=scenario.assumptions, cash_flow=_cash_flow(scenario, costs),
        tokens_served=scenario.demand.tokens, serving_days=scenario.demand.deployment_days, row=row,
        serving=serving)


def _serving(scenario: Scenario, exact: ExactPlan, facts: dict, loss: float) -> tuple[ServingPlan, dict]:
    """The ServingPlan of the certified plan under the roofline serving model, and the
    serving columns :func:`plan_columns` takes."""
    relaxed, rounded = serving_points(scenario, exact.params)
    return served_at(scenario, exact.problem, exact.params, exact.tokens, relaxed, rounded, facts, loss)


def served_at(scenario: Scenario, problem, N: float, D: float, relaxed, rounded, facts: dict,
              loss: float) -> tuple[ServingPlan, dict]:
    """The ServingPlan of plan (N, D) served at ``rounded`` (relaxed: the continuous point),
    checked against the constraints of ``problem``, and the serving columns
    :func:`plan_columns` takes (the costs of the plan and of its baseline at their serving
    points, the row's serving fields)."""
    model = scenario.costs
    costs, relaxed_costs = model.breakdown(N, D, rounded), model.breakdown(N, D, relaxed)
    z = point_z(N, D, rounded)
    if not scenario.serving.moe.is_dense:
        # a mixture's deployed point against its own cell: its batch's exact experts read
        problem = build_problem(replace(scenario, serving=scenario.serving.at_point(rounded.replica_gpus,
                                                                                     rounded.batch)))
    broken = tuple(c.name for c in problem.constraints if not c.is_loss and c.value(z) > 1e-9)
    Nb = float(baseline_plans(facts, np.array([loss]))[0][0])
    base = baseline_point(scenario, Nb)
    plan = serving_plan(scenario, N, relaxed, rounded, costs, relaxed_costs, broken, base)
    # the baseline is served by the shape family at its own size (as baseline_point serves
    # it, and as a sweep prices it): an exact architecture's constants are the plan's alone
    base_model = model if model.serving is None else replace(model, serving=model.serving.free())
    base_costs = base_model.breakdown(Nb, 1.0, base)
    column = lambda b: {f: np.array([nan_if_none(getattr(b, f))]) for f in INFER_FIELDS}  # noqa: E731
    p = plan.rounded
    row = {"serving_replica_gpus": p.replica_gpus, "serving_batch": p.batch,
           "serving_tpot_ms": p.step_seconds * 1e3, "serving_ttft_ms": p.ttft_seconds * 1e3,
           "serving_tokens_per_second_per_gpu": p.tokens_per_second_per_gpu,
           "serving_usd_per_million_output_tokens": nan_if_none(plan.usd_per_million_output_tokens),
           "serving_usd_per_million_input_tokens": nan_if_none(plan.usd_per_million_input_tokens),
           "serving_implied_decode_mfu": plan.implied_decode_mfu,
           "serving_rounding_cost_usd": nan_if_none(plan.rounding_cost_usd)}
    return plan, {"serving": column(costs), "baseline_serving": column(base_costs), "serving_row": row}


def _serving_caution(plan: ServingPlan, name: str) -> str:
    p = plan.rounded
    return (f"the rounded serving plan ({p.batch:g} sequences on {format_count(p.replica_gpus)} GPUs) "
            f"breaks {name}: whole numbers cost more than the limit allows; see the relaxed plan")


def _baseline_value(exact: ExactPlan, Nb: float, Db: float, base_costs, loss: float) -> float | None:
    """The baseline's objective in the objective's unit."""
    objective = exact.problem.objective
    if objective.kind != "cost":
        return loss
    if exact.problem.dim == 2:
        return objective.cost.value(Nb, Db)
    return base_costs.total_cost_pv_usd if objective.unit == "usd" else base_costs.total_flops


def plain_value(x):
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

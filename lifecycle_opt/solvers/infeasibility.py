"""Explaining an infeasible scenario: which settings conflict, and the smallest change of
each that alone would restore a plan (found by minimising that constraint under the
others, then rounded outwards so that the advice, applied, works)."""
from __future__ import annotations

__all__ = ["explain_infeasible"]

import math

from ..errors import Conflict, InfeasibleError, ScenarioError
from ..model.setting_units import format_setting
from ..scenario.schema import Scenario
from ..problem.formulation import BOX, Problem
from .slsqp import FEAS_TOL, minimise_constraint, phase_one


def explain_infeasible(scenario: Scenario, problem: Problem) -> InfeasibleError | ScenarioError:
    """For each constraint, the smallest change of its setting that alone restores a plan
    (a ScenarioError when the target is out of the planner's reach whatever the limits)."""
    conflicts = []
    cons = problem.constraints
    for i, c in enumerate(cons):
        if not c.movable:
            continue            # "at least one sequence per replica" is not a setting
        others = [o for j, o in enumerate(cons) if j != i]
        z0, violation = phase_one(problem, others)
        if violation > FEAS_TOL:
            continue            # the others conflict among themselves: this one alone cannot help
        z = minimise_constraint(c, others, z0, problem.box)
        current, required = c.setting, c.needed(z)
        if required > c.setting_max:
            continue            # an efficiency above 1 is no advice
        required = _round_outward(required, c)
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
    if not losses or phase_one(problem, losses)[1] <= FEAS_TOL:
        return None
    (_, x_hi), (_, y_hi) = BOX
    lowest = max(float(c.law.loss(math.exp(x_hi), math.exp(y_hi))) for c in losses)
    return ScenarioError("target.loss", f"a loss the planner can reach within {math.exp(x_hi):.0e} "
                         f"parameters and {math.exp(y_hi):.0e} tokens: above {lowest:.6g}",
                         source=scenario.source, found_text=f"found {losses[0].target:.6g}")


def _round_outward(value: float, c) -> float:
    """Round in the direction that relaxes the constraint: a setting that takes values from
    a list (replica sizes) to a value it may take (:meth:`Constraint.allowed_at_least`),
    whole things (GPUs, sequences) to a whole number, the rest to 4 significant figures."""
    if value == 0 or not math.isfinite(value):
        return value
    if c.allowed and c.relaxes_upward:
        return c.allowed_at_least(value)
    if c.whole:
        return float(math.ceil(value * (1 - 1e-12)) if c.relaxes_upward else math.floor(value * (1 + 1e-12)))
    exp = math.floor(math.log10(abs(value))) - 3
    scaled = value / 10 ** exp
    scaled = math.ceil(scaled * (1 + 1e-9)) if c.relaxes_upward else math.floor(scaled * (1 - 1e-9))
    return scaled * 10 ** exp


def _advice(c, current: float, required: float) -> str:
    direction = "at least" if c.relaxes_upward else "at most"
    if c.is_loss:
        what = "loss" if c.unit == "nats" else "benchmark error"
        return (f"{c.key} {current:.6g} is below the lowest {what} reachable within the other "
                f"limits, {required:.6g}: raise it to {direction} {required:.6g}")
    if c.allowed and required not in c.allowed:
        # a list of values: name the one to add, by the rule that extends it
        return (f"{c.key}: {format_setting(current, c.unit)} → add {format_setting(required, c.unit)} "
                f"(the list extended: {_extension_rule(c)})")
    return (f"{c.key}: {format_setting(current, c.unit)} → {direction} "
            f"{format_setting(required, c.unit)}")


def _extension_rule(c) -> str:
    if all(a >= 1 and math.log2(a).is_integer() for a in c.allowed):
        return "the next power of two, as the allowed values are"
    return f"the next multiple of the largest allowed value, {max(c.allowed):g}"

"""Evaluating a plan someone already has: N and D given (or one of them and the training
compute, C = 6·N·D), everything a solved plan reports — loss, costs, over-training — and
what an optimiser adds: the limits the plan breaks, and its regret against the
lifecycle-optimal plan of the same loss.

The numbers come from the row function (:func:`.rows.plan_columns`), the one that writes
a solved plan's row, so evaluating the optimal N and D reproduces that plan's costs and
gives zero regret. The optimum of equal loss is the planning entry point's answer for
the scenario with its target set to the plan's served loss (docs/model.md §9), choosing
freely among the scenario's discrete choices (experts, serving precision). A loss
objective's own optimum is the exception: it minimises the loss under a cap on training,
which leaves the serving cost out, so its regret is what serving adds (zero with no
serving demand).
"""
from __future__ import annotations

__all__ = ["Violation", "Evaluation", "evaluate", "plan_size", "settled", "regret_unit", "optimum_scenario",
           "VIOLATION_TOL", "Quantity"]

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Union

import numpy as np

from ..errors import InfeasibleError, ScenarioError, SolverError
from ..model.costs import CostBreakdown
from ..model.units import parse_count, parse_flops
from ..scenario.reader import ScenarioLike, as_scenario
from ..scenario.schema import Budget, Scenario, Target
from ..problem.formulation import build_problem
from ..problem.serving_points import relaxed_point, rounded_point
from .certified import plain_value, served_at
from .choices import choice_variants
from .planning import solve
from .rows import BASELINE_COSTS, OVERFLOW_MESSAGE, breakdown_of, plan_columns, row_facts, stack_facts, trained_figures
from .serving_plan import baseline_point, point_z
from .solution import PlanFigures, Solution

_WHAT = {"params": "parameter count", "tokens": "token count", "flops": "FLOP count"}
_AT_LEAST = {"params": "at least one parameter", "tokens": "at least one token",
             "flops": "a training compute of at least one FLOP"}

#: a plan's constraint value above this breaks the constraint (h = log g for limits)
VIOLATION_TOL = 1e-9

#: a quantity as the API takes it: a number in base units, or a string such as "7B", "2T", "1e24"
Quantity = Union[float, int, str]


@dataclass(frozen=True)
class Violation:
    """A limit the plan breaks, in the setting's own unit.

    Parameters
    ----------
    name, label, key : str
        The constraint's name, its description and its scenario key ("limits.max_params").
    limit : float
        The setting's value [``unit``].
    needed : float
        The value the setting would need for the plan to meet it [``unit``] (NaN where
        none would do); docs/model.md §9.
    unit : str
        The setting's unit (bytes for serving memory, nats for the target, ...).
    """

    name: str
    label: str
    key: str
    limit: float
    needed: float
    unit: str

    def as_dict(self) -> dict:
        """Return the fields as JSON-ready values.

        Returns
        -------
        dict
            Every field; ``needed`` None where it is NaN.
        """
        return {"name": self.name, "label": self.label, "key": self.key, "limit": self.limit,
                "needed": None if math.isnan(self.needed) else self.needed, "unit": self.unit}


@dataclass(frozen=True, kw_only=True)
class Evaluation(PlanFigures):
    """A given plan (N parameters on D tokens) under a scenario, as :func:`evaluate` returns it.

    The figures of :class:`~.solution.PlanFigures` (costs as a solved plan's; under the
    roofline serving model at the cheapest whole-number serving point), and:

    Parameters
    ----------
    baseline_params, baseline_tokens : float
        The compute-optimal plan of equal loss [parameters, tokens].
    violated : tuple of Violation
        The limits it breaks, each in its setting's unit.
    regret_unit : str
        "usd" (present value) or "flops": what the regret is measured in.
    optimum : Solution or None
        The lifecycle-optimal plan of the same loss, or None.
    optimum_note : str
        Why there is no optimum, else "".
    present_value : bool
        Whether the scenario discounts (a ``[finance]`` section): the regret's dollars are
        then present value, else nominal (undiscounted).
    regret_note : str
        Why even the scenario's own optimum has a regret (a loss objective), else "".

    Other Parameters
    ----------------
    scenario_name, params, tokens, loss, effective_params, effective_tokens, unique_tokens, costs, tokens_served, serving_days, serving, row
        The figures of :class:`~.solution.PlanFigures`.

    Examples
    --------
    The optimal plan evaluated has no regret and breaks no limit (docs/model.md §9):

    >>> from lifecycle_opt import solve
    >>> plan = solve("examples/small_corpus.toml")
    >>> e = evaluate("examples/small_corpus.toml", params=plan.params, tokens=plan.tokens)
    >>> abs(e.regret_fraction) < 1e-9, e.violated
    (True, ())
    """

    baseline_params: float
    baseline_tokens: float
    violated: tuple[Violation, ...]
    regret_unit: str
    optimum: Solution | None
    optimum_note: str = ""
    present_value: bool = False
    regret_note: str = ""

    def _total(self, costs: CostBreakdown) -> float | None:
        return costs.total_cost_pv_usd if self.regret_unit == "usd" else costs.total_flops

    @property
    def regret(self) -> float | None:
        """The plan's lifecycle cost over the optimum's of equal loss [$ or FLOP]; 0 at the optimum."""
        if self.optimum is None or self._total(self.costs) is None:
            return None
        return self._total(self.costs) - self._total(self.optimum.costs)

    @property
    def regret_fraction(self) -> float | None:
        """The regret over the optimum's lifecycle cost [fraction]; None without an optimum."""
        if self.regret is None:
            return None
        return self.regret / self._total(self.optimum.costs)

    def report(self) -> str:
        """Return the text report ``lifeopt evaluate`` prints of this plan.

        Returns
        -------
        str
            The report, human units throughout.
        """
        from ..outputs.evaluation_report import render_evaluation   # presentation, on demand
        return render_evaluation(self)

    def as_row(self) -> dict:
        """Return the plan as one flat row of scalars.

        Returns
        -------
        dict
            The fields of a solved plan's row with the regret, the broken limits
            (";"-separated names) and the optimum of equal loss, in base units.
        """
        return {**self.row, "regret": self.regret, "regret_fraction": self.regret_fraction,
                "regret_unit": self.regret_unit, "violated": ";".join(v.name for v in self.violated),
                "optimum_params": None if self.optimum is None else self.optimum.params,
                "optimum_tokens": None if self.optimum is None else self.optimum.tokens}

    def as_dict(self) -> dict:
        """Return every field as JSON-ready values (the JSON export).

        Returns
        -------
        dict
            The plan's figures, the baseline, the broken limits, the regret and the optimum.
        """
        opt = self.optimum
        return {
            **self.figures_dict(),
            "baseline": {"params": self.baseline_params, "tokens": self.baseline_tokens},
            "violated": [v.as_dict() for v in self.violated],
            "regret": self.regret, "regret_fraction": self.regret_fraction, "regret_unit": self.regret_unit,
            "optimum": None if opt is None else {
                "params": opt.params, "tokens": opt.tokens, "tokens_per_param": opt.tokens_per_param,
                "loss": opt.loss, **opt.costs.as_dict(),
                "binding": {b.name: b.shadow_price for b in opt.binding}},
            "optimum_note": self.optimum_note, "regret_note": self.regret_note,
            "money_basis": "present value" if self.present_value else "nominal",
            "serving": None if self.serving is None else self.serving.as_dict(),
        }


def plan_size(params: Quantity | None = None, tokens: Quantity | None = None, flops: Quantity | None = None,
              source: str | None = None) -> tuple[float, float]:
    """Return (N, D) from any two of parameters, tokens and training compute.

    Parameters
    ----------
    params : float, int or str, optional
        N [parameters]: a number or a string such as "7B".
    tokens : float, int or str, optional
        D [tokens]: a number or a string such as "2T".
    flops : float, int or str, optional
        Training compute C = 6·N·D [FLOP]: a number or a string such as "1e24".
    source : str, optional
        The file named in error messages.

    Returns
    -------
    tuple of float
        (N [parameters], D [tokens]).

    Raises
    ------
    ScenarioError
        Not exactly two are given, one is unreadable, or the plan has under one parameter
        or one token.

    Examples
    --------
    >>> plan_size(params="70B", flops=6 * 70e9 * 1.4e12)
    (70000000000.0, 1400000000000.0)
    """
    given = {k: v for k, v in (("params", params), ("tokens", tokens), ("flops", flops)) if v is not None}
    if len(given) != 2:
        raise ScenarioError("params", "exactly two of params, tokens and flops (C = 6·N·D gives the third)",
                            source=source, found_text=f"found {len(given)}: {', '.join(given) or 'none'}")
    parsed = {}
    for key, value in given.items():
        try:
            parsed[key] = parse_flops(value) if key == "flops" else parse_count(value, _WHAT[key])
        except ValueError as exc:
            raise ScenarioError(key, str(exc), value, source=source) from None
        if not parsed[key] >= 1:
            raise ScenarioError(key, _AT_LEAST[key], value, source=source)
    N, D = parsed.get("params"), parsed.get("tokens")
    if N is None:
        N = parsed["flops"] / (6.0 * D)
    elif D is None:
        D = parsed["flops"] / (6.0 * N)
    if not (N >= 1 and D >= 1):
        raise ScenarioError("flops", "a training compute that gives at least one parameter and one token",
                            source=source, found_text=f"found a plan of {N:.3g} parameters on {D:.3g} tokens")
    return float(N), float(D)


def regret_unit(scenario: Scenario) -> str:
    """What a plan's regret under ``scenario`` is measured in.

    Parameters
    ----------
    scenario : Scenario
        The scenario the plan is evaluated under.

    Returns
    -------
    str
        "usd" (present value) where the scenario prices its plans, else "flops".
    """
    if scenario.objective == "cost" or (scenario.objective == "loss" and scenario.costs.has_prices):
        return "usd"
    return "flops"


def optimum_scenario(scenario: Scenario, loss: float, unit: str) -> Scenario:
    """The problem of the lifecycle-optimal plan reaching ``loss`` (docs/model.md §9).

    Parameters
    ----------
    scenario : Scenario
        The scenario whose limits hold.
    loss : float
        The served loss the optimum reaches [nats/token].
    unit : str
        "usd" or "flops" (:func:`regret_unit`): the objective minimised.

    Returns
    -------
    Scenario
        ``scenario`` with that objective and target, a loss objective's budget dropped.
    """
    objective = "cost" if unit == "usd" else "flops"
    return replace(scenario, target=Target(loss=loss), objective=objective, budget=Budget())


def _optimum(scenario: Scenario, loss: float, unit: str) -> tuple[Solution | None, str]:
    """The lifecycle-optimal plan reaching ``loss`` under the scenario's limits (the
    objective in ``unit``; a loss objective's budget dropped), or None and why."""
    floor = scenario.law.irreducible_loss
    if not loss > floor:
        # a plan so large its loss rounds to the law's floor: only an infinite plan reaches it
        return None, (f"no lifecycle-optimal plan of loss {loss:.6g}: the plan's loss is the law's floor "
                      f"E = {floor:g} to the last digit, which no finite plan reaches")
    try:
        return solve(optimum_scenario(scenario, loss, unit)), ""
    except (InfeasibleError, SolverError, ScenarioError) as exc:
        return None, f"no lifecycle-optimal plan of loss {loss:.6g}: {exc}"


def _violations(scenario: Scenario, N: float, D: float, loss: float, point) -> tuple[Violation, ...]:
    """The limits plan (N, D) of served loss ``loss`` [nats] breaks, served at ``point``
    under the roofline model (the cheapest point within the targets, or without them when
    none meets them)."""
    problem = build_problem(_at_point(scenario, point))
    out = []
    t = scenario.target
    if t is not None and scenario.objective != "loss" and loss > t.loss * (1 + 1e-12):
        if t.error is not None:
            out.append(Violation("loss_target", f"benchmark error at most {t.error:.4g}", "target.error",
                                 t.error, float(scenario.downstream.error(loss)), "error"))
        else:
            out.append(Violation("loss_target", f"loss at most {t.loss:.6g}", "target.loss", t.loss, loss, "nats"))
    if scenario.serving is not None and point is None:
        # no allowed replica holds the weights and one sequence's cache: the GPUs a replica
        # would need, from the memory constraints themselves (memory for B = 1 over what a
        # GPU holds: the batch's paged cache, and one sequence at its longest context)
        needed = max(float(c.quantity.value(N, 1.0, B=1.0, G=1.0)) / c.setting for c in problem.constraints
                     if c.name in ("memory_capacity", "longest_sequence"))
        return tuple(out) + (Violation("memory_capacity", "weights and KV cache fit the replica's memory",
                                       "serving.replica_gpus", float(max(scenario.serving.replica_gpus)),
                                       needed, "GPUs per replica"),)
    z = np.log([N, D]) if point is None else point_z(N, D, point)
    for c in problem.constraints:
        if not c.is_loss and c.value(z) > VIOLATION_TOL:
            out.append(Violation(c.name, c.label, c.key, c.setting, c.needed(z), c.unit))
    return tuple(out)


def _at_point(scenario: Scenario, point) -> Scenario:
    """The scenario with its replicas of the point's size (the problem of that size), or of
    the largest allowed size when no point serves the plan."""
    if scenario.serving is None:
        return scenario
    if point is None:
        return replace(scenario, serving=scenario.serving.at_size(max(scenario.serving.replica_gpus)))
    # (a mixture's: the cell of the point's batch, its experts read exactly)
    return replace(scenario, serving=scenario.serving.at_point(point.replica_gpus, point.batch))


def _served(scenario: Scenario, N: float, D: float, facts, loss: float):
    """(serving report, serving row columns, serving point) of the plan (N, D), or (None, {},
    None) without a serving model or when no replica can serve it."""
    r = scenario.serving
    if r is None:
        return None, {}, None
    # targets unmet: served without them (and, at another size than the architecture's, as
    # the shape family's member)
    point = rounded_point(r, N) or baseline_point(scenario, N)
    if point is None:
        return None, {}, None
    relaxed = relaxed_point(r, N) or point
    serving, columns = served_at(scenario, build_problem(_at_point(scenario, point)), N, D, relaxed, point,
                                 facts, loss)
    return serving, columns, point


def evaluate(scenario: ScenarioLike, *, params: Quantity | None = None, tokens: Quantity | None = None,
             flops: Quantity | None = None, choices: Mapping[str, Any] | None = None) -> Evaluation:
    """Evaluate a given plan under a scenario: its costs, the limits it breaks, its regret.

    Parameters
    ----------
    scenario : Scenario, str, pathlib.Path or dict
        A scenario, the path of its file or a dict of its keys.
    params : float, int or str, optional
        N [parameters] ("70B").
    tokens : float, int or str, optional
        D [tokens] ("1.4T").
    flops : float, int or str, optional
        Training compute C = 6·N·D [FLOP]; give exactly two of the three.
    choices : mapping, optional
        The plan's own values of the scenario's discrete choices (``[moe] experts``,
        ``[quantisation] dtypes``), e.g. ``{"moe.experts": 8}``; required when it has any.

    Returns
    -------
    Evaluation
        Its loss [nats/token], costs and over-training as a solved plan reports them, the
        limits it breaks (each in its setting's unit) and its regret against the
        lifecycle-optimal plan of the same loss [$ or FLOP] (docs/model.md §9).

    Raises
    ------
    ScenarioError
        The scenario or the plan's size or choices are malformed, or its costs overflow.

    See Also
    --------
    lifecycle_opt.plan.planning.solve : the optimal plan.

    Examples
    --------
    Chinchilla (70B parameters on 1.4T tokens) under the law of Hoffmann et al. 2022 [1]_,
    E + A/N^α + B/D^β with their printed constants (E 1.69, A 406.4, B 410.7, α 0.34,
    β 0.28), served for two years:

    >>> e = evaluate("examples/chat_assistant.toml", params="70B", tokens="1.4T")
    >>> f"{e.loss:.5f}", f"{1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28:.5f}"
    ('1.93665', '1.93665')
    >>> e.regret_fraction > 0            # the optimum of that loss is smaller, trained longer
    True

    References
    ----------
    .. [1] Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
       arXiv:2203.15556, eq. 10.
    """
    given = as_scenario(scenario)
    scenario = settled(given, choices)
    N, D = plan_size(params, tokens, flops, scenario.source)
    loss, N_eff, D_eff = trained_figures(scenario, N, D)
    facts = stack_facts([row_facts(scenario)])
    serving, columns, point = _served(scenario, N, D, facts, loss)
    unit = regret_unit(scenario)
    served = float(scenario.loss_law.loss(N, D))
    # the optimum of the served loss, the one the target holds (quantisation included),
    # choosing among the scenario's discrete choices as a solve does
    optimum, note = _optimum(given, served, unit)
    cols = plan_columns(facts, np.array([N]), np.array([D]), loss=loss, effective_tokens=D_eff,
                        objective_value=math.nan, kkt_residual=math.nan, binding=[""], **columns)
    if cols["status"][0] == "invalid":
        raise ScenarioError("params", "a plan whose costs fit in a double", source=scenario.source,
                            found_text=f"found {OVERFLOW_MESSAGE} ({N:.3g} parameters on {D:.3g} tokens)")
    row = {k: plain_value(v[0]) for k, v in cols.items() if k != BASELINE_COSTS}
    row["status"] = "evaluated"
    return Evaluation(
        scenario_name=scenario.name, params=N, tokens=D, loss=loss, effective_params=N_eff,
        effective_tokens=D_eff, unique_tokens=scenario.data.unique_tokens, costs=breakdown_of(cols),
        baseline_params=float(cols["baseline_params"][0]), baseline_tokens=float(cols["baseline_tokens"][0]),
        violated=_violations(scenario, N, D, served, point), regret_unit=unit, optimum=optimum,
        optimum_note=note, present_value=scenario.finance is not None, regret_note=_regret_note(scenario),
        serving=serving, row=row, tokens_served=scenario.demand.tokens,
        serving_days=scenario.demand.deployment_days)


def _regret_note(scenario: Scenario) -> str:
    """Why the scenario's own optimum has a regret: a loss objective minimises the loss under
    a cap on training, not the lifecycle cost the regret measures (docs/model.md §9)."""
    if scenario.objective != "loss" or scenario.demand.tokens == 0:
        return ""
    return ("the scenario minimises the loss under a cap on training and leaves the serving cost out, so "
            "even its own optimum has a regret here: what serving adds at that loss (zero with no "
            "serving demand)")


def settled(scenario: Scenario, choices: Mapping[str, Any] | None) -> Scenario:
    """Return ``scenario`` with its discrete choices set to a plan's values.

    Parameters
    ----------
    scenario : Scenario
        A scenario that may choose (``[moe] experts``, ``[quantisation] dtypes`` lists).
    choices : mapping or None
        The plan's values ({"moe.experts": 8}); compared as text, so that "8" from the
        command line is 8.

    Returns
    -------
    Scenario
        The variant of ``scenario`` with those values (``scenario`` when it chooses nothing).

    Raises
    ------
    ScenarioError
        A choice is missing, unknown or not among the scenario's values; the message names
        the key.
    """
    allowed = dict(scenario.choices)
    given = dict(choices or {})
    for key in given:
        if key not in allowed:
            raise ScenarioError(key, "a choice the scenario makes" + (f" ({', '.join(allowed)})" if allowed else
                                " (it makes none: [moe] experts or [quantisation] dtypes would list them)"),
                                given[key], source=scenario.source)
    for key, values in allowed.items():
        if key not in given:
            raise ScenarioError(key, f"the plan's own value, one of {', '.join(map(str, values))} (the scenario "
                                f"chooses among them): --choice {key}=VALUE, or choices={{{key!r}: ...}}",
                                source=scenario.source, found_text="found none")
    if not allowed:
        return scenario
    for v in choice_variants(scenario):
        if all(str(v.settings[k]) == str(given[k]) for k in allowed):
            return v.scenario
    key = next(k for k in allowed if str(given[k]) not in {str(x) for x in allowed[k]})
    raise ScenarioError(key, f"one of {', '.join(map(str, allowed[key]))}", given[key], source=scenario.source)

"""The frozen result of a solve: the plan, its costs, the baseline, the constraints that
bind with their shadow prices, and the certificate. Base units throughout; reports and
exports read it and never recompute it.
"""
from __future__ import annotations

__all__ = ["Baseline", "Uncertainty", "PlanFigures", "Solution", "QUALITY_FIELDS"]

import html
import math
from dataclasses import dataclass, field
from typing import Any

from ..model.costs import CostBreakdown
from ..model.finance import CashFlow
from ..solvers.certificate import Binding, Certificate
from .frames import cash_flow_frame, row_frame, serving_frame
from .serving_plan import ServingPlan


#: the row fields of what the model is (a mixture's active and total parameters) and of the
#: served model's quality (None where a scenario does not set them)
QUALITY_FIELDS = ("active_params", "total_params", "experts", "active_experts", "loss_after_quantisation",
                  "quantisation_degradation", "critical_tokens", "error", "target_error")


def _whole(key: str, value):
    """Counts of experts as whole numbers (the row keeps every number as a float)."""
    return int(value) if key in ("experts", "active_experts") and value is not None else value


@dataclass(frozen=True)
class Baseline:
    """The compute-optimal (Chinchilla) plan of the same loss under the same base law.

    With unlimited fresh data and no limits, costed under the same demand and prices
    (docs/model.md §6).

    Parameters
    ----------
    params, tokens : float
        N [parameters] and D [tokens] of the compute-optimal plan.
    loss : float
        Its loss [nats/token] (the plan's).
    costs : CostBreakdown
        Its FLOP, GPU-hours, days and dollars.
    objective_value : float or None
        Its value of the plan's objective [$, FLOP or nats], None where undefined.
    """

    params: float
    tokens: float
    loss: float
    costs: CostBreakdown
    objective_value: float | None

    @property
    def tokens_per_param(self) -> float:
        """D / N [tokens per parameter]."""
        return self.tokens / self.params


@dataclass(frozen=True)
class Uncertainty:
    """What the law's uncertainty (bootstrap laws from ``lifeopt fit``) does to the plan.

    Parameters
    ----------
    samples : int
        Bootstrap laws in the file [laws].
    quantiles : dict
        {"params", "tokens", "tokens_per_param", "objective"} → (5 %, 50 %, 95 %) of the
        optimal plan solved under each of ``distribution_samples`` laws, in base units.
    distribution_samples : int
        The laws the distribution was computed over [laws].
    infeasible_samples : int
        How many of them had no feasible plan [laws].
    probability : float or None
        The share of laws the (robust) plan must reach the target under [0–1], or None.
    achieved : float
        The share of all laws under which this plan reaches the target [0–1].
    point_params, point_tokens, point_objective : float
        The plan under the point-estimate law [parameters, tokens, objective's unit], for
        comparison (equal to the plan itself when not robust).
    working_laws : int, default 0
        How many bootstrap laws ended up as explicit constraints [laws].
    """

    samples: int
    quantiles: dict
    distribution_samples: int
    infeasible_samples: int
    probability: float | None
    achieved: float
    point_params: float
    point_tokens: float
    point_objective: float
    working_laws: int = 0

    def as_dict(self) -> dict:
        """Return the fields as JSON-ready values.

        Returns
        -------
        dict
            Every field; the quantiles as lists under "quantiles_5_50_95".
        """
        return {"samples": self.samples, "quantiles_5_50_95": {k: list(v) for k, v in self.quantiles.items()},
                "distribution_samples": self.distribution_samples,
                "infeasible_samples": self.infeasible_samples, "probability": self.probability,
                "achieved": self.achieved, "point_params": self.point_params,
                "point_tokens": self.point_tokens, "point_objective": self.point_objective,
                "working_laws": self.working_laws}


@dataclass(frozen=True, kw_only=True)
class PlanFigures:
    """What a plan of N parameters trained on D tokens is under a scenario: the figures a
    solved plan (:class:`Solution`) and an evaluated one
    (:class:`~lifecycle_opt.plan.evaluation.Evaluation`) share, written by the row
    function (:mod:`.rows`).

    Parameters
    ----------
    scenario_name : str
        The scenario's name.
    params : float
        N [parameters].
    tokens : float
        D [tokens, repetitions included].
    loss : float
        Predicted loss of the plan [nats/token].
    effective_params, effective_tokens : float
        N', D' under the repetition penalty (= N, D without) [parameters, tokens].
    unique_tokens : float or None
        U [tokens], None when the corpus is unlimited.
    costs : CostBreakdown
        FLOPs, GPU-hours, days and dollars of training and serving.
    tokens_served : float
        Tokens processed in serving over the deployment [tokens].
    serving_days : float or None
        How long the demand is served [days], None when not given.
    serving : ServingPlan or None
        How the plan is served under the roofline serving model (the costs are those of its
        rounded point), else None.
    row : dict
        The plan's row (:func:`.rows.plan_columns`), as a sweep writes it.
    """

    scenario_name: str
    params: float
    tokens: float
    loss: float
    effective_params: float
    effective_tokens: float
    unique_tokens: float | None
    costs: CostBreakdown
    tokens_served: float = 0.0
    serving_days: float | None = None
    serving: ServingPlan | None = None
    row: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def tokens_per_param(self) -> float:
        """D / N [tokens per parameter]."""
        return self.tokens / self.params

    @property
    def tokens_per_day(self) -> float | None:
        """Tokens served per day of deployment [tokens / day]; None without a period."""
        return None if self.serving_days is None else self.tokens_served / self.serving_days

    @property
    def epochs(self) -> float | None:
        """D / U: passes over the unique corpus [–]; None when it is unlimited."""
        return None if self.unique_tokens is None else self.tokens / self.unique_tokens

    @property
    def overtraining_ratio(self) -> float:
        """Tokens per parameter against the compute-optimal plan of equal loss [–], as the
        row function computed it (docs/model.md §6)."""
        return self.row["overtraining_ratio"]

    @property
    def loss_after_quantisation(self) -> float | None:
        """The served model's loss once its weights are quantised [nats] (None without
        ``[quantisation]``; :attr:`loss` is the trained model's)."""
        return self.row.get("loss_after_quantisation")

    def report(self) -> str:
        """The text report the command line prints of this plan."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        """A notebook shows the plan as its report (monospace, as the terminal does)."""
        return ('<pre style="font-family: monospace; white-space: pre; line-height: 1.25">'
                f"{html.escape(self.report())}</pre>")

    def to_pandas(self) -> Any:
        """Return the plan's row as a one-row pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            Every field a sweep writes, in base units (needs the ``pandas`` extra).
        """
        return row_frame(self.row)

    def serving_to_pandas(self) -> Any:
        """Return the serving table as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            The deployed whole-number serving point and the relaxed optimum
            (docs/model.md §8).

        Raises
        ------
        ValueError
            The plan is served under the MFU model, which has no serving table.
        """
        if self.serving is None:
            raise ValueError('no serving table: the plan is served under the MFU model (serving.model = '
                             '"roofline" gives one)')
        return serving_frame(self.serving)

    def figures_dict(self) -> dict:
        """Return the shared figures as JSON-ready values.

        Returns
        -------
        dict
            The first keys of a solved or evaluated plan's JSON, in base units.
        """
        return {"scenario": self.scenario_name, "params": self.params, "tokens": self.tokens,
                "tokens_per_param": self.tokens_per_param, "loss": self.loss,
                "effective_params": self.effective_params, "effective_tokens": self.effective_tokens,
                "unique_tokens": self.unique_tokens, "epochs": self.epochs,
                "tokens_served": self.tokens_served, "serving_days": self.serving_days,
                "tokens_per_day": self.tokens_per_day, **self.costs.as_dict(),
                "overtraining_ratio": self.overtraining_ratio,
                **{k: _whole(k, self.row.get(k)) for k in QUALITY_FIELDS}}


@dataclass(frozen=True, kw_only=True)
class Solution(PlanFigures):
    """The certified lifecycle-optimal plan of one scenario, as :func:`~.planning.solve` returns it.

    Parameters
    ----------
    objective : {"cost", "flops", "loss"}
        What was minimised.
    objective_unit : {"usd", "flops", "loss"}
        Its unit: present-value dollars, FLOP or nats/token.
    objective_value : float
        The optimal objective in that unit.
    baseline : Baseline
        The compute-optimal plan of equal loss.
    binding : tuple of Binding
        The active constraints with their shadow prices, each in its setting's unit.
    certificate : Certificate
        The two solvers, their agreement and the KKT residual (docs/model.md §5).
    law_name, law_source : str
        The law used and where it came from.
    warnings, assumptions : tuple of str
        Cautions the plan carries (docs/model.md §7) and defaults applied.
    target_loss : float or None
        The loss target [nats].
    cash_flow : CashFlow or None
        The plan month by month (with a ``[finance]`` section).
    uncertainty : Uncertainty or None
        The plan under the law's bootstrap samples.
    alternatives : tuple of Alternative
        Each allowed value of a discrete choice the plan made (the serving precision) with
        its optimal objective; () when the scenario has none.

    Other Parameters
    ----------------
    scenario_name, params, tokens, loss, effective_params, effective_tokens, unique_tokens, costs, tokens_served, serving_days, serving, row
        The figures of :class:`PlanFigures`.

    See Also
    --------
    lifecycle_opt.plan.evaluation.Evaluation : the same figures for a given plan.

    Examples
    --------
    Under a training budget and no other limit, the plan is the compute-optimal one of
    Hoffmann et al. 2022 [1]_: N = G·(C/6)^(β/(α+β)) with G = (αA/(βB))^(1/(α+β)) [2]_.

    >>> from lifecycle_opt import load_scenario, solve
    >>> plan = solve("examples/research_model.toml")       # 1e23 FLOP, Besiroglu et al. law
    >>> law = load_scenario("examples/research_model.toml").law
    >>> G = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    >>> N = G * (1e23 / 6) ** (law.beta / (law.alpha + law.beta))
    >>> abs(plan.params / N - 1) < 1e-8, plan.objective_unit
    (True, 'loss')

    References
    ----------
    .. [1] Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
       arXiv:2203.15556.
    .. [2] docs/model.md §2.1.
    """

    objective: str
    objective_unit: str
    objective_value: float
    baseline: Baseline
    binding: tuple[Binding, ...]
    certificate: Certificate
    law_name: str
    law_source: str
    target_loss: float | None
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    cash_flow: CashFlow | None = None
    uncertainty: Uncertainty | None = None
    alternatives: tuple = ()

    def report(self) -> str:
        """Return the text report ``lifeopt solve`` prints of this plan.

        Returns
        -------
        str
            The report, human units throughout.
        """
        from ..outputs.reports import render_table        # presentation, on demand (tests/test_architecture.py)
        return render_table(self)

    def cash_flow_to_pandas(self) -> Any:
        """Return the cash flow month by month as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row a month: GPU-hours, nominal and present-value dollars (docs/model.md §3).

        Raises
        ------
        ValueError
            The scenario has no ``[finance]`` section, so no months.
        """
        if self.cash_flow is None:
            raise ValueError("no cash flow: the scenario has no [finance] section")
        return cash_flow_frame(self.cash_flow)

    def savings(self) -> dict:
        """Return the fractions saved against the compute-optimal baseline.

        Returns
        -------
        dict
            "params", "tokens", "flops" and "cost_usd" (present value): 1 − ours/theirs
            [fraction], negative where the plan uses more; None where not defined.
        """
        theirs_flops = self.baseline.costs.total_flops   # None: the baseline cannot be served
        out = {"params": 1 - self.params / self.baseline.params,
               "tokens": 1 - self.tokens / self.baseline.tokens,
               "flops": None if not theirs_flops else 1 - self.costs.total_flops / theirs_flops}
        ours, theirs = self.costs.total_cost_pv_usd, self.baseline.costs.total_cost_pv_usd
        out["cost_usd"] = None if ours is None or not theirs else 1 - ours / theirs
        return out

    def as_row(self) -> dict:
        """Return the plan as one flat row of scalars (sweeps, comparisons, CSV).

        Returns
        -------
        dict
            Base units; the binding constraints as a ";"-separated list of their names.
            The row function (:mod:`.rows`) wrote it, as it writes a sweep's rows.
        """
        return dict(self.row)

    def as_dict(self) -> dict:
        """Return every field as JSON-ready values (the JSON export).

        Returns
        -------
        dict
            The figures, objective, savings, binding limits with shadow prices in their
            settings' units, baseline, certificate, law, warnings, cash flow,
            uncertainty, serving and alternatives.
        """
        base = self.baseline
        return {
            **self.figures_dict(), "target_loss": self.target_loss,
            "objective": {"minimize": self.objective, "unit": self.objective_unit,
                          "value": self.objective_value},
            "savings": self.savings(),
            "binding": {b.name: b.shadow_price for b in self.binding},
            "binding_detail": [{"name": b.name, "label": b.label, "key": b.key, "value": b.setting,
                                "unit": b.unit, "multiplier": b.multiplier, "shadow_price": b.shadow_price,
                                "shadow_price_unit": f"{self.objective_unit} per {b.unit}"}
                               for b in self.binding],
            "baseline": {"params": base.params, "tokens": base.tokens,
                         "tokens_per_param": base.tokens_per_param, "loss": base.loss,
                         **base.costs.as_dict(), "objective_value": base.objective_value},
            "certificate": {"kkt_residual": self.certificate.kkt_residual,
                            "methods_agree": self.certificate.methods_agree,
                            "agreement": self.certificate.agreement,
                            "polished_agreement": (None if math.isnan(self.certificate.polished_agreement)
                                                   else self.certificate.polished_agreement),
                            "status": self.certificate.status,
                            "methods": list(self.certificate.methods)},
            "law": {"name": self.law_name, "source": self.law_source},
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
            "cash_flow": None if self.cash_flow is None else self.cash_flow.as_dict(),
            "uncertainty": None if self.uncertainty is None else self.uncertainty.as_dict(),
            "serving": None if self.serving is None else self.serving.as_dict(),
            "alternatives": [a.as_dict() for a in self.alternatives],
        }


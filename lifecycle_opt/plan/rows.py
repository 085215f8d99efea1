"""The row of a plan: every reported number of a plan from its scenario's facts and its
N and D, for one plan (n = 1) or a million at once.

A plan's costs are linear in N·D (training) and in N (serving) for a given scenario
(docs/model.md §3), so a scenario reduces to a few numbers, its *facts*: the costs of
the unit plan N = D = 1 (from :meth:`CostModel.breakdown`, the one home of the cost
arithmetic), the NPV of a GPU-hour, the law in its posynomial form for the baseline,
the context of the warnings and the names a row carries. :func:`plan_columns` turns
facts and plans into columns. The exact path (:mod:`.certified`) builds its Solution
from them, and the sweep writes them: a sweep row, ``Solution.as_row()`` and the
workbook's cached values are the same numbers.
"""
from __future__ import annotations

__all__ = ["ROW_STATUSES", "status_of", "trained_figures", "TRAIN_FIELDS", "INFER_FIELDS", "LOSS_FACTS", "BASELINE_COSTS",
           "SERVING_FIELDS", "OVERFLOW_MESSAGE", "overflow", "row_facts", "stack_facts", "cost_columns", "baseline_plans", "plan_columns", "row_fields", "numeric_fields", "INT_FIELDS", "plain_column", "rows_of", "field_unit", "breakdown_of"]

import functools
import math

import numpy as np

from ..errors import InfeasibleError, LifecycleError, ScenarioError
from ..model.costs import CostBreakdown
from ..model.laws import DataConstrainedLaw
from ..model.frontier import compute_optimal_at_reducible
from ..model.presets import preset
from ..model.downstream import error_from_loss
from ..model.quantisation import critical_tokens, ptq_degradation
from ..scenario.schema import OBJECTIVE_UNITS, Scenario, Target
from .cautions import CAUTION_TEXTS, caution_context, caution_mask, caution_texts

#: what a row's "status" says: a certified plan, or why there is none
ROW_STATUSES = ("optimal", "infeasible", "invalid", "failed")


def status_of(error: LifecycleError) -> str:
    """The row status of a point that raised ``error``: "invalid" (the scenario is
    malformed), "infeasible" (no plan meets every limit) or "failed" (no certified optimum)."""
    if isinstance(error, ScenarioError):
        return "invalid"
    if isinstance(error, InfeasibleError):
        return "infeasible"
    return "failed"

#: cost fields proportional to N·D (training) and to N (serving)
TRAIN_FIELDS = ("training_flops", "training_gpu_hours", "training_days", "training_cost_usd",
                "training_cost_pv_usd")
INFER_FIELDS = ("inference_flops", "inference_gpu_hours", "inference_cost_usd", "inference_cost_pv_usd",
                "serving_gpus")

#: facts decided by the [law], [target] and [data] sections (the rest by costs and limits)
LOSS_FACTS = ("law_E", "law_A", "law_B", "law_alpha", "law_beta", "law_power", "law",
              "unique_tokens", "target_loss", "quant_scale", "quant_gamma_d", "quant_gamma_n",
              "moe_total_per_active", "moe_experts", "moe_active_experts", "down_epsilon", "down_k", "down_gamma",
              "target_error") + tuple(
    f"caution_{k}" for k in ("max_params", "min_params", "max_flops", "max_tokens", "unique",
                             "penalty", "penalty_off_law", "kaplan"))


def trained_figures(scenario: Scenario, N: float, D: float) -> tuple[float, float, float]:
    """(loss [nats], N' [parameters], D' [tokens]) of the trained model of N parameters on D
    tokens: its loss before any quantisation, and its effective parameters and tokens under
    the repetition penalty (N and D without it)."""
    law = scenario.trained_law
    if isinstance(law, DataConstrainedLaw):
        return float(law.loss(N, D)), float(law.effective_params(N, D)), float(law.effective_tokens(D))
    return float(law.loss(N, D)), N, D


def row_facts(scenario: Scenario) -> dict:
    """The numbers and names of ``scenario`` that its plans' rows need (see the module
    docstring); None for what the scenario does not price."""
    unit = scenario.costs.breakdown(1.0, 1.0)
    facts = {f"per_{f}": getattr(unit, f) for f in TRAIN_FIELDS + INFER_FIELDS}
    E, A, B, alpha, beta, power = scenario.law.posynomial_form()
    facts.update(law_E=E, law_A=A, law_B=B, law_alpha=alpha, law_beta=beta, law_power=power)
    facts.update(_npv_per_gpu_hour(scenario))
    q, moe, m = scenario.quantisation, scenario.moe, scenario.downstream
    facts.update(down_epsilon=m.epsilon if m else math.nan, down_k=m.k if m else math.nan,
                 down_gamma=m.gamma if m else math.nan,
                 target_error=scenario.target.error if scenario.target and scenario.target.error is not None
                 else math.nan)
    facts.update(quant_scale=q.scale if q else math.nan, quant_gamma_d=q.gamma_D if q else math.nan,
                 quant_gamma_n=q.gamma_N if q else math.nan, moe_total_per_active=moe.total_per_active,
                 moe_experts=float(moe.experts), moe_active_experts=float(moe.active_experts))
    facts.update({f"caution_{k}": v for k, v in caution_context(scenario).items()})
    facts.update(scenario=scenario.name, objective=scenario.objective, law=scenario.loss_law.name,
                 objective_unit=OBJECTIVE_UNITS[scenario.objective],
                 unique_tokens=scenario.data.unique_tokens,
                 target_loss=scenario.target.loss if scenario.target else None)
    return facts


def _npv_per_gpu_hour(s: Scenario) -> dict:
    """NPV of one training GPU-hour and of one serving GPU-hour [$] (the cash flow is
    linear in both); nan without a [finance] section."""
    if s.finance is None:
        return {"npv_train": math.nan, "npv_infer": math.nan}
    t, i = s.training, s.inference
    tp, ip = (t.price_per_gpu_hour if t else None), (i.price_per_gpu_hour if i else None)
    return {"npv_train": s.finance.cash_flow(1.0, tp, 0.0, ip).npv_usd,
            "npv_infer": s.finance.cash_flow(0.0, tp, 1.0, ip).npv_usd}


def stack_facts(many: list[dict]) -> dict:
    """Facts of many scenarios as arrays, one element per scenario: numbers as float
    arrays (None as nan), names as object arrays."""
    out = {}
    for key in many[0]:
        values = [f[key] for f in many]
        if all(v is None or (isinstance(v, (int, float, np.floating)) and not isinstance(v, bool))
               for v in values):
            out[key] = np.array([math.nan if v is None else v for v in values], dtype=float)
        else:
            out[key] = np.array(values, dtype=object)
    return out


def cost_columns(facts: dict, N, D, serving: dict | None = None) -> dict:
    """Every cost of the plans (N [parameters], D [tokens]) as arrays, with the totals:
    the fields of :class:`CostBreakdown` (nan where a scenario does not price them).
    ``serving`` gives the INFER_FIELDS of plans under the roofline serving model, whose
    serving cost is not linear in N (from :meth:`CostModel.breakdown` at their point)."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    with np.errstate(over="ignore"):                  # an overflow makes the row invalid (overflow)
        out = {f: facts[f"per_{f}"] * N * D for f in TRAIN_FIELDS}
        out.update({f: facts[f"per_{f}"] * N for f in INFER_FIELDS} if serving is None else
                   {f: np.asarray(serving[f], dtype=float) for f in INFER_FIELDS})
    out["total_flops"] = out["training_flops"] + out["inference_flops"]
    out["total_cost_usd"] = out["training_cost_usd"] + out["inference_cost_usd"]
    out["total_cost_pv_usd"] = out["training_cost_pv_usd"] + out["inference_cost_pv_usd"]
    return out


def baseline_plans(facts: dict, loss) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) of the compute-optimal plan reaching ``loss`` under each scenario's base law
    with unlimited fresh data: the reducible part P = L^(1/power) − E split on the frontier
    (:func:`~lifecycle_opt.model.laws.compute_optimal_at_reducible`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        P = np.asarray(loss, dtype=float) ** (1.0 / facts["law_power"]) - facts["law_E"]
        return compute_optimal_at_reducible(P, facts["law_A"], facts["law_B"], facts["law_alpha"],
                                            facts["law_beta"])


def plan_columns(facts: dict, N, D, *, loss, effective_tokens, objective_value, kkt_residual,
                 binding: list[str], extra_warnings: tuple[str, ...] = (), serving: dict | None = None,
                 baseline_serving: dict | None = None, serving_row: dict | None = None) -> dict:
    """The rows of plans (N, D) as columns {field: array or list}, in row order.

    ``facts`` are :func:`stack_facts` arrays (one element per plan); ``loss`` [nats],
    ``effective_tokens`` [tokens], ``objective_value`` and ``kkt_residual`` come from the
    solver; ``binding`` is each plan's binding constraints joined by ";" (a list or an
    object array);
    ``extra_warnings`` are the texts of warnings only a certificate knows (solvers
    disagreeing, a rounded serving point): "warnings" counts every warning and
    "warning_texts" says them (:func:`.cautions.caution_texts`).
    Under the roofline serving model, ``serving`` and ``baseline_serving`` are the serving
    costs of the plans and their baselines (see :func:`cost_columns`) and ``serving_row``
    the SERVING_FIELDS of the plans; nan for the MFU model."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    costs = cost_columns(facts, N, D, serving)
    Nb, Db = baseline_plans(facts, loss)
    base = cost_columns(facts, Nb, Db, baseline_serving)
    npv = facts["npv_train"] * costs["training_gpu_hours"] + facts["npv_infer"] * costs["inference_gpu_hours"]
    context = {k[len("caution_"):]: v for k, v in facts.items() if k.startswith("caution_")}
    mask = np.broadcast_to(caution_mask(context, N, D, costs["training_flops"], costs["inference_flops"],
                                        costs["training_days"]), N.shape)
    warnings = sum((mask >> i) & 1 for i in range(len(CAUTION_TEXTS))) + len(extra_warnings)
    n = N.shape[0]
    num = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (n,))      # noqa: E731
    quality = _quality_columns(facts, N, D, num(loss))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "scenario": facts["scenario"], "status": np.where(overflow(costs), "invalid", "optimal").astype(object),
            "params": N, "tokens": D, "tokens_per_param": D / N, "loss": num(loss),
            # a mixture of experts: N is the active parameters, the law's (docs/model.md §10)
            "active_params": N, "total_params": N * facts["moe_total_per_active"],
            "experts": num(facts["moe_experts"]), "active_experts": num(facts["moe_active_experts"]),
            "target_loss": facts["target_loss"], **quality, "unique_tokens": facts["unique_tokens"],
            "epochs": D / facts["unique_tokens"], "effective_tokens": num(effective_tokens),
            **{k: num(costs[k]) for k in _COST_ORDER},
            "npv_usd": npv, "objective": facts["objective"], "objective_unit": facts["objective_unit"],
            "objective_value": num(objective_value), "overtraining_ratio": (D / N) / (Db / Nb),
            "baseline_params": Nb, "baseline_tokens": Db, "baseline_tokens_per_param": Db / Nb,
            "baseline_total_flops": base["total_flops"],
            "baseline_total_cost_pv_usd": base["total_cost_pv_usd"],
            "savings_flops": 1 - costs["total_flops"] / base["total_flops"],
            "savings_cost": np.where(base["total_cost_pv_usd"] != 0,
                                         1 - costs["total_cost_pv_usd"] / base["total_cost_pv_usd"], np.nan),
            "binding": binding if isinstance(binding, np.ndarray) else list(binding),
            "kkt_residual": num(kkt_residual), "law": facts["law"],
            "warnings": np.broadcast_to(np.asarray(warnings, dtype=int), (n,)),
            "warning_texts": caution_texts(mask, tuple(extra_warnings)),
            **{f: num(math.nan if serving_row is None else serving_row[f]) for f in SERVING_FIELDS},
            BASELINE_COSTS: base}


#: the serving point of a plan under the roofline serving model (nan under the MFU model):
#: replica size [GPUs], batch [sequences], TPOT and TTFT [ms], tokens/s per GPU, dollars per
#: million generated and prompt tokens, the implied decode MFU, what rounding cost [$]
SERVING_FIELDS = ("serving_replica_gpus", "serving_batch", "serving_tpot_ms", "serving_ttft_ms",
                  "serving_tokens_per_second_per_gpu", "serving_usd_per_million_output_tokens",
                  "serving_usd_per_million_input_tokens", "serving_implied_decode_mfu",
                  "serving_rounding_cost_usd")
def _quality_columns(facts: dict, N, D, loss) -> dict:
    """The served model's quality: the loss after quantising its weights, the degradation,
    the critical token count past which more training makes the served model worse
    (Kumar et al. 2024, eq. 2 and 13; nan without ``[quantisation]``), and the benchmark
    error of the served loss (Gadre et al. 2024; nan without ``[downstream]``)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        delta = ptq_degradation(N, D, facts["quant_scale"], facts["quant_gamma_d"], facts["quant_gamma_n"])
        crit = critical_tokens(N, facts["law_B"], facts["law_beta"], facts["quant_scale"], facts["quant_gamma_d"],
                               facts["quant_gamma_n"])
        served = np.where(np.isnan(delta), loss, loss + delta)
        error = error_from_loss(served, facts["down_epsilon"], facts["down_k"], facts["down_gamma"])
    return {"loss_after_quantisation": loss + delta, "quantisation_degradation": delta, "critical_tokens": crit,
            "error": error, "target_error": np.broadcast_to(facts["target_error"], np.shape(loss))}


def overflow(costs: dict) -> np.ndarray:
    """Plans whose costs overflow a double (a demand of 1e308 tokens): such a point is
    invalid, not an optimum with infinite costs."""
    return np.any([np.isinf(np.asarray(costs[f], dtype=float)) for f in _COST_ORDER], axis=0)


#: what a row's message says of a point whose costs overflow
OVERFLOW_MESSAGE = ("the plan's costs overflow a double (beyond 1e308): check the demand, prices and limits "
                    "for a value off by many orders of magnitude")


#: the key under which :func:`plan_columns` hands over the baseline's costs (not a row field)
BASELINE_COSTS = "_baseline_costs"
#: cost columns in the order of :meth:`CostBreakdown.as_dict`
_COST_ORDER = ("training_flops", "inference_flops", "total_flops", "training_gpu_hours",
               "inference_gpu_hours", "training_days", "training_cost_usd", "inference_cost_usd",
               "total_cost_usd", "training_cost_pv_usd", "inference_cost_pv_usd", "total_cost_pv_usd",
               "serving_gpus")


@functools.cache
def _example_columns() -> dict:
    """The columns of a one-plan example, from which the fields are read (so that no list
    is kept by hand)."""
    facts = stack_facts([row_facts(Scenario(name="example", law=preset("hoffmann2022"),
                                            target=Target(loss=2.0)))])
    one = np.ones(1)
    columns = plan_columns(facts, 1e9 * one, 2e10 * one, loss=2.0 * one, effective_tokens=2e10 * one,
                           objective_value=one, kkt_residual=0 * one, binding=[""])
    return {k: v for k, v in columns.items() if k != BASELINE_COSTS}


def row_fields() -> tuple[str, ...]:
    """The fields of a plan's row, in order: the keys of :func:`plan_columns`."""
    return tuple(_example_columns())


def numeric_fields() -> tuple[str, ...]:
    """The fields of a row that hold numbers (the others hold text)."""
    return tuple(k for k, v in _example_columns().items()
                 if isinstance(v, np.ndarray) and v.dtype.kind in "fiu")


def breakdown_of(columns: dict, i: int = 0) -> CostBreakdown:
    """The :class:`CostBreakdown` of plan ``i`` of :func:`cost_columns` (nan → None)."""
    return CostBreakdown(**{f: _number(columns[f][i]) for f in TRAIN_FIELDS + INFER_FIELDS})


def _number(x):
    x = float(x)
    return None if math.isnan(x) else x



#: row fields that hold whole numbers (a sweep's columns keep every number as a float)
INT_FIELDS = ("warnings", "experts", "active_experts")


def plain_column(key: str, column) -> list:
    """A column of rows as a list of plain Python values: nan → None, whole-number fields
    as int, numpy scalars as Python ones (a list is returned as it is)."""
    if not isinstance(column, np.ndarray):
        return column
    if column.dtype.kind == "f":
        listed = column.tolist()
        if key in INT_FIELDS:
            return [None if v != v else int(v) for v in listed]
        return [None if v != v else v for v in listed] if np.isnan(column).any() else listed
    return [v.item() if isinstance(v, np.generic) else v for v in column]


def rows_of(columns: dict, keys=None):
    """The rows of columns {field: array or list}, as dicts of plain Python values (None
    where a point has no value), in the order of ``keys`` (default: the columns')."""
    keys = list(columns) if keys is None else list(keys)
    lists = [plain_column(k, columns[k]) for k in keys]
    for values in zip(*lists):
        yield dict(zip(keys, values))


#: (part of a row field's name, its unit, its number format): the first that matches — a
#: part ending in "_" is a prefix, one between "_" on both sides may stand anywhere, the
#: rest are endings
_FIELD_UNITS = (("savings_", "fraction", "pct"), ("_usd_per_million_", "$ per million tokens", "money"),
                ("_usd", "$", "money"), ("npv", "$", "money"),
                ("loss_after_quantisation", "nats/token", "loss"), ("_degradation", "nats/token", "loss"),
                ("experts", "experts", "count"), ("error", "fraction", "pct"),
                ("flops", "FLOP", "sci"),
                ("tokens_per_param", "tokens/parameter", "num"), ("_ratio", "×", "num"),
                ("gpu_hours", "GPU-hours", "count"), ("serving_gpus", "GPUs", "num"), ("days", "days", "num"),
                ("tokens", "tokens", "count"), ("params", "parameters", "count"), ("epochs", "epochs", "num"),
                ("loss", "nats/token", "loss"), ("_mfu", "fraction", "pct"),
                ("_ms", "ms", "num"), ("kkt_residual", "–", "sci"))


def field_unit(key: str):
    """(unit, number format) of a row field by its name ("total_cost_pv_usd": "$", "money"); (None, None)
    for a field without a unit."""
    for part, unit, fmt in _FIELD_UNITS:
        if part.startswith("_") and part.endswith("_"):
            if part in key:
                return unit, fmt
        elif key.endswith(part) or (part.endswith("_") and key.startswith(part)):
            return unit, fmt
    return None, None

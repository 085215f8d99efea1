"""The warnings a plan carries: extrapolation beyond the law's fitted range, heavy
repetition, a law mixed with a penalty it was not fitted with, serving ignored by a loss
objective, training longer than its months. One list of tests (:func:`_caution_tests`)
serves a single plan (the messages) and a batch of plans (the counts in sweep rows)."""
from __future__ import annotations

__all__ = ["caution_context", "caution_count", "caution_mask", "caution_texts", "CAUTION_TEXTS", "plan_warnings"]

import math

import numpy as np

from ..model.constants import DAYS_PER_MONTH
from ..model.laws import KaplanLaw
from ..model.units import format_count
from ..scenario.schema import Scenario


def caution_context(scenario: Scenario) -> dict:
    """The scenario facts the plan's warnings depend on, as plain numbers and flags (nan and
    False where absent), so that :func:`caution_count` can test many plans at once."""
    law, fitted, fin = scenario.law, scenario.law.fitted, scenario.finance
    nan = math.nan

    def limit(name):
        value = getattr(fitted, name, None) if fitted is not None else None
        return float(value) if value else nan
    return {"max_params": limit("max_params"), "min_params": limit("min_params"),
            "max_flops": limit("max_flops"), "max_tokens": limit("max_tokens"),
            "unique": nan if scenario.data.unique_tokens is None else float(scenario.data.unique_tokens),
            "penalty": bool(scenario.data.repetition_penalty),
            "penalty_off_law": bool(scenario.data.repetition_penalty and law.name != "muennighoff2023"),
            "kaplan": isinstance(law, KaplanLaw), "minimise_loss": scenario.objective == "loss",
            "max_days": nan if fin is None else fin.training_months * DAYS_PER_MONTH * 1.05,
            # the joint MoE law was fitted on E 1-32; the quantisation constants on 30-220M
            # parameters (their ranges, docs/model.md §10 and §11)
            "beyond_experts": bool(scenario.joint_law is not None
                                   and scenario.moe.experts > scenario.joint_law.fitted_experts[1]),
            "quant_max_params": (_QUANT_FITTED_MAX_PARAMS if scenario.quantisation is not None
                                 and scenario.quantisation.name == "kumar2024" else nan)}


#: the largest model Kumar et al. 2024 fitted their quantisation constants on [parameters]
_QUANT_FITTED_MAX_PARAMS = 2.2e8


def _caution_tests(c: dict, N, D, training_flops, inference_flops, training_days):
    """(condition, name) of every warning; scalars or arrays alike (nan compares False)."""
    epochs = D / c["unique"]
    days = np.nan if training_days is None else training_days
    return [
        (N > 1.5 * c["max_params"], "beyond_max_params"),
        (N < c["min_params"] / 1.5, "below_min_params"),
        (training_flops > 10 * c["max_flops"], "beyond_max_flops"),
        (D > 1.5 * c["max_tokens"], "beyond_max_tokens"),
        (epochs > 4, "epochs"),
        (np.logical_and(epochs > 1, np.logical_not(c["penalty"])), "repeated_without_penalty"),
        (c["penalty_off_law"], "penalty_law"),
        (c["kaplan"], "kaplan"),
        (np.logical_and(c["minimise_loss"], inference_flops > 0.5 * training_flops), "serving_ignored"),
        (days > c["max_days"], "training_too_long"),
        (c["beyond_experts"], "beyond_experts"),
        (N > 1.5 * c["quant_max_params"], "quantisation_extrapolated"),
    ]


def caution_count(c: dict, N, D, training_flops, inference_flops, training_days):
    """How many warnings each plan gets (arrays: one element per plan; the context's values
    may be arrays too). The solvers-disagree warning needs a certificate and is not counted."""
    total = 0
    for condition, _ in _caution_tests(c, N, D, training_flops, inference_flops, training_days):
        total = total + np.asarray(condition, dtype=int)
    return total


def caution_mask(c: dict, N, D, training_flops, inference_flops, training_days) -> np.ndarray:
    """Which warnings each plan gets, as one integer a plan (bit i: the i-th test of
    :func:`_caution_tests`), so that plans with the same warnings share one number."""
    mask = np.zeros(np.shape(N), dtype=np.int64)
    for i, (condition, _) in enumerate(_caution_tests(c, N, D, training_flops, inference_flops, training_days)):
        mask = mask | (np.asarray(condition, dtype=np.int64) << i)
    return mask


#: what each warning says in a row of many plans: no number of the plan in it (the report of
#: one plan says how far; see plan_warnings), so that plans with the same warnings share a text
CAUTION_TEXTS = {
    "beyond_max_params": "extrapolation: more parameters than the largest model the law was fitted on",
    "below_min_params": "extrapolation: fewer parameters than the smallest model the law was fitted on",
    "beyond_max_flops": "extrapolation: over 10x the training compute of the largest run the law was fitted on",
    "beyond_max_tokens": "extrapolation: more training tokens than the longest run the law was fitted on",
    "epochs": "over 4 epochs over the unique corpus: repeated data is worth less than fresh (Muennighoff et al. 2023)",
    "repeated_without_penalty": "data repeated with data.repetition_penalty off: repeated tokens counted as fresh",
    "penalty_law": "the repetition penalty used with a law other than muennighoff2023, which it was fitted with",
    "kaplan": "kaplan2020's sizes and losses are not comparable with the Chinchilla-form laws",
    "serving_ignored": "a loss objective ignores serving, which is over half the training compute here",
    "training_too_long": "training takes longer than finance.training_months: the cash flow serves too early",
    "beyond_experts": "extrapolation: more experts than the joint law was fitted on",
    "quantisation_extrapolated": "extrapolation: the quantisation constants were fitted on 30-220M parameters",
}


def caution_texts(mask: np.ndarray, extra: tuple[str, ...] = ()) -> np.ndarray:
    """The texts of each plan's warnings (:data:`CAUTION_TEXTS`, then ``extra``) joined by
    " | ", as an object array: joined once per distinct set of warnings, not once per plan
    (a million plans have a handful of sets)."""
    names = [name for _, name in _caution_tests(_NO_CONTEXT, 1.0, 1.0, 1.0, 0.0, None)]
    mask = np.asarray(mask, dtype=np.int64)
    # a mask is below 2**12 (12 tests): a table indexed by it, filled where a plan has it,
    # is one pass over the plans (np.unique sorted them: 3x slower on a 65,536-point chunk)
    present = np.flatnonzero(np.bincount(mask.ravel(), minlength=1))
    table = np.empty(int(present[-1]) + 1 if present.size else 1, dtype=object)
    for d in present.tolist():
        table[d] = " | ".join([CAUTION_TEXTS[n] for i, n in enumerate(names) if d >> i & 1] + list(extra))
    return table[mask]


#: a context under which no test fires: the tests' names in their order
_NO_CONTEXT = {"max_params": math.nan, "min_params": math.nan, "max_flops": math.nan, "max_tokens": math.nan,
               "unique": math.nan, "penalty": False, "penalty_off_law": False, "kaplan": False,
               "minimise_loss": False, "max_days": math.nan, "beyond_experts": False, "quant_max_params": math.nan}


def plan_warnings(scenario: Scenario, N, D, costs, certificate) -> list[str]:
    c = caution_context(scenario)
    law, fitted = scenario.law, scenario.law.fitted
    U = scenario.data.unique_tokens
    epochs = D / U if U is not None else math.nan
    fin = scenario.finance
    messages = {
        "beyond_max_params": lambda: (
            f"extrapolation: {format_count(N)} parameters is beyond the largest model the law was "
            f"fitted on ({format_count(fitted.max_params)}); fit your own law on IsoFLOP runs before "
            f"committing a large budget"),
        "below_min_params": lambda: (
            f"extrapolation: {format_count(N)} parameters is below the smallest model the law was "
            f"fitted on ({format_count(fitted.min_params)})"),
        "beyond_max_flops": lambda: (
            f"extrapolation: {costs.training_flops:.3g} FLOP of training is "
            f"{costs.training_flops / fitted.max_flops:.0f}x the largest run the law was fitted on "
            f"({fitted.max_flops:.3g} FLOP)"),
        "beyond_max_tokens": lambda: (
            f"extrapolation: {format_count(D)} training tokens is beyond the longest run the law "
            f"was fitted on ({format_count(fitted.max_tokens)})"),
        "epochs": lambda: (
            f"{epochs:.1f} epochs over the unique corpus: past about 16 epochs extra repetitions "
            f"are worth little (Muennighoff et al. 2023)" if epochs > 16 else
            f"{epochs:.1f} epochs over the unique corpus: past about 4 epochs repeated data is "
            f"worth noticeably less than fresh data (Muennighoff et al. 2023)"),
        "repeated_without_penalty": lambda: (
            "data is repeated but data.repetition_penalty is off: the law treats repeated tokens "
            "as fresh, which overstates their value"),
        "penalty_law": lambda: (
            f"the repetition penalty (R_D*, R_N*) was fitted with the muennighoff2023 law; using it "
            f"with {law.name} is an extrapolation"),
        "kaplan": lambda: (
            "kaplan2020 counts non-embedding parameters on a different corpus and tokenizer: its "
            "losses and sizes are not comparable with the Chinchilla-form laws"),
        "serving_ignored": lambda: (
            f"this plan minimises loss for its budget and ignores serving cost, yet inference is "
            f"{costs.inference_flops / costs.training_flops:.1f}x the training compute: a smaller "
            f"model trained longer would serve cheaper (minimize = \"cost\")"),
        "beyond_experts": lambda: (
            f"extrapolation: {scenario.moe.experts} experts is beyond the {scenario.joint_law.fitted_experts[1]} "
            f"the joint law was fitted on"),
        "quantisation_extrapolated": lambda: (
            f"extrapolation: the quantisation constants (kumar2024) were fitted on 30-220M parameters; at "
            f"{format_count(N)} trust the trend (more training hurts quantised models), not the figure"),
        "training_too_long": lambda: (
            f"training takes {costs.training_days:.0f} days on {scenario.training.gpus} GPUs, longer "
            f"than finance.training_months = {fin.training_months}: the cash flow starts serving "
            f"too early"),
    }
    out = [messages[name]() for condition, name in
           _caution_tests(c, N, D, costs.training_flops, costs.inference_flops, costs.training_days)
           if condition]
    if not certificate.methods_agree:
        out.append(f"the two solvers differ from the polished plan by {certificate.agreement:.2e} "
                   f"(tolerance {certificate.agreement_tol:g}); the KKT certificate still holds")
    return out

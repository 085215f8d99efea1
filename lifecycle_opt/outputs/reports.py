"""Solution → text: the tables a planner reads (tabulate), the JSON and CSV documents.

Reports read a :class:`~lifecycle_opt.plan.solution.Solution`; they never recompute the plan.
"""
from __future__ import annotations

__all__ = ["strict", "csv_writer", "REFERENCE_MODELS", "money_basis", "render_table", "render_json", "render_csv", "shadow_price_text",
           "render_rows", "render_rows_csv", "render_rows_json", "objective_label", "plan_basis", "varied_text",
           "neutralise"]

import io
from collections.abc import Sequence
import json
import math

import numpy as np

from ..plan.solution import Binding, Solution
from ..model.constants import SECONDS_PER_DAY
from ..model.units import format_count, format_count_column, format_duration, format_flops, format_gpu_hours, format_money, format_money_column, format_number, format_plain
from ..model.setting_units import per_unit_text
from ..scenario.registry import entry
from .cash_years import year_spans
from .serving_report import serving_section
from .text_cells import csv_chunk, csv_header, csv_writer, neutralise


def tabulate(*args, **kwargs) -> str:
    from tabulate import tabulate as table      # on first use: `--format json` needs none
    return table(*args, **kwargs)

#: Published plans (parameters, training tokens) for the over-training report.
#: Sources: GPT-3 — Brown et al. 2020 Table 2.2 (175B, 300B); Gopher — Rae et al. 2021 (280B, 300B);
#: Chinchilla — Hoffmann et al. 2022 (70B, 1.4T); LLaMA — Touvron et al. 2023a Table 2
#: (7B/13B on 1T, 33B/65B on 1.4T); Llama 2 — Touvron et al. 2023b (2T tokens);
#: Llama 3 — Meta 2024, "The Llama 3 Herd of Models" (8B/70B on 15T, 405B on 15.6T).
REFERENCE_MODELS: tuple[tuple[str, float, float], ...] = (
    ("GPT-3", 175e9, 300e9),
    ("Gopher", 280e9, 300e9),
    ("Chinchilla", 70e9, 1.4e12),
    ("LLaMA 7B", 6.7e9, 1.0e12),
    ("LLaMA 13B", 13.0e9, 1.0e12),
    ("LLaMA 33B", 32.5e9, 1.4e12),
    ("LLaMA 65B", 65.2e9, 1.4e12),
    ("Llama 2 7B", 7e9, 2e12),
    ("Llama 2 13B", 13e9, 2e12),
    ("Llama 2 70B", 70e9, 2e12),
    ("Llama 3 8B", 8e9, 15e12),
    ("Llama 3 70B", 70e9, 15e12),
    ("Llama 3.1 405B", 405e9, 15.6e12),
)

def money_basis(present_value: bool) -> str:
    """What a plan's dollars are: "present value" (discounted, with ``[finance]``) or
    "nominal" (undiscounted); every money figure of a report says which."""
    return "present value" if present_value else "nominal"


def plan_basis(sol: Solution) -> str:
    """The basis of a solved plan's dollars (:func:`money_basis`)."""
    return money_basis(sol.cash_flow is not None)


def objective_label(sol: Solution) -> str:
    """'cost (usd, present value)': the objective, its unit and, for dollars, their basis."""
    unit = f"{sol.objective_unit}, {plan_basis(sol)}" if sol.objective_unit == "usd" else sol.objective_unit
    return f"{sol.objective} ({unit})"


def _objective_amount(sol: Solution, x: float) -> str:
    if sol.objective_unit == "usd":
        return format_money(x)
    if sol.objective_unit == "flops":
        return format_flops(x)
    return f"{x:.4g} nats"


def shadow_price_text(sol: Solution, b: Binding) -> str:
    """'$1.2M per billion parameters' — the shadow price per an amount of the setting's own
    unit that reads well (:func:`~lifecycle_opt.model.units.per_unit_text`)."""
    unit, size = per_unit_text(b.unit)
    return f"{_objective_amount(sol, b.shadow_price * size)} per {unit}"


def _flop(x):
    return "—" if x is None else format_flops(x)


def _money(x):
    return "—" if x is None else format_money(x)


def _hours(x):
    return "—" if x is None else format_gpu_hours(x)


def _serving_period(sol: Solution) -> str:
    """'730 days, 42.3 GPUs on average' when the serving period is known."""
    if sol.serving_days is None:
        return ""
    gpus = sol.costs.serving_gpus
    return f"{format_plain(sol.serving_days)} days" + ("" if gpus is None else f", {format_plain(gpus, 3)} GPUs on average")


def render_table(sol: Solution) -> str:
    """The full human report: the plan, its costs, over-training and savings against the
    compute-optimal plan, the binding constraints and the certificate."""
    out = [f"lifeopt plan: {sol.scenario_name}",
           f"law: {sol.law_name} — {sol.law_source}",
           f"objective: minimise {objective_label(sol)} = "
           f"{_objective_amount(sol, sol.objective_value)}", ""]
    out += _plan_section(sol) + _costs_section(sol)
    if sol.cash_flow is not None:
        out += _cash_flow_section(sol.cash_flow)
    if sol.serving is not None:
        out += serving_section(sol.serving)
    out += _choice_section(sol) + _overtraining_section(sol) + _savings_section(sol) + _binding_section(sol)
    if sol.uncertainty is not None:
        out += _uncertainty_section(sol)
    out += _certificate_section(sol)
    if sol.warnings:
        out += ["", "WARNINGS"] + [f"- {w}" for w in sol.warnings]
    if sol.assumptions:
        out += ["", "ASSUMPTIONS"] + [f"- {a}" for a in sol.assumptions]
    return "\n".join(out) + "\n"


def _plan_section(sol: Solution) -> list[str]:
    target = f" (target {sol.target_loss:.4f})" if sol.target_loss is not None else ""
    plan = [("parameters N", format_count(sol.params)),
            ("training tokens D", format_count(sol.tokens)),
            ("tokens per parameter", f"{sol.tokens_per_param:.1f}")]
    if sol.row.get("experts", 1) != 1:
        plan.insert(1, ("mixture of experts", _mixture_text(sol)))
    served = sol.loss_after_quantisation
    if served is None:
        plan.append(("predicted loss", f"{sol.loss:.4f}{target}"))
    else:
        crit = sol.row["critical_tokens"]
        plan += [("predicted loss, trained", f"{sol.loss:.4f}"),
                 ("loss after quantisation", f"{served:.4f}{target}: + {sol.row['quantisation_degradation']:.4f} "
                                             "(Kumar et al. 2024, eq. 2)"),
                 ("critical tokens D_crit", f"{format_count(crit)}: past it, more training makes the served "
                                            f"model worse (eq. 13); this plan trains {sol.tokens / crit:.2f}x that")]
    error = sol.row.get("error")
    if error is not None:
        target_error = sol.row.get("target_error")
        plan.append(("benchmark error", f"{error:.4f}" + ("" if target_error is None else f" (target {target_error:.4f})")
                     + " from the served loss: Err(L) = epsilon - k*exp(-gamma*L) (Gadre et al. 2024)"))
    if sol.unique_tokens is not None:
        plan += [("unique tokens U", format_count(sol.unique_tokens)),
                 ("epochs over U", f"{sol.epochs:.2f}"),
                 ("effective tokens D'", format_count(sol.effective_tokens)),
                 ("effective parameters N'", format_count(sol.effective_params))]
    return ["PLAN", tabulate(plan, tablefmt="simple"), ""]


def _mixture_text(sol: Solution) -> str:
    """'8 experts, 1 active: 1.7B active / 9.4B total parameters'."""
    r = sol.row
    return (f"{r['experts']:g} experts, {r['active_experts']:g} active: {format_count(r['active_params'])} active / "
            f"{format_count(r['total_params'])} total parameters")


def _costs_section(sol: Solution) -> list[str]:
    c = sol.costs
    days = "—" if c.training_days is None else format_duration(c.training_days * SECONDS_PER_DAY)
    nominal = format_money_column([c.training_cost_usd, c.inference_cost_usd, c.total_cost_usd])
    cost_rows = [["training", _flop(c.training_flops), _hours(c.training_gpu_hours), days, nominal[0]],
                 ["inference", _flop(c.inference_flops), _hours(c.inference_gpu_hours),
                  _serving_period(sol), nominal[1]],
                 ["total", _flop(c.total_flops), "", "", nominal[2]]]
    headers = ["", "FLOP", "GPU-hours", "wall-clock", "dollars (nominal)"]
    if sol.cash_flow is not None:
        headers.append("dollars (present value)")
        pv = format_money_column([c.training_cost_pv_usd, c.inference_cost_pv_usd, c.total_cost_pv_usd])
        for row, text in zip(cost_rows, pv):
            row.append(text)
    return ["COSTS", tabulate(cost_rows, headers=headers), ""]


def _overtraining_section(sol: Solution) -> list[str]:
    base, c, bc = sol.baseline, sol.costs, sol.baseline.costs
    money = format_money_column([c.total_cost_pv_usd, bc.total_cost_pv_usd])
    over = [("this plan", format_count(sol.params), format_count(sol.tokens), f"{sol.tokens_per_param:.1f}",
             _flop(c.total_flops), money[0]),
            ("compute-optimal, same loss", format_count(base.params), format_count(base.tokens),
             f"{base.tokens_per_param:.1f}", _flop(bc.total_flops), money[1]),
            ("20 tokens/parameter rule", "", "", "20.0", "", "")]
    refs = [(name, format_count(N), format_count(D), f"{D / N:.1f}") for name, N, D in REFERENCE_MODELS]
    out = ["OVER-TRAINING (against the compute-optimal plan of equal loss under the same law, "
           "unlimited fresh data, no limits)",
           tabulate(over, headers=("", "N", "D", "D/N", "total FLOP", f"total $ ({plan_basis(sol)})")),
           f"over-training ratio: {sol.overtraining_ratio:.2f}x the compute-optimal tokens per "
           f"parameter; {sol.tokens_per_param / 20:.2f}x the 20:1 rule"]
    if bc.total_flops is None:
        out.append("the compute-optimal plan cannot be served: no allowed replica holds its weights and cache")
    return out + ["", "REFERENCE MODELS (published N and D)", tabulate(refs, headers=("model", "N", "D", "D/N")), ""]


def _choice_section(sol: Solution) -> list[str]:
    """Each combination of the scenario's discrete choices with its own certified optimum
    (a mixture of experts beside the dense model, allowed or not)."""
    if not sol.alternatives:
        return []
    best = sol.objective_value
    keys = list(sol.alternatives[0].settings)

    def status(a):
        return "chosen" if a.chosen else ("no plan" if a.objective_value is None else
                                          ("" if a.allowed else "not allowed"))
    values = [a.objective_value for a in sol.alternatives]
    amounts = (format_money_column(values) if sol.objective_unit == "usd" else
               ["—" if v is None else _objective_amount(sol, v) for v in values])
    rows = [[*a.settings.values(), status(a),
             "" if a.params is None else format_count(a.params),
             "" if a.total_params is None else format_count(a.total_params),
             amount,
             "" if a.objective_value is None or a.chosen else f"{100 * (a.objective_value / best - 1):+.2f} %",
             a.note[:100]] for a, amount in zip(sol.alternatives, amounts)]
    return [f"CHOICE of {' and '.join(keys)} (each its own certified optimum)",
            tabulate(rows, headers=(*keys, "", "N (active)", "total params", f"objective ({objective_label(sol)})",
                                    "against the chosen",
                                    "why no plan")), ""]


def _savings_section(sol: Solution) -> list[str]:
    sv = sol.savings()
    sav = [("parameters", f"{100 * sv['params']:+.2f} %"), ("training tokens", f"{100 * sv['tokens']:+.2f} %"),
           ("lifecycle FLOP", "—" if sv["flops"] is None else f"{100 * sv['flops']:+.2f} %")]
    if sv["cost_usd"] is not None:
        sav.append((f"lifecycle dollars ({plan_basis(sol)})", f"{100 * sv['cost_usd']:+.2f} %"))
    return ["SAVINGS against the compute-optimal plan (positive = this plan uses less)",
            tabulate(sav, tablefmt="simple"), ""]


def _binding_section(sol: Solution) -> list[str]:
    if not sol.binding:
        return ["BINDING CONSTRAINTS: none", ""]
    rows = [(b.key, b.label, f"{b.multiplier:.4g}", shadow_price_text(sol, b)) for b in sol.binding]
    return ["BINDING CONSTRAINTS (shadow price: change of the optimal objective per unit the "
            "setting is raised; negative saves)",
            tabulate(rows, headers=("setting", "constraint", "multiplier", "shadow price")), ""]


def _certificate_section(sol: Solution) -> list[str]:
    cert = sol.certificate
    polished = ("" if math.isnan(cert.polished_agreement) or cert.agreement <= cert.agreement_tol
                else f", to {cert.polished_agreement:.1e} after the KKT polish from each")
    if "(failed" in cert.methods[0]:
        # one solver answered: the KKT residual certifies the convex optimum on its own
        opinions = f"the first solver gave no answer, certified by the KKT residual and {cert.methods[1]}"
    else:
        opinions = (f"solvers {'agree' if cert.methods_agree else 'DIFFER'} to {cert.agreement:.1e}{polished}")
    return [f"CERTIFICATE: {cert.status}; relative KKT residual {cert.kkt_residual:.1e}; {opinions} "
            f"({', '.join(cert.methods)})"]


def _cash_flow_section(cf) -> list[str]:
    """Spending by year of the plan (the month-by-month table is in the JSON and XLSX)."""
    years = year_spans(cf.labels)          # the years the workbook's Cash flow totals too
    labels = [y.label for y in years] + ["total"]
    columns = [[sum(cf.training_usd[y.months]) for y in years] + [sum(cf.training_usd)],
               [sum(cf.inference_tokens[y.months]) for y in years] + [sum(cf.inference_tokens)],
               [sum(cf.inference_usd[y.months]) for y in years] + [sum(cf.inference_usd)],
               [sum(cf.present_value[y.months]) for y in years] + [cf.npv_usd]]
    texts = [format_money_column(columns[0]), format_count_column(columns[1]),
             format_money_column(columns[2]), format_money_column(columns[3])]
    rows = [(label, *(t[i] for t in texts)) for i, label in enumerate(labels)]
    out = [f"CASH FLOW by year ({len(cf.labels)} months; discount rate {100 * cf.monthly_rate:.4f} % "
           f"per month, spending discounted to the start of training)",
           tabulate(rows, headers=("months", "training $ (nominal)", "tokens served", "inference $ (nominal)",
                                   "present value")),
           f"nominal spending {_money(cf.total_nominal_usd)}; net present value {_money(cf.npv_usd)}"]
    if cf.energy_kwh is not None:
        out.append(f"energy {format_plain(cf.total_energy_kwh / 1e6)} GWh")
    return out + [""]


def strict(value):
    """``value`` with every non-finite float (inf, nan) as None: JSON has no Infinity or NaN,
    and a reader that follows the standard refuses them."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, Sequence)) and not isinstance(value, str):
        return [strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(sol: Solution) -> str:
    """The Solution as a JSON document (see Solution.as_dict for the fields); strict JSON."""
    return json.dumps(strict(sol.as_dict()), indent=2, allow_nan=False) + "\n"


def _flatten(prefix: str, value, rows: list):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, rows)
    elif isinstance(value, list):
        rows.append((prefix, " | ".join(str(v) if not isinstance(v, dict) else json.dumps(v)
                                        for v in value)))
    else:
        rows.append((prefix, "" if value is None else repr(value) if isinstance(value, float) else value))


def render_csv(sol: Solution) -> str:
    """The Solution as two-column CSV (field, value), base units, for any spreadsheet."""
    rows: list = []
    _flatten("", sol.as_dict(), rows)
    buf = io.StringIO()
    writer = csv_writer(buf)
    writer.writerow(("field", "value"))
    for field, value in rows:
        writer.writerow((field, neutralise(value)))
    return buf.getvalue()


# ------------------------------------------------------------------ many plans: sweeps
#: the columns a sweep table shows after the varied keys (every field is in CSV and JSON)
_ROW_COLUMNS = (("status", "status", str), ("params", "N", format_count), ("tokens", "D", format_count),
                ("tokens_per_param", "D/N", lambda x: f"{x:.1f}"),
                ("overtraining_ratio", "over-training", lambda x: f"{x:.2f}x"),
                ("loss", "loss", lambda x: f"{x:.4f}"), ("epochs", "epochs", lambda x: f"{x:.2f}"),
                ("total_flops", "total FLOP", format_flops),
                ("total_cost_pv_usd", "total $", format_money), ("binding", "binding", str))


def _cell(value, fmt):
    return "" if value is None or value == "" else fmt(value)


def render_rows(rows: list[dict], varied: list[str]) -> str:
    """A sweep as a table: the varied values, then the plan of each point."""
    present = [c for c in _ROW_COLUMNS if any(r.get(c[0]) not in (None, "") for r in rows)]
    cells = [[_cell(r.get(key), fmt) for r in rows] if fmt is not format_money else
             format_money_column([r.get(key) for r in rows], missing="") for key, _, fmt in present]
    table = [[varied_text(k, r.get(k)) for k in varied] + [column[i] for column in cells] for i, r in enumerate(rows)]
    discounted = any(r.get("npv_usd") is not None for r in rows)
    headers = [f"{h} ({money_basis(discounted)})" if fmt is format_money else h for _, h, fmt in present]
    out = tabulate(table, headers=list(varied) + headers)
    problems = [r for r in rows if r.get("status") != "optimal"]
    if problems:
        out += "\n\n" + "\n".join(f"- {r['message']}" for r in problems)
    return out + "\n"


def varied_text(key: str, value) -> str:
    """A varied value as its key's kind prints (the registry of scenario keys): tokens as
    "2.5T", dollars as "$2.50", compute in E-notation, the rest in full."""
    if not isinstance(value, float):
        return str(value)
    kind = getattr(entry(key), "kind", None)
    if kind == "count":
        return format_count(value)
    if kind == "money":
        return format_money(value)
    if kind == "FLOP":
        return f"{value:.4g}"
    return format_number(value)


def render_rows_csv(rows: list[dict]) -> str:
    """Rows as CSV, one column per field (the union over rows), base units."""
    from ..plan.sweep_result import sweep_keys
    keys = sweep_keys(rows)
    from ..plan.rows import INT_FIELDS
    return csv_header(keys) + csv_chunk({k: [r.get(k) for r in rows] if k in INT_FIELDS else
                                         _floats_as_array([r.get(k) for r in rows]) for k in keys}, keys)


def _floats_as_array(values: list):
    """A column of floats (None where missing) as a float array (nan: missing), which the
    CSV writer formats a column at a time (an evaluated grid of 1e5 rows took 17 s as
    lists, each value through a memo); any other column as it is."""
    if values and all(type(v) is float or v is None for v in values) and any(v is not None for v in values):
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return values


def render_rows_json(rows: list[dict]) -> str:
    return json.dumps(strict(rows), indent=2, allow_nan=False) + "\n"


# ------------------------------------------------------------------ uncertainty
def _uncertainty_section(sol: Solution) -> list[str]:
    u = sol.uncertainty
    amount = lambda x: _objective_amount(sol, x)      # noqa: E731
    out = [f"UNDER THE LAW'S UNCERTAINTY ({u.samples} bootstrap laws; the optimal plan solved under "
           f"{u.distribution_samples - u.infeasible_samples} of {u.distribution_samples})"]
    if u.quantiles:
        q = u.quantiles
        rows = [("parameters N", *(format_count(v) for v in q["params"])),
                ("training tokens D", *(format_count(v) for v in q["tokens"])),
                ("tokens per parameter", *(f"{v:.1f}" for v in q["tokens_per_param"])),
                (f"objective ({sol.objective_unit})", *(amount(v) for v in q["objective"]))]
        out.append(tabulate(rows, headers=("optimal plan under a bootstrap law", "5 %", "50 %", "95 %")))
    if u.infeasible_samples:
        out.append(f"{u.infeasible_samples} laws had no feasible plan (target below their E, or limits)")
    if u.probability is not None:
        extra = sol.objective_value / u.point_objective - 1 if u.point_objective else float("nan")
        out += [f"ROBUST PLAN: reaches the target loss under {100 * u.achieved:.1f} % of the bootstrap laws "
                f"(asked {100 * u.probability:.1f} %), holding {u.working_laws} of them as constraints",
                f"point-estimate plan: N {format_count(u.point_params)}, D {format_count(u.point_tokens)}, "
                f"{amount(u.point_objective)}; the robust plan costs {100 * extra:+.2f} %"]
    else:
        out.append(f"this plan reaches the target loss under {100 * u.achieved:.1f} % of the bootstrap laws; "
                   f"[robust] probability = 0.9 asks for a plan that does under 90 %")
    return out + [""]

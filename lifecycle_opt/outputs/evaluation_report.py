"""An evaluated plan (:class:`~lifecycle_opt.plan.evaluation.Evaluation`) as the report a
planner reads: the plan, its costs, the limits it breaks and its regret against the
lifecycle-optimal plan of the same loss. JSON and CSV are the reports' own renderers
(``render_json``, ``render_csv``), which read any ``as_dict``."""
from __future__ import annotations

__all__ = ["render_evaluation", "render_evaluation_rows"]

from tabulate import tabulate

from ..model.constants import SECONDS_PER_DAY
from ..model.units import format_count, format_duration, format_flops, format_gpu_hours, format_money_column
from ..model.setting_units import format_setting
from ..plan.evaluation import Evaluation
from .reports import money_basis, varied_text
from .serving_report import serving_section


def _amounts(e: Evaluation, values: list) -> list[str]:
    """Lifecycle costs in the regret's unit: dollars in one scale, or FLOP."""
    if e.regret_unit == "usd":
        return format_money_column(values)
    return ["—" if x is None else format_flops(x) for x in values]


def _regret_label(e: Evaluation) -> str:
    return f"lifecycle $ ({money_basis(e.present_value)})" if e.regret_unit == "usd" else "lifecycle FLOP"


def _total(e: Evaluation, costs):
    return costs.total_cost_pv_usd if e.regret_unit == "usd" else costs.total_flops


def render_evaluation(e: Evaluation) -> str:
    """The human report of an evaluated plan."""
    c = e.costs
    plan = [("parameters N", format_count(e.params)), ("training tokens D", format_count(e.tokens)),
            ("tokens per parameter", f"{e.tokens_per_param:.1f}"), ("predicted loss", f"{e.loss:.4f}"),
            ("over-training ratio", f"{e.overtraining_ratio:.2f}x the compute-optimal tokens per parameter "
                                    f"of equal loss ({format_count(e.baseline_params)} on "
                                    f"{format_count(e.baseline_tokens)})")]
    if e.unique_tokens is not None:
        plan += [("epochs over U", f"{e.epochs:.2f} of {format_count(e.unique_tokens)}"),
                 ("effective tokens D'", format_count(e.effective_tokens)),
                 ("effective parameters N'", format_count(e.effective_params))]
    days = "—" if c.training_days is None else format_duration(c.training_days * SECONDS_PER_DAY)
    unserved = "no allowed replica serves it (see LIMITS IT BREAKS)" if c.inference_flops is None else ""
    nominal = format_money_column([c.training_cost_usd, c.inference_cost_usd, c.total_cost_usd])
    costs = [["training", _flop(c.training_flops), _hours(c.training_gpu_hours), days, nominal[0]],
             ["inference", _flop(c.inference_flops), _hours(c.inference_gpu_hours), unserved, nominal[1]],
             ["total", _flop(c.total_flops), "", "", nominal[2]]]
    headers = ["", "FLOP", "GPU-hours", "wall-clock", "dollars (nominal)"]
    if e.present_value:
        headers.append("dollars (present value)")
        pv = format_money_column([c.training_cost_pv_usd, c.inference_cost_pv_usd, c.total_cost_pv_usd])
        for row, text in zip(costs, pv):
            row.append(text)
    out = [f"lifeopt evaluate: {e.scenario_name}", "", "PLAN (given)", tabulate(plan, tablefmt="simple"), "",
           "COSTS", tabulate(costs, headers=headers), ""]
    if e.serving is not None:
        out += serving_section(e.serving)
    if e.violated:
        rows = [(v.key, v.label, format_setting(v.limit, v.unit),
                 "—" if v.needed != v.needed else format_setting(v.needed, v.unit))
                for v in e.violated]
        out += ["LIMITS IT BREAKS", tabulate(rows, headers=("setting", "constraint", "limit", "the plan needs")), ""]
    else:
        out += ["LIMITS IT BREAKS: none", ""]
    o = e.optimum
    if o is None:
        out += ["REGRET: " + (e.optimum_note or "no optimum to compare with")]
    else:
        mine, best = _amounts(e, [_total(e, e.costs), _total(e, o.costs)])
        regret = _amounts(e, [e.regret])[0]                 # a figure of its own, in its own scale
        rows = [("this plan", format_count(e.params), format_count(e.tokens), f"{e.tokens_per_param:.1f}", mine),
                ("lifecycle-optimal, same loss", format_count(o.params), format_count(o.tokens),
                 f"{o.tokens_per_param:.1f}", best)]
        out += ["REGRET against the lifecycle-optimal plan of the same loss",
                tabulate(rows, headers=("", "N", "D", "D/N", _regret_label(e)))]
        if e.regret is None:
            # a plan no allowed replica serves has no serving cost, so no lifecycle cost to
            # set against the optimum's (found by the fuzz: a crash formatting None)
            out.append("no regret: this plan has no lifecycle cost (no allowed replica serves it)")
        else:
            out.append(f"this plan costs {regret} more" + (f" in {money_basis(e.present_value)} dollars"
                                                           if e.regret_unit == "usd" else "")
                       + f" ({100 * e.regret_fraction:+.2f} %)")
        if e.regret_note:
            out.append(f"note: {e.regret_note}")
    return "\n".join(out) + "\n"


def _flop(x) -> str:
    return "—" if x is None else format_flops(x)


def _hours(x) -> str:
    return "—" if x is None else format_gpu_hours(x)


def render_evaluation_rows(rows: list[dict], varied: list[str]) -> str:
    """The plan evaluated along a sweep: the varied values, its loss and cost, and its
    regret against each point's optimum of equal loss (dollars in one scale a column,
    labelled nominal or present value)."""
    def num(x, fmt):
        return "" if x is None else fmt(x)

    usd = all(r.get("regret_unit") in ("usd", None) for r in rows)
    totals = [r.get("total_cost_pv_usd") if usd else r.get("total_flops") for r in rows]
    regrets = [r.get("regret") for r in rows]
    if usd:
        totals_text, regrets_text = format_money_column(totals, ""), format_money_column(regrets, "")
        label = f"lifecycle $ ({money_basis(any(r.get('npv_usd') is not None for r in rows))})"
    else:
        totals_text, regrets_text = [num(x, format_flops) for x in totals], [num(x, format_flops) for x in regrets]
        label = "lifecycle FLOP"
    table = []
    for r, total, regret in zip(rows, totals_text, regrets_text):
        table.append([varied_text(k, r[k]) for k in varied] + [
            r["status"], num(r.get("loss"), lambda x: f"{x:.4f}"), total,
            num(r.get("optimum_params"), format_count), regret,
            num(r.get("regret_fraction"), lambda x: f"{100 * x:+.2f} %"), r.get("violated", "")])
    out = tabulate(table, headers=list(varied) + ["status", "loss", label, "optimal N",
                                                  "regret", "regret %", "limits broken"])
    notes = [f"- {r['message']}" for r in rows if r.get("message")]
    return out + ("\n\n" + "\n".join(notes) if notes else "") + "\n"

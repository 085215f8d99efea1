"""An evaluated plan (:class:`~lifecycle_opt.plan.evaluation.Evaluation`) as the report a
planner reads: the plan, its costs, the limits it breaks and its regret against the
lifecycle-optimal plan of the same loss. JSON and CSV are the reports' own renderers
(``render_json``, ``render_csv``), which read any ``as_dict``."""
from __future__ import annotations

__all__ = ["render_evaluation", "render_evaluation_rows"]

from tabulate import tabulate

from ..model.constants import SECONDS_PER_DAY
from ..model.units import format_count, format_duration, format_flops, format_money, format_number, format_setting
from ..plan.evaluation import Evaluation
from .serving_report import serving_section


def _money(x) -> str:
    return "—" if x is None else format_money(x)


def _amount(e: Evaluation, x) -> str:
    if x is None:
        return "—"
    return format_money(x) if e.regret_unit == "usd" else format_flops(x)


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
    costs = [("training", _flop(c.training_flops), _hours(c.training_gpu_hours), days,
              _money(c.training_cost_usd)),
             ("inference", _flop(c.inference_flops), _hours(c.inference_gpu_hours), unserved,
              _money(c.inference_cost_usd)),
             ("total", _flop(c.total_flops), "", "", _money(c.total_cost_usd))]
    out = [f"lifeopt evaluate: {e.scenario_name}", "", "PLAN (given)", tabulate(plan, tablefmt="simple"), "",
           "COSTS", tabulate(costs, headers=("", "FLOP", "GPU-hours", "wall-clock", "dollars")), ""]
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
        rows = [("this plan", format_count(e.params), format_count(e.tokens), f"{e.tokens_per_param:.1f}",
                 _amount(e, _total(e, e.costs))),
                ("lifecycle-optimal, same loss", format_count(o.params), format_count(o.tokens),
                 f"{o.tokens_per_param:.1f}", _amount(e, _total(e, o.costs)))]
        out += ["REGRET against the lifecycle-optimal plan of the same loss",
                tabulate(rows, headers=("", "N", "D", "D/N", "lifecycle cost")),
                f"this plan costs {_amount(e, e.regret)} more ({100 * e.regret_fraction:+.2f} %)"]
    return "\n".join(out) + "\n"


def _flop(x) -> str:
    return "—" if x is None else format_flops(x)


def _hours(x) -> str:
    return "—" if x is None else f"{format_number(x)} GPU-h"


def render_evaluation_rows(rows: list[dict], varied: list[str]) -> str:
    """The plan evaluated along a sweep: the varied values, its loss and cost, and its
    regret against each point's optimum of equal loss."""
    def num(x, fmt):
        return "" if x is None else fmt(x)

    table = []
    for r in rows:
        unit = r.get("regret_unit")
        amount = format_money if unit == "usd" else format_flops
        total = r.get("total_cost_pv_usd") if unit == "usd" else r.get("total_flops")
        table.append([format_number(r[k]) if isinstance(r[k], float) else str(r[k]) for k in varied] + [
            r["status"], num(r.get("loss"), lambda x: f"{x:.4f}"), num(total, amount),
            num(r.get("optimum_params"), format_count), num(r.get("regret"), amount),
            num(r.get("regret_fraction"), lambda x: f"{100 * x:+.2f} %"), r.get("violated", "")])
    out = tabulate(table, headers=list(varied) + ["status", "loss", "lifecycle cost", "optimal N",
                                                  "regret", "regret %", "limits broken"])
    notes = [f"- {r['message']}" for r in rows if r.get("message")]
    return out + ("\n\n" + "\n".join(notes) if notes else "") + "\n"

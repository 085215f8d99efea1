"""The panel of a plan's discrete choice: each allowed value's certified optimum, the
chosen one marked, a mixture of experts beside its dense twin (docs/model.md §10–11)."""
from __future__ import annotations

__all__ = ["choice_panel"]

from ..model.units import format_money
from ..plan.solution import Solution

_LABELS = {"usd": "lifecycle cost [$]", "flops": "lifecycle compute [FLOP]", "loss": "loss [nats]"}


def choice_panel(ax, sol: Solution) -> None:
    """Draw on ``ax`` the objective of every combination of the plan's choices (one
    setting, numeric values on a log axis: the number of experts), the chosen one starred
    and values the scenario does not allow hollow."""
    alts = [a for a in sol.alternatives if a.objective_value is not None]
    key = list(sol.alternatives[0].settings)[0]
    numeric = all(isinstance(a.settings[key], (int, float)) for a in alts)
    xs = [a.settings[key] if numeric else i for i, a in enumerate(alts)]
    ys = [a.objective_value for a in alts]
    ax.plot(xs, ys, color="0.4", linewidth=1.2, zorder=1)
    for x, y, a in zip(xs, ys, alts):
        ax.plot([x], [y], marker="*" if a.chosen else "o", markersize=14 if a.chosen else 7,
                color="C3" if a.chosen else "C0", markerfacecolor=None if a.allowed or a.chosen else "white",
                linestyle="none", gid="chosen" if a.chosen else "alternative", zorder=3)
    dense = [(x, y) for x, y, a in zip(xs, ys, alts) if key == "moe.experts" and a.settings[key] == 1]
    for x, y in dense:
        ax.annotate("dense", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, gid="dense")
    if numeric:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    else:
        ax.set_xticks(xs, [str(a.settings[key]) for a in alts])
    ax.set_xlabel(key)
    ax.set_ylabel(_LABELS.get(sol.objective_unit, sol.objective_unit))
    if sol.objective_unit == "usd":
        ax.yaxis.set_major_formatter(lambda v, _: format_money(v))
    ax.set_title(f"each {key} its own certified optimum; chosen: {sol.alternatives and _chosen(sol, key)}",
                 fontsize=9)
    ax.grid(True, alpha=0.3)


def _chosen(sol: Solution, key: str) -> str:
    return next(str(a.settings[key]) for a in sol.alternatives if a.chosen)

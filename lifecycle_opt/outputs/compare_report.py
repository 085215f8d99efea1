"""Plans side by side (``lifeopt compare``): each number with its change against the
first plan, nominal dollars against nominal ones, present value against present value."""
from __future__ import annotations

__all__ = ["render_compare"]

from tabulate import tabulate

from ..model.units import format_count, format_flops, format_money_column, format_plain
from ..plan.solution import Solution
from .reports import objective_label, plan_basis


def _pct(x, ref):
    if x is None or ref in (None, 0) or x == ref:
        return ""
    return f" ({100 * (x / ref - 1):+.1f}%)"


def _present_value(s: Solution) -> float | None:
    """A plan's discounted lifecycle dollars: only with ``[finance]`` (else there is no
    present value to compare, only nominal dollars)."""
    return s.costs.total_cost_pv_usd if s.cash_flow is not None else None


#: the rows of money in a comparison: nominal beside nominal, present value beside present value
_COMPARE_MONEY = (("training $ (nominal)", lambda s: s.costs.training_cost_usd),
                  ("inference $ (nominal)", lambda s: s.costs.inference_cost_usd),
                  ("lifecycle $ (nominal)", lambda s: s.costs.total_cost_usd),
                  ("lifecycle $ (present value)", _present_value))


def render_compare(results: list[tuple[str, Solution | Exception]]) -> str:
    """Plans in columns, each number with its change against the first plan; money as
    nominal dollars beside nominal ones and present value beside present value (a plan
    without ``[finance]`` has none), each row of money in one scale.

    ``results`` pairs a label with a Solution, or with the error that stopped it."""
    ok = [(label, s) for label, s in results if isinstance(s, Solution)]
    first = ok[0][1] if ok else None
    metrics = [
        ("law", lambda s: s.law_name, None),
        ("objective", objective_label, None),
        ("loss", lambda s: f"{s.loss:.4f}", None),
        ("parameters N", lambda s: format_count(s.params), lambda s: s.params),
        ("training tokens D", lambda s: format_count(s.tokens), lambda s: s.tokens),
        ("tokens per parameter", lambda s: f"{s.tokens_per_param:.1f}", lambda s: s.tokens_per_param),
        ("over-training ratio", lambda s: f"{s.overtraining_ratio:.2f}x", lambda s: s.overtraining_ratio),
        ("epochs", lambda s: "—" if s.epochs is None else f"{s.epochs:.2f}", lambda s: s.epochs),
        ("training FLOP", lambda s: format_flops(s.costs.training_flops), lambda s: s.costs.training_flops),
        ("inference FLOP", lambda s: format_flops(s.costs.inference_flops), lambda s: s.costs.inference_flops),
        ("training days", lambda s: "—" if s.costs.training_days is None else format_plain(s.costs.training_days, 3),
         lambda s: s.costs.training_days),
    ]
    table = [_compare_row(name, show, number, results, first) for name, show, number in metrics]
    for name, amount in _COMPARE_MONEY:
        values = [amount(s) if isinstance(s, Solution) else None for _, s in results]
        texts = format_money_column(values)
        row = [name]
        for (_, s), value, text in zip(results, values, texts):
            ref = amount(first) if first is not None else None
            row.append("" if not isinstance(s, Solution) else
                       text + ("" if s is first or value is None else _pct(value, ref)))
        table.append(row)
    table += [_compare_row("saved vs compute-optimal", lambda s: "—" if s.savings()["cost_usd"] is None
                           else f"{100 * s.savings()['cost_usd']:.1f}% of lifecycle $ ({plan_basis(s)})", None,
                           results, first),
              _compare_row("binding", lambda s: ", ".join(b.key for b in s.binding) or "none", None, results, first)]
    status = ["status"] + ["optimal" if isinstance(s, Solution) else type(s).__name__.replace("Error", "").lower()
                           for _, s in results]
    out = tabulate([status] + table, headers=[""] + [label for label, _ in results])
    notes = [f"- {label}: {s}" for label, s in results if not isinstance(s, Solution)]
    if first is not None and len(ok) > 1:
        out += f"\n\n(changes in parentheses are against {ok[0][0]!r}, nominal dollars against nominal"
        out += (", present value against present value; only a scenario with [finance] discounts)"
                if any(s.cash_flow is not None for _, s in ok) else ")")
    if notes:
        out += "\n\n" + "\n".join(notes)
    return out + "\n"


def _compare_row(name, show, number, results, first) -> list[str]:
    row = [name]
    for _, s in results:
        if not isinstance(s, Solution):
            row.append("")
            continue
        text = show(s)
        if number is not None and s is not first:
            text += _pct(number(s), number(first))
        row.append(text)
    return row

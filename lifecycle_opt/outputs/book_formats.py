"""What the cells of a plan's workbook show and accept: number formats by unit, the
ranges an input may take, the month-by-month demand (inputs, or formulas of a first
month and a growth), and the note that compares the training days with the months the
cash flow spreads them over. Used by :mod:`.plan_book`."""
from __future__ import annotations

__all__ = ["unit_format", "valid_range", "monthly_tokens", "training_months_note"]

from ..model.constants import DAYS_PER_MONTH
from ..model.finance import month_labels
from .cash_flow_sheet import EXTRA_TRAINING_MONTHS
from .workbook import Cell


#: units whose counts read best in full with thousands separators (21,549,235,616,797),
#: never with an exponent: only FLOP and FLOP/s keep scientific notation
_COUNT_UNITS = ("tokens", "parameters", "GPU-hours", "GPUs", "sequences", "requests", "bytes", "bytes/s", "kWh")


def valid_range(name: str, fmt: str | None, value: float | None = None) -> tuple[float, float] | None:
    """What an input may be: a share from 0 to 100 %, a growth above −100 %, from one month
    of training to the most the Cash flow has columns for (the plan's ``value`` and
    EXTRA_TRAINING_MONTHS more), a positive number otherwise (a whole number where it is
    shown as one) (the law's constants and constants of nature are not checked)."""
    if name.startswith("law_") or name in ("seconds_per_hour", "hours_per_month") or name.startswith("flop_per"):
        return None
    if name == "monthly_growth":
        return (-0.99, 10.0)
    if name == "training_months":
        return (1.0, float(value or 1) + EXTRA_TRAINING_MONTHS)
    if fmt == "pct":
        return (0.0, 1.0)
    return (0.0, 1e300)


def unit_format(unit: str, fmt: str | None) -> str | None:
    """The number format of a cell in ``unit``: counts with separators instead of
    scientific notation, dollars per something (a price) with cents where amounts of
    dollars have none; otherwise ``fmt``."""
    if fmt == "sci" and unit in _COUNT_UNITS:
        return "count"
    if fmt == "money" and unit != "$":
        return "price"
    return fmt


def monthly_tokens(v, put, fin) -> None:
    """The demand month by month: inputs, or, when it grows from a first month, the first
    month and the growth as inputs and every later month a formula of them."""
    labels = month_labels(fin.start, fin.months)[fin.training_months:]
    if fin.monthly_growth is not None and fin.monthly_tokens:
        put("first_month_tokens", "tokens served in the first month", fin.monthly_tokens[0], "tokens",
            "finance.monthly_tokens", fmt="sci")
        put("monthly_growth", "growth of the demand per month", fin.monthly_growth, "fraction / month",
            "finance.monthly_growth", fmt="pct")
    for m, (label, tokens) in enumerate(zip(labels, fin.monthly_tokens)):
        # the month of serving, not of the calendar: a new training_months moves it
        text = f"tokens in serving month {m + 1} ({label} as planned)"
        if fin.monthly_growth is None:
            put(f"tokens_month_{m + 1}", text, tokens, "tokens", f"finance.monthly_tokens[{m}]", fmt="sci")
            continue
        v.row([Cell(text, style="label"),
               Cell(tokens, formula=f"=first_month_tokens*(1+monthly_growth)^{m}", style="calc", fmt="count"),
               Cell("tokens"), Cell(""), Cell("first month × (1 + growth)^months since", style="note")],
              name=f"tokens_month_{m + 1}")


def training_months_note(scenario, sol) -> Cell:
    """How the training days compare with the months the cash flow spreads training over:
    a live text (it follows train_days and the training_months input), its cached value
    written the same way here."""
    fin, days = scenario.finance, sol.costs.training_days
    if fin is None or days is None:
        return Cell("", style="note")
    months, spread = days / DAYS_PER_MONTH, fin.training_months
    if months <= spread:
        text = (f"{months:.2f} months of training; the cash flow spreads its spending over {spread} "
                f"(finance.training_months)")
    else:
        text = (f"{months:.2f} months of training, longer than the {spread} the cash flow spreads its "
                f"spending over: raise finance.training_months to {int(-(-months // 1))}")
    wall = "train_days*24/hours_per_month"
    formula = (f'=IF({wall}<=training_months,TEXT({wall},"0.00")&" months of training; the cash flow spreads '
               f'its spending over "&training_months&" (finance.training_months)",TEXT({wall},"0.00")&'
               f'" months of training, longer than the "&training_months&" the cash flow spreads its spending '
               f'over: raise finance.training_months to "&ROUNDUP({wall},0))')
    return Cell(text, formula=formula, style="note")

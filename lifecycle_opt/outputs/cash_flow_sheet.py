"""The Cash flow sheet of a plan's workbook: one column per month (training spend, tokens
served, serving spend, discount factor, present value) as live formulas from the Inputs,
totals over the plan and by year, the NPV (also by the spreadsheet's own NPV function),
the timing factors the optimiser used (docs/model.md §3, "Time and money"); and a sheet
with a chart of the spending by month.

The months mirror :class:`~lifecycle_opt.model.finance.Finance`: month m pays
1/training_months of the training GPU-hours while m < training_months, then serves the
demand's months in order; serving GPU-hours follow each month's share of all the tokens
the demand serves. The sheet has a column for every month that a longer training (up to
:data:`EXTRA_TRAINING_MONTHS` more, the most the Inputs accept) could push serving into,
so that any accepted training_months prices the plan as `lifeopt evaluate` does.
"""
from __future__ import annotations

__all__ = ["cash_flow_sheet", "demand_range", "input_names", "EXTRA_TRAINING_MONTHS", "CHART_SHEET"]

from dataclasses import replace

from ..model.finance import month_labels
from .cash_years import year_spans
from .workbook import Cell, Chart, Sheet, column_letter

#: months of training the Inputs may add to the plan's; the sheet's columns run that much
#: past the plan's last month (empty in the plan as solved)
EXTRA_TRAINING_MONTHS = 12
#: widths [characters]: labels, unit, a total (tokens over the plan: 18 digits and
#: separators), a month (a month's tokens: 17)
_WIDTHS = {"label": 40.0, "unit": 8.0, "total": 21.0, "month": 18.0}
#: months printed on one page after the totals: half a year
_MONTHS_PER_PAGE = 6
#: the sheet of the chart of spending by month
CHART_SHEET = "Spending chart"


def cash_flow_sheet(book, scenario, sol):
    """The Cash flow sheet of ``sol`` (a plan with a [finance] section), appended to ``book``."""
    fin, cf = scenario.finance, sol.cash_flow
    room = replace(fin, monthly_tokens=fin.monthly_tokens + (0.0,) * EXTRA_TRAINING_MONTHS)
    labels = month_labels(fin.start, room.months)
    months, years = len(labels), year_spans(labels)
    first_month = 3 + len(years)                   # label, unit, total, the years, the months
    col = lambda m: column_letter(first_month + m)   # noqa: E731 — the column of month m
    sheet = Sheet("Cash flow", widths=(_WIDTHS["label"], _WIDTHS["unit"])
                  + (_WIDTHS["total"],) * (1 + len(years)) + (_WIDTHS["month"],) * months,
                  freeze=(2, 3), repeat_columns=2, breaks=_page_breaks(first_month, years))
    book.sheets.append(sheet)
    sheet.rows.append([Cell("month", style="header"), Cell("unit", style="header"),
                       Cell("total", style="header_number")] + [Cell(y.label, style="header_number") for y in years]
                      + [Cell(x, style="header_number") for x in labels])
    rows: dict[str, int] = {}
    pad = lambda values: list(values) + [0.0] * (months - len(values))   # noqa: E731 — the months past the plan

    def add(name, label, unit, per_month, values, fmt, totals=False, style="calc"):
        r = len(sheet.rows) + 1
        rows[name] = r
        values = pad(values)
        cells = [Cell(label, style="label"), Cell(unit)]
        if totals:
            cells.append(Cell(sum(values), formula=f"=SUM({col(0)}{r}:{col(months - 1)}{r})", style="total", fmt=fmt))
            cells += [Cell(sum(values[y.months]), formula=f"=SUM({col(y.start)}{r}:{col(y.stop - 1)}{r})",
                           style="total", fmt=fmt) for y in years]
        else:
            cells += [Cell() for _ in range(1 + len(years))]
        cells += [Cell(values[m], formula=per_month(m, col(m)), style=style, fmt=fmt) for m in range(months)]
        sheet.rows.append(cells)

    _month_rows(book, add, rows, room, cf)
    _summaries(book, sheet, scenario, cf, rows, first_month, labels)
    # the chart on a sheet of its own: drawn over the Cash flow it would print on every
    # page, under the repeated label columns
    book.sheets.append(Sheet(CHART_SHEET, charts=[Chart(
        "Spending by month (nominal $)", sheet.name,
        ((rows["train_usd"] - 1, "training"), (rows["infer_usd"] - 1, "inference")),
        category_row=0, first_column=first_month, last_column=first_month + months - 1,
        anchor=(0, 0), size=(940, 600))]))


def _page_breaks(first_month: int, years) -> tuple[int, ...]:
    """Columns that start a printed page: the first month (the totals print on their own
    page), then every half year of months."""
    starts = {first_month}
    for y in years:
        starts.update(first_month + m for m in range(y.start, y.stop, _MONTHS_PER_PAGE))
    return tuple(sorted(starts))


def _month_rows(book, add, rows: dict, room, cf) -> None:
    """The rows of the months, each a formula of the Inputs and of the rows above."""
    ref = lambda name, col: f"{col}${rows[name]}"      # noqa: E731 — a cell of this month
    add("m", "month index m (0 = start of training)", "", lambda m, col: None, range(room.months), "int")
    declines = "price_decline" in input_names(book)     # rented GPUs; owned ones cost the same each month
    add("price", "GPU-hour price over today's", "–",
        lambda m, col: f"=(1-price_decline)^({ref('m', col)}/12)" if declines else "=1",
        room.price_factors(), "factor")
    add("train_share", "share of training GPU-hours", "–",
        lambda m, col: f"=IF({ref('m', col)}<training_months,1/training_months,0)", room.training_shares(),
        "factor", totals=True)
    add("train_usd", "training spend", "$",
        lambda m, col: f"=train_gpu_hours*{ref('train_share', col)}*train_price*{ref('price', col)}",
        cf.training_usd, "money", totals=True)
    # serving starts when training ends: month m serves the (m − training_months + 1)-th month
    # of the demand in Inputs, so a new training_months input moves the serving months
    demand = demand_range(book, len(room.monthly_tokens) - EXTRA_TRAINING_MONTHS)
    add("tokens", "tokens served", "tokens",
        (lambda m, col: f"=IF({ref('m', col)}<training_months,0,"
                        f"IFERROR(INDEX({demand},{ref('m', col)}-training_months+1),0))")
        if demand else (lambda m, col: "=0"),
        cf.inference_tokens, "count", totals=True)
    # each month's share of all the tokens the demand serves (Finance.serving_shares)
    add("infer_share", "share of inference GPU-hours", "–",
        (lambda m, col: f"=IF(SUM({demand})>0,{ref('tokens', col)}/SUM({demand}),0)")
        if demand else (lambda m, col: "=0"), room.serving_shares(), "factor", totals=True)
    has_infer = "infer_price" in book.names
    add("infer_usd", "inference spend", "$",
        (lambda m, col: f"=infer_gpu_hours*{ref('infer_share', col)}*infer_price*{ref('price', col)}")
        if has_infer else (lambda m, col: "=0"),
        cf.inference_usd, "money", totals=True)
    add("spend", "total spend", "$", lambda m, col: f"={ref('train_usd', col)}+{ref('infer_usd', col)}",
        cf.spend_usd, "money", totals=True, style="total")
    add("df", "discount factor 1/(1+r_month)^m", "–",
        lambda m, col: f"=1/(1+monthly_rate)^{ref('m', col)}", room.discount_factors(), "factor")
    add("pv", "present value of spend", "$", lambda m, col: f"={ref('spend', col)}*{ref('df', col)}",
        cf.present_value, "money", totals=True, style="total")
    if cf.energy_kwh is not None:
        tw = "train_power" if "train_power" in input_names(book) else "0"
        iw = "infer_power" if "infer_power" in input_names(book) else "0"
        ih = "infer_gpu_hours" if "infer_gpu_hours" in book.names else "0"
        add("energy", "energy", "kWh",
            lambda m, col: (f"=(train_gpu_hours*{ref('train_share', col)}*{tw}"
                            f"+{ih}*{ref('infer_share', col)}*{iw})/1000*pue"),
            cf.energy_kwh, "count", totals=True)


def demand_range(book, months: int) -> str | None:
    """The Inputs cells of the months' tokens as one column range (Inputs!$B$40:$B$63)."""
    if not months:
        return None
    first, last = book.names["tokens_month_1"], book.names[f"tokens_month_{months}"]
    return f"{first}:{last.split('!')[1]}"


def input_names(book) -> set[str]:
    return {n for n, ref in book.names.items() if ref.startswith("Inputs!")}


def _summaries(book, sheet: Sheet, scenario, cf, rows: dict, first_month: int, labels) -> None:
    """Below the months (``labels``, from column ``first_month``): where serving starts,
    the monthly rate, the NPV twice (a sum, and the spreadsheet's NPV function) and the
    four timing factors the optimiser used, as named cells."""
    months = len(labels)
    first, second, last = (column_letter(first_month + m) for m in (0, 1, months - 1))
    sheet.rows.append([])

    def summary(name, label, unit, formula, value, fmt):
        r = len(sheet.rows) + 1
        sheet.rows.append([Cell(label, style="label"), Cell(unit), Cell(value, formula=formula,
                                                                          style="total", fmt=fmt)])
        book.names[name] = f"'Cash flow'!$C${r}"

    fin = scenario.finance
    k, served = fin.training_months, len(fin.monthly_tokens)
    summary("serving_start", "serving starts in (the month after training ends)", "month",
            f"=IFERROR(INDEX(${first}$1:${last}$1,1,training_months+1),\"after the last month\")",
            labels[k], None)
    summary("months_past_end", f"served months past the last column (none while months of training are at most "
            f"{k + EXTRA_TRAINING_MONTHS}; past it they are not counted: re-run lifeopt solve)",
            "months", f"=MAX(0,training_months+{served}-{months})", 0.0, "int")
    summary("monthly_rate", "monthly discount rate r_month = (1+r)^(1/12) − 1", "–",
            "=(1+discount_rate)^(1/12)-1", cf.monthly_rate, "factor")
    summary("npv_usd", "net present value of spending (sum of present values)", "$",
            f"=SUM({first}{rows['pv']}:{last}{rows['pv']})", cf.npv_usd, "money")
    summary("npv_check", "the same with the spreadsheet's NPV function", "$",
            f"={first}{rows['spend']}+NPV(monthly_rate,{second}{rows['spend']}:{last}{rows['spend']})",
            cf.npv_usd, "money")
    timing = scenario.costs.timing
    product = lambda *names: "=SUMPRODUCT(" + ",".join(f"{first}{rows[n]}:{last}{rows[n]}" for n in names) + ")"  # noqa: E731
    summary("training_nominal_factor", "training: paid over today's price", "–",
            product("train_share", "price"), timing.training_nominal, "factor")
    summary("training_present_factor", "training: present value over today's price", "–",
            product("train_share", "price", "df"), timing.training_present, "factor")
    summary("inference_nominal_factor", "inference: paid over today's price", "–",
            product("infer_share", "price"), timing.inference_nominal, "factor")
    summary("inference_present_factor", "inference: present value over today's price", "–",
            product("infer_share", "price", "df"), timing.inference_present, "factor")


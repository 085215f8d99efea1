"""The Cash flow sheet of a plan's workbook: one column per month (training spend, tokens
served, serving spend, discount factor, present value) as live formulas from the Inputs,
with totals, the NPV (also by the spreadsheet's own NPV function) and the timing factors
the optimiser used (docs/model.md §3, "Time and money")."""
from __future__ import annotations

__all__ = ["cash_flow_sheet", "demand_range", "input_names"]

from .workbook import Cell, Sheet, column_letter


def cash_flow_sheet(book, scenario, sol):
    """The Cash flow sheet of ``sol`` (a plan with a [finance] section), appended to ``book``."""
    fin, cf = scenario.finance, sol.cash_flow
    months = len(cf.labels)
    first, last = column_letter(3), column_letter(3 + months - 1)
    sheet = Sheet("Cash flow", widths=(38, 12, 18) + (14,) * months, freeze=(2, 3))
    book.sheets.append(sheet)
    rows: dict[str, int] = {}

    def add(name, label, unit, per_month, values, fmt, total=None, total_value=None, style="calc"):
        r = len(sheet.rows) + 1
        rows[name] = r
        cells = [Cell(label, style="label"), Cell(unit)]
        if total is None:
            cells.append(Cell())
        else:
            cells.append(Cell(total_value, formula=total(r), style="total", fmt=fmt))
        for m in range(months):
            col = column_letter(3 + m)
            formula = per_month(m, col)
            cells.append(Cell(values[m], formula=formula, style=style, fmt=fmt))
        sheet.rows.append(cells)

    sheet.rows.append([Cell("month", style="header"), Cell("unit", style="header"),
                       Cell("total", style="header")] + [Cell(x, style="header") for x in cf.labels])

    def row_sum(r):
        return f"=SUM({first}{r}:{last}{r})"

    add("m", "month index m (0 = start of training)", "", lambda m, col: None, list(range(months)), "int")
    ref = lambda name, col: f"{col}${rows[name]}"      # noqa: E731 — a cell of this month
    add("price", "GPU-hour price over today's", "–",
        lambda m, col: f"=(1-price_decline)^({ref('m', col)}/12)", fin.price_factors(), "factor")
    add("train_share", "share of training GPU-hours", "–",
        lambda m, col: f"=IF({ref('m', col)}<training_months,1/training_months,0)", fin.training_shares(),
        "factor", total=row_sum, total_value=1.0)
    add("train_usd", "training spend", "$",
        lambda m, col: f"=train_gpu_hours*{ref('train_share', col)}*train_price*{ref('price', col)}",
        cf.training_usd, "money", total=row_sum, total_value=sum(cf.training_usd))
    # serving starts when training ends: month m serves the (m − training_months + 1)-th month
    # of the demand in Inputs, so a new training_months input moves the serving months
    demand = demand_range(book, len(fin.monthly_tokens))
    add("tokens", "tokens served", "tokens",
        (lambda m, col: f"=IF({ref('m', col)}<training_months,0,"
                        f"IFERROR(INDEX({demand},{ref('m', col)}-training_months+1),0))")
        if demand else (lambda m, col: "=0"),
        cf.inference_tokens, "sci", total=row_sum, total_value=sum(cf.inference_tokens))
    tok = rows["tokens"]
    shares = [float(x) for x in fin.serving_shares()]
    add("infer_share", "share of inference GPU-hours", "–",
        lambda m, col: f"=IF($C${tok}>0,{col}{tok}/$C${tok},0)", shares, "factor",
        total=row_sum, total_value=1.0 if sum(cf.inference_tokens) > 0 else 0.0)
    has_infer = "infer_price" in book.names
    add("infer_usd", "inference spend", "$",
        (lambda m, col: f"=infer_gpu_hours*{ref('infer_share', col)}*infer_price*{ref('price', col)}")
        if has_infer else (lambda m, col: "=0"),
        cf.inference_usd, "money", total=row_sum, total_value=sum(cf.inference_usd))
    add("spend", "total spend", "$", lambda m, col: f"={ref('train_usd', col)}+{ref('infer_usd', col)}",
        cf.spend_usd, "money", total=row_sum, total_value=cf.total_nominal_usd, style="total")
    add("df", "discount factor 1/(1+r_month)^m", "–",
        lambda m, col: f"=1/(1+monthly_rate)^{ref('m', col)}", cf.discount_factor, "factor")
    add("pv", "present value of spend", "$", lambda m, col: f"={ref('spend', col)}*{ref('df', col)}",
        cf.present_value, "money", total=row_sum, total_value=cf.npv_usd, style="total")
    if cf.energy_kwh is not None:
        tw = "train_power" if "train_power" in input_names(book) else "0"
        iw = "infer_power" if "infer_power" in input_names(book) else "0"
        ih = "infer_gpu_hours" if "infer_gpu_hours" in book.names else "0"
        add("energy", "energy", "kWh",
            lambda m, col: (f"=(train_gpu_hours*{ref('train_share', col)}*{tw}"
                            f"+{ih}*{ref('infer_share', col)}*{iw})/1000*pue"),
            cf.energy_kwh, "sci", total=row_sum, total_value=cf.total_energy_kwh)

    _summaries(book, sheet, scenario, cf, rows)


def demand_range(book, months: int) -> str | None:
    """The Inputs cells of the months' tokens as one column range (Inputs!$B$40:$B$63)."""
    if not months:
        return None
    first, last = book.names["tokens_month_1"], book.names[f"tokens_month_{months}"]
    return f"{first}:{last.split('!')[1]}"


def input_names(book) -> set[str]:
    return {n for n, ref in book.names.items() if ref.startswith("Inputs!")}


def _summaries(book, sheet: Sheet, scenario, cf, rows: dict) -> None:
    """Below the months: the monthly rate, the NPV twice (a sum, and the spreadsheet's NPV
    function) and the four timing factors the optimiser used, as named cells."""
    months = len(cf.labels)
    first, last = column_letter(3), column_letter(3 + months - 1)
    sheet.rows.append([])

    def summary(name, label, unit, formula, value, fmt):
        r = len(sheet.rows) + 1
        sheet.rows.append([Cell(label, style="label"), Cell(unit), Cell(value, formula=formula,
                                                                          style="total", fmt=fmt)])
        book.names[name] = f"'Cash flow'!$C${r}"

    header = f"${first}$1:${last}$1"
    k = scenario.finance.training_months
    summary("serving_start", "serving starts in (the month after training ends)", "month",
            f"=IFERROR(INDEX({header},1,training_months+1),\"after the last month\")",
            cf.labels[k] if k < months else "after the last month", None)
    served = len(scenario.finance.monthly_tokens)
    summary("months_past_end", "served months past the last month shown (not counted: re-run lifeopt solve)",
            "months", f"=MAX(0,training_months+{served}-{months})", 0.0, "int")
    summary("monthly_rate", "monthly discount rate r_month = (1+r)^(1/12) − 1", "–",
            "=(1+discount_rate)^(1/12)-1", cf.monthly_rate, "factor")
    summary("npv_usd", "net present value of spending (sum of present values)", "$",
            f"=SUM({first}{rows['pv']}:{last}{rows['pv']})", cf.npv_usd, "money")
    second = column_letter(4)
    npv_rest = f"+NPV(monthly_rate,{second}{rows['spend']}:{last}{rows['spend']})" if months > 1 else ""
    summary("npv_check", "the same with the spreadsheet's NPV function", "$",
            f"={first}{rows['spend']}{npv_rest}", cf.npv_usd, "money")
    timing = scenario.costs.timing
    summary("training_nominal_factor", "training: paid over today's price", "–",
            f"=SUMPRODUCT({first}{rows['train_share']}:{last}{rows['train_share']},"
            f"{first}{rows['price']}:{last}{rows['price']})", timing.training_nominal, "factor")
    summary("training_present_factor", "training: present value over today's price", "–",
            f"=SUMPRODUCT({first}{rows['train_share']}:{last}{rows['train_share']},"
            f"{first}{rows['price']}:{last}{rows['price']},{first}{rows['df']}:{last}{rows['df']})",
            timing.training_present, "factor")
    summary("inference_nominal_factor", "inference: paid over today's price", "–",
            f"=SUMPRODUCT({first}{rows['infer_share']}:{last}{rows['infer_share']},"
            f"{first}{rows['price']}:{last}{rows['price']})",
            timing.inference_nominal, "factor")
    summary("inference_present_factor", "inference: present value over today's price", "–",
            f"=SUMPRODUCT({first}{rows['infer_share']}:{last}{rows['infer_share']},"
            f"{first}{rows['price']}:{last}{rows['price']},{first}{rows['df']}:{last}{rows['df']})",
            timing.inference_present, "factor")

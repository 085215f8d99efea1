"""A plan's workbook (see :mod:`.workbook` for the sheets and how they are written):
the Cover, the Inputs, the Calculations as live formulas, the Cash flow month by month
and the Outputs, built from a Scenario and its Solution. Cached values come from the
Solution, which the row function computed (docs/model.md §3)."""
from __future__ import annotations

__all__ = ["plan_book"]

import datetime

from ..model.laws import ChinchillaLaw, DataConstrainedLaw, KaplanLaw
from ..model.units import format_count
from ..plan.choices import chosen_scenario
from ..plan.solution import Solution
from ..scenario.schema import Scenario
from .reports import shadow_price_text
from .book_formats import training_months_note, unit_format
from .cash_flow_sheet import CHART_SHEET, EXTRA_TRAINING_MONTHS, cash_flow_sheet, demand_range
from .serving_sheet import serving_cells, serving_price_cells
from .inputs_sheet import Vertical, inputs_sheet
from .workbook import COVER_WIDTH, Book, Cell, Sheet, made_by


def plan_book(scenario: Scenario, solution: Solution, *, stamp: datetime.date | None = None) -> Book:
    """The workbook of ``solution`` (the optimum of ``scenario``); see the module docstring.
    ``stamp``: a date to write on the cover and in the file's properties (none by default)."""
    scenario = chosen_scenario(scenario, solution)     # the variant a discrete choice picked
    book = Book([], stamp=stamp, title=f"Lifecycle plan: {solution.scenario_name}")
    has_finance = scenario.finance is not None and scenario.training is not None
    _cover(book, scenario, solution, has_finance)
    inputs = inputs_sheet(book, scenario)
    _calculations(book, scenario, solution, inputs, has_finance)
    if has_finance:
        cash_flow_sheet(book, scenario, solution)
    _outputs(book, scenario, solution)
    # the cash flow sheet reads Calculations and Calculations reads its factors: keep the
    # reading order Cover, Inputs, Calculations, Cash flow, Outputs
    order = ["Cover", "Inputs", "Calculations", "Cash flow", CHART_SHEET, "Outputs"]
    book.sheets.sort(key=lambda s: order.index(s.name))
    return book


def _cover(book, scenario, sol, has_finance):
    s = Sheet("Cover", widths=(COVER_WIDTH,))
    book.sheets.append(s)
    lines = [
        (f"Lifecycle plan: {sol.scenario_name}", "title"),
        (f"{made_by(book.stamp)} from {scenario.source or 'a scenario in Python'}.", "text"),
        ("", "text"),
        (f"Scaling law: {sol.law_name}", "section"),
        (f"Source: {sol.law_source}", "text"),
        (f"Objective: minimise {sol.objective} ({sol.objective_unit}); certificate {sol.certificate.status}, "
         f"relative KKT residual {sol.certificate.kkt_residual:.1e}.", "text"),
        ("", "text"),
        ("How to read this workbook", "section"),
        ("Inputs: every input with its unit, scenario key and source. Yellow cells with blue text are "
         "inputs: change them and the costs recompute.", "text"),
        ("Calculations: FLOPs, GPU-hours, days, dollars and loss as formulas, for the optimal plan "
         "(column B) and for the compute-optimal (Chinchilla) plan of equal loss (column C).", "text"),
    ]
    if has_finance:
        lines.append(("Cash flow: totals by year of the plan, then one column per month from the start of "
                      "training: training spend, tokens served, inference spend, discount factor and present "
                      "value; the NPV. It has columns for up to "
                      f"{EXTRA_TRAINING_MONTHS} more months of training than planned (empty as solved).", "text"))
        lines.append((f"{CHART_SHEET}: the spending by month, training and inference, as a chart.", "text"))
    lines += [
        ("Outputs: the plan, the over-training report, the comparison with the compute-optimal plan, "
         "shadow prices, the certificate, warnings and assumptions.", "text"),
        ("", "text"),
        ("Grey cells are results of the optimiser (the optimal N and D, and the compute-optimal plan). "
         "They do NOT recompute when an input changes:", "result"),
        ("the workbook then shows what this plan costs under the new inputs, which is no longer "
         "guaranteed to be the cheapest plan. Re-run `lifeopt solve` to re-optimise.", "result"),
        ("Units: parameters and tokens are counts, compute in FLOP, time in hours or days (serving times "
         "in ms and µs), money in US dollars (amounts in whole dollars, prices with cents); rates are "
         "fractions (0.1 = 10 %).", "text"),
        ("Printing: every sheet prints at 8 pt or larger; wide sheets continue on the following pages with "
         "their row labels repeated (the Cash flow: its totals first, then half a year of months a page). "
         "The footer carries the date of printing.", "text"),
    ]
    for text, style in lines:
        s.rows.append([Cell(text, style=style)])


class _Calc:
    """Calculations: one row per quantity, column B for the optimal plan, C for the
    compute-optimal plan of equal loss. ``formula`` is a function of ``ref`` (name →
    the cell of that quantity in the same column, or a workbook name)."""

    def __init__(self, book: Book):
        self.v = Vertical(book, "Calculations",
                           ("quantity", "optimal plan", "compute-optimal plan (same loss)", "unit", "how"),
                           (40, 20, 20, 14, 44))
        self.book = book

    def ref_in(self, column: str):
        def ref(name: str) -> str:
            if name in self.v.rows:
                return f"{column}{self.v.rows[name]}"
            return name                                 # a workbook name (Inputs, Cash flow)
        return ref

    def add(self, name, label, unit, formula, values, how="", fmt="sci", style="calc"):
        """``formula``: callable(ref) → "=…", or None for a literal (optimiser result)."""
        cells = [Cell(label, style="label")]
        for column, value in zip("BC", values):
            text = formula(self.ref_in(column)) if formula is not None else None
            cells.append(Cell(value, formula=text, style=style, fmt=unit_format(unit, fmt)))
        cells += [Cell(unit), Cell(how, style="note")]
        self.v.row(cells, name=name)
        self.book.names[name] = f"Calculations!$B${self.v.rows[name]}"
        self.book.names[f"baseline_{name}"] = f"Calculations!$C${self.v.rows[name]}"


def _calculations(book, scenario, sol, inputs, has_finance):
    """The Calculations sheet: the plan (column B) and the compute-optimal plan of equal
    loss (column C) through training, serving and lifecycle dollars."""
    c = _Calc(book)
    _plan_cells(c, scenario, sol)
    cs, bs = sol.costs, sol.baseline.costs
    both = lambda f: (f(cs), f(bs))     # noqa: E731 — the same quantity for both plans
    _training_cells(c, scenario, both)
    priced_inference = _inference_cells(c, scenario, sol, both)
    t = scenario.training
    if t is None or t.price_per_gpu_hour is None:
        return
    _dollar_cells(c, scenario, both, priced_inference, has_finance)


def _plan_cells(c: _Calc, scenario, sol) -> None:
    """N and D (the optimiser's results), tokens per parameter and the predicted loss."""
    base = sol.baseline
    law = scenario.law
    c.v.section("Plan (results of the optimiser: these cells do not recompute)")
    c.add("params_N", "parameters N", "parameters", None, (sol.params, base.params),
          "optimiser result", style="result")
    c.add("tokens_D", "training tokens D", "tokens", None, (sol.tokens, base.tokens),
          "optimiser result", style="result")
    penalty = isinstance(scenario.trained_law, DataConstrainedLaw)
    if penalty:
        c.add("eff_N", "effective parameters N'", "parameters", None, (sol.effective_params, base.params),
              "repetition penalty (Muennighoff et al. 2023 eq. 15), optimiser result", style="result")
        c.add("eff_D", "effective tokens D'", "tokens", None, (sol.effective_tokens, base.tokens),
              "repetition penalty (Muennighoff et al. 2023 eq. 14), optimiser result", style="result")
    c.v.blank()
    c.v.section("Plan")
    c.add("tokens_per_param", "tokens per parameter", "tokens/parameter",
          lambda r: f"={r('tokens_D')}/{r('params_N')}", (sol.tokens_per_param, base.tokens_per_param),
          "D / N", fmt="num")
    n, d = ("eff_N", "eff_D") if penalty else ("params_N", "tokens_D")
    if isinstance(law, ChinchillaLaw):
        c.add("loss", "predicted loss", "nats/token",
              lambda r: f"=law_E+law_A/{r(n)}^law_alpha+law_B/{r(d)}^law_beta", (sol.loss, base.loss),
              f"E + A/N^alpha + B/D^beta{' on effective N, D' if penalty else ''}", fmt="loss")
    elif isinstance(law, KaplanLaw):
        c.add("loss", "predicted loss", "nats/token",
              lambda r: f"=((law_Nc/{r(n)})^(law_alpha_N/law_alpha_D)+law_Dc/{r(d)})^law_alpha_D",
              (sol.loss, base.loss), "((Nc/N)^(alpha_N/alpha_D) + Dc/D)^alpha_D", fmt="loss")


def _training_cells(c: _Calc, scenario, both) -> None:
    """Training compute, GPU-hours, days and dollars at today's price."""
    t, fin = scenario.training, scenario.finance
    c.v.blank()
    c.v.section("Training")
    c.add("train_flops", "training compute", "FLOP",
          lambda r: f"=flop_per_param_token_train*{r('params_N')}*{r('tokens_D')}",
          both(lambda k: k.training_flops), "6 · N · D")
    if t is not None:
        c.add("train_rate", "achieved FLOP/s per GPU", "FLOP/s", lambda r: "=train_peak*train_mfu",
              (t.flop_rate, t.flop_rate), "peak × MFU")
        c.add("train_gpu_hours", "training GPU-hours", "GPU-hours",
              lambda r: f"={r('train_flops')}/{r('train_rate')}/seconds_per_hour",
              both(lambda k: k.training_gpu_hours), "FLOP / (FLOP/s per GPU) / 3600")
        if t.gpus is not None:
            c.add("train_days", "training wall-clock", "days",
                  lambda r: f"={r('train_gpu_hours')}/train_gpus/24", both(lambda k: k.training_days),
                  "GPU-hours / GPUs / 24", fmt="num")
        if t.price_per_gpu_hour is not None:
            _price(c, "train", t.price_per_gpu_hour, fin)
            c.add("train_usd_today", "training dollars at today's price", "$",
                  lambda r: f"={r('train_gpu_hours')}*{r('train_price')}",
                  both(lambda k: k.training_gpu_hours * t.price_per_gpu_hour), "GPU-hours × price",
                  fmt="money")


def _inference_cells(c: _Calc, scenario, sol, both) -> bool:
    """Tokens served, serving compute, GPU-hours and dollars at today's price; whether the
    serving is priced."""
    i, fin = scenario.inference, scenario.finance
    demand = scenario.demand
    c.v.blank()
    c.v.section("Inference")
    total_tokens = ("tokens_served" if fin is None else _month_range(c.book, len(fin.monthly_tokens)))
    c.add("tokens_in", "prompt tokens served (prefill)", "tokens",
          lambda r: f"=({total_tokens})*(1-output_fraction)", (demand.input_tokens,) * 2,
          "tokens × (1 − generated share)")
    c.add("tokens_out", "generated tokens served (decode)", "tokens",
          lambda r: f"=({total_tokens})*output_fraction", (demand.output_tokens,) * 2,
          "tokens × generated share")
    priced_inference = i is not None and demand.tokens > 0 and i.price_per_gpu_hour is not None
    if scenario.serving is not None:
        serving_cells(c, scenario, sol, both)
    else:
        c.add("infer_flops", "inference compute", "FLOP",
              lambda r: f"=flop_per_param_token_infer*{r('params_N')}*({r('tokens_in')}+{r('tokens_out')})",
              both(lambda k: k.inference_flops), "2 · N · tokens")
    if i is not None and demand.tokens > 0 and scenario.serving is None:
        c.add("infer_gpu_hours", "inference GPU-hours", "GPU-hours",
              lambda r: (f"=flop_per_param_token_infer*{r('params_N')}*({r('tokens_in')}"
                         f"/(infer_peak*infer_prefill_mfu)+{r('tokens_out')}/(infer_peak*infer_decode_mfu))"
                         f"/seconds_per_hour"),
              both(lambda k: k.inference_gpu_hours), "2N · (prompt/(peak·prefill MFU) + "
              "generated/(peak·decode MFU)) / 3600")
    if i is not None and demand.tokens > 0:
        if priced_inference:
            _price(c, "infer", i.price_per_gpu_hour, fin)
            if scenario.serving is not None:
                serving_price_cells(c, scenario, sol)
            c.add("infer_usd_today", "inference dollars at today's price", "$",
                  lambda r: f"={r('infer_gpu_hours')}*{r('infer_price')}",
                  both(lambda k: k.inference_gpu_hours * i.price_per_gpu_hour), "GPU-hours × price",
                  fmt="money")
    return priced_inference


def _month_range(book: Book, months: int) -> str:
    """SUM over the Inputs cells of the months' tokens, as one range (B5:B28), or "0"."""
    cells = demand_range(book, months)
    return f"SUM({cells})" if cells else "0"


def _dollar_cells(c: _Calc, scenario, both, priced_inference: bool, has_finance: bool) -> None:
    """Lifecycle dollars, nominal and present value, through the timing factors."""
    timing = scenario.costs.timing
    c.v.blank()
    c.v.section("Lifecycle dollars" + (" (nominal: as paid; present value: at the start of training)"
                                       if has_finance else ""))
    infer_today = (lambda r: r("infer_usd_today")) if priced_inference else (lambda r: "0")
    if has_finance:
        factors = (("train_usd", "train_usd_today", "training_nominal_factor", timing.training_nominal),
                   ("infer_usd", None, "inference_nominal_factor", timing.inference_nominal),
                   ("train_pv", "train_usd_today", "training_present_factor", timing.training_present),
                   ("infer_pv", None, "inference_present_factor", timing.inference_present))
    else:
        factors = (("train_usd", "train_usd_today", None, 1.0), ("infer_usd", None, None, 1.0),
                   ("train_pv", "train_usd_today", None, 1.0), ("infer_pv", None, None, 1.0))
    labels = {"train_usd": "training dollars", "infer_usd": "inference dollars",
              "train_pv": "training dollars, present value", "infer_pv": "inference dollars, present value"}
    values = {"train_usd": both(lambda k: k.training_cost_usd), "infer_usd": both(lambda k: k.inference_cost_usd),
              "train_pv": both(lambda k: k.training_cost_pv_usd),
              "infer_pv": both(lambda k: k.inference_cost_pv_usd)}
    for name, today, factor, _ in factors:
        source = (lambda r, t=today: r(t)) if today else infer_today
        how = (f"at today's price × {factor.replace('_', ' ')} (Cash flow sheet)" if factor
               else "no [finance] section: paid at today's price")
        c.add(name, labels[name], "$",
              (lambda r, s=source, f=factor: f"={s(r)}*{f}" if f else f"={s(r)}"),
              values[name], how, fmt="money")
    c.add("total_usd", "lifecycle dollars", "$", lambda r: f"={r('train_usd')}+{r('infer_usd')}",
          both(lambda k: k.total_cost_usd), "training + inference", fmt="money", style="calc")
    c.add("total_pv", "lifecycle dollars, present value", "$", lambda r: f"={r('train_pv')}+{r('infer_pv')}",
          both(lambda k: k.total_cost_pv_usd), "what the optimiser minimised", fmt="money", style="calc")
    c.add("total_flops", "lifecycle compute", "FLOP", lambda r: f"={r('train_flops')}+{r('infer_flops')}",
          both(lambda k: k.total_flops), "training + inference")


def _price(c: _Calc, phase: str, price: float, fin) -> None:
    """The price of a GPU-hour: the rented price, or the owned GPU's amortisation + energy."""
    if fin is not None and fin.ownership == "own":
        c.add(f"{phase}_price", "cost of an owned GPU-hour", "$/GPU-hour",
              lambda r: (f"={phase}_capex/(amortisation_months*hours_per_month)"
                         f"+{phase}_power/1000*pue*energy_price"), (price, price),
              "capex / (months × hours per month) + power [kW] × PUE × $/kWh", fmt="money")
    else:
        c.add(f"{phase}_price", "price per GPU-hour", "$/GPU-hour", lambda r: f"={phase}_price_in",
              (price, price), "Inputs", fmt="money")


def _outputs(book, scenario, sol):
    v = Vertical(book, "Outputs", ("output", "value", "unit", "note"), (44, 20, 26, 50))
    names = book.names

    def live(label, name, value, unit, fmt, note: str | Cell = ""):
        if name in names:
            v.row([Cell(label, style="label"), Cell(value, formula=f"={name}", fmt=unit_format(unit, fmt)),
                   Cell(unit), note if isinstance(note, Cell) else Cell(note, style="note")])

    def fixed(label, value, unit="", fmt=None, note=""):
        v.row([Cell(label, style="label"), Cell(value, style="result" if isinstance(value, float) else "text",
                                                fmt=fmt), Cell(unit), Cell(note, style="note")])

    v.section("The plan")
    live("parameters N", "params_N", sol.params, "parameters", "sci", "optimiser result")
    live("training tokens D", "tokens_D", sol.tokens, "tokens", "sci", "optimiser result")
    live("tokens per parameter", "tokens_per_param", sol.tokens_per_param, "tokens/parameter", "num")
    live("predicted loss", "loss", sol.loss, "nats/token", "loss", f"target {sol.target_loss:.6g}"
         if sol.target_loss is not None else "")
    if sol.epochs is not None:
        fixed("epochs over the unique corpus", sol.epochs, "epochs", "num",
              f"unique tokens {format_count(sol.unique_tokens)}")
    live("training wall-clock", "train_days", sol.costs.training_days, "days", "num",
         training_months_note(scenario, sol))
    live("training dollars", "train_usd", sol.costs.training_cost_usd, "$", "money")
    live("inference dollars", "infer_usd", sol.costs.inference_cost_usd, "$", "money")
    live("lifecycle dollars", "total_usd", sol.costs.total_cost_usd, "$", "money")
    live("lifecycle dollars, present value", "total_pv", sol.costs.total_cost_pv_usd, "$", "money",
         "the objective" if sol.objective == "cost" else "")
    live("net present value of the cash flow", "npv_usd",
         sol.cash_flow.npv_usd if sol.cash_flow else None, "$", "money")
    live("lifecycle compute", "total_flops", sol.costs.total_flops, "FLOP", "sci")

    v.blank()
    v.section("Over-training (against the compute-optimal plan of equal loss under the same law)")
    live("compute-optimal parameters", "baseline_params_N", sol.baseline.params, "parameters", "sci",
         "optimiser result")
    live("compute-optimal tokens", "baseline_tokens_D", sol.baseline.tokens, "tokens", "sci",
         "optimiser result")
    v.row([Cell("over-training ratio", style="label"),
           Cell(sol.overtraining_ratio, formula="=tokens_per_param/baseline_tokens_per_param", fmt="num"),
           Cell("×"), Cell("tokens per parameter over the compute-optimal plan's", style="note")])
    v.row([Cell("against the 20:1 rule", style="label"),
           Cell(sol.tokens_per_param / 20, formula="=tokens_per_param/20", fmt="num"), Cell("×"),
           Cell("Hoffmann et al. 2022's rule of thumb", style="note")])
    sv = sol.savings()
    v.row([Cell("lifecycle compute saved", style="label"),
           Cell(sv["flops"], formula="=1-total_flops/baseline_total_flops", fmt="pct") if "total_flops" in names
           else Cell(sv["flops"], fmt="pct"), Cell("fraction"), Cell("positive: this plan uses less", style="note")])
    if "total_pv" in names and sv["cost_usd"] is not None:
        v.row([Cell("lifecycle dollars saved (present value)", style="label"),
               Cell(sv["cost_usd"], formula="=1-total_pv/baseline_total_pv", fmt="pct"), Cell("fraction"),
               Cell("positive: this plan costs less", style="note")])

    v.blank()
    v.section("Binding constraints and shadow prices (optimiser results)")
    if not sol.binding:
        fixed("none", "")
    for b in sol.binding:
        v.row([Cell(b.key, style="label"), Cell(b.shadow_price, style="result",
                                                fmt="price" if sol.objective_unit == "usd" else "sci"),
               Cell(f"{sol.objective_unit} per {b.unit}"),
               Cell(f"{b.label}; {shadow_price_text(sol, b)}", style="note")])
    v.blank()
    v.section("Certificate")
    cert = sol.certificate
    fixed("status", cert.status)
    fixed("relative KKT residual", cert.kkt_residual, "", "sci")
    fixed("solvers", ", ".join(cert.methods))
    if sol.warnings:
        v.blank()
        v.section("Warnings")
        for w in sol.warnings:
            v.row([Cell(w, style="text")])
    if sol.assumptions:
        v.blank()
        v.section("Assumptions")
        for a in sol.assumptions:
            v.row([Cell(a, style="text")])

"""The Inputs sheet of a plan's workbook: every input with its unit, scenario key and
source, each a named cell that the Calculations read (see :mod:`.plan_book`); and
:class:`Vertical`, a sheet built row by row, which the Calculations and Outputs use too."""
from __future__ import annotations

__all__ = ["Vertical", "inputs_sheet"]

from ..model.constants import (HOURS_PER_MONTH, INFER_FLOPS_PER_PARAM_TOKEN, SECONDS_PER_HOUR,
                               TRAIN_FLOPS_PER_PARAM_TOKEN)
from ..model.laws import ChinchillaLaw, KaplanLaw
from ..scenario.schema import Scenario
from .book_formats import monthly_tokens, unit_format, valid_range
from .serving_sheet import serving_inputs
from .workbook import Book, Cell, Sheet, column_letter, quote_sheet


class Vertical:
    """A sheet built row by row: label, value column(s), unit, notes."""

    def __init__(self, book: Book, name: str, headers: tuple[str, ...], widths: tuple[float, ...]):
        self.book = book
        self.sheet = Sheet(name, [[Cell(h, style="header") for h in headers]], widths, freeze=(1, 1))
        book.sheets.append(self.sheet)
        self.rows: dict[str, int] = {}

    @property
    def next_row(self) -> int:
        """1-based row number of the next row."""
        return len(self.sheet.rows) + 1

    def blank(self):
        self.sheet.rows.append([])

    def section(self, title: str):
        self.sheet.rows.append([Cell(title, style="section")])

    def row(self, cells: list[Cell], name: str | None = None, column: int = 1) -> str:
        """Append a row; when ``name`` is given, name the cell in ``column`` (0-based)."""
        r = self.next_row
        self.sheet.rows.append(cells)
        if name:
            self.rows[name] = r
            self.book.names[name] = f"{quote_sheet(self.sheet.name)}!${column_letter(column)}${r}"
        return name or f"{column_letter(column)}{r}"


def inputs_sheet(book: Book, scenario: Scenario) -> Vertical:
    """The Inputs sheet: every input with its unit, scenario key and source."""
    v = Vertical(book, "Inputs", ("input", "value", "unit", "scenario key", "source"),
                  (44, 18, 20, 38, 40))
    src = scenario.source or "scenario"

    def put(name, label, value, unit, key, source=src, fmt="num"):
        v.row([Cell(label, style="label"), Cell(value, style="input", fmt=unit_format(unit, fmt),
                    valid=valid_range(name, fmt, value)), Cell(unit), Cell(key), Cell(source, style="note")],
              name=name)

    _law_inputs(v, put, scenario)
    _constant_inputs(v, put)
    _hardware_inputs(v, put, scenario)
    _demand_inputs(v, put, scenario)
    return v


def _law_inputs(v: Vertical, put, scenario) -> None:
    """The constants of the law, with its source."""
    law = scenario.law
    v.section("Scaling law")
    if isinstance(law, ChinchillaLaw):
        for name, attr, unit in (("law_E", "E", "nats/token"), ("law_A", "A", "nats/token"),
                                 ("law_B", "B", "nats/token"), ("law_alpha", "alpha", "–"),
                                 ("law_beta", "beta", "–")):
            put(name, f"{attr} (L = E + A/N^alpha + B/D^beta)", getattr(law, attr), unit,
                f"law.{attr}", law.source)
    elif isinstance(law, KaplanLaw):
        for name, attr, unit in (("law_Nc", "Nc", "parameters"), ("law_Dc", "Dc", "tokens"),
                                 ("law_alpha_N", "alpha_N", "–"), ("law_alpha_D", "alpha_D", "–")):
            put(name, f"{attr} (L = ((Nc/N)^(alpha_N/alpha_D) + Dc/D)^alpha_D)", getattr(law, attr),
                unit, f"law.{attr}", law.source, fmt="sci" if attr in ("Nc", "Dc") else "num")


def _constant_inputs(v: Vertical, put) -> None:
    """FLOP per parameter-token and the lengths of an hour and a month (model/constants.py)."""
    v.blank()
    v.section("Constants")
    put("flop_per_param_token_train", "training FLOP per parameter per token", TRAIN_FLOPS_PER_PARAM_TOKEN, "FLOP",
        "", "Kaplan et al. 2020, §2.1 (forward 2 + backward 4)")
    put("flop_per_param_token_infer", "inference FLOP per parameter per token", INFER_FLOPS_PER_PARAM_TOKEN, "FLOP",
        "", "Kaplan et al. 2020, §2.1 (forward pass)")
    put("seconds_per_hour", "seconds per hour", SECONDS_PER_HOUR, "s", "", "definition", fmt="int")
    put("hours_per_month", "hours per average month", HOURS_PER_MONTH, "h", "",
        "365.25 days × 24 h / 12")



def _hardware_inputs(v: Vertical, put, scenario) -> None:
    """Peak, MFU, GPUs and the GPU-hour's price (or its owned cost) of training and serving."""
    t, i, fin = scenario.training, scenario.inference, scenario.finance
    if t is not None:
        v.blank()
        v.section(f"Training hardware ({t.gpu}, {t.dtype})")
        put("train_peak", "dense peak per GPU", t.peak_flops, "FLOP/s", "hardware.training.gpu",
            "GPU catalogue (lifeopt gpus) or peak_flops", fmt="sci")
        put("train_mfu", "model FLOPs utilisation", t.mfu, "fraction", "hardware.training.mfu", fmt="pct")
        if t.gpus is not None:
            put("train_gpus", "GPUs", float(t.gpus), "GPUs", "hardware.training.gpus", fmt="int")
        _gpu_cost_inputs(put, "train", "training", t, fin)
    if i is not None and scenario.demand.tokens > 0:
        v.blank()
        v.section(f"Inference hardware ({i.gpu}, {i.dtype})")
        put("infer_peak", "dense peak per GPU", i.peak_flops, "FLOP/s", "hardware.inference.gpu",
            "GPU catalogue (lifeopt gpus) or peak_flops", fmt="sci")
        if scenario.serving is None:
            put("infer_prefill_mfu", "prefill (prompt) utilisation", i.prefill_mfu, "fraction",
                "hardware.inference.prefill_mfu", fmt="pct")
            put("infer_decode_mfu", "decode (generation) utilisation", i.decode_mfu, "fraction",
                "hardware.inference.decode_mfu", fmt="pct")
        _gpu_cost_inputs(put, "infer", "inference", i, fin)
    if scenario.serving is not None:
        serving_inputs(v, put, scenario)



def _demand_inputs(v: Vertical, put, scenario) -> None:
    """Demand, and with [finance] the rates, the training months and the tokens by month."""
    fin = scenario.finance
    own = fin is not None and fin.ownership == "own"
    d = scenario.demand
    v.blank()
    v.section("Demand")
    frac = d.output_tokens / d.tokens if d.tokens > 0 else 0.0
    put("output_fraction", "generated share of served tokens (decode)", frac, "fraction",
        "inference.output_fraction", fmt="pct")
    if fin is None:
        put("tokens_served", "tokens served over the deployed life", d.tokens, "tokens",
            "inference.tokens", fmt="sci")

    if fin is not None:
        v.blank()
        v.section("Finance")
        put("discount_rate", "discount rate (annual)", fin.discount_rate, "fraction / year",
            "finance.discount_rate", fmt="pct")
        if not own:                     # an owned GPU-hour's price is its capex and energy
            put("price_decline", "decline of the GPU-hour price (annual)", fin.price_decline,
                "fraction / year", "finance.price_decline", fmt="pct")
        put("training_months", "months of training", float(fin.training_months), "months",
            "finance.training_months", fmt="int")
        if own:
            put("amortisation_months", "amortisation of owned GPUs", fin.amortisation_months, "months",
                "finance.amortisation_months")
            put("energy_price", "energy price", fin.energy_price, "$/kWh", "finance.energy_price",
                fmt="money")
        if fin.training_power_watts is not None or fin.inference_power_watts is not None or own:
            put("pue", "power usage effectiveness", fin.pue, "–", "finance.pue")
        v.blank()
        v.section("Tokens served per month (deployment)")
        monthly_tokens(v, put, fin)


def _gpu_cost_inputs(put, short: str, phase: str, hw, fin) -> None:
    """What a GPU-hour costs: the rental price, or an owned GPU's price; and its power draw."""
    own = fin is not None and fin.ownership == "own"
    if own:
        put(f"{short}_capex", "price of one GPU (owned)", getattr(fin, f"{phase}_capex"), "$",
            f"finance.{phase}_gpu_capex", fmt="money")
    elif hw.price_per_gpu_hour is not None:
        put(f"{short}_price_in", "price per GPU-hour (rented)", hw.price_per_gpu_hour, "$/GPU-hour",
            f"hardware.{phase}.price_per_gpu_hour", fmt="money")
    watts = getattr(fin, f"{phase}_power_watts") if fin is not None else None
    if watts is not None:
        put(f"{short}_power", "power per GPU", watts, "W", f"finance.{phase}_gpu_power")

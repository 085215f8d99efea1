"""Time and money: the months of a plan's life, discounting, price decline and owned GPUs.

A plan is paid for month by month. Month 0 is the start of training; training runs for
``training_months`` and its GPU-hours are spread evenly over them; serving follows for
``deployment_months``, with the tokens of each month given (a list, or a first month and
a monthly growth rate). Money spent in month m is discounted to the start of training by

    DF_m = (1 + r)^(−m/12) = 1 / (1 + r_month)^m,   r_month = (1 + r)^(1/12) − 1,

r the annual discount rate (docs/model.md §3, "Time and money"). A rented GPU-hour bought
in month m costs today's price × (1 − d)^(m/12), d the yearly decline of GPU-hour prices.

Everything here is linear in the plan's GPU-hours, so the present value of a plan is
still ``a·N·D + b·N``: :meth:`Finance.timing` condenses the months into the four
multipliers of :class:`~lifecycle_opt.model.costs.Timing` that the optimiser uses, and
:meth:`Finance.cash_flow` lays the optimal plan out month by month for the report and
the spreadsheet. Both read the same arrays, so their totals agree by construction
(and tests check it against an independent NPV).

Owned GPUs cost, per GPU-hour, their price amortised straight-line over
``amortisation_months`` plus the energy they draw: power × PUE × price per kWh
(:func:`owned_gpu_hour_cost`).
"""
from __future__ import annotations

__all__ = ["Finance", "CashFlow", "owned_gpu_hour_cost", "month_labels"]

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from .constants import HOURS_PER_MONTH
from .costs import Timing



def owned_gpu_hour_cost(capex_per_gpu: float, amortisation_months: float, power_watts: float,
                        pue: float, energy_price_per_kwh: float) -> float:
    """The cost of one owned GPU-hour [$ / GPU-hour]: capex [$] spread evenly over
    ``amortisation_months`` of round-the-clock use, plus energy (power [W] × PUE [–] ×
    price [$ / kWh]).

    >>> round(owned_gpu_hour_cost(30000, 48, 700, 1.2, 0.10), 4)   # an H100-class server share
    0.9396
    """
    amortisation = capex_per_gpu / (amortisation_months * HOURS_PER_MONTH)
    energy = power_watts / 1000.0 * pue * energy_price_per_kwh
    return amortisation + energy


def month_labels(start: _dt.date | None, months: int) -> list[str]:
    """"YYYY-MM" from ``start`` on, or "M0", "M1", … without a start date."""
    if start is None:
        return [f"M{m}" for m in range(months)]
    out = []
    for m in range(months):
        k = start.month - 1 + m
        out.append(f"{start.year + k // 12:04d}-{k % 12 + 1:02d}")
    return out


@dataclass(frozen=True)
class CashFlow:
    """A plan's spending month by month (one entry per month, month 0 = start of training).

    labels : "YYYY-MM" or "M<m>"
    training_usd, inference_usd : nominal dollars paid in the month [$]
    inference_tokens : tokens served in the month [count]
    energy_kwh : energy drawn in the month [kWh], or None when no power draw was given
    discount_factor : DF_m [–]; present_value : (training + inference) × DF_m [$]
    monthly_rate : r_month, the discount rate per month [–]
    """

    labels: tuple[str, ...]
    training_usd: tuple[float, ...]
    inference_tokens: tuple[float, ...]
    inference_usd: tuple[float, ...]
    discount_factor: tuple[float, ...]
    present_value: tuple[float, ...]
    energy_kwh: tuple[float, ...] | None
    monthly_rate: float

    @property
    def spend_usd(self) -> tuple[float, ...]:
        """Nominal dollars paid each month [$]."""
        return tuple(t + i for t, i in zip(self.training_usd, self.inference_usd))

    @property
    def total_nominal_usd(self) -> float:
        return float(np.sum(self.spend_usd))

    @property
    def npv_usd(self) -> float:
        """Net present value of the spending at the start of training [$]."""
        return float(np.sum(self.present_value))

    @property
    def total_energy_kwh(self) -> float | None:
        return None if self.energy_kwh is None else float(np.sum(self.energy_kwh))

    def as_dict(self) -> dict:
        return {"months": list(self.labels), "training_usd": list(self.training_usd),
                "inference_tokens": list(self.inference_tokens),
                "inference_usd": list(self.inference_usd),
                "discount_factor": list(self.discount_factor),
                "present_value_usd": list(self.present_value),
                "energy_kwh": None if self.energy_kwh is None else list(self.energy_kwh),
                "monthly_discount_rate": self.monthly_rate,
                "total_nominal_usd": self.total_nominal_usd, "npv_usd": self.npv_usd,
                "total_energy_kwh": self.total_energy_kwh}


@dataclass(frozen=True)
class Finance:
    """The ``[finance]`` section, in base units.

    monthly_tokens : tokens served in each deployment month [count]
    training_months : months over which training GPU-hours are spread (≥ 1)
    discount_rate : annual discount rate [–], applied monthly
    price_decline : yearly fall of the rented GPU-hour price [–] (0 for owned GPUs)
    start : first month of training, or None
    ownership : "rent" or "own"
    training_power_watts, inference_power_watts : power draw per GPU [W], for energy; None
        when not given
    pue : power usage effectiveness of the data centre [–]
    energy_price : [$ / kWh] (owned GPUs pay for their energy; None when renting)
    monthly_growth : the monthly growth of the demand [–] when ``finance.monthly_tokens``
        was one first month grown by it (the months are then that month × (1 + g)^m); else None
    training_capex, inference_capex : price of one GPU [$] (owned); amortisation_months
    """

    monthly_tokens: tuple[float, ...]
    training_months: int = 1
    discount_rate: float = 0.0
    price_decline: float = 0.0
    start: _dt.date | None = None
    ownership: str = "rent"
    training_power_watts: float | None = None
    inference_power_watts: float | None = None
    pue: float = 1.0
    energy_price: float | None = None
    training_capex: float | None = None
    inference_capex: float | None = None
    amortisation_months: float | None = None
    monthly_growth: float | None = None

    # ---- the month arrays
    @property
    def months(self) -> int:
        """Months from the start of training to the end of serving."""
        return self.training_months + len(self.monthly_tokens)

    @property
    def monthly_rate(self) -> float:
        """r_month = (1 + r)^(1/12) − 1 [–]."""
        return (1.0 + self.discount_rate) ** (1.0 / 12.0) - 1.0

    def discount_factors(self) -> np.ndarray:
        """DF_m = 1 / (1 + r_month)^m for every month [–]."""
        return (1.0 + self.monthly_rate) ** -np.arange(self.months, dtype=float)

    def price_factors(self) -> np.ndarray:
        """Price of a GPU-hour in month m over today's [–]."""
        return (1.0 - self.price_decline) ** (np.arange(self.months, dtype=float) / 12.0)

    def training_shares(self) -> np.ndarray:
        """Fraction of training GPU-hours in each month [–]."""
        w = np.zeros(self.months)
        w[:self.training_months] = 1.0 / self.training_months
        return w

    def token_schedule(self) -> np.ndarray:
        """Tokens served in each month [count]; zero while training."""
        t = np.zeros(self.months)
        t[self.training_months:] = self.monthly_tokens
        return t

    def serving_shares(self) -> np.ndarray:
        """Fraction of serving GPU-hours in each month [–]: each month's share of the tokens
        (all zero without demand, when there are no serving GPU-hours to spread)."""
        t = self.token_schedule()
        return t / t.sum() if t.sum() > 0 else np.zeros_like(t)

    @property
    def total_tokens(self) -> float:
        return float(np.sum(self.monthly_tokens))

    # ---- what the optimiser sees
    def timing(self) -> Timing:
        """The four multipliers on today's price that the cost model applies (see Timing)."""
        df, price = self.discount_factors(), self.price_factors()
        w, tw = self.training_shares(), self.serving_shares()
        return Timing(training_nominal=float(w @ price), training_present=float(w @ (price * df)),
                      inference_nominal=float(tw @ price),
                      inference_present=float(tw @ (price * df)))

    # ---- what the report and the spreadsheet show
    def cash_flow(self, training_gpu_hours: float, training_price: float | None,
                  inference_gpu_hours: float, inference_price: float | None) -> CashFlow:
        """The plan month by month, from its GPU-hours and today's prices [$ / GPU-hour]
        (None prices count as zero dollars)."""
        df, price = self.discount_factors(), self.price_factors()
        w, t, share = self.training_shares(), self.token_schedule(), self.serving_shares()
        train_h, infer_h = training_gpu_hours * w, inference_gpu_hours * share
        train_usd = train_h * (training_price or 0.0) * price
        infer_usd = infer_h * (inference_price or 0.0) * price
        energy = None
        if self.training_power_watts is not None or self.inference_power_watts is not None:
            energy = (train_h * (self.training_power_watts or 0.0)
                      + infer_h * (self.inference_power_watts or 0.0)) / 1000.0 * self.pue
        return CashFlow(labels=tuple(month_labels(self.start, self.months)),
                        training_usd=_tuple(train_usd), inference_tokens=_tuple(t),
                        inference_usd=_tuple(infer_usd), discount_factor=_tuple(df),
                        present_value=_tuple((train_usd + infer_usd) * df),
                        energy_kwh=None if energy is None else _tuple(energy),
                        monthly_rate=self.monthly_rate)


def _tuple(a: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in a)

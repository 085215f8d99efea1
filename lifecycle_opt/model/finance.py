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
    """Return the cost of one owned GPU-hour: its price amortised, plus its energy.

    Parameters
    ----------
    capex_per_gpu : float
        The price of one GPU (its share of the server) [$].
    amortisation_months : float
        Months of round-the-clock use it is spread evenly over [months].
    power_watts : float
        Its power draw [W].
    pue : float
        Power usage effectiveness of the data centre [–].
    energy_price_per_kwh : float
        [$ / kWh].

    Returns
    -------
    float
        capex / (months × 730.5 h) + power/1000 × PUE × price [$ / GPU-hour]
        (docs/model.md §3).

    Examples
    --------
    >>> round(owned_gpu_hour_cost(30000, 48, 700, 1.2, 0.10), 4)   # an H100-class server share
    0.9396
    """
    amortisation = capex_per_gpu / (amortisation_months * HOURS_PER_MONTH)
    energy = power_watts / 1000.0 * pue * energy_price_per_kwh
    return amortisation + energy


def month_labels(start: _dt.date | None, months: int) -> list[str]:
    """Return the labels of ``months`` months.

    Parameters
    ----------
    start : datetime.date or None
        The first month (of training).
    months : int
        How many.

    Returns
    -------
    list of str
        "YYYY-MM" from ``start`` on, or "M0", "M1", … without a start date.

    Examples
    --------
    >>> import datetime
    >>> month_labels(datetime.date(2025, 11, 1), 3), month_labels(None, 2)
    (['2025-11', '2025-12', '2026-01'], ['M0', 'M1'])
    """
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

    Parameters
    ----------
    labels : tuple of str
        "YYYY-MM" or "M<m>".
    training_usd, inference_usd : tuple of float
        Nominal dollars paid in each month [$].
    inference_tokens : tuple of float
        Tokens served in each month [tokens].
    discount_factor : tuple of float
        DF_m [–].
    present_value : tuple of float
        (training + inference) × DF_m [$].
    energy_kwh : tuple of float or None
        Energy drawn in each month [kWh], None when no power draw was given.
    monthly_rate : float
        r_month, the discount rate per month [–].
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
        """Nominal dollars paid over the plan's life [$]."""
        return float(np.sum(self.spend_usd))

    @property
    def npv_usd(self) -> float:
        """Net present value of the spending at the start of training [$]."""
        return float(np.sum(self.present_value))

    @property
    def total_energy_kwh(self) -> float | None:
        """Energy drawn over the plan's life [kWh], None without a power draw."""
        return None if self.energy_kwh is None else float(np.sum(self.energy_kwh))

    def as_dict(self) -> dict:
        """Return the months as JSON-ready lists.

        Returns
        -------
        dict
            Every column, the monthly rate and the totals.
        """
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
    """The ``[finance]`` section, in base units (docs/model.md §3, "Time and money").

    Parameters
    ----------
    monthly_tokens : tuple of float
        Tokens served in each deployment month [tokens].
    training_months : int, default 1
        Months over which training GPU-hours are spread (≥ 1).
    discount_rate : float, default 0
        Annual discount rate r [fraction], applied monthly.
    price_decline : float, default 0
        Yearly fall d of the rented GPU-hour price [fraction] (0 for owned GPUs).
    start : datetime.date, optional
        First month of training.
    ownership : {"rent", "own"}
        Whether the GPUs are rented or owned.
    training_power_watts, inference_power_watts : float, optional
        Power draw per GPU [W], for energy.
    pue : float, default 1
        Power usage effectiveness of the data centre [–].
    energy_price : float, optional
        [$ / kWh]; owned GPUs pay for their energy.
    training_capex, inference_capex : float, optional
        The price of one owned GPU [$].
    amortisation_months : float, optional
        Months an owned GPU's price is spread over [months].
    monthly_growth : float, optional
        The monthly growth g of the demand [fraction] when ``monthly_tokens`` was one first
        month grown by it (month m then serves that month × (1 + g)^m).

    Examples
    --------
    A year of even serving after one month of training, at 8 % a year: the serving
    dollars' present-value factor is the annuity (1/12)·Σ v^m, m = 1…12, v = 1.08^(−1/12):

    >>> f = Finance(monthly_tokens=(1e9,) * 12, discount_rate=0.08)
    >>> v = 1.08 ** (-1 / 12)
    >>> annuity = v * (1 - v ** 12) / (1 - v) / 12
    >>> abs(f.timing().inference_present / annuity - 1) < 1e-14
    True
    >>> round(float(f.discount_factors()[12] * 1.08), 14)        # DF_12 = 1/(1 + r)
    1.0
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
        """Return the discount factor of every month.

        Returns
        -------
        numpy.ndarray
            DF_m = 1 / (1 + r_month)^m = (1 + r)^(−m/12) [–], m = 0 … months − 1.
        """
        return (1.0 + self.monthly_rate) ** -np.arange(self.months, dtype=float)

    def price_factors(self) -> np.ndarray:
        """Return the price of a GPU-hour in each month over today's.

        Returns
        -------
        numpy.ndarray
            (1 − d)^(m/12) [–].
        """
        return (1.0 - self.price_decline) ** (np.arange(self.months, dtype=float) / 12.0)

    def training_shares(self) -> np.ndarray:
        """Return the share of the training GPU-hours in each month.

        Returns
        -------
        numpy.ndarray
            1/training_months in the training months, 0 after [fraction].
        """
        w = np.zeros(self.months)
        w[:self.training_months] = 1.0 / self.training_months
        return w

    def token_schedule(self) -> np.ndarray:
        """Return the tokens served in each month.

        Returns
        -------
        numpy.ndarray
            [tokens]; zero while training.
        """
        t = np.zeros(self.months)
        t[self.training_months:] = self.monthly_tokens
        return t

    def serving_shares(self) -> np.ndarray:
        """Return the share of the serving GPU-hours in each month.

        Returns
        -------
        numpy.ndarray
            Each month's share of the tokens [fraction] (all zero without demand, when
            there are no serving GPU-hours to spread).
        """
        t = self.token_schedule()
        return t / t.sum() if t.sum() > 0 else np.zeros_like(t)

    @property
    def total_tokens(self) -> float:
        """Tokens served over the deployment [tokens]."""
        return float(np.sum(self.monthly_tokens))

    # ---- what the optimiser sees
    def timing(self) -> Timing:
        """Return the four multipliers on today's price that the cost model applies.

        Returns
        -------
        Timing
            Training and serving, nominal and present value [–]: Σ_m share_m × price_m
            (× DF_m), so that the present value stays a·N·D + b·N (docs/model.md §3).
        """
        df, price = self.discount_factors(), self.price_factors()
        w, tw = self.training_shares(), self.serving_shares()
        return Timing(training_nominal=float(w @ price), training_present=float(w @ (price * df)),
                      inference_nominal=float(tw @ price),
                      inference_present=float(tw @ (price * df)))

    # ---- what the report and the spreadsheet show
    def cash_flow(self, training_gpu_hours: float, training_price: float | None,
                  inference_gpu_hours: float, inference_price: float | None) -> CashFlow:
        """Return the plan month by month.

        Parameters
        ----------
        training_gpu_hours, inference_gpu_hours : float
            The plan's GPU-hours of training and serving [GPU-hours].
        training_price, inference_price : float or None
            Today's prices [$ / GPU-hour]; None counts as zero dollars.

        Returns
        -------
        CashFlow
            Dollars, tokens, energy and present value in each month.
        """
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

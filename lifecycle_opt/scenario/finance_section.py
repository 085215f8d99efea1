"""Reading the ``[finance]`` section: the months of serving and their demand, discounting,
the decline of GPU-hour prices, and the GPU-hour cost of owned hardware (capex over the
amortisation months plus energy). A part of :class:`~.sections.SectionReader`."""
from __future__ import annotations

__all__ = ["FINANCE_KEYS", "FinanceReader"]

import datetime
from dataclasses import replace

from ..model.costs import Demand, InferenceHardware, TrainingHardware
from ..model.finance import Finance, owned_gpu_hour_cost
from ..model.units import parse_count, parse_money, parse_power, parse_rate
from .fields import Section, integer, number, signed_rate
from .registry import keys_of

FINANCE_KEYS = keys_of("finance")


class FinanceReader:
    """The ``[finance]`` methods of the section reader (which gives ``fail`` and
    ``assumptions``)."""

    def monthly_demand(self, sec: Section | None) -> list[float] | None:
        """Tokens per deployment month from finance.monthly_tokens (a list, or a first month
        with monthly_growth over deployment_months); None when not given there."""
        if sec is None or not sec.has("monthly_tokens"):
            if sec is not None and sec.has("monthly_growth"):
                self.fail("finance.monthly_growth", "only with finance.monthly_tokens",
                          sec.table["monthly_growth"])
            return None
        value = sec.table["monthly_tokens"]
        months = sec.get("deployment_months", integer)
        if isinstance(value, list):
            if sec.has("monthly_growth"):
                self.fail("finance.monthly_growth", "no growth rate when monthly_tokens is a list "
                          "(the list already gives every month)", sec.table["monthly_growth"])
            if not value:
                self.fail("finance.monthly_tokens", "a non-empty list of token counts", value)
            out = []
            for i, v in enumerate(value):
                try:
                    x = parse_count(v, "token count")
                except ValueError as exc:
                    self.fail(f"finance.monthly_tokens[{i}]", str(exc), v)
                if x < 0:
                    self.fail(f"finance.monthly_tokens[{i}]", "zero or more tokens", v)
                out.append(x)
            if months is not None and months != len(out):
                self.fail("finance.deployment_months", f"{len(out)}, the length of monthly_tokens "
                          "(or leave it out)", sec.table["deployment_months"])
            return out
        first = sec.get("monthly_tokens", lambda v: parse_count(v, "token count"), positive=False)
        if first < 0:
            self.fail("finance.monthly_tokens", "zero or more tokens", value)
        if months is None:
            self.fail("finance.deployment_months", "the number of months of serving when "
                      "monthly_tokens is one number", found_text="found none")
        growth = sec.get("monthly_growth", signed_rate, positive=False, default=0.0)
        if not growth > -1:
            self.fail("finance.monthly_growth", "a monthly growth rate above -100%",
                      sec.table["monthly_growth"])
        return [first * (1.0 + growth) ** m for m in range(int(months))]

    def finance(self, sec: Section, demand: Demand, monthly: list[float] | None,
                training: TrainingHardware | None, inference: InferenceHardware | None):
        """(Finance, training, inference): the hardware gets its owned GPU-hour cost when
        ownership = "own"."""
        if monthly is None:
            months = sec.get("deployment_months", integer)
            if demand.tokens > 0:
                if months is None:
                    self.fail("finance.deployment_months", "the number of months of serving (or "
                              "finance.monthly_tokens)", found_text="found none")
                monthly = [demand.tokens / months] * int(months)
                self.assumptions.append(f"finance: the inference demand is spread evenly over "
                                        f"{int(months)} months")
            else:
                monthly = [0.0] * int(months or 0)
        start = self._start(sec)
        ownership = sec.text("ownership", ("rent", "own"), default="rent")
        rate = sec.get("discount_rate", parse_rate, positive=False, default=0.0)
        if rate < 0:
            self.fail("finance.discount_rate", "zero or a positive annual rate", sec.table["discount_rate"])
        decline = sec.get("price_decline", parse_rate, positive=False, default=0.0)
        if not 0 <= decline < 1:
            self.fail("finance.price_decline", "a yearly decline in [0, 1) such as 0.2 or \"20%\"",
                      sec.table["price_decline"])
        pue = sec.get("pue", number, default=None)
        if pue is not None and pue < 1:
            self.fail("finance.pue", "a power usage effectiveness of at least 1", sec.table["pue"])
        train_w = sec.get("training_gpu_power", parse_power)
        infer_w = sec.get("inference_gpu_power", parse_power)
        energy = sec.get("energy_price", parse_money)
        capex = (sec.get("training_gpu_capex", parse_money), sec.get("inference_gpu_capex", parse_money))
        amort = sec.get("amortisation_months", number)
        if (train_w or infer_w) and pue is None:
            pue = 1.0
            self.assumptions.append("finance.pue not given: energy counted at the GPU (PUE 1.0)")
        if ownership == "own":
            if decline:
                self.fail("finance.price_decline", "no price decline with ownership = \"own\" (it applies "
                          "to rented GPU-hours)", sec.table["price_decline"])
            for key, value in (("amortisation_months", amort), ("energy_price", energy)):
                if value is None:
                    self.fail(f"finance.{key}", 'a value when ownership = "own"', found_text="found none")
            if training is not None:
                training = replace(training, price_per_gpu_hour=self._owned_price(
                    "training", training, capex[0], train_w, amort, pue, energy))
            if inference is not None and demand.tokens > 0:
                inference = replace(inference, price_per_gpu_hour=self._owned_price(
                    "inference", inference, capex[1], infer_w, amort, pue, energy))
        else:
            for key, value in (("training_gpu_capex", capex[0]), ("inference_gpu_capex", capex[1]),
                               ("amortisation_months", amort)):
                if value is not None:
                    self.fail(f"finance.{key}", 'only with ownership = "own"', sec.table[key])
        training_months = sec.get("training_months", integer, default=1.0)
        return (Finance(monthly_tokens=tuple(monthly), training_months=int(training_months),
                        discount_rate=rate, price_decline=decline, start=start, ownership=ownership,
                        training_power_watts=train_w, inference_power_watts=infer_w,
                        pue=pue if pue is not None else 1.0, energy_price=energy,
                        training_capex=capex[0], inference_capex=capex[1], amortisation_months=amort,
                        monthly_growth=self._growth(sec)),
                training, inference)

    def _growth(self, sec: Section) -> float | None:
        """The monthly growth when finance.monthly_tokens is one first month (0 when not
        given), else None (a list gives every month)."""
        if not sec.has("monthly_tokens") or isinstance(sec.table["monthly_tokens"], list):
            return None
        return sec.get("monthly_growth", signed_rate, positive=False, default=0.0)

    def _owned_price(self, phase, hw, capex, watts, months, pue, energy) -> float:
        if hw.price_per_gpu_hour is not None:
            self.fail(f"hardware.{phase}.price_per_gpu_hour", 'no rental price when finance.ownership = '
                      f'"own" (the GPU-hour cost comes from finance.{phase}_gpu_capex)', hw.price_per_gpu_hour)
        for key, value in ((f"{phase}_gpu_capex", capex), (f"{phase}_gpu_power", watts)):
            if value is None:
                self.fail(f"finance.{key}", 'a value when ownership = "own"', found_text="found none")
        cost = owned_gpu_hour_cost(capex, months, watts, pue, energy)
        self.assumptions.append(f"finance: an owned {hw.gpu} GPU-hour costs ${cost:.4g} ({phase}): capex "
                                f"over {months:g} months of round-the-clock use plus energy")
        return cost

    def _start(self, sec: Section):
        if not sec.has("start"):
            return None
        value = sec.table["start"]
        if isinstance(value, datetime.date):
            return datetime.date(value.year, value.month, 1)
        if isinstance(value, str):
            try:
                return datetime.datetime.strptime(value.strip(), "%Y-%m").date()
            except ValueError:
                pass
        self.fail("finance.start", 'a month such as "2027-01"', value)

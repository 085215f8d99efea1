"""The constants every stage shares, each with its source: FLOP per parameter per token,
and the lengths of an hour, a day and an average month. One home, imported by the laws,
the fit, the costs, the finance, the solvers and the workbook (docs/model.md §3)."""
from __future__ import annotations

__all__ = ["TRAIN_FLOPS_PER_PARAM_TOKEN", "INFER_FLOPS_PER_PARAM_TOKEN", "SECONDS_PER_HOUR",
           "HOURS_PER_DAY", "SECONDS_PER_DAY", "DAYS_PER_YEAR", "DAYS_PER_MONTH", "HOURS_PER_MONTH"]

#: training FLOP per parameter per token: forward 2 + backward 4 (Kaplan et al. 2020, §2.1)
TRAIN_FLOPS_PER_PARAM_TOKEN = 6.0
#: inference FLOP per parameter per token: the forward pass (Kaplan et al. 2020, §2.1)
INFER_FLOPS_PER_PARAM_TOKEN = 2.0

SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24.0
SECONDS_PER_DAY = SECONDS_PER_HOUR * HOURS_PER_DAY
#: a Julian year, as finance calendars average it [days]
DAYS_PER_YEAR = 365.25
#: an average month: a twelfth of a Julian year [days]
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: hours in an average month [h]
HOURS_PER_MONTH = DAYS_PER_MONTH * HOURS_PER_DAY

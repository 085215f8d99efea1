"""The years of a plan's cash flow: twelve months at a time from the start of training
(the last year may be shorter). The text report totals its cash flow by these years and
the workbook's Cash flow sheet sums its month columns over the same spans, so both show
the same yearly figures (docs/model.md §3, "Time and money")."""
from __future__ import annotations

__all__ = ["YearSpan", "year_spans"]

from collections.abc import Sequence
from dataclasses import dataclass

#: months in a year of the plan
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class YearSpan:
    """Months ``start`` to ``stop − 1`` (indices from the start of training), labelled by
    their first and last month ("2027-01 … 2027-12")."""

    label: str
    start: int
    stop: int

    @property
    def months(self) -> slice:
        return slice(self.start, self.stop)


def year_spans(labels: Sequence[str]) -> list[YearSpan]:
    """The years of months labelled ``labels`` ("YYYY-MM" or "M<m>"), in order.

    >>> [y.label for y in year_spans(["M0", "M1", "M2"])]
    ['M0 … M2']
    >>> [(y.start, y.stop) for y in year_spans([f"M{m}" for m in range(27)])]
    [(0, 12), (12, 24), (24, 27)]
    """
    spans = []
    for start in range(0, len(labels), MONTHS_PER_YEAR):
        stop = min(start + MONTHS_PER_YEAR, len(labels))
        spans.append(YearSpan(f"{labels[start]} … {labels[stop - 1]}", start, stop))
    return spans

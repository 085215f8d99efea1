"""Reading one table of a scenario file key by key: unknown keys with a did-you-mean, and
the value parsers every section shares (numbers, fractions, whole numbers, rates, days).
A bad value is a ScenarioError naming the key, what was expected and what was found."""
from __future__ import annotations

__all__ = ["Section", "number", "fraction", "integer", "signed_rate", "in_days"]

import difflib
import math
from typing import Any, Callable

from ..errors import UnknownKeyError
from ..model.constants import SECONDS_PER_DAY
from ..model.units import is_real, parse_count, parse_duration, parse_rate
from .schema import TINY


class Section:
    """One table of the file, read key by key; unknown keys are reported with a suggestion."""

    def __init__(self, reader: Any, name: str, table: Any, allowed: tuple[str, ...]):
        self.reader, self.name, self.allowed = reader, name, allowed
        if not isinstance(table, dict):
            reader.fail(name, "a table (section)", table)
        self.table = table
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UnknownKeyError(self.key(key), f"one of the keys {', '.join(allowed)}",
                                      source=reader.source, found_text=f"found an unknown key{hint}")

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, parse: Callable[[Any], float], *, positive: bool = True,
            default=None, upper: float | None = None):
        """The value at ``key`` parsed with ``parse``; ``default`` when absent."""
        if key not in self.table:
            return default
        value = self.table[key]
        try:
            x = parse(value)
        except ValueError as exc:
            self.reader.fail(self.key(key), str(exc), value)
        if positive and not x > 0:
            self.reader.fail(self.key(key), "a positive quantity", value)
        if positive and x < TINY:
            # a limit enters the problem as its reciprocal too: 1/2.2e-309 overflows
            self.reader.fail(self.key(key), f"a positive quantity of at least {TINY:g}", value)
        if upper is not None and x > upper:
            self.reader.fail(self.key(key), f"at most {upper:g}", value)
        return x

    def text(self, key: str, choices: tuple[str, ...] | None = None, default=None):
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, str):
            self.reader.fail(self.key(key), "a string", value)
        if choices is not None and value not in choices:
            self.reader.fail(self.key(key), f"one of {', '.join(repr(c) for c in choices)}", value)
        return value

    def flag(self, key: str, default=None):
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            self.reader.fail(self.key(key), "true or false", value)
        return value

    def sub(self, key: str, allowed: tuple[str, ...]) -> "Section | None":
        if key not in self.table:
            return None
        return Section(self.reader, self.key(key), self.table[key], allowed)


def number(value) -> float:
    """A finite real number (numpy's too); ValueError otherwise."""
    if not is_real(value):
        raise ValueError("a number")
    try:
        x = float(value)
    except OverflowError:
        raise ValueError("a finite number (at most about 1.8e308)") from None
    if not math.isfinite(x):
        raise ValueError("a finite number")
    return x


def fraction(value) -> float:
    """A fraction in (0, 1]: a number such as 0.4, or a percentage such as "40%" (the one
    rule for every share, as for rates)."""
    x = parse_rate(value) if isinstance(value, str) else number(value)
    if not 0 < x <= 1:
        raise ValueError("a fraction in (0, 1] such as 0.4 or \"40%\"")
    return x


def integer(value) -> float:
    x = parse_count(value, "count")
    if x != int(x):
        raise ValueError("a whole number")
    return x


def signed_rate(value) -> float:
    """A rate that may be negative (a shrinking demand): a number or "-2%"."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_rate(value.strip()[1:])
    return parse_rate(value)


def in_days(value) -> float:
    """A duration in days [days]: a number of days, or "12 weeks", "2 years"."""
    return parse_duration(value, "days") / SECONDS_PER_DAY

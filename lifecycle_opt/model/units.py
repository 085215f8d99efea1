"""Human quantities at the edges: parse "70B", "1.4T", "$2.1M", "90 days"; print them back.

Internally everything is a plain float in base units: parameters and tokens [count],
FLOP, seconds, dollars. Parsing functions raise ``ValueError`` with a short
description of what was expected; the scenario loader turns that into a
``ScenarioError`` naming the file and key.
"""
from __future__ import annotations

__all__ = [
    "parse_count",
    "parse_money",
    "parse_duration",
    "parse_flops",
    "parse_flop_rate",
    "parse_bytes",
    "parse_bandwidth",
    "parse_power",
    "parse_rate",
    "format_count",
    "format_money",
    "format_plain",
    "format_gpu_hours",
    "format_money_column",
    "format_count_column",
    "format_flops",
    "format_duration",
    "format_number",
    "is_real",
]

import math
import numbers
import re

import numpy as np

from .constants import DAYS_PER_MONTH, DAYS_PER_YEAR, SECONDS_PER_DAY, SECONDS_PER_HOUR

# Decimal multipliers. "B" is billion (1e9) as in "70B parameters"; "G" is accepted too.
_SUFFIX = {
    "": 1.0,
    "k": 1e3, "K": 1e3, "thousand": 1e3,
    "M": 1e6, "m": 1e6, "million": 1e6, "mn": 1e6,
    "B": 1e9, "b": 1e9, "G": 1e9, "billion": 1e9, "bn": 1e9,
    "T": 1e12, "t": 1e12, "trillion": 1e12,
    "P": 1e15, "quadrillion": 1e15,
}

_NUMBER = r"[-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<suffix>[A-Za-z]*)\s*(?P<unit>.*?)\s*$")

# Durations: name -> seconds. A month is 1/12 of a Julian year, as finance calendars average it.
_MONTH, _YEAR = DAYS_PER_MONTH * SECONDS_PER_DAY, DAYS_PER_YEAR * SECONDS_PER_DAY
_DURATION = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": SECONDS_PER_HOUR, "hr": SECONDS_PER_HOUR, "hour": SECONDS_PER_HOUR, "hours": SECONDS_PER_HOUR,
    "d": SECONDS_PER_DAY, "day": SECONDS_PER_DAY, "days": SECONDS_PER_DAY,
    "w": 7 * SECONDS_PER_DAY, "week": 7 * SECONDS_PER_DAY, "weeks": 7 * SECONDS_PER_DAY,
    "month": _MONTH, "months": _MONTH, "y": _YEAR, "yr": _YEAR, "year": _YEAR, "years": _YEAR,
}


def is_real(value: object) -> bool:
    """A real number, numpy's included (np.int64, np.float32 from a notebook), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _finite(x, what: str) -> float:
    try:
        x = float(x)
    except OverflowError:                    # an integer of hundreds of digits
        raise ValueError(f"a finite {what} (at most about 1.8e308)") from None
    if not math.isfinite(x):
        raise ValueError(f"a finite {what}")
    return x


def _split(text: str, what: str) -> tuple[float, str, str]:
    """Split "1.4T tokens" into (1.4, "T", "tokens")."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(what)
    num = float(match["num"].replace("_", "").replace(",", ""))
    return num, match["suffix"], match["unit"]


def parse_count(value: object, what: str = "count") -> float:
    """Parse a count of parameters or tokens.

    Parameters
    ----------
    value : float or str
        A number, or text such as "70B", "1.4T", "500 million", "2T tokens".
    what : str, default "count"
        What is counted, named in the error.

    Returns
    -------
    float
        [count]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_count("70B"), parse_count("1.4T"), parse_count(2e12), parse_count("500 million")
    (70000000000.0, 1400000000000.0, 2000000000000.0, 500000000.0)
    """
    expected = f'a {what} such as 7e10 or "70B"'
    if is_real(value):
        return _finite(value, what)
    if not isinstance(value, str):
        raise ValueError(expected)
    num, suffix, unit = _split(value, expected)
    if suffix in _SUFFIX and unit.lower() in ("", "tokens", "token", "params", "parameters", "requests"):
        return _finite(num * _SUFFIX[suffix], what)
    # "70 billion tokens": the multiplier word arrives as the suffix, the rest as unit
    words = unit.split()
    if suffix == "" and words and words[0] in _SUFFIX:
        return _finite(num * _SUFFIX[words[0]], what)
    if suffix.lower() in ("tokens", "token", "params", "parameters") and unit == "":
        return _finite(num, what)
    raise ValueError(expected)


def _parse_quantity(value: object, expected: str, what: str, multiplier, bare: float = 1.0) -> float:
    """The one shape of every parser below: a number is taken as ``bare`` units; a string
    is split into number, suffix and unit, and ``multiplier(suffix, unit)`` says what one
    of it is worth in base units (None: not understood → ValueError(expected))."""
    if is_real(value):
        return _finite(value * bare, what)
    if not isinstance(value, str):
        raise ValueError(expected)
    num, suffix, unit = _split(value, expected)
    mult = multiplier(suffix, unit)
    if mult is None:
        raise ValueError(expected)
    return _finite(num * mult, what)


def parse_money(value: object) -> float:
    """Parse an amount of money.

    Parameters
    ----------
    value : float or str
        A number, or text such as "$2.1M", "2.1M", "$1,500", "-$5", "2.1M USD".

    Returns
    -------
    float
        [$]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_money("$2.1M"), parse_money("2.1M"), parse_money("$1,500"), parse_money(5e6)
    (2100000.0, 2100000.0, 1500.0, 5000000.0)
    """
    if isinstance(value, str):
        # "$2.1M", "-$5", "2.1M USD" → a bare number with a multiplier suffix
        text = value.strip()
        sign = ""
        if text.startswith("-"):
            sign, text = "-", text[1:].lstrip()
        value = sign + text.removeprefix("$").replace("USD", "").strip()
    return _parse_quantity(value, 'an amount in dollars such as 2.1e6 or "$2.1M"', "amount",
                           lambda suffix, unit: None if unit else _SUFFIX.get(suffix))


def parse_duration(value: object, default_unit: str = "days") -> float:
    """Parse a duration.

    Parameters
    ----------
    value : float or str
        A number (in ``default_unit``), or text such as "90 days", "6 months", "2 years".
    default_unit : str, default "days"
        The unit of a bare number (a month is a twelfth of a Julian year).

    Returns
    -------
    float
        [s]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_duration(90) / 86400, parse_duration("12 weeks") / 86400, parse_duration("2 years") / 86400
    (90.0, 84.0, 730.5)
    """
    def multiplier(suffix, unit):
        name = (suffix + (" " + unit if unit else "")).strip().lower()
        return _DURATION[default_unit] if name == "" else _DURATION.get(name)

    return _parse_quantity(value, f'a duration such as 90 ({default_unit}) or "90 days", '
                           f'"6 months", "2 years"', "duration", multiplier, bare=_DURATION[default_unit])


_FLOP_PREFIXES = {"": 1.0, "kilo": 1e3, "mega": 1e6, "giga": 1e9, "tera": 1e12, "peta": 1e15,
                  "exa": 1e18, "zetta": 1e21, "yotta": 1e24}
_FLOP_WORDS = {prefix + base: mult for prefix, mult in _FLOP_PREFIXES.items()
               for base in ("FLOP", "FLOPs", "flop", "flops", "FLOPS")} | {"": 1.0}
_RATE_WORDS = {prefix + "FLOPS": mult for prefix, mult in
               {"": 1.0, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}.items()} | {"": 1.0}
_BYTE_WORDS = {"B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
               "KIB": 2.0**10, "MIB": 2.0**20, "GIB": 2.0**30, "TIB": 2.0**40}


def parse_flops(value: object) -> float:
    """Parse an amount of compute.

    Parameters
    ----------
    value : float or str
        A number, or text such as "3.2e23 FLOP", "5e3 zettaFLOP".

    Returns
    -------
    float
        [FLOP]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_flops(1e24), parse_flops("3.2e23 FLOP"), parse_flops("5e3 zettaFLOP")
    (1e+24, 3.2e+23, 5e+24)
    """
    return _parse_quantity(value, 'an amount of compute such as 1e24 or "1e24 FLOP"', "amount of compute",
                           lambda suffix, unit: _FLOP_WORDS.get((suffix + unit).replace(" ", "")))


def parse_flop_rate(value: object) -> float:
    """Parse a peak compute rate.

    Parameters
    ----------
    value : float or str
        A number, or text such as "989 TFLOPS", "2.25 PFLOP/s".

    Returns
    -------
    float
        [FLOP/s]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_flop_rate(9.89e14), parse_flop_rate("989 TFLOPS"), parse_flop_rate("2.25 PFLOP/s")
    (989000000000000.0, 989000000000000.0, 2250000000000000.0)
    """
    def multiplier(suffix, unit):
        word = (suffix + unit).replace(" ", "").replace("/s", "S").upper()
        return _RATE_WORDS.get(word.removesuffix("S") if word.endswith("SS") else word)

    return _parse_quantity(value, 'a rate such as 9.89e14 or "989 TFLOPS"', "rate", multiplier)


def parse_bytes(value: object) -> float:
    """Parse an amount of memory (decimal units, as GPU datasheets use them; KiB … TiB binary).

    Parameters
    ----------
    value : float or str
        A number, or text such as "80GB", "1.5 TB", "1.5 TiB".

    Returns
    -------
    float
        [bytes]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_bytes("80GB"), parse_bytes("1.5 TB"), parse_bytes(4e10)
    (80000000000.0, 1500000000000.0, 40000000000.0)
    """
    return _parse_quantity(value, 'an amount of memory such as 8e10 or "80GB"', "amount of memory",
                           lambda suffix, unit: _BYTE_WORDS.get((suffix + unit).replace(" ", "").upper()))


def parse_bandwidth(value: object) -> float:
    """Parse a memory bandwidth (decimal units).

    Parameters
    ----------
    value : float or str
        A number [bytes/s], or text such as "3.35TB/s", "2039 GB/s".

    Returns
    -------
    float
        [bytes/s]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_bandwidth("3.35TB/s"), parse_bandwidth("2039 GB/s"), parse_bandwidth(1.555e12)
    (3350000000000.0, 2039000000000.0, 1555000000000.0)
    """
    def multiplier(suffix, unit):
        word = (suffix + unit).replace(" ", "").upper()
        return _BYTE_WORDS.get(word[:-2]) if word.endswith("/S") else None

    return _parse_quantity(value, 'a bandwidth such as 3.35e12 or "3.35TB/s"', "bandwidth", multiplier)


_POWER_WORDS = {"W": 1.0, "KW": 1e3, "MW": 1e6}


def parse_power(value: object) -> float:
    """Parse a power draw.

    Parameters
    ----------
    value : float or str
        A number [W], or text such as "700W", "1.2 kW".

    Returns
    -------
    float
        [W]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_power("700W"), parse_power("1.2 kW"), parse_power(700)
    (700.0, 1200.0, 700.0)
    """
    return _parse_quantity(value, 'a power such as 700 (watts) or "700W", "1.2kW"', "power",
                           lambda suffix, unit: _POWER_WORDS.get((suffix + unit).replace(" ", "").upper()))


def parse_rate(value: object) -> float:
    """Parse a rate such as a discount rate or a yearly decline.

    Parameters
    ----------
    value : float or str
        A fraction (0.08) or a percentage ("8%").

    Returns
    -------
    float
        [fraction]; ValueError saying what was expected for anything else.

    Examples
    --------
    >>> parse_rate(0.08), parse_rate("8%"), parse_rate("12.5 %")
    (0.08, 0.08, 0.125)
    """
    return _parse_quantity(value, 'a fraction such as 0.08 or a percentage such as "8%"', "rate",
                           lambda suffix, unit: 0.01 if suffix == "" and unit == "%" else None)


# ---------------------------------------------------------------- formatting

def format_number(x: float, digits: int = 4) -> str:
    """A float with ``digits`` significant digits: in full (:func:`format_plain`) from 1e-3 to
    1e9, scientific beyond (rates such as tokens per second print in full).

    >>> format_number(42666.67), format_number(0.5), format_number(3.2e23)
    ('42,667', '0.5', '3.200e+23')
    """
    if x == 0 or not math.isfinite(x):
        return str(x)
    if 1e-3 <= abs(x) < 1e9:
        return format_plain(x, digits)
    return f"{x:.{digits - 1}e}"


def _decimals(x: float, digits: int) -> int:
    """Decimals that show ``x`` to ``digits`` significant digits (none for the integer part)."""
    return max(0, digits - 1 - math.floor(math.log10(abs(x)))) if x else 0


def format_plain(x: float, digits: int = 4) -> str:
    """A number to ``digits`` significant digits, never in E-notation: thousands separated,
    the integer part in full, trailing zeros dropped (tokens, GPU-hours, days, times).

    >>> format_plain(774312.3), format_plain(90), format_plain(5.1449, 3), format_plain(0.0123456)
    ('774,312', '90', '5.14', '0.01235')
    """
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.{_decimals(x, digits)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_count(x: float, digits: int = 4) -> str:
    """A count with a k/M/B/T/P suffix, never in E-notation.

    >>> format_count(7e10), format_count(1.4e12), format_count(2.418e10), format_count(3e19)
    ('70B', '1.4T', '24.18B', '30,000P')
    """
    for mult, suffix in _COUNT_SCALES:
        if abs(x) >= mult:
            return f"{format_plain(x / mult, digits)}{suffix}"
    return format_plain(x, digits)


_COUNT_SCALES = ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_MONEY_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def format_gpu_hours(x: float) -> str:
    """GPU-hours in full, thousands separated (as the workbook shows them).

    >>> format_gpu_hours(774312.3), format_gpu_hours(1402.4), format_gpu_hours(0.25)
    ('774,312 GPU-h', '1,402 GPU-h', '0.25 GPU-h')
    """
    return f"{x:,.0f} GPU-h" if abs(x) >= 10 else f"{format_plain(x, 3)} GPU-h"


def format_money(x: float) -> str:
    """Dollars with a M/B/T suffix from a million, whole dollars from a thousand, cents
    below: the same rule for negative amounts (:func:`format_money_column` of one value).

    >>> format_money(2.1e6), format_money(1234.5), format_money(3.3e9), format_money(-25001.4)
    ('$2.10M', '$1,234', '$3.30B', '-$25,001')
    """
    return format_money_column([x])[0]


def format_money_column(values, missing: str = "—") -> list[str]:
    """Amounts of one column in one scale: millions (billions, trillions) with two decimals,
    the largest of them that the largest amount reaches and in which the smallest amount
    other than zero is at least 0.01 (so that none reads as $0.00M), else whole dollars
    from a thousand, or cents below. A negative amount as its positive with a minus;
    ``missing`` for None or nan.

    >>> format_money_column([1.631e6, 0.0, 854015.2, -25001.0])
    ['$1.63M', '$0.00M', '$0.85M', '-$0.03M']
    >>> format_money_column([854015.2, -25001.4, None])
    ['$854,015', '-$25,001', '—']
    >>> format_money_column([2905.3, 8.51e6])
    ['$2,905', '$8,510,000']
    >>> format_money_column([6.2e6, 1.588e9])
    ['$6.20M', '$1,588.00M']
    """
    present = [abs(float(v)) for v in values if _present(v)]
    top = max(present, default=0.0)
    least = min((v for v in present if v > 0), default=top)
    mult, suffix, decimals = 1.0, "", 2 if top < 1e3 else 0
    for m, sfx in _MONEY_SCALES:
        if top >= m and least >= m / 100:
            mult, suffix, decimals = m, sfx, 2
            break
    out = []
    for v in values:
        if not _present(v):
            out.append(missing)
            continue
        text = f"{abs(float(v)) / mult:,.{decimals}f}"
        sign = "-" if float(v) < 0 and text.strip("0.,") else ""
        out.append(f"{sign}${text}{suffix}")
    return out


def format_count_column(values, digits: int = 4, unit: str = "", missing: str = "—") -> list[str]:
    """Counts of one column (tokens, parameters) in one scale, chosen by the largest, which
    shows ``digits`` significant digits; every value with as many decimals.

    >>> format_count_column([3e13, 2.5e12, 3e11])
    ['30.00T', '2.50T', '0.30T']
    """
    present = [abs(float(v)) for v in values if _present(v)]
    top = max(present, default=0.0)
    mult, suffix = next(((m, s) for m, s in _COUNT_SCALES if top >= m), (1.0, ""))
    decimals = _decimals(top / mult, digits) if top else 0
    tail = f" {unit}" if unit else ""
    return [missing if not _present(v) else f"{float(v) / mult:,.{decimals}f}{suffix}{tail}" for v in values]


def _present(v) -> bool:
    return v is not None and is_real(v) and math.isfinite(float(v))


def format_flops(x: float) -> str:
    """Compute in FLOP, scientific (the one quantity printed with an exponent).

    >>> format_flops(3.855e23)
    '3.855e+23 FLOP'
    """
    return f"{x:.4g} FLOP"


def format_duration(seconds: float) -> str:
    """A duration in days (or hours when short), never in E-notation.

    >>> format_duration(90 * 86400), format_duration(7200), format_duration(1234.5 * 86400)
    ('90 days', '2 hours', '1,234 days')
    """
    days = seconds / SECONDS_PER_DAY
    if days >= 1:
        return f"{format_plain(days, 3)} days"
    return f"{format_plain(seconds / SECONDS_PER_HOUR, 3)} hours"

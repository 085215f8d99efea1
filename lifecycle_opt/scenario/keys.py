"""What a scenario key is: its kind of value (a count such as "70B", an amount of money, a
fraction, a choice among names...), its unit, default, example and what it changes. The
registry of every key (:mod:`.registry`) is made of these; each kind knows how a value of
it is read (the parsers the section reader uses) and its JSON Schema, so that the
reference in docs/, ``lifeopt schema`` and ``lifeopt check`` come from one description.
"""
from __future__ import annotations

__all__ = ["Kind", "KINDS", "Key", "Table"]

import datetime
import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable

from ..model.units import (parse_bandwidth, parse_bytes, parse_count, parse_flop_rate, parse_flops, parse_money,
                           parse_power, parse_rate)
from .fields import fraction, in_days, integer, number, signed_rate

#: strings of a number with an optional multiplier and unit ("70B", "1.4T tokens", "$2.1M",
#: "80GB", "3.35TB/s", "90 days", "40%"): what a human quantity looks like to an editor
_HUMAN = r"^\s*[-+]?\$?\s*(\d[\d_,]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*[A-Za-z%/ .]*$"


@dataclass(frozen=True)
class Kind:
    """A kind of value: its name in the reference, how it is read (``parse`` raises
    ValueError with what was expected), and its JSON Schema."""

    name: str
    parse: Callable[[Any], Any]
    schema: dict


def _number_or_text(minimum: float | None = None) -> dict:
    num: dict = {"type": "number"}
    if minimum is not None:
        num["minimum"] = minimum
    return {"anyOf": [num, {"type": "string", "pattern": _HUMAN}]}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _month(value: Any) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.strptime(value.strip(), "%Y-%m").date()
        except ValueError:
            pass
    raise ValueError('a month such as "2027-01"')


def _finite_number(value: Any) -> float:
    x = number(value)
    if not math.isfinite(x):
        raise ValueError("a finite number")
    return x


#: every kind of value a scenario key takes
KINDS = {k.name: k for k in (
    Kind("count", lambda v: parse_count(v), _number_or_text(0)),
    Kind("integer", integer, {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": _HUMAN}]}),
    Kind("number", _finite_number, {"type": "number"}),
    Kind("fraction", fraction, {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                          {"type": "string", "pattern": r"^\s*\d+(\.\d*)?\s*%\s*$"}]}),
    Kind("rate", parse_rate, {"anyOf": [{"type": "number", "minimum": 0},
                                        {"type": "string", "pattern": r"^\s*\d+(\.\d*)?\s*%\s*$"}]}),
    Kind("signed rate", signed_rate, {"anyOf": [{"type": "number"},
                                                {"type": "string", "pattern": r"^\s*-?\d+(\.\d*)?\s*%\s*$"}]}),
    Kind("days", in_days, _number_or_text(0)),
    Kind("money", parse_money, _number_or_text()),
    Kind("FLOP", parse_flops, _number_or_text(0)),
    Kind("FLOP/s", parse_flop_rate, _number_or_text(0)),
    Kind("bytes", parse_bytes, _number_or_text(0)),
    Kind("bytes/s", parse_bandwidth, _number_or_text(0)),
    Kind("watts", parse_power, _number_or_text(0)),
    Kind("text", _text, {"type": "string"}),
    Kind("path", _text, {"type": "string"}),
    Kind("choice", _text, {"type": "string"}),
    Kind("bool", _flag, {"type": "boolean"}),
    Kind("month", _month, {"type": "string", "pattern": r"^\d{4}-\d{2}"}),
)}


@dataclass(frozen=True)
class Key:
    """One key of a scenario file.

    Parameters
    ----------
    path : str
        Dotted, from the top of the file ("limits.max_params").
    kind : str
        One of :data:`KINDS`.
    doc : str
        What it changes, in one or two sentences.
    unit : str
        The unit of a bare number ("parameters", "$", "days"), "" for none.
    default : str
        What applies when it is left out ("" when nothing does: the feature is off).
    example : str
        A value as written in TOML ('"70B"').
    choices : tuple of str
        The names a "choice" takes (``open``: others are accepted too, as GPU aliases are).
    many : str
        "" for one value, "or list" when a list of such values is accepted too, "list"
        when only a list is.
    positive : bool
        Whether zero is refused (most quantities; not a demand of zero tokens).
    """

    path: str
    kind: str
    doc: str
    unit: str = ""
    default: str = ""
    example: str = ""
    choices: tuple[str, ...] = ()
    open: bool = False
    many: str = ""
    positive: bool = True

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def table(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

    def parse_one(self, value: Any) -> Any:
        """One value read as the reader reads it; ValueError with what was expected."""
        x = KINDS[self.kind].parse(value)
        if self.choices and not self.open and x not in self.choices:
            close = difflib.get_close_matches(str(x), self.choices, n=1)
            raise ValueError(f"one of {', '.join(repr(c) for c in self.choices)}"
                             + (f" (did you mean {close[0]!r}?)" if close else ""))
        if self.kind in ("count", "integer", "number", "days", "money", "FLOP", "FLOP/s", "bytes", "bytes/s",
                         "watts") and self.positive and not x > 0:
            raise ValueError("a positive quantity")
        if self.kind in ("count", "integer", "days") and not self.positive and x < 0:
            raise ValueError("zero or more")
        return x

    def json_schema(self) -> dict:
        one = dict(KINDS[self.kind].schema)
        if self.choices:
            one = {"enum": list(self.choices)} if not self.open else {
                "anyOf": [{"enum": list(self.choices)}, {"type": "string"}]}
        if self.many == "list":
            out: dict = {"type": "array", "items": one, "minItems": 1}
        elif self.many == "or list":
            out = {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}
        else:
            out = one
        return {**out, "description": self.doc + (f" [{self.unit}]" if self.unit else "")
                + (f" Default: {self.default}." if self.default else "")}


@dataclass(frozen=True)
class Table:
    """A table of a scenario file ("hardware.training"), with what it is for; ``shorthand``:
    the names a string may give in place of the table (a preset's, ``architecture =
    "llama-3-70b"`` for ``[serving.architecture] preset = "llama-3-70b"``), () when only a
    table will do."""

    path: str
    doc: str
    shorthand: tuple[str, ...] = ()

    def parse_shorthand(self, value: Any) -> str:
        """A string given for the table, read as the reader reads it (case aside); ValueError
        with what was expected."""
        names = ", ".join(repr(c) for c in self.shorthand)
        if not isinstance(value, str):
            raise ValueError(f"a table, or one of {names}")
        if value.strip().lower() not in self.shorthand:
            close = difflib.get_close_matches(value.strip().lower(), self.shorthand, n=1)
            raise ValueError(f"a table, or one of {names}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return value

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def table(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

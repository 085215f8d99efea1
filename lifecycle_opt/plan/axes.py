"""Sweep axes: which scenario key changes and the values it takes, and the scenario
(file keys) with those values laid in.

An axis names a scenario key in dotted form (``inference.tokens``, ``target.loss``,
``hardware.training.price_per_gpu_hour``) and the values it takes; several axes make
their product. Specifications (the CLI's ``--vary``, or strings in Python):

* ``1e11..1e14:log:25`` — 25 values spaced evenly in log between the ends;
* ``1.9..2.1:lin:5`` (or ``1.9..2.1:5``) — 5 values spaced evenly;
* ``1.9,2.0,2.1`` or ``"70B","1.4T"`` — a list, each value read as the key reads it.

>>> axis = parse_axis("inference.tokens=1e11..1e13:log:3")
>>> axis.key, axis.values.tolist()
('inference.tokens', [100000000000.0, 1000000000000.0, 10000000000000.0])
"""
from __future__ import annotations

__all__ = ["Axis", "parse_axis", "parse_axes", "spec_count", "axes_of", "grid", "grid_size", "with_value", "MAX_POINTS"]

import copy
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import ScenarioError
from ..model.units import parse_count, parse_money, parse_rate


MAX_POINTS = 100_000_000


@dataclass(frozen=True, eq=False)
class Axis:
    """One swept setting: ``key`` (dotted scenario key) and the ``values`` it takes: a
    tuple, or for a range a float array (ten million values are 80 MB as an array and
    320 MB as Python floats)."""

    key: str
    values: tuple | np.ndarray

    def __post_init__(self):
        if len(self.values) == 0:
            raise ScenarioError(f"--vary {self.key}", "at least one value", found_text="found none")

    def item(self, i: int):
        """Value ``i`` as a plain Python value."""
        v = self.values[i]
        return v.item() if isinstance(v, np.generic) else v

    @functools.cached_property
    def array(self) -> np.ndarray:
        """The values as an array: floats when every value is a float, else objects."""
        if isinstance(self.values, np.ndarray):
            return self.values
        if all(type(v) is float for v in self.values):
            return np.asarray(self.values, dtype=float)
        out = np.empty(len(self.values), dtype=object)
        out[:] = list(self.values)
        return out

    def thinned(self, most: int) -> "Axis":
        """At most ``most`` of the values, evenly spaced by position, the first and the
        last kept."""
        n = len(self.values)
        if n <= most:
            return self
        picks = np.unique(np.linspace(0, n - 1, most).round().astype(int))
        if isinstance(self.values, np.ndarray):
            return Axis(self.key, self.values[picks])
        return Axis(self.key, tuple(self.values[i] for i in picks))

    @functools.cached_property
    def finite_numbers(self) -> bool:
        """Whether every value is a finite int or float (not a bool, not text)."""
        if isinstance(self.values, np.ndarray) and self.values.dtype.kind == "f":
            return bool(np.all(np.isfinite(self.values)))
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in self.values)


def _usage(spec: str, expected: str):
    raise ScenarioError("--vary", expected, spec)


def _endpoint(text: str, spec: str) -> float:
    """A range end: a plain number, a count with a suffix ("100B"), dollars or a percentage."""
    text = text.strip()
    for parse in (float, parse_count, parse_money, parse_rate):
        try:
            x = parse(text)
        except ValueError:
            continue
        if math.isfinite(x):
            return float(x)
    _usage(spec, 'range ends that are numbers such as 1e11, "100B", "$2.5" or "8%"')


def _list_value(text: str):
    """A list item as TOML would type it: number, true/false, else the text for the key to read."""
    text = text.strip().strip('"').strip("'")
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        return text


def parse_axis(spec: str) -> Axis:
    """Read ``key=values`` (see the module docstring) into an Axis."""
    if "=" not in spec:
        _usage(spec, 'KEY=VALUES such as inference.tokens=1e11..1e14:log:25 or target.loss=1.9,2.0')
    key, _, values = spec.partition("=")
    key, values = key.strip(), values.strip()
    if not key or not all(part.isidentifier() for part in key.split(".")):
        _usage(spec, "a dotted scenario key such as inference.tokens before the =")
    if ".." in values:
        return Axis(key, _range(values, spec))
    items = [v for v in values.split(",")]
    if not values or any(not v.strip() for v in items):
        _usage(spec, "a comma-separated list of values or a range a..b:log:n")
    return Axis(key, tuple(_list_value(v) for v in items))


def parse_axes(specs) -> list[Axis]:
    """Axes from "key=spec" strings, their grid's size checked first (a range's count is
    read from its spec), so that 1e8 values on two axes are refused before any is built."""
    total = 1
    for spec in specs:
        total *= spec_count(spec)
    if total > MAX_POINTS:
        raise ScenarioError("--vary", f"a grid of at most {MAX_POINTS:,} points",
                            found_text=f"found {total:,} points ({' × '.join(str(spec_count(s)) for s in specs)})")
    return [parse_axis(spec) for spec in specs]


def spec_count(spec: str) -> int:
    """How many values ``spec`` gives, without building them (0 when malformed: the parse
    then says what is wrong)."""
    _, _, values = spec.partition("=")
    if ".." not in values:
        return max(1, len(values.split(",")))
    try:
        return max(1, int(values.split(":")[-1]))
    except ValueError:
        return 1


def _range(values: str, spec: str) -> tuple[float, ...] | np.ndarray:
    ends, *rest = values.split(":")
    lo_text, _, hi_text = ends.partition("..")
    lo, hi = _endpoint(lo_text, spec), _endpoint(hi_text, spec)
    if len(rest) == 1:
        scale, count = "lin", rest[0]
    elif len(rest) == 2:
        scale, count = rest
    else:
        _usage(spec, "a range a..b:lin:n or a..b:log:n")
    if scale not in ("lin", "log"):
        _usage(spec, 'a scale "lin" or "log" in a..b:scale:n')
    try:
        n = int(count)
    except ValueError:
        _usage(spec, "a whole number of points n in a..b:scale:n")
    if not 1 <= n <= MAX_POINTS:
        _usage(spec, f"between 1 and {MAX_POINTS} points")
    if n == 1:
        return (lo,)
    if scale == "log":
        if lo <= 0 or hi <= 0:
            _usage(spec, "positive ends for a log range")
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


def axes_of(axes) -> list[Axis]:
    """Axes from a mapping {key: values or spec string} or an iterable of Axis / "key=spec"."""
    if isinstance(axes, Mapping):
        out = []
        for key, values in axes.items():
            if isinstance(values, str):
                out.append(parse_axis(f"{key}={values}"))
            elif isinstance(values, np.ndarray) and values.dtype.kind == "f" and values.ndim == 1:
                out.append(Axis(key, values.astype(float)))
            else:
                out.append(Axis(key, tuple(v.item() if isinstance(v, np.generic) else v
                                           for v in np.atleast_1d(np.asarray(values, dtype=object)))))
        return out
    axes = list(axes)
    if all(isinstance(a, str) for a in axes):
        return parse_axes(axes)
    return [a if isinstance(a, Axis) else parse_axis(a) for a in axes]


def grid(axes) -> list[dict]:
    """Every point of the product of the axes, as {key: value} (first axis varies slowest)."""
    axes = axes_of(axes)
    grid_size(axes)
    keys = [a.key for a in axes]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(a.array.tolist() for a in axes))]


#: keys that are alternatives to each other: setting one removes the others, so that
#: varying target.loss works on a file that gives target.reference, and so on
_ALTERNATIVES = (
    ("target.loss", "target.reference"),
    ("inference.tokens", "inference.requests", "inference.input_tokens", "inference.output_tokens"),
    ("hardware.training.gpu", "hardware.training.peak_flops"),
    ("hardware.inference.gpu", "hardware.inference.peak_flops"),
    ("hardware.inference.mfu", "hardware.inference.prefill_mfu", "hardware.inference.decode_mfu"),
    ("limits.serving_memory", "limits.serving_gpus"),
)


def _others(key: str) -> list[str]:
    for group in _ALTERNATIVES:
        if key in group:
            # requests travel with their per-request token counts
            if key in ("inference.input_tokens", "inference.output_tokens"):
                return ["inference.tokens"]
            if key == "inference.requests":
                return ["inference.tokens"]
            return [k for k in group if k != key]
    return []


def _drop(node: dict, key: str) -> None:
    *path, last = key.split(".")
    for part in path:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    node.pop(last, None)


def with_value(raw: dict, key: str, value) -> dict:
    """A deep copy of the scenario dict ``raw`` with the dotted ``key`` set to ``value``
    (sections are created as needed; alternatives to ``key``, such as target.reference for
    target.loss, are removed)."""
    out = copy.deepcopy(raw)
    for other in _others(key):
        _drop(out, other)
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ScenarioError(key, f"a section at {part!r} to set {parts[-1]!r} in",
                                found_text=f"found the value {child!r}")
        node = child
    node[parts[-1]] = value
    return out


def grid_size(axes) -> int:
    """The number of points of the product of the axes (checked against the maximum)."""
    axes = axes_of(axes)
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ScenarioError("--vary", "each key varied once", found_text=f"found {keys}")
    total = math.prod(len(a.values) for a in axes)
    if total > MAX_POINTS:
        raise ScenarioError("--vary", f"at most {MAX_POINTS} points in all", found_text=f"found {total}")
    return total

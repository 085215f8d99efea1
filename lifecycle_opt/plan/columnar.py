"""A side of a sweep from its axes' values as arrays, without a Scenario per point.

A sweep of a million demands used to read, validate and build a Scenario and a Problem
for every value: about 200 µs a point, a hundred times the batch solve. Yet every number
the batch solver and the row function take from a Scenario (the :class:`~..solvers.batch.Batch`
fields and the row facts of :func:`.rows.row_facts`) moves along an axis in one of a few
simple ways: it stays put (a limit when the demand varies), follows the value (a loss
target), is proportional to it or to a power of it (serving FLOP and dollars against the
demand or a price), or is affine in its log (a bound log N ≤ log cap). So a long side is
built exactly at a few *probe* points only, and each number is fitted, along each axis,
to the first of these forms that reproduces every probe to 1e-12:

========  =============================
form      f(v)
========  =============================
const     f₀
affine    a + b·v
log       a + b·log v
power     s·exp(a + b·log v)  (s = ±1)
========  =============================

Across several axes of a side, a number is either moved by one axis alone, or it is the
product (dollars = price × tokens) or the sum of what each axis does to it; which one is
checked on random whole points built exactly. Where no form fits, a value is not a
number, or a probe does not build (an invalid value: only the exact build can say why),
the side is built point by point as before (:class:`NotColumnar` says why).

Validity: the probes hold the axis's two ends (every corner of a multi-axis side) and the
values that are not whole numbers; a scenario key's valid values form an interval
(positive, a fraction, below a cap, above the law's E, a whole number), so values between
valid ends are valid. The plan's rows are checked against exact builds at sample points by
the sweep (``sweep_plan._verified``).
"""
from __future__ import annotations

__all__ = ["NotColumnar", "AxisForm", "ColumnarSide", "fit_side", "probe_points", "EXACT_SIDE"]

import itertools
from dataclasses import dataclass

import numpy as np

#: a side with at most this many points is built point by point: about as many scenarios
#: as the forms are fitted on (:func:`probe_points`), so no slower, and exact; beyond, forms
#: (a side of 4,096 points built point by point took 1.14 s, as forms 0.41 s with 4,097)
EXACT_SIDE = 32
#: how closely a form must reproduce every probe [relative]
_TOL = 1e-12
#: random interior probes per axis, random whole points per side
_AXIS_PROBES, _SIDE_PROBES = 5, 6


class NotColumnar(Exception):
    """The side cannot be described by forms; the message says why (the sweep then builds
    it point by point, which is slower but always right)."""


@dataclass(frozen=True)
class AxisForm:
    """How one number moves along one axis (see the module docstring)."""

    kind: str
    a: float = 0.0
    b: float = 0.0
    sign: float = 1.0

    def __call__(self, v: np.ndarray, ref=None):
        """The number at the axis values ``v`` (a "const" form is the side's reference
        value, which :meth:`ColumnarSide.value` fills in without calling this)."""
        if self.kind == "affine":
            return self.a + self.b * v
        if self.kind == "log":
            return self.a + self.b * np.log(v)
        return self.sign * np.exp(self.a + self.b * np.log(v))


def _close(fit: np.ndarray, y: np.ndarray) -> bool:
    scale = np.max(np.abs(y))
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(fit - y) <= _TOL * scale + 1e-300))


def _same(y: np.ndarray) -> bool:
    first = y[0]
    if y.dtype.kind == "f":
        return bool(np.all((y == first) | (np.isnan(y) & np.isnan(first))))
    return all(v == first for v in y)


def fit_form(v: np.ndarray, y: np.ndarray) -> AxisForm | None:
    """The first form that reproduces ``y`` at the probe values ``v`` (fitted on the two
    ends, checked on every probe), or None."""
    if _same(y):
        return AxisForm("const")
    if y.dtype.kind != "f" or not np.all(np.isfinite(y)):
        return None
    lo, hi = int(np.argmin(v)), int(np.argmax(v))
    if v[lo] == v[hi]:
        return None
    b = (y[hi] - y[lo]) / (v[hi] - v[lo])
    form = AxisForm("affine", y[lo] - b * v[lo], b)
    if _close(form(v), y):
        return form
    if np.all(v > 0):
        lv = np.log(v)
        b = (y[hi] - y[lo]) / (lv[hi] - lv[lo])
        form = AxisForm("log", y[lo] - b * lv[lo], b)
        if _close(form(v), y):
            return form
        if np.all(y > 0) or np.all(y < 0):
            s = float(np.sign(y[0]))
            ly = np.log(np.abs(y))
            b = (ly[hi] - ly[lo]) / (lv[hi] - lv[lo])
            form = AxisForm("power", ly[lo] - b * lv[lo], b, s)
            if _close(form(v), y):
                return form
    return None


def probe_points(values: list[np.ndarray], rng: np.random.Generator) -> tuple[list, list, list, list]:
    """Where a side is built exactly, as index tuples into the axes' values: the reference
    point (every axis at its first value) and the probes along each axis with the others
    there; for each axis, the positions of its probes in that list (the reference first);
    the corners of the side; random whole points."""
    m = len(values)
    ref = (0,) * m
    points, blocks = [ref], []
    for i, vals in enumerate(values):
        picks = {int(np.argmin(vals)), int(np.argmax(vals))}
        fractional = np.flatnonzero(vals != np.round(vals))
        picks |= {int(k) for k in fractional[:2]}          # the values a whole-number key refuses
        picks |= {int(k) for k in rng.integers(0, len(vals), _AXIS_PROBES)}
        picks.discard(0)
        blocks.append([0] + list(range(len(points), len(points) + len(picks))))
        points += [ref[:i] + (k,) + ref[i + 1:] for k in sorted(picks)]
    if m == 1:
        return points, blocks, [], []
    corners = [tuple(int(np.argmin(values[i])) if c == 0 else int(np.argmax(values[i]))
                     for i, c in enumerate(bits)) for bits in itertools.product((0, 1), repeat=m)]
    whole = [tuple(int(rng.integers(0, len(v))) for v in values) for _ in range(_SIDE_PROBES)]
    return points, blocks, corners, whole


@dataclass
class ColumnarSide:
    """A side of a sweep as forms: its axes' values, the numbers at the reference point
    (every axis at its first value), how each number moves along each axis and how the
    axes combine for it. :meth:`at` evaluates any points of the side."""

    values: list
    shape: tuple
    ref: dict
    forms: dict
    combine: dict

    def at(self, idx: np.ndarray) -> dict:
        """Every number at the flat side indices ``idx`` (C order over ``shape``)."""
        multi = np.unravel_index(idx, self.shape)
        return {key: self.value(key, multi) for key in self.ref}

    def value(self, key: str, multi: tuple) -> np.ndarray:
        """The number ``key`` at the points whose axis indices are ``multi``."""
        ref = self.ref[key]
        moved = [(form, self.values[i][multi[i]]) for i, form in enumerate(self.forms[key])
                 if form.kind != "const"]
        if not moved:
            # one value at every point: a read-only stride-0 view, no copy (the Arrow table
            # writes it as one value, :mod:`.sweep_table`)
            return np.broadcast_to(np.asarray(ref, dtype=_dtype(ref)), multi[0].shape)
        parts = [form(v) for form, v in moved]
        if len(parts) == 1:
            return parts[0]
        if self.combine[key] == "product":
            return ref * np.prod([p / ref for p in parts], axis=0)
        return ref + np.sum([p - ref for p in parts], axis=0)


def _dtype(ref):
    if isinstance(ref, (bool, np.bool_)):
        return bool
    if isinstance(ref, (int, np.integer)):
        return np.int32
    if isinstance(ref, (float, np.floating)):
        return float
    return object


def fit_side(values: list[np.ndarray], numbers, rng: np.random.Generator | None = None) -> ColumnarSide:
    """The forms of a side whose axes take ``values`` (float arrays, first value the
    reference). ``numbers(points)`` builds the side exactly at the index tuples
    ``points`` and returns {name: array over the points}, raising NotColumnar when a
    point does not build."""
    rng = rng or np.random.default_rng(0)
    axis_points, blocks, corners, whole = probe_points(values, rng)
    table = numbers(axis_points + corners + whole)
    n_axis = len(axis_points)
    ref = {k: v[0].item() if isinstance(v[0], np.generic) else v[0] for k, v in table.items()}
    forms = {}
    for key, column in table.items():
        per_axis = []
        for i, block in enumerate(blocks):
            v = values[i][[axis_points[j][i] for j in block]]
            form = fit_form(v, column[block])
            if form is None:
                raise NotColumnar(f"{key} follows no simple form along axis {i + 1}")
            per_axis.append(form)
        forms[key] = per_axis
    side = ColumnarSide(values, tuple(len(v) for v in values), ref, forms, {})
    if len(values) > 1:
        check = tuple(np.array(axis) for axis in zip(*(corners + whole)))
        for key, column in table.items():
            for rule in ("product", "sum"):
                side.combine[key] = rule
                if _agrees(side.value(key, check), column[n_axis:]):
                    break
            else:
                raise NotColumnar(f"{key} is neither a product nor a sum of what each axis does to it")
    return side


def _agrees(got: np.ndarray, expected: np.ndarray) -> bool:
    if expected.dtype.kind != "f":
        return all(a == b for a, b in zip(got, expected))
    both_nan = np.isnan(got) & np.isnan(expected)
    exact = got == expected
    with np.errstate(invalid="ignore"):
        near = np.abs(got - expected) <= _TOL * np.maximum(np.abs(expected), np.abs(got))
    return bool(np.all(both_nan | exact | near))

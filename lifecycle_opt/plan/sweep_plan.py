"""How a sweep is laid out for the batch solver: its base scenario (with any changes made
in code), its axes split into two sides, and each side as a table of scenarios or as
forms (:mod:`.columnar`); :func:`plan_sweep` builds it, :func:`combine_sides` gives the
Batch and row facts of any points. :mod:`.sweep_rows` solves the points of a chunk.
"""
from __future__ import annotations

__all__ = ["Base", "base_of", "SweepPlan", "plan_sweep", "check_keys", "point_label", "point_of",
           "side_indices", "combine_sides", "side_scenario", "sampled_points", "LOSS_SECTIONS"]

import itertools
import math
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import ScenarioError, UnknownKeyError
from ..scenario.reader import Scenario, load_scenario, scenario_from_dict
from ..solvers.batch import Batch, batch_from_problems
from .axes import axes_of, grid_size, with_value
from .columnar import EXACT_SIDE, ColumnarSide, NotColumnar, fit_side
from .rows import LOSS_FACTS, row_facts, row_fields, stack_facts
from .sweep_serving import batch_problem, serving_side


@dataclass(frozen=True)
class Base:
    """The scenario a sweep starts from: the file's keys (``raw``), where they came from,
    and, when the Scenario was changed in code after it was read, that Scenario."""

    raw: dict
    source: str | None
    name: str
    edited: Scenario | None = None
    as_read: Scenario | None = None

    def build(self, data: dict, source: str | None = None) -> Scenario:
        """The Scenario of the file keys ``data`` (the raw keys with axis values laid in),
        with the code's changes kept."""
        point = scenario_from_dict(data, source=source or self.source, default_name=self.name)
        if self.edited is None:
            return point
        return _overlay(self.edited, self.as_read, point)

    def point_data(self, point: dict) -> dict:
        """The raw keys with the values of ``point`` ({key: value}) laid in."""
        data = self.raw
        for key, value in point.items():
            data = with_value(data, key, value)
        return data


def base_of(scenario) -> Base:
    """The sweep's starting point from a Scenario, a path or a dict."""
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    if isinstance(scenario, Scenario):
        if scenario.raw is None:
            raise ScenarioError("scenario", "a scenario read from a file or a dict (load_scenario or "
                                "scenario_from_dict) to sweep its keys",
                                found_text="found one built from objects")
        as_read = scenario_from_dict(scenario.raw, source=scenario.source, default_name=scenario.name)
        if as_read == scenario:
            return Base(scenario.raw, scenario.source, scenario.name)
        return Base(scenario.raw, scenario.source, scenario.name, scenario, as_read)
    if isinstance(scenario, dict):
        return Base(scenario, None, str(scenario.get("name", "scenario")))
    raise TypeError("sweep() takes a Scenario, a path or a dict")


def _overlay(mine, as_read, point):
    """What ``point`` changed against ``as_read``, laid over ``mine``, field by field down
    the frozen dataclasses (a Scenario, its limits, its law): an axis wins where it changed
    a field, the code's change stays everywhere else."""
    if mine == as_read:
        return point
    if not (is_dataclass(point) and type(point) is type(as_read) is type(mine)):
        return point
    changes = {}
    for f in fields(point):
        if not (f.init and f.compare):
            continue
        p, r, m = getattr(point, f.name), getattr(as_read, f.name), getattr(mine, f.name)
        changes[f.name] = m if p == r else _overlay(m, r, p)
    return replace(point, **changes)


def point_label(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())



def check_keys(base: Base, point) -> None:
    """Fail the whole sweep at once when a varied key does not exist (a typo), rather than
    returning one "invalid" row per point."""
    try:
        base.build(base.point_data(point))
    except UnknownKeyError:
        raise
    except ScenarioError:
        pass                     # a bad value: that point's row says so


# ------------------------------------------------------------------ the batch path
#: sections whose keys shape the loss law and its target; every other key shapes costs,
#: limits and the objective. A sweep builds one scenario per combination of the values of
#: each side's axes and combines the two sides point by point (the batch fields of one
#: side never depend on the other side's keys; checked on sample points, see _verified).
LOSS_SECTIONS = ("law", "target", "data")
_LOSS_FIELDS = ("E", "A", "B", "alpha", "beta", "power", "unique", "r_d", "r_n", "target",
                "y_le", "y_le_name")


@dataclass
class _Side:
    """One side of a sweep: its axes (indices into the sweep's) and their grid's shape.
    A short side is a table: a scenario (or the error building it) per combination of
    its axes' values, with their Batch rows and row facts. A long side is a
    :class:`~.columnar.ColumnarSide`: forms fitted on a few probe scenarios, evaluated
    for any points (``columns``). ``probes`` are the scenarios built either way."""

    axes: list
    shape: tuple
    scenarios: list | None = None
    probes: list = field(default_factory=list)
    batch: Batch | None = None
    ok: np.ndarray | None = None
    facts: dict = field(default_factory=dict)
    columns: ColumnarSide | None = None
    names: tuple = ()
    note: str = ""

    def ok_at(self, idx: np.ndarray) -> np.ndarray:
        """Whether the side's scenario at ``idx`` was built (a columnar side: every point)."""
        return np.ones(idx.shape, dtype=bool) if self.columns is not None else self.ok[idx]

    def at(self, idx: np.ndarray) -> tuple[Batch, dict]:
        """The Batch rows and the row facts of the side's points ``idx``."""
        if self.columns is None and not self.axes:
            # one scenario at every point: read-only stride-0 views of it, no copies
            one = lambda v: np.broadcast_to(v[:1], idx.shape)          # noqa: E731
            return (Batch(**{f: one(getattr(self.batch, f)) for f in _BATCH_ARRAYS}, names=self.batch.names),
                    {k: one(v) for k, v in self.facts.items()})
        if self.columns is None:
            return self.batch.take(idx), {k: v[idx] for k, v in self.facts.items()}
        values = self.columns.at(idx)
        batch = Batch(**{f: values[f"batch.{f}"] for f in _BATCH_ARRAYS}, names=self.names)
        return batch, {k[len("fact."):]: v for k, v in values.items() if k.startswith("fact.")}


_BATCH_ARRAYS = tuple(f for f in Batch.__dataclass_fields__ if f != "names")


@dataclass
class SweepPlan:
    """Everything needed to solve any range of a sweep's points (picklable, so that Dask
    workers can solve chunks): the base scenario, the axes and the two sides."""

    base: Base
    axes: list
    loss: _Side
    cost: _Side
    exact: bool = False
    exact_reason: str = ""
    #: points solved so far by the exact path (infeasible, invalid, beyond the batch solver)
    exact_points: int = 0
    #: under the roofline serving model, each cost-side scenario's ServingSide (docs/model.md §8)
    serving: list | None = None

    @property
    def shape(self) -> tuple:
        return tuple(len(a.values) for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def keys(self) -> list[str]:
        """The columns of every row: the varied keys, status, message, Solution.as_row."""
        return [a.key for a in self.axes] + ["status", "message"] + \
            [k for k in row_fields() if k != "status"]


def plan_sweep(scenario, axes) -> SweepPlan:
    """Read the base scenario and the axes, build each side's scenarios and batch rows.
    ``scenario`` may be a :class:`Base` already (one whose ``build`` changes every point's
    scenario alike: the optimum problems of an evaluation)."""
    base = scenario if isinstance(scenario, Base) else base_of(scenario)
    axes = axes_of(axes)
    grid_size(axes)
    check_keys(base, {a.key: a.item(0) for a in axes})
    loss_axes = [i for i, a in enumerate(axes) if a.key.split(".")[0] in LOSS_SECTIONS]
    cost_axes = [i for i in range(len(axes)) if i not in loss_axes]
    sides = [_build_side(base, axes, which) for which in (loss_axes, cost_axes)]
    plan = SweepPlan(base, axes, *sides)
    _batch_sides(plan)
    return plan


def side_scenario(base: Base, axes, which, combo) -> Scenario:
    """The scenario of one point of a side: the values ``combo`` of its axes ``which``."""
    return base.build(base.point_data({axes[i].key: value for i, value in zip(which, combo)}))


def _build_side(base: Base, axes, which) -> _Side:
    shape = tuple(len(axes[i].values) for i in which)
    note = ""
    if which and math.prod(shape) > EXACT_SIDE:
        try:
            return _columnar_side(base, axes, which, shape)
        except NotColumnar as why:
            note = str(why)
    scenarios = []
    for combo in itertools.product(*(axes[i].array.tolist() for i in which)):
        try:
            scenarios.append(side_scenario(base, axes, which, combo))
        except ScenarioError as exc:
            scenarios.append(exc)
    return _Side(which, shape, scenarios, [s for s in scenarios if isinstance(s, Scenario)], note=note)


def _columnar_side(base: Base, axes, which, shape) -> _Side:
    """A long side as forms (:mod:`.columnar`), from scenarios built at its probes only."""
    values = []
    for i in which:
        if not axes[i].finite_numbers:
            raise NotColumnar(f"{axes[i].key} takes values that are not finite numbers")
        values.append(np.asarray(axes[i].array, dtype=float))
    side = _Side(which, shape)

    def numbers(points):
        built = []
        for point in points:
            try:
                built.append(side_scenario(base, axes, which, [axes[i].item(k) for i, k in zip(which, point)]))
            except ScenarioError as exc:
                raise NotColumnar(f"a probe does not build ({exc})") from None
        if any(s.law_samples or s.serving is not None or s.choices for s in built):
            raise NotColumnar("the exact path")
        batch = batch_from_problems([batch_problem(s) for s in built])
        side.probes, side.names = built, batch.names
        table = {f"batch.{f}": getattr(batch, f) for f in _BATCH_ARRAYS}
        table.update({f"fact.{k}": v for k, v in _facts(built).items()})
        return table

    side.columns = fit_side(values, numbers)
    return side


def _batch_sides(plan: SweepPlan) -> None:
    """Batch rows and row facts for each side; the exact path for what the batch cannot do."""
    built = [s for side in (plan.loss, plan.cost) for s in side.probes]
    if any(s.law_samples for s in built):
        plan.exact = True          # distributions and robust plans: the exact path
        plan.exact_reason = "the law's bootstrap samples"
        return
    if any(s.choices for s in built):
        # each combination of a discrete choice is its own plan (the planning function's)
        plan.exact = True
        plan.exact_reason = "a discrete choice (moe.experts or quantisation.dtypes)"
        return
    if any(s.serving is not None for s in built):
        # the roofline serving model: the serving constraints of each cost-side scenario,
        # read once (plan/sweep_serving.py); an exact architecture, or a cost without a batch
        # form, takes the exact path
        sides = [serving_side(s) if isinstance(s, Scenario) else None for s in (plan.cost.scenarios or [])]
        if plan.cost.columns is not None or not any(sides) or any(
                side is None for side, s in zip(sides, plan.cost.scenarios) if isinstance(s, Scenario)):
            plan.exact = True
            plan.exact_reason = "the roofline serving model with an exact architecture or a cost the batch path lacks"
            return
        plan.serving = sides
    for side in (plan.loss, plan.cost):
        if side.columns is not None:
            continue
        side.ok = np.array([isinstance(s, Scenario) for s in side.scenarios], dtype=bool)
        if not side.ok.any():
            plan.exact = True      # no point builds: the exact path writes why, row by row
            return
        batch = batch_from_problems([batch_problem(s) for s in side.probes])
        rows = np.cumsum(side.ok) - 1
        side.batch, side.names = batch.take(np.where(side.ok, rows, 0)), batch.names
        side.facts = _facts(side.scenarios)
    if not _verified(plan):
        plan.exact = True          # the two sides of the sweep interact


def _facts(scenarios) -> dict:
    """Row facts (:func:`.rows.row_facts`) per scenario of a side, as arrays; a point that
    did not build borrows a built one's facts (its row is written by the exact path)."""
    ok = [s for s in scenarios if isinstance(s, Scenario)]
    return stack_facts([row_facts(s if isinstance(s, Scenario) else ok[0]) for s in scenarios])


def sampled_points(plan: SweepPlan, samples: int, seed: int):
    """The first, the last and ``samples`` random points of ``plan`` whose sides are valid,
    each as (loss side index, cost side index, its whole scenario built exactly, or None
    where that build fails): what the checks of the sides' combination compare against."""
    rng = np.random.default_rng(seed)
    for k in sorted({0, plan.size - 1} | {int(k) for k in rng.integers(0, plan.size, samples)}):
        li, ci = side_indices(plan, np.array([k]))
        if not (plan.loss.ok_at(li)[0] and plan.cost.ok_at(ci)[0]):
            continue
        try:
            whole = plan.base.build(plan.base.point_data(point_of(plan, k)))
        except ScenarioError:
            whole = None
        yield li, ci, whole


def _verified(plan: SweepPlan, samples: int = 6) -> bool:
    """Build a few whole points exactly and check that combining the sides gives the same
    batch parameters (the sides' independence is a property of the scenario format, and
    a columnar side's forms reproduce its scenarios to 1e-12; this guards both)."""
    for li, ci, whole in sampled_points(plan, samples, seed=0):
        if whole is None:
            return False
        one = batch_from_problems([batch_problem(whole)])
        combined, facts = combine_sides(plan, li, ci)
        for f in _BATCH_ARRAYS:
            a, b = getattr(one, f), getattr(combined, f)
            if f.endswith("_name"):
                a = [one.names[x] if x >= 0 else None for x in a]
                b = [combined.names[x] if x >= 0 else None for x in b]
                if a != b:
                    return False
            elif not _near(a, b):
                return False
        exact = stack_facts([row_facts(whole)])
        if any(not _near(exact[key], facts[key]) for key in exact):
            return False
    return True


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal, or (floats) equal to 1e-12 relative; nan equals nan."""
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        return list(a) == list(b)
    with np.errstate(invalid="ignore"):
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))
                           | (np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b)))))


def point_of(plan: SweepPlan, k: int) -> dict:
    idx = np.unravel_index(k, plan.shape)
    return {a.key: a.item(int(i)) for a, i in zip(plan.axes, idx)}


def side_indices(plan: SweepPlan, flat):
    """(loss side index, cost side index) of the flat grid indices."""
    multi = np.unravel_index(flat, plan.shape)
    out = []
    for side in (plan.loss, plan.cost):
        if side.axes:
            out.append(np.ravel_multi_index([multi[i] for i in side.axes], side.shape))
        else:
            out.append(np.zeros(len(flat), dtype=np.intp))
    return out


def combine_sides(plan: SweepPlan, li, ci) -> tuple[Batch, dict]:
    """The Batch and the row facts of points whose sides are li and ci: each field from
    the side that decides it."""
    (lb, lf), (cb, cf) = plan.loss.at(li), plan.cost.at(ci)
    names = lb.names + tuple(n for n in cb.names if n not in lb.names)
    lb, cb = lb.renamed(names), cb.renamed(names)
    merged = {f: getattr(lb if f in _LOSS_FIELDS else cb, f) for f in _BATCH_ARRAYS}
    merged["unsupported"] = lb.unsupported | cb.unsupported
    facts = {k: (lf[k] if k in LOSS_FACTS else cf[k]) for k in lf}
    return Batch(**merged, names=names), facts



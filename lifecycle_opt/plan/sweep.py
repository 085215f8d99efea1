"""Sweeps: solve one scenario at every point of a grid of changed settings.

Each point is the scenario with the axes' keys replaced (:mod:`.axes`), validated and
solved as ``lifeopt solve`` would, so a sweep point and a single solve give the same
plan. A point that is infeasible or invalid becomes a row saying so; the sweep goes on.

A Scenario changed in code (``dataclasses.replace``) after it was read keeps its
changes at every point: each point is read from the file's keys with the axis values
laid in, and what the axes changed is laid over the changed scenario (:func:`_overlay`).
"""
from __future__ import annotations

__all__ = ["iter_sweep", "sweep", "sweep_keys", "SweepPlan", "plan_sweep", "point_scenarios",
           "sweep_chunks", "chunk_rows", "sweep_columns"]

import itertools
import math
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

from ..errors import ClusterError, InfeasibleError, ScenarioError, SolverError, UnknownKeyError
from ..scenario.reader import Scenario, load_scenario, scenario_from_dict
from ..solvers.batch import Batch, batch_from_problems, solve_batch
from ..solvers.problem import build_problem
from .axes import Axis, axes_of, grid, grid_size, with_value
from .planning import solve
from .rows import LOSS_FACTS, OVERFLOW_MESSAGE, plan_columns, row_facts, row_fields, stack_facts, status_of


#: what a sweep starts from: a Scenario, the path of a scenario file, or a dict of its keys
ScenarioLike = Union[Scenario, str, Path, dict]
#: the axes: {key: values or "a..b:log:n"}, or Axis objects or "key=spec" strings
AxesLike = Union[Mapping[str, object], Sequence[Union[Axis, str]]]

#: points solved together; a chunk's rows are all in memory at once
CHUNK = 65_536


@dataclass(frozen=True)
class _Base:
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


def _base(scenario) -> _Base:
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
            return _Base(scenario.raw, scenario.source, scenario.name)
        return _Base(scenario.raw, scenario.source, scenario.name, scenario, as_read)
    if isinstance(scenario, dict):
        return _Base(scenario, None, str(scenario.get("name", "scenario")))
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


def _point_label(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())


def iter_sweep(scenario: ScenarioLike, axes: AxesLike, chunk: int = CHUNK) -> Iterator[dict]:
    """Solve ``scenario`` (Scenario from a file or dict, path, or dict) at every point of
    ``axes`` and yield one flat row per point, in grid order.

    A row holds the varied values under their keys, then ``status`` (one of
    :data:`.rows.ROW_STATUSES`), ``message`` and every field of :meth:`Solution.as_row` (None where
    the point did not solve). Rows are plain dicts: ``pandas.DataFrame(rows)`` works.
    Points are solved ``chunk`` at a time by the batch solver (see :func:`sweep_chunks`).
    """
    plan = plan_sweep(scenario, axes)
    for start in range(0, plan.size, chunk):
        yield from chunk_rows(sweep_columns(plan, start, min(start + chunk, plan.size)))


def sweep(scenario: ScenarioLike, axes: AxesLike) -> list[dict]:
    """Every row of :func:`iter_sweep` as a list: ``scenario`` a Scenario (read from a
    file or a dict, perhaps changed in code since), a path or a dict of file keys; ``axes``
    {key: values or "a..b:log:n"} or a list of Axis or "key=spec" strings.

    >>> rows = sweep("examples/research_model.toml", {"budget.training_flops": [1e22, 1e23]})
    >>> [r["status"] for r in rows], rows[0]["params"] < rows[1]["params"]
    (['optimal', 'optimal'], True)
    """
    return list(iter_sweep(scenario, axes))


def point_scenarios(scenario: ScenarioLike, axes: AxesLike) -> Iterator[tuple[dict, Scenario | ScenarioError]]:
    """(point, Scenario) at every point of ``axes`` in grid order, read as a sweep reads
    it (the point's Scenario is a ScenarioError when its values are bad; a varied key that
    does not exist fails at once)."""
    base = _base(scenario)
    points = grid(axes)
    if points:
        _check_keys(base, points[0])
    for point in points:
        try:
            label = f"{base.source or base.name} [{_point_label(point)}]"
            yield point, base.build(base.point_data(point), source=label)
        except UnknownKeyError:
            raise
        except ScenarioError as exc:
            yield point, exc


def _check_keys(base: _Base, point) -> None:
    """Fail the whole sweep at once when a varied key does not exist (a typo), rather than
    returning one "invalid" row per point."""
    try:
        base.build(base.point_data(point))
    except UnknownKeyError:
        raise
    except ScenarioError:
        pass                     # a bad value: that point's row says so


def _solve_point(base: _Base, point: dict) -> dict:
    row = dict(point)
    try:
        label = f"{base.source or base.name} [{_point_label(point)}]"
        solution = solve(base.build(base.point_data(point), source=label))
    except (ScenarioError, InfeasibleError, SolverError) as exc:
        return {**row, "status": status_of(exc), "message": str(exc)}
    return {**row, "status": "optimal", "message": "", **_without_status(solution.as_row())}


def _without_status(row: dict) -> dict:
    row = dict(row)
    row.pop("status")
    return row


def sweep_keys(rows: Iterable[dict]) -> list[str]:
    """The columns of a list of rows, in first-seen order."""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)


# ------------------------------------------------------------------ the batch path
#: sections whose keys shape the loss law and its target; every other key shapes costs,
#: limits and the objective. A sweep builds one scenario per combination of the values of
#: each side's axes and combines the two sides point by point (the batch fields of one
#: side never depend on the other side's keys; checked on sample points, see _verified).
_LOSS_SECTIONS = ("law", "target", "data")
_LOSS_FIELDS = ("E", "A", "B", "alpha", "beta", "power", "unique", "r_d", "r_n", "target",
                "y_le", "y_le_name")


@dataclass
class _Side:
    """One side of a sweep: its axes, one scenario (or the error building it) per
    combination of their values, and the per-combination facts rows need."""

    axes: list
    shape: tuple
    scenarios: list
    batch: Batch | None = None
    ok: np.ndarray | None = None
    facts: dict = field(default_factory=dict)


@dataclass
class SweepPlan:
    """Everything needed to solve any range of a sweep's points (picklable, so that Dask
    workers can solve chunks): the base scenario, the axes and the two sides."""

    base: _Base
    axes: list
    loss: _Side
    cost: _Side
    exact: bool = False
    exact_reason: str = ""

    @property
    def size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    @property
    def keys(self) -> list[str]:
        """The columns of every row: the varied keys, status, message, Solution.as_row."""
        return [a.key for a in self.axes] + ["status", "message"] + \
            [k for k in row_fields() if k != "status"]


def plan_sweep(scenario, axes) -> SweepPlan:
    """Read the base scenario and the axes, build each side's scenarios and batch rows."""
    base = _base(scenario)
    axes = axes_of(axes)
    grid_size(axes)
    _check_keys(base, {a.key: a.values[0] for a in axes})
    loss_axes = [i for i, a in enumerate(axes) if a.key.split(".")[0] in _LOSS_SECTIONS]
    cost_axes = [i for i in range(len(axes)) if i not in loss_axes]
    sides = [_build_side(base, axes, which) for which in (loss_axes, cost_axes)]
    plan = SweepPlan(base, axes, *sides)
    _batch_sides(plan)
    return plan


def _build_side(base: _Base, axes, which) -> _Side:
    shape = tuple(len(axes[i].values) for i in which)
    scenarios = []
    for combo in itertools.product(*(axes[i].values for i in which)):
        try:
            scenarios.append(base.build(base.point_data(
                {axes[i].key: value for i, value in zip(which, combo)})))
        except ScenarioError as exc:
            scenarios.append(exc)
    return _Side(which, shape, scenarios)


def _batch_sides(plan: SweepPlan) -> None:
    """Batch rows and row facts for each side; the exact path for what the batch cannot do."""
    built = [s for side in (plan.loss, plan.cost) for s in side.scenarios if isinstance(s, Scenario)]
    if any(s.law_samples for s in built):
        plan.exact = True          # distributions and robust plans: the exact path
        plan.exact_reason = "the law's bootstrap samples"
        return
    if any(s.serving is not None for s in built):
        # the batch solver knows the MFU serving cost (linear in N) alone
        plan.exact = True
        plan.exact_reason = "the roofline serving model"
        return
    problems, owners = [], []
    for side in (plan.loss, plan.cost):
        side.ok = np.array([isinstance(s, Scenario) for s in side.scenarios], dtype=bool)
        for s in side.scenarios:
            if isinstance(s, Scenario):
                problems.append(build_problem(s))
                owners.append(side)
    if not (plan.loss.ok.any() and plan.cost.ok.any()):
        plan.exact = True          # no point builds: the exact path writes why, row by row
        return
    batch = batch_from_problems(problems)
    start = 0
    for side in (plan.loss, plan.cost):
        rows = np.flatnonzero(side.ok)
        full = np.full(len(side.scenarios), -1)
        full[rows] = np.arange(start, start + rows.size)
        start += rows.size
        side.batch = batch.take(np.where(full >= 0, full, 0))
        side.facts = _facts(side.scenarios)
    if not _verified(plan):
        plan.exact = True          # the two sides of the sweep interact


def _facts(scenarios) -> dict:
    """Row facts (:func:`.rows.row_facts`) per scenario of a side, as arrays; a point that
    did not build borrows a built one's facts (its row is written by the exact path)."""
    ok = [s for s in scenarios if isinstance(s, Scenario)]
    return stack_facts([row_facts(s if isinstance(s, Scenario) else ok[0]) for s in scenarios])


def _verified(plan: SweepPlan, samples: int = 6) -> bool:
    """Build a few whole points exactly and check that combining the sides gives the same
    batch parameters (the sides' independence is a property of the scenario format; this
    guards it)."""
    rng = np.random.default_rng(0)
    picks = {0, plan.size - 1} | {int(k) for k in rng.integers(0, plan.size, samples)}
    for k in sorted(picks):
        li, ci = _side_indices(plan, np.array([k]))
        if not (plan.loss.ok[li[0]] and plan.cost.ok[ci[0]]):
            continue
        try:
            whole = plan.base.build(plan.base.point_data(_point(plan, k)))
        except ScenarioError:
            return False
        one = batch_from_problems([build_problem(whole)])
        combined = _combine(plan, li, ci)
        for f in one.__dataclass_fields__:
            if f == "names":
                continue
            a, b = getattr(one, f), getattr(combined, f)
            if f.endswith("_name"):
                a = [one.names[x] if x >= 0 else None for x in a]
                b = [combined.names[x] if x >= 0 else None for x in b]
                if a != b:
                    return False
            elif not np.array_equal(a, b, equal_nan=True):
                return False
    return True


def _point(plan: SweepPlan, k: int) -> dict:
    idx = np.unravel_index(k, [len(a.values) for a in plan.axes])
    return {a.key: a.values[int(i)] for a, i in zip(plan.axes, idx)}


def _side_indices(plan: SweepPlan, flat):
    """(loss side index, cost side index) of the flat grid indices."""
    multi = np.unravel_index(flat, [len(a.values) for a in plan.axes])
    out = []
    for side in (plan.loss, plan.cost):
        if side.axes:
            out.append(np.ravel_multi_index([multi[i] for i in side.axes], side.shape))
        else:
            out.append(np.zeros(len(flat), dtype=np.intp))
    return out


def _combine(plan: SweepPlan, li, ci) -> Batch:
    """The Batch of points whose sides are li and ci."""
    lb, cb = plan.loss.batch.take(li), plan.cost.batch.take(ci)
    merged = {f: getattr(lb if f in _LOSS_FIELDS else cb, f) for f in Batch.__dataclass_fields__
              if f != "names"}
    merged["unsupported"] = lb.unsupported | cb.unsupported
    return Batch(**merged, names=lb.names)


def sweep_columns(plan: SweepPlan, start: int, stop: int) -> dict:
    """The rows of points start..stop−1 as columns {key: list}, solved by the batch solver;
    points it cannot solve (and invalid or infeasible ones, whose messages only the exact
    path writes) go through the exact per-scenario path."""
    flat = np.arange(start, stop)
    n = flat.size
    cols: dict = {k: [None] * n for k in plan.keys}
    points = [_point(plan, int(k)) for k in flat]
    for a in plan.axes:
        cols[a.key] = [p[a.key] for p in points]
    exact = np.ones(n, dtype=bool)
    if not plan.exact:
        li, ci = _side_indices(plan, flat)
        built = plan.loss.ok[li] & plan.cost.ok[ci]
        sel = np.flatnonzero(built)
        if sel.size:
            batch = _combine(plan, li[sel], ci[sel])
            result = solve_batch(batch)
            good = result.status == 0
            _fill(cols, plan, sel[good], li[sel][good], ci[sel][good], result, good)
            exact[sel[good]] = False
    for j in np.flatnonzero(exact):
        row = _solve_point(plan.base, points[j])
        for k in plan.keys:
            cols[k][j] = row.get(k)
    return cols


def _fill(cols, plan, rows, li, ci, result, good) -> None:
    """Write the batch plans into the columns (rows: positions in the chunk) with the row
    function, each fact from the side of the sweep that decides it."""
    L, C = plan.loss.facts, plan.cost.facts
    facts = {k: (L[k][li] if k in LOSS_FACTS else C[k][ci]) for k in L}
    binding = [";".join(result.binding_names(int(i))) for i in np.flatnonzero(good)]
    columns = plan_columns(facts, result.params[good], result.tokens[good], loss=result.loss[good],
                           effective_tokens=result.effective_tokens[good],
                           objective_value=result.objective[good],
                           kkt_residual=result.kkt_residual[good], binding=binding)
    every = rows.size == len(cols["status"])          # every point of the chunk (rows in order)
    for key in row_fields():
        values = columns[key]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            listed = values.tolist()
            if np.isnan(values).any():
                listed = [None if v != v else v for v in listed]
        else:
            listed = [v.item() if isinstance(v, np.generic) else v for v in values]
        if every:
            cols[key][:] = listed
            continue
        column = cols[key]
        for r, v in zip(rows.tolist(), listed):
            column[r] = v
    for r in rows.tolist():
        cols["message"][r] = OVERFLOW_MESSAGE if cols["status"][r] == "invalid" else ""


def chunk_rows(cols: dict) -> Iterator[dict]:
    """The rows of a chunk of columns, as dicts."""
    keys = list(cols)
    for values in zip(*(cols[k] for k in keys)):
        yield dict(zip(keys, values))


def sweep_chunks(plan: SweepPlan, chunk: int = CHUNK, client=None) -> Iterator[tuple[int, dict]]:
    """(points, columns) of each chunk in grid order; with a Dask ``client``, chunks are
    solved on its workers (a few ahead of the one being yielded) and come back in order.
    A chunk lost with a worker is solved again on the workers that remain (the shared plan
    scattered anew); ClusterError when none remains or a chunk is lost three times."""
    ranges = [(s, min(s + chunk, plan.size)) for s in range(0, plan.size, chunk)]
    if client is None:
        for s, e in ranges:
            yield e - s, sweep_columns(plan, s, e)
        return
    shared = [client.scatter(plan, broadcast=True)]
    submit = lambda r: client.submit(sweep_columns, shared[0], *r, pure=False)   # noqa: E731
    ahead = max(2, 2 * len(client.scheduler_info().get("workers", {})))
    futures = [submit(r) for r in ranges[:ahead]]
    for k, (s, e) in enumerate(ranges):
        cols = _chunk_result(client, plan, futures, k, ranges, submit, shared)
        futures[k] = None
        nxt = k + ahead
        if nxt < len(ranges):
            futures.append(submit(ranges[nxt]))
        yield e - s, cols


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says a task's worker (or the data it needed) was lost."""
    import asyncio

    names = {"FutureCancelledError", "KilledWorker", "CommClosedError", "CancelledError", "FutureLostError"}
    return isinstance(exc, (asyncio.CancelledError, OSError)) or type(exc).__name__ in names


def _chunk_result(client, plan, futures, k, ranges, submit, shared, attempts: int = 3) -> dict:
    """The columns of chunk ``k``, resubmitting it (and every pending chunk, whose shared
    plan may have gone with the worker) when a worker was lost."""
    for _ in range(attempts):
        try:
            return futures[k].result()
        except BaseException as exc:                  # noqa: BLE001 — sorted by _lost below
            if not _lost(exc):
                raise
            if not client.scheduler_info().get("workers"):
                raise ClusterError(f"every Dask worker was lost while sweeping {plan.base.name}; "
                                   f"restart the cluster (or run without --scheduler)") from None
            shared[0] = client.scatter(plan, broadcast=True)
            for j in range(k, len(futures)):
                if futures[j] is not None:
                    futures[j] = submit(ranges[j])
    raise ClusterError(f"chunk {k + 1} of the sweep of {plan.base.name} was lost with a Dask worker "
                       f"{attempts} times; check the cluster's workers")

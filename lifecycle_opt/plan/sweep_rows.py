"""The rows of a sweep's points, a chunk at a time.

Each point is the scenario with the axes' keys replaced (:mod:`.axes`), validated and
solved as ``lifeopt solve`` would, so a sweep point and a single solve give the same
plan. A point that is infeasible or invalid becomes a row saying so; the sweep goes on.
The points of a chunk are solved together by the batch solver where the plan allows
(:mod:`.sweep_plan`), the others one by one by the exact path. Running the chunks (threads,
worker processes, a Dask cluster) is the execution stage's (:mod:`lifecycle_opt.execution`).

A Scenario changed in code (``dataclasses.replace``) after it was read keeps its
changes at every point: each point is read from the file's keys with the axis values
laid in, and what the axes changed is laid over the changed scenario (:mod:`.sweep_plan`).
"""
from __future__ import annotations

__all__ = ["ScenarioLike", "AxesLike", "point_scenarios", "sweep_columns", "solved_chunk", "chunk_rows"]

import threading
from pathlib import Path
from typing import Iterator, Mapping, Sequence, Union

import numpy as np

from ..errors import InfeasibleError, ScenarioError, SolverError, UnknownKeyError
from ..scenario.reader import Scenario
from ..solvers.batch import solve_batch
from .axes import Axis, grid
from .sweep_plan import Base, SweepPlan, base_of, check_keys, combine_sides, point_label, point_of, side_indices
from .sweep_serving import serving_plans
from .rows import OVERFLOW_MESSAGE, numeric_fields, plan_columns, row_fields, rows_of, status_of


#: what a sweep starts from: a Scenario, the path of a scenario file, or a dict of its keys
ScenarioLike = Union[Scenario, str, Path, dict]
#: the axes: {key: values or "a..b:log:n"}, or Axis objects or "key=spec" strings
AxesLike = Union[Mapping[str, object], Sequence[Union[Axis, str]]]


def point_scenarios(scenario: ScenarioLike, axes: AxesLike) -> Iterator[tuple[dict, Scenario | ScenarioError]]:
    """(point, Scenario) at every point of ``axes`` in grid order, read as a sweep reads
    it (the point's Scenario is a ScenarioError when its values are bad; a varied key that
    does not exist fails at once)."""
    base = base_of(scenario)
    points = grid(axes)
    if points:
        check_keys(base, points[0])
    for point in points:
        try:
            label = f"{base.source or base.name} [{point_label(point)}]"
            yield point, base.build(base.point_data(point), source=label)
        except UnknownKeyError:
            raise
        except ScenarioError as exc:
            yield point, exc

def _solve_point(base: Base, point: dict) -> dict:
    from .planning import solve        # scipy (0.3 s to import) only once a point needs it
    row = dict(point)
    try:
        label = f"{base.source or base.name} [{point_label(point)}]"
        solution = solve(base.build(base.point_data(point), source=label))
    except (ScenarioError, InfeasibleError, SolverError) as exc:
        return {**row, "status": status_of(exc), "message": str(exc)}
    return {**row, "status": "optimal", "message": "", **_without_status(solution.as_row())}


def _without_status(row: dict) -> dict:
    row = dict(row)
    row.pop("status")
    return row


def _row_keys(plan: SweepPlan) -> list[str]:
    """The fields a chunk solves for: every key but the varied ones."""
    varied = {a.key for a in plan.axes}
    return [k for k in plan.keys if k not in varied]


def _empty_columns(plan: SweepPlan, n: int) -> dict:
    """The columns of n rows before any is solved: numbers as float arrays (nan: none),
    text as object arrays (None: none)."""
    numeric = set(numeric_fields())
    return {k: (np.full(n, np.nan) if k in numeric else np.full(n, None, dtype=object)) for k in _row_keys(plan)}


def sweep_columns(plan: SweepPlan, start: int, stop: int) -> dict:
    """The rows of points start..stop−1 as columns {key: numpy array}, solved by the
    batch solver: numbers as float arrays (nan where a point has none), text as object
    arrays. Points it cannot solve (and invalid or infeasible ones, whose messages only
    the exact path writes) go through the exact per-scenario path."""
    return _solve_columns(plan, start, stop)[0]


def _solve_columns(plan: SweepPlan, start: int, stop: int) -> tuple[dict, int]:
    """:func:`sweep_columns`, and how many of the points the exact path solved."""
    flat = np.arange(start, stop)
    n = flat.size
    multi = np.unravel_index(flat, plan.shape)
    cols: dict = {a.key: a.array[i] for a, i in zip(plan.axes, multi)}
    exact = np.ones(n, dtype=bool)
    solved = None
    if not plan.exact:
        li, ci = side_indices(plan, flat)
        sel = np.flatnonzero(plan.loss.ok_at(li) & plan.cost.ok_at(ci))
        if sel.size:
            batch, facts = combine_sides(plan, li[sel], ci[sel])
            binding, extra = None, {}
            if plan.serving is not None:
                result, good, binding, extra = serving_plans(batch, facts, plan.serving, ci[sel])
            else:
                result = solve_batch(batch)
                good = result.status == 0
            exact[sel[good]] = False
            # every point solved (the rule): the facts as they are, constants still views
            solved = (sel[good], facts if good.all() else {k: v[good] for k, v in facts.items()}, result, good,
                      binding, extra)
    if exact.any():                            # rows the batch does not fill: room for them
        cols.update(_empty_columns(plan, n))
    if solved is not None:
        _fill(cols, *solved, n)
    if exact.any():
        with _EXACT:
            for j in np.flatnonzero(exact):
                row = _solve_point(plan.base, point_of(plan, int(flat[j])))
                for k in _row_keys(plan):
                    value = row.get(k)
                    cols[k][j] = (np.nan if value is None else value) if cols[k].dtype.kind == "f" else value
    return {k: cols[k] for k in plan.keys}, int(exact.sum())


#: one chunk at a time on the exact path (cvxpy and scipy are not known to be thread-safe)
_EXACT = threading.Lock()


def _fill(cols, rows, facts, result, good, binding, extra, n: int) -> None:
    """Write the batch plans into the columns (rows: their positions in the chunk of n
    points) with the row function; where they are the whole chunk, the row function's
    arrays become the columns (numbers as floats, text as objects). ``binding``: the plans'
    binding constraints where the solver names them (else from ``result``); ``extra``: the
    serving columns of plans under the roofline model."""
    every = good.all()
    pick = (lambda v: v) if every else (lambda v: v[good])          # noqa: E731
    binding = result.binding_texts(np.flatnonzero(good)) if binding is None else binding[good]
    columns = plan_columns(facts, pick(result.params), pick(result.tokens), loss=pick(result.loss),
                           effective_tokens=pick(result.effective_tokens), objective_value=pick(result.objective),
                           kkt_residual=pick(result.kkt_residual), binding=binding, **extra)
    whole = rows.size == n                             # every point of the chunk, in order
    numeric = set(numeric_fields())
    for key in row_fields():
        dtype = np.dtype(float) if key in numeric else np.dtype(object)
        values = columns[key]
        if dtype.kind == "f":
            values = np.asarray(values, dtype=float)
        elif not isinstance(values, np.ndarray):
            values = _objects(values)
        if whole:
            # the row function's own array (a read-only view where it is one value down the
            # chunk), else a copy
            fits = values.shape == rows.shape and values.dtype == dtype
            cols[key] = values if fits else np.array(np.broadcast_to(values, rows.shape), dtype=dtype)
        else:
            cols[key][rows] = values
    invalid = np.flatnonzero(cols["status"][rows] == "invalid")
    if whole and not invalid.size:
        cols["message"] = np.broadcast_to(np.array("", dtype=object), rows.shape)
        return
    message = np.full(rows.size, "", dtype=object)
    message[invalid] = OVERFLOW_MESSAGE
    if whole:
        cols["message"] = message
    else:
        cols["message"][rows] = message


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def chunk_rows(cols: dict) -> Iterator[dict]:
    """The rows of a chunk of columns, as dicts of plain Python values (None where a
    point has no value)."""
    return rows_of(cols)


def solved_chunk(plan: SweepPlan, start: int, stop: int, encode=None):
    """(columns of points start..stop−1 (:func:`sweep_columns`), encoded if asked; how
    many of them the exact path solved)."""
    cols, exact = _solve_columns(plan, start, stop)
    return (cols if encode is None else encode(cols)), exact

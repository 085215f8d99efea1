"""A plan evaluated along a sweep (``lifeopt evaluate --vary``): :func:`.evaluation.evaluate`
at every point of a grid, for all the points at once where the sweep's batch path
describes them.

Point by point, each point read, validated, built and its optimum of equal loss certified
by two solvers took 30 ms (5 s a hundred points). The sweep's machinery
(:mod:`.sweep_plan`) gives every point's law, costs and limits without a Scenario per
point; for the one plan (N, D) the evaluation adds:

* its loss and effective tokens under each point's law
  (:class:`~lifecycle_opt.solvers.boundary.BatchLaw`, the batch solver's), and its row
  from the row function (:func:`.rows.plan_columns`), as :func:`.evaluation.evaluate`
  writes it;
* the limits it breaks: each limit's g(N, D) (g ≤ 1 where it holds) at every point of a
  side of the sweep, from the side's scenarios or from forms fitted on a few of them
  (:mod:`.columnar`), as the sweep's own numbers are; checked on whole points;
* the optimum of equal loss: the optimum problems (:func:`.evaluation.optimum_scenario`)
  laid out as a sweep of their own, each point's target set to its served loss, solved
  by the batch solver (which agrees with the certified solver to 1e-9, tests/test_batch.py).

Points the batch path does not take (the roofline serving model, discrete choices,
bootstrap laws, quantisation, an optimum the batch solver leaves to the exact path, a
plan whose costs overflow) are evaluated one by one by :func:`.evaluation.evaluate`;
either way a row holds the same numbers (tests/test_evaluate.py, to 1e-9).
"""
from __future__ import annotations

__all__ = ["evaluate_sweep", "MAX_EVALUATED"]

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import numpy as np

from ..errors import ScenarioError, UnknownKeyError
from ..problem.formulation import build_problem
from ..scenario.reader import ScenarioLike, as_scenario
from ..scenario.schema import Scenario
from ..solvers.batch import solve_batch
from ..solvers.boundary import BatchLaw
from .axes import axes_of, grid_size
from .columnar import NotColumnar, fit_side
from .evaluation import VIOLATION_TOL, Quantity, evaluate, optimum_scenario, plan_size, regret_unit, settled
from .rows import BASELINE_COSTS, cost_columns, plan_columns, status_of
from .sweep_plan import (LOSS_SECTIONS, Base, SweepPlan, combine_sides, plan_sweep, point_label, point_of,
                         sampled_points, side_indices, side_scenario)

#: points evaluated together
CHUNK = 65_536
#: the most points of an evaluated grid: its rows are held in memory (a row of some 75
#: fields is about 6 kB: 0.6 GB at this many)
MAX_EVALUATED = 100_000


def evaluate_sweep(scenario: ScenarioLike, axes: Any, *, params: Quantity | None = None,
                   tokens: Quantity | None = None, flops: Quantity | None = None,
                   choices: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The plan evaluated at every point of ``axes`` (as :func:`lifecycle_opt.sweep`
    varies a scenario): one row per point with the varied values, ``status``
    ("evaluated", or why the point did not build) and ``message`` (why a point has no
    optimum of equal loss), then :meth:`Evaluation.as_row`.

    >>> rows = evaluate_sweep("examples/chat_assistant.toml", {"inference.requests": [1e9, 1e12]},
    ...                       params="70B", tokens="1.4T")
    >>> [r["status"] for r in rows], rows[0]["regret"] < rows[1]["regret"]
    (['evaluated', 'evaluated'], True)
    """
    axes = axes_of(axes)
    total = grid_size(axes)
    if total > MAX_EVALUATED:
        raise ScenarioError("--vary", f"a grid of at most {MAX_EVALUATED:,} points to evaluate (its rows are held "
                            f"in memory); evaluate parts of it in turn", found_text=f"found {total:,} points")
    given = as_scenario(scenario)
    settled(given, choices)          # a choice missing or not the scenario's: one error, not one a row
    N, D = plan_size(params, tokens, flops, given.source)
    plan = plan_sweep(given, axes)
    fast = None if plan.exact else _fast_path(plan, N, D)
    ask = dict(params=params, tokens=tokens, flops=flops, choices=choices)
    rows: list[dict] = []
    for start in range(0, plan.size, CHUNK):
        rows += _chunk_rows(plan, fast, N, D, start, min(start + CHUNK, plan.size), ask)
    return rows


@dataclass(frozen=True)
class _OptimumBase(Base):
    """A sweep's base whose every point is the optimum problem of its scenario: the regret's
    objective, no budget, and a loss target whose value is a placeholder (each point's
    own served loss is laid into the batch)."""

    def build(self, data: dict, source: str | None = None) -> Scenario:
        s = super().build(data, source)
        return optimum_scenario(s, s.law.irreducible_loss + 1.0, regret_unit(s))


@dataclass
class _FastPath:
    """What the batch path needs besides the sweep's plan: the optimum problems' plan, each
    side's limits as g(N, D) over its points (a function of the side's indices), which
    side decides each limit, and the limits in the order a Problem lists them."""

    optimum: SweepPlan
    limits: tuple
    side_of: dict
    order: list


def _fast_path(plan: SweepPlan, N: float, D: float) -> _FastPath | None:
    """The batch path of ``plan`` for the plan (N, D), or None where it does not apply."""
    base = _OptimumBase(**{f.name: getattr(plan.base, f.name) for f in fields(plan.base)})
    try:
        optimum = plan_sweep(base, plan.axes)
        (loss_at, loss_keys), (cost_at, cost_keys) = (_side_limits(plan, side, N, D)
                                                      for side in (plan.loss, plan.cost))
    except (NotColumnar, ScenarioError):
        return None
    if optimum.exact:
        return None
    keys = {**loss_keys, **cost_keys}
    side_of = {name: 0 if key.split(".")[0] in LOSS_SECTIONS else 1 for name, key in keys.items()}
    fast = _FastPath(optimum, (loss_at, cost_at), side_of, list(keys))
    return fast if _limits_verified(plan, fast, N, D) else None


def _limit_table(scenarios: list, N: float, D: float) -> tuple[dict, dict]:
    """({limit name: g(N, D) of each scenario} (nan where it has no such limit or did not
    build), {limit name: its scenario key})."""
    z = np.log([N, D])
    found, keys = [], {}
    for s in scenarios:
        row = {}
        if isinstance(s, Scenario):
            for c in build_problem(s).constraints:
                if not c.is_loss:
                    with np.errstate(over="ignore"):
                        row[c.name] = float(np.exp(c.value(z)))
                    keys.setdefault(c.name, c.key)
        found.append(row)
    return {name: np.array([r.get(name, np.nan) for r in found]) for name in keys}, keys


def _side_limits(plan: SweepPlan, side, N: float, D: float):
    """(a function of a side's point indices giving {limit name: g(N, D)}, {limit name: key}):
    from the side's scenarios, or forms fitted on a few of them where the sweep fitted its
    own (NotColumnar where they do not fit)."""
    if side.columns is None:
        table, keys = _limit_table(side.scenarios, N, D)
        return (lambda idx: {k: v[idx] for k, v in table.items()}), keys
    axes, keys = plan.axes, {}

    def numbers(points):
        built = []
        for point in points:
            try:
                built.append(side_scenario(plan.base, axes, side.axes, [axes[i].item(k) for i, k in
                                                                          zip(side.axes, point)]))
            except ScenarioError as exc:
                raise NotColumnar(f"a probe does not build ({exc})") from None
        table, found = _limit_table(built, N, D)
        keys.update(found)
        return table

    forms = fit_side([np.asarray(axes[i].array, dtype=float) for i in side.axes], numbers)
    return forms.at, keys


def _limits_at(fast: _FastPath, li, ci) -> dict:
    """{limit name: g(N, D)} at the points whose sides are li and ci, each limit from the
    side that decides it."""
    parts = (fast.limits[0](li), fast.limits[1](ci))
    return {name: parts[fast.side_of[name]][name] for name in fast.order}


def _limits_verified(plan: SweepPlan, fast: _FastPath, N: float, D: float, samples: int = 6) -> bool:
    """The limits of a few whole points built exactly are those the sides give, to 1e-12
    (as the sweep checks its own numbers, ``sweep_plan._verified``)."""
    for li, ci, whole in sampled_points(plan, samples, seed=1):
        if whole is None:
            return False
        exact, _ = _limit_table([whole], N, D)
        combined = _limits_at(fast, li, ci)
        if set(exact) - set(combined):
            return False
        for name, g in combined.items():
            a, b = float(exact.get(name, np.array([np.nan]))[0]), float(g[0])
            if not (a == b or (a != a and b != b) or abs(a - b) <= 1e-12 * max(abs(a), abs(b))):
                return False
    return True


def _chunk_rows(plan: SweepPlan, fast: _FastPath | None, N: float, D: float, start: int, stop: int,
                ask: dict) -> list[dict]:
    """The rows of points start..stop−1: by the batch path where it applies, else one by one."""
    flat = np.arange(start, stop)
    rows: list = [None] * flat.size
    if fast is not None:
        li, ci = side_indices(plan, flat)
        sel = np.flatnonzero(plan.loss.ok_at(li) & plan.cost.ok_at(ci)
                             & fast.optimum.loss.ok_at(li) & fast.optimum.cost.ok_at(ci))
        if sel.size:
            done, batch_rows = _batch_rows(plan, fast, N, D, flat[sel], li[sel], ci[sel])
            for j, row in zip(sel[done], batch_rows):
                rows[j] = row
    for j in [j for j, row in enumerate(rows) if row is None]:
        rows[j] = _point_row(plan.base, point_of(plan, int(flat[j])), ask)
    return rows


def _point_row(base: Base, point: dict, ask: dict) -> dict:
    """The row of one point, evaluated by :func:`.evaluation.evaluate` (a point that does not
    build, or whose plan's costs overflow, is a row saying so)."""
    try:
        built = base.build(base.point_data(point), source=f"{base.source or base.name} [{point_label(point)}]")
        e = evaluate(built, **ask)
    except UnknownKeyError:
        raise
    except ScenarioError as exc:
        return {**point, "status": status_of(exc), "message": str(exc)}
    return {**point, "status": "evaluated", "message": e.optimum_note,
            **{k: v for k, v in e.as_row().items() if k != "status"}}


def _trained(batch, N: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(loss [nats], effective tokens D' [tokens]) of plans (N, D) under each point's law,
    with the repetition penalty where it applies (the batch solver's law)."""
    loss, De = np.full(N.shape, np.nan), D.copy()
    penalty = np.isfinite(batch.unique)
    with np.errstate(all="ignore"):
        for with_penalty in (False, True):
            idx = np.flatnonzero(penalty == with_penalty)
            if idx.size:
                law = BatchLaw(batch.take(idx), with_penalty)
                P, _, _, De[idx] = law.reducible(N[idx], D[idx], np.arange(idx.size))
                loss[idx] = (batch.E[idx] + P) ** batch.power[idx]
    return loss, De


def _batch_rows(plan: SweepPlan, fast: _FastPath, N: float, D: float, flat, li, ci) -> tuple[np.ndarray, list]:
    """(which of the points the batch path evaluated, their rows)."""
    batch, facts = combine_sides(plan, li, ci)
    opt, opt_facts = combine_sides(fast.optimum, li, ci)
    Nv, Dv = np.full(flat.size, N), np.full(flat.size, D)
    loss, De = _trained(opt, Nv, Dv)
    with np.errstate(all="ignore"):
        # an optimum exists (the loss above the law's floor) and the batch solver has the law
        ok = ~opt.unsupported & np.isfinite(loss) & (loss ** (1.0 / opt.power) - opt.E > 0)
        cols = plan_columns(facts, Nv, Dv, loss=loss, effective_tokens=De, objective_value=np.nan,
                            kkt_residual=np.nan, binding=np.full(flat.size, "", dtype=object))
    ok &= cols["status"] != "invalid"                        # costs that overflow: the exact path says so
    take = np.flatnonzero(ok)
    result = solve_batch(replace(opt.take(take), target=loss[take]))
    ok[take[result.status != 0]] = False
    good = np.flatnonzero(ok)
    found = result.status == 0
    Nopt, Dopt = result.params[found], result.tokens[found]
    usd = np.asarray(opt_facts["objective"])[good] == "cost"
    total = lambda costs, rows: np.where(usd, costs["total_cost_pv_usd"][rows], costs["total_flops"][rows])  # noqa: E731
    optimum_costs = cost_columns({k: np.asarray(v)[good] for k, v in facts.items()
                                  if k.startswith("per_")}, Nopt, Dopt)
    plan_total, opt_total = total(cols, good), total(optimum_costs, slice(None))
    with np.errstate(all="ignore"):
        regret = plan_total - opt_total
        extra = {"regret": regret, "regret_fraction": regret / opt_total,
                 "regret_unit": np.where(usd, "usd", "flops").astype(object),
                 "violated": _violated(fast, facts, loss, li, ci)[good],
                 "optimum_params": Nopt, "optimum_tokens": Dopt}
    keys = [a.key for a in plan.axes]
    multi = np.unravel_index(flat[good], plan.shape)
    lists = [a.array[i].tolist() for a, i in zip(plan.axes, multi)]
    keys += ["status", "message"]
    lists += [["evaluated"] * good.size, [""] * good.size]
    for key, column in cols.items():
        if key not in (BASELINE_COSTS, "status"):
            keys.append(key)
            lists.append(_plain(np.asarray(column)[good] if isinstance(column, np.ndarray) else
                                [column[i] for i in good]))
    for key, column in extra.items():
        keys.append(key)
        lists.append(_plain(column))
    return ok, [dict(zip(keys, values)) for values in zip(*lists)]


def _plain(column) -> list:
    """A column as plain Python values, as :func:`.certified.plain_value` gives a cell:
    numbers as float or int (nan → None), text as it is."""
    if not isinstance(column, np.ndarray):
        return list(column)
    values = column.tolist()
    if column.dtype.kind == "f" and np.isnan(column).any():
        return [None if v != v else v for v in values]
    if column.dtype.kind == "O":
        return [None if isinstance(v, float) and v != v else v for v in values]
    return values


def _violated(fast: _FastPath, facts: dict, loss: np.ndarray, li, ci) -> np.ndarray:
    """The names of the limits each plan breaks, joined by ";" in the order
    :func:`.evaluation.evaluate` lists them (the loss target first), as an object array."""
    target = np.asarray(facts["target_loss"], dtype=float)
    with np.errstate(invalid="ignore"):
        missed = (np.asarray(facts["objective"]) != "loss") & (loss > target * (1 + 1e-12))
    names = ["loss_target", *fast.order]
    broken = [missed]
    with np.errstate(divide="ignore", invalid="ignore"):
        broken += [np.log(g) > VIOLATION_TOL for g in _limits_at(fast, li, ci).values()]
    codes = np.zeros(loss.shape, dtype=np.int64)
    for bit, mask in enumerate(broken):
        codes |= np.asarray(mask, dtype=np.int64) << bit
    distinct, inverse = np.unique(codes, return_inverse=True)
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [";".join(n for bit, n in enumerate(names) if code >> bit & 1) for code in distinct.tolist()]
    return texts[inverse.reshape(-1)]

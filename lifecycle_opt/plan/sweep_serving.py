"""Sweeps under the roofline serving model on the batch path (docs/model.md §8): each
cost-side scenario's serving constraints read once per replica size
(:func:`~lifecycle_opt.solvers.batch_serving.forms_of`), every point's plan solved in numpy
(:func:`~lifecycle_opt.solvers.batch_serving.solve_serving_batch`), and each plan's rounded
serving point, its costs and its baseline's evaluated with the model's own functions, in
arrays, into the columns a certified plan's row has.
"""
from __future__ import annotations

__all__ = ["ServingSide", "serving_side", "batch_problem", "serving_plans"]

import math
from dataclasses import dataclass, replace

import numpy as np

from ..model.constants import SECONDS_PER_HOUR
from ..model.costs import CostModel
from ..model.serving import Roofline
from ..model.serving_point import ServingPoint
from ..problem.formulation import LATENCY_TARGETS, Problem, build_problem, plane_problem, serving_constraints
from ..scenario.schema import Scenario
from ..solvers.batch_data import OPTIMAL, Batch
from ..solvers.batch_serving import solve_serving_batch
from ..solvers.serving_forms import at_batch, batch_points, forms_of, stack_forms
from .rows import INFER_FIELDS, baseline_plans


def batch_problem(scenario: Scenario) -> Problem:
    """The problem the batch solver reads for ``scenario``: under the roofline serving model
    its plane part (the serving constraints are read by :func:`serving_side`), else the
    whole problem (one the batch solver marks unsupported where it has no form for it)."""
    got = plane_problem(scenario) if scenario.serving is not None else None
    return build_problem(scenario) if got is None else got[0]


@dataclass(frozen=True)
class ServingSide:
    """A cost-side scenario's serving: its roofline and cost model, k (the objective's unit
    per GPU-second of generated tokens), and per cell — (allowed size, lo, hi) of a batch
    bucket, a dense model's (size, 1, ∞) — the forms of its constraints (``plan``) and of
    the baseline's (the shape family, no latency targets: ``base``)."""

    roofline: Roofline
    costs: CostModel
    k: float
    plan: dict
    base: dict


def serving_side(scenario: Scenario) -> ServingSide | None:
    """The ServingSide of a roofline scenario; None when the batch path cannot solve it
    (an exact architecture pins N, a cost or a limit without a batch form)."""
    r = scenario.serving
    got = plane_problem(scenario) if r is not None else None
    if got is None:
        return None
    plan, base = {}, {}
    for forms, cells, exclude in ((plan, r.cells(), ()), (base, r.free().cells(), LATENCY_TARGETS)):
        for cell in cells:
            key = (cell.size,) + (cell.batch_bucket or (1.0, math.inf))
            forms[key] = forms_of([c for c in serving_constraints(cell) if c.name not in exclude], float(cell.size))
            if forms[key] is None:
                return None
    return ServingSide(r, scenario.costs, got[1], plan, base)


def _stacked(sides: list[ServingSide], which: str) -> list:
    """Per cell (replica size, a mixture's batch bucket), its forms stacked over the sides (a
    cell a side's scenario does not have: not allowed); ``.take(ci)`` gives them for points
    of sides ``ci``."""
    cells = sorted({key for s in sides for key in getattr(s, which)})
    return [stack_forms([getattr(s, which).get(key) for s in sides], float(key[0])) for key in cells]


def serving_plans(batch: Batch, facts: dict, sides: list[ServingSide], ci: np.ndarray):
    """Solve the points (``batch`` rows, their cost sides ``ci``): (result, good, binding,
    extra) with ``extra`` the serving keyword arguments of
    :func:`~lifecycle_opt.plan.rows.plan_columns` for the good points."""
    k = np.array([s.k for s in sides])[ci]
    plan_forms, base_forms = _stacked(sides, "plan"), _stacked(sides, "base")
    solved = solve_serving_batch(batch, [f.take(ci) for f in plan_forms], k)
    result = solved.result
    good = result.status == OPTIMAL
    j = np.flatnonzero(good)
    if not j.size:
        return result, good, solved.binding, {}
    N, D, c = result.params[j], result.tokens[j], ci[j]
    relaxed = _points(sides, c, N, solved.size[j], solved.batch[j])
    size, B = _rounded([f.take(c) for f in plan_forms], N)
    rounded = _points(sides, c, N, size, B)
    costs, relaxed_costs = _breakdown(sides, c, N, D, rounded), _breakdown(sides, c, N, D, relaxed)
    Nb = baseline_plans({key: v[j] for key, v in facts.items()}, result.loss[j])[0]
    bsize, bB = _rounded([f.take(c) for f in base_forms], Nb)
    has = np.isfinite(bsize)
    base = _points(sides, c, Nb, np.where(has, bsize, 1.0), np.where(has, bB, 1.0), free=True)
    base_costs = _breakdown(sides, c, Nb, np.ones_like(Nb), base, free=True)
    base_costs = {f: np.where(has, v, np.nan) for f, v in base_costs.items()}
    row = _row_fields(sides, c, N, rounded, costs, relaxed_costs)
    return result, good, solved.binding, {"serving": {f: costs[f] for f in INFER_FIELDS},
                                          "baseline_serving": base_costs, "serving_row": row}


def _rounded(sizes: list, N) -> tuple[np.ndarray, np.ndarray]:
    """(size, batch) of the cheapest whole-numbered point at N, as
    :func:`~lifecycle_opt.problem.serving_points.rounded_point` chooses it (nan: none)."""
    x = np.log(N)
    best, size, batch = np.full(N.size, np.inf), np.full(N.size, np.nan), np.full(N.size, np.nan)
    for s in sizes:
        B_max, _, _, ok, cheap, _ = batch_points(s, x)
        with np.errstate(invalid="ignore"):
            B = np.minimum(np.floor(B_max * (1 + 1e-12)), np.maximum(1.0, np.ceil(cheap * (1 - 1e-9))))
        cost, fits = at_batch(s, x, np.where(ok, B, 1.0))
        better = ok & fits & (cost < best * (1 - 1e-12))
        best, size, batch = np.where(better, cost, best), np.where(better, s.g, size), np.where(better, B, batch)
    return size, batch


def _groups(sides, c, key):
    """(group of each point, a representative side per group): the sides whose ``key``
    agrees (a sweep over a target or a price shares its serving physics) evaluated together."""
    ids, first = {}, []
    of_side = np.empty(len(sides), dtype=int)
    for i, side in enumerate(sides):
        k = key(side)
        if k not in ids:
            ids[k] = len(ids)
            first.append(side)
        of_side[i] = ids[k]
    return of_side[c], first


def _physics(side: ServingSide) -> Roofline:
    """A side's roofline without its targets: what the times of a point depend on."""
    return replace(side.roofline, tpot_seconds=None, ttft_seconds=None, max_batch=None)


def _points(sides, c, N, size, B, free: bool = False) -> ServingPoint:
    """The serving points (arrays) of models N at (B, size), each through its side's roofline."""
    fields = {f: np.full(N.size, np.nan) for f in ("compute", "memory", "prefill", "link", "ttft", "mem")}
    group, first = _groups(sides, c, _physics)
    for gi, side in enumerate(first):
        r = side.roofline.free() if free else side.roofline
        for g in np.unique(size[group == gi]):
            m = (group == gi) & (size == g)
            p = r.point(N[m], B[m], float(g))
            for f, v in (("compute", p.compute_seconds), ("memory", p.memory_seconds), ("prefill", p.prefill_seconds),
                         ("link", p.link_seconds), ("ttft", p.ttft_seconds), ("mem", p.memory_bytes)):
                fields[f][m] = v
    return ServingPoint(B, size, fields["compute"], fields["memory"], fields["prefill"], fields["link"],
                        fields["ttft"], fields["mem"])


def _take(p: ServingPoint, m) -> ServingPoint:
    return ServingPoint(*(np.asarray(getattr(p, f))[m] for f in ServingPoint.__dataclass_fields__))


def _breakdown(sides, c, N, D, point: ServingPoint, free: bool = False) -> dict:
    """INFER_FIELDS and total present-value dollars of the plans at ``point``, by their sides'
    cost models (the baseline's: its roofline the shape family's)."""
    out = {f: np.full(N.size, np.nan) for f in INFER_FIELDS + ("total_cost_pv_usd", "total_flops")}
    group, first = _groups(sides, c, lambda s: replace(s.costs, serving=_physics(s)))
    for gi, side in enumerate(first):
        m = group == gi
        model = side.costs
        if free:
            model = replace(model, serving=model.serving.free())
        b = model.breakdown(N[m], D[m], _take(point, m))
        for f in out:
            v = getattr(b, f)
            out[f][m] = np.nan if v is None else v
    return out


def _row_fields(sides, c, N, p: ServingPoint, costs: dict, relaxed_costs: dict) -> dict:
    """The SERVING_FIELDS of the plans served at their rounded points."""
    n = N.size
    prompt, flops, peak, price, rho = (np.full(n, np.nan) for _ in range(5))
    group, first = _groups(sides, c, lambda s: (_physics(s), s.costs.inference))
    for gi, side in enumerate(first):
        m = group == gi
        r, i = side.roofline, side.costs.inference
        prompt[m] = r.prefill_gpu_seconds(N[m])
        flops[m] = r.decode_flops(N[m]) + r.prefill_per_output * r.prefill_flops(N[m])
        peak[m], rho[m] = r.peak_flops, r.prefill_per_output
        price[m] = math.nan if i is None or i.price_per_gpu_hour is None else i.price_per_gpu_hour
    per_token = p.decode_gpu_seconds_per_token
    usd = price / SECONDS_PER_HOUR * 1e6
    with np.errstate(invalid="ignore"):
        rounding = np.maximum(costs["total_cost_pv_usd"] - relaxed_costs["total_cost_pv_usd"], 0.0)
    return {"serving_replica_gpus": p.replica_gpus, "serving_batch": p.batch,
            "serving_tpot_ms": p.step_seconds * 1e3, "serving_ttft_ms": p.ttft_seconds * 1e3,
            "serving_tokens_per_second_per_gpu": p.tokens_per_second_per_gpu,
            "serving_usd_per_million_output_tokens": usd * (per_token - rho * prompt),
            "serving_usd_per_million_input_tokens": usd * prompt,
            "serving_implied_decode_mfu": flops / (per_token * peak), "serving_rounding_cost_usd": rounding}

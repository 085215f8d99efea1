"""Columnar sweeps: a long side of a sweep built from forms fitted on a few probe
scenarios (lifecycle_opt.plan.columnar) gives the rows the exact solver gives.

Where the expected numbers come from: the exact per-scenario path of the same sweep
(plan.exact = True: one Scenario, one Problem and one certified solve per point), every
column to 1e-9 relative; and closed forms for the fitted forms themselves.
"""
import math

import numpy as np
import pytest

from lifecycle_opt.plan import sweep_plan as sweep_module
from lifecycle_opt.plan.columnar import NotColumnar, fit_form, fit_side
from lifecycle_opt.plan.sweep_plan import plan_sweep
from lifecycle_opt.plan.sweep_rows import chunk_rows, sweep_columns
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.errors import ScenarioError

from test_batch import random_raw


V = np.geomspace(1e9, 1e15, 9)


@pytest.mark.parametrize("kind,y", [("const", np.full(9, 3.5)), ("affine", 2.0 + 3e-12 * V),
                                    ("log", 1.0 - 0.5 * np.log(V)), ("power", -4.0 * V ** -0.37),
                                    ("power", 7.0 * V)])
def test_each_form_is_recovered_from_its_values(kind, y):
    form = fit_form(V, y)
    assert form.kind == kind or (kind == "power" and form.kind == "affine")   # c·v is both
    if form.kind != "const":
        assert form(V, y[0]) == pytest.approx(y, rel=1e-13)


def test_a_number_that_follows_no_form_is_refused():
    assert fit_form(V, np.sin(np.log(V))) is None
    assert fit_form(V, np.where(V > 1e12, 1.0, 2.0)) is None          # a step: a limit switching on
    with pytest.raises(NotColumnar, match="no simple form"):
        fit_side([V], lambda points: {"x": np.sin(np.log(V[[p[0] for p in points]]))})


def test_two_axes_combine_as_a_product_or_a_sum_or_are_refused():
    a, b = np.linspace(1, 5, 7), np.geomspace(10, 1e4, 11)

    def numbers(f):
        return lambda points: {"x": np.array([f(a[i], b[j]) for i, j in points])}
    grid = np.ravel_multi_index(np.indices((7, 11)).reshape(2, -1), (7, 11))
    for f in (lambda x, y: 3 * x * y, lambda x, y: x + np.log(y), lambda x, y: 2.0):
        side = fit_side([a, b], numbers(f))
        expected = np.array([f(x, y) for x in a for y in b], dtype=float)
        assert side.at(grid)["x"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(NotColumnar, match="neither a product nor a sum"):
        fit_side([a, b], numbers(lambda x, y: x * y + 2 * x + 3 * y))


#: the keys a random scenario may be swept along, with the values an axis takes
def _axes_for(raw, rng, n):
    out = []
    objective = raw["objective"]["minimize"]
    if "tokens" in raw.get("inference", {}) and raw["inference"]["tokens"] > 0:
        out.append(("inference.tokens", np.geomspace(1e8, 1e15, n)))
    if objective != "loss":
        t = raw["target"]["loss"]
        out.append(("target.loss", np.linspace(t, t + 0.3, n)))
    out.append(("hardware.training.price_per_gpu_hour", np.linspace(0.5, 6.0, n)))
    out.append(("hardware.inference.price_per_gpu_hour", np.linspace(0.5, 6.0, n)))
    out.append(("hardware.training.mfu", np.linspace(0.1, 0.7, n)))
    out.append(("limits.max_params", np.geomspace(1e9, 1e12, n)))
    out.append(("limits.max_training_days", np.linspace(10, 400, n)))
    if "data" in raw:
        out.append(("data.max_epochs", np.linspace(1, 40, n)))
        out.append(("data.unique_tokens", np.geomspace(1e10, 1e13, n)))
    if objective == "loss":
        key = next(iter(raw["budget"]))
        v = raw["budget"][key]
        out.append((f"budget.{key}", np.geomspace(v / 30, v * 30, n)))
    picks = rng.choice(len(out), size=1 if rng.random() < 0.6 else 2, replace=False)
    return {out[i][0]: [float(x) for x in out[i][1]] for i in picks}


def _compare(raw, axes, monkeypatch, points=None):
    """Rows of the columnar sweep against the exact per-point path, every column."""
    monkeypatch.setattr(sweep_module, "EXACT_SIDE", 0)              # every side columnar
    plan = plan_sweep(raw, axes)
    columnar_sides = sum(side.columns is not None for side in (plan.loss, plan.cost) if side.axes)
    fast = list(chunk_rows(sweep_columns(plan, 0, plan.size)))
    plan.exact = True
    slow = list(chunk_rows(sweep_columns(plan, 0, plan.size)))
    for a, b in zip(fast, slow):
        assert a["status"] == b["status"], (axes, a["message"], b["message"])
        for key in plan.keys:
            if key == "kkt_residual":
                continue
            if isinstance(a[key], float) and isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (key, axes)
            else:
                assert a[key] == b[key], (key, axes)
    return columnar_sides, plan


def test_random_sweeps_columnar_rows_equal_the_exact_rows(monkeypatch):
    """Random scenarios (every law, objective, limit kind, the repetition penalty) swept
    along one or two random keys with every side columnar: each row equals the exact
    solver's to 1e-9 in every column. Most sides must in fact go columnar."""
    rng = np.random.default_rng(7)
    done, went = 0, 0
    while done < 14:
        raw = random_raw(rng)
        try:
            scenario_from_dict(raw)
        except ScenarioError:
            continue
        axes = _axes_for(raw, rng, 4)
        sides, _ = _compare(raw, axes, monkeypatch)
        went += sides > 0
        done += 1
    assert went >= 10


@pytest.mark.parametrize("name,axes", [
    ("finance_plan.toml", {"finance.discount_rate": [0.0, 0.05, 0.1, 0.3]}),
    ("finance_plan.toml", {"hardware.inference.price_per_gpu_hour": [1.0, 2.0, 3.5],
                           "finance.monthly_growth": [0.0, 0.02, 0.05]}),
    ("owned_cluster.toml", {"finance.energy_price": [0.05, 0.1, 0.2], "hardware.training.mfu": [0.3, 0.5]}),
    ("chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11, 1e12]}),
    ("research_model.toml", {"budget.training_flops": [1e21, 1e22, 1e23, 1e24]}),
])
def test_finance_and_shipped_sweeps_columnar_rows_equal_the_exact_rows(name, axes, monkeypatch):
    _compare(f"examples/{name}", axes, monkeypatch)


def test_a_side_that_follows_no_form_is_built_point_by_point(monkeypatch):
    """A key whose effect is no form (the discount rate moves the timing factors in no
    simple way) is built per point, and the sweep says why in the side's note; the rows
    are still the exact ones."""
    monkeypatch.setattr(sweep_module, "EXACT_SIDE", 0)
    plan = plan_sweep("examples/finance_plan.toml", {"finance.discount_rate": list(np.linspace(0, 0.4, 9))})
    assert plan.cost.columns is None and "form" in plan.cost.note


def test_an_invalid_value_on_a_long_axis_is_a_row_that_says_why(monkeypatch):
    """A negative price among valid ones: a probe fails to build, so the side is built
    point by point and that point's row is invalid with the key named."""
    monkeypatch.setattr(sweep_module, "EXACT_SIDE", 0)
    prices = [1.0, 2.0, -1.0, 3.0]
    plan = plan_sweep("examples/chat_assistant.toml", {"hardware.training.price_per_gpu_hour": prices})
    assert plan.cost.columns is None
    rows = list(chunk_rows(sweep_columns(plan, 0, plan.size)))
    assert [r["status"] for r in rows] == ["optimal", "optimal", "invalid", "optimal"]
    assert "price_per_gpu_hour" in rows[2]["message"]


def test_a_million_points_along_one_axis_build_no_scenario_per_point(monkeypatch):
    """The side of a 1e6-value axis is fitted on a handful of probe scenarios."""
    built = []
    original = sweep_module.side_scenario
    monkeypatch.setattr(sweep_module, "side_scenario", lambda *a: built.append(1) or original(*a))
    plan = plan_sweep("examples/small_corpus.toml", ["inference.tokens=1e9..1e15:log:1000000"])
    assert plan.cost.columns is not None and len(built) < 20
    cols = sweep_columns(plan, 999_000, 1_000_000)
    assert np.all(cols["status"] == "optimal")
    assert math.isclose(cols["inference.tokens"][-1], 1e15, rel_tol=1e-12)

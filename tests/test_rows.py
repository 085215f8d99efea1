"""The row function: a sweep row (batch solver) and a certified plan's row carry the same
fields with the same numbers, and the numbers are the costs of the plan."""
import math

import pytest

import lifecycle_opt
from lifecycle_opt import load_scenario
from lifecycle_opt.plan.rows import row_fields

from conftest import EXAMPLES


@pytest.mark.parametrize("example", ["chat_assistant", "finance_plan", "small_corpus", "owned_cluster"])
def test_a_sweep_row_is_the_row_of_the_certified_plan(example):
    scenario = load_scenario(EXAMPLES / f"{example}.toml")
    plan = lifecycle_opt.solve(scenario)
    row = lifecycle_opt.sweep(scenario, {"name": [scenario.name]})[0]
    own = plan.as_row()
    assert list(own) == list(row_fields())
    assert set(own) <= set(row)
    # each solver certifies its own plan: the residuals differ, both are tiny
    assert max(row.pop("kkt_residual"), own.pop("kkt_residual")) <= 1e-9
    for key, value in own.items():
        if isinstance(value, float):
            assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-300), key
        else:
            assert row[key] == value, key


def test_the_row_holds_the_plans_costs():
    plan = lifecycle_opt.solve(load_scenario(EXAMPLES / "chat_assistant.toml"))
    row = plan.as_row()
    c = plan.costs
    # 6·N·D, 2·N per token served, and the 730 days of serving of the example
    assert row["training_flops"] == pytest.approx(6 * plan.params * plan.tokens, rel=1e-15)
    assert row["inference_flops"] == pytest.approx(2 * plan.params * 1e11 * 1000, rel=1e-15)
    # 8e13 prompt tokens at 50 % and 2e13 generated at 5 % of the H100's fp8 1,978.9 TFLOP/s,
    # over 730 days (by hand, not through the cost model)
    hours = 2 * plan.params * (8e13 / 0.5 + 2e13 / 0.05) / 1978.9e12 / 3600
    assert row["serving_gpus"] == pytest.approx(hours / (730 * 24), rel=1e-12)
    assert row["total_cost_pv_usd"] == pytest.approx(c.total_cost_pv_usd, rel=1e-15)
    assert row["npv_usd"] is None and math.isclose(row["epochs"], plan.tokens / 15e12)

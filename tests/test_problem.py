"""The problem handed to both solvers: every limit a typed constraint with its setting, its
unit and the batch solver's form."""
import math

import pytest

from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.solvers.batch_data import SHAPES


def test_every_limit_carries_its_kind_and_bound():
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
           "inference": {"tokens": 1e12},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0, "gpus": 1000},
                        "inference": {"gpu": "H100", "mfu": 0.3, "price_per_gpu_hour": 2.0}},
           "data": {"unique_tokens": 1e13, "max_epochs": 4, "repetition_penalty": False},
           "limits": {"max_params": 7e10, "min_tokens_per_param": 20, "max_tokens_per_param": 2000,
                      "max_training_days": 90, "max_total_cost": 1e8}}
    problem = build_problem(scenario_from_dict(raw))
    kinds = {c.name: c.batch_form() for c in problem.constraints if not c.is_loss}
    assert problem.constraint("loss_target").is_loss
    assert kinds["max_params"] == ("x_le", pytest.approx(math.log(7e10), rel=1e-15))
    assert kinds["max_epochs"] == ("y_le", pytest.approx(math.log(4e13), rel=1e-15))
    assert kinds["min_tokens_per_param"] == ("ratio_ge", pytest.approx(math.log(20), rel=1e-15))
    assert kinds["max_tokens_per_param"] == ("ratio_le", pytest.approx(math.log(2000), rel=1e-15))
    # 90 days on 1,000 GPUs at 40 % of the H100's dense bf16 peak caps 6·N·D
    kind, bound = kinds["max_training_days"]
    assert kind == "nd_le"
    assert math.exp(bound) * 6 == pytest.approx(1000 * 989.4e12 * 0.4 * 90 * 86400, rel=1e-12)
    kind, (c1, c2) = kinds["max_total_cost"]
    assert kind == "cost_le" and c1 > 0 and c2 > 0
    assert {k for k, _ in kinds.values()} <= set(SHAPES)


def test_a_lifecycle_cap_without_demand_caps_n_times_d():
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0}},
           "limits": {"max_total_cost": 1e8}}
    cap = next(c for c in build_problem(scenario_from_dict(raw)).constraints if c.name == "max_total_cost")
    assert cap.batch_form()[0] == "nd_le"

"""The warnings a plan carries (lifecycle_opt/plan/cautions.py): each condition of
docs/model.md §7 fires where it should and not elsewhere, and the count a sweep row keeps
equals the warnings a solved plan lists."""
import copy

import pytest

from lifecycle_opt import solve
from lifecycle_opt.scenario.reader import scenario_from_dict

BASE = {"name": "cautions", "law": {"preset": "hoffmann2022"}, "target": {"loss": 2.1},
        "objective": {"minimize": "flops"}, "inference": {"tokens": 1e11}}


def _warnings(**changes):
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    sol = solve(scenario_from_dict(raw))
    assert sol.row["warnings"] == len(sol.warnings)                # the row's count is the list's length
    return sol.warnings


def test_a_plan_within_the_fitted_range_carries_none():
    assert _warnings() == ()


def test_extrapolation_beyond_the_fitted_runs():
    # a loss of 1.9 under hoffmann2022 needs far more than the 16B parameters it was fitted on
    warnings = _warnings(target={"loss": 1.9})
    assert any("beyond the largest model the law was fitted on" in w for w in warnings)


def test_repeated_data_without_the_penalty_and_many_epochs():
    warnings = _warnings(data={"unique_tokens": 2e10, "max_epochs": 40, "repetition_penalty": False},
                         target={"loss": 2.3})
    assert any("data.repetition_penalty is off" in w for w in warnings)
    assert any("epochs over the unique corpus" in w for w in warnings)


def test_experts_beyond_the_joint_laws_range_and_quantisation_beyond_its_fit():
    warnings = _warnings(law={"preset": "ludziejewski2025"}, target={"loss": 2.5}, moe={"experts": 64})
    assert any("64 experts is beyond the 32" in w for w in warnings)
    # a 4-bit plan of billions of parameters, where Kumar et al. fitted 30-220M
    warnings = _warnings(quantisation={"bits": 4})
    assert any("quantisation constants (kumar2024) were fitted on 30-220M parameters" in w for w in warnings)


@pytest.mark.parametrize("objective", ["loss"])
def test_a_loss_objective_that_ignores_heavy_serving(objective):
    warnings = _warnings(objective={"minimize": objective}, target=None, budget={"training_flops": 1e21},
                         inference={"tokens": 1e14})
    assert any("ignores serving cost" in w for w in warnings)

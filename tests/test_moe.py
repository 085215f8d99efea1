"""Mixture-of-experts plans (lifecycle_opt/model/moe.py, plan/choices.py): the joint law of
Ludziejewski et al. 2025 (arXiv 2502.05172) against its own compute-optimal allocations
and an independent scipy solve of its formula, total against active parameters, the
choice of E with and without a memory limit, and the scenario's errors."""
import copy
import math

import pytest
from scipy.optimize import minimize_scalar

from lifecycle_opt import solve
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.model.moe import Mixture
from lifecycle_opt.model.presets import joint_preset, preset
from lifecycle_opt.scenario.reader import scenario_from_dict

#: Table 3 of Ludziejewski et al. 2025, as printed
A, ALPHA, DELTA, GAMMA = 35.91, -0.1889, -0.2285, 0.0098
B, BETA, OMEGA, ZETA = 35.98, -0.1775, 0.5529, -0.0259
E_START, E_MAX, C = 2.0732, 290.4521, 1.3637


def joint_loss(N, D, E):
    """Their eq. 4 and 5, written out again."""
    Eh = 1 / (1 / (E - 1 + 1 / (1 / E_START - 1 / E_MAX)) + 1 / E_MAX)
    return (A * Eh ** DELTA * N ** (ALPHA + GAMMA * math.log(Eh))
            + B * Eh ** OMEGA * D ** (BETA + ZETA * math.log(Eh)) + C)


BASE = {"name": "moe", "law": {"preset": "ludziejewski2025"}, "objective": {"minimize": "loss"},
        "budget": {"training_flops": 1e20}}


def test_the_dense_member_is_the_preset_and_its_table_1_allocation():
    # Table 1 of the paper: at 1e20 FLOP the dense model is about 1.7B active parameters on
    # 9.7B tokens; docs/model.md §10's unrounded figures 1.73e9, 9.65e9, loss 2.590
    law = preset("ludziejewski2025")
    N, D = law.compute_optimal(1e20)
    assert float(N) == pytest.approx(1.7e9, abs=0.05e9) and float(D) == pytest.approx(9.7e9, abs=0.05e9)
    assert float(law.loss(N, D)) == pytest.approx(2.590, abs=5e-4)
    assert float(law.loss(N, D)) == pytest.approx(joint_loss(float(N), float(D), 1), rel=1e-13)
    eight = joint_preset("ludziejewski2025").at(8)
    N, D = eight.compute_optimal(1e20)            # docs/model.md §9: 9.9e8, 1.68e10, 2.529
    assert float(N) == pytest.approx(9.9e8, rel=5e-3) and float(D) == pytest.approx(1.68e10, rel=5e-3)
    assert float(eight.loss(N, D)) == pytest.approx(2.529, abs=5e-4)


@pytest.mark.parametrize("E", [1, 4, 8, 32])
def test_the_loss_optimal_plan_at_fixed_compute_matches_scipy(E):
    raw = copy.deepcopy(BASE)
    raw["moe"] = {"experts": E}
    plan = solve(scenario_from_dict(raw))
    # scipy on the written-out formula: minimise L(N, 1e20/(6N), E) over log N
    res = minimize_scalar(lambda x: joint_loss(math.exp(x), 1e20 / (6 * math.exp(x)), E),
                          bounds=(math.log(1e7), math.log(1e11)), method="bounded",
                          options={"xatol": 1e-12})
    N = math.exp(res.x)
    assert plan.params == pytest.approx(N, rel=1e-6)
    assert plan.tokens == pytest.approx(1e20 / (6 * N), rel=1e-6)
    assert plan.as_dict()["experts"] == E and plan.as_dict()["active_experts"] == 1


@pytest.mark.parametrize("E", [1, 8, 32])
def test_the_cost_optimal_plan_with_demand_matches_scipy(E):
    raw = {"name": "moe cost", "law": {"preset": "ludziejewski2025"}, "target": {"loss": 2.45},
           "objective": {"minimize": "flops"}, "inference": {"tokens": 1e12}, "moe": {"experts": E}}
    plan = solve(scenario_from_dict(raw))

    # 6·N·D + 2·N·T with D from the target at each N (the target binds): a 1-D minimum
    def flops(x):
        N = math.exp(x)
        lo, hi = math.log(1e6), math.log(1e16)
        for _ in range(200):                      # the D that meets the target, by bisection
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if joint_loss(N, math.exp(mid), E) <= 2.45 else (mid, hi)
        return 6 * N * math.exp(hi) + 2 * N * 1e12
    res = minimize_scalar(flops, bounds=(math.log(5e7), math.log(5e9)), method="bounded",
                          options={"xatol": 1e-12})
    assert plan.params == pytest.approx(math.exp(res.x), rel=1e-6)


def test_total_parameters_are_what_a_mixture_holds():
    # Mixtral 8x7B (Jiang et al. 2024): 12.9B active, 46.7B total, 2 of 8 experts a token;
    # its expert MLPs are 32 layers x 3 x 4096 x 14336 = 5.64B parameters each
    share = 2 * 32 * 3 * 4096 * 14336 / 12.9e9
    mixtral = Mixture(8, 2, share)
    assert 12.9e9 * mixtral.total_per_active == pytest.approx(46.7e9, rel=2e-3)
    assert Mixture().total_per_active == 1.0
    with pytest.raises(ValueError):
        Mixture(4, 8)


def _cost_scenario(**limits):
    raw = {"name": "moe or dense", "law": {"preset": "ludziejewski2025"}, "target": {"loss": 2.4},
           "objective": {"minimize": "cost"}, "inference": {"tokens": "5T"},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5},
                        "inference": {"gpu": "H100", "dtype": "bf16", "mfu": 0.1, "price_per_gpu_hour": 2.5}},
           "moe": {"experts": [2, 4, 8, 16, 32]}}
    if limits:
        raw["limits"] = limits
    return scenario_from_dict(raw)


def test_more_experts_stop_paying_once_the_total_parameters_hit_the_memory():
    """Ludziejewski et al. 2025 §5: under a memory budget the best E falls; each E's plan
    holds its total parameters within the limit, and the dense model is always compared."""
    chosen = []
    for memory in (None, 2e9, 1e9):
        plan = solve(_cost_scenario(**({} if memory is None else {"serving_memory": memory})))
        chosen.append(plan.as_dict()["experts"])
        settings = [a.settings["moe.experts"] for a in plan.alternatives]
        assert settings[0] == 1 and not plan.alternatives[0].allowed      # dense, compared
        if memory is not None:
            for a in plan.alternatives:
                if a.total_params is not None:
                    assert a.total_params * 2 <= memory * (1 + 1e-9)      # bf16 weights fit
    assert chosen[0] > chosen[1] > chosen[2], chosen


def test_the_report_says_active_and_total_parameters(capsys):
    from lifecycle_opt.outputs.reports import render_table
    text = render_table(solve(_cost_scenario()))
    assert "32 experts, 1 active:" in text and "total parameters" in text
    assert "CHOICE of moe.experts" in text and "not allowed" in text


@pytest.mark.parametrize("moe, key", [
    ({"experts": 0}, "moe.experts"), ({"experts": [8, 8]}, "moe.experts"), ({"experts": 2.5}, "moe.experts"),
    ({"experts": 4, "active_experts": 8}, "moe.active_experts"), ({"experts": 8, "expert_share": 1.2},
                                                                   "moe.expert_share"),
    ({"experts": 8, "routed": 2}, "moe.routed"),
])
def test_bad_moe_settings_name_the_key(moe, key):
    raw = copy.deepcopy(BASE)
    raw["moe"] = moe
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)
    assert info.value.key == key, str(info.value)


def test_a_mixture_needs_the_joint_law():
    raw = copy.deepcopy(BASE)
    raw["law"] = {"preset": "hoffmann2022"}
    raw["moe"] = {"experts": 8}
    with pytest.raises(ScenarioError, match="joint dense/MoE law"):
        scenario_from_dict(raw)

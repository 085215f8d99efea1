"""Discrete choices (lifecycle_opt/plan/choices.py): every combination of the choices'
values is a variant, the dense twin of a mixture is compared even when not allowed, the
variant of a precision computes at that dtype's peak, and the chosen variant is what the
figure and the workbook see."""
import pytest

from lifecycle_opt import solve
from lifecycle_opt.model.hardware import gpu
from lifecycle_opt.plan.choices import at_serving_precision, choice_variants, chosen_scenario
from lifecycle_opt.scenario.reader import scenario_from_dict

BASE = {"name": "choices", "law": {"preset": "ludziejewski2025"}, "target": {"loss": 2.45},
        "objective": {"minimize": "cost"}, "inference": {"tokens": "1T"},
        "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5},
                     "inference": {"gpu": "H100", "dtype": "bf16", "mfu": 0.1, "price_per_gpu_hour": 2.5}},
        "moe": {"experts": [4, 8]}, "quantisation": {"dtypes": ["bf16", "fp8"], "preset": "kumar2024"}}


def test_every_combination_and_the_dense_twin():
    variants = choice_variants(scenario_from_dict(BASE))
    settings = [(v.settings["moe.experts"], v.settings["quantisation.dtypes"], v.allowed) for v in variants]
    assert settings == [(1, "bf16", False), (1, "fp8", False), (4, "bf16", True), (4, "fp8", True),
                        (8, "bf16", True), (8, "fp8", True)]
    for v in variants:
        assert v.scenario.moe.experts == v.settings["moe.experts"] and not v.scenario.choices


def test_a_precision_computes_at_its_peak_where_the_gpu_has_one():
    s = scenario_from_dict({**BASE, "moe": {"experts": 1}})
    fp8 = at_serving_precision(s, "fp8")
    assert fp8.inference.peak_flops == gpu("H100").peak("fp8") and fp8.quantisation.bits == 8
    int4 = at_serving_precision(s, "int4")              # weight-only: arithmetic stays at bf16
    assert int4.inference.peak_flops == gpu("H100").peak("bf16") and int4.quantisation.bits == 4


def test_the_plan_is_the_cheapest_allowed_and_the_figure_sees_its_variant():
    scenario = scenario_from_dict(BASE)
    plan = solve(scenario)
    allowed = [a for a in plan.alternatives if a.allowed and a.objective_value is not None]
    best = min(allowed, key=lambda a: a.objective_value)
    assert best.chosen and plan.objective_value == pytest.approx(best.objective_value, rel=1e-12)
    variant = chosen_scenario(scenario, plan)
    assert variant.moe.experts == best.settings["moe.experts"]
    assert float(variant.loss_law.loss(plan.params, plan.tokens)) == pytest.approx(2.45, rel=1e-9)
    # a scenario without choices is its own variant
    plain = scenario_from_dict({k: v for k, v in BASE.items() if k not in ("moe", "quantisation")})
    assert chosen_scenario(plain, solve(plain)) is plain

"""The cost model (lifecycle_opt/model/costs.py), the one home of the cost arithmetic:
every figure against the same arithmetic written out by hand from docs/model.md §3
(6·N·D training FLOP, 2·N per token served, GPU-seconds = FLOP / (peak × MFU), dollars =
GPU-hours × price), and the posynomial the solver minimises against the breakdown the
reports print."""
from dataclasses import replace

import numpy as np
import pytest

from lifecycle_opt.model.costs import CostModel, Demand, InferenceHardware, Timing, TrainingHardware
from lifecycle_opt.model.serving import Roofline

H100_BF16, H100_FP8 = 989.4e12, 1978.9e12          # dense peaks, NVIDIA H100 SXM datasheet

TRAIN = TrainingHardware("H100", "bf16", H100_BF16, mfu=0.4, price_per_gpu_hour=2.5, gpus=2048)
INFER = InferenceHardware("H100", "fp8", H100_FP8, prefill_mfu=0.5, decode_mfu=0.05, price_per_gpu_hour=3.0,
                          memory_bytes=80e9, bandwidth=3.35e12)
DEMAND = Demand(input_tokens=8e13, output_tokens=2e13, deployment_days=730)


def by_hand(N, D, timing=Timing()):
    """docs/model.md §3, written out: (train GPU-hours, serve GPU-hours, nominal $, PV $)."""
    train_h = 6 * N * D / (H100_BF16 * 0.4) / 3600
    serve_h = 2 * N * (8e13 / (H100_FP8 * 0.5) + 2e13 / (H100_FP8 * 0.05)) / 3600
    nominal = train_h * 2.5 * timing.training_nominal + serve_h * 3.0 * timing.inference_nominal
    present = train_h * 2.5 * timing.training_present + serve_h * 3.0 * timing.inference_present
    return train_h, serve_h, nominal, present


def test_chinchillas_plan_on_2048_h100s():
    b = CostModel(TRAIN, INFER, DEMAND).breakdown(70e9, 1.4e12)
    train_h, serve_h, nominal, _ = by_hand(70e9, 1.4e12)
    assert b.training_flops == pytest.approx(5.88e23, rel=1e-15)
    assert b.inference_flops == pytest.approx(2 * 70e9 * 1e14, rel=1e-15)
    assert b.training_gpu_hours == pytest.approx(train_h, rel=1e-14)
    assert b.training_days == pytest.approx(train_h / 2048 / 24, rel=1e-14)
    assert b.inference_gpu_hours == pytest.approx(serve_h, rel=1e-14)
    assert b.total_cost_usd == pytest.approx(nominal, rel=1e-14)
    # GPUs serving on average over the 730 days
    assert b.serving_gpus == pytest.approx(serve_h / (730 * 24), rel=1e-14)


def test_timing_scales_nominal_and_present_dollars_apart():
    timing = Timing(training_nominal=0.9, training_present=0.85, inference_nominal=0.7, inference_present=0.6)
    b = CostModel(TRAIN, INFER, DEMAND, timing).breakdown(8e9, 15e12)
    _, _, nominal, present = by_hand(8e9, 15e12, timing)
    assert b.total_cost_usd == pytest.approx(nominal, rel=1e-14)
    assert b.total_cost_pv_usd == pytest.approx(present, rel=1e-14)


@pytest.mark.parametrize("unit", ["flops", "usd", "usd_nominal"])
def test_the_posynomial_the_solver_minimises_is_the_breakdowns_total(unit):
    timing = Timing(training_nominal=0.9, training_present=0.85, inference_nominal=0.7, inference_present=0.6)
    model = CostModel(TRAIN, INFER, DEMAND, timing)
    N, D = np.array([1e9, 8e9, 70e9]), np.array([2e10, 15e12, 1.4e12])
    b = model.breakdown(N, D)
    want = {"flops": b.total_flops, "usd": b.total_cost_pv_usd, "usd_nominal": b.total_cost_usd}[unit]
    assert model.cost(unit).value(N, D) == pytest.approx(want, rel=1e-14)
    # a cost a·N·D + b·N: two terms
    assert model.cost(unit).exponent_set() == {(1.0, 1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 0.0)}


def test_training_part_is_the_training_cost_alone():
    model = CostModel(TRAIN, INFER, DEMAND)
    assert model.cost("usd", "training").value(7e9, 2e12) == pytest.approx(by_hand(7e9, 2e12)[0] * 2.5, rel=1e-14)


def test_missing_prices_are_said_not_guessed():
    no_price = CostModel(TrainingHardware("H100", "bf16", H100_BF16, 0.4), INFER, DEMAND)
    with pytest.raises(ValueError, match="training price unknown"):
        no_price.cost("usd")
    assert not no_price.has_prices and no_price.breakdown(7e9, 1e12).training_cost_usd is None
    free_serving = CostModel(TRAIN, InferenceHardware("H100", "fp8", H100_FP8, 0.5, 0.05), DEMAND)
    with pytest.raises(ValueError, match="inference price unknown"):
        free_serving.cost("usd")
    # nothing to serve: no inference price needed, no serving dollars
    idle = CostModel(TRAIN, None, Demand())
    assert idle.has_prices and idle.breakdown(7e9, 1e12).inference_cost_usd == 0.0
    with pytest.raises(ValueError, match="unknown cost unit"):
        idle.cost("euros")


def test_roofline_serving_costs_the_point_it_is_served_at():
    # the shape family's member of N (docs/model.md §8) on H100s, 4 prompt tokens prefilled
    # per generated token (the demand's 8e13 / 2e13: continuous batching)
    r = Roofline(peak_flops=H100_FP8, bandwidth=3.35e12, memory_bytes=80e9, weight_bytes=1.0, kv_bytes=1.0,
                 context_tokens=900.0, max_context_tokens=4096.0, prompt_tokens=800.0, prefill_per_output=4.0,
                 link_bandwidth=450e9, link_latency=8e-6)
    model = CostModel(TRAIN, INFER, DEMAND, serving=r)
    N = 20e9
    point = r.point(N, 64, 4)
    b = model.breakdown(N, 1e12, point)
    # a generated token costs G·t/B GPU-seconds, the step holding its prompts' share: ρ prompt
    # tokens at their prefill compute time each (B·ρ·FLOP / (G·peak·η_c) of the step)
    assert point.prefill_seconds * 4 / 64 == pytest.approx(4.0 * float(r.prefill_gpu_seconds(N)), rel=1e-13)
    seconds = 2e13 * 4 * point.step_seconds / 64
    assert b.inference_gpu_hours == pytest.approx(seconds / 3600, rel=1e-13)
    assert b.inference_cost_usd == pytest.approx(seconds / 3600 * 3.0, rel=1e-13)
    # prompts alone (nothing generated): their prefill compute time
    prompts = CostModel(TRAIN, INFER, Demand(input_tokens=8e13, output_tokens=0.0, deployment_days=730),
                        serving=replace(r, prefill_per_output=0.0))
    assert prompts.breakdown(N, 1e12, point).inference_gpu_hours == pytest.approx(
        8e13 * float(r.prefill_gpu_seconds(N)) / 3600, rel=1e-13)
    # without a point, the serving figures are unknown, not zero
    assert model.breakdown(N, 1e12).inference_gpu_hours is None


def test_a_demand_near_the_top_of_the_double_range_stays_finite_per_parameter():
    huge = Demand(input_tokens=8e307, output_tokens=2e307)
    coefficient = CostModel(TRAIN, INFER, huge).cost("usd").coefficient(N=1)
    assert np.isfinite(coefficient) and coefficient > 0

"""The roofline serving model (docs/model.md §8): its arithmetic recomputed by hand from
docs/model.md §8's formulas (Llama 2 70B sanity figures among the cases), its plans'
properties, the two solvers' agreement and certificate, the TPOT shadow price against a
finite difference, the rounded serving point, and the errors a user can make."""
import copy
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import InfeasibleError, ScenarioError
from lifecycle_opt.model.serving import Roofline
from lifecycle_opt.model.serving_point import BOUND_EFFICIENCIES
from lifecycle_opt.plan.serving_plan import point_z
from lifecycle_opt.problem.formulation import serving_constraints
from lifecycle_opt.problem.serving_points import relaxed_point, rounded_point
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict
from lifecycle_opt.solvers.exact import solve_exact

from conftest import EXAMPLES

def roofline(**kw) -> Roofline:
    """A 16-bit model of the shape family on H100s, one replica size at a time."""
    base = dict(peak_flops=989.4e12, bandwidth=3.35e12, memory_bytes=80e9, weight_bytes=2.0, kv_bytes=2.0,
                context_tokens=2048.0, max_context_tokens=4096.0, prompt_tokens=1024.0, prefill_per_output=4.0,
                link_bandwidth=450e9, link_latency=8e-6)
    base.update(kw)
    return Roofline(**base)


def test_decode_turns_compute_bound_near_the_reference_batch():
    # no cache, no prompts, one GPU, efficiency 1 (S → 0): compute-bound once B·2N/peak exceeds
    # N·b_w/bw, B ≈ peak·b_w/(2·bw) ≈ 300 (docs/model.md §8); the relaxed point is the
    # smallest batch as cheap as any larger one: that batch
    r = roofline(context_tokens=1e-6, max_context_tokens=1e-6, prefill_per_output=0.0, replica_gpus=(1,),
                 efficiencies=BOUND_EFFICIENCIES)
    B_c = relaxed_point(r, 7e9).batch
    assert B_c == pytest.approx(989.4e12 * 2 / (2 * 3.35e12), rel=1e-6)
    assert r.point(7e9, B_c * 0.99, 1).bound == "memory"
    assert r.point(7e9, B_c * 1.01, 1).bound == "compute"


# ---------------------------------------------------------------- the serving points
def violations(r: Roofline, N: float, p) -> list[str]:
    """The serving constraints of the problem of the point's size that point p breaks."""
    z = point_z(N, 1.0, p)
    return [c.name for c in serving_constraints(r.at_size(p.replica_gpus)) if c.value(z) > 1e-9]


@pytest.mark.parametrize("N", [1e9, 7e9, 3e10, 7e10])
def test_relaxed_point_is_the_cheapest_over_a_fine_grid(N):
    r = roofline(tpot_seconds=0.03, max_batch=400.0, replica_gpus=(1, 2, 4, 8))
    best = relaxed_point(r, N)
    assert best is not None and not violations(r, N, best)
    cheapest = math.inf
    for G in r.replica_gpus:
        for B in np.geomspace(1, 400, 800):
            p = r.point(N, B, G)
            if not violations(r, N, p):
                cheapest = min(cheapest, p.decode_gpu_seconds_per_token)
    assert best.decode_gpu_seconds_per_token <= cheapest * (1 + 1e-12)
    assert best.decode_gpu_seconds_per_token == pytest.approx(cheapest, rel=0.01)


@pytest.mark.parametrize("N", [1e9, 7e9, 3e10, 7e10])
def test_rounded_point_is_the_cheapest_whole_numbered_one(N):
    r = roofline(tpot_seconds=0.03, max_batch=400.0, replica_gpus=(1, 2, 4, 8))
    best = rounded_point(r, N)
    assert float(best.batch).is_integer() and best.replica_gpus in r.replica_gpus
    assert not violations(r, N, best)
    options = [r.point(N, B, G) for G in r.replica_gpus for B in range(1, 401)]
    cheapest = min(p.decode_gpu_seconds_per_token for p in options if not violations(r, N, p))
    assert best.decode_gpu_seconds_per_token == pytest.approx(cheapest, rel=1e-12)
    relaxed = relaxed_point(r, N)
    assert best.decode_gpu_seconds_per_token >= relaxed.decode_gpu_seconds_per_token * (1 - 1e-12)


# ---------------------------------------------------------------- plans
def _example() -> dict:
    return copy.deepcopy(load_scenario(EXAMPLES / "serving_slo.toml").raw)


def _with(data: dict, **changes) -> dict:
    out = copy.deepcopy(data)
    for key, value in changes.items():
        section, _, name = key.rpartition("__")
        table = out
        for part in section.split("__") if section else []:
            table = table.setdefault(part, {})
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value
    return out


def _plan(data: dict):
    return solve(scenario_from_dict(data))


def test_the_example_is_certified_and_its_serving_object_complete():
    sol = solve(load_scenario(EXAMPLES / "serving_slo.toml"))
    assert sol.certificate.kkt_residual <= 1e-9 and sol.certificate.methods_agree
    s = sol.as_dict()["serving"]
    for key in ("replica_gpus", "batch", "tpot_ms", "ttft_ms", "tokens_per_second_per_gpu",
                "kv_cache_bytes_per_token", "weight_bytes", "bound", "usd_per_million_input_tokens",
                "usd_per_million_output_tokens", "replicas", "implied_decode_mfu", "relaxed"):
        assert s[key] is not None, key
    assert s["bound"] in ("memory", "compute")
    assert s["tpot_ms"] <= 30.0 * (1 + 1e-9) and s["replica_gpus"] in (1, 2, 4, 8)
    assert float(s["batch"]).is_integer() and s["batch"] <= 256
    # the costs are the deployed point's, from the same model
    r, p = sol.serving.rounded, sol.serving
    scenario = load_scenario(EXAMPLES / "serving_slo.toml")
    d = scenario.demand
    # continuous batching: a generated token's GPU-seconds include its share of the prompts
    hours = d.output_tokens * r.decode_gpu_seconds_per_token / 3600
    assert sol.costs.inference_gpu_hours == pytest.approx(hours, rel=1e-12)
    assert p.rounding_cost_usd >= -1e-6
    assert sol.costs.total_cost_pv_usd == pytest.approx(sol.objective_value + p.rounding_cost_usd, rel=1e-9)
    # replicas: the serving GPUs on average over the replica size
    assert s["replicas"] == pytest.approx(sol.costs.serving_gpus / s["replica_gpus"], rel=1e-12)


def test_the_solver_serving_point_costs_what_the_closed_form_says():
    scenario = load_scenario(EXAMPLES / "serving_slo.toml")
    exact = solve_exact(scenario)
    B, G, t = exact.serving
    relaxed = relaxed_point(scenario.serving, exact.params)
    assert G * t / B == pytest.approx(relaxed.decode_gpu_seconds_per_token, rel=1e-7)
    # the closed-form point is optimal for the problem the solver solved: it is feasible
    # and prices the plan at the certified objective
    z = point_z(exact.params, exact.tokens, relaxed)
    assert max(c.value(z) for c in exact.problem.constraints) <= 1e-9
    assert math.exp(exact.problem.objective.evaluate(z)[0]) == pytest.approx(exact.objective_value, rel=1e-9)


def test_a_tighter_tpot_never_gives_a_larger_model_or_a_lower_cost():
    data = _example()
    previous = None
    for tpot in (60.0, 35.0, 30.0, 25.0, 22.0, 20.0):
        sol = _plan(_with(data, serving__tpot_ms=tpot))
        now = (sol.params, sol.objective_value)
        if previous is not None:
            assert now[0] <= previous[0] * (1 + 1e-7), tpot
            assert now[1] >= previous[1] * (1 - 1e-9), tpot
        previous = now


def test_more_bandwidth_never_raises_the_cost():
    data = _with(_example(), hardware__inference__gpu=None, hardware__inference__peak_flops=989.4e12,
                 hardware__inference__memory="80GB", hardware__inference__link_bandwidth="450GB/s")
    costs = [_plan(_with(data, hardware__inference__bandwidth=f"{bw}TB/s")).objective_value
             for bw in (2.0, 3.35, 4.8, 8.0)]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(costs, costs[1:]))
    assert costs[-1] < costs[0]


def test_forced_compute_bound_roofline_reproduces_the_mfu_plan():
    """Infinite bandwidth and memory, no attention (a tiny context and prompt), one GPU (no
    links): every step is compute-bound at η_c, its prompts' share too, which is the MFU
    model at prefill = decode MFU = η_c."""
    roof = _with(_example(), hardware__inference__gpu=None, hardware__inference__peak_flops=989.4e12,
                 hardware__inference__memory="1e30B", hardware__inference__bandwidth="1e30B/s",
                 serving__context_tokens=1e-9, serving__max_context_tokens=1e-9,
                 serving__prompt_tokens=1e-9, serving__tpot_ms=None, serving__ttft_ms=None,
                 serving__max_batch=None, serving__compute_efficiency=0.45, serving__replica_gpus=[1])
    mfu = _with(roof, serving=None, hardware__inference__bandwidth=None, hardware__inference__memory=None,
                hardware__inference__prefill_mfu=0.45, hardware__inference__decode_mfu=0.45)
    a, b = _plan(roof), _plan(mfu)
    assert a.serving.rounded.bound == "compute" and b.serving is None
    assert a.params == pytest.approx(b.params, rel=1e-6)
    assert a.tokens == pytest.approx(b.tokens, rel=1e-6)
    assert a.objective_value == pytest.approx(b.objective_value, rel=1e-6)
    assert a.costs.inference_gpu_hours == pytest.approx(b.costs.inference_gpu_hours, rel=1e-6)


def test_tpot_shadow_price_equals_a_finite_difference():
    data = _with(_example(), serving__tpot_ms=30.0)
    sol = _plan(data)
    price = {b.key: b.shadow_price for b in sol.binding}["serving.tpot_ms"]
    step = 1e-3
    up = _plan(_with(data, serving__tpot_ms=30.0 + step)).objective_value
    down = _plan(_with(data, serving__tpot_ms=30.0 - step)).objective_value
    assert price < 0
    assert price == pytest.approx((up - down) / (2 * step), rel=1e-4)


def _random_serving_scenario(rng) -> dict:
    data = _example()
    gpu = rng.choice(["H100", "A100-80GB", "H200", "B200"])
    data["hardware"]["inference"] = {"gpu": gpu, "dtype": rng.choice(["bf16", "fp8"]) if gpu != "A100-80GB"
                                     else "bf16", "price_per_gpu_hour": float(rng.uniform(1, 4))}
    data["target"] = {"loss": float(rng.uniform(1.9, 2.3))}
    data["inference"]["requests"] = float(10 ** rng.uniform(9, 11.5))
    s = data["serving"]
    s["tpot_ms"] = float(rng.uniform(15, 80))
    s["ttft_ms"] = float(rng.uniform(200, 2000))
    s["context_tokens"] = float(rng.uniform(300, 3000))
    s["max_context_tokens"] = s["context_tokens"] * float(rng.uniform(1, 4))
    s["kv_dtype"] = str(rng.choice(["bf16", "fp8"]))
    s["shape_family"] = {"kv_heads": float(rng.choice([4, 8, 16])), "tied_embeddings": bool(rng.random() < 0.5)}
    s["max_batch"] = float(rng.choice([64, 256, 1024]))
    sizes = [[1, 2, 4, 8], [8], [1, 2], [2, 4, 8, 16]]
    s["replica_gpus"] = sizes[int(rng.integers(len(sizes)))]
    if rng.random() < 0.4:
        # the repetition penalty: the cutting-plane path of cvxpy
        data["data"] = {"unique_tokens": f"{rng.uniform(0.5, 4):.2f}T", "max_epochs": 40,
                        "repetition_penalty": True}
    data["limits"] = {}
    return data


@pytest.mark.parametrize("seed", range(8))
def test_random_serving_scenarios_agree_and_certify(seed):
    rng = np.random.default_rng(1000 + seed)
    data = _random_serving_scenario(rng)
    try:
        scenario = scenario_from_dict(data)
        exact = solve_exact(scenario)
    except InfeasibleError as exc:
        # an infeasible draw must say which setting to move
        assert exc.conflicts, str(exc)
        return
    cert = exact.certificate
    assert cert.status == "optimal"
    assert cert.kkt_residual <= 1e-9
    assert cert.methods_agree, cert
    sol = solve(scenario)
    assert not sol.serving.broken or sol.warnings
    assert sol.serving.rounded.replica_gpus in scenario.serving.replica_gpus


# ---------------------------------------------------------------- infeasible plans and bad input
def test_a_tpot_no_replica_can_meet_is_explained():
    data = _with(_example(), serving__tpot_ms=0.5)
    with pytest.raises(InfeasibleError) as info:
        _plan(data)
    keys = {c.key for c in info.value.conflicts}
    # (no replica size helps: the all-reduces of a step alone take longer than 0.5 ms)
    assert "serving.tpot_ms" in keys and "serving.replica_gpus" not in keys
    tpot = next(c for c in info.value.conflicts if c.key == "serving.tpot_ms")
    # the advice works: the target it names is feasible
    fixed = _plan(_with(data, serving__tpot_ms=tpot.required))
    assert fixed.serving.rounded.step_seconds <= tpot.required / 1e3 * (1 + 1e-6)


def test_a_model_too_large_for_the_largest_replica_is_explained():
    data = _with(_example(), hardware__inference__gpu="A100-40GB", hardware__inference__dtype="bf16",
                 serving__replica_gpus=[1], serving__tpot_ms=None, target__reference=None,
                 target__loss=1.85)
    with pytest.raises(InfeasibleError) as info:
        _plan(data)
    keys = {c.key for c in info.value.conflicts}
    assert {"serving.replica_gpus", "target.loss"} <= keys
    assert "serving.memory_utilisation" not in keys or \
        next(c for c in info.value.conflicts if c.key == "serving.memory_utilisation").required <= 1


@pytest.mark.parametrize("changes,key", [
    ({"hardware__inference__decode_mfu": 0.05}, "hardware.inference.decode_mfu"),
    ({"serving__model": "mfu", "hardware__inference__mfu": 0.3}, "serving.context_tokens"),
    ({"serving__model": "fast"}, "serving.model"),
    ({"serving__replica_gpus": []}, "serving.replica_gpus"),
    ({"serving__replica_gpus": [1, 2.5]}, "serving.replica_gpus[1]"),
    ({"serving__architecture": "llama-9"}, "serving.architecture"),
    ({"serving__architecture": {"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 6, "d_ff": 11008,
                                "vocab": 32000}}, "serving.architecture.kv_heads"),
    ({"serving__architecture": {"preset": "llama-3-8b", "layers": 30}}, "serving.architecture.layers"),
    ({"serving__weight_dtype": "fp5"}, "serving.weight_dtype"),
    ({"serving__kv_reread": 1.5}, "serving.kv_reread"),
    ({"serving__calibration": "no_such_file.toml"}, "serving.calibration"),
    ({"hardware__inference__gpu": None, "hardware__inference__peak_flops": 1e15,
      "hardware__inference__memory": "80GB", "hardware__inference__bandwidth": "3TB/s"},
     "hardware.inference.link_bandwidth"),
    ({"serving__max_context_tokens": 100}, "serving.max_context_tokens"),
    ({"serving__kv_dtype": "int3"}, "serving.kv_dtype"),
    ({"serving__tpot": 30}, "serving.tpot"),
    ({"serving__max_batch": 0.5}, "serving.max_batch"),
    ({"limits__serving_gpus": 8}, "limits.serving_gpus"),
])
def test_bad_serving_input_names_the_key(changes, key):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(_with(_example(), **changes), source="serving.toml")
    assert info.value.key == key
    assert "serving.toml" in str(info.value)


def test_context_defaults_from_requests_and_is_required_without_them():
    data = _with(_example(), serving__context_tokens=None, serving__max_context_tokens=None)
    s = scenario_from_dict(data)
    assert s.serving.context_tokens == 800 + 200 / 2 and s.serving.max_context_tokens == 1000
    assert any("context_tokens" in a for a in s.assumptions)
    tokens_only = _with(data, inference__requests=None, inference__input_tokens=None,
                        inference__output_tokens=None, inference__tokens="2e13")
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(tokens_only)
    assert info.value.key == "serving.context_tokens"


def test_bandwidth_key_with_the_mfu_model_is_refused():
    data = load_scenario(EXAMPLES / "chat_assistant.toml").raw
    data = _with(data, hardware__inference__bandwidth="3TB/s")
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    assert info.value.key == "hardware.inference.bandwidth"


def test_cli_json_and_report_carry_the_serving_plan():
    runner = CliRunner()
    out = runner.invoke(cli, ["solve", str(EXAMPLES / "serving_slo.toml"), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["serving"]["model"] == "roofline" and doc["serving"]["relaxed"]["batch"] > 0
    text = runner.invoke(cli, ["solve", str(EXAMPLES / "serving_slo.toml")]).output
    assert "SERVING" in text and "TPOT" in text and "per ms" in text


def test_mfu_scenarios_have_empty_serving_fields():
    sol = solve(load_scenario(EXAMPLES / "chat_assistant.toml"))
    assert sol.serving is None and sol.as_dict()["serving"] is None
    assert sol.as_row()["serving_batch"] is None


def test_a_robust_plan_under_the_roofline_model(tmp_path):
    from test_entry_points import robust_raw
    raw = robust_raw(tmp_path)
    raw.update(objective={"minimize": "cost"},
               inference={"requests": 1e10, "input_tokens": 800, "output_tokens": 200},
               hardware={"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5},
                         "inference": {"gpu": "H100", "price_per_gpu_hour": 2.5}},
               serving={"model": "roofline", "tpot_ms": 20})
    sol = solve(scenario_from_dict(raw, source=str(tmp_path / "r.toml")))
    assert sol.uncertainty is not None and sol.uncertainty.achieved >= 0.8
    assert sol.serving is not None and sol.serving.rounded.step_seconds <= 0.02 * (1 + 1e-9)
    assert sol.certificate.kkt_residual <= 1e-9


# ---------------------------------------------------------------- the [serving] keys
def test_ttft_shadow_price_equals_a_finite_difference():
    """A 35 ms TTFT target binds on 8 GPUs (the prompt's compute plus its all-reduces)."""
    data = _with(_example(), serving__ttft_ms=35.0)
    sol = _plan(data)
    price = {b.key: b.shadow_price for b in sol.binding}["serving.ttft_ms"]
    up = _plan(_with(data, serving__ttft_ms=35.0 + 1e-3)).objective_value
    down = _plan(_with(data, serving__ttft_ms=35.0 - 1e-3)).objective_value
    assert price < 0 and price == pytest.approx((up - down) / 2e-3, rel=1e-4)
    assert sol.serving.rounded.ttft_seconds <= 0.035 * (1 + 1e-9)
    assert "serving.replica_gpus" not in {b.key for b in sol.binding}   # the pinned size is no limit


def test_an_exact_architecture_pins_n_and_reads_its_shape():
    table = {"layers": 80, "d_model": 8192, "heads": 64, "kv_heads": 8, "d_ff": 28672, "vocab": 32000}
    data = _with(_example(), serving__architecture=table, target__reference=None, target__loss=1.95)
    s = scenario_from_dict(data)
    assert s.serving.architecture.params == 68_976_648_192
    assert s.serving.kv_bytes_per_token(68_976_648_192) == 327_680
    sol = solve(s)
    assert sol.params == pytest.approx(68_976_648_192, rel=1e-12) and sol.certificate.kkt_residual <= 1e-9
    assert sol.as_dict()["serving"]["architecture"]["params"] == 68_976_648_192
    preset = scenario_from_dict(_with(data, serving__architecture={"preset": "llama-2-70b"}))
    assert preset.serving.architecture.params == 68_976_648_192


def test_the_shape_family_dtypes_and_links_are_read():
    data = _with(_example(), serving__shape_family={"aspect_ratio": 100, "kv_heads": 4, "tied_embeddings": False},
                 serving__weight_dtype="int4", serving__kv_dtype="fp8", hardware__inference__gpu=None,
                 hardware__inference__peak_flops=989.4e12, hardware__inference__memory="80GB",
                 hardware__inference__bandwidth="3.35TB/s", hardware__inference__link_bandwidth="200GB/s",
                 hardware__inference__link_latency_us=12)
    r = scenario_from_dict(data).serving
    assert (r.family.aspect_ratio, r.family.kv_heads, r.family.tied_embeddings) == (100, 4, False)
    assert (r.weight_bytes, r.kv_bytes, r.peak_flops) == (0.5, 1.0, 989.4e12)
    assert (r.link_bandwidth, r.link_latency) == (200e9, 12e-6)
    # prompts per generated token: 800 / 200 a request
    assert r.prefill_per_output == 4.0


def test_a_serving_precision_choice_sets_the_rooflines_weight_bytes_and_arithmetic():
    """[quantisation] dtypes under the roofline model: each variant reads its weights at that
    many bits and computes at the GPU's peak in that dtype, or, where the GPU has none (int4:
    weight-only, as AWQ and GPTQ serve), in the scenario's own arithmetic (H100 datasheet,
    model/hardware.py: bf16 989.4, fp8 1,978.9 TFLOP/s dense); the KV cache keeps its dtype."""
    from lifecycle_opt.plan.choices import choice_variants
    s = scenario_from_dict(_with(_example(), quantisation__dtypes=["bf16", "fp8", "int4"]))
    got = {v.settings["quantisation.dtypes"]: v.scenario.serving for v in choice_variants(s)}
    assert {d: (r.weight_bytes, r.peak_flops, r.kv_bytes) for d, r in got.items()} == {
        "bf16": (2.0, 989.4e12, 2.0), "fp8": (1.0, 1978.9e12, 2.0), "int4": (0.5, 989.4e12, 2.0)}


def test_every_serving_key_the_reader_reads_is_registered():
    """The efficiency keys a calibration file and [serving] share, the architecture's and the
    shape family's: all in the registry of scenario keys (scenario/registry.py), with the
    fitted defaults as the reference shows them (model/serving.py DEFAULT_EFFICIENCIES)."""
    from lifecycle_opt.model.serving_point import DEFAULT_EFFICIENCIES
    from lifecycle_opt.scenario.registry import entry, keys_of
    from lifecycle_opt.scenario.serving import EFFICIENCY_KEYS
    assert set(EFFICIENCY_KEYS) <= set(keys_of("serving"))
    assert {"architecture", "shape_family", "weight_dtype", "kv_block_tokens", "calibration"} <= set(keys_of("serving"))
    assert entry("serving.compute_efficiency").default.startswith(f"{DEFAULT_EFFICIENCIES.compute:g} ")
    assert entry("serving.collective_overhead_us").default.startswith(
        f"{DEFAULT_EFFICIENCIES.collective_overhead * 1e6:g} ")
    assert {"link_bandwidth", "link_latency_us"} <= set(keys_of("hardware.inference"))


def test_a_calibration_file_sets_the_efficiencies_and_keys_override_it(tmp_path):
    (tmp_path / "cal.toml").write_text("[calibration]\ncompute_efficiency = 0.5\nbandwidth_efficiency = 0.7\n"
                                       "collective_overhead_us = 20\n[calibration.fit]\nrows = 3\n")
    data = _with(_example(), serving__calibration="cal.toml")
    r = scenario_from_dict(data, source=str(tmp_path / "s.toml")).serving
    assert (r.efficiencies.compute, r.efficiencies.bandwidth) == (0.5, 0.7)
    assert r.efficiencies.collective_overhead == pytest.approx(20e-6, rel=1e-15)
    assert "cal.toml" in r.efficiency_source
    r2 = scenario_from_dict(_with(data, serving__bandwidth_efficiency=0.9), source=str(tmp_path / "s.toml")).serving
    assert r2.efficiencies.bandwidth == 0.9 and "bandwidth_efficiency" in r2.efficiency_source
    (tmp_path / "bad.toml").write_text("[calibration]\ncompute_efficency = 0.5\n")
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(_with(data, serving__calibration="bad.toml"), source=str(tmp_path / "s.toml"))
    assert "compute_efficency" in str(info.value) and "bad.toml" in str(info.value)

"""The typed constraints (lifecycle_opt/problem/constraints.py): each limit is reported in
its setting's own unit, and its shadow price — the change of the optimal objective per
unit of the setting — equals a finite difference of two certified solves.

The finite differences are the independent truth: two more solves of the scenario with the
setting moved by ±h, nothing of the multiplier arithmetic shared. Scenarios are drawn at
random and each limit is set so that it binds (a fraction of what the unconstrained plan
uses), so the active set is stable under the small move.
"""
import copy
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt import evaluate, solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import LifecycleError
from lifecycle_opt.model.posynomial import monomial
from lifecycle_opt.problem.constraints import Cap, EfficiencyCap, Floor, ParamCap, RatioFloor, SpendCap
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict

from conftest import EXAMPLES

#: relative agreement of a shadow price and its finite difference (issue: 1e-6)
AGREE = 1e-6
#: the relative move of a setting in a central difference
STEP = 1e-5


def _base(rng, objective: str = "cost") -> dict:
    """A priced scenario on H100s with a random law, target and demand, no limits."""
    law = str(rng.choice(["hoffmann2022", "besiroglu2024", "muennighoff2023", "sardana2024"]))
    floor = {"hoffmann2022": 1.69, "besiroglu2024": 1.8172, "muennighoff2023": 1.869144,
             "sardana2024": 1.69}[law]
    raw = {"name": "typed", "law": {"preset": law}, "objective": {"minimize": objective},
           "inference": {"tokens": float(10 ** rng.uniform(11, 13.5)), "output_fraction": 0.25},
           "hardware": {"training": {"gpu": "H100", "mfu": float(rng.uniform(0.3, 0.5)),
                                     "price_per_gpu_hour": float(rng.uniform(1.5, 3.5)),
                                     "gpus": int(rng.integers(512, 8192))},
                        "inference": {"gpu": "H100", "dtype": "bf16", "prefill_mfu": 0.5,
                                      "decode_mfu": float(rng.uniform(0.05, 0.3)),
                                      "price_per_gpu_hour": float(rng.uniform(1.5, 3.5))}}}
    if objective != "loss":
        raw["target"] = {"loss": floor + float(rng.uniform(0.15, 0.5))}
    return raw


def _set(raw: dict, key: str, value) -> dict:
    out = copy.deepcopy(raw)
    section, name = key.split(".")
    out.setdefault(section, {})[name] = value
    return out


def _binding(raw: dict, rng, kind: str) -> tuple[dict, str]:
    """``raw`` with the limit ``kind`` set so that it binds, and the key of its setting."""
    u = float(rng.uniform(0.4, 0.8))
    free = solve(scenario_from_dict(raw))
    N, D = free.params, free.tokens
    if kind == "max_params":
        return _set(raw, "limits.max_params", u * N), "limits.max_params"
    if kind == "serving_memory":
        return _set(raw, "limits.serving_memory", 2.0 * u * N), "limits.serving_memory"
    if kind == "serving_gpus":
        # one GPU whose 80 GB hold u·N parameters: the bytes per parameter that make it bind
        out = _set(raw, "limits.serving_gpus", 1)
        return _set(out, "limits.bytes_per_param", 80e9 / (u * N)), "limits.serving_gpus"
    if kind == "max_epochs":
        out = _set(raw, "data.unique_tokens", D / 3.0)
        out = _set(out, "data.repetition_penalty", bool(rng.random() < 0.5))
        return _set(out, "data.max_epochs", 3.0 * u), "data.max_epochs"
    if kind == "min_tokens_per_param":
        return _set(raw, "limits.min_tokens_per_param", D / N / u), "limits.min_tokens_per_param"
    if kind == "max_tokens_per_param":
        return _set(raw, "limits.max_tokens_per_param", D / N * u), "limits.max_tokens_per_param"
    # a cap on training compute binds between the compute-optimal plan of the same loss (the
    # least training any plan of that loss needs) and the free plan
    if kind == "max_training_days":
        least, most = free.baseline.costs.training_days, free.costs.training_days
        return _set(raw, "limits.max_training_days", least + u * (most - least)), "limits.max_training_days"
    if kind == "max_training_cost":
        least, most = free.baseline.costs.training_cost_usd, free.costs.training_cost_usd
        return _set(raw, "limits.max_training_cost", least + u * (most - least)), "limits.max_training_cost"
    raise AssertionError(kind)


def _value(scenario) -> float:
    return solve(scenario).objective_value


def _finite_difference(raw: dict, key: str, setting: float) -> float:
    """dφ/ds from certified solves with the setting moved: central differences
    (φ(s(1+h)) − φ(s(1−h)))/(2hs) at h and h/2, Richardson-extrapolated (error O(h⁴): a cap
    close to the least a plan of the target can use bends the objective sharply)."""
    def at(value):
        scenario = scenario_from_dict(raw)
        if key == "limits.serving_gpus":      # a whole number in a file; a real one here
            return _value(replace(scenario, limits=replace(scenario.limits, serving_gpus=value)))
        return _value(scenario_from_dict(_set(raw, key, value)))

    def central(h):
        return (at(setting * (1 + h)) - at(setting * (1 - h))) / (2 * h * setting)
    return (4 * central(STEP / 2) - central(STEP)) / 3


LIMITS = ("max_params", "serving_memory", "serving_gpus", "max_epochs", "min_tokens_per_param",
          "max_tokens_per_param", "max_training_days", "max_training_cost")


@pytest.mark.parametrize("kind", LIMITS)
@pytest.mark.parametrize("seed", [1, 2])
def test_every_limit_reports_its_setting_and_a_shadow_price_equal_to_a_finite_difference(kind, seed):
    rng = np.random.default_rng(seed * 100 + LIMITS.index(kind))
    raw, key = _binding(_base(rng), rng, kind)
    sol = solve(scenario_from_dict(raw))
    binding = {b.key: b for b in sol.binding}
    assert key in binding, (kind, [b.key for b in sol.binding])
    b = binding[key]
    section, name = key.split(".")
    assert b.setting == pytest.approx(float(raw[section][name]), rel=1e-15)      # the scenario's own value
    assert b.unit == {"max_params": "parameters", "serving_memory": "bytes", "serving_gpus": "GPUs",
                      "max_epochs": "epochs", "min_tokens_per_param": "tokens/parameter",
                      "max_tokens_per_param": "tokens/parameter", "max_training_days": "days",
                      "max_training_cost": "$"}[kind]
    assert b.shadow_price == pytest.approx(_finite_difference(raw, key, b.setting), rel=AGREE)


BUDGETS = (("budget.training_flops", "FLOP"), ("budget.training_cost", "$"), ("budget.total_cost", "$"),
           ("limits.max_total_cost", "$"))


@pytest.mark.parametrize("key, unit", BUDGETS)
def test_a_budget_of_a_loss_objective_is_priced_in_nats_per_unit_of_the_budget(key, unit):
    rng = np.random.default_rng(7)
    raw = _base(rng, objective="loss")
    value = {"FLOP": 3e23, "$": 4e6}[unit] * float(rng.uniform(0.5, 2.0))
    raw = _set(raw, key, value)
    if key == "limits.max_total_cost":
        raw = _set(raw, "limits.max_training_days", 1e4)      # a loss objective needs a cap on training
    sol = solve(scenario_from_dict(raw))
    b = {b.key: b for b in sol.binding}[key]
    assert b.setting == value and b.unit == unit
    assert b.shadow_price < 0                             # more budget, lower loss
    assert b.shadow_price == pytest.approx(_finite_difference(raw, key, value), rel=AGREE)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_loss_target_is_priced_per_nat(seed):
    raw = _base(np.random.default_rng(seed))
    target = raw["target"]["loss"]
    sol = solve(scenario_from_dict(raw))
    b = {b.key: b for b in sol.binding}["target.loss"]
    assert (b.setting, b.unit) == (target, "nats")
    assert b.shadow_price == pytest.approx(_finite_difference(raw, "target.loss", target), rel=AGREE)


@pytest.mark.parametrize("key, value, changes", [
    ("serving.tpot_ms", 30.0, {}), ("serving.max_batch", 64.0, {"serving.tpot_ms": 60.0}),
    # the decode step's memory time at η_m, beside parts η_m does not change (prompts, links)
    ("serving.bandwidth_efficiency", 0.779, {"serving.bandwidth_efficiency": 0.779})])
def test_serving_constraints_are_priced_in_their_setting(key, value, changes):
    raw = copy.deepcopy(load_scenario(EXAMPLES / "serving_slo.toml").raw)
    for k, v in {key: value, **changes}.items():
        raw = _set(raw, k, v)
    sol = solve(scenario_from_dict(raw))
    b = {b.key: b for b in sol.binding}[key]
    assert b.setting == value
    assert b.shadow_price == pytest.approx(_finite_difference(raw, key, value), rel=1e-5)


# ---------------------------------------------------------------- serving memory, every output

def _memory_scenario(tmp_path):
    raw = {"name": "memory capped", "law": {"preset": "hoffmann2022"}, "target": {"loss": 1.9},
           "objective": {"minimize": "cost"}, "inference": {"tokens": "2T"},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5, "gpus": 2048},
                        "inference": {"gpu": "H100", "dtype": "bf16", "mfu": 0.2, "price_per_gpu_hour": 2.5}},
           "limits": {"serving_memory": "40GB"}}
    path = tmp_path / "memory.toml"
    path.write_text('name = "memory capped"\n[law]\npreset = "hoffmann2022"\n[target]\nloss = 1.9\n'
                    '[objective]\nminimize = "cost"\n[inference]\ntokens = "2T"\n'
                    '[hardware.training]\ngpu = "H100"\nmfu = 0.4\nprice_per_gpu_hour = 2.5\ngpus = 2048\n'
                    '[hardware.inference]\ngpu = "H100"\ndtype = "bf16"\nmfu = 0.2\nprice_per_gpu_hour = 2.5\n'
                    '[limits]\nserving_memory = "40GB"\n')
    return raw, path


def test_a_serving_memory_limit_is_reported_in_bytes_everywhere(tmp_path):
    raw, path = _memory_scenario(tmp_path)
    sol = solve(scenario_from_dict(raw))
    (b,) = [b for b in sol.binding if b.key == "limits.serving_memory"]
    # 40 GB of bf16 weights hold 20B parameters: the plan sits on the cap
    assert sol.params == pytest.approx(20e9, rel=1e-12)
    detail = {d["key"]: d for d in sol.as_dict()["binding_detail"]}["limits.serving_memory"]
    assert (detail["value"], detail["unit"]) == (40e9, "bytes")
    assert detail["shadow_price"] == pytest.approx(_finite_difference(raw, "limits.serving_memory", 40e9),
                                                   rel=AGREE)
    # per byte, half the price per parameter of the same cap given as max_params = 20B
    as_params = solve(scenario_from_dict(_set({k: v for k, v in raw.items() if k != "limits"},
                                              "limits.max_params", 20e9)))
    per_param = {b.key: b for b in as_params.binding}["limits.max_params"].shadow_price
    assert b.shadow_price == pytest.approx(per_param / 2.0, rel=1e-9)
    # the report reads it per GB
    out = CliRunner().invoke(cli, ["solve", str(path)])
    assert out.exit_code == 0, out.output
    assert "limits.serving_memory" in out.output and " per GB" in out.output


def test_evaluate_says_what_a_plan_breaks_in_the_settings_unit(tmp_path):
    raw, path = _memory_scenario(tmp_path)
    e = evaluate(scenario_from_dict(raw), params="70B", tokens="1.4T")
    (v,) = [v for v in e.violated if v.key == "limits.serving_memory"]
    # a 70B model at 2 bytes per parameter needs 140 GB where the limit is 40 GB
    assert (v.limit, v.unit) == (40e9, "bytes")
    assert v.needed == pytest.approx(140e9, rel=1e-12)
    out = CliRunner().invoke(cli, ["evaluate", str(path), "--params", "70B", "--tokens", "1.4T"])
    assert "40 GB" in out.output and "140 GB" in out.output, out.output
    data = json.loads(CliRunner().invoke(cli, ["evaluate", str(path), "--params", "70B", "--tokens", "1.4T",
                                               "--format", "json"]).output)
    (j,) = [v for v in data["violated"] if v["key"] == "limits.serving_memory"]
    assert (j["limit"], j["unit"]) == (40e9, "bytes") and j["needed"] == pytest.approx(140e9, rel=1e-12)


def test_serving_gpus_are_reported_in_gpus(tmp_path):
    raw, _ = _memory_scenario(tmp_path)
    raw = _set({k: v for k, v in raw.items() if k != "limits"}, "limits.serving_gpus", 1)
    raw = _set(raw, "limits.bytes_per_param", 4.0)          # fp32 weights: 20B on one 80 GB GPU
    sol = solve(scenario_from_dict(raw))
    b = {b.key: b for b in sol.binding}["limits.serving_gpus"]
    assert (b.setting, b.unit) == (1.0, "GPUs") and sol.params == pytest.approx(20e9, rel=1e-12)
    assert b.shadow_price == pytest.approx(_finite_difference(raw, "limits.serving_gpus", 1.0), rel=AGREE)
    e = evaluate(scenario_from_dict(raw), params="70B", tokens="1.4T")
    (v,) = [v for v in e.violated if v.key == "limits.serving_gpus"]
    assert (v.limit, v.unit) == (1.0, "GPUs") and v.needed == pytest.approx(3.5, rel=1e-12)


def test_the_plot_legend_names_the_memory_limit_in_gb(tmp_path):
    pytest.importorskip("matplotlib")
    from lifecycle_opt.outputs.plots import plan_figure
    raw, _ = _memory_scenario(tmp_path)
    scenario = scenario_from_dict(raw)
    fig = plan_figure([(scenario, solve(scenario))])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "limits.serving_memory = 40 GB — binds" in labels, labels


# ---------------------------------------------------------------- the constraint types themselves

def test_a_cap_needs_what_its_quantity_is_at_the_plan():
    cap = ParamCap("serving_memory", "", "limits.serving_memory", 40e9, "bytes", quantity=monomial(2.0, N=1))
    z = np.log([70e9, 1.4e12])
    assert cap.needed(z) == pytest.approx(140e9, rel=1e-14)
    assert cap.value(z) == pytest.approx(math.log(140 / 40), rel=1e-15)
    assert cap.batch_form() == ("x_le", pytest.approx(math.log(20e9), rel=1e-15))
    # h = log q − log s: ∂h/∂s = −1/s
    assert cap.d_h_d_setting(z) == pytest.approx(-1 / 40e9, rel=1e-15)


def test_a_floor_is_relaxed_downwards_and_needs_a_monomial():
    floor = RatioFloor("min_tokens_per_param", "", "limits.min_tokens_per_param", 20.0, "tokens/parameter",
                       quantity=monomial(1.0, N=-1, D=1))
    z = np.log([70e9, 700e9])                        # 10 tokens per parameter
    assert floor.needed(z) == pytest.approx(10.0, rel=1e-15) and floor.value(z) > 0
    assert floor.d_h_d_setting(z) == pytest.approx(1 / 20.0, rel=1e-15)
    assert floor.batch_form() == ("ratio_ge", pytest.approx(math.log(20.0), rel=1e-15))
    with pytest.raises(ValueError, match="monomial"):
        Floor("f", "", "k", 1.0, "GPUs", quantity=monomial(1.0, N=1) + monomial(1.0, D=1))


def test_a_dollar_cap_under_the_roofline_model_has_no_batch_form():
    scenario = load_scenario(EXAMPLES / "serving_slo.toml")
    cap = SpendCap("max_total_cost", "", "limits.max_total_cost", 1e8, "$",
                   quantity=scenario.costs.cost("usd_nominal"))
    assert cap.batch_form() is None and not cap.in_plane
    training = SpendCap("max_training_cost", "", "limits.max_training_cost", 1e8, "$",
                        quantity=scenario.costs.cost("usd_nominal", "training"))
    assert training.batch_form()[0] == "nd_le" and training.in_plane


def test_every_constraint_of_every_example_knows_its_unit():
    for path in sorted(EXAMPLES.glob("*.toml")):
        try:
            problem = build_problem(load_scenario(path))
        except LifecycleError:
            continue                                   # compare_demand holds several scenarios
        for c in problem.constraints:
            assert isinstance(c, (Cap, Floor, EfficiencyCap)) or c.is_loss, c
            assert c.unit, (path.name, c.name)


def test_the_workbook_prices_the_memory_limit_per_byte(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from lifecycle_opt.outputs.workbook import write_xlsx
    from lifecycle_opt.outputs.plan_book import plan_book
    raw, _ = _memory_scenario(tmp_path)
    scenario = scenario_from_dict(raw)
    path = write_xlsx(plan_book(scenario, solve(scenario)), tmp_path / "memory.xlsx")
    rows = [[c.value for c in row] for ws in openpyxl.load_workbook(path).worksheets for row in ws.iter_rows()]
    (row,) = [r for r in rows if r and r[0] == "limits.serving_memory"]
    price, unit = row[1], row[2]
    assert unit == "usd per bytes"
    assert price == pytest.approx(_finite_difference(raw, "limits.serving_memory", 40e9), rel=AGREE)

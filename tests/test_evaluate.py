"""`lifeopt evaluate`: a given plan's loss, costs, broken limits and regret, against the
optimiser's own plan (zero regret, the same costs) and published figures."""
import copy
import json
import math

import pytest
from click.testing import CliRunner

from lifecycle_opt import evaluate, load_scenario, solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.plan.evaluation import plan_size
from lifecycle_opt.plan.evaluation_sweep import evaluate_sweep
from lifecycle_opt.scenario.reader import scenario_from_dict

from conftest import EXAMPLES

COST_FIELDS = ("training_flops", "inference_flops", "total_flops", "training_gpu_hours", "inference_gpu_hours",
               "training_days", "training_cost_usd", "inference_cost_usd", "total_cost_usd",
               "training_cost_pv_usd", "inference_cost_pv_usd", "total_cost_pv_usd", "serving_gpus")


@pytest.mark.parametrize("name", ["chat_assistant", "finance_plan", "small_corpus", "research_model",
                                  "owned_cluster", "serving_slo"])
def test_evaluating_the_optimum_gives_its_costs_and_zero_regret(name):
    scenario = load_scenario(EXAMPLES / f"{name}.toml")
    sol = solve(scenario)
    e = evaluate(scenario, params=sol.params, tokens=sol.tokens)
    assert e.loss == pytest.approx(sol.loss, rel=1e-12)
    for f in COST_FIELDS:
        a, b = getattr(e.costs, f), getattr(sol.costs, f)
        assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12), f
    assert not e.violated
    if scenario.objective != "loss":
        assert abs(e.regret_fraction) <= 1e-9
        assert e.optimum.params == pytest.approx(sol.params, rel=1e-7)
    row = e.as_row()
    for k, v in sol.as_row().items():
        if isinstance(v, float) and k not in ("objective_value", "kkt_residual"):
            assert row[k] == pytest.approx(v, rel=1e-12, abs=1e-300), k


def test_chinchilla_70b_on_1_4t_under_the_printed_law():
    e = evaluate(load_scenario(EXAMPLES / "chat_assistant.toml"), params="70B", tokens="1.4T")
    assert e.loss == pytest.approx(1.93665, abs=5e-6)     # 1.9367 to four places, eq. 10 as printed
    assert e.tokens_per_param == pytest.approx(20.0)
    assert e.costs.training_flops == pytest.approx(6 * 70e9 * 1.4e12, rel=1e-12)
    # the lifecycle-optimal plan of the same loss is cheaper, and the regret says by how much
    # the regret, with both plans priced by hand: training at 40 % of 989.4 TFLOP/s (bf16),
    # serving 8e13 prompt tokens at 50 % and 2e13 generated at 5 % of 1,978.9 (fp8), $2.50 a GPU-hour
    def dollars(N, D):
        train = 6 * N * D / (989.4e12 * 0.4)
        serve = 2 * N * (8e13 / 0.5 + 2e13 / 0.05) / 1978.9e12
        return (train + serve) / 3600 * 2.5
    by_hand = dollars(70e9, 1.4e12) - dollars(e.optimum.params, e.optimum.tokens)
    assert e.regret > 0 and e.regret == pytest.approx(by_hand, rel=1e-9)
    assert e.optimum.loss == pytest.approx(e.loss, rel=1e-9)


def test_two_of_params_tokens_flops_give_the_third():
    assert plan_size(params="8B", flops=6 * 8e9 * 15e12) == pytest.approx((8e9, 15e12))
    assert plan_size(tokens="15T", flops="7.2e23") == pytest.approx((7.2e23 / 6 / 15e12, 15e12))
    for bad in ({"params": "8B"}, {"params": "8B", "tokens": "1T", "flops": 1e22}, {}):
        with pytest.raises(ScenarioError):
            plan_size(**bad)
    with pytest.raises(ScenarioError) as info:
        plan_size(params="eight", tokens="1T")
    assert info.value.key == "params"


def test_broken_limits_are_named_with_what_the_plan_needs():
    scenario = load_scenario(EXAMPLES / "chat_assistant.toml")          # max 70B, 4 epochs over 15T, 90 days
    e = evaluate(scenario, params="140B", tokens="70T")
    broken = {v.name: v for v in e.violated}
    assert {"max_params", "max_epochs"} <= set(broken)
    assert broken["max_params"].needed == pytest.approx(140e9, rel=1e-12)
    assert broken["max_epochs"].needed == pytest.approx(70e12 / 15e12, rel=1e-12)
    short = evaluate(scenario, params="1B", tokens="20B")
    assert [v.name for v in short.violated] == ["loss_target"]
    assert short.violated[0].needed == pytest.approx(short.loss)


def test_a_latency_target_the_plan_misses_is_named():
    # 70B on 8 H100s: one read of its 140 GB of bf16 weights takes 140e9 / (8 · 3.35e12 · 0.78)
    # = 6.7 ms, and its 2 all-reduces per layer (70 layers) at 8 µs / 0.47 + 61 µs each
    # (the fitted defaults) 11 ms more; fewer GPUs read longer: a 15 ms TPOT is missed
    raw = copy.deepcopy(load_scenario(EXAMPLES / "serving_slo.toml").raw)
    raw["serving"]["tpot_ms"] = 15
    e = evaluate(scenario_from_dict(raw), params="70B", tokens="15T")
    (v,) = e.violated
    assert v.key == "serving.tpot_ms" and v.needed > v.limit == 15.0
    assert e.serving is not None and e.serving.rounded.step_seconds * 1e3 == pytest.approx(v.needed, rel=1e-9)


def test_evaluate_sweep_matches_single_evaluations():
    path = EXAMPLES / "chat_assistant.toml"
    rows = evaluate_sweep(load_scenario(path), {"inference.requests": [1e9, 1e11]}, params="8B", tokens="15T")
    assert [r["status"] for r in rows] == ["evaluated", "evaluated"]
    one = evaluate(load_scenario(path), params="8B", tokens="15T")         # the file's 1e11 requests
    assert rows[1]["regret"] == pytest.approx(one.regret, rel=1e-9)
    assert rows[0]["regret_fraction"] != pytest.approx(rows[1]["regret_fraction"])


#: grids long enough for the sweep's forms (a side of more than 32 points); the plans
#: break limits (max_epochs, the loss target, max_params) or not; one scenario under the
#: repetition penalty, one with present values, one with a loss objective, one with a
#: side of names (GPUs) built scenario by scenario
BATCH_CASES = [
    ("chat_assistant.toml", {"inference.requests": "1e9..1e12:log:40", "target.loss": [1.95, 2.0]},
     dict(params="7B", flops="8.4e22")),
    ("small_corpus.toml", {"inference.tokens": "1e10..1e14:log:40"}, dict(params="7B", tokens="1T")),
    ("finance_plan.toml", {"finance.discount_rate": "0..0.3:lin:40"}, dict(params="8B", tokens="15T")),
    ("research_model.toml", {"budget.training_flops": "1e22..1e24:log:40"}, dict(params="8B", tokens="200B")),
    ("chat_assistant.toml", {"hardware.inference.price_per_gpu_hour": "1..4:lin:40",
                             "hardware.training.gpu": ["H100", "A100-80GB"]}, dict(params="70B", tokens="1.4T")),
    # four points whose optimum of equal loss is infeasible: evaluated one by one (the
    # batch solver cannot explain an infeasibility), beside the rest
    ("chat_assistant.toml", {"limits.max_params": "5e9..5e10:log:40"}, dict(params="20B", tokens="4T")),
]


@pytest.mark.parametrize("name, axes, plan", BATCH_CASES)
def test_evaluate_vary_goes_through_the_batch_path_and_its_rows_are_evaluate(name, axes, plan, monkeypatch):
    """`evaluate --vary` evaluated each point on its own (30 ms a point: 1e5 points did not
    finish in 300 s); now the sweep's batch path. Its rows are those of `evaluate` at each
    point, every number to 1e-9 (the regret, a difference of two lifecycle costs, to 1e-9
    of the plan's cost: the batch solver's optimum agrees with the certified one to 1e-9)."""
    from lifecycle_opt.plan import evaluation_sweep
    from lifecycle_opt.plan.sweep_rows import point_scenarios
    one_by_one = []
    real = evaluation_sweep.evaluate
    monkeypatch.setattr(evaluation_sweep, "evaluate", lambda *a, **k: one_by_one.append(a) or real(*a, **k))
    rows = evaluate_sweep(EXAMPLES / name, axes, **plan)
    points = list(point_scenarios(EXAMPLES / name, axes))
    assert len(rows) == len(points) and len(one_by_one) == (4 if "limits.max_params" in axes else 0)
    rng = __import__("random").Random(7)
    for k in sorted({0, len(points) - 1, *rng.sample(range(len(points)), 3)}):
        point, scenario = points[k]
        e = real(scenario, **plan)
        expected = {**point, "status": "evaluated", "message": e.optimum_note,
                    **{f: v for f, v in e.as_row().items() if f != "status"}}
        got = rows[k]
        assert list(got) == list(expected)
        cost = expected["total_cost_pv_usd" if expected["regret_unit"] == "usd" else "total_flops"]
        for f, want in expected.items():
            if f in ("regret", "regret_fraction") and want is not None:
                scale = cost if f == "regret" else 1.0 + abs(want)
                assert abs(got[f] - want) <= 1e-9 * scale, (k, f, got[f], want)
            elif isinstance(want, float):
                assert got[f] == pytest.approx(want, rel=1e-9, abs=0), (k, f)
            else:
                assert got[f] == want and type(got[f]) is type(want), (k, f, got[f], want)


def test_a_point_whose_costs_overflow_is_an_invalid_row_not_the_commands_error():
    # evaluate raises for such a plan (its one question is then wrong); in a grid it was the
    # whole command's error, the other points lost
    rows = evaluate_sweep(EXAMPLES / "chat_assistant.toml", {"inference.tokens": [1e12, 1e308]}, params="7B",
                          tokens="1T")
    assert [r["status"] for r in rows] == ["evaluated", "invalid"]
    assert "costs overflow a double" in rows[1]["message"] and "[inference.tokens=1e+308]" in rows[1]["message"]


def test_an_evaluated_grid_beyond_the_memory_bound_is_refused():
    out = CliRunner().invoke(cli, ["evaluate", str(EXAMPLES / "chat_assistant.toml"), "--params", "7B",
                                   "--tokens", "1T", "--vary", "inference.requests=1e9..1e12:log:1000000"])
    assert out.exit_code == 2 and out.output == (
        "error: --vary: expected a grid of at most 100,000 points to evaluate (its rows are held in memory); "
        "evaluate parts of it in turn, found 1,000,000 points\n")


def test_cli_json_csv_and_errors(tmp_path):
    runner = CliRunner()
    args = ["evaluate", str(EXAMPLES / "chat_assistant.toml"), "--params", "8B", "--tokens", "15T"]
    out = runner.invoke(cli, args + ["--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    for key in ("params", "tokens", "loss", "training_flops", "total_flops", "total_cost_usd", "regret",
                "regret_fraction", "violated", "optimum"):
        assert key in doc, key
    assert doc["optimum"]["params"] > 0 and math.isfinite(doc["regret"])
    csv_out = runner.invoke(cli, args + ["--format", "csv", "-o", str(tmp_path / "e.csv")])
    assert csv_out.exit_code == 0 and "regret_fraction" in (tmp_path / "e.csv").read_text()
    bad = runner.invoke(cli, ["evaluate", str(EXAMPLES / "chat_assistant.toml"), "--params", "8B"])
    assert bad.exit_code == 2 and "exactly two of params, tokens and flops" in bad.output
    table = runner.invoke(cli, args + ["--vary", "inference.requests=1e9,1e11"])
    assert table.exit_code == 0 and "regret" in table.output


def test_a_plan_of_less_than_one_parameter_or_token_is_refused():
    for kw, key in (({"params": "1e-300", "tokens": "1T"}, "params"), ({"params": "7B", "tokens": 0.5}, "tokens"),
                    ({"params": "7B", "flops": 1.0}, "flops")):
        with pytest.raises(ScenarioError) as info:
            plan_size(**kw)
        assert info.value.key == key

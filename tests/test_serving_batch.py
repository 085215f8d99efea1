"""Sweeps under the roofline serving model on the batch path (solvers/batch_serving.py,
plan/sweep_serving.py): every row agrees with the certified exact solve of its point (the
independent check: cvxpy's geometric program and SLSQP, polished to KKT ≤ 1e-9, one size
at a time), carries a certificate, and the serving point, costs and baseline of a solved
plan; what the batch path does not cover goes to the exact path and says so."""
import copy
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.execution.sweeps import sweep
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict
from lifecycle_opt.solvers.exact import solve_exact

from conftest import EXAMPLES

NUMBERS = ("params", "tokens", "objective_value", "total_cost_pv_usd", "inference_gpu_hours", "serving_tpot_ms",
           "serving_ttft_ms", "serving_tokens_per_second_per_gpu", "serving_usd_per_million_output_tokens",
           "serving_usd_per_million_input_tokens", "serving_implied_decode_mfu", "baseline_params",
           "baseline_total_cost_pv_usd", "serving_gpus")


def _raw() -> dict:
    raw = copy.deepcopy(load_scenario(EXAMPLES / "serving_slo.toml").raw)
    raw["target"] = {"loss": 1.9}
    return raw


def _point(raw: dict, point: dict) -> dict:
    out = copy.deepcopy(raw)
    for key, value in point.items():
        section, name = key.rsplit(".", 1)
        table = out
        for part in section.split("."):
            table = table.setdefault(part, {})
        table[name] = value
    return out


def _check_rows_against_exact(raw: dict, axes: dict):
    rows = list(sweep(scenario_from_dict(raw), axes))
    for row in rows:
        point = {k: row[k] for k in axes}
        one = solve(scenario_from_dict(_point(raw, point))).as_row()
        assert row["status"] == "optimal", (point, row["message"])
        assert row["kkt_residual"] <= 1e-9
        for key in NUMBERS:
            assert row[key] == pytest.approx(one[key], rel=1e-7, nan_ok=True), (point, key)
        assert (row["serving_replica_gpus"], row["serving_batch"]) == (one["serving_replica_gpus"],
                                                                      one["serving_batch"]), point
        assert set(one["binding"].split(";")) >= set(row["binding"].split(";")) - {""}, point
    return rows


def test_a_tpot_and_target_sweep_matches_the_exact_solves():
    _check_rows_against_exact(_raw(), {"serving.tpot_ms": [24.0, 30.0, 80.0], "target.loss": [1.86, 1.95]})


def test_hardware_prices_and_dtypes_vary_on_the_batch_path():
    raw = _point(_raw(), {"hardware.inference.gpu": "H200", "hardware.inference.dtype": "fp8",
                          "serving.kv_dtype": "fp8", "serving.ttft_ms": 120.0})
    _check_rows_against_exact(raw, {"hardware.inference.price_per_gpu_hour": [1.5, 4.0],
                                    "inference.requests": [2e10, 3e11]})


def test_random_serving_points_agree_with_the_exact_solver():
    rng = np.random.default_rng(7)
    raw = _point(_raw(), {"serving.replica_gpus": [1, 2, 4, 8], "serving.shape_family.kv_heads": 4.0})
    axes = {"serving.tpot_ms": sorted(float(x) for x in rng.uniform(22, 90, 3)),
            "target.loss": sorted(float(x) for x in rng.uniform(1.85, 2.1, 3))}
    rows = _check_rows_against_exact(raw, axes)
    # a tighter TPOT never lowers the cost: along each target
    for loss in axes["target.loss"]:
        costs = [r["objective_value"] for r in rows if r["target.loss"] == loss]
        assert all(b <= a * (1 + 1e-12) for a, b in zip(costs, costs[1:]))


def test_an_exact_architecture_takes_the_exact_path_and_says_so(tmp_path):
    text = (EXAMPLES / "serving_slo.toml").read_text()
    text = text.replace('reference = { params = "70B", tokens = "15T" }', "loss = 1.95").replace(
        'model = "roofline"', 'model = "roofline"\narchitecture = "llama-3-70b"')
    path = tmp_path / "arch.toml"
    path.write_text(text)
    out = CliRunner().invoke(cli, ["sweep", str(path), "--vary", "serving.tpot_ms=30,60", "--format", "csv",
                                   "-o", str(tmp_path / "s.csv")])
    assert out.exit_code == 0, out.output
    assert "2 points solved one by one by the exact solver" in out.output
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [float(r["params"]) for r in rows] == pytest.approx([70_553_706_496] * 2, rel=1e-12)


def test_the_exact_solver_prices_each_size_and_solves_the_cheapest():
    """solve_exact: the batch solver's certified optimum of each replica size, the cheapest
    solved exactly; the same plan as solving every size exactly."""
    s = load_scenario(EXAMPLES / "serving_slo.toml")
    fast = solve_exact(s)
    from dataclasses import replace
    each = [solve_exact(replace(s, serving=s.serving.at_size(g))) for g in s.serving.replica_gpus]
    best = min(each, key=lambda p: p.objective_value)
    assert fast.params == pytest.approx(best.params, rel=1e-9)
    assert fast.objective_value == pytest.approx(best.objective_value, rel=1e-12)
    assert fast.certificate.kkt_residual <= 1e-9

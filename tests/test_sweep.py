"""Sweeps and side-by-side comparisons."""
import csv
import io
import json
import tomllib

import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.scenario.reader import load_scenario, load_scenarios, scenario_from_dict
from lifecycle_opt.plan.axes import grid, parse_axis
from lifecycle_opt.execution.sweeps import sweep

from conftest import EXAMPLES


def raw(name):
    with open(EXAMPLES / name, "rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("spec, values", [
    ("a.b=1..3:lin:3", (1.0, 2.0, 3.0)),
    ("a.b=1..3:3", (1.0, 2.0, 3.0)),
    ("a.b=1e2..1e4:log:3", (100.0, 1000.0, 10000.0)),
    ("a.b=100B..10T:log:3", (1e11, 1e12, 1e13)),
    ("a.b=$1..$3:lin:2", (1.0, 3.0)),
    ("a.b=5%..15%:lin:3", (0.05, 0.10, 0.15)),
    ("a.b=1.9,2.0,2.1", (1.9, 2.0, 2.1)),
    ("a.b=70B,1.4T", ("70B", "1.4T")),
    ("a.b=true,false", (True, False)),
    ("a.b=4096,8192", (4096, 8192)),
    ("a.b=7..7:log:1", (7.0,)),
])
def test_axis_specifications(spec, values):
    axis = parse_axis(spec)
    assert axis.key == "a.b"
    assert axis.values == pytest.approx(values, rel=1e-12) if isinstance(values[0], float) else values


@pytest.mark.parametrize("spec", ["inference.tokens", "=1..2:3", "a.b=1..2:cubic:3", "a.b=1..2:log:x",
                                  "a.b=-1..2:log:3", "a.b=1..2:log:0", "a.b=1,,2", "a.b=x..y:3",
                                  "a b=1,2", "a.b=1..2:lin:3:4"])
def test_bad_axis_specifications_are_explained(spec):
    with pytest.raises(ScenarioError) as err:
        parse_axis(spec)
    assert err.value.key == "--vary"


def test_grid_is_the_product_with_the_first_axis_slowest():
    points = grid({"a": [1, 2], "b": "10,20,30"})
    assert len(points) == 6
    assert points[:3] == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30}]
    with pytest.raises(ScenarioError):
        grid(["a=1,2", "a=3"])


def test_sweep_over_demand_reproduces_individual_solves():
    demands = [1e9, 1e10, 1e11, 1e12]
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": demands})
    assert [r["inference.requests"] for r in rows] == demands
    for demand, row in zip(demands, rows):
        d = raw("chat_assistant.toml")
        d["inference"]["requests"] = demand
        single = solve(scenario_from_dict(d))
        assert row["status"] == "optimal"
        for field in ("params", "tokens", "loss", "total_cost_usd", "inference_flops"):
            assert row[field] == pytest.approx(getattr(single, field, None) or
                                               single.as_row()[field], rel=1e-9), field
        assert row["binding"] == ";".join(b.name for b in single.binding)
    # more demand, smaller model trained on more tokens (Sardana et al. 2024)
    params = [r["params"] for r in rows]
    assert params == sorted(params, reverse=True)


def test_varying_target_loss_replaces_a_reference_target():
    rows = sweep(load_scenario(EXAMPLES / "chat_assistant.toml"), {"target.loss": [1.95, 2.0]})
    assert [r["status"] for r in rows] == ["optimal", "optimal"]
    assert [r["loss"] for r in rows] == pytest.approx([1.95, 2.0], rel=1e-9)


def test_infeasible_and_invalid_points_become_rows_and_the_sweep_goes_on():
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"limits.max_params": ["1B", "70B"],
                                                    "target.loss": [1.5, 2.0]})
    status = {(r["limits.max_params"], r["target.loss"]): r["status"] for r in rows}
    assert status[("1B", 2.0)] == "infeasible"
    assert status[("70B", 2.0)] == "optimal"
    assert status[("70B", 1.5)] == "invalid"          # below the irreducible loss
    bad = next(r for r in rows if r["status"] == "invalid")
    assert "target.loss" in bad["message"] and "irreducible" in bad["message"]


def test_a_misspelt_key_fails_the_whole_sweep():
    with pytest.raises(ScenarioError, match="did you mean 'max_params'"):
        sweep(EXAMPLES / "chat_assistant.toml", {"limits.max_param": [1e9, 2e9]})


def test_a_scenario_built_from_objects_cannot_be_swept():
    from lifecycle_opt.scenario.schema import Scenario, Target
    from lifecycle_opt.model.presets import preset
    s = Scenario(name="x", law=preset("hoffmann2022"), target=Target(2.0))
    with pytest.raises(ScenarioError, match="scenario_from_dict"):
        sweep(s, {"target.loss": [2.0]})


def test_cli_sweep_csv_has_one_row_per_point_with_every_field(tmp_path):
    out = tmp_path / "sweep.csv"
    result = CliRunner().invoke(cli, ["sweep", "examples/chat_assistant.toml", "--vary",
                                      "inference.requests=1e9..1e11:log:3", "--vary", "target.loss=1.95,2.0",
                                      "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 6
    for key in ("inference.requests", "target.loss", "status", "params", "tokens", "tokens_per_param",
                "total_cost_usd", "overtraining_ratio", "binding"):
        assert key in rows[0]
    assert float(rows[0]["inference.requests"]) == pytest.approx(1e9)
    again = CliRunner().invoke(cli, ["sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0",
                                     "-o", str(out)])
    assert again.exit_code == 2 and "exists" in again.output


def test_cli_sweep_json_and_bad_spec():
    result = CliRunner().invoke(cli, ["sweep", "examples/research_model.toml", "--vary",
                                      "target.loss=2.0,2.1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["target.loss"] for r in json.loads(result.output)] == [2.0, 2.1]
    bad = CliRunner().invoke(cli, ["sweep", "examples/research_model.toml", "--vary", "target.loss"])
    assert bad.exit_code == 2 and bad.output.startswith("error: --vary: expected")
    assert "Traceback" not in bad.output


def test_compare_file_of_scenarios_lays_each_over_the_shared_sections():
    scenarios = load_scenarios(EXAMPLES / "compare_demand.toml")
    assert [s.name for s in scenarios] == ["light serving", "medium serving", "heavy serving"]
    assert [s.demand.tokens for s in scenarios] == [1e12, 20e12, 200e12]
    assert scenarios[2].limits.max_training_days == 60 and scenarios[0].limits.max_training_days is None
    assert all(s.training.price_per_gpu_hour == 2.5 for s in scenarios)
    with pytest.raises(ScenarioError, match="lifeopt compare"):
        load_scenario(EXAMPLES / "compare_demand.toml")


def test_cli_compare_shows_plans_in_columns_with_differences():
    result = CliRunner().invoke(cli, ["compare", "examples/compare_demand.toml"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = lines[0]
    assert "light serving" in header and "heavy serving" in header
    n_line = next(line for line in lines if line.startswith("parameters N"))
    assert "%)" in n_line                              # change against the first plan
    for label in ("lifecycle $ (nominal)", "tokens per parameter", "binding", "training tokens D"):
        assert any(line.startswith(label) for line in lines), label
    plans = [solve(s) for s in load_scenarios(EXAMPLES / "compare_demand.toml")]
    csv_out = CliRunner().invoke(cli, ["compare", "examples/compare_demand.toml", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(csv_out.output)))
    assert [float(r["params"]) for r in rows] == pytest.approx([p.params for p in plans], rel=1e-12)


def test_cli_compare_reports_an_infeasible_scenario_in_its_column(tmp_path):
    text = (EXAMPLES / "chat_assistant.toml").read_text()
    bad = tmp_path / "tight.toml"
    bad.write_text(text.replace('max_params = "70B"', 'max_params = "1B"'))
    result = CliRunner().invoke(cli, ["compare", "examples/chat_assistant.toml", str(bad)])
    assert result.exit_code == 0, result.output
    status = next(line for line in result.output.splitlines() if line.startswith("status"))
    assert "optimal" in status and "infeasible" in status
    assert "limits.max_params" in result.output        # the explanation is printed below
    header = result.output.splitlines()[0]
    assert "tight.toml" in header                      # same scenario name: columns told apart by file

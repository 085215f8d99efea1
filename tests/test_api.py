"""The Python API takes what it is given and shows what it holds (issue 30): solve and
evaluate take a path, a dict or a Scenario, as sweep does; the top-level names are typed
(mypy --strict passes a user's script and rejects its misuse); a plan renders itself as the
CLI's text and as HTML, and its tables come as DataFrames.

Expected numbers come from the library's own other entry points (load_scenario + solve, the
CLI's stdout, the plan's cash flow object): the API must agree with them exactly."""
import os
import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner

import lifecycle_opt
from lifecycle_opt import Scenario, evaluate, load_scenario, solve
from lifecycle_opt.cli import cli
from conftest import ROOT

RESEARCH = "examples/research_model.toml"


@pytest.fixture(scope="module")
def finance_plan():
    return solve("examples/finance_plan.toml")


@pytest.mark.parametrize("given", ["path", "pathlib", "dict", "scenario"])
def test_solve_takes_a_path_a_dict_or_a_scenario(given):
    scenario = load_scenario(RESEARCH)
    arg = {"path": RESEARCH, "pathlib": ROOT / RESEARCH,
           "dict": tomllib.loads((ROOT / RESEARCH).read_text()), "scenario": scenario}[given]
    plan = solve(arg)
    reference = solve(scenario)
    assert plan.params == reference.params and plan.tokens == reference.tokens


@pytest.mark.parametrize("given", ["path", "dict", "scenario"])
def test_evaluate_takes_a_path_a_dict_or_a_scenario(given):
    path = "examples/chat_assistant.toml"
    arg = {"path": path, "dict": tomllib.loads((ROOT / path).read_text()), "scenario": load_scenario(path)}[given]
    e = evaluate(arg, params="8B", tokens="15T")
    reference = evaluate(load_scenario(path), params=8e9, tokens=15e12)
    assert e.costs == reference.costs and e.regret == reference.regret


def test_something_else_is_a_type_error_naming_what_is_taken():
    with pytest.raises(TypeError, match="a Scenario, the path of a scenario file or a dict"):
        solve(42)


def test_a_missing_file_is_an_input_error_not_an_attribute_error():
    with pytest.raises(lifecycle_opt.ScenarioError):
        solve("examples/no_such_scenario.toml")


def test_top_level_names_resolve_lazily_to_the_documented_objects():
    from lifecycle_opt.plan.evaluation import Evaluation
    from lifecycle_opt.plan.sweep_result import SweepResult
    assert lifecycle_opt.Evaluation is Evaluation and lifecycle_opt.SweepResult is SweepResult
    assert isinstance(load_scenario(RESEARCH), Scenario)
    assert set(lifecycle_opt.__all__) <= set(dir(lifecycle_opt))


def test_import_stays_light():
    """`import lifecycle_opt` must not import the solvers (scipy) nor pandas: the typed names
    are imported for type checkers only."""
    code = ("import sys, lifecycle_opt; bad = [m for m in ('scipy', 'pandas', 'lifecycle_opt.plan.planning') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "[]"


def test_report_is_the_cli_text(finance_plan):
    result = CliRunner().invoke(cli, ["solve", "examples/finance_plan.toml"])
    assert result.exit_code == 0
    assert finance_plan.report() == result.output


def test_evaluation_report_is_the_cli_text():
    args = ["--params", "8B", "--tokens", "15T"]
    result = CliRunner().invoke(cli, ["evaluate", "examples/chat_assistant.toml", *args])
    assert result.exit_code == 0
    assert evaluate("examples/chat_assistant.toml", params="8B", tokens="15T").report() == result.output


def test_notebook_html_holds_the_report_escaped(finance_plan):
    import html
    page = finance_plan._repr_html_()
    assert page.startswith("<pre") and page.endswith("</pre>")
    assert html.unescape(page[page.index(">") + 1:-len("</pre>")]) == finance_plan.report()
    assert "<" not in page[page.index(">") + 1:-len("</pre>")]       # text escaped, no markup injected


def test_cash_flow_frame_is_the_cash_flow(finance_plan):
    frame = finance_plan.cash_flow_to_pandas()
    cf = finance_plan.cash_flow
    assert list(frame.index) == list(cf.labels) and frame.index.name == "month"
    assert frame["training_usd"].tolist() == list(cf.training_usd)
    assert frame["present_value_usd"].sum() == pytest.approx(cf.npv_usd, rel=1e-12)
    assert frame["total_usd"].sum() == pytest.approx(cf.total_nominal_usd, rel=1e-12)


def test_cash_flow_frame_needs_finance():
    with pytest.raises(ValueError, match=r"no \[finance\]"):
        solve(RESEARCH).cash_flow_to_pandas()


def test_serving_frame_has_the_deployed_and_relaxed_points():
    plan = solve("examples/serving_slo.toml")
    frame = plan.serving_to_pandas()
    assert list(frame.index) == ["deployed", "relaxed"]
    assert frame.loc["deployed", "replica_gpus"] == plan.serving.rounded.replica_gpus
    assert frame.loc["relaxed", "batch"] == plan.serving.relaxed.batch
    assert frame.loc["deployed", "tpot_ms"] == pytest.approx(plan.serving.rounded.step_seconds * 1e3)


def test_row_frame_is_the_row(finance_plan):
    frame = finance_plan.to_pandas()
    assert len(frame) == 1 and list(frame.columns) == list(finance_plan.row)
    assert frame.loc[0, "params"] == finance_plan.params
    assert str(frame["warnings"].dtype) == "Int64"


def test_mypy_strict_passes_a_users_script_and_rejects_its_misuse(tmp_path):
    """mypy --strict over tests/typed/uses_api.py (every annotation agrees with the API) and
    tests/typed/misuses_api.py (three lines that must be errors: a float assigned to str, an
    Optional float to str, an int passed as a scenario). Were the names Any, the second file
    would pass too."""
    pytest.importorskip("mypy")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                          "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
                          "tests/typed/uses_api.py", "tests/typed/misuses_api.py"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("tests/typed/uses_api.py")], out.stdout
    lines = sorted(int(e.split(":")[1]) for e in errors if e.startswith("tests/typed/misuses_api.py"))
    assert lines == [7, 8, 9], out.stdout + out.stderr

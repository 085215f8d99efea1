"""The first opinion behind a certificate: the numpy batch solver by default where it covers
the scenario (no cvxpy import), cvxpy when asked or where the batch solver cannot answer;
the plan is the same either way."""
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lifecycle_opt import load_scenario, solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError

from conftest import EXAMPLES, ROOT


@pytest.mark.parametrize("name", ["chat_assistant", "small_corpus", "research_model", "finance_plan",
                                  "owned_cluster"])
def test_both_first_opinions_certify_the_same_plan(name):
    scenario = load_scenario(EXAMPLES / f"{name}.toml")
    auto, conic = solve(scenario), solve(scenario, solver="cvxpy")
    assert auto.certificate.methods[0] == "numpy-batch"
    assert conic.certificate.methods[0].startswith("cvxpy")
    for sol in (auto, conic):
        assert sol.certificate.kkt_residual <= 1e-9 and sol.certificate.methods_agree
    assert auto.params == pytest.approx(conic.params, rel=1e-9)
    assert auto.tokens == pytest.approx(conic.tokens, rel=1e-9)
    assert auto.objective_value == pytest.approx(conic.objective_value, rel=1e-12)


def test_what_the_batch_solver_does_not_cover_goes_to_cvxpy():
    sol = solve(load_scenario(EXAMPLES / "serving_slo.toml"))
    assert sol.certificate.methods[0].startswith("cvxpy")


def test_an_unknown_solver_is_a_scenario_error():
    with pytest.raises(ScenarioError) as info:
        solve(load_scenario(EXAMPLES / "chat_assistant.toml"), solver="gurobi")
    assert info.value.key == "solver"
    out = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "chat_assistant.toml"), "--solver", "gurobi"])
    assert out.exit_code == 2


def test_a_default_solve_does_not_import_cvxpy():
    code = ("import sys; from lifecycle_opt.cli.app import cli; import lifecycle_opt.cli; "
            "sys.argv = ['lifeopt', 'solve', 'examples/chat_assistant.toml', '--format', 'json']\n"
            "try:\n    cli()\nexcept SystemExit:\n    pass\n"
            "print('cvxpy' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr
    code_cvx = code.replace("'--format', 'json'", "'--format', 'json', '--solver', 'cvxpy'")
    proc = subprocess.run([sys.executable, "-c", code_cvx], cwd=ROOT, capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "True", proc.stderr

"""The lifeopt command: help with examples, one-line errors with exit codes, JSON round trip."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli

EXAMPLES = ["examples/chat_assistant.toml", "examples/research_model.toml", "examples/small_corpus.toml"]


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"lifeopt {command}" in result.output


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_option_has_help(command):
    for param in cli.commands[command].params:
        if param.param_type_name == "option":
            assert param.help, f"lifeopt {command} {param.opts[0]} has no help"


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_solve_and_json_round_trips(path):
    result = run("solve", path, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    for key in ("params", "tokens", "tokens_per_param", "loss", "epochs", "training_flops",
                "inference_flops", "total_flops", "training_cost_usd", "inference_cost_usd",
                "total_cost_usd", "objective", "binding", "baseline", "certificate"):
        assert key in doc
    assert doc["certificate"]["status"] == "optimal"
    assert doc["certificate"]["kkt_residual"] < 1e-9
    assert doc["tokens_per_param"] == pytest.approx(doc["tokens"] / doc["params"])
    assert doc["total_flops"] == pytest.approx(6 * doc["params"] * doc["tokens"] + doc["inference_flops"])


def test_table_report_has_every_section():
    result = run("solve", "examples/chat_assistant.toml")
    assert result.exit_code == 0
    for section in ("PLAN", "COSTS", "OVER-TRAINING", "REFERENCE MODELS", "SAVINGS",
                    "BINDING CONSTRAINTS", "CERTIFICATE"):
        assert section in result.output
    assert "LLaMA 7B" in result.output


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD = '[law]\npreset = "hoffmann2022"\n[target]\nloss = 2.0\n[objective]\nminimize = "flops"\n'


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("loss = 2.0", "loss = 1.5"),
     "target.loss: expected a loss above the irreducible loss E = 1.69 of law hoffmann2022, found 1.5"),
    (GOOD + "[limits]\nmax_param = \"70B\"\n",
     "limits.max_param: expected one of the keys max_params"),
    (GOOD.replace('preset = "hoffmann2022"', 'preset = "hofmann2022"'),
     "law.preset: expected one of hoffmann2022"),
    (GOOD + "[limits]\nmax_params = -5\n", "limits.max_params: expected a positive quantity, found -5"),
    (GOOD + "[limits]\nmax_params = \"70 apples\"\n", "limits.max_params: expected a parameter count"),
    (GOOD + "[limits]\nmax_params = true\n", "limits.max_params: expected a parameter count"),
    (GOOD.replace('minimize = "flops"', 'minimize = "dollars"'), "objective.minimize: expected one of"),
    (GOOD.replace('minimize = "flops"', 'minimize = "cost"'), "hardware.training: expected"),
    ("[law\n", "file: expected valid TOML"),
    ("", "file: expected a scenario with at least a [law]"),
    (GOOD.replace("[target]\nloss = 2.0\n", ""), "target: expected a [target]"),
])
def test_bad_files_give_one_line_errors_and_exit_2(tmp_path, text, message):
    path = write(tmp_path, text)
    result = run("solve", path)
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"error: {path}: ")
    assert message in line


def test_missing_file_and_directory(tmp_path):
    for target, text in ((str(tmp_path / "nope.toml"), "found no such file"), (str(tmp_path), "found a directory")):
        result = run("solve", target)
        assert result.exit_code == 2 and text in result.output


def test_infeasible_exit_1_with_conflicts(tmp_path):
    path = write(tmp_path, '[law]\npreset = "muennighoff2023"\n[target]\nloss = 2.0\n[objective]\n'
                           'minimize = "flops"\n[data]\nunique_tokens = "300B"\nmax_epochs = 16\n'
                           '[limits]\nmax_params = "10B"\n')
    result = run("solve", path)
    assert result.exit_code == 1
    assert "no plan meets the target" in result.output and "target.loss" in result.output
    # one line, each change said once (the advice was printed twice: in the line and below it)
    assert result.output.strip().count("\n") == 0 and result.output.count("target.loss") == 1


def test_output_file_is_written_atomically_and_not_overwritten(tmp_path):
    out = tmp_path / "plan.json"
    assert run("solve", EXAMPLES[1], "--format", "json", "-o", str(out)).exit_code == 0
    first = out.read_text()
    json.loads(first)
    refused = run("solve", EXAMPLES[1], "--format", "json", "-o", str(out))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert run("solve", EXAMPLES[1], "--format", "csv", "-o", str(out), "--force").exit_code == 0
    assert out.read_text().startswith("field,value")
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]      # no temporary left behind


def test_console_script_runs_without_traceback(tmp_path):
    bad = write(tmp_path, "[law]\npreset = 3\n")
    proc = subprocess.run([sys.executable, "-m", "lifecycle_opt.cli", "solve", bad],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["solve"], ["solve", "examples/chat_assistant.toml", "--format", "yaml"],
                                  ["sweep", "examples/chat_assistant.toml"], ["nonsense"],
                                  ["fit", "examples/runs/ladder_curves.csv", "--bootstrap", "-3"]])
def test_usage_errors_are_one_line_with_exit_code_2(args):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], result.stderr


def test_bare_lifeopt_shows_the_usage():
    result = run()
    assert result.exit_code == 2 and "Usage: " in result.stderr and "error" not in result.stderr


def test_json_on_stdout_stays_json_when_the_conic_solver_falls_back_to_scs(tmp_path):
    """Kaplan's law under a limit on N and a training-dollar cap: Clarabel fails on the GP and
    SCS, the fallback, prints "ERROR: could not determine problem status." to sys.stdout
    (found by the 10,000-scenario agreement run). The plan on stdout must still parse."""
    path = write(tmp_path, """
        name = "scs fallback"
        [law]
        preset = "kaplan2020"
        [objective]
        minimize = "cost"
        [hardware.training]
        gpu = "H100"
        mfu = 0.5975625237735565
        price_per_gpu_hour = 1.6366224245619059
        gpus = 7226
        [hardware.inference]
        gpu = "H100"
        mfu = 0.09207655464856646
        price_per_gpu_hour = 3.505425202622672
        [inference]
        tokens = 59485163842016.74
        [target]
        loss = 1.9735388458480196
        [limits]
        max_training_cost = 12643837.316793745
        max_params = 11486849909.242764
        """)
    result = CliRunner().invoke(cli, ["solve", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scenario"] == "scs fallback"

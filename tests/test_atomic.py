"""Nothing lost: a run killed while it writes leaves the previous file intact (or no file),
never a truncated one; an existing output is kept unless --force; the same inputs give the
same bytes."""
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli

BIG_SWEEP = ["sweep", "examples/small_corpus.toml", "--vary", "inference.tokens=1e10..1e14:log:1000",
             "--vary", "target.loss=2.3..2.6:lin:100", "--format", "csv", "--no-progress", "--chunk", "2000"]


def default_sigint():
    """In the child before exec: SIGINT back to its default. A runner that starts the
    tests in the background (``pytest &`` in a script) leaves SIGINT ignored, the child
    inherits that, and Python then installs no KeyboardInterrupt handler: Ctrl-C would do
    nothing and the tests of it would fail for the runner's sake."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_mid_write(tmp_path, out, sig, command=BIG_SWEEP, started=100_000):
    """Run ``command`` writing ``out``, send ``sig`` once its temporary file holds
    ``started`` bytes; (exit code, temporary files left once its guardian has had time)."""
    proc = subprocess.Popen([sys.executable, "-m", "lifecycle_opt.cli", *command, "-o", str(out), "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint)
    deadline = time.time() + 120
    while time.time() < deadline:                     # wait until rows are being written
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.")]
        if temps and temps[0].stat().st_size > started:
            break
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    else:
        pytest.fail("the sweep never started writing")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    deadline = time.time() + 10                       # the guardian of a SIGKILLed run needs a moment
    while time.time() < deadline and [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.")]:
        time.sleep(0.05)
    return proc.returncode, [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_killed_sweep_leaves_the_previous_file_intact(tmp_path, sig):
    out = tmp_path / "sweep.csv"
    out.write_text("the previous result\n")
    code, temps = kill_mid_write(tmp_path, out, sig)
    assert code != 0
    assert out.read_text() == "the previous result\n"
    assert temps == []            # removed by the run itself, or after a SIGKILL by its guardian


def test_a_killed_first_run_leaves_no_file(tmp_path):
    out = tmp_path / "sweep.csv"
    code, temps = kill_mid_write(tmp_path, out, signal.SIGTERM)
    assert code != 0 and not out.exists() and temps == []


@pytest.mark.parametrize("args", [["solve", "examples/chat_assistant.toml", "--format", "json", "-o"],
                                  ["solve", "examples/chat_assistant.toml", "--xlsx"],
                                  ["sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0,2.1",
                                   "--format", "csv", "--no-progress", "-o"]])
def test_an_existing_output_is_kept_unless_forced(tmp_path, args):
    out = tmp_path / "existing.out"
    out.write_text("keep me\n")
    result = CliRunner().invoke(cli, [*args, str(out)])
    assert result.exit_code == 2
    assert "exists" in result.stderr and "--force" in result.stderr
    assert out.read_text() == "keep me\n"
    result = CliRunner().invoke(cli, [*args, str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() != b"keep me\n"


@pytest.mark.parametrize("example", ["examples/chat_assistant.toml", "examples/finance_plan.toml"])
def test_the_same_inputs_give_the_same_bytes(tmp_path, example):
    def outputs(folder):
        folder.mkdir()
        for fmt in ("json", "csv"):
            assert CliRunner().invoke(cli, ["solve", example, "--format", fmt, "-o", str(folder / f"plan.{fmt}"),
                                            *(["--xlsx", str(folder / "plan.xlsx"),
                                               "--csv-tables", str(folder / "tables")] if fmt == "json" else [])
                                            ]).exit_code == 0
        assert CliRunner().invoke(cli, ["sweep", example, "--vary", "target.loss=2.0,2.1,2.2", "--format", "csv",
                                        "-o", str(folder / "sweep.csv"), "--xlsx", str(folder / "sweep.xlsx"),
                                        "--no-progress"]).exit_code == 0
        return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    first = outputs(tmp_path / "one")
    time.sleep(1.1)                                   # a timestamp to the second would now differ
    second = outputs(tmp_path / "two")
    assert first.keys() == second.keys() and len(first) >= 8
    for name in first:
        assert first[name] == second[name], name


#: ``lifeopt ARGS`` in a child that sends itself the signal named by its first argument
#: once the second table of --csv-tables is written: mid-write, every time
SIGNAL_MID_TABLES = """
import os, signal, sys, time
from lifecycle_opt.outputs import exports
real, written, sig = exports.Path.write_text, [], getattr(signal, sys.argv[1])
def write_text(self, *args, **kwargs):
    out = real(self, *args, **kwargs)
    written.append(self)
    if len(written) == 2:
        os.kill(os.getpid(), sig)
        time.sleep(10)                  # a SIGINT or SIGTERM is raised here, a SIGKILL ends it
    return out
exports.Path.write_text = write_text
from lifecycle_opt.cli.app import main
sys.argv = ["lifeopt"] + sys.argv[2:]
main()
"""


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 128 + signal.SIGTERM),
                                       ("SIGKILL", -signal.SIGKILL)])
@pytest.mark.parametrize("before", [False, True], ids=["new", "replaced"])
def test_interrupted_csv_tables_leave_no_temporary_folder(tmp_path, sig, code, before):
    """Ctrl-C (or a kill) while --csv-tables writes its folder: no ``.tables.*.tmp`` folder
    is left (Ctrl-C left it), and the old folder, if any, stays as it was."""
    folder = tmp_path / "tables"
    if before:
        folder.mkdir()
        (folder / "cover.csv").write_text("the previous table\n")
    proc = subprocess.run([sys.executable, "-c", SIGNAL_MID_TABLES, sig, "solve", "examples/chat_assistant.toml",
                           "--csv-tables", str(folder), "--force"], capture_output=True, text=True, timeout=120,
                          preexec_fn=default_sigint)
    assert proc.returncode == code, proc.stderr
    if sig == "SIGINT":
        assert proc.stderr == "error: interrupted\n"
    deadline = time.time() + 10                       # the guardian of a SIGKILLed run needs a moment
    while time.time() < deadline and len(list(tmp_path.iterdir())) > int(before):
        time.sleep(0.05)
    assert [p.name for p in tmp_path.iterdir()] == (["tables"] if before else [])
    if before:
        assert [p.name for p in folder.iterdir()] == ["cover.csv"]
        assert (folder / "cover.csv").read_text() == "the previous table\n"

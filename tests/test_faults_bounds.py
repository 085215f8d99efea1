"""Memory and time with a bound (issue 32): each command holds what the machine allows, or
refuses before it starts with the limit named; a sweep's file is in the format its name
says, or refused. The memory tests run the command in a child process whose address
space is limited (``resource.setrlimit(RLIMIT_AS)``), where an unbounded command ends in
a MemoryError (exit 70) or is killed."""
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.execution import machine
from lifecycle_opt.outputs.sweep_output import POINT_BYTES, TABLE_POINTS

from conftest import EXAMPLES, ROOT

CHAT = str(EXAMPLES / "chat_assistant.toml")
MILLION = "inference.requests=1e9..1e12:log:1000000"

#: a child that runs ``lifeopt ARGS`` (or Python code after "-c") under an address-space limit
LIMITED = """
import resource, sys
limit = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
if sys.argv[2] == "-c":
    exec(sys.argv[3])
else:
    from lifecycle_opt.cli.app import main
    sys.argv = ["lifeopt"] + sys.argv[2:]
    main()
"""


def limited(mib: int, *args, cwd=ROOT, timeout=120):
    """``lifeopt args`` in a child process limited to ``mib`` MiB of address space."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", LIMITED, str(mib), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def one_line(proc, code=2) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def run(*args):
    return CliRunner().invoke(cli, list(args))


# ------------------------------------------------------------------ sweep
def test_the_text_table_of_a_million_points_is_refused_naming_the_limit_and_output():
    # it held every row to align the columns: 5.2 GB, exit 70 under a 4 GB limit
    line = one_line(limited(4096, "sweep", CHAT, "--vary", MILLION))
    assert line == (f"error: --output: expected a sweep of at most {TABLE_POINTS:,} points for the text table "
                    "(its rows are held in memory to align them); write a larger one to a file a chunk at a "
                    "time: -o sweep.parquet, sweep.csv, ..., found 1,000,000 points")


def test_a_million_point_sweep_to_a_file_streams_in_bounded_memory(tmp_path):
    # its rows are 480 MB as columns: held at once they would not fit in 640 MiB beside
    # Python, numpy and pyarrow; streamed a chunk at a time they do
    pytest.importorskip("pyarrow")
    out = tmp_path / "sweep.parquet"
    proc = limited(640, "sweep", CHAT, "--vary", MILLION, "-o", out, "--no-progress", timeout=300)
    assert proc.returncode == 0 and proc.stderr == f"wrote {out}\n", proc.stderr
    import pyarrow.parquet as pq
    assert pq.ParquetFile(out).metadata.num_rows == 1_000_000


def test_a_chunk_beyond_the_memory_is_refused_before_it_starts():
    # --chunk 10000000 took 9 GB: refused with the machine's limit named (4 GiB here)
    line = one_line(limited(4096, "sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--chunk", 10_000_000,
                            "--format", "csv"))
    assert line.startswith("error: --chunk: expected at most ") and "points on this machine (4.0 GiB of memory" \
        in line and line.endswith("found 10000000"), line
    most = int(line.split("at most ")[1].split(" ")[0].replace(",", ""))
    # half of 4 GiB for the chunks in flight (threads + 2) of 2 kB a point (CSV, measured)
    threads = min(os.cpu_count() or 1, 4)
    assert most == (4096 << 20) // 2 // (POINT_BYTES["csv"] * (threads + 2))
    # what fits is taken as asked
    proc = limited(4096, "sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--chunk", most, "--format", "csv")
    assert proc.returncode == 0 and proc.stdout.count("\n") == 3, proc.stderr


def test_the_default_chunk_is_lowered_to_what_memory_holds(monkeypatch):
    from lifecycle_opt.execution import sweeps
    monkeypatch.setattr(sweeps, "machine_memory", lambda: 64 << 20)
    # 32 MiB for 4 chunks of 1 kB points: 8,388 points a chunk, not 65,536
    assert sweeps.chunk_size(None, 4) == (64 << 20) // 2 // 4_000
    assert sweeps.chunk_size(5_000, 4) == 5_000
    monkeypatch.setattr(sweeps, "machine_memory", lambda: None)
    assert sweeps.chunk_size(None, 4) == sweeps.CHUNK


def test_more_workers_than_cores_are_refused_as_the_fit_refuses_them():
    # --workers 512 started 512 Dask workers and ended in the out-of-memory killer
    line = one_line(limited(4096, "sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--workers",
                            machine.cores() + 1))
    assert line == (f"error: --workers: expected at most {machine.cores()} (the cores of this machine), "
                    f"found {machine.cores() + 1}")
    # one home for the machine's limits: the fit's are the execution stage's
    from lifecycle_opt.fit import machine as fit_machine
    assert fit_machine.check_workers is machine.check_workers and fit_machine.cores is machine.cores


def test_the_api_sweep_refuses_what_memory_cannot_hold():
    # ten million points of 60 fields are 4.8 GB of columns: refused under 1 GiB with the
    # limit named (a quarter of the memory at 8 bytes a field), not a MemoryError
    code = ("import lifecycle_opt as lo\n"
            "try:\n"
            f"    lo.sweep({CHAT!r}, {{'inference.requests': '1e9..1e12:log:10000000'}})\n"
            "except lo.ScenarioError as exc:\n"
            "    print(exc)\n")
    proc = limited(1024, "-c", code)
    assert proc.returncode == 0, proc.stderr
    fields = 60
    most = (1024 << 20) // 4 // (8 * fields)
    assert proc.stdout.strip() == (f"axes: expected a sweep of at most {most:,} points held in memory on this "
                                   f"machine (1.0 GiB; {8 * fields} bytes a point); write a larger one a chunk at "
                                   f"a time: lifeopt sweep ... -o FILE, found 10,000,000 points")


def test_the_api_sweep_fills_its_columns_in_place():
    # the chunks and their joined copy were in memory at once; the rows are the same
    import numpy as np
    from lifecycle_opt import sweep
    from lifecycle_opt.execution.sweeps import sweep_chunks
    from lifecycle_opt.plan.sweep_plan import plan_sweep
    axes = {"inference.requests": "1e9..1e12:log:50", "target.loss": [1.95, 2.0]}
    rows = sweep(CHAT, axes)
    plan = plan_sweep(CHAT, axes)
    parts = [cols for _, cols in sweep_chunks(plan, chunk=7)]
    for key in plan.keys:
        joined = np.concatenate([p[key] for p in parts])
        column = rows.columns[key]
        assert column.dtype == joined.dtype, key
        if column.dtype.kind == "f":
            np.testing.assert_array_equal(column, joined)
        else:
            assert column.tolist() == joined.tolist(), key


# ------------------------------------------------------------------ plot
def test_a_plot_of_a_million_points_draws_a_thousand_and_says_so(tmp_path):
    # it solved and held every point: 4.2 GB
    pytest.importorskip("matplotlib")
    out = tmp_path / "demand.png"
    proc = limited(1536, "plot", CHAT, "--vary", MILLION, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "inference.requests: 1,000 of its 1,000,000 values drawn along the x axis, evenly spaced (more than "
        "the figure can show apart)", f"wrote {out}"]
    assert out.stat().st_size > 10_000


def test_the_thinned_axes_keep_their_ends_and_spacing():
    import numpy as np
    from lifecycle_opt.outputs.plots import figure_axes
    axes, notes = figure_axes(["inference.requests=1e9..1e12:log:1000000", "target.loss=" + ",".join(
        f"{1.9 + k / 1000:.3f}" for k in range(50))])
    x, lines = axes
    np.testing.assert_allclose(x.values, np.logspace(9, 12, 1000), rtol=1e-12)
    assert len(lines.values) == 20 and lines.values[0] == 1.9 and lines.values[-1] == 1.949
    assert len(notes) == 2 and notes[1].startswith("target.loss: 20 of its 50 values drawn as lines")
    # a third key has no place in the figure: refused, not drawn into the same lines
    assert "at most two keys" in one_line_cli(run("plot", CHAT, "--vary", "target.loss=2.0,2.1", "--vary",
                                                  "inference.requests=1e9,1e10", "--vary", "data.max_epochs=1,2",
                                                  "-o", str(ROOT / "never.png")))
    assert not (ROOT / "never.png").exists()


def one_line_cli(result, code=2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("name", ["sweep.xlsx", "sweep.json.gz", "sweep"])
def test_a_sweep_file_of_an_ending_without_a_format_is_refused(tmp_path, name):
    # the text table was written into sweep.xlsx
    out = tmp_path / name
    line = one_line_cli(run("sweep", CHAT, "--vary", "target.loss=2.0,2.1", "-o", str(out)))
    assert line.startswith(f"error: {out}: a sweep's file ends in one of .csv, .json, .jsonl, .ndjson, .parquet, "
                           ".arrow, .feather, .ipc or .txt (the text table), which chooses its format, or give "
                           "--format"), line
    assert ("--xlsx" in line) == name.endswith(".xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_file_takes_the_format_its_ending_names(tmp_path):
    table = run("sweep", CHAT, "--vary", "target.loss=2.0,2.1")
    assert run("sweep", CHAT, "--vary", "target.loss=2.0,2.1", "-o", str(tmp_path / "s.txt")).exit_code == 0
    assert (tmp_path / "s.txt").read_text() == table.stdout
    assert run("sweep", CHAT, "--vary", "target.loss=2.0,2.1", "-o", str(tmp_path / "s.JSONL")).exit_code == 0
    assert (tmp_path / "s.JSONL").read_text().startswith('{"target.loss": 2.0, "status": "optimal"')
    # a format given is the user's choice, whatever the name
    assert run("sweep", CHAT, "--vary", "target.loss=2.0,2.1", "--format", "csv", "-o",
               str(tmp_path / "s.dat")).exit_code == 0


# ------------------------------------------------------------------ the README's promise
def test_the_readme_states_the_promise_and_names_tests_that_exist():
    """The README's promise (one line, exit 2 for input and 1 for no plan, 130 on Ctrl-C,
    nothing lost) and, for each part, tests that check it: every file and test it names
    exists, so the table cannot drift from the suite."""
    import re
    text = (ROOT / "README.md").read_text()
    start = text.index("**The promise.**")
    promise = text[start:text.index("* Every error is one line", start)]
    for part in ("one line on standard error", "exit 2", "exit 1", "`error: interrupted`", "exit 130",
                 "nothing is lost", "Exit 70 is only our own bug"):
        assert part in promise, part
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| (.+) \|$", promise, re.M)
            if m.group(1) != "part"}
    assert {"one line", "exit 2, bad input", "exit 1, no plan", "130 on Ctrl-C", "nothing lost"} <= set(rows)
    for part, cell in rows.items():
        named = re.findall(r"`(test_\w+\.py)(?:::(\w+))?`", cell)
        assert named, part
        for module, test in named:
            source = ROOT / "tests" / module
            assert source.is_file(), module
            if test:
                assert re.search(rf"^def {test}\(", source.read_text(), re.M), f"{module}::{test}"

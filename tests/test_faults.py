"""Faults at the edges of the process (issue 17): disks, devices, races, odd inputs and
odd training data. Each is one line naming what to fix, exit 2 (bad input or machine) or
1 (infeasible), never 70; nothing is lost or half-written."""
import json
import math
import os
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ClusterError, ExportError, ScenarioError
from lifecycle_opt.outputs import exports
from lifecycle_opt.outputs.exports import write_chunks_atomic
from lifecycle_opt.outputs.reports import render_rows_json, strict
from lifecycle_opt.outputs.workbook import Book, Sheet, XLSX_MAX_ROWS, check_sheet_sizes

from conftest import EXAMPLES, ROOT

CHAT = str(EXAMPLES / "chat_assistant.toml")


def run(*args):
    return CliRunner().invoke(cli, list(args))


def one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


# ------------------------------------------------------------------ outputs
def test_a_fifo_or_a_symbolic_link_is_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = one_line_error(run("solve", CHAT, "-o", str(fifo), "--force"))
    assert "not a regular file" in line and fifo.is_fifo()
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    for extra in ([], ["--force"]):
        assert "symbolic link" in one_line_error(run("solve", CHAT, "-o", str(dangling), *extra))
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()


def test_dash_is_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run("solve", CHAT, "--format", "json", "-o", "-")
    assert out.exit_code == 0 and json.loads(out.stdout)["params"] > 0
    assert not (tmp_path / "-").exists()


def test_a_run_that_raced_past_the_check_refuses_and_the_first_output_stays(tmp_path):
    target = tmp_path / "plan.json"

    def chunks():
        yield "ours"
        target.write_text("the other run's")          # another run finished meanwhile
    with pytest.raises(ExportError, match="appeared while"):
        write_chunks_atomic(target, chunks())
    assert target.read_text() == "the other run's"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(exports.os, "fsync", full)
    out = tmp_path / "plan.json"
    line = one_line_error(run("solve", CHAT, "--format", "json", "-o", str(out)))
    assert "no space left on device" in line and str(out) in line
    assert list(tmp_path.iterdir()) == []


def _tmpfs(path, options):
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip() or 'not permitted'})")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_real_full_disk_and_a_read_only_mount(tmp_path):
    small, ro = tmp_path / "small", tmp_path / "ro"
    _tmpfs(small, "size=8k")
    try:
        (small / "filler").write_bytes(b"x" * 4096)
        line = one_line_error(run("sweep", CHAT, "--vary", "inference.requests=1e9..1e12:log:200",
                                  "--format", "csv", "-o", str(small / "sweep.csv")))
        assert "no space left on device" in line
        assert sorted(p.name for p in small.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(small)])
    _tmpfs(ro, "ro,size=64k")
    try:
        for args in (["solve", CHAT, "-o", str(ro / "p.json")], ["solve", CHAT, "--xlsx", str(ro / "p.xlsx")],
                     ["plot", CHAT, "-o", str(ro / "p.png")]):
            assert "not writable" in one_line_error(run(*args))
    finally:
        subprocess.run(["umount", str(ro)])


def test_csv_tables_are_written_as_one_folder_or_not_at_all(tmp_path, monkeypatch):
    folder = tmp_path / "tables"
    real = exports.Path.write_text
    calls = []

    def fail_second(self, *a, **k):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, *a, **k)
    monkeypatch.setattr(exports.Path, "write_text", fail_second)
    one_line_error(run("solve", CHAT, "--csv-tables", str(folder)))
    assert not folder.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert run("solve", CHAT, "--csv-tables", str(folder)).exit_code == 0
    first = sorted(p.name for p in folder.iterdir())
    assert first and "exists" in one_line_error(run("solve", CHAT, "--csv-tables", str(folder)))
    assert run("solve", CHAT, "--csv-tables", str(folder), "--force").exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_same_file_for_two_outputs_is_refused(tmp_path):
    same = str(tmp_path / "x.json")
    assert "two outputs" in one_line_error(run("solve", CHAT, "-o", same, "--xlsx", same))
    assert "two outputs" in one_line_error(run("fit", str(ROOT / "examples" / "runs" / "ladder_curves.csv"),
                                               "--bootstrap", "2", "--samples", same, "-o", same))
    assert not os.path.exists(same)


def test_a_sheet_past_the_spreadsheet_limits_is_refused_not_cut():
    big = Sheet("Sweep", [[] for _ in range(XLSX_MAX_ROWS + 1)])
    with pytest.raises(ExportError, match="1,048,577 rows"):
        check_sheet_sizes(Book([big]))
    wide = Sheet("Cash flow", [[None] * 16_385])
    with pytest.raises(ExportError, match="16,385 columns"):
        check_sheet_sizes(Book([wide]))


def test_json_is_strict():
    text = render_rows_json([{"a": math.inf, "b": math.nan, "c": [1.0, -math.inf]}])
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON")) == \
        [{"a": None, "b": None, "c": [1.0, None]}]
    assert strict({"x": (math.nan,)}) == {"x": [None]}


def test_svg_is_the_same_bytes_every_run(tmp_path):
    pytest.importorskip("matplotlib")
    for name in ("a.svg", "b.svg"):
        assert run("plot", str(EXAMPLES / "small_corpus.toml"), "-o", str(tmp_path / name)).exit_code == 0
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


# ------------------------------------------------------------------ inputs
def test_a_fifo_or_a_device_as_input_is_refused_at_once(tmp_path):
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lifecycle_opt.cli", "solve", str(fifo)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert time.perf_counter() - started < 30
    line = one_line_error(run("fit", "/dev/zero"))
    assert "not a regular file" in line


def test_toml_nested_too_deeply_and_a_nul_in_a_path(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n")
    assert "nested" in one_line_error(run("solve", str(deep)))
    nul = tmp_path / "nul.toml"
    nul.write_text('[law]\nfile = "law\\u0000.toml"\n[target]\nloss = 2.0\n')
    assert "NUL" in one_line_error(run("solve", str(nul)))


def test_a_file_pointed_at_by_mistake_is_not_printed(tmp_path, monkeypatch):
    secret = "hunter2-" + "x" * 300
    envfile = tmp_path / "environ"
    envfile.write_text(f"TOKEN={secret}\x00PATH=/bin\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[law]\nE = 1.8\nA = 480.0\nB = 2000.0\nalpha = 0.35\nbeta = 0.37\nsamples = "{envfile}"\n'
                        '[target]\nloss = 2.0\n')
    line = one_line_error(run("solve", str(scenario)))
    assert secret not in line and len(line) < 400


def test_a_law_file_name_with_a_newline_cannot_inject_toml(tmp_path):
    runs = tmp_path / 'evil"\nE = 99\n.csv'
    runs.write_text((ROOT / "examples" / "runs" / "ladder_curves.csv").read_text())
    from lifecycle_opt.fit.parametric import fit_law, law_toml, start_grid
    from lifecycle_opt.fit.runs import read_runs
    result = fit_law(read_runs(runs), starts=start_grid()[::30], workers=1)
    law = tomllib.loads(law_toml(result))["law"]
    assert law["E"] == pytest.approx(result.law.E) and law["E"] != 99


def test_a_grid_too_large_is_refused_before_any_axis_is_built():
    started = time.perf_counter()
    line = one_line_error(run("sweep", CHAT, "--vary", "inference.requests=1e9..1e12:log:100000000",
                              "--vary", "target.loss=1.9..2.0:lin:10"))
    assert "1,000,000,000 points" in line and time.perf_counter() - started < 5


# ------------------------------------------------------------------ fits
def _write_runs(path, loss_of):
    N = np.repeat(np.geomspace(1e8, 1e10, 5), 4)
    D = np.tile(np.geomspace(1e10, 1e12, 4), 5)
    path.write_text("params,tokens,loss\n" + "".join(f"{n!r},{d!r},{loss_of(n, d)!r}\n"
                                                     for n, d in zip(N.tolist(), D.tolist())))
    return path


def test_a_fit_whose_loss_rises_with_size_says_so(tmp_path):
    path = _write_runs(tmp_path / "rising.csv", lambda n, d: 1.5 + 1e-4 * n ** 0.3)
    line = one_line_error(run("fit", str(path), "-o", str(tmp_path / "law.toml"), "--workers", "1"))
    assert "loss rises with N" in line and not (tmp_path / "law.toml").exists()


def test_equal_losses_are_an_unidentified_fit_and_no_law_file(tmp_path):
    path = _write_runs(tmp_path / "flat.csv", lambda n, d: 2.0)
    line = one_line_error(run("fit", str(path), "-o", str(tmp_path / "law.toml"), "--workers", "1"))
    assert "not identified" in line and not (tmp_path / "law.toml").exists()


# ------------------------------------------------------------------ messages
def test_warnings_reach_stderr_as_one_line_each():
    code = ("import sys, warnings\nfrom lifecycle_opt.cli.app import _one_line_warnings\n_one_line_warnings()\n"
            "import numpy as np\nnp.exp(np.array([1000.0]))\nwarnings.warn('two\\nlines')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = proc.stderr.strip().splitlines()
    assert lines == ["warning: overflow encountered in exp", "warning: two"], proc.stderr


def test_a_long_scenario_name_is_cut_in_the_figure_title(tmp_path):
    pytest.importorskip("matplotlib")
    from lifecycle_opt import load_scenario, solve
    from lifecycle_opt.outputs.plots import plan_figure
    import dataclasses
    s = load_scenario(EXAMPLES / "small_corpus.toml")
    s = dataclasses.replace(s, name="n" * 100_000)
    fig = plan_figure([(s, solve(s))])
    assert len(fig.axes[0].get_title()) < 200


def test_a_point_whose_costs_overflow_is_invalid_not_optimal(tmp_path):
    out = run("sweep", CHAT, "--vary", "inference.tokens=1e12,1e308", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["optimal", "invalid"] and "overflow" in rows[1]["message"]
    big = tmp_path / "big.toml"
    big.write_text((EXAMPLES / "chat_assistant.toml").read_text().replace("requests = 1e11", "requests = 1e300"))
    assert "overflow" in one_line_error(run("solve", str(big)))


# ------------------------------------------------------------------ clusters
class _Lost(Exception):
    pass


_Lost.__name__ = "FutureCancelledError"


class _FakeFuture:
    def __init__(self, fn, args, fail):
        self.fn, self.args, self.fail = fn, args, fail

    def result(self):
        if self.fail:
            raise _Lost("lost with its worker")
        return self.fn(*self.args)


class _FakeClient:
    """A Dask client whose first ``losses`` results are lost with a worker."""

    def __init__(self, losses, workers=2):
        self.losses, self.workers, self.scattered = losses, workers, 0

    def scatter(self, value, broadcast=False, hash=True):
        self.scattered += 1
        return value

    def submit(self, fn, *args, pure=False):
        fail = self.losses > 0
        self.losses -= fail
        return _FakeFuture(fn, args, fail)

    def scheduler_info(self):
        return {"workers": {f"w{i}": {} for i in range(self.workers)}}


def test_a_chunk_lost_with_a_worker_is_solved_again_and_the_rows_are_the_same():
    from lifecycle_opt.execution.sweeps import sweep_chunks
    from lifecycle_opt.plan.sweep_plan import plan_sweep
    from lifecycle_opt.plan.sweep_rows import chunk_rows
    plan = plan_sweep(CHAT, {"inference.requests": [1e9, 1e10, 1e11, 1e12]})
    local = [list(chunk_rows(c)) for _, c in sweep_chunks(plan, chunk=1)]
    client = _FakeClient(losses=2)
    remote = [list(chunk_rows(c)) for _, c in sweep_chunks(plan, chunk=1, client=client)]
    assert remote == local and client.scattered > 1


def test_every_worker_lost_is_one_cluster_error():
    from lifecycle_opt.errors import ClusterError
    from lifecycle_opt.execution.sweeps import sweep_chunks
    from lifecycle_opt.plan.sweep_plan import plan_sweep
    plan = plan_sweep(CHAT, {"inference.requests": [1e9, 1e10]})
    client = _FakeClient(losses=10)
    client.scheduler_info = lambda: {"workers": {}}
    with pytest.raises(ClusterError, match="every Dask worker was lost"):
        list(sweep_chunks(plan, chunk=1, client=client))
    assert ClusterError.exit_code == 2


def test_a_scheduler_address_that_is_not_a_scheduler_times_out_in_one_line():
    pytest.importorskip("distributed")
    import socket
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()   # accepts, says nothing
    port = server.getsockname()[1]
    started = time.perf_counter()
    out = run("sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--scheduler", f"tcp://127.0.0.1:{port}",
              "--connect-timeout", "1")
    line = one_line_error(out)
    assert "cannot connect" in line and time.perf_counter() - started < 30
    server.close()


def test_a_fit_of_many_runs_is_bounded_in_memory_and_too_many_are_refused(monkeypatch):
    from lifecycle_opt.fit import parametric
    from lifecycle_opt.fit.runs import Runs
    from lifecycle_opt.model.presets import preset
    law = preset("besiroglu2024")
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(8, 10, 2500), 10 ** rng.uniform(10, 12, 2500)
    runs = Runs(N, D, np.asarray(law.loss(N, D), float), "many")
    seen = []
    real = parametric.batched_lbfgs

    def spy(fun, theta0, **kw):
        seen.append(len(theta0))
        return real(fun, theta0, **kw)
    monkeypatch.setattr(parametric, "batched_lbfgs", spy)
    monkeypatch.setattr(parametric, "MEMORY_BUDGET", 64 * 2**20)
    result = parametric.fit_law(runs, starts=parametric.start_grid()[::10], workers=1)
    assert max(seen) <= 64 * 2**20 // (16 * 8 * 2500) and sum(seen) == 450
    assert result.law.alpha == pytest.approx(law.alpha, rel=1e-3)
    monkeypatch.setattr(parametric, "MAX_FIT_RUNS", 1000)
    with pytest.raises(ScenarioError, match="at most 1,000 runs"):
        parametric.fit_law(runs, workers=1)


def test_killing_a_real_worker_mid_sweep_gives_the_same_rows():
    pytest.importorskip("distributed")
    import signal
    from dask.distributed import Client, LocalCluster
    from lifecycle_opt.execution.sweeps import sweep_chunks
    from lifecycle_opt.plan.sweep_plan import plan_sweep
    from lifecycle_opt.plan.sweep_rows import chunk_rows
    plan = plan_sweep(EXAMPLES / "small_corpus.toml",
                      {"inference.tokens": [float(10 ** (10 + i / 10)) for i in range(24)]})
    local = [list(chunk_rows(c)) for _, c in sweep_chunks(plan, chunk=2)]
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           silence_logs=50)
    client = Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        remote = []
        for k, (_, cols) in enumerate(sweep_chunks(plan, chunk=2, client=client)):
            remote.append(list(chunk_rows(cols)))
            if k == 1:
                os.kill(pids[0], signal.SIGKILL)
        assert remote == local
    finally:
        client.close()
        cluster.close()


def test_a_server_with_a_banner_is_not_a_scheduler():
    pytest.importorskip("distributed")
    import socket
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def banner():
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" * 4)
        time.sleep(5)
        conn.close()
    threading.Thread(target=banner, daemon=True).start()
    out = run("sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--scheduler",
              f"tcp://127.0.0.1:{server.getsockname()[1]}", "--connect-timeout", "2")
    assert "cannot connect" in one_line_error(out)
    server.close()


def test_a_local_cluster_takes_no_fixed_port():
    pytest.importorskip("distributed")
    import socket
    from lifecycle_opt.execution.dask_client import DaskClient
    from lifecycle_opt.execution.cluster import trim_threshold
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 8787))                 # a dashboard of someone else's
        taken.listen(1)
    except OSError:
        pass                                            # already taken, which is the case too
    with DaskClient(None, 1) as client:
        http = client.cluster.scheduler.http_server
        ports = [s.getsockname()[1] for s in http._sockets.values()]
        hosts = [s.getsockname()[0] for s in http._sockets.values()]
        assert 8787 not in ports and set(hosts) <= {"127.0.0.1"}
        # Dask's MALLOC_TRIM_THRESHOLD_ made every chunk's arrays mmapped afresh: a chunk
        # took 3x as long in a worker; the local cluster's workers start without it (glibc
        # reads the environment the process started with, even where an earlier cluster
        # left it in this process's environment)
        assert set(client.run(trim_threshold).values()) == {None}
    taken.close()


def test_a_local_cluster_after_another_still_starts_without_the_trim_threshold():
    pytest.importorskip("distributed")
    from lifecycle_opt.execution.dask_client import DaskClient
    from lifecycle_opt.execution.cluster import trim_threshold
    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"      # as an earlier cluster's nanny leaves it
    try:
        with DaskClient(None, 1) as client:
            assert set(client.run(trim_threshold).values()) == {None}
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"         # given back
    finally:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def test_a_local_worker_process_killed_mid_sweep_is_one_line_and_leaves_nothing(tmp_path):
    """JSON Lines are formatted in forked worker processes (Python text holds the GIL): one
    killed (as the out-of-memory killer would) ends the sweep with one line and exit 2, the
    old file intact, no temporary file, and no worker left behind."""
    psutil = pytest.importorskip("psutil")
    import signal
    out = tmp_path / "sweep.jsonl"
    out.write_text("the previous result\n")
    proc = subprocess.Popen([sys.executable, "-m", "lifecycle_opt.cli", "sweep", str(EXAMPLES / "small_corpus.toml"),
                             "--vary", "inference.tokens=1e9..1e15:log:3000000", "--no-progress", "--chunk", "4000",
                             "-o", str(out), "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    temps = lambda: [p for p in tmp_path.iterdir() if p.name.startswith(".sweep.jsonl.")]  # noqa: E731
    deadline = time.time() + 120
    while not (temps() and temps()[0].stat().st_size > 100_000):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.05)
    # the workers share the command's session; the file's guardian has a session of its own
    workers = [c for c in psutil.Process(proc.pid).children() if os.getsid(c.pid) == os.getsid(proc.pid)]
    assert len(workers) >= 2
    os.kill(workers[0].pid, signal.SIGKILL)
    stderr = proc.communicate(timeout=60)[1]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "worker process" in lines[0] and "smaller --chunk" in lines[0]
    assert out.read_text() == "the previous result\n"
    deadline = time.time() + 10
    while temps() and time.time() < deadline:
        time.sleep(0.05)
    assert temps() == []
    assert not [c for c in workers[1:] if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_chunks_fetched_ahead_come_in_order_errors_in_their_place_and_stop_with_the_reader():
    """A cluster's chunks are taken in a thread ahead of the writer: the order is kept, an
    error is raised after the chunks before it, and a writer that stops stops the thread
    and lets the source clean up (its `finally` runs)."""
    import threading
    from lifecycle_opt.execution.cluster import fetched_ahead

    def source(n, fail_at=None, closed=None):
        try:
            for i in range(n):
                if i == fail_at:
                    raise ClusterError("lost")
                yield i
        finally:
            if closed is not None:
                closed.set()

    assert list(fetched_ahead(source(50))) == list(range(50))
    seen = []
    with pytest.raises(ClusterError):
        for item in fetched_ahead(source(50, fail_at=7)):
            seen.append(item)
    assert seen == list(range(7))
    closed = threading.Event()
    reader = fetched_ahead(source(10_000, closed=closed))
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "lifeopt-sweep-fetch"]


@pytest.mark.parametrize("where", [(), ("--workers", "1")], ids=["forked workers", "local cluster"])
def test_ctrl_c_of_a_sweep_with_workers_is_one_line_and_leaves_the_old_file(tmp_path, where):
    """Ctrl-C reaches the whole process group, the sweep's workers too (forked ones that
    format JSON Lines, or a local Dask cluster's): the command says one line (no worker's
    KeyboardInterrupt traceback, no logs of cancelled tasks), and the previous file stays."""
    if where:
        pytest.importorskip("distributed")
    import signal
    import subprocess
    import sys
    import time
    from test_atomic import BIG_SWEEP, default_sigint
    out = tmp_path / "sweep.jsonl"
    out.write_text("the previous result\n")
    proc = subprocess.Popen([sys.executable, "-m", "lifecycle_opt.cli", *BIG_SWEEP, "--format", "jsonl", *where,
                             "-o", str(out), "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, text=True, preexec_fn=default_sigint)
    deadline = time.time() + 120
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".sweep.jsonl.")
                                          and p.stat().st_size > 50_000]:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)                  # as a terminal's Ctrl-C does
    stderr = proc.communicate(timeout=60)[1]
    # exit 130 as a shell gives a command stopped by Ctrl-C, and one line (click's abort
    # printed a blank line first and exit 1, the code of an infeasible plan)
    assert proc.returncode == 130
    assert stderr.splitlines() == ["error: interrupted"], stderr
    assert out.read_text() == "the previous result\n"


def test_a_scheduler_without_workers_is_one_line_and_exit_2():
    """A cluster fault, not our bug: the scatter's TimeoutError ("No valid workers found")
    was exit 70, an internal error."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, dashboard_address=None, silence_logs=50) as cluster:
        # the client waits for workers as long as for the scheduler: --connect-timeout
        out = run("sweep", CHAT, "--vary", "inference.requests=1e9,1e10", "--scheduler", cluster.scheduler_address,
                  "--connect-timeout", "1")
    line = one_line_error(out)
    assert "no Dask worker took the sweep" in line and "dask worker ADDRESS" in line
    # Dask's config gives distributed.client a level of its own: a lost scheduler was an
    # ERROR line of Dask's before the sweep's one line
    import logging
    assert logging.getLogger("distributed.client").level == logging.CRITICAL

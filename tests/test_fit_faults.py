"""The faults of `lifeopt fit` found by the adversarial pass of issue 32, each reproduced
first: runs that cannot identify a law, options that contradict each other or make no
sense, a simulation that ignored -o, an error that blamed the wrong option, outputs left
by an interrupt, memory and time without a bound, and a warning said a dozen times.
Each is one line naming what to fix, exit 2 (130 on Ctrl-C), never 70; nothing is left
half-written."""
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.fit import machine, simulate
from lifecycle_opt.fit.parametric import fit_law, start_grid
from lifecycle_opt.fit.runs import Runs, read_runs
from lifecycle_opt.model.presets import preset

from conftest import ROOT
from test_atomic import default_sigint
from test_parametric import synthetic_runs

LAW = preset("besiroglu2024")
FEW_STARTS = start_grid()[::9]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


def write_csv(path, runs: Runs, loss=True):
    cols = ("params,tokens,loss\n" if loss else "params,tokens\n")
    rows = "".join(f"{float(n)!r},{float(d)!r}" + (f",{float(v)!r}" if loss else "") + "\n"
                   for n, d, v in zip(runs.params, runs.tokens, runs.loss))
    path.write_text(cols + rows)
    return path


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    """The 8 × 8 ladder of test_parametric with 0.3 % noise (64 runs)."""
    return write_csv(tmp_path_factory.mktemp("runs") / "runs.csv", synthetic_runs(LAW, noise=0.003, seed=1))


def ladder(loss_of):
    """20 runs, 5 sizes × 4 token counts (as test_faults' fits), losses from ``loss_of``."""
    N = np.repeat(np.geomspace(1e8, 1e10, 5), 4)
    D = np.tile(np.geomspace(1e10, 1e12, 4), 5)
    return Runs(N, D, np.array([loss_of(i, n, d) for i, (n, d) in enumerate(zip(N, D))], float), "ladder")


# ------------------------------------------------------------------ identifiability
@pytest.mark.parametrize("pattern", [
    # exit 0 before, alpha = 2.6e-7 and B = 6.8e10; and exit 70 (ZeroDivisionError)
    lambda i, n, d: 2.0 + 1e-6 * (i < 10),
    lambda i, n, d: 2.0 + 1e-6 * ((1e8 / n) ** 0.3 + (1e10 / d) ** 0.3),
], ids=["step", "power law"])
def test_near_equal_losses_are_refused_naming_the_constants(tmp_path, pattern):
    path = write_csv(tmp_path / "near.csv", ladder(pattern))
    line = one_line_error(run("fit", path, "-o", tmp_path / "law.toml", "--workers", 1))
    assert "less than the 0.0001 a logged loss resolves" in line
    assert "A, B, alpha and beta are not identified" in line
    assert not (tmp_path / "law.toml").exists()


def test_runs_of_one_size_do_not_identify_the_fall_with_size():
    # every run at 1B parameters: any split of A/N^alpha and E fits as well (the full fit
    # passed before, with alpha = 0.98 from nowhere)
    runs = ladder(lambda i, n, d: float(LAW.loss(1e9, d)) * (1 + 0.003 * np.sin(7.0 * i)))
    runs = Runs(np.full(20, 1e9), runs.tokens, runs.loss, "one size")
    with pytest.raises(ScenarioError, match=r"A and alpha \(the fall of the loss with N\).*not identified"):
        fit_law(runs, starts=FEW_STARTS, workers=1)


def test_dropping_a_term_is_judged_by_the_likelihood_ratio():
    from lifecycle_opt.fit.objective import FitObjective
    from lifecycle_opt.fit.terms import CHI2_2_95, likelihood_ratio
    # squared errors: 2·ΔlogL = n·log(f0/f); 20 runs, f0 = 1.2 f gives 20·log 1.2 = 3.65
    stat = likelihood_ratio(1.0, 1.2, np.zeros(20), FitObjective("mse"), 20)
    assert stat == pytest.approx(20 * np.log(1.2)) and stat < CHI2_2_95
    assert likelihood_ratio(1.0, 1.5, np.zeros(20), FitObjective("mse"), 20) > CHI2_2_95
    assert likelihood_ratio(0.0, 1e-30, np.zeros(20), FitObjective("mse"), 20) == np.inf


# ------------------------------------------------------------------ options
def test_one_column_for_two_quantities_is_refused(runs_csv):
    # exit 0 before: alpha = 2 and A = 1, the parameters read as tokens
    line = one_line_error(run("fit", runs_csv, "--params-column", "params", "--tokens-column", "params"))
    assert "--tokens-column: expected a column of its own (column 'params' already holds the parameter" in line
    assert "--loss-column" in one_line_error(run("fit", runs_csv, "--loss-column", "tokens"))
    assert "--flops-column" in one_line_error(run("fit", runs_csv, "--flops-column", "tokens",
                                                  "--tokens-column", "tokens"))


@pytest.mark.parametrize("delta", ["1e-300", "0", "-1", "nan", "10"])
def test_a_huber_threshold_out_of_range_is_refused(runs_csv, delta):
    # 1e-300 gave exit 0 with E = 1.65, A = 0.999, alpha = 0.016: the optimiser never moved
    line = one_line_error(run("fit", runs_csv, "--delta", delta))
    assert line.startswith("error: --delta: expected a Huber threshold from 1e-06 to 1")


def test_runs_beyond_the_planners_range_are_refused(tmp_path):
    # a design at 1e300 parameters was simulated, exit 0, with a nonsense law
    runs = synthetic_runs(LAW)
    design = write_csv(tmp_path / "design.csv", Runs(runs.params * 1e290, runs.tokens, runs.loss), loss=False)
    line = one_line_error(run("fit", "--simulate", "besiroglu2024", "--noise", "0.5%", "--design", design))
    assert "row 2, column 'params': expected a parameter count from 1 to 1e+16" in line
    tiny = write_csv(tmp_path / "tiny.csv", Runs(runs.params * 1e-9, runs.tokens, runs.loss))
    assert "a parameter count from 1" in one_line_error(run("fit", tiny))
    (tmp_path / "flops.csv").write_text("params,flops,loss\n" + "1e9,1e40,2.0\n" * 5)
    assert "token count (C / 6N) from 1 to 1e+19" in one_line_error(run("fit", tmp_path / "flops.csv"))


@pytest.mark.parametrize("extra", [["-o", "law.toml"], ["--samples", "s.csv"], ["--plot", "fit.png"],
                                   ["--bootstrap", "10"], ["--drop-highest-loss", "3"], ["--workers", "1"],
                                   ["--polish", "bfgs"], ["--min-tokens-per-param", "5"]])
def test_simulate_refuses_what_it_would_not_use(tmp_path, runs_csv, extra, monkeypatch):
    # -o law.toml was accepted and nothing written, silently
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run("fit", "--simulate", "besiroglu2024", "--noise", "0.5%", "--design", runs_csv,
                              "--simulations", 2, *extra))
    assert line.startswith(f"error: {extra[0]}: expected no {extra[0]} with --simulate")
    assert list(tmp_path.iterdir()) == []


def test_too_few_runs_blame_the_option_that_left_them(runs_csv):
    # --drop-highest-loss 60 blamed --min-tokens-per-param, which was not given
    line = one_line_error(run("fit", runs_csv, "--drop-highest-loss", 60))
    assert line.startswith("error: --drop-highest-loss: expected at most 59 (at least 5 runs left")
    assert "--min-tokens-per-param" in one_line_error(run("fit", runs_csv, "--min-tokens-per-param", 1e6))
    assert "--max-tokens-per-param" in one_line_error(run("fit", runs_csv, "--max-tokens-per-param", 1e-3))
    both = one_line_error(run("fit", runs_csv, "--min-tokens-per-param", 3, "--drop-highest-loss", 55))
    assert both.startswith("error: --drop-highest-loss: expected at most")


# ------------------------------------------------------------------ interrupts
def _fit_process(tmp_path, runs_csv, workers, *extra):
    args = [sys.executable, "-m", "lifecycle_opt.cli", "fit", str(runs_csv), "--workers", str(workers),
            "--bootstrap", "100", "--samples", "s.csv", "--plot", "fit.png", "-o", "law.toml", "--progress", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint, env=env)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_fit_leaves_none_of_its_outputs(tmp_path, runs_csv, workers):
    if workers > machine.cores():
        pytest.skip("one core: no worker processes to stop")
    proc = _fit_process(tmp_path, runs_csv, workers)
    first = proc.stderr.readline()                 # the first quarter of the starts is done
    assert "starts" in first, first + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    started = time.perf_counter()
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 130 and rest.strip().splitlines()[-1] == "error: interrupted", rest
    assert "Traceback" not in rest and time.perf_counter() - started < 20     # the workers did not finish first
    time.sleep(0.5)                                # a guardian removes what a kill left
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_fit_interrupted_late_leaves_all_of_its_outputs_or_none(tmp_path, runs_csv):
    proc = _fit_process(tmp_path, runs_csv, 1)
    for line in proc.stderr:                       # once the bootstrap is done: the figure is drawn next
        if line.startswith("bootstrap"):
            break
    proc.send_signal(signal.SIGINT)
    proc.stderr.read()
    proc.wait(timeout=60)
    time.sleep(0.5)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in ([], ["fit.png", "law.toml", "s.csv"]), left
    if left:
        assert "samples = \"s.csv\"" in (tmp_path / "law.toml").read_text()
    else:
        assert proc.returncode == 130


# ------------------------------------------------------------------ memory and time
LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from lifecycle_opt.cli.app import main
sys.argv = ["lifeopt"] + sys.argv[1:]
main()
"""


def _limited(tmp_path, *args):
    """`lifeopt` in a child process whose address space is limited to 1 GiB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", LIMITED, *map(str, args)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)


def test_work_beyond_the_memory_is_refused_before_it_starts(tmp_path, runs_csv):
    # under 1 GiB, --simulations 100000 ended in exit 70 "MemoryError: Unable to allocate
    # 4.82 GiB"; without a limit, in the out-of-memory killer
    started = time.perf_counter()
    sim = _limited(tmp_path, "fit", "--simulate", "besiroglu2024", "--noise", "0.5%", "--design", runs_csv,
                   "--simulations", 100000)
    assert sim.returncode == 2 and sim.stderr.strip() == (
        "error: --simulations: expected at most 1,000 for a design of 64 runs (simulations × runs ≤ 64,000, "
        "about three minutes on two cores), found 100000"), sim.stderr
    boot = _limited(tmp_path, "fit", runs_csv, "--bootstrap", 100000)
    assert boot.returncode == 2 and boot.stderr.startswith(
        "error: --bootstrap: expected at most 46,875 resamples of 64 runs"), boot.stderr
    assert time.perf_counter() - started < 60


def test_workers_beyond_the_cores_are_refused(runs_csv):
    # 64 workers on 2 cores each held 512 MB of batches: the out-of-memory killer
    if machine.cores() >= 64:
        pytest.skip("a machine of 64 cores takes 64 workers")
    line = one_line_error(run("fit", runs_csv, "--workers", machine.cores() + 1))
    assert line == f"error: --workers: expected at most {machine.cores()} (the cores of this machine), " \
                   f"found {machine.cores() + 1}"


def test_the_memory_budget_follows_the_address_space_limit():
    code = ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (800 << 20, 800 << 20))\n"
            "from lifecycle_opt.fit.machine import memory_budget\nprint(memory_budget(1), memory_budget(4))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"})
    assert out.stdout.split() == [str(200 << 20), str(50 << 20)], out.stderr     # a quarter, shared by 4


def test_a_simulation_is_fitted_in_blocks_of_the_budget_with_the_same_answer(monkeypatch):
    design = synthetic_runs(LAW)
    whole = simulate.simulate_design(LAW, design, 0.005, 12, seed=3)
    seen = []
    real = simulate.batched_lbfgs

    def spy(fun, theta0, **kw):
        seen.append(len(theta0))
        return real(fun, theta0, **kw)
    monkeypatch.setattr(simulate, "batched_lbfgs", spy)
    # 4 copies × 101 starts × 64 runs × 16 arrays × 8 bytes fit in 3.4 MB
    monkeypatch.setattr(simulate, "memory_budget", lambda workers=1: 4 * 101 * 64 * 16 * 8)
    blocked = simulate.simulate_design(LAW, design, 0.005, 12, seed=3)
    assert max(seen) == 4 * 101 and len(seen) == 6
    for name in ("alpha", "beta", "E"):      # the same fits, to the optimiser's stopping tolerance
        np.testing.assert_allclose(blocked.fitted[name], whole.fitted[name], rtol=1e-4)


def test_more_runs_than_a_fit_finishes_in_minutes_are_refused_at_once(tmp_path):
    # 50,000 runs (the cap before) did not finish in 900 s; 3,000 took 3.3 minutes
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(8, 10, 3001), 10 ** rng.uniform(10, 12, 3001)
    path = write_csv(tmp_path / "many.csv", Runs(N, D, np.asarray(LAW.loss(N, D), float)))
    started = time.perf_counter()
    line = one_line_error(run("fit", path))
    assert "expected at most 3,000 runs to fit" in line and "found 3,001" in line
    assert time.perf_counter() - started < 30


def test_progress_reports_the_starts_done():
    calls = []
    fit_law(synthetic_runs(LAW).subset(slice(None, None, 2)), starts=start_grid()[::4], workers=1,
            progress=lambda d, t: calls.append((d, t)))
    assert calls == [(282, 1125), (563, 1125), (844, 1125), (1125, 1125)]      # four parts per process


# ------------------------------------------------------------------ warnings
def test_a_warning_in_a_loop_is_said_once(tmp_path):
    # 12 budgets of two sizes each: "Polyfit may be poorly conditioned" once per budget
    law = LAW
    rows = []
    for C in np.geomspace(1e18, 1e21, 12).tolist():
        for n in (1e8, 1e8, 3e8):
            rows.append((n, C / (6 * n), float(law.loss(n, C / (6 * n))) * (1 + 0.001 * float(np.sin(len(rows))))))
    path = tmp_path / "iso.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{n!r},{d!r},{v!r}\n" for n, d, v in rows))
    from lifecycle_opt.fit.isoflop import isoflop_fit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iso = isoflop_fit(read_runs(path))
    assert caught == [] and iso is None                   # no budget has three sizes
    code = ("import warnings\nfrom lifecycle_opt.cli.app import _one_line_warnings\n_one_line_warnings()\n"
            "warnings.simplefilter('always')\nfor i in range(12):\n    warnings.warn('the same text')\n"
            "warnings.warn('the same text')\nwarnings.warn('another')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.stderr.splitlines() == ["warning: the same text", "warning: another"], proc.stderr

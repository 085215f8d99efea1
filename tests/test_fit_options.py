"""The options of `lifeopt fit`: the loss summed over log residuals (huber, mse, mae), the
tokens-per-parameter cutoffs on the runs used, and a final BFGS or Newton polish; each on
synthetic runs whose law is known."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.fit.parametric import FitObjective, _features, fit_law, huber_objective, start_grid
from lifecycle_opt.fit.runs import Runs
from lifecycle_opt.model.presets import preset

from test_parametric import synthetic_runs

LAW = preset("besiroglu2024")
FEW_STARTS = start_grid()[::9]          # 500 of the 4,500: enough for synthetic runs, and fast


@pytest.mark.parametrize("loss", ["huber", "mse", "mae"])
def test_each_loss_recovers_a_known_law_from_clean_runs(loss):
    result = fit_law(synthetic_runs(LAW), starts=FEW_STARTS, objective=FitObjective(loss), workers=1)
    for name in ("E", "A", "B", "alpha", "beta"):
        assert getattr(result.law, name) == pytest.approx(getattr(LAW, name), rel=3e-3), (loss, name)
    assert result.fit_objective.loss == loss
    assert FitObjective(loss).describe() in result.law.source


@pytest.mark.parametrize("loss", ["huber", "mse", "mae"])
def test_gradients_match_finite_differences(loss):
    runs = synthetic_runs(LAW, noise=0.01, seed=2)
    x, z, y = _features(runs)
    theta = np.array([6.0, 7.5, 0.6, 0.35, 0.37])
    f, g = huber_objective(theta[None, :], x, z, y, delta=5e-3, loss=loss)
    step = 1e-6
    for k in range(5):
        e = np.zeros(5)
        e[k] = step
        fd = (huber_objective((theta + e)[None, :], x, z, y, delta=5e-3, loss=loss, grad=False)[0]
              - huber_objective((theta - e)[None, :], x, z, y, delta=5e-3, loss=loss, grad=False)[0]) / (2 * step)
        assert g[0, k] == pytest.approx(fd, rel=1e-5, abs=1e-9), (loss, k)


def test_robust_losses_shrug_off_outliers_that_pull_least_squares():
    runs = synthetic_runs(LAW)
    loss = runs.loss.copy()
    loss[[3, 20, 41]] *= 1.25                             # three runs logged wrongly
    dirty = Runs(runs.params, runs.tokens, loss, "dirty")
    fits = {name: fit_law(dirty, starts=FEW_STARTS, objective=FitObjective(name), workers=1).law
            for name in ("huber", "mae", "mse")}
    err = {k: abs(v.alpha - LAW.alpha) + abs(v.beta - LAW.beta) for k, v in fits.items()}
    assert err["huber"] < 0.01 and err["mae"] < 0.01
    assert err["mse"] > 5 * max(err["huber"], err["mae"])


def test_cutoffs_leave_out_the_runs_outside_the_ratio():
    runs = synthetic_runs(LAW)
    ratio = runs.tokens / runs.params
    loss = np.where(ratio < 5, runs.loss * 1.1, runs.loss)   # the badly undertrained runs mis-measured
    kept = Runs(runs.params, runs.tokens, loss, "cut").within_tokens_per_param(5, None)
    assert len(kept) == int(np.sum(ratio >= 5)) and np.all(kept.tokens / kept.params >= 5)
    assert len(Runs(runs.params, runs.tokens, loss).within_tokens_per_param(5, 100)) == \
        int(np.sum((ratio >= 5) & (ratio <= 100)))
    result = fit_law(kept, starts=FEW_STARTS, workers=1)
    assert result.law.alpha == pytest.approx(LAW.alpha, rel=3e-3)
    assert result.law.beta == pytest.approx(LAW.beta, rel=3e-3)


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_final_polish_never_raises_the_objective_and_reaches_a_stationary_point(method):
    runs = synthetic_runs(LAW, noise=0.004, seed=5)
    plain = fit_law(runs, starts=FEW_STARTS, workers=1, objective=FitObjective("mse"))
    polished = fit_law(runs, starts=FEW_STARTS, workers=1, objective=FitObjective("mse"), polish=method)
    name, before, after = polished.final_polish
    assert name == method and after <= before and before == pytest.approx(plain.objective, rel=1e-12)
    assert polished.objective <= plain.objective
    x, z, y = _features(runs)
    _, g = huber_objective(polished.theta[None, :], x, z, y, loss="mse")
    assert np.max(np.abs(g)) < 1e-7


def test_cli_options_and_their_errors(tmp_path):
    runs = synthetic_runs(LAW, noise=0.003, seed=1)
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{float(n)!r},{float(d)!r},{float(l)!r}\n"
                                                     for n, d, l in zip(runs.params, runs.tokens, runs.loss)))
    cli_runner = CliRunner()
    out = cli_runner.invoke(cli, ["fit", str(path), "--loss", "mse", "--min-tokens-per-param", "3",
                                  "--polish", "newton", "--format", "json", "--workers", "1"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["fit_loss"] == "mse" and doc["fit_delta"] is None
    assert doc["final_polish"]["method"] == "newton"
    assert doc["runs"] == int(np.sum(runs.tokens / runs.params >= 3))
    bad = cli_runner.invoke(cli, ["fit", str(path), "--loss", "mse", "--delta", "0.01"])
    assert bad.exit_code == 2 and "--delta" in bad.output
    few = cli_runner.invoke(cli, ["fit", str(path), "--min-tokens-per-param", "1e6"])
    assert few.exit_code == 2 and "at least 5 runs" in few.output


def test_approach_two_bounds_the_span_of_a_budget():
    from lifecycle_opt.fit.isoflop import compute_groups
    logc = np.arange(19.0, 20.0001, 0.04)                  # a chain: every gap under 0.05 decades
    assert len(compute_groups(logc, max_span_decades=np.inf)) == 1
    groups = compute_groups(logc)
    assert len(groups) > 1 and sum(len(g) for g in groups) == len(logc)
    assert all(logc[g].max() - logc[g].min() <= 0.2 + 1e-12 for g in groups)
    # well separated budgets stay as they are
    spaced = np.repeat([19.0, 19.5, 20.0], 4) + np.tile([0.0, 0.01, 0.02, 0.03], 3)
    assert [len(g) for g in compute_groups(spaced)] == [4, 4, 4]


def test_approach_two_on_epoch_points_splits_the_long_chain():
    from conftest import VALIDATION
    from lifecycle_opt.fit.isoflop import isoflop_fit
    from lifecycle_opt.fit.runs import read_runs
    path = VALIDATION / "chinchilla_fig4_extracted.csv"
    if not path.exists():
        pytest.skip(f"validation data not found at {path}")
    runs = read_runs(path).without_highest_loss(5)
    loose, bounded = isoflop_fit(runs, max_span_decades=np.inf), isoflop_fit(runs)
    spans = [np.log10(hi / lo) for lo, hi, _, _ in bounded.groups]
    assert max(spans) <= 0.2 + 1e-9
    assert max(np.log10(hi / lo) for lo, hi, _, _ in loose.groups) > 0.9    # 1.58e19 … 1.48e20 as one
    assert len(bounded.budgets) > len(loose.budgets)
    assert sum(n for _, _, n, _ in bounded.groups) == len(runs)
    # Hoffmann et al. 2022 report a = 0.49 and b = 0.51 for Approach 2
    assert bounded.a == pytest.approx(0.49, abs=0.05) and bounded.a + bounded.b == pytest.approx(1.0)


def test_simulate_recovers_a_known_law_within_its_own_spread():
    from lifecycle_opt.fit.simulate import simulate_design
    design = synthetic_runs(LAW)
    study = simulate_design(LAW, design, 0.005, 60, seed=4)
    for name in ("alpha", "beta", "E", "A", "B"):
        lo, mid, hi = study.quantiles(study.fitted[name])
        assert lo <= study.true_value(name) <= hi, name
        assert mid == pytest.approx(study.true_value(name), rel=0.02), name
    for c, values in study.ratios.items():
        lo, _, hi = study.quantiles(values)
        assert lo <= study.true_ratio(c) <= hi, c
    # the spread is the noise's doing: four times the noise, a wider spread
    loud = simulate_design(LAW, design, 0.02, 60, seed=4)
    width = lambda s: np.subtract(*s.quantiles(s.fitted["alpha"])[::-2])    # noqa: E731
    assert width(loud) > 2 * width(study)
    # ... and with no noise every copy fits the law itself
    exact = simulate_design(LAW, design, 1e-12, 5, seed=4)
    assert np.allclose(exact.fitted["alpha"], LAW.alpha, rtol=1e-6)


def test_cli_simulate(tmp_path):
    design = synthetic_runs(LAW)
    path = tmp_path / "design.csv"
    path.write_text("params,tokens\n" + "".join(f"{float(n)!r},{float(d)!r}\n"
                                               for n, d in zip(design.params, design.tokens)))
    runner = CliRunner()
    out = runner.invoke(cli, ["fit", "--simulate", "besiroglu2024", "--noise", "0.5%", "--design", str(path),
                              "--simulations", "20", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["simulations"] == 20 and doc["runs"] == 64
    assert doc["constants"]["alpha"]["true"] == LAW.alpha
    law_file = tmp_path / "law.toml"
    law_file.write_text('[law]\nE = 1.8172\nA = 482.01\nB = 2085.43\nalpha = 0.3478\nbeta = 0.3658\n')
    table = runner.invoke(cli, ["fit", "--simulate", str(law_file), "--noise", "0.01", "--design", str(path),
                                "--simulations", "10"])
    assert table.exit_code == 0 and "true inside" in table.output
    for args, key in ((["--noise", "0.5%", "--design", str(path)], "--simulate"),
                      (["--simulate", "nolaw", "--noise", "0.5%", "--design", str(path)], "--simulate"),
                      (["--simulate", "besiroglu2024", "--noise", "150%", "--design", str(path)], "--noise")):
        bad = runner.invoke(cli, ["fit", *args])
        assert bad.exit_code == 2 and key in bad.output, bad.output


def test_fit_figure_shows_the_runs_the_frontier_and_the_residuals(tmp_path):
    pytest.importorskip("matplotlib")
    from lifecycle_opt.outputs.fit_plots import fit_figure
    runs = synthetic_runs(LAW, noise=0.003, seed=2)
    result = fit_law(runs, starts=FEW_STARTS, workers=1)
    fig = fit_figure(result)
    ax, res = fig.axes[:2]                                  # then the colour bar
    (points,) = [c for c in ax.collections if c.get_gid() == "runs"]
    assert np.allclose(points.get_offsets(), np.column_stack([runs.params, runs.tokens]))
    (frontier,) = [line for line in ax.get_lines() if line.get_gid() == "frontier"]
    n, d = frontier.get_xdata(), frontier.get_ydata()
    n_opt, d_opt = result.law.compute_optimal(6 * n * d)
    assert np.allclose(n, n_opt) and np.allclose(d, d_opt)
    (dots,) = [c for c in res.collections if c.get_gid() == "residuals"]
    assert np.allclose(dots.get_offsets()[:, 1], result.residuals)
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n"
                                                     for a, b, c in zip(runs.params, runs.tokens, runs.loss)))
    out = CliRunner().invoke(cli, ["fit", str(path), "--plot", str(tmp_path / "fit.png"), "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _repeated_runs(R_D=15.0, R_N=5.0, noise=0.0, seed=0):
    from lifecycle_opt.model.laws import repetition_effective
    N = np.repeat(np.geomspace(1e8, 3e9, 6), 6)
    U = np.tile(np.geomspace(2e9, 2e10, 6), 6)
    D = U * np.repeat([1.5, 3, 6, 12, 25, 50], 6)
    N_eff, D_eff = repetition_effective(N, D, U, R_D, R_N, LAW.G, LAW.beta / LAW.alpha)[:2]
    loss = np.asarray(LAW.loss(N_eff, D_eff), dtype=float)
    if noise:
        loss = loss * np.exp(np.random.default_rng(seed).normal(0, noise, loss.shape))
    return Runs(N, D, loss, "repeated", U)


def test_repetition_constants_come_back_from_runs_that_repeat_data():
    from lifecycle_opt.fit.repetition import fit_repetition, repetition_bootstrap
    exact = fit_repetition(LAW, _repeated_runs(15.0, 5.0))
    assert exact.R_D_star == pytest.approx(15.0, rel=1e-6) and exact.R_N_star == pytest.approx(5.0, rel=1e-6)
    other = fit_repetition(LAW, _repeated_runs(40.0, 2.0))
    assert other.R_D_star == pytest.approx(40.0, rel=1e-5) and other.R_N_star == pytest.approx(2.0, rel=1e-5)
    noisy = repetition_bootstrap(fit_repetition(LAW, _repeated_runs(15.0, 5.0, noise=0.003, seed=2)), 300, seed=1)
    lo, hi = noisy.interval("R_D_star")
    assert lo <= 15.0 <= hi and hi / lo < 1.5


def test_cli_fits_the_base_law_on_fresh_runs_and_the_penalty_on_repeated_ones(tmp_path):
    fresh, repeated = synthetic_runs(LAW), _repeated_runs()
    lines = ["params,tokens,loss,unique_tokens"]
    lines += [f"{float(n)!r},{float(d)!r},{float(l)!r}," for n, d, l in zip(fresh.params, fresh.tokens, fresh.loss)]
    lines += [f"{float(n)!r},{float(d)!r},{float(l)!r},{float(u)!r}"
              for n, d, l, u in zip(repeated.params, repeated.tokens, repeated.loss, repeated.unique)]
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    out = CliRunner().invoke(cli, ["fit", str(path), "--format", "json", "--workers", "1",
                                   "-o", str(tmp_path / "law.toml")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["runs"] == len(fresh)
    assert doc["law"]["alpha"] == pytest.approx(LAW.alpha, rel=3e-3)
    assert doc["repetition"]["R_D_star"] == pytest.approx(15.0, rel=1e-3)
    assert doc["repetition"]["R_N_star"] == pytest.approx(5.0, rel=1e-3)
    assert "R_D_star = " in (tmp_path / "law.toml").read_text()

"""The downstream mapping of Gadre et al. 2024 (arXiv 2403.08540), Err(L) = ε − k·exp(−γ·L):
the function and its inverse, its fit recovered from data drawn from known constants and
checked against scipy's curve_fit on Sardana et al.'s 47 runs, the [downstream] file, and
`lifeopt fit` on runs with an error column."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.fit.downstream import downstream_bootstrap, downstream_toml, fit_downstream, read_downstream
from lifecycle_opt.fit.runs import read_runs
from lifecycle_opt.model.downstream import DownstreamMap, DownstreamTableError, downstream_from_table

from conftest import EXAMPLES

SARDANA = EXAMPLES / "runs" / "sardana2024_runs.csv"
#: the constants of the issue's example scenario (issue 29)
KNOWN = DownstreamMap(0.85, 2.0, 0.6)


@given(st.floats(0.5, 8.0), st.floats(0.3, 1.0), st.floats(0.05, 5.0), st.floats(0.05, 3.0))
def test_the_inverse_gives_the_loss_back_and_the_error_rises_with_the_loss(loss, epsilon, k, gamma):
    m = DownstreamMap(epsilon, k, gamma)
    err = float(m.error(loss))
    assert err < epsilon
    if err > m.lowest_error + 1e-9 and epsilon - err > 1e-9 * epsilon:
        assert float(m.loss_for_error(err)) == pytest.approx(loss, rel=1e-6)
    assert float(m.error(loss * 1.01)) > err                     # monotone: a target error is a target loss


def test_unreachable_errors_say_why():
    with pytest.raises(ValueError, match=r"an error of 0.85 is out of reach .* between 0 \(zero loss\) and 0.85"):
        KNOWN.loss_for_error(0.85)                               # ε itself: no learning reaches it from below
    steep = DownstreamMap(0.8, 0.5, 1.0)                         # ε − k = 0.3: zero loss
    with pytest.raises(ValueError, match="between 0.3 .*and 0.8"):
        steep.loss_for_error([0.5, 0.2])
    assert float(steep.loss_for_error(0.5)) == pytest.approx(-math.log(0.3 / 0.5))
    with pytest.raises(ValueError, match="k must be a positive"):
        DownstreamMap(0.8, -1.0, 1.0)


def test_the_fit_recovers_known_constants():
    loss = np.random.default_rng(0).uniform(2.0, 4.5, 60)
    exact = fit_downstream(loss, KNOWN.error(loss))
    for name in ("epsilon", "k", "gamma"):
        assert getattr(exact.mapping, name) == pytest.approx(getattr(KNOWN, name), rel=1e-8), name
    # with noise of 0.005 in the error: the truth within the 95 % intervals, both kinds
    noisy_err = KNOWN.error(loss) + np.random.default_rng(1).normal(0, 0.005, loss.size)
    noisy = downstream_bootstrap(fit_downstream(loss, noisy_err), 200, seed=2)
    for name in ("epsilon", "k", "gamma"):
        truth = getattr(KNOWN, name)
        lo, hi = noisy.interval(name)
        assert lo <= truth <= hi, (name, lo, hi)
        assert abs(getattr(noisy.mapping, name) - truth) <= 3 * noisy.standard_errors[name], name


def test_sardana_runs_fit_as_scipys_curve_fit_does():
    from scipy.optimize import curve_fit

    runs = read_runs(SARDANA)
    fit = fit_downstream(runs.loss, runs.error, source=runs.source)
    # an independent solver from the constants of the example
    p, cov = curve_fit(lambda L, e, k, g: e - k * np.exp(-g * L), runs.loss, runs.error, p0=[0.85, 2.0, 0.6],
                       maxfev=20000)
    assert [fit.mapping.epsilon, fit.mapping.k, fit.mapping.gamma] == pytest.approx(list(p), rel=1e-6)
    assert np.sqrt(np.diag(fit.covariance)) == pytest.approx(np.sqrt(np.diag(cov)), rel=1e-4)
    assert fit.mapping.fitted_loss_range == (runs.loss.min(), runs.loss.max())


def test_the_file_round_trips_and_its_reader_names_what_is_wrong(tmp_path):
    loss = np.linspace(2.0, 4.0, 30)
    fit = fit_downstream(loss, KNOWN.error(loss), source="known.csv")
    path = tmp_path / "downstream.toml"
    path.write_text(downstream_toml(fit, "known.csv"))
    back = read_downstream(path)
    assert (back.epsilon, back.k, back.gamma) == (fit.mapping.epsilon, fit.mapping.k, fit.mapping.gamma)
    assert back.fitted_loss_range == (2.0, 4.0) and "known.csv" in back.source
    cases = [("[law]\nE = 1.7\n", "downstream.file: expected a file with a [downstream] table"),
             ("[downstream]\nepsilon = 0.8\nk = -2\ngamma = 0.6\n", "downstream.k: expected a positive number, found -2"),
             ("[downstream]\nepsilon = 0.8\nk = 2\n", "downstream.gamma: expected a positive number"),
             ("[downstream]\nepsilon = 0.8\nk = 2\ngamma = 1\nslope = 3\n", "downstream.slope: expected only the keys"),
             ("[downstream\n", "downstream.file: expected a TOML file")]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
            read_downstream(path)
    with pytest.raises(ScenarioError, match="no such file"):
        read_downstream(tmp_path / "missing.toml")
    with pytest.raises(DownstreamTableError, match="downstream.fitted_min_loss"):
        downstream_from_table({"epsilon": 0.8, "k": 2, "gamma": 1, "fitted_min_loss": 3.0})


def test_cli_fits_the_mapping_from_an_error_column(tmp_path):
    starts = tmp_path / "starts.csv"                     # the law is not the subject here: two starts
    starts.write_text("E,A,B,alpha,beta\n1.8172,482.01,2085.43,0.3478,0.3658\n1.5,40,130,0.2,0.23\n")
    out = CliRunner().invoke(cli, ["fit", str(SARDANA), "--format", "json", "--bootstrap", "50", "--workers", "1",
                                   "--starts", str(starts), "-o", str(tmp_path / "fit.toml")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)["downstream"]
    assert set(doc) >= {"epsilon", "k", "gamma", "intervals_95", "standard_errors"}
    for name in ("epsilon", "k", "gamma"):
        lo, hi = doc["intervals_95"][name]
        assert lo < doc[name] < hi
    assert doc["interval_method"] == "bootstrap" and doc["runs"] == 47
    mapping = read_downstream(tmp_path / "fit.toml")               # the -o file serves [downstream] file = too
    assert mapping.gamma == doc["gamma"]
    assert "[law]" in (tmp_path / "fit.toml").read_text()
    text = CliRunner().invoke(cli, ["fit", str(SARDANA), "--workers", "1", "--starts", str(starts)])
    assert "DOWNSTREAM ERROR (Gadre et al. 2024)" in text.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("params,tokens,loss,accuracy_err\n" + "".join(f"{n},{20 * n},{2 + 1e3 / n ** 0.3},{e}\n" for n, e in
                                                                  zip((1e8, 2e8, 4e8, 8e8, 1.6e9), (0.9, 0.8, 1.7, 0.6, 0.5))))
    wrong = CliRunner().invoke(cli, ["fit", str(bad), "--error-column", "accuracy_err"])
    assert wrong.exit_code == 2
    assert "row 4, column 'accuracy_err': expected an error rate from 0 to 1" in wrong.stderr


def test_errors_that_do_not_rise_with_the_loss_or_do_not_curve_are_refused():
    loss = np.linspace(2.0, 3.5, 12)
    for error, message in ((np.full(12, 0.5), "errors that fall as the loss falls"),
                           (0.9 - 0.1 * loss, "errors that fall as the loss falls"),
                           (0.2 + 0.1 * loss, "errors whose curve in the loss the runs pin down")):
        with pytest.raises(ScenarioError, match=message):
            fit_downstream(loss, error, source="runs.csv")
    with pytest.raises(ScenarioError, match="at least 4 runs with a benchmark error"):
        fit_downstream(loss[:5], np.array([0.6, np.nan, 0.5, 0.45, np.nan]))

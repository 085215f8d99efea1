"""The likelihood fit of Besiroglu et al. 2024 (arXiv 2404.10102): their published constants
and likelihoods on Epoch AI's 240 points, least squares as the normal-error case with
standard errors that match the spread of simulated refits, and the command's outputs."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.fit.likelihood import _fisher_factors, fit_likelihood, huber_normaliser, profile_sigma
from lifecycle_opt.fit.parametric import FitObjective, batched_lbfgs, fit_law, huber_objective, start_grid
from lifecycle_opt.fit.runs import read_runs
from lifecycle_opt.model.laws import ChinchillaLaw
from lifecycle_opt.model.presets import preset

from conftest import VALIDATION
from test_parametric import synthetic_runs

EPOCH = VALIDATION / "chinchilla_fig4_extracted.csv"
needs_epoch = pytest.mark.skipif(not EPOCH.exists(), reason=f"validation data not found at {EPOCH} "
                                 "(../shared/validation/, beside the project)")
#: Hoffmann et al. 2022's fit before rounding, as Besiroglu et al.'s notebook holds it (a, b, e, α, β);
#: their likelihood fit starts there
HOFFMANN_THETA = [6.0073404, 6.0179186, 0.5267228, 0.33917084, 0.2849083]
HOFFMANN = ChinchillaLaw(E=math.exp(0.5267228), A=math.exp(6.0073404), B=math.exp(6.0179186), alpha=0.33917084,
                         beta=0.2849083, name="hoffmann2022 unrounded (Besiroglu et al.'s notebook)")


@pytest.fixture(scope="module")
def besiroglu():
    runs = read_runs(EPOCH).without_highest_loss(5)
    return fit_likelihood(runs, errors="huber", starts=np.array([HOFFMANN_THETA]), workers=1)


@needs_epoch
def test_constants_are_besiroglus_to_their_printed_digits(besiroglu):
    law = besiroglu.result.law
    assert len(besiroglu.result.runs) == 240
    # their notebook (epoch-research/analyzing-chinchilla, data_analysis.ipynb, "Parameter
    # estimates and their standard errors") prints A 482.00572, B 2085.43420, E 1.81686,
    # alpha 0.34781, beta 0.36585: the maximum of this likelihood
    assert round(law.A, 5) == 482.00572 and round(law.B, 5) == 2085.43420
    assert round(law.E, 5) == 1.81686 and round(law.alpha, 5) == 0.34781 and round(law.beta, 5) == 0.36585
    # the paper (arXiv 2404.10102, and docs/model.md's besiroglu2024 preset) prints A 482.01,
    # B 2085.43, E 1.82, alpha 0.3478 — and beta 0.3658, one unit below 0.365854 rounded
    assert (round(law.A, 2), round(law.B, 2), round(law.E, 2), round(law.alpha, 4)) == (482.01, 2085.43, 1.82, 0.3478)
    assert abs(law.beta - 0.3658) <= 1e-4


@needs_epoch
def test_likelihoods_and_the_ratio_test_are_besiroglus(besiroglu):
    # their notebook's "Likelihood test" cells: log-likelihoods 879.77 (their fit), 837.78
    # (Hoffmann et al. unrounded), 562.25 (as printed in Hoffmann et al.), each with its own
    # fitted scale; likelihood ratio 84.00 with 5 df, p = 1.22e-16
    assert round(besiroglu.log_likelihood, 2) == 879.77
    unrounded, printed = besiroglu.compare(HOFFMANN), besiroglu.compare(preset("hoffmann2022"))
    assert round(unrounded["log_likelihood"], 2) == 837.78 and round(printed["log_likelihood"], 2) == 562.25
    assert round(unrounded["lr_statistic"], 2) == 84.00 and unrounded["df"] == 5
    assert unrounded["lr_p_value"] == pytest.approx(1.22e-16, abs=0.005e-16)
    # goodness of fit: AIC and BIC by their definitions, six fitted (five constants and sigma)
    assert besiroglu.parameters == 6
    assert besiroglu.aic == pytest.approx(12 - 2 * besiroglu.log_likelihood)
    assert besiroglu.bic == pytest.approx(6 * math.log(240) - 2 * besiroglu.log_likelihood)
    # the fit against itself: no difference
    same = besiroglu.compare(besiroglu.result.law)
    assert same["lr_statistic"] == pytest.approx(0.0, abs=1e-6) and same["wald_chi2"] == pytest.approx(0.0, abs=1e-9)


def test_huber_density_constants_are_those_of_its_definition():
    from scipy.integrate import quad

    d = 1e-3
    h = lambda t: 0.5 * t * t if abs(t) <= d else d * (abs(t) - 0.5 * d)                # noqa: E731
    # Z = ∫ exp(−huber(t)) dt, and the per-run information E[ψ²], E[(ψ·t − 1)²] by direct integration
    pieces = [(0, d), (d, 50 / d)]
    Z = 2 * sum(quad(lambda t: math.exp(-h(t)), a, b, limit=200)[0] for a, b in pieces)
    assert huber_normaliser(d) == pytest.approx(Z, rel=1e-9)
    psi = lambda t: max(-d, min(d, t))                                                   # noqa: E731
    e_psi2 = 2 * sum(quad(lambda t: psi(t) ** 2 * math.exp(-h(t)), a, b, limit=200)[0] for a, b in pieces) / Z
    e_score = 2 * sum(quad(lambda t: (psi(t) * t - 1) ** 2 * math.exp(-h(t)), a, b, limit=200)[0]
                      for a, b in pieces) / Z
    assert _fisher_factors("huber") == pytest.approx((e_psi2, e_score), rel=1e-6)
    assert _fisher_factors("normal") == (1.0, 2.0)              # the normal distribution's


def test_normal_likelihood_is_least_squares_with_standard_errors_that_match_simulation():
    law = preset("besiroglu2024")
    runs = synthetic_runs(law, noise=0.01, seed=3)
    fit = fit_likelihood(runs, errors="normal", starts=start_grid()[::45], workers=1)
    lsq = fit_law(runs, objective=FitObjective("mse"), starts=start_grid()[::45], workers=1)
    assert np.allclose(fit.result.theta, lsq.theta, rtol=1e-7, atol=1e-9)      # the MLE is least squares
    assert fit.sigma == pytest.approx(math.sqrt(np.mean(fit.result.residuals ** 2)), rel=1e-9)
    assert profile_sigma(fit.result.residuals, "normal")[1] == pytest.approx(fit.log_likelihood, rel=1e-12)
    # the standard errors against the spread of least-squares refits of 300 copies drawn from
    # the fitted law with the fitted sigma (a parametric bootstrap: independent of the Hessian)
    x, z, clean = np.log(runs.params), np.log(runs.tokens), fit.result.residuals + np.log(runs.loss)
    Y = clean[None, :] + np.random.default_rng(5).normal(0.0, fit.sigma, (300, clean.size))
    with np.errstate(all="ignore"):
        theta, _, _ = batched_lbfgs(lambda t, rows, grad=True: huber_objective(t, x, z, Y[rows], loss="mse", grad=grad),
                                    np.tile(fit.result.theta, (300, 1)), gtol=1e-10, ftol=1e-13, fscale=0.0, patience=3)
    spread = {"alpha": theta[:, 3].std(), "beta": theta[:, 4].std(), "E": np.exp(theta[:, 2]).std(),
              "A": np.exp(theta[:, 0]).std()}
    se = fit.standard_errors
    for name, value in spread.items():
        assert se[name] == pytest.approx(value, rel=0.2), name
    assert fit.information == "observed"


def test_cli_likelihood_and_its_errors(tmp_path):
    runs = synthetic_runs(preset("besiroglu2024"), noise=0.005, seed=1)
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n"
                                                     for a, b, c in zip(runs.params, runs.tokens, runs.loss)))
    starts = tmp_path / "starts.csv"                   # the user's start grid: two published laws
    starts.write_text("E,A,B,alpha,beta\n1.8172,482.01,2085.43,0.3478,0.3658\n1.69,406.4,410.7,0.34,0.28\n")
    out = CliRunner().invoke(cli, ["fit", str(path), "--likelihood", "huber", "--compare", "hoffmann2022",
                                   "--format", "json", "--starts", str(starts), "-o", str(tmp_path / "law.toml")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    lk = doc["likelihood"]
    assert lk["errors"] == "huber" and lk["parameters"] == 6 and lk["information"] == "expected"
    assert set(lk["standard_errors"]) == {"E", "A", "B", "alpha", "beta", "sigma"}
    assert all(v > 0 for v in lk["standard_errors"].values())
    assert lk["comparisons"][0]["law"] == "hoffmann2022" and lk["comparisons"][0]["lr_statistic"] > 0
    assert "maximum likelihood, huber errors" in doc["method"]
    assert "maximum likelihood" in (tmp_path / "law.toml").read_text()
    assert doc["law"]["alpha"] == pytest.approx(0.3478, rel=0.02) and doc["starts"] == 2
    text = CliRunner().invoke(cli, ["fit", str(path), "--likelihood", "normal", "--starts", str(starts)])
    assert text.exit_code == 0 and "MAXIMUM LIKELIHOOD" in text.stdout and "observed information" in text.stdout
    for args, message in ((["--compare", "hoffmann2022"], "--compare: expected --likelihood too"),
                          (["--likelihood", "huber", "--loss", "mse"], "--loss: expected no value with --likelihood"),
                          (["--likelihood", "huber", "--polish", "bfgs"], "--polish: expected no value")):
        bad = CliRunner().invoke(cli, ["fit", str(path), *args])
        assert bad.exit_code == 2 and message in bad.stderr, (args, bad.output)

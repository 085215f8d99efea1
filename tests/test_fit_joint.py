"""`lifeopt fit` on runs with an experts column: the joint dense/MoE law of Ludziejewski et
al. 2025 (arXiv 2502.05172) fitted back from runs drawn from its preset on a layout like
theirs (E 1-32, 50M-2.7B active parameters, 0.5B-80B tokens; examples/runs/make_moe.py),
its bootstrap, the law file a scenario reads with [moe] experts, and the errors."""
import copy
import importlib.util
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.fit import joint
from lifecycle_opt.fit.joint import (JOINT_CONSTANTS, bootstrap_joint, fit_joint, joint_grid, joint_objective,
                                     joint_toml, theta_of)
from lifecycle_opt.fit.runs import Runs, read_runs
from lifecycle_opt.model.presets import joint_preset
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict

from conftest import EXAMPLES

LAW = joint_preset("ludziejewski2025")
EXAMPLE = EXAMPLES / "runs" / "moe_runs.csv"
FEW = 9                                    # every 9th start of the grid: 900 of 8,100


def _layout():
    spec = importlib.util.spec_from_file_location("make_moe", EXAMPLES / "runs" / "make_moe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.layout()


def preset_runs(noise=0.0, seed=0) -> Runs:
    """The runs of examples/runs/make_moe.py, losses from the preset (times exp(noise·ε))."""
    E, N, D = (np.array(v, float) for v in zip(*_layout()))
    L = np.array([float(LAW.at(e).loss(n, d)) for e, n, d in zip(E, N, D)])
    if noise:
        L = L * np.exp(np.random.default_rng(seed).normal(0, noise, L.size))
    return Runs(N, D, L, "preset runs", experts=E)


@pytest.fixture(scope="module")
def clean_fit():
    return fit_joint(preset_runs(), starts=joint_grid()[::FEW], workers=1)


@pytest.mark.parametrize("fit_transform", [False, True])
def test_gradient_matches_finite_differences(fit_transform):
    runs = preset_runs(0.01)
    x, z, y, E = np.log(runs.params), np.log(runs.tokens), np.log(runs.loss), runs.experts
    transform = None if fit_transform else joint.PAPER_TRANSFORM
    t = theta_of(LAW, fit_transform) + 0.01
    f, g = joint_objective(t[None], x, z, y, E, loss="mse", transform=transform)
    h = 1e-6
    for k in range(t.size):
        step = np.eye(t.size)[k] * h
        num = (joint_objective((t + step)[None], x, z, y, E, loss="mse", grad=False, transform=transform)[0]
               - joint_objective((t - step)[None], x, z, y, E, loss="mse", grad=False, transform=transform)[0]) / (2 * h)
        assert g[0, k] == pytest.approx(num, rel=1e-5, abs=1e-8), k


def test_the_layout_is_the_papers():
    # Ludziejewski et al. 2025 §4: E 1-32, top-1; up to 2.7B active and 5B total; 0.5B-80B tokens
    runs = preset_runs()
    assert sorted(set(runs.experts)) == [1, 2, 4, 8, 16, 32]
    assert runs.params.min() == pytest.approx(5e7) and runs.params.max() == pytest.approx(2.7e9)
    assert runs.tokens.min() == pytest.approx(5e8) and runs.tokens.max() == pytest.approx(8e10)
    from lifecycle_opt.model.moe import Mixture
    totals = [n * Mixture(int(e), 1).total_per_active for n, e in zip(runs.params, runs.experts)]
    assert max(totals) <= 5e9 * (1 + 1e-9) and len(runs) == 160


def test_noise_free_runs_give_back_the_presets_constants(clean_fit):
    # truth: the preset (Table 3); the fit ends with scipy's least_squares on the residuals
    for k in JOINT_CONSTANTS:
        assert getattr(clean_fit.law, k) == pytest.approx(getattr(LAW, k), rel=1e-6), k
    assert clean_fit.objective < 1e-20 and not clean_fit.fit_transform


def test_noise_free_runs_give_back_e_start_and_e_max_when_fitted():
    # the transform's starts (E_start 1.5 or 3, E_max 64 or 1000) exclude the truth
    fit = fit_joint(preset_runs(), fit_transform=True, starts=joint_grid(True)[::FEW], workers=1)
    for k in JOINT_CONSTANTS:
        assert getattr(fit.law, k) == pytest.approx(getattr(LAW, k), rel=1e-6), k


def test_the_compute_optimal_plan_at_1e20_is_the_presets(clean_fit):
    # the preset at 1e20 FLOP, E = 1: 1.73e9 active parameters on 9.65e9 tokens (their
    # Table 1 rounds to 1.7B / 9.7B; docs/model.md §9); E = 8: 9.9e8 on 1.68e10
    for E in (1, 8, 32):
        n, d, loss = clean_fit.compute_optimal(1e20, E)
        n0, d0 = LAW.at(E).compute_optimal(1e20)
        assert n == pytest.approx(float(n0), rel=1e-6) and d == pytest.approx(float(d0), rel=1e-6)
    n, d, _ = clean_fit.compute_optimal(1e20, 1)
    assert n == pytest.approx(1.73e9, rel=3e-3) and d == pytest.approx(9.65e9, rel=3e-3)


def test_with_one_percent_noise_the_truth_lies_in_the_bootstrap_intervals():
    # examples/runs/moe_runs.csv: the layout above, 1 % noise (seed 0)
    runs = read_runs(EXAMPLE)
    fit = fit_joint(runs, starts=joint_grid()[::FEW], workers=1)
    boot = bootstrap_joint(fit, 100, seed=0, workers=1)
    for k in fit.free_constants:
        lo, hi = boot.interval(k)
        assert lo <= getattr(LAW, k) <= hi, (k, lo, hi)
    lo, hi = boot.allocation(1e20, 1)["params"]
    assert lo <= 1.727e9 <= hi


def test_the_law_file_is_a_joint_law_for_moe_experts(tmp_path, clean_fit):
    (tmp_path / "law.toml").write_text(joint_toml(clean_fit))
    (tmp_path / "moe.toml").write_text('name = "mine"\n[law]\nfile = "law.toml"\n[moe]\nexperts = [1, 8, 32]\n'
                                       '[objective]\nminimize = "loss"\n[budget]\ntraining_flops = 1e20\n')
    scenario = load_scenario(tmp_path / "moe.toml")
    assert scenario.joint_law is not None and scenario.joint_law.fitted_experts == (1, 32)
    plan = solve(scenario)
    raw = {"name": "preset", "law": {"preset": "ludziejewski2025"}, "moe": {"experts": [1, 8, 32]},
           "objective": {"minimize": "loss"}, "budget": {"training_flops": 1e20}}
    reference = solve(scenario_from_dict(raw))
    assert plan.as_dict()["experts"] == reference.as_dict()["experts"] == 32
    assert plan.params == pytest.approx(reference.params, rel=1e-6)
    assert plan.tokens == pytest.approx(reference.tokens, rel=1e-6)


TABLE = {"form": "joint_moe", "a": 35.91, "alpha": -0.1889, "delta": -0.2285, "gamma": 0.0098, "b": 35.98,
         "beta": -0.1775, "omega": 0.5529, "zeta": -0.0259, "E_start": 2.0732, "E_max": 290.4521, "c": 1.3637}


@pytest.mark.parametrize("change, key", [
    ({"zeta": None}, "law.zeta"), ({"E_max": 2.0}, "law.E_max"), ({"a": -1.0}, "law.a"),
    ({"E": 1.69}, "law.E"), ({"samples": "s.csv"}, "law.samples"), ({"form": "moe"}, "law.form"),
    ({"alpha": 0.2}, "law.alpha"), ({"gamma": 0.1}, "moe.experts[1]"),
])
def test_a_joint_table_names_the_key_it_gets_wrong(change, key):
    table = {k: v for k, v in {**TABLE, **change}.items() if v is not None}
    raw = {"name": "t", "law": table, "moe": {"experts": [1, 8]}, "objective": {"minimize": "loss"},
           "budget": {"training_flops": 1e20}}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(copy.deepcopy(raw))
    assert err.value.key == key, str(err.value)


def test_a_joint_constant_without_the_form_is_refused():
    raw = {"name": "t", "law": {"E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.3, "beta": 0.3, "omega": 0.5},
           "objective": {"minimize": "loss"}, "budget": {"training_flops": 1e20}}
    with pytest.raises(ScenarioError, match='law.omega: expected form = "joint_moe" with it'):
        scenario_from_dict(raw)


def test_the_cli_fits_writes_the_law_and_draws_the_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(joint, "joint_grid", lambda fit_transform=False: joint_grid(fit_transform)[::FEW])
    runs = preset_runs()
    path = tmp_path / "moe.csv"
    path.write_text("experts,params,tokens,loss\n" + "".join(
        f"{int(e)},{n!r},{d!r},{v!r}\n" for e, n, d, v in zip(runs.experts, runs.params.tolist(),
                                                              runs.tokens.tolist(), runs.loss.tolist())))
    out = CliRunner().invoke(cli, ["fit", str(path), "--workers", "1", "--format", "json", "-o",
                                   str(tmp_path / "law.toml"), "--plot", str(tmp_path / "fit.svg")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["form"] == "joint_moe" and doc["experts"] == [1, 2, 4, 8, 16, 32]
    for k in JOINT_CONSTANTS:
        assert doc["joint"][k] == pytest.approx(getattr(LAW, k), rel=1e-6)
    plan = next(p for p in doc["compute_optimal"] if p["flops"] == 1e20 and p["experts"] == 1)
    assert plan["params"] == pytest.approx(1.727e9, rel=1e-3)
    assert 'form = "joint_moe"' in (tmp_path / "law.toml").read_text()
    svg = (tmp_path / "fit.svg").read_text()
    assert all(f'id="frontier-{E}"' in svg and f'id="runs-{E}"' in svg for E in (1, 32))
    text = CliRunner().invoke(cli, ["fit", str(path), "--workers", "1"])
    assert "CONSTANTS" in text.output and "Ludziejewski et al." in text.output and "held" in text.output


def test_the_cli_refuses_what_a_joint_fit_does_not_take(tmp_path):
    runs = preset_runs(0.01)
    path = tmp_path / "moe.csv"
    rows = "".join(f"{int(e)},{n!r},{d!r},{v!r}\n" for e, n, d, v in zip(runs.experts, runs.params.tolist(),
                                                                         runs.tokens.tolist(), runs.loss.tolist()))
    path.write_text("experts,params,tokens,loss\n" + rows)

    def error(*args):
        out = CliRunner().invoke(cli, ["fit", *map(str, args)])
        assert out.exit_code == 2 and out.output.startswith("error: ") and len(out.output.splitlines()) == 1, \
            out.output
        return out.output
    assert "--samples: expected no --samples with an experts column" in error(path, "--bootstrap", 5, "--samples",
                                                                              tmp_path / "s.csv")
    assert "--tie-exponents" in error(path, "--tie-exponents")
    dense = tmp_path / "dense.csv"
    dense.write_text("params,tokens,loss\n" + "".join(r.split(",", 1)[1] for r in rows.splitlines(True)))
    assert "--fit-expert-transform: expected runs with an experts column" in error(dense, "--fit-expert-transform")
    one = tmp_path / "one.csv"
    one.write_text("experts,params,tokens,loss\n" + "".join("8," + r.split(",", 1)[1] for r in rows.splitlines(True)))
    assert "at least 2 different numbers of experts" in error(one)
    assert "at least 4 different" in error(one, "--fit-expert-transform")
    bad = tmp_path / "bad.csv"
    bad.write_text("experts,params,tokens,loss\n1.5,1e9,1e10,2.5\n" + rows)
    assert "row 2, column 'experts': expected a whole number of experts" in error(bad)


def test_the_example_file_is_what_its_script_makes(tmp_path):
    # examples/runs/moe_runs.csv is generated by examples/runs/make_moe.py; its losses are
    # the preset's within the 1 % noise (4 standard deviations)
    runs = read_runs(EXAMPLE)
    truth = np.array([float(LAW.at(e).loss(n, d)) for e, n, d in zip(runs.experts, runs.params, runs.tokens)])
    assert len(runs) == 160 and np.max(np.abs(np.log(runs.loss / truth))) < 0.04
    assert math.isclose(np.std(np.log(runs.loss / truth)), 0.01, rel_tol=0.15)

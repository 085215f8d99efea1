"""Every entry point gives the same plan: the Python API, `lifeopt solve`, `compare`, a
one-point sweep and the plot all go through one planning function, and the wrong answers
that paths around the core once gave stay fixed (one test each)."""
import dataclasses
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import lifecycle_opt
from lifecycle_opt import load_scenario
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.model.constants import SECONDS_PER_DAY
from lifecycle_opt.model.hardware import gpu
from lifecycle_opt.model.presets import preset
from lifecycle_opt.scenario.reader import scenario_from_dict

from conftest import EXAMPLES
from test_batch import random_raw

#: scenarios of the agreement across entry points (the full check: 200)
SCENARIOS = int(os.environ.get("LIFEOPT_ENTRY_SCENARIOS", "12"))


def toml_text(raw: dict) -> str:
    """A scenario dict as TOML (numbers by repr, so the file reads back bit for bit)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(v)

    lines = []

    def walk(prefix, table):
        flat = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {value(v)}" for k, v in flat)
        for k, v in table.items():
            if isinstance(v, dict):
                walk(f"{prefix}.{k}" if prefix else k, v)
    walk("", raw)
    return "\n".join(lines) + "\n"


def bootstrap_samples(path, law, count=30, seed=3):
    """A CSV of ``count`` laws near ``law`` (a few per cent of noise on each constant)."""
    rng = np.random.default_rng(seed)
    rows = ["E,A,B,alpha,beta"]
    for _ in range(count):
        E, A, B, al, be = (law.E, law.A, law.B, law.alpha, law.beta) * np.exp(rng.normal(0, 0.02, 5))
        rows.append(",".join(repr(float(x)) for x in (E, A, B, al, be)))
    path.write_text("\n".join(rows) + "\n")
    return path


def robust_raw(folder) -> dict:
    law = preset("besiroglu2024")
    bootstrap_samples(folder / "samples.csv", law)
    return {"name": "robust", "law": {"E": law.E, "A": law.A, "B": law.B, "alpha": law.alpha,
                                      "beta": law.beta, "samples": "samples.csv"},
            "target": {"loss": 2.2}, "inference": {"tokens": 1e12},
            "objective": {"minimize": "flops"},
            "robust": {"probability": 0.8, "distribution_samples": 10}}


def cli_json(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------ the wrong answers
def test_sweep_imported_from_the_package_is_the_function():
    # before: the package attribute was the submodule lifecycle_opt.sweep (TypeError on call)
    import lifecycle_opt.outputs.reports  # noqa: F401  (imports the sweep module too)
    from lifecycle_opt import sweep
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"target.loss": [1.95, 2.0]})
    assert callable(sweep) and [r["status"] for r in rows] == ["optimal", "optimal"]
    assert rows[0]["params"] > rows[1]["params"]          # a lower loss needs a larger model


def test_the_api_plans_a_robust_scenario_as_the_cli_does(tmp_path):
    # before: lifecycle_opt.solve ignored [robust] and [law] samples
    path = tmp_path / "robust.toml"
    path.write_text(toml_text(robust_raw(tmp_path)))
    api = lifecycle_opt.solve(load_scenario(path))
    assert api.uncertainty is not None and api.uncertainty.probability == 0.8
    assert api.uncertainty.achieved >= 0.8
    doc = cli_json("solve", str(path), "--format", "json")
    assert (doc["params"], doc["tokens"]) == (api.params, api.tokens)
    assert doc["uncertainty"]["point_params"] == api.uncertainty.point_params
    # the robust plan is larger than the point-estimate plan, so the two are distinguishable
    assert api.params > api.uncertainty.point_params * (1 + 1e-6) or \
        api.tokens > api.uncertainty.point_tokens * (1 + 1e-6)


def test_the_plot_draws_the_plan_that_solve_reports(tmp_path, monkeypatch):
    # before: `lifeopt plot` called the non-robust solver and starred another plan
    from lifecycle_opt.outputs import plots
    path = tmp_path / "robust.toml"
    path.write_text(toml_text(robust_raw(tmp_path)))
    drawn = []
    original = plots.plan_figure

    def spy(plans):
        fig = original(plans)
        drawn.extend(line for ax in fig.axes for line in ax.lines if line.get_gid() == "optimum")
        return fig
    monkeypatch.setattr(plots, "plan_figure", spy)
    result = CliRunner().invoke(cli, ["plot", str(path), "-o", str(tmp_path / "plan.png")])
    assert result.exit_code == 0, result.output
    api = lifecycle_opt.solve(load_scenario(path))
    assert [(float(d.get_xdata()[0]), float(d.get_ydata()[0])) for d in drawn] == [(api.params, api.tokens)]


def test_a_sweep_keeps_a_change_made_with_dataclasses_replace():
    # before: the sweep rebuilt the scenario from its file keys and dropped the new limit
    # (solve gave N = 8e9 under it, the sweep the unlimited 8.533e9)
    base = load_scenario(EXAMPLES / "chat_assistant.toml")
    changed = dataclasses.replace(base, limits=dataclasses.replace(base.limits, max_params=8e9))
    plan = lifecycle_opt.solve(changed)
    assert plan.params == pytest.approx(8e9, rel=1e-12)
    rows = lifecycle_opt.sweep(changed, {"inference.requests": [1e11, 2e11]})
    assert [r["status"] for r in rows] == ["optimal", "optimal"]
    assert rows[0]["params"] == pytest.approx(8e9, rel=1e-9)
    assert "max_params" in rows[0]["binding"].split(";")
    # where the axis changes a field, the axis wins; the unchanged scenario sweeps as before
    assert lifecycle_opt.sweep(base, {"inference.requests": [1e11]})[0]["params"] > 8.5e9


def test_a_sweep_axis_overrides_the_field_the_code_changed():
    base = load_scenario(EXAMPLES / "chat_assistant.toml")
    changed = dataclasses.replace(base, limits=dataclasses.replace(base.limits, max_params=8e9))
    row = lifecycle_opt.sweep(changed, {"limits.max_params": [7e9]})[0]
    assert row["params"] == pytest.approx(7e9, rel=1e-9)


def test_deployment_days_sets_the_serving_gpus_and_the_daily_rate():
    # before: inference.deployment_days was accepted and changed nothing
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
           "inference": {"tokens": 1e14},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0},
                        "inference": {"gpu": "H100", "mfu": 0.3, "price_per_gpu_hour": 2.0}}}
    plans = {}
    for days in (730, 7300, None):
        r = json.loads(json.dumps(raw))
        if days is not None:
            r["inference"]["deployment_days"] = days
        plans[days] = lifecycle_opt.solve(scenario_from_dict(r))
        if days is not None:
            assert plans[days].tokens_per_day == pytest.approx(1e14 / days, rel=1e-15)
            assert plans[days].as_dict()["tokens_per_day"] == pytest.approx(1e14 / days, rel=1e-15)
    for days in (730, 7300):
        N = plans[days].params
        # GPUs busy on average: 2·N FLOP per token at 30 % of the H100's 989.4 TFLOP/s,
        # over the hours of the deployment (by hand, not through the cost model)
        gpus = 2 * N * 1e14 / (989.4e12 * 0.3) / 3600 / (days * 24)
        assert plans[days].costs.serving_gpus == pytest.approx(gpus, rel=1e-12)
        assert plans[days].as_dict()["serving_gpus"] == pytest.approx(gpus, rel=1e-12)
    assert plans[730].costs.serving_gpus == pytest.approx(10 * plans[7300].costs.serving_gpus, rel=1e-9)
    assert plans[None].costs.serving_gpus is None


def test_csv_tables_hold_plain_numbers(tmp_path):
    # before: cash_flow.csv held np.float64(1.0), the repr of numpy scalars
    out = tmp_path / "tables"
    result = CliRunner().invoke(cli, ["solve", str(EXAMPLES / "finance_plan.toml"), "--csv-tables", str(out)])
    assert result.exit_code == 0, result.output
    texts = {p.name: p.read_text() for p in out.iterdir()}
    assert "cash_flow.csv" in texts
    assert not any("np." in t or "float64" in t for t in texts.values())
    factors = next(line for line in texts["cash_flow.csv"].splitlines() if line.startswith("discount factor"))
    # after the label, unit and total (and the years' totals, empty for a factor)
    values = [float(x) for x in factors.split(",")[3:] if x]
    assert values[0] == 1.0 and all(0 < a < b for a, b in zip(values[1:], values))


def test_a_loss_objective_is_bounded_by_the_deadline_times_the_gpus():
    # before: refused for want of a [budget]. The seed's example: 1,000 A100s for 30 days at
    # 40 % MFU is 3.2e23 FLOP, and the loss-optimal plan under that cap is the closed-form
    # compute-optimal plan of Hoffmann et al. 2022 at that budget.
    raw = {"law": {"preset": "hoffmann2022"}, "objective": {"minimize": "loss"},
           "hardware": {"training": {"gpu": "A100-40GB", "mfu": 0.4, "gpus": 1000}},
           "limits": {"max_training_days": 30}}
    plan = lifecycle_opt.solve(scenario_from_dict(raw))
    budget = 1000 * gpu("A100-40GB").peak("bf16") * 0.4 * 30 * SECONDS_PER_DAY
    assert budget == pytest.approx(3.2e23, rel=0.02)
    N, D = preset("hoffmann2022").compute_optimal(budget)
    assert plan.params == pytest.approx(float(N), rel=1e-9)
    assert plan.tokens == pytest.approx(float(D), rel=1e-9)
    assert [b.name for b in plan.binding] == ["max_training_days"]


def test_a_training_dollar_cap_bounds_a_loss_objective_too():
    raw = {"law": {"preset": "hoffmann2022"}, "objective": {"minimize": "loss"},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0}},
           "limits": {"max_training_cost": "$5M"}}
    plan = lifecycle_opt.solve(scenario_from_dict(raw))
    assert plan.costs.training_cost_usd == pytest.approx(5e6, rel=1e-9)


def test_a_loss_objective_without_any_cap_on_training_is_refused():
    with pytest.raises(ScenarioError, match=r"^budget: expected a \[budget\] .*max_training_days"):
        scenario_from_dict({"law": {"preset": "hoffmann2022"}, "objective": {"minimize": "loss"}})


# ------------------------------------------------------------------ one plan, every path
def _entry_point_scenarios(n, folder):
    """(path, raw, the API's plan of the file at path) of ``n`` random scenarios that
    certify, the first few robust plans (which only the exact path solves): each file
    solved once through the API, which is the first entry point compared."""
    rng = np.random.default_rng(2027)
    robust = max(1, n // 12)
    raws = [robust_raw(folder)] * robust
    out = []
    while len(out) < n:
        raw = raws[len(out)] if len(out) < robust else random_raw(rng)
        path = folder / f"s{len(out)}.toml"
        path.write_text(toml_text(raw))
        try:
            api = lifecycle_opt.solve(load_scenario(path))
        except lifecycle_opt.LifecycleError:
            continue                      # the plans to compare are the certified ones
        out.append((path, raw, api))
    return out


def test_every_entry_point_gives_the_same_plan(tmp_path, monkeypatch):
    """The API, `lifeopt solve --format json`, `lifeopt compare`, a one-point sweep (Python
    and CLI) and the plot's starred plan agree to 1e-12 in N and D. The plot's plans are
    taken where the figure is asked for, and no figure is drawn (test_plots.py draws them)."""
    from lifecycle_opt.outputs import plots
    drawn = []
    monkeypatch.setattr(plots, "plan_figure", lambda plans: drawn.extend((s.params, s.tokens) for _, s in plans))
    from lifecycle_opt.outputs import figure_files
    monkeypatch.setattr(figure_files, "save_figure", lambda fig, output, force=False: None)
    worst = 0.0
    for k, (path, raw, api) in enumerate(_entry_point_scenarios(SCENARIOS, tmp_path)):
        plans = {"solve": cli_json("solve", str(path), "--format", "json"),
                 "compare": cli_json("compare", str(path), "--format", "json")[0],
                 "sweep": lifecycle_opt.sweep(load_scenario(path), {"name": [raw["name"]]})[0],
                 "sweep cli": cli_json("sweep", str(path), "--vary", f"name={raw['name']}",
                                       "--format", "json")[0]}
        drawn.clear()
        result = CliRunner().invoke(cli, ["plot", str(path), "-o", str(tmp_path / "p.png"), "--force"])
        assert result.exit_code == 0, result.output
        plans["plot"] = {"params": drawn[0][0], "tokens": drawn[0][1]}
        for where, got in plans.items():
            for key, want in (("params", api.params), ("tokens", api.tokens)):
                gap = abs(got[key] / want - 1)
                worst = max(worst, gap)
                assert gap <= 1e-12, (k, where, key, got[key], want, raw)
    print(f"{SCENARIOS} scenarios, 6 entry points: worst relative gap {worst:.1e}")


def test_int8_serving_prices_like_fp8_on_the_catalogue_peaks():
    # dense int8 peaks: A100 624 TOPS, H100 SXM 1,979 TOPS (the datasheets' sparse figures halved)
    assert gpu("A100-80GB").peak("int8") == 624e12
    assert gpu("H100").peak("int8") == gpu("H100").peak("fp8") == 1978.9e12
    raws = [{"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
             "inference": {"tokens": 1e13},
             "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0},
                          "inference": {"gpu": "H100", "dtype": dtype, "mfu": 0.3, "price_per_gpu_hour": 2.0}}}
            for dtype in ("int8", "fp8")]
    int8, fp8 = (lifecycle_opt.solve(scenario_from_dict(r)) for r in raws)
    assert (int8.params, int8.tokens) == (fp8.params, fp8.tokens)

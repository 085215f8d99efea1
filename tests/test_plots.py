"""Figures: the plan in (N, D) for every shipped example, and a sweep over demand."""
import sys

import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ExportError
from lifecycle_opt.outputs.plots import plan_figure, save_figure, sweep_figure
from lifecycle_opt.scenario.reader import load_scenarios
from lifecycle_opt.plan.sweep import sweep

from conftest import EXAMPLES

SHIPPED = sorted(p.name for p in EXAMPLES.glob("*.toml"))


def marker(ax, gid):
    return next(line for line in ax.get_lines() if line.get_gid() == gid)


@pytest.mark.parametrize("name", SHIPPED)
def test_plan_figure_for_every_shipped_example(name):
    plans = [(s, solve(s)) for s in load_scenarios(EXAMPLES / name)]
    fig = plan_figure(plans)
    assert len(fig.axes) == len(plans)
    for ax, (scenario, sol) in zip(fig.axes, plans):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_xlabel() == "parameters N [count]"
        assert ax.get_ylabel() == "training tokens D [count]"
        assert sol.scenario_name in ax.get_title()
        star = marker(ax, "optimum")
        assert list(star.get_xdata()) == [sol.params] and list(star.get_ydata()) == [sol.tokens]
        square = marker(ax, "baseline")
        assert list(square.get_xdata()) == [sol.baseline.params]
        assert list(square.get_ydata()) == [sol.baseline.tokens]
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        assert x0 < sol.params < x1 and y0 < sol.tokens < y1
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("iso-loss" in t for t in legend) and any("contours" in t for t in legend)
        # the iso-loss curve passes through the optimum: the loss there is the plan's loss
        assert float(scenario.loss_law.loss(sol.params, sol.tokens)) == pytest.approx(sol.loss, rel=1e-12)


def test_sweep_figure_plots_the_solved_points():
    demands = [1e9, 1e10, 1e11]
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": demands})
    fig = sweep_figure(rows, ["inference.requests"])
    left, right, cost = fig.axes
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert list(cost.get_lines()[0].get_ydata()) == [r["total_cost_pv_usd"] for r in rows]
    assert "$" in cost.get_ylabel()
    assert "requests" in left.get_xlabel() and "[count]" in left.get_ylabel()
    assert "tokens per parameter" in right.get_ylabel()
    (n_line,) = [line for line in left.get_lines()]
    assert list(n_line.get_xdata()) == demands
    assert list(n_line.get_ydata()) == [r["params"] for r in rows]
    r_line = right.get_lines()[0]
    assert list(r_line.get_ydata()) == [r["tokens_per_param"] for r in rows]


def test_sweep_figure_draws_one_line_per_value_of_a_second_axis():
    rows = sweep(EXAMPLES / "research_model.toml", {"budget.training_flops": [1e21, 1e22, 1e23],
                                                     "law.preset": ["hoffmann2022", "besiroglu2024"]})
    fig = sweep_figure(rows, ["budget.training_flops", "law.preset"])
    assert len(fig.axes[0].get_lines()) == 2
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == \
        {"law.preset = hoffmann2022", "law.preset = besiroglu2024"}


def test_png_and_svg_are_written(tmp_path):
    s = load_scenarios(EXAMPLES / "small_corpus.toml")[0]
    fig = plan_figure([(s, solve(s))])
    png = save_figure(fig, tmp_path / "plan.png")
    svg = save_figure(fig, tmp_path / "plan.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:1000]
    with pytest.raises(ExportError, match=".png or .svg"):
        save_figure(fig, tmp_path / "plan.jpg")
    with pytest.raises(ExportError, match="exists"):
        save_figure(fig, tmp_path / "plan.png")


def test_cli_plot(tmp_path):
    out = tmp_path / "demand.png"
    result = CliRunner().invoke(cli, ["plot", "examples/chat_assistant.toml", "--vary",
                                      "inference.requests=1e9..1e11:log:3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    bad = CliRunner().invoke(cli, ["plot", "examples/chat_assistant.toml", "-o", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 2 and bad.output.startswith("error:") and "Traceback" not in bad.output


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    s = load_scenarios(EXAMPLES / "small_corpus.toml")[0]
    with pytest.raises(ExportError, match=r"pip install 'lifecycle_opt\[plot\]'"):
        plan_figure([(s, solve(s))])


def test_the_names_of_the_published_models_do_not_overprint():
    s = load_scenarios(EXAMPLES / "chat_assistant.toml")[0]
    fig = plan_figure([(s, solve(s))])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_gid() == "reference"]
    assert len(boxes) == 13
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    # contour labels in dollars, and "present value" only with [finance]
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() != "reference"]
    assert labels and all(t.startswith("$") for t in labels)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "lifecycle cost [$] contours" in legend

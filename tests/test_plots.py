"""Figures: the plan in (N, D) for every shipped example, and a sweep over demand."""
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ExportError
from lifecycle_opt.plan.choices import chosen_scenario
from lifecycle_opt.outputs.plots import plan_figure, save_figure, sweep_figure
from lifecycle_opt.execution.sweeps import sweep

from conftest import EXAMPLES, example_plans

SHIPPED = sorted(p.name for p in EXAMPLES.glob("*.toml"))


def marker(ax, gid):
    return next(line for line in ax.get_lines() if line.get_gid() == gid)


@pytest.mark.parametrize("name", SHIPPED)
def test_plan_figure_for_every_shipped_example(name):
    plans = list(example_plans(name))
    fig = plan_figure(plans)
    choice = len(plans) == 1 and bool(plans[0][1].alternatives)
    assert len(fig.axes) == len(plans) + choice          # a discrete choice gets its own panel
    if choice:
        # each value's optimum, the chosen one starred at the plan's objective
        sol = plans[0][1]
        star = marker(fig.axes[1], "chosen")
        assert list(star.get_ydata()) == [sol.objective_value]
        plans = [(chosen_scenario(*plans[0]), sol)]
    assert len(fig.legends) == 1
    assert fig.axes[0].get_ylabel() == "training tokens D [count]"
    for ax, (scenario, sol) in zip(fig.axes[:len(plans)], plans):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_xlabel() == "parameters N [count]"
        assert ax.get_xlim() == fig.axes[0].get_xlim() and ax.get_ylim() == fig.axes[0].get_ylim()
        assert sol.scenario_name in ax.get_title()
        star = marker(ax, "optimum")
        assert list(star.get_xdata()) == [sol.params] and list(star.get_ydata()) == [sol.tokens]
        square = marker(ax, "baseline")
        assert list(square.get_xdata()) == [sol.baseline.params]
        assert list(square.get_ydata()) == [sol.baseline.tokens]
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        assert x0 < sol.params < x1 and y0 < sol.tokens < y1
        assert ax.get_legend() is None                 # one legend, below the panels
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert any("iso-loss" in t for t in legend) and any("contours" in t for t in legend)
        # the iso-loss curve passes through the optimum: the loss there is the plan's loss
        served = sol.loss if sol.loss_after_quantisation is None else sol.loss_after_quantisation
        assert float(scenario.loss_law.loss(sol.params, sol.tokens)) == pytest.approx(served, rel=1e-12)


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
    lines = [line for line in fig.axes[0].get_lines() if not str(line.get_gid()).startswith("binds:")]
    assert len(lines) == 2
    # every plan spends its budget: the budget binds at every point, said once, not ringed
    assert not [line for line in fig.axes[0].get_lines() if line.get_gid() == "binds:budget_training_flops"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["binds at every point: budget training flops"]
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == \
        {"law.preset = hoffmann2022", "law.preset = besiroglu2024"}


def test_png_and_svg_are_written(tmp_path):
    fig = plan_figure(list(example_plans("small_corpus.toml")))
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
    with pytest.raises(ExportError, match=r"pip install 'lifecycle_opt\[plot\]'"):
        plan_figure(list(example_plans("small_corpus.toml")))


def test_the_names_of_the_published_models_do_not_overprint():
    fig = plan_figure(list(example_plans("chat_assistant.toml")))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_gid() == "reference"]
    assert len(boxes) == 13
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    # contour labels in dollars, and "present value" only with [finance]
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "contour_label"]
    assert len(labels) >= 5 and all(t.startswith("$") for t in labels)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "lifecycle cost [$] contours" in legend
    legend = [t.get_text() for t in plan_figure(list(example_plans("finance_plan.toml"))).legends[0].get_texts()]
    assert "lifecycle cost, present value [$] contours" in legend


@pytest.mark.parametrize("name", SHIPPED)
def test_no_text_of_a_plan_figure_overprints_another_or_a_marker(name):
    """Every text label (contour costs, published models' names) against every other and
    against the plan's markers, on the drawn bounding boxes; contour labels inside their
    panel."""
    plans = list(example_plans(name))
    fig = plan_figure(plans)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        texts = [t for t in ax.texts if t.get_gid() in ("contour_label", "reference")]
        boxes = [t.get_window_extent(renderer) for t in texts]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), (texts[i].get_text(), name)
        markers = [line.get_window_extent(renderer) for line in ax.get_lines()
                   if line.get_gid() in ("optimum", "baseline", "reference_marker")]
        frame = ax.get_window_extent(renderer)
        for t, box in zip(texts, boxes):
            if t.get_gid() == "contour_label":
                assert not any(box.overlaps(m) for m in markers), (t.get_text(), name)
                assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def limit_contour(ax, name):
    return next(c for c in ax.get_children() if c.get_gid() == f"limit:{name}" and hasattr(c, "allsegs"))


def test_the_limits_are_drawn_where_they_are_and_say_when_they_bind():
    """Each limit is its boundary in (N, D): the parameter cap a vertical line at the cap,
    the epochs a horizontal line at epochs × unique tokens, a FLOP budget the line
    6·N·D = C (the closed forms of each limit); the legend names the binding one."""
    ((s, _),) = example_plans("chat_assistant.toml")
    fig = plan_figure(list(example_plans("chat_assistant.toml")))
    ax = fig.axes[0]
    cap = np.concatenate(limit_contour(ax, "max_params").allsegs[0])
    assert cap[:, 0] == pytest.approx(np.full(len(cap), s.limits.max_params), rel=1e-9)
    epochs = np.concatenate(limit_contour(ax, "max_epochs").allsegs[0])
    assert epochs[:, 1] == pytest.approx(np.full(len(epochs), s.data.max_epochs * s.data.unique_tokens), rel=1e-9)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "limits.max_params = 70B" in legend           # in view, not binding in this plan
    ((s, sol),) = example_plans("research_model.toml")
    fig = plan_figure([(s, sol)])
    budget = np.concatenate(limit_contour(fig.axes[0], "budget_training_flops").allsegs[0])
    assert 6 * budget[:, 0] * budget[:, 1] == pytest.approx(np.full(len(budget), s.budget.training_flops),
                                                             rel=1e-2)  # the grid's interpolation, 240 points
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "budget.training_flops = 1e+23 FLOP — binds" in legend
    legend = [t.get_text() for t in plan_figure(list(example_plans("serving_slo.toml"))).legends[0].get_texts()]
    assert "serving.tpot_ms = 6 ms — binds (serving, not drawn in N, D)" in legend


def test_the_compare_figure_shares_its_axes_and_one_legend():
    plans = list(example_plans("compare_demand.toml"))
    fig = plan_figure(plans)
    first, *rest = fig.axes
    assert rest and all(first.get_shared_x_axes().joined(first, ax) for ax in rest)
    assert all(first.get_shared_y_axes().joined(first, ax) for ax in rest)
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(set(labels))
    width, _ = fig.get_size_inches()
    assert width <= 16                                   # a slide's width at 8-point text and up
    assert min(t.get_fontsize() for t in fig.legends[0].get_texts()) >= 8


def test_the_sweep_figure_has_a_title_and_shades_where_a_limit_binds():
    demand = list(np.geomspace(1e10, 1e15, 12))
    rows = sweep(EXAMPLES / "small_corpus.toml", {"inference.tokens": demand})
    fig = sweep_figure(rows, ["inference.tokens"])
    assert "domain model on a 50B-token corpus" in fig.get_suptitle()
    binds = [r["inference.tokens"] for r in rows if "max_epochs" in r["binding"].split(";")]
    free = [r["inference.tokens"] for r in rows if "max_epochs" not in r["binding"].split(";")]
    assert binds and free
    spans = [p for p in fig.axes[0].patches if p.get_gid() == "binds:max_epochs"]
    inside = lambda x: any(p.get_x() <= x <= p.get_x() + p.get_width() for p in spans)  # noqa: E731
    assert all(inside(x) for x in binds) and not any(inside(x) for x in free)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["max epochs binds"]


def test_every_example_has_its_figure_in_docs_and_the_readme():
    """docs/make_figures.sh draws each shipped example; the README shows every one."""
    from conftest import ROOT
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "docs" / "make_figures.sh").read_text()
    for name in SHIPPED:
        figure = f"docs/{name.removesuffix('.toml')}_plan.png"
        assert (ROOT / figure).is_file() and f"]({figure})" in readme, figure
        assert f" {name.removesuffix('.toml')} " in script or f" {name.removesuffix('.toml')};" in script

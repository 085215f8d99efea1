"""Figures: the plan in (N, D) for every shipped example, and a sweep over demand."""
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ExportError
from lifecycle_opt.plan.choices import chosen_scenario
from lifecycle_opt.outputs.plots import plan_figure, sweep_figure
from lifecycle_opt.outputs.figure_files import save_figure
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
    pdf = save_figure(fig, tmp_path / "plan.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:1000]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # the same plan gives the same bytes: no creation date in the PDF either
    assert save_figure(fig, tmp_path / "again.pdf").read_bytes() == pdf.read_bytes()
    with pytest.raises(ExportError, match=".png, .svg or .pdf"):
        save_figure(fig, tmp_path / "plan.jpg")
    with pytest.raises(ExportError, match="exists"):
        save_figure(fig, tmp_path / "plan.png")


def test_cli_plot(tmp_path):
    out = tmp_path / "demand.png"
    result = CliRunner().invoke(cli, ["plot", "examples/chat_assistant.toml", "--vary",
                                      "inference.requests=1e9..1e11:log:3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    deck = CliRunner().invoke(cli, ["plot", "examples/chat_assistant.toml", "-o", str(tmp_path / "plan.pdf")])
    assert deck.exit_code == 0 and (tmp_path / "plan.pdf").read_bytes()[:5] == b"%PDF-"
    bad = CliRunner().invoke(cli, ["plot", "examples/chat_assistant.toml", "-o", str(tmp_path / "x.jpg")])
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
    legend = [t.get_text().replace("\n", " ")
              for t in plan_figure(list(example_plans("serving_slo.toml"))).legends[0].get_texts()]
    assert "serving.tpot_ms = 30 ms — binds (serving, not drawn in N, D)" in legend


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


# ---------------------------------------------------------------- issue 30: figures that read
def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


@pytest.mark.parametrize("name", SHIPPED)
def test_the_legend_is_whole_within_the_figure(name):
    """The README's serving figure had its legend cut at both sides (two columns of long
    labels, wider than the figure): long labels wrap, and columns drop until it fits."""
    fig = plan_figure(list(example_plans(name)))
    renderer = _drawn(fig)
    box, page = fig.legends[0].get_window_extent(renderer), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, name


def _money_value(text):
    import re
    m = re.fullmatch(r"\$([\d,.]+)([MBT]?)", text)
    return float(m[1].replace(",", "")) * {"": 1, "M": 1e6, "B": 1e9, "T": 1e12}[m[2]]


@pytest.mark.parametrize("name", ["compare_demand.toml", "serving_slo.toml", "finance_plan.toml"])
def test_contour_labels_of_a_panel_share_one_scale(name):
    """compare_demand's first panel mixed '$970,930' and '$1.94M': each panel's labels now
    have one suffix (or none), and each reads as its contour's level to its last digit."""
    fig = plan_figure(list(example_plans(name)))
    _drawn(fig)
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.texts if t.get_gid() == "contour_label"]
        assert labels and len({t[-1] if t[-1] in "MBT" else "" for t in labels}) == 1, labels
        levels = [c.levels for c in ax.get_children() if hasattr(c, "levels") and c.get_gid() is None
                  and len(getattr(c, "levels", [])) == 9][0]
        for t in labels:
            value, unit = _money_value(t), {"M": 1e6, "B": 1e9, "T": 1e12}.get(t[-1], 1.0)
            assert min(abs(value - level) for level in levels) <= 0.005 * unit, t   # to its last digit


def _tick_texts(axis):
    return [t.get_text() for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True) if t.get_text()]


def test_money_and_count_axes_read_in_human_units():
    """A money axis said 3x10^7 for $30M and a count axis 10^10 for 10B."""
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})
    fig = sweep_figure(rows, ["inference.requests"])
    _drawn(fig)
    size, _, cost = fig.axes
    for text in _tick_texts(cost.yaxis):
        assert text.startswith("$") and "10^" not in text, text
    for text in _tick_texts(size.yaxis) + _tick_texts(size.xaxis):
        assert text[-1] in "kMBTP" or text.isdigit(), text
    plane = plan_figure(list(example_plans("chat_assistant.toml")))
    _drawn(plane)
    assert {"10B", "100B"} <= set(_tick_texts(plane.axes[0].xaxis))
    assert {"1T", "10T"} <= set(_tick_texts(plane.axes[0].yaxis))


def test_published_models_names_sit_by_their_own_dots():
    """In the compare panels names stood nearer another model's dot than their own
    ('Llama 2 7B' between the 7B and 13B dots): each name's nearest dot is its own, dots a
    few pixels apart (Chinchilla, LLaMA 65B) counting as one place."""
    from lifecycle_opt.outputs.plots import dot_distances
    from lifecycle_opt.outputs.reports import REFERENCE_MODELS
    fig = plan_figure(list(example_plans("compare_demand.toml")))
    renderer = _drawn(fig)
    names = [name for name, _, _ in REFERENCE_MODELS]
    for ax in fig.axes:
        dots = ax.transData.transform([(n, d) for _, n, d in REFERENCE_MODELS])
        for text in (t for t in ax.texts if t.get_gid() == "reference"):
            k = names.index(text.get_text())
            distance = dot_distances(text.get_window_extent(renderer), dots)
            apart = np.hypot(*(dots - dots[k]).T) > 6
            assert distance[k] <= distance[apart].min(), text.get_text()
            assert distance[k] < 12, text.get_text()          # beside it: points, not a panel away


def test_overlapping_limits_both_show():
    """small_corpus.toml: the epochs cap and the training deadline forbid overlapping
    regions; each is hatched in its own direction and colour (a tint of each blended into
    grey before), and in a sweep each binding limit shades its own strip."""
    fig = plan_figure(list(example_plans("small_corpus.toml")))
    shades = [c for c in fig.axes[0].get_children() if str(c.get_gid()).startswith("shade:")]
    assert len(shades) == 2
    hatches = [tuple(c.hatches) for c in shades]
    assert len(set(hatches)) == 2 and all(hatches)
    assert all(c.get_facecolor()[0][3] == 0 for c in shades)       # no fill that hides what is under it
    # the training deadline binds at the tightest targets, the batch cap at the loosest
    rows = sweep(EXAMPLES / "serving_slo.toml", {"serving.tpot_ms": list(np.geomspace(18, 300, 12))})
    fig = sweep_figure(rows, ["serving.tpot_ms"])
    spans = [p for p in fig.axes[0].patches if str(p.get_gid()).startswith("binds:")]
    strips = {}
    for p in spans:
        y0, y1 = p.get_y(), p.get_y() + p.get_height()
        strips.setdefault(p.get_gid(), set()).add((round(y0, 9), round(y1, 9)))
    assert len(strips) >= 2 and all(len(v) == 1 for v in strips.values())
    bands = sorted(next(iter(v)) for v in strips.values())
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(bands, bands[1:]))   # disjoint strips

"""Figures (matplotlib, the optional ``plot`` extra): the plan in the (N, D) plane, and how
the optimal plan moves along a sweep.

* :func:`plan_figure` — per scenario, the iso-loss curve of the plan's loss in (N, D),
  contours of lifecycle cost (the objective's unit), the lifecycle-optimal plan, the
  compute-optimal plan of equal loss, the 20 tokens-per-parameter line and the published
  reference models; log axes, since N and D span decades.
* :func:`sweep_figure` — the optimal N and tokens per parameter against the varied
  setting (the figure of the inference-aware scaling literature when it is demand),
  one line per value of a second varied setting.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot state, no display
needed) and saved atomically by :func:`save_figure`.
"""
from __future__ import annotations

__all__ = ["nd_plane", "figure_class", "plan_figure", "sweep_figure", "save_figure", "PLOT_FORMATS"]

import io
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..model.units import format_money
from .exports import check_writable, write_bytes_atomic
from .reports import REFERENCE_MODELS
from ..scenario.schema import Scenario
from ..plan.solution import Solution

PLOT_FORMATS = ("png", "svg")

_AXIS_LABELS = {"usd": "lifecycle cost, present value [$]", "flops": "lifecycle compute [FLOP]",
                "loss": "lifecycle compute [FLOP]"}


def figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ExportError("plots need matplotlib: pip install 'lifecycle_opt[plot]' "
                          "(or pip install matplotlib)") from None
    return Figure


def _cost_grid(scenario: Scenario, sol: Solution, N, D):
    """Lifecycle cost on the grid (a·N·D + b·N under the MFU serving model), in the unit the
    report uses for the plan."""
    unit = "usd" if sol.objective_unit == "usd" else "flops"
    if scenario.serving is None:
        a, b = scenario.costs.coefficients(unit)
        return a * N * D + b * N, unit
    # the roofline serving cost of each model size at its cheapest serving point (nan where
    # no allowed replica serves it within the targets); N varies along the columns
    columns = []
    for j in range(N.shape[1]):
        point = scenario.serving.relaxed_point(float(N[0, j]))
        if point is None:
            columns.append(np.full(N.shape[0], np.nan))
            continue
        costs = scenario.costs.breakdown(float(N[0, j]), D[:, j], point)
        columns.append(costs.total_cost_pv_usd if unit == "usd" else costs.total_flops)
    return np.column_stack(columns), unit


#: where a reference model's name may sit around its marker [points], tried in order
_LABEL_OFFSETS = ((4, 3, "left"), (4, -10, "left"), (-4, 3, "right"), (-4, -10, "right"), (4, 12, "left"),
                  (-4, 12, "right"), (4, -19, "left"), (-4, -19, "right"))


def _reference_labels(ax) -> None:
    """The names of the published models, each at the first place around its marker where
    it overlaps no name already placed (Chinchilla and LLaMA 65B sit almost on each other)."""
    renderer = _canvas(ax.figure).get_renderer()
    placed = []
    for name, n, d in REFERENCE_MODELS:
        for dx, dy, ha in _LABEL_OFFSETS:
            text = ax.annotate(name, (n, d), textcoords="offset points", xytext=(dx, dy), fontsize=7,
                               color="0.35", ha=ha, gid="reference")
            text.set_in_layout(False)                  # placed for this layout: must not move it
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed):
                break
            text.remove()
        else:
            text = ax.annotate(name, (n, d), textcoords="offset points", xytext=(4, 3), fontsize=7,
                               color="0.35", gid="reference")
            text.set_in_layout(False)
            box = text.get_window_extent(renderer)
        placed.append(box)


def nd_plane(ax, n_range, d_range) -> None:
    """The (N, D) plane on ``ax``: log axes over the ranges, labelled with their units."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*n_range)
    ax.set_ylim(*d_range)
    ax.set_xlabel("parameters N [count]")
    ax.set_ylabel("training tokens D [count]")


def _short(text: str, limit: int = 80) -> str:
    """A title cut to ``limit`` characters (a long name would take minutes to lay out)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plan_figure(plans: list[tuple[Scenario, Solution]]):
    """One panel per (scenario, solution): iso-loss curve, cost contours, optimum,
    compute-optimal plan and reference models in the (N, D) plane."""
    Figure = figure_class()
    fig = Figure(figsize=(7.5 * len(plans), 6.2), layout="constrained")
    axes = fig.subplots(1, len(plans), squeeze=False)[0]
    for ax, (scenario, sol) in zip(axes, plans):
        _plan_panel(ax, scenario, sol)
    # the names go where they overprint nothing, once the layout has settled
    _canvas(fig)
    fig.draw_without_rendering()
    for ax in axes:
        _reference_labels(ax)
    return fig


def _canvas(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return fig.canvas


def _plan_panel(ax, scenario: Scenario, sol: Solution) -> None:
    base = sol.baseline
    points_N = [sol.params, base.params] + [n for _, n, _ in REFERENCE_MODELS]
    points_D = [sol.tokens, base.tokens] + [d for _, _, d in REFERENCE_MODELS]
    lo_N, hi_N = min(points_N) / 4, max(points_N) * 4
    lo_D, hi_D = min(points_D) / 4, max(points_D) * 4
    N, D = np.meshgrid(np.geomspace(lo_N, hi_N, 240), np.geomspace(lo_D, hi_D, 240))
    loss = np.asarray(scenario.loss_law.loss(N, D), dtype=float)
    cost, unit = _cost_grid(scenario, sol, N, D)

    optimum_cost = sol.costs.total_cost_pv_usd if unit == "usd" else sol.costs.total_flops
    levels = optimum_cost * np.geomspace(0.25, 64, 9)
    cs = ax.contour(N, D, cost, levels=levels, colors="0.6", linewidths=0.8)
    ax.clabel(cs, fmt=(lambda v: format_money(v)) if unit == "usd" else (lambda v: f"{v:.2g} FLOP"), fontsize=7)
    iso = ax.contour(N, D, loss, levels=[sol.loss], colors="C0", linewidths=2.0)
    # a proxy line so the legend names the iso-loss curve
    ax.plot([], [], color="C0", linewidth=2.0, label=f"loss = {sol.loss:.4f} (iso-loss)")
    what = _AXIS_LABELS[unit] if unit != "usd" or scenario.finance is not None else "lifecycle cost [$]"
    ax.plot([], [], color="0.6", linewidth=0.8, label=f"{what} contours")
    del iso
    r = np.geomspace(lo_N, hi_N, 50)
    ax.plot(r, 20 * r, linestyle=":", color="0.3", linewidth=1.0, label="20 tokens per parameter")
    for name, n, d in REFERENCE_MODELS:
        ax.plot([n], [d], marker="o", markersize=4, color="0.45", linestyle="none")
    ax.plot([], [], marker="o", markersize=4, color="0.45", linestyle="none", label="published models")
    ax.plot([base.params], [base.tokens], marker="s", markersize=9, color="C1", linestyle="none",
            label=f"compute-optimal, same loss ({base.tokens_per_param:.0f} tokens/param)", gid="baseline")
    ax.plot([sol.params], [sol.tokens], marker="*", markersize=16, color="C3", linestyle="none",
            markeredgecolor="k", label=f"lifecycle-optimal ({sol.tokens_per_param:.0f} tokens/param)",
            gid="optimum")
    nd_plane(ax, (lo_N, hi_N), (lo_D, hi_D))
    ax.set_title(f"{_short(sol.scenario_name)}\n{_short(sol.law_name)}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)


def sweep_figure(rows: list[dict], varied: list[str]):
    """Optimal N (left), tokens per parameter (middle) and the optimal lifecycle cost
    (right: present-value dollars when the plans are priced, else FLOP) against the first
    varied key; one line per value of the second varied key, if any."""
    Figure = figure_class()
    if not varied:
        raise ExportError("a sweep figure needs at least one varied key")
    x_key = varied[0]
    group_key = varied[1] if len(varied) > 1 else None
    ok = [r for r in rows if r.get("status") == "optimal"]
    if not ok:
        raise ExportError("no point of the sweep solved: nothing to plot")
    if not all(isinstance(r[x_key], (int, float)) for r in ok):
        raise ExportError(f"{x_key}: a sweep figure needs numeric values on its first axis")
    fig = Figure(figsize=(16, 5), layout="constrained")
    ax_n, ax_r, ax_c = fig.subplots(1, 3)
    priced = all(r.get("total_cost_pv_usd") is not None for r in ok)
    cost_key = "total_cost_pv_usd" if priced else "total_flops"
    groups = sorted({r.get(group_key) for r in ok}, key=str) if group_key else [None]
    for g in groups:
        part = sorted((r for r in ok if group_key is None or r.get(group_key) == g), key=lambda r: r[x_key])
        x = [r[x_key] for r in part]
        label = f"{group_key} = {g}" if group_key else None
        ax_n.plot(x, [r["params"] for r in part], marker="o", markersize=3, label=label)
        ax_r.plot(x, [r["tokens_per_param"] for r in part], marker="o", markersize=3, label=label)
        ax_c.plot(x, [r[cost_key] for r in part], marker="o", markersize=3, label=label)
    xs = [r[x_key] for r in ok]
    log_x = min(xs) > 0 and max(xs) / min(xs) > 20
    for ax in (ax_n, ax_r, ax_c):
        ax.set_xscale("log" if log_x else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(_key_label(x_key))
        ax.grid(True, which="major", alpha=0.3)
        if group_key:
            ax.legend(fontsize=8)
    ax_n.set_ylabel("optimal parameters N [count]")
    ax_r.set_ylabel("tokens per parameter D/N [tokens/parameter]")
    ax_r.axhline(20, linestyle=":", color="0.3", linewidth=1.0)
    ax_r.annotate("20:1", (min(xs), 20), textcoords="offset points", xytext=(2, 3), fontsize=8)
    ax_c.set_ylabel(_AXIS_LABELS["usd" if priced else "flops"])
    ax_n.set_title("optimal model size")
    ax_r.set_title("optimal tokens per parameter")
    ax_c.set_title("optimal lifecycle cost")
    return fig


_KEY_UNITS = {"inference.tokens": "tokens served [count]", "inference.requests": "requests served [count]",
              "finance.monthly_tokens": "tokens served per month [count]",
              "target.loss": "target loss [nats/token]",
              "finance.discount_rate": "annual discount rate [fraction]",
              "serving.tpot_ms": "time-per-output-token target [ms]",
              "serving.ttft_ms": "time-to-first-token target [ms]"}


def _key_label(key: str) -> str:
    unit = _KEY_UNITS.get(key)
    if unit is None and "price" in key:
        unit = "[$ / GPU-hour]"
    return f"{key}: {unit}" if unit else key


def save_figure(fig, path: str | Path, *, force: bool = False) -> Path:
    """Save ``fig`` as PNG or SVG (from the suffix) atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ExportError(f"{path}: give a file name ending in .png or .svg")
    check_writable(path, force=force)
    buf = io.BytesIO()
    # no creation date in the file, so the same plan gives the same bytes
    metadata = {"Software": "lifecycle_opt"} if fmt == "png" else {"Date": None}
    import matplotlib
    # SVG ids (clip paths, markers) are hashes salted per run unless a salt is given
    with matplotlib.rc_context({"svg.hashsalt": "lifecycle_opt"}):
        fig.savefig(buf, format=fmt, dpi=150, metadata=metadata)
    return write_bytes_atomic(path, buf.getvalue(), force=force)

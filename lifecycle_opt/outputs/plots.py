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

__all__ = ["nd_plane", "figure_class", "plan_figure", "sweep_figure", "figure_axes", "FIGURE_POINTS", "FIGURE_LINES",
           "dot_distances"]


import numpy as np

from ..errors import ExportError, ScenarioError
from ..model.units import format_count, format_money_column
from ..model.setting_units import format_setting
from .figure_text import fitting_legend, human_axis
from .reports import REFERENCE_MODELS
from ..scenario.registry import entry
from ..scenario.schema import Scenario
from ..plan.solution import Solution
from ..plan.axes import parse_axis, spec_count

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
        return scenario.costs.cost(unit).value(N, D), unit
    # the roofline serving cost of each model size at its cheapest serving point (nan where
    # no allowed replica serves it within the targets); N varies along the columns
    from ..problem.serving_points import relaxed_point
    columns = []
    for j in range(N.shape[1]):
        point = relaxed_point(scenario.serving, float(N[0, j]))
        if point is None:
            columns.append(np.full(N.shape[0], np.nan))
            continue
        costs = scenario.costs.breakdown(float(N[0, j]), D[:, j], point)
        columns.append(costs.total_cost_pv_usd if unit == "usd" else costs.total_flops)
    return np.column_stack(columns), unit


#: where a reference model's name may sit around its marker [points], tried in order
_LABEL_OFFSETS = ((4, 3, "left"), (4, -10, "left"), (-4, 3, "right"), (-4, -10, "right"), (0, 5, "center"),
                  (0, -13, "center"), (6, -3, "left"), (-6, -3, "right"), (4, 12, "left"),
                  (-4, 12, "right"), (4, -19, "left"), (-4, -19, "right"))
#: the colours of the limits drawn in the plane, in the order the problem lists them
_LIMIT_COLOURS = ("C2", "C4", "C5", "C6", "C8", "C9", "C7")
#: the hatching of each limit's forbidden side, one direction each, so that overlaps show both
_HATCHES = ("////", "\\\\", "||||", "----", "++", "xx", "..")


def _reference_labels(ax, renderer, taken: list) -> None:
    """The names of the published models, each at the first place around its marker where
    it overlaps nothing already there (other names, the markers, contour labels) and where
    its own marker is the nearest to it, so that no name reads as another model's (Chinchilla
    and LLaMA 65B sit almost on each other; in a narrow panel of a comparison, many do)."""
    dots = ax.transData.transform([(n, d) for _, n, d in REFERENCE_MODELS])
    for k, (name, n, d) in enumerate(REFERENCE_MODELS):
        # first where its own dot is the nearest (two dots a few pixels apart count as one),
        # then anywhere free
        tries = [(o, True) for o in _LABEL_OFFSETS] + [(o, False) for o in _LABEL_OFFSETS]
        for (dx, dy, ha), own in tries:
            text = ax.annotate(name, (n, d), textcoords="offset points", xytext=(dx, dy), fontsize=7,
                               color="0.35", ha=ha, gid="reference")
            text.set_in_layout(False)                  # placed for this layout: must not move it
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in taken) and (not own or _owns(box, dots, k)):
                break
            text.remove()
        else:
            text = ax.annotate(name, (n, d), textcoords="offset points", xytext=(4, 3), fontsize=7,
                               color="0.35", gid="reference")
            text.set_in_layout(False)
            box = text.get_window_extent(renderer)
        taken.append(box)


def dot_distances(box, dots) -> np.ndarray:
    """The distance from a text's box to each marker [display units]."""
    dx = np.maximum(0.0, np.maximum(box.x0 - dots[:, 0], dots[:, 0] - box.x1))
    dy = np.maximum(0.0, np.maximum(box.y0 - dots[:, 1], dots[:, 1] - box.y1))
    return np.hypot(dx, dy)


#: markers closer than this to one another count as one place [display units]
_SAME_PLACE = 6.0


def _owns(box, dots, k: int) -> bool:
    """Whether marker k is the nearest to the box (markers within _SAME_PLACE of it aside)."""
    far = np.hypot(*(dots - dots[k]).T) > _SAME_PLACE
    distance = dot_distances(box, dots)
    return not far.any() or distance[k] <= distance[far].min()


def nd_plane(ax, n_range, d_range) -> None:
    """The (N, D) plane on ``ax``: log axes over the ranges, labelled with their units."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*n_range)
    ax.set_ylim(*d_range)
    ax.set_xlabel("parameters N [count]")
    ax.set_ylabel("training tokens D [count]")
    human_axis(ax.xaxis, "count")
    human_axis(ax.yaxis, "count")


def _short(text: str, limit: int = 80) -> str:
    """A title cut to ``limit`` characters (a long name would take minutes to lay out)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plan_figure(plans: list[tuple[Scenario, Solution]]):
    """One panel per (scenario, solution): iso-loss curve, cost contours, the limits of the
    scenario (shaded beyond, "binds" where the plan sits on one), optimum, compute-optimal
    plan and reference models in the (N, D) plane. Several panels share their axes and one
    legend, so plans compare at a glance."""
    from ..plan.choices import chosen_scenario
    Figure = figure_class()
    plans = [(chosen_scenario(scenario, sol), sol) for scenario, sol in plans]
    count = len(plans)
    if count == 1 and plans[0][1].alternatives:
        return _with_choice(plans[0])
    size = (7.5, 7.2) if count == 1 else (min(16.0, 5.3 * count), 6.0)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, count, squeeze=False, sharex=True, sharey=True)[0]
    n_range, d_range = _plane_ranges([sol for _, sol in plans])
    contours = [_plan_panel(ax, scenario, sol, n_range, d_range) for ax, (scenario, sol) in zip(axes, plans)]
    for ax in axes:
        ax.label_outer()
    # one legend below the panels, where it hides no marker; each entry once
    handles = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    renderer = _canvas(fig).get_renderer()
    fitting_legend(fig, list(handles.values()), list(handles.keys()), 2 if count == 1 else 3)
    # labels go where they overprint nothing, once the layout has settled
    fig.draw_without_rendering()
    for ax, (cs, fmt) in zip(axes, contours):
        taken = [line.get_window_extent(renderer) for line in ax.get_lines()
                 if line.get_gid() in ("optimum", "baseline", "reference_marker")]
        _contour_labels(ax, cs, fmt, renderer, taken)
        _reference_labels(ax, renderer, taken)
    return fig


def _with_choice(plan: tuple[Scenario, Solution]):
    """A plan that chose among discrete values (experts, a serving precision): its (N, D)
    panel beside the panel of every value's optimum."""
    from .choice_plot import choice_panel
    scenario, sol = plan
    fig = figure_class()(figsize=(13.0, 6.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    n_range, d_range = _plane_ranges([sol])
    cs, fmt = _plan_panel(left, scenario, sol, n_range, d_range)
    choice_panel(right, sol)
    renderer = _canvas(fig).get_renderer()
    fitting_legend(fig, *left.get_legend_handles_labels(), 3)
    fig.draw_without_rendering()
    taken = [line.get_window_extent(renderer) for line in left.get_lines()
             if line.get_gid() in ("optimum", "baseline", "reference_marker")]
    _contour_labels(left, cs, fmt, renderer, taken)
    _reference_labels(left, renderer, taken)
    return fig


def _canvas(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return fig.canvas


def _plane_ranges(solutions) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (N, D) ranges that hold every plan, its compute-optimal twin and the published
    models, with a factor of 4 to spare on each side."""
    points_N = [n for _, n, _ in REFERENCE_MODELS]
    points_D = [d for _, _, d in REFERENCE_MODELS]
    for sol in solutions:
        points_N += [sol.params, sol.baseline.params]
        points_D += [sol.tokens, sol.baseline.tokens]
    return (min(points_N) / 4, max(points_N) * 4), (min(points_D) / 4, max(points_D) * 4)


def _plan_panel(ax, scenario: Scenario, sol: Solution, n_range, d_range):
    """Draw one plan; returns the cost contours and their label format, labelled later."""
    base = sol.baseline
    N, D = np.meshgrid(np.geomspace(*n_range, 240), np.geomspace(*d_range, 240))
    loss = np.asarray(scenario.loss_law.loss(N, D), dtype=float)
    cost, unit = _cost_grid(scenario, sol, N, D)

    optimum_cost = sol.costs.total_cost_pv_usd if unit == "usd" else sol.costs.total_flops
    levels = optimum_cost * np.geomspace(0.25, 64, 9)
    cs = ax.contour(N, D, cost, levels=levels, colors="0.6", linewidths=0.8)
    # the labels of a panel in one scale ($0.97M beside $1.94M, never $970,930)
    texts = dict(zip(cs.levels, format_money_column(list(cs.levels)))) if unit == "usd" else {}
    fmt = texts.get if unit == "usd" else (lambda v: f"{v:.2g} FLOP")
    # the loss the target holds for: the served model's, after quantisation when it applies
    served = sol.loss if sol.loss_after_quantisation is None else sol.loss_after_quantisation
    ax.contour(N, D, loss, levels=[served], colors="C0", linewidths=2.0)
    # proxy lines, so the legend names the curves
    ax.plot([], [], color="C0", linewidth=2.0, label="iso-loss: the plan's loss" + (
        "" if sol.loss_after_quantisation is None else " as served (after quantisation)"))
    what = _AXIS_LABELS[unit] if unit != "usd" or scenario.finance is not None else "lifecycle cost [$]"
    ax.plot([], [], color="0.6", linewidth=0.8, label=f"{what} contours")
    _limits(ax, scenario, sol, N, D)
    r = np.geomspace(*n_range, 50)
    ax.plot(r, 20 * r, linestyle=":", color="0.3", linewidth=1.0, label="20 tokens per parameter")
    for name, n, d in REFERENCE_MODELS:
        ax.plot([n], [d], marker="o", markersize=4, color="0.45", linestyle="none", gid="reference_marker")
    ax.plot([], [], marker="o", markersize=4, color="0.45", linestyle="none", label="published models")
    ax.plot([base.params], [base.tokens], marker="s", markersize=9, color="C1", linestyle="none",
            label="compute-optimal plan of the same loss", gid="baseline")
    ax.plot([sol.params], [sol.tokens], marker="*", markersize=16, color="C3", linestyle="none",
            markeredgecolor="k", label="lifecycle-optimal plan", gid="optimum")
    nd_plane(ax, n_range, d_range)
    ax.set_title(f"{_short(sol.scenario_name)}\n{_short(sol.law_name)}; loss {sol.loss:.4f}\n"
                 f"optimum {sol.tokens_per_param:.0f} tokens/param, compute-optimal "
                 f"{base.tokens_per_param:.0f}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return cs, fmt


def _limits(ax, scenario: Scenario, sol: Solution, N, D) -> None:
    """Each limit of the scenario on N and D (parameters, serving memory, epochs × unique
    tokens, tokens per parameter, training days, budgets, dollar caps) as its boundary
    g(N, D) = 1, evaluated from the problem's own typed constraint, with the side it forbids
    lightly shaded; the legend names its setting in the setting's unit and says whether the
    plan sits on it."""
    from matplotlib.colors import to_rgba
    from ..problem.formulation import build_problem
    binding = {b.name for b in sol.binding}
    drawn = 0
    for c in build_problem(scenario).constraints:
        if c.is_loss:
            continue
        if not c.in_plane:
            if c.movable and c.name in binding:
                # a binding serving limit lives in (B, G, t), not in this plane: named, not drawn
                ax.plot([], [], linestyle="none", gid=f"limit:{c.name}",
                        label=f"{_limit_text(c)} — binds (serving, not drawn in N, D)")
            continue
        g = c.boundary_values(N, D)
        if not (np.nanmin(g) < 1.0 < np.nanmax(g)):
            continue                                   # the boundary lies outside the view
        colour = _LIMIT_COLOURS[drawn % len(_LIMIT_COLOURS)]
        # each limit's forbidden side hatched in its colour, in its own direction: where two
        # overlap both show (a tint of each blended into grey and hid the other)
        shade = ax.contourf(N, D, g, levels=[1.0, np.inf], colors="none", hatches=[_HATCHES[drawn % len(_HATCHES)]])
        shade.set_edgecolor(to_rgba(colour, 0.4))        # the hatch's colour; no face, no outline
        shade.set_linewidth(0.0)
        shade.set_gid(f"shade:{c.name}")
        drawn += 1
        ax.contour(N, D, g, levels=[1.0], colors=[colour], linewidths=1.6, linestyles="--").set_gid(
            f"limit:{c.name}")
        ax.plot([], [], color=colour, linewidth=1.6, linestyle="--", gid=f"limit:{c.name}",
                label=f"{_limit_text(c)}{' — binds' if c.name in binding else ''}")


def _limit_text(c) -> str:
    """A limit as a planner reads it: its scenario key and its setting in the setting's unit
    (``limits.serving_memory = 40 GB``; the epochs cap says over what corpus)."""
    if c.unit == "epochs":
        unique = 1.0 / c.quantity.coefficient(D=1)        # the cap is D/U ≤ epochs
        return f"{c.key} = {c.setting:g} over {format_count(unique)} unique tokens"
    return f"{c.key} = {format_setting(c.setting, c.unit)}"


def _contour_labels(ax, cs, fmt, renderer, taken: list) -> None:
    """One label per cost contour, in the unit of the cost, at the point of the contour
    farthest from what is already drawn (the markers above all), turned along the
    contour; a contour with no free place stays unlabelled rather than overprint."""
    frame = ax.get_window_extent(renderer)
    inner = frame.padded(-18)
    to_screen = ax.transData.transform
    for level, segments in zip(cs.levels, cs.allsegs):
        points = [to_screen(seg) for seg in segments if len(seg) > 2]
        if not points:
            continue
        screen = np.concatenate(points)
        inside = (screen[:, 0] > inner.x0) & (screen[:, 0] < inner.x1) & \
                 (screen[:, 1] > inner.y0) & (screen[:, 1] < inner.y1)
        if not inside.any():
            continue
        centres = np.array([[(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2] for b in taken]) if taken else np.zeros((0, 2))
        distance = (np.min(np.hypot(*(screen[:, None, :] - centres[None]).transpose(2, 0, 1)), axis=1)
                    if len(centres) else np.zeros(len(screen)))
        for i in np.argsort(-np.where(inside, distance, -np.inf))[:80]:
            if not inside[i]:
                break
            j = min(max(i, 1), len(screen) - 2)
            dx, dy = screen[j + 1] - screen[j - 1]
            angle = float(np.degrees(np.arctan2(dy, dx)))
            angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
            x, y = ax.transData.inverted().transform(screen[i])
            text = ax.text(x, y, fmt(level), fontsize=7, color="0.35", ha="center", va="center",
                           rotation=angle, rotation_mode="anchor", gid="contour_label",
                           bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
            text.set_in_layout(False)
            box = text.get_window_extent(renderer)
            within = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if within and not any(box.overlaps(b) for b in taken):
                taken.append(box)
                break
            text.remove()


#: the most values a sweep figure draws along its x axis: a panel is about 700 pixels wide
#: (16 inches for three panels at 150 dpi, :func:`save_figure`), so more points than this
#: would fall on the same pixels
FIGURE_POINTS = 1_000
#: the most lines (values of the second varied key) a sweep figure draws: its colours
#: repeat after ten, and more legend entries than this fill the panel
FIGURE_LINES = 20


def figure_axes(specs) -> tuple[list, list[str]]:
    """The axes of a sweep figure from ``--vary`` specifications, and a note for each one
    thinned: the x axis to FIGURE_POINTS values, the lines' to FIGURE_LINES, evenly
    spaced (a range keeps its ends and its spacing), so that a figure of a million points
    solves and holds a thousand. At most two keys (the x axis, one line per value)."""
    if len(specs) > 2:
        raise ScenarioError("--vary", "at most two keys for a figure (the x axis, then one line per value)",
                            found_text=f"found {len(specs)}")
    axes, notes = [], []
    for spec, most, what in zip(specs, (FIGURE_POINTS, FIGURE_LINES), ("along the x axis", "as lines")):
        n = spec_count(spec)
        key, _, values = spec.partition("=")
        if n <= most:
            axes.append(parse_axis(spec))
            continue
        if ".." in values:
            axes.append(parse_axis(f"{key}={values.rsplit(':', 1)[0]}:{most}"))
        else:
            axes.append(parse_axis(spec).thinned(most))
        notes.append(f"{key.strip()}: {most:,} of its {n:,} values drawn {what}, evenly spaced (more than the "
                     f"figure can show apart)")
    return axes, notes


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
    cost_key = _cost_key(ok)
    priced = cost_key == "total_cost_pv_usd"
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
    kind = getattr(entry(x_key), "kind", None)
    for ax in (ax_n, ax_r, ax_c):
        ax.set_xscale("log" if log_x else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(_key_label(x_key))
        ax.grid(True, which="major", alpha=0.3)
        if kind in ("count", "money"):
            human_axis(ax.xaxis, kind)
    human_axis(ax_n.yaxis, "count")
    if priced:
        human_axis(ax_c.yaxis, "money")
    if group_key:
        ax_n.legend(fontsize=8)
    _binding_marks(fig, (ax_n, ax_r, ax_c), ok, x_key, group_key, log_x)
    names = sorted({str(r.get("scenario")) for r in ok if r.get("scenario")})
    fig.suptitle(_short(f"{' / '.join(names) or 'sweep'}: the optimal plan against {x_key}", 100), fontsize=11)
    ax_n.set_ylabel("optimal parameters N [count]")
    ax_r.set_ylabel("tokens per parameter D/N [tokens/parameter]")
    ax_r.axhline(20, linestyle=":", color="0.3", linewidth=1.0)
    ax_r.annotate("20:1", (min(xs), 20), textcoords="offset points", xytext=(2, 3), fontsize=8)
    ax_c.set_ylabel(_AXIS_LABELS["usd" if priced else "flops"])
    ax_n.set_title("optimal model size")
    ax_r.set_title("optimal tokens per parameter")
    ax_c.set_title("optimal lifecycle cost")
    return fig


def _limits_of(row: dict) -> set[str]:
    """The limits a sweep row's plan sits on (the loss target is the goal, not a limit)."""
    return {n for n in str(row.get("binding") or "").split(";") if n and not n.startswith("loss_")}


def _binding_marks(fig, axes, rows: list[dict], x_key: str, group_key, log_x: bool) -> None:
    """Where a limit binds along the sweep: with one line, the stretch of the axis where it
    binds is shaded in the limit's colour (from halfway to the neighbouring points); with
    several lines, the points where it binds are ringed in that colour. A legend below
    the panels names each limit, and those that bind at every point without marks."""
    names = sorted(set().union(*(_limits_of(r) for r in rows)))
    if not names:
        return
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    handles = []
    everywhere = [n for n in names if all(n in _limits_of(r) for r in rows)]
    shaded = [n for n in names if n not in everywhere]
    if everywhere:
        # shading the whole plot would say nothing: named once, in the legend
        handles.append(Line2D([], [], linestyle="none", label="binds at every point: " + ", ".join(
            n.replace("_", " ") for n in everywhere)))
    for k, name in enumerate(shaded):
        colour = _LIMIT_COLOURS[k % len(_LIMIT_COLOURS)]
        # each limit shades its own strip of the panel's height: where two bind over the same
        # stretch both show (one drawn over another hid it)
        strip = (k / len(shaded), (k + 1) / len(shaded))
        if group_key is None:
            part = sorted(rows, key=lambda r: r[x_key])
            x = np.array([r[x_key] for r in part], dtype=float)
            mids = np.sqrt(x[1:] * x[:-1]) if log_x else (x[1:] + x[:-1]) / 2
            lo, hi = np.concatenate([[x[0]], mids]), np.concatenate([mids, [x[-1]]])
            on = [name in _limits_of(r) for r in part]
            i = 0
            while i < len(on):
                if not on[i]:
                    i += 1
                    continue
                j = i
                while j + 1 < len(on) and on[j + 1]:
                    j += 1
                for ax in axes:
                    ax.axvspan(lo[i], hi[j], *strip, color=colour, alpha=0.2, linewidth=0, gid=f"binds:{name}")
                i = j + 1
            handles.append(Patch(color=colour, alpha=0.3, label=f"{name.replace('_', ' ')} binds"))
        else:
            hit = [r for r in rows if name in _limits_of(r)]
            for ax, field in zip(axes, ("params", "tokens_per_param", _cost_key(rows))):
                ax.plot([r[x_key] for r in hit], [r[field] for r in hit], linestyle="none", marker="o",
                        markersize=8, markerfacecolor="none", markeredgecolor=colour, gid=f"binds:{name}")
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="none",
                                  markeredgecolor=colour, label=f"{name.replace('_', ' ')} binds"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=8)


def _cost_key(rows: list[dict]) -> str:
    """The cost a sweep figure plots: present-value dollars when every plan is priced."""
    return "total_cost_pv_usd" if all(r.get("total_cost_pv_usd") is not None for r in rows) else "total_flops"


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

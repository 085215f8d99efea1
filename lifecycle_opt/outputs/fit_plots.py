"""The figure of a fit (`lifeopt fit … --plot fit.png`): the runs in (N, D) coloured by their
loss, with the fitted law's iso-loss contours and its compute-optimal frontier; and the
residuals of the fit against training compute. For the joint dense/MoE law: the runs and
the compute-optimal frontier of each number of experts, and the residuals by E."""
from __future__ import annotations

__all__ = ["fit_figure", "joint_figure"]

import numpy as np

from ..fit.joint import JointFit
from ..fit.parametric import FitResult
from .plots import figure_class, nd_plane


def fit_figure(result: FitResult):
    """Two panels: the runs and the fitted law in (N, D); residuals against compute."""
    Figure = figure_class()
    runs, law = result.runs, result.law
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax, res = fig.subplots(1, 2)
    lo_N, hi_N = runs.params.min() / 2, runs.params.max() * 2
    lo_D, hi_D = runs.tokens.min() / 2, runs.tokens.max() * 2
    N, D = np.meshgrid(np.geomspace(lo_N, hi_N, 200), np.geomspace(lo_D, hi_D, 200))
    loss = np.asarray(law.loss(N, D), dtype=float)
    levels = np.quantile(runs.loss, np.linspace(0.05, 0.95, 7))
    cs = ax.contour(N, D, loss, levels=np.unique(levels), colors="0.55", linewidths=0.8)
    ax.clabel(cs, fmt=lambda v: f"{v:.3g}", fontsize=7)
    points = ax.scatter(runs.params, runs.tokens, c=runs.loss, cmap="viridis", s=22, edgecolors="k",
                        linewidths=0.3, zorder=3, gid="runs")
    fig.colorbar(points, ax=ax, label="final loss of the run [nats/token]")
    flops = np.geomspace(6 * lo_N * lo_D, 6 * hi_N * hi_D, 200)
    n_opt, d_opt = law.compute_optimal(flops)
    ax.plot(n_opt, d_opt, color="C3", linewidth=1.8, label="compute-optimal frontier of the fit", gid="frontier")
    ax.plot([], [], color="0.55", linewidth=0.8, label="iso-loss contours of the fit")
    nd_plane(ax, (lo_N, hi_N), (lo_D, hi_D))
    ax.set_title(f"{len(runs)} runs and the fitted law\nE={law.E:.4g}, A={law.A:.4g}, B={law.B:.4g}, "
                 f"α={law.alpha:.4g}, β={law.beta:.4g}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.grid(True, which="major", alpha=0.3)
    res.scatter(runs.flops, result.residuals, s=18, color="C0", edgecolors="k", linewidths=0.3, gid="residuals")
    res.axhline(0.0, color="0.3", linewidth=0.8)
    res.set_xscale("log")
    res.set_xlabel("training compute C = 6·N·D [FLOP]")
    res.set_ylabel("residual log L_fit − log L [–]")
    res.set_title(f"residuals: rms {np.sqrt(np.mean(result.residuals ** 2)):.3g}", fontsize=10)
    res.grid(True, which="major", alpha=0.3)
    return fig


def joint_figure(result: JointFit):
    """Two panels: the runs in (N_act, D) with each E's compute-optimal frontier, coloured
    by E; the residuals against compute, coloured by E."""
    import matplotlib

    Figure = figure_class()
    runs, law = result.runs, result.law
    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax, res = fig.subplots(1, 2)
    lo_N, hi_N = runs.params.min() / 2, runs.params.max() * 2
    lo_D, hi_D = runs.tokens.min() / 2, runs.tokens.max() * 2
    flops = np.geomspace(6 * lo_N * lo_D, 6 * hi_N * hi_D, 200)
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, len(result.experts)))
    for i, (colour, E) in enumerate(zip(colours, result.experts)):
        mine = runs.experts == E
        # runs of different E share (N, D): rings, the fewest experts outermost
        size = 18 + 16 * (len(result.experts) - 1 - i)
        ax.scatter(runs.params[mine], runs.tokens[mine], color=colour, s=size, edgecolors="k", linewidths=0.3,
                   zorder=3, label=f"E = {E}" + (" (dense)" if E == 1 else ""), gid=f"runs-{E}")
        n_opt, d_opt = law.at(E).compute_optimal(flops)
        ax.plot(n_opt, d_opt, color=colour, linewidth=1.5, gid=f"frontier-{E}")
        res.scatter(runs.flops[mine], result.residuals[mine], color=colour, s=18, edgecolors="k", linewidths=0.3,
                    label=f"E = {E}", gid=f"residuals-{E}")
    ax.plot([], [], color="0.3", linewidth=1.5, label="compute-optimal frontier of each E")
    nd_plane(ax, (lo_N, hi_N), (lo_D, hi_D))
    ax.set_xlabel("active parameters N_act [count]")
    ax.set_title(f"{len(runs)} runs and the fitted joint MoE law (Ludziejewski et al. 2025)\n"
                 f"a={law.a:.4g}, α={law.alpha:.4g}, δ={law.delta:.4g}, γ={law.gamma:.4g}, b={law.b:.4g}, "
                 f"β={law.beta:.4g}, ω={law.omega:.4g}, ζ={law.zeta:.4g}, c={law.c:.4g}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.grid(True, which="major", alpha=0.3)
    res.axhline(0.0, color="0.3", linewidth=0.8)
    res.set_xscale("log")
    res.set_xlabel("training compute C = 6·N_act·D [FLOP]")
    res.set_ylabel("residual log L_fit − log L [–]")
    res.set_title(f"residuals: rms {np.sqrt(np.mean(result.residuals ** 2)):.3g}", fontsize=10)
    res.legend(fontsize=8, framealpha=0.9)
    res.grid(True, which="major", alpha=0.3)
    return fig

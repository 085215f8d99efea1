"""The figure of a fit (`lifeopt fit … --plot fit.png`): the runs in (N, D) coloured by their
loss, with the fitted law's iso-loss contours and its compute-optimal frontier; and the
residuals of the fit against training compute."""
from __future__ import annotations

__all__ = ["fit_figure"]

import numpy as np

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

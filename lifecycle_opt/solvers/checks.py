"""The checks both solvers make of a plan, written once as array functions (one element
per plan; the exact solver calls them with n = 1):

* :func:`box_sides` — a plan on the edge of the search box, whose optimum lies beyond it
  (the input's doing: a target out of reach, or a loss that keeps falling);
* :func:`flat_loss` — a loss objective flat at its plan: a budget that buys more than the
  unique corpus can use leaves the loss constant to 1e-12 over a range of plans, none of
  them the optimum. Flat means a gradient under 1e-12, or a plan 10 % smaller in N or in
  D that meets the limits and reaches the same loss to 1e-12 (with D pinned by the epochs
  the penalised loss stops falling with N: N′ saturates, Muennighoff et al. 2023 eq. 15).
"""
from __future__ import annotations

__all__ = ["box_sides", "at_box_edge", "flat_loss", "smaller_plan_as_good"]

import numpy as np

from .batch_data import X_BOX, Y_BOX
from .boundary import BatchLaw


def box_sides(x, y, margin: float = 1e-9, top_x_margin: float | None = None) -> dict:
    """{"x_low", "x_high", "y_low", "y_high"}: masks of the plans (x = log N, y = log D)
    within ``margin`` of each side of the search box (``top_x_margin`` for the largest N,
    where a solver that stops short of the box keeps a margin of its own)."""
    top = margin if top_x_margin is None else top_x_margin
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return {"x_low": x <= X_BOX[0] + margin, "x_high": x >= X_BOX[1] - top,
            "y_low": y <= Y_BOX[0] + margin, "y_high": y >= Y_BOX[1] - margin}


def at_box_edge(x, y, margin: float = 1e-9, top_x_margin: float | None = None):
    """Plans on any side of the search box (see :func:`box_sides`)."""
    sides = box_sides(x, y, margin, top_x_margin)
    return sides["x_low"] | sides["x_high"] | sides["y_low"] | sides["y_high"]


def smaller_plan_as_good(law: BatchLaw, x, y, P, idx):
    """Where a plan 10 % smaller in N or in D meets the limits on D/N (every cap and every
    upper limit holds for a smaller plan) and reaches the same loss to 1e-12; ``P`` is the
    reducible loss at (x, y) of the plans ``idx`` of ``law``'s part of the batch."""
    b = law.b
    with np.errstate(invalid="ignore", over="ignore"):
        same = np.zeros(len(idx), dtype=bool)
        for dx, dy in ((0.1, 0.0), (0.0, 0.1)):
            P_small = law.reducible(np.exp(x - dx), np.exp(y - dy), idx)[0]
            ratio = (y - dy) - (x - dx)
            fits = (ratio >= b.ratio_ge[idx]) & (ratio <= b.ratio_le[idx])
            same |= fits & (P_small - P <= 1e-12 * (b.E[idx] + P))
    return same


def flat_loss(law: BatchLaw, x, y, idx, grad_phi):
    """Plans of a loss objective at which the loss is flat (see the module docstring);
    ``grad_phi`` is the loss gradient in (log N, log D), shape (n, 2)."""
    N, D = np.exp(x), np.exp(y)
    P = law.reducible(N, D, idx)[0]
    return (np.max(np.abs(grad_phi), axis=1) < 1e-12) | smaller_plan_as_good(law, x, y, P, idx)

"""What the batch solver checks of its plans: the violation of every limit, the limits'
gradients, and the multipliers of the active ones from the stationarity condition."""
from __future__ import annotations

__all__ = ["loss_code", "violations", "limit_gradients", "multipliers"]

import numpy as np

from .batch_data import Batch, NO_NAME


def loss_code(names):
    return names.index("loss_target") if "loss_target" in names else NO_NAME


def violations(b: Batch, x, y):
    """The largest violation of any limit at (x, y), in log units (≈ relative)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = [x - b.x_le, y - b.y_le, b.ratio_ge - (y - x), (y - x) - b.ratio_le, x + y - b.nd_le,
                 np.where(b.cost_c1 > 0, np.log(b.cost_c1 * np.exp(x + y) + b.cost_c2 * np.exp(x)), -np.inf)]
    return np.max(np.where(np.isnan(parts), -np.inf, parts), axis=0)


def limit_gradients(b: Batch, code, N, D):
    """∇h in (x, y) of the limit whose name code is ``code`` (zero where none)."""
    g = np.zeros((len(code), 2))
    for shape, vec in (("x_le", (1.0, 0.0)), ("y_le", (0.0, 1.0)), ("ratio_ge", (1.0, -1.0)),
                       ("ratio_le", (-1.0, 1.0)), ("nd_le", (1.0, 1.0))):
        m = (code == getattr(b, shape + "_name")) & (code != NO_NAME)
        g[m] = vec
    m = np.flatnonzero((code == b.cost_le_name) & (code != NO_NAME))
    g[m, 0] = 1.0
    g[m, 1] = b.cost_c1[m] * D[m] / (b.cost_c1[m] * D[m] + b.cost_c2[m])
    return g


def multipliers(grad_phi, g1, g2, two):
    """ν ≥ 0 of ∇φ + ν1·g1 + ν2·g2 = 0 (g2 only where ``two``) and the relative residual
    of stationarity and dual feasibility."""
    n = grad_phi.shape[0]
    nu = np.zeros((n, 2))
    # one active constraint: least squares
    nu1 = -np.sum(grad_phi * g1, axis=1) / np.sum(g1 * g1, axis=1)
    nu[:, 0] = nu1
    # two: the 2×2 system [g1 g2] ν = −∇φ
    det = g1[:, 0] * g2[:, 1] - g1[:, 1] * g2[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (-grad_phi[:, 0] * g2[:, 1] + grad_phi[:, 1] * g2[:, 0]) / det
        c = (-g1[:, 0] * grad_phi[:, 1] + g1[:, 1] * grad_phi[:, 0]) / det
    nu[two, 0], nu[two, 1] = a[two], c[two]
    with np.errstate(invalid="ignore", over="ignore"):      # plans already marked failed
        lag = grad_phi + nu[:, :1] * g1 + nu[:, 1:] * g2
        scale = np.maximum(np.max(np.abs(grad_phi), axis=1),
                           np.max(np.abs(nu[:, :1] * g1) + np.abs(nu[:, 1:] * g2), axis=1))
        resid = np.max(np.abs(lag), axis=1) / np.maximum(scale, 1e-300)
    resid = np.maximum(resid, np.max(np.maximum(-nu, 0.0), axis=1))
    return nu, resid

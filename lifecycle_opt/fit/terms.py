"""Whether a fit's runs identify its constants: losses that differ by more than a logged
loss resolves, and each term of the law doing work the runs can see.

A fit of L = E + A/N^α + B/D^β always returns numbers, even from runs that cannot tell
them apart: losses equal to 1e-6 give α = 4.1 as readily as α = 0.3, and runs of one size
fit any split of A/N^α and E. Two tests catch this before a law is written:

* **Resolution**: when the log-losses span less than :data:`LOSS_RESOLUTION`, nothing but
  E is measured (a loss logged to four decimals, 2.3456, is known to about 2e-5 of itself).
* **Each term against none** (a likelihood-ratio test of nested models, Wilks 1938): the
  fit is refitted with the term A/N^α (then B/D^β) removed, every other free constant
  refitted. With the error scale profiled out, 2·ΔlogL = c·n·log(f₀/f̂) for summed losses
  f₀ (without the term) and f̂ (with it), c as in :mod:`.identify`; when that stays below
  the χ² 95 % quantile for the constants removed, the runs cannot tell the term from none,
  and its constants are not identified.
"""
from __future__ import annotations

__all__ = ["LOSS_RESOLUTION", "unresolved", "unidentified_terms", "likelihood_ratio"]

import numpy as np

from .constraints import Layout
from .identify import CHI2_1_95
from .lbfgs import batched_lbfgs
from .objective import FitObjective, free_objective, huber_residuals, polish_lbfgsb

#: the smallest spread of the runs' log-losses a fit resolves [–] (0.01 %)
LOSS_RESOLUTION = 1e-4
#: χ² with two degrees of freedom, 95 % quantile (scipy.stats.chi2.ppf(0.95, 2) = −2·ln 0.05)
CHI2_2_95 = 5.991464547107979
#: a term's log-constant held here is a term that is gone (e^−1000 underflows to 0)
_GONE = -1000.0
#: the constants each term owns, and their names for people
_TERMS = (("a", "alpha", "A and alpha (the fall of the loss with N)"),
          ("b", "beta", "B and beta (the fall of the loss with D)"))


def likelihood_ratio(full: float, reduced: float, residuals: np.ndarray, objective: FitObjective,
                     weight: float) -> float:
    """2·ΔlogL of a model of summed loss ``full`` against a nested one of ``reduced``,
    the error scale profiled out: c·n·log(reduced/full) (module docstring)."""
    if objective.loss == "mse":
        c = 1.0
    elif objective.loss == "mae":
        c = 2.0
    else:
        c = 2.0 if np.median(np.abs(residuals)) > objective.delta else 1.0
    if not full > 0:
        return np.inf if reduced > 0 else 0.0
    return c * max(weight, 1.0) * float(np.log(max(reduced, full) / full))


def unresolved(y: np.ndarray) -> str | None:
    """Why the log-losses ``y`` are too close to fit anything but E, or None."""
    spread = float(np.ptp(y))
    if spread >= LOSS_RESOLUTION:
        return None
    return (f"losses that differ by at most {spread:.2g} of themselves, less than the {LOSS_RESOLUTION:g} a logged "
            f"loss resolves: A, B, alpha and beta are not identified")


def unidentified_terms(theta: np.ndarray, best: float, x, z, y, objective: FitObjective, layout: Layout,
                       run_weights=None) -> list[str]:
    """The constants, in words, that the runs (x = log N, z = log D, y = log L) do not
    identify at the fit ``theta`` (a, b, e, α, β) of summed loss ``best`` under ``layout``:
    empty when every term is seen (module docstring)."""
    residuals = huber_residuals(theta, x, z, y)
    weight = float(len(y) if run_weights is None else np.sum(run_weights))
    out = []
    for log_const, exponent, words in _TERMS:
        if log_const in layout.fixed:
            continue
        fixed = {**layout.fixed, log_const: _GONE}
        if not any(exponent in pair for pair in layout.tied.items()):
            fixed[exponent] = 0.0                # no term left for it to act on
        reduced = Layout(layout.names, fixed, layout.tied)
        removed = len(layout.free) - len(reduced.free)
        f0 = _refit(theta, x, z, y, objective, reduced, run_weights)
        statistic = likelihood_ratio(best, f0, residuals, objective, weight)
        if statistic < (CHI2_1_95 if removed == 1 else CHI2_2_95):
            out.append(f"{words}: without it the fit is worse by a likelihood ratio of only {statistic:.3g}, under "
                       f"the 95 % threshold")
    return out


def _refit(theta, x, z, y, objective, layout: Layout, run_weights) -> float:
    """The least summed loss under ``layout``, from the fit and a coarse grid of the
    constants left: batched L-BFGS, then scipy's polish of the best."""
    grid = np.array(np.meshgrid(np.arange(0.0, 25.01, 5.0), np.arange(0.0, 25.01, 5.0), (-1.0, 0.0, 1.0),
                                (0.0, 0.5, 1.0, 2.0), (0.0, 0.5, 1.0, 2.0), indexing="ij")).reshape(5, -1).T
    starts = layout.starts(np.vstack([theta, grid]))
    fun = free_objective(x, z, y, objective, layout, run_weights)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u, f, _ = batched_lbfgs(fun, starts)
        f = np.where(np.isfinite(f), f, np.inf)
        _, best = polish_lbfgsb(u[int(np.argmin(f))], fun)
    return best

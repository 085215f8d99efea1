"""A batched L-BFGS: many independent smooth minimisations (the starts of a multi-start
fit, the resamples of a bootstrap) moved together, each step one numpy expression over all
of them.

Per problem: the L-BFGS direction (Nocedal & Wright 2006, Algorithm 7.4, the two-loop
recursion), Armijo backtracking with quadratic interpolation, and scipy L-BFGS-B's default
stopping rule. The objective is any ``fun(theta (m, k), rows (m,), grad=True)`` returning
(f (m,), g (m, k)) for the problems ``rows``.
"""
from __future__ import annotations

__all__ = ["batched_lbfgs"]

import numpy as np


def batched_lbfgs(fun, theta0: np.ndarray, *, memory: int = 10, max_iter: int = 15000,
                  gtol: float = 1e-5, ftol: float = 2.2e-9, patience: int = 1, fscale: float = 1.0,
                  progress=None):
    """Minimise S independent smooth problems at once. ``fun(theta (m,k), rows (m,), grad=True)``
    returns (f (m,), g (m,k)) — or f alone when ``grad`` is false — for the problems ``rows``
    of the batch at the points ``theta``.

    Per start: L-BFGS direction (two-loop recursion over the last ``memory`` pairs, pairs
    with non-positive curvature ignored), Armijo backtracking with quadratic interpolation,
    and scipy L-BFGS-B's default stopping rule (``gtol`` on the largest gradient entry,
    ``ftol`` on the decrease scaled by max(|f|, ``fscale``), for ``patience`` iterations).
    Returns (theta, f, iterations per start).
    """
    theta = np.array(theta0)                     # keeps its dtype: float32 for a fast first pass
    S, k = theta.shape
    f, g = fun(theta, np.arange(S))
    s_hist = np.zeros((memory, S, k))
    y_hist = np.zeros((memory, S, k))
    rho = np.zeros((memory, S))
    active = np.ones(S, dtype=bool)
    stall = np.zeros(S, dtype=int)
    iters = np.zeros(S, dtype=int)
    for it in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        if progress is not None:
            progress(it, idx.size)
        gi = g[idx]
        d, slope = _two_loop_direction(gi, s_hist, y_hist, rho, idx, it, memory)
        f_old = f[idx]
        new_theta, f_new = _armijo(fun, theta[idx], d, f_old, slope, idx)
        g_new = gi.copy()
        ok = f_new <= f_old
        if ok.any():
            f_ok, g_new[ok] = fun(new_theta[ok], idx[ok])
            f_new[ok] = f_ok
        accepted = f_new <= f_old
        s_vec = np.where(accepted[:, None], new_theta - theta[idx], 0.0)
        y_vec = np.where(accepted[:, None], g_new - gi, 0.0)
        slot = it % memory
        s_hist[slot, idx], y_hist[slot, idx] = s_vec, y_vec
        sy = np.einsum("ij,ij->i", s_vec, y_vec)
        rho[slot, idx] = np.where(sy > 1e-300, 1.0 / np.where(sy > 1e-300, sy, 1.0), 0.0)
        theta[idx] = np.where(accepted[:, None], new_theta, theta[idx])
        f[idx] = np.where(accepted, f_new, f_old)
        g[idx] = np.where(accepted[:, None], g_new, gi)
        iters[idx] += 1
        # scipy's L-BFGS-B rule: stop when (f_k − f_k+1) / max(|f_k|, |f_k+1|, fscale) ≤ ftol
        small_change = (f_old - f[idx]) <= ftol * np.maximum(np.maximum(np.abs(f_old), np.abs(f[idx])), fscale)
        stall[idx] = np.where(small_change, stall[idx] + 1, 0)
        done = (np.abs(g[idx]).max(1) <= gtol) | (stall[idx] >= patience)
        active[idx[done]] = False
    return theta, f, iters


def _two_loop_direction(gi, s_hist, y_hist, rho, idx, it: int, memory: int):
    """(d, slope): the L-BFGS direction of the starts ``idx`` from their gradients ``gi``
    and the stored pairs (two-loop recursion), steepest descent where it is no descent."""
    # newest pair first (slot (it-1) % memory)
    q = gi.copy()
    alphas = np.zeros((memory, idx.size))
    order = [(it - 1 - j) % memory for j in range(min(it, memory))]
    for slot in order:
        al = rho[slot, idx] * np.einsum("ij,ij->i", s_hist[slot, idx], q)
        alphas[slot] = al
        q -= al[:, None] * y_hist[slot, idx]
    if order:
        newest = order[0]
        sy = np.einsum("ij,ij->i", s_hist[newest, idx], y_hist[newest, idx])
        yy = np.einsum("ij,ij->i", y_hist[newest, idx], y_hist[newest, idx])
        gamma = np.where((rho[newest, idx] > 0) & (yy > 0), sy / np.where(yy > 0, yy, 1.0), 1.0)
    else:
        gamma = 1.0 / np.maximum(np.abs(gi).max(1), 1.0)
    r = q * np.atleast_1d(gamma)[:, None]
    for slot in reversed(order):
        be = rho[slot, idx] * np.einsum("ij,ij->i", y_hist[slot, idx], r)
        r += (alphas[slot] - be)[:, None] * s_hist[slot, idx]
    d = -r
    slope = np.einsum("ij,ij->i", gi, d)
    bad = ~(slope < 0)
    if bad.any():                                   # not a descent direction: steepest descent
        d[bad] = -gi[bad] / np.maximum(np.abs(gi[bad]).max(1, keepdims=True), 1e-300)
        slope[bad] = np.einsum("ij,ij->i", gi[bad], d[bad])
    return d, slope


def _armijo(fun, base, d, f_old, slope, idx):
    """(theta, f) after Armijo backtracking from ``base`` along ``d``, all starts together,
    on the objective alone (a failed start keeps its last trial, rejected by the caller)."""
    step = np.ones(idx.size)
    new_theta = base + d
    f_new = fun(new_theta, idx, False)
    for _ in range(40):
        fail = ~(f_new <= f_old + 1e-4 * step * slope)      # also catches nan and inf
        if not fail.any():
            break
        # the minimum of the quadratic through f_old, slope and f_new, kept in [0.1, 0.5]·step
        t = step[fail]
        curv = f_new[fail] - f_old[fail] - slope[fail] * t
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            quad = -slope[fail] * t * t / (2.0 * curv)
        step[fail] = np.where(np.isfinite(quad), np.clip(quad, 0.1 * t, 0.5 * t), 0.5 * t)
        trial = base[fail] + step[fail, None] * d[fail]
        new_theta[fail] = trial
        f_new[fail] = fun(trial, idx[fail], False)
    return new_theta, f_new

"""The loss law of a part of a batch, and the loss target's boundary along which the
batch solver searches: log N as an explicit convex function g(log D), with g′ and g″,
for every law family (docs/model.md §4)."""
from __future__ import annotations

__all__ = ["BatchLaw"]

import numpy as np

from ..model.laws import params_fed_by, repetition_effective
from ..model.frontier import frontier_scale
from .batch_data import Batch


class BatchLaw:
    """The loss law of a homogeneous part of the batch (all with, or all without, the
    repetition penalty), evaluated on index subsets ``i`` of that part."""

    def __init__(self, b: Batch, penalty: bool):
        self.b = b
        self.penalty = penalty
        self.G = frontier_scale(b.A, b.B, b.alpha, b.beta)
        self.ratio = b.beta / b.alpha
        self.log_a = np.log(b.A)
        with np.errstate(divide="ignore"):
            self.log_u = np.log(b.unique)
            # log N_opt(U) of eq. 15's ceiling: K = G·(U·G)^(β/α)
            self.log_k_u = np.log(params_fed_by(b.unique, self.G, self.ratio))
        with np.errstate(invalid="ignore"):
            # the reducible loss the target leaves: P_t = L_t^(1/power) − E
            self.level = b.target ** (1.0 / b.power) - b.E

    def __len__(self):
        return len(self.b)

    def reach_repeated(self, i):
        """The smallest y = log D above the corpus (D > U) at which the target comes within
        reach: N′ reaches at most K·(1 + R_N*) there (eq. 15, K = N_opt(U)), so D′ must
        give B·D′^−β < P_t − A·(K·(1 + R_N*))^−α; eq. 14 then gives D. +inf where no D
        does (D′ tops out at U·(1 + R_D*)), nan where the target is in reach at D = U."""
        b = self.b
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            floor = b.A[i] * np.exp(-b.alpha[i] * (self.log_k_u[i] + np.log1p(b.r_n[i])))
            log_de = (np.log(b.B[i]) - np.log(self.level[i] - floor)) / b.beta[i]
            t = (np.exp(log_de - self.log_u[i]) - 1.0) / b.r_d[i]
            z = -np.log1p(-t)
            y = self.log_u[i] + np.log1p(b.r_d[i] * z)
        return np.where((t > 0) & (t < 1), y, np.where(t > 0, np.inf, np.nan))

    def effective(self, N, D, i):
        """(N', D', ∂N'/∂N, ∂N'/∂D, ∂D'/∂D) at the points i."""
        b = self.b
        if not self.penalty:
            one = np.ones_like(N)
            return N, D, one, np.zeros_like(N), one
        return repetition_effective(N, D, b.unique[i], b.r_d[i], b.r_n[i], self.G[i], self.ratio[i])

    def reducible(self, N, D, i):
        """(P, N·∂P/∂N, D·∂P/∂D, D') with P = A·N'^−α + B·D'^−β."""
        b = self.b
        Ne, De, dNN, dND, dDD = self.effective(N, D, i)
        pa = b.A[i] * Ne ** -b.alpha[i]
        pb = b.B[i] * De ** -b.beta[i]
        na = b.alpha[i] * pa / Ne          # −∂(A·N'^−α)/∂N'
        nb = b.beta[i] * pb / De
        return pa + pb, -N * na * dNN, -D * (na * dND + nb * dDD), De

    def curve(self, y, i, second: bool = False, right=None):
        """x = log N = g(y) on the loss target's boundary at y = log D, with g′ (and g″ when
        ``second``): convex and decreasing; x = +inf (g′ = −inf) where no N reaches the
        target at that D. ``right`` (bool array) takes one-sided derivatives at D = U, the
        one kink of g′ (the tokens per parameter N_opt(U_D) stops growing there).

        In logs: ℓ = log D′ (eq. 14), u = log N′ from the target, and N from N′ by the
        inverse of eq. 15 where N′ exceeds K = N_opt(U_D): x = k + log w with
        w = 1 − R_N*·log(1 − s), s = (N′/K − 1)/R_N*, k = log K.
        """
        b = self.b
        beta, alpha, level = b.beta[i], b.alpha[i], self.level[i]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.penalty:
                log_u = self.log_u[i]
                repeated = (y > log_u) if right is None else np.where(y == log_u, right, y > log_u)
                # eq. 14 on the repeated side; D′ = D below the corpus size
                r_d = b.r_d[i]
                D_over_U = np.exp(y - log_u)
                decay = np.exp(-(D_over_U - 1.0) / r_d)
                De_over_U = 1.0 + r_d * (1.0 - decay)
                ell = np.where(repeated, log_u + np.log(De_over_U), y)
                ell1 = np.where(repeated, D_over_U * decay / De_over_U, 1.0)
                ell2 = np.where(repeated, ell1 * (1.0 - D_over_U / r_d - ell1), 0.0)
            else:
                ell, ell1, ell2 = y, 1.0, 0.0
            pb = b.B[i] * np.exp(-beta * ell)
            room = level - pb                                # what A·N′^−α may take
            ok = room > 0
            c = beta * pb / (alpha * room)
            u = (self.log_a[i] - np.log(room)) / alpha
            u1 = -c * ell1
            u2 = -c * (ell2 - beta * ell1 * ell1 * level / room) if second else None
            if self.penalty:
                k1 = np.where(repeated, 0.0, self.ratio[i])
                k = self.log_k_u[i] - np.where(repeated, 0.0, self.ratio[i] * (log_u - y))
                v = u - k
                excess = v > 0
                r_n = b.r_n[i]
                ev = np.exp(np.where(excess, v, 0.0))
                s = (ev - 1.0) / r_n
                ok &= s < 1.0
                w = 1.0 - r_n * np.log1p(-np.where(s < 1.0, s, 0.0))
                hp = ev / ((1.0 - s) * w)                    # d log w / dv
                x = np.where(excess, k + np.log(w), u)
                x1 = np.where(excess, k1 + hp * (u1 - k1), u1)
                if second:
                    hpp = hp * (1.0 + ev / (r_n * (1.0 - s)) - hp)
                    x2 = np.where(excess, hpp * (u1 - k1) ** 2 + hp * u2, u2)
            else:
                x, x1, x2 = u, u1, u2
            x = np.where(ok, x, np.inf)
            x1 = np.where(ok, x1, -np.inf)
            if second:
                return x, x1, np.where(ok, x2, np.nan)
            return x, x1

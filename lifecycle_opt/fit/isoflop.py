"""**Approach 2** (Hoffmann et al. 2022, §3.2): runs grouped by training compute into
IsoFLOP budgets; a parabola of the loss in log N per budget gives N_opt(C); power laws
N_opt ∝ C^a and D_opt ∝ C^b are fitted across budgets.
"""
from __future__ import annotations

__all__ = ["IsoFlopFit", "isoflop_fit", "compute_groups", "MAX_SPAN_DECADES"]

from dataclasses import dataclass

import numpy as np

from ..model.constants import TRAIN_FLOPS_PER_PARAM_TOKEN
from .runs import Runs


@dataclass(frozen=True)
class IsoFlopFit:
    """Approach 2: per compute budget, the loss-minimising N of a parabola in log N.

    budgets, params_opt, tokens_opt : per IsoFLOP group used [FLOP], [count], [count]
    a, b : exponents of N_opt ∝ C^a and D_opt ∝ C^b; n_coef, d_coef their prefactors
    groups : how the runs were grouped: (lowest C, highest C [FLOP], runs, "used" or why
        not) per group, in order of compute
    """

    budgets: np.ndarray
    params_opt: np.ndarray
    tokens_opt: np.ndarray
    a: float
    b: float
    n_coef: float
    d_coef: float
    groups: tuple = ()

    def at(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) at training compute ``flops`` from the power laws."""
        return self.n_coef * flops ** self.a, self.d_coef * flops ** self.b


#: the widest span of compute one IsoFLOP budget may cover [decades]
MAX_SPAN_DECADES = 0.2


def compute_groups(logc: np.ndarray, gap_decades: float = 0.05,
                   max_span_decades: float = MAX_SPAN_DECADES) -> list[np.ndarray]:
    """Runs grouped into budgets by log10 C: a new group where the sorted values jump by
    more than ``gap_decades``; a group wider than ``max_span_decades`` (a chain of close
    runs, single-link) is split at its widest gap until none is."""
    order = np.argsort(logc, kind="stable")
    cuts = np.flatnonzero(np.diff(logc[order]) > gap_decades) + 1
    pending = list(np.split(order, cuts))
    out = []
    while pending:
        g = pending.pop(0)
        span = logc[g[-1]] - logc[g[0]]
        if span <= max_span_decades or len(g) < 2:
            out.append(g)
            continue
        k = int(np.argmax(np.diff(logc[g]))) + 1
        pending[:0] = [g[:k], g[k:]]
    return out


def isoflop_fit(runs: Runs, *, gap_decades: float = 0.05, min_runs: int = 3,
                max_span_decades: float = MAX_SPAN_DECADES) -> IsoFlopFit | None:
    """Group runs by training compute (:func:`compute_groups`), fit loss = p2·u² + p1·u + p0
    with u = log N in each group of at least ``min_runs`` runs whose minimum lies inside the
    sizes tried, and fit power laws across groups. None when fewer than two groups qualify."""
    logc = np.log10(runs.flops)
    budgets, n_opt, groups = [], [], []
    for g in compute_groups(logc, gap_decades, max_span_decades):
        u = np.log(runs.params[g])
        record = [float(runs.flops[g].min()), float(runs.flops[g].max()), len(g)]
        # a parabola needs three sizes: through fewer it is any of many (numpy warned
        # "poorly conditioned" once per such budget, a dozen times on a file of them)
        if np.unique(u).size < max(min_runs, 3):
            groups.append((*record, f"fewer than {max(min_runs, 3)} sizes"))
            continue
        (p2, p1, _), *_ = np.polyfit(u, runs.loss[g], 2, full=True)
        vertex = -p1 / (2 * p2) if p2 > 0 else None
        if vertex is None or not (u.min() <= vertex <= u.max()):
            groups.append((*record, "minimum outside the sizes tried"))
            continue
        groups.append((*record, "used"))
        budgets.append(float(np.exp(np.mean(np.log(runs.flops[g])))))
        n_opt.append(float(np.exp(vertex)))
    if len(budgets) < 2:
        return None
    C, N = np.array(budgets), np.array(n_opt)
    D = C / (TRAIN_FLOPS_PER_PARAM_TOKEN * N)
    a, log_n = np.polyfit(np.log(C), np.log(N), 1)
    b, log_d = np.polyfit(np.log(C), np.log(D), 1)
    return IsoFlopFit(C, N, D, float(a), float(b), float(np.exp(log_n)), float(np.exp(log_d)), tuple(groups))

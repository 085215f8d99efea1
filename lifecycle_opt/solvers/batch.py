"""Many plans at once: the lifecycle problem of every point of a sweep, solved in numpy.

The exact solver (:mod:`lifecycle_opt.solvers.exact`) certifies one plan with two solvers in a
few hundred milliseconds. A sweep asks for millions. This module solves them together,
one array element per plan, using the structure docs/model.md §4 spells out:

* **Minimising cost under a loss target.** Cost a·N·D + b·N rises with N and D and the
  loss falls with both, so the target binds (shrinking N and D by a common factor keeps
  every ratio limit and lowers cost and every cap). On the target's boundary, log N is a
  convex decreasing function g(log D), explicit for every law family (under the
  repetition penalty by inverting eq. 15 of Muennighoff et al. 2023 in N). The plan
  is then the minimum of the convex f(y) = g(y) + log(a·e^y + b), y = log D: one monotone
  equation f'(y) = 0. Every limit becomes an interval of y (limits on N, D and D/N are
  monotone along the boundary; caps on N·D and on dollars are convex along it), so the
  optimum is f's minimiser clamped into the intersection of those intervals.
* **Minimising loss under a budget.** For a given N the loss falls with D, so D takes the
  largest value every cap allows, y = c(x), a concave function of x = log N (the minimum
  of the caps' boundaries). The loss along it is convex in x: again one monotone
  equation, then the limits on x clamp it.

The equations of the cost objective are solved by Newton steps with g's analytic first and
second derivatives, safeguarded by a bracket (Newton from either end, else bisection);
under the repetition penalty g′ may jump at D = U, so that point is settled first, and
where the target is out of reach at U the pole of f′ at the reach boundary (closed form,
eq. 14–15) is divided out. The loss objective's ceiling c(x) has kinks, so its equations
use a bracketing method (Anderson–Björck regula falsi with bisection safeguards). Both
run to the last bits of a double; the multipliers of the active constraints come from
the stationarity condition, and the relative residual of the KKT conditions is reported
for every plan.

What it does not do, it says: a plan whose scenario has several loss constraints (robust
plans), an unbounded scenario, a plan at the edge of the search box, a loss objective
flat at its optimum, or an infeasible one is marked (``status``), and the sweep solves
those with the exact per-scenario path, which explains an infeasibility. The batch answers
agree with the exact solver to 1e-9 relative in N and D (tests/test_batch.py; on 10,000
random scenarios, 8,742 of 8,820 plans, the rest ill-conditioned ones under Kaplan's law
to 7e-9, where the loss is the same to 1e-13).

Constraints reach this module through :class:`~lifecycle_opt.solvers.problem.Problem`, the same
narrow interface the exact solver uses: every limit there is a posynomial g ≤ 1, and the
shapes it can take in (x, y) = (log N, log D) are:

=============  =========================  =====================================
shape          constraint                 scenario settings
=============  =========================  =====================================
``x_le``       x ≤ v                      limits.max_params, serving memory
``y_le``       y ≤ v                      data.max_epochs
``ratio_ge``   y − x ≥ v                  limits.min_tokens_per_param
``ratio_le``   y − x ≤ v                  limits.max_tokens_per_param
``nd_le``      x + y ≤ v                  training FLOP, days and dollar caps
``cost_le``    c1·N·D + c2·N ≤ 1          lifecycle dollar caps
=============  =========================  =====================================
"""
from __future__ import annotations

__all__ = ["Batch", "BatchResult", "SHAPES", "STATUS", "batch_from_problems", "solve_batch"]

from dataclasses import fields

import numpy as np

from .batch_cost import solve_cost_objective
from .batch_data import SHAPES, STATUS, UNSUPPORTED, Batch, BatchResult, Results, batch_from_problems
from .batch_loss import solve_loss_objective
from .boundary import BatchLaw

#: plans solved together: ~40 arrays of this many doubles stay within a core's caches
_BLOCK = 32768


def solve_batch(batch: Batch) -> BatchResult:
    """Solve every plan of ``batch`` (see the module docstring)."""
    n = len(batch)
    if n > _BLOCK:
        parts = [solve_batch(batch.take(slice(s, s + _BLOCK))) for s in range(0, n, _BLOCK)]
        return BatchResult(*(np.concatenate([getattr(p, f.name) for p in parts])
                             for f in fields(BatchResult) if f.name != "names"), names=batch.names)
    out = Results(n, batch.names)
    out.status[batch.unsupported] = UNSUPPORTED
    penalty = np.isfinite(batch.unique)
    for minimise_loss in (False, True):
        for with_penalty in (False, True):
            idx = np.flatnonzero(~batch.unsupported & (batch.minimise_loss == minimise_loss)
                                 & (penalty == with_penalty))
            if idx.size:
                part = BatchLaw(batch.take(idx), with_penalty)
                (solve_loss_objective if minimise_loss else solve_cost_objective)(part, idx, out)
    return out.result()

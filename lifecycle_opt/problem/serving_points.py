"""Where a model of N parameters is served: the cheapest batch and replica size that meet
every serving constraint, read from the constraints themselves (docs/model.md §8).

For a model of N parameters on a replica of G GPUs holding B sequences, the decode step t
is the longest of the times the *step* constraints demand (each says t ≥ P(N, B, G): the
compute time and the memory time); every other serving constraint (memory, the targets,
the batch cap) then either holds at that step or not. A generated token costs G·t/B
GPU-seconds. Two facts make the search simple and exact:

* every time scales as 1/G, so G·t/B does not depend on G, and a larger replica only widens
  what fits: the cheapest batch is the largest the largest replica allows;
* every step time is affine in B (weights read once per step, cache and FLOP per
  sequence), so G·t/B falls with B until decode turns compute-bound and is flat after:
  of the equally cheap batches, the smallest is reported.

The *relaxed* point lets B and G be real numbers (the relaxation the solver certifies);
the *rounded* point tries every allowed replica size with its largest whole batch (up to
the compute-bound one) and keeps the cheapest, ties to the smaller replica.
"""
from __future__ import annotations

__all__ = ["relaxed_point", "rounded_point"]

import math

from ..model.serving import Roofline, ServingPoint
from .constraints import Constraint

#: relative slack of a constraint at a point (rounding, not modelling)
_SLACK = 1e-12
#: the largest batch searched [sequences] (the serving box's edge)
_MAX_BATCH = 1e8


class _Replica:
    """The serving constraints of N parameters on G GPUs, as functions of B alone."""

    def __init__(self, constraints, N: float, G: float):
        self.G = G
        reduced = [c.posynomial.fixed(N=N, D=1.0, G=G) for c in constraints]
        self.steps = [p.fixed(t=1.0) for p, c in zip(reduced, constraints) if _is_step(c)]
        self.others = [p for p, c in zip(reduced, constraints) if not _is_step(c)]

    def step(self, B: float) -> float:
        """The decode step t [s] at batch B: the longest time a step constraint demands."""
        return max(p.value(1.0, B=B) for p in self.steps)

    def feasible(self, B: float, slack: float = _SLACK) -> bool:
        """Whether batch B meets every constraint at its decode step (to ``slack``)."""
        t = self.step(B)
        return all(p.value(1.0, B=B, t=t) <= 1.0 + slack for p in self.others)

    def cost(self, B: float) -> float:
        """GPU-seconds of a generated token, G·t/B [s]."""
        return self.G * self.step(B) / B

    def largest_batch(self) -> float | None:
        """The largest feasible B ≥ 1 (every constraint but B ≥ 1 tightens as B grows), or
        None when not even one sequence fits."""
        if not self.feasible(1.0):
            return None
        if self.feasible(_MAX_BATCH, 0.0):
            return _MAX_BATCH
        # strictly feasible: the boundary to the last bit (a whole batch at it rounds with slack)
        return _bisect(lambda B: self.feasible(B, 0.0), 0.0, math.log(_MAX_BATCH))

    def cheapest_batch(self, B_max: float) -> float:
        """The smallest B in [1, B_max] as cheap as B_max (G·t/B never rises with B)."""
        # (a few ulps of slack: past the compute-bound batch the cost is flat but for rounding)
        floor = self.cost(B_max) * (1.0 + 1e-14)
        if self.cost(1.0) <= floor:
            return 1.0
        return _bisect(lambda B: self.cost(B) > floor, 0.0, math.log(B_max), keep_last_true=False)


def _is_step(c: Constraint) -> bool:
    """A constraint t ≥ P(N, B, G): every term of its g has t to the power −1."""
    return all(e[4] == -1.0 for _, *e in c.posynomial.terms)


def _bisect(holds, lo: float, hi: float, keep_last_true: bool = True) -> float:
    """exp of the boundary in [lo, hi] (logs) of a predicate true below it and false above:
    the last B where it holds (``keep_last_true``), else the first where it fails."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if holds(math.exp(mid)):
            lo = mid
        else:
            hi = mid
    return math.exp(lo if keep_last_true else hi)


def relaxed_point(roofline: Roofline, constraints, N: float) -> ServingPoint | None:
    """The cheapest point with real B and G (the relaxation the solver optimises), of the
    equally cheap ones the smallest batch and replica; None when no allowed replica serves
    N within the constraints."""
    G_min, G_max = float(min(roofline.replica_gpus)), float(max(roofline.replica_gpus))
    largest = _Replica(constraints, N, G_max)
    B_max = largest.largest_batch()
    if B_max is None:
        return None
    B = largest.cheapest_batch(B_max)
    if _Replica(constraints, N, G_min).feasible(B, 0.0):
        G = G_min
    else:
        G = _bisect(lambda g: not _Replica(constraints, N, g).feasible(B, 0.0), math.log(G_min),
                    math.log(G_max), keep_last_true=False)
    return roofline.point(N, B, G)


def rounded_point(roofline: Roofline, constraints, N: float) -> ServingPoint | None:
    """The cheapest point with an allowed replica size and a whole batch (each allowed G
    tried with its largest whole batch up to the compute-bound one; ties to the smaller
    replica); None when none serves N within the constraints."""
    best, best_cost = None, math.inf
    for G in sorted(roofline.replica_gpus):
        replica = _Replica(constraints, N, float(G))
        B_max = replica.largest_batch()
        if B_max is None:
            continue
        B = min(math.floor(B_max * (1 + _SLACK)), max(1, math.ceil(replica.cheapest_batch(B_max) * (1 - 1e-9))))
        if B < 1 or not replica.feasible(B):
            continue
        cost = replica.cost(B)
        if cost < best_cost * (1 - 1e-12):
            best, best_cost = roofline.point(N, B, float(G)), cost
    return best

"""Where a model of N parameters is served: the cheapest batch and replica size that meet
every serving constraint, read from the constraints themselves (docs/model.md §8).

For a model of N parameters on a replica of G GPUs holding B sequences, the decode step t
is the longest of the times the *step* constraints demand (each says t ≥ P(N, B, G): the
compute time and the memory time); every other serving constraint (memory, the targets,
the batch cap) then either holds at that step or not. A generated token costs G·t/B
GPU-seconds. Two facts make the search simple and exact:

* each replica size is its own problem: the all-reduces between its GPUs cost what its
  size makes them cost (none on one GPU), so the sizes are tried one by one;
* every step time is affine in B (weights read and all-reduce latencies once per step,
  cache, FLOP and activations per sequence), so G·t/B falls with B until decode turns
  compute-bound and is flat after: the cheapest batch is the largest that fits, and of
  the equally cheap batches, the smallest is reported.

The *relaxed* point lets B be a real number (the relaxation the solver certifies, one
geometric program per size); the *rounded* point tries every allowed replica size with its
largest whole batch (up to the compute-bound one) and keeps the cheapest, ties to the
smaller replica.

A mixture of experts reads, per step, the experts its batch touches (docs/model.md §10):
its cells are (replica size, batch bucket), each priced at its bucket's top (an upper
bound), searched alike within the bucket; the cheapest cell wins and its point is then
evaluated with the exact count of experts at its batch.
"""
from __future__ import annotations

__all__ = ["relaxed_point", "rounded_point", "cell_price"]

import functools
import math

from ..model.serving import Roofline
from ..model.serving_point import ServingPoint
from .constraints import Constraint
from .formulation import serving_constraints

#: relative slack of a constraint at a point (rounding, not modelling)
_SLACK = 1e-12
#: the largest batch searched [sequences] (the serving box's edge)
_MAX_BATCH = 1e8


class _Replica:
    """The serving constraints of N parameters on G GPUs, as functions of B ≥ lo alone."""

    def __init__(self, constraints, N: float, G: float, lo: float = 1.0, hi: float = math.inf):
        self.G, self.lo, self.hi = G, lo, hi
        steps, others = _forms(constraints)
        self.steps = [p.fixed(N=N, D=1.0, G=G, t=1.0) for p in steps]
        self.others = [p.fixed(N=N, D=1.0, G=G) for p in others]

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
        """The largest feasible B ≥ lo (every constraint but B ≥ lo tightens as B grows), or
        None when not even lo sequences fit."""
        if not self.feasible(self.lo):
            return None
        if self.feasible(_MAX_BATCH, 0.0):
            return _MAX_BATCH
        # strictly feasible: the boundary to the last bit (a whole batch at it rounds with slack)
        return _bisect(lambda B: self.feasible(B, 0.0), math.log(self.lo), math.log(_MAX_BATCH))

    def floor_cost(self) -> float:
        """No batch of the cell is cheaper than its largest, G·t/B falling with B: the cost at
        the bucket's top (or the search's edge), feasible or not, bounds the cell's from below."""
        return self.cost(min(self.hi, _MAX_BATCH))

    def cheapest_batch(self, B_max: float) -> float:
        """The smallest B in [lo, B_max] as cheap as B_max (G·t/B never rises with B)."""
        # (a few ulps of slack: past the compute-bound batch the cost is flat but for rounding)
        floor = self.cost(B_max) * (1.0 + 1e-14)
        if self.cost(self.lo) <= floor:
            return self.lo
        return _bisect(lambda B: self.cost(B) > floor, math.log(self.lo), math.log(B_max), keep_last_true=False)


@functools.lru_cache(maxsize=512)
def _forms(constraints: tuple) -> tuple[list, list]:
    """(the step constraints' posynomials, the others'), read once per cell."""
    return ([c.posynomial for c in constraints if _is_step(c)],
            [c.posynomial for c in constraints if not _is_step(c)])


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


def _replicas(roofline: Roofline, N: float, exclude: tuple) -> list:
    """(G, its constraints as functions of B) for every cell (allowed replica size, and a
    mixture's batch bucket), smallest first."""
    out = []
    for cell in sorted(roofline.cells(), key=lambda c: c.size):
        constraints = tuple(c for c in serving_constraints(cell) if c.name not in exclude)
        lo, hi = (1.0, math.inf) if cell.batch_bucket is None else cell.batch_bucket
        out.append((cell.size, _Replica(constraints, N, float(cell.size), max(1.0, lo), hi)))
    return out


def _scan(roofline: Roofline, N: float, exclude: tuple, best_in) -> tuple | None:
    """(B, G, G·t/B) of the cheapest cell by ``best_in`` (a replica → (B, cost) or None),
    ties to the earlier cell (smaller replica, smaller batch). A mixture's many cells are
    pruned by their floor costs once the most promising one's cost is known: a cell whose
    floor is above it cannot be chosen (the choice is the same as trying every cell)."""
    cells = _replicas(roofline, N, exclude)
    found = {}
    bound = math.inf
    if len(cells) > len(roofline.replica_gpus):
        floors = [replica.floor_cost() for _, replica in cells]
        for i in sorted(range(len(cells)), key=floors.__getitem__):
            found[i] = best_in(cells[i][1])
            if found[i] is not None:
                bound = found[i][1] * (1 + 1e-9)
                break
        cells = [(g, r, f) for (g, r), f in zip(cells, floors)]
    else:
        cells = [(g, r, 0.0) for g, r in cells]
    best, best_cost = None, math.inf
    for i, (g, replica, floor) in enumerate(cells):
        if floor > bound:
            continue
        got = found[i] if i in found else best_in(replica)
        if got is not None and got[1] < best_cost * (1 - 1e-12):
            best, best_cost = (got[0], g), got[1]
    return None if best is None else (best[0], best[1], best_cost)


def _relaxed_in(replica: _Replica) -> tuple | None:
    """(B, G·t/B) of a cell's cheapest real batch, or None."""
    B_max = replica.largest_batch()
    if B_max is None:
        return None
    B = replica.cheapest_batch(B_max)
    return B, replica.cost(B)


def _rounded_in(replica: _Replica) -> tuple | None:
    """(B, G·t/B) of a cell's largest whole batch up to the compute-bound one, or None."""
    B_max = replica.largest_batch()
    if B_max is None:
        return None
    B = min(math.floor(B_max * (1 + _SLACK)), max(replica.lo, math.ceil(replica.cheapest_batch(B_max) * (1 - 1e-9))))
    if B < replica.lo or not replica.feasible(B):
        return None
    return B, replica.cost(B)


def _relaxed(roofline: Roofline, N: float, exclude: tuple) -> tuple | None:
    """(B, G, G·t/B) of the cheapest relaxed point, or None."""
    return _scan(roofline, N, exclude, _relaxed_in)


def relaxed_point(roofline: Roofline, N: float, exclude: tuple = ()) -> ServingPoint | None:
    """The cheapest point with a real batch B on an allowed replica size (the relaxation the
    solver optimises: one geometric program per cell), of the equally cheap ones the
    smallest batch and replica; None when no allowed replica serves N within the
    constraints (those named in ``exclude`` left out: the baseline has no latency targets).
    A mixture's point is evaluated with the exact count of experts at its batch."""
    got = _relaxed(roofline, N, exclude)
    return None if got is None else roofline.point(N, got[0], float(got[1]))


def cell_price(roofline: Roofline, N: float) -> float | None:
    """The GPU-seconds G·t/B of a generated token at the cheapest relaxed point of
    ``roofline``'s cells (a mixture's: at its buckets' bounds, as their problems price
    it) [s], or None when none serves N."""
    got = _relaxed(roofline, N, ())
    return None if got is None else got[2]


def rounded_point(roofline: Roofline, N: float, exclude: tuple = ()) -> ServingPoint | None:
    """The cheapest point with an allowed replica size and a whole batch (each allowed G
    tried with its largest whole batch up to the compute-bound one; ties to the smaller
    replica); None when none serves N within the constraints (``exclude`` as above)."""
    got = _scan(roofline, N, exclude, _rounded_in)
    return None if got is None else roofline.point(N, got[0], float(got[1]))

"""The parameters of many plans, one array element per plan (:class:`Batch`), read from
the exact solver's Problems, and the arrays the batch solver fills (:class:`Results`,
returned as a :class:`BatchResult`). See :mod:`.batch` for how they are solved."""
from __future__ import annotations

__all__ = ["Batch", "BatchResult", "Results", "batch_from_problems", "SHAPES", "STATUS", "OPTIMAL",
           "INFEASIBLE", "UNSUPPORTED", "EDGE", "X_BOX", "Y_BOX", "TOL", "NO_NAME"]

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from ..model.laws import DataConstrainedLaw
from ..problem.formulation import BOX, Problem

#: the limit shapes in (x, y) = (log N, log D) of the constraints' batch forms
#: (:meth:`~lifecycle_opt.problem.constraints.Constraint.batch_form`), in the order of the
#: table in :mod:`.batch`
SHAPES = ("x_le", "y_le", "ratio_ge", "ratio_le", "nd_le", "cost_le")


#: what ``BatchResult.status`` holds
STATUS = {"optimal": 0, "infeasible": 1, "unsupported": 2, "edge": 3}
OPTIMAL, INFEASIBLE, UNSUPPORTED, EDGE = 0, 1, 2, 3

#: the search box, in x = log N and in y = log D
X_BOX, Y_BOX = BOX


TOL = 1e-9            # relative feasibility tolerance of a finished plan


NO_NAME = -1


@dataclass(frozen=True)
class Batch:
    """The parameters of n plans, one array element each (float64 arrays of shape (n,)).

    Loss law in the Chinchilla form L = (E + A·N'^−α + B·D'^−β)^power: power = 1 for the
    Chinchilla family; a Kaplan law is E = 0, A = N_c^(α_N/α_D), α = α_N/α_D, B = D_c,
    β = 1, power = α_D. ``unique`` is the corpus U [tokens] of the repetition penalty
    (inf without it), with R_D*, R_N* in ``r_d``, ``r_n``.

    ``minimise_loss`` (bool) chooses the objective; otherwise cost a·N·D + b·N [FLOP or $]
    under the loss ``target`` [nats]. Each limit shape holds its bound ``<shape>`` (a log,
    ±inf when absent; for ``cost_le`` the coefficients ``cost_c1``, ``cost_c2``, zero when
    absent) and ``<shape>_name``, an index into ``names`` of the constraint it comes from.
    """

    E: np.ndarray
    A: np.ndarray
    B: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    power: np.ndarray
    unique: np.ndarray
    r_d: np.ndarray
    r_n: np.ndarray
    minimise_loss: np.ndarray
    target: np.ndarray
    a: np.ndarray
    b: np.ndarray
    x_le: np.ndarray
    y_le: np.ndarray
    ratio_ge: np.ndarray
    ratio_le: np.ndarray
    nd_le: np.ndarray
    cost_c1: np.ndarray
    cost_c2: np.ndarray
    x_le_name: np.ndarray
    y_le_name: np.ndarray
    ratio_ge_name: np.ndarray
    ratio_le_name: np.ndarray
    nd_le_name: np.ndarray
    cost_le_name: np.ndarray
    #: points the batch cannot model (several loss constraints, an unknown limit shape)
    unsupported: np.ndarray
    names: tuple = ()

    def __len__(self) -> int:
        return int(self.E.shape[0])

    def renamed(self, names: tuple) -> "Batch":
        """The same plans with their constraints' names indexed into ``names``, a tuple
        holding every name of this batch (two batches then share one list)."""
        if names == self.names:
            return self
        lookup = np.array([names.index(n) for n in self.names] + [NO_NAME], dtype=np.int32)
        return replace(self, names=names, **{f"{s}_name": lookup[getattr(self, f"{s}_name")] for s in SHAPES})

    def take(self, idx) -> "Batch":
        """The plans at ``idx`` (an index array or boolean mask)."""
        return replace(self, **{f.name: getattr(self, f.name)[idx] for f in fields(self)
                                if f.name != "names"})


@dataclass(frozen=True)
class BatchResult:
    """The plans of a Batch: N [parameters], D [tokens], ``status`` (see STATUS), the
    objective [FLOP, $ or nats], the plan's loss [nats] and effective tokens D' [tokens],
    the relative KKT residual, and up to two binding
    constraints per plan as indices into ``names`` (−1 for none) with their multipliers
    (elasticities for a cost objective, as in :class:`~lifecycle_opt.plan.solution.Binding`)."""

    params: np.ndarray
    tokens: np.ndarray
    status: np.ndarray
    objective: np.ndarray
    loss: np.ndarray
    effective_tokens: np.ndarray
    kkt_residual: np.ndarray
    binding: np.ndarray          # shape (n, 3): loss target, then up to two limits
    multipliers: np.ndarray      # shape (n, 3)
    names: tuple

    def binding_texts(self, rows: np.ndarray) -> np.ndarray:
        """The names of each plan's binding constraints (multiplier above 1e-12) joined by
        ";", for each plan i of ``rows``, as an object array:
        joined once per distinct set of binding constraints, not once per plan."""
        codes = np.where(self.multipliers[rows] > 1e-12, self.binding[rows], NO_NAME).astype(np.int64)
        if codes.shape[0] == 0:
            return np.empty(0, dtype=object)
        # the three codes of a plan as one number, so that np.unique sorts integers, not rows
        m = len(self.names) + 1
        key = ((codes[:, 0] + 1) * m + (codes[:, 1] + 1)) * m + (codes[:, 2] + 1)
        distinct, inverse = np.unique(key, return_inverse=True)
        texts = np.empty(len(distinct), dtype=object)
        texts[:] = [";".join(self.names[k - 1] for k in (d // (m * m), d // m % m, d % m) if k)
                    for d in distinct.tolist()]
        return texts[inverse]


def batch_from_problems(problems) -> Batch:
    """One Batch from exact-solver Problems (one per plan): the narrow interface both
    solvers share. Names of constraints are collected across all problems."""
    names: dict[str, int] = {}
    cols = {f.name: [] for f in fields(Batch) if f.name != "names"}
    for problem in problems:
        for key, value in _row(problem, names).items():
            cols[key].append(value)
    arrays = {k: np.asarray(v, dtype=bool if k in ("minimise_loss", "unsupported") else
                            (np.int32 if k.endswith("_name") else float)) for k, v in cols.items()}
    return Batch(**arrays, names=tuple(names))


def _row(problem: Problem, names: dict) -> dict:
    """The Batch parameters of one Problem."""
    row = {"unsupported": False, "minimise_loss": problem.objective.kind == "loss",
           "target": math.nan, "a": 0.0, "b": 0.0}
    row.update(_law_row(problem.law))
    if problem.objective.kind == "cost":
        form = problem.objective.batch_form()
        if form is None:
            row["unsupported"] = True
        row["a"], row["b"] = form or (0.0, 0.0)
    bounds = {"x_le": math.inf, "y_le": math.inf, "ratio_ge": -math.inf, "ratio_le": math.inf,
              "nd_le": math.inf}
    cost = (0.0, 0.0)
    which = {s: NO_NAME for s in SHAPES}
    losses = 0
    for c in problem.constraints:
        code = names.setdefault(c.name, len(names))
        if c.is_loss:
            losses += 1
            row["target"] = c.target
            continue
        form = c.batch_form()
        if form is None:
            row["unsupported"] = True
            continue
        shape, value = form
        if shape == "cost_le":
            # caps of one shape share their coefficients' ratio: the larger scale is tighter
            if value[0] > cost[0]:
                cost, which["cost_le"] = value, code
        elif (value > bounds[shape]) if shape == "ratio_ge" else (value < bounds[shape]):
            bounds[shape], which[shape] = value, code
    if losses > 1 or (losses == 0 and not row["minimise_loss"]):
        row["unsupported"] = True
    row.update(bounds)
    row["cost_c1"], row["cost_c2"] = cost
    row.update({f"{s}_name": which[s] for s in SHAPES})
    return row


def _law_row(law) -> dict:
    form = law.posynomial_form()
    if form is None:
        # a law outside the batch solver's one shape (quantised serving): the exact path solves it
        return {"unsupported": True, **dict.fromkeys(("E", "A", "B", "alpha", "beta", "power"), 1.0),
                "unique": math.inf, "r_d": 1.0, "r_n": 1.0}
    row = dict(zip(("E", "A", "B", "alpha", "beta", "power"), form))
    if isinstance(law, DataConstrainedLaw):
        row.update(unique=law.unique_tokens, r_d=law.R_D_star, r_n=law.R_N_star)
    else:
        row.update(unique=math.inf, r_d=1.0, r_n=1.0)
    return row


class Results:
    """The result arrays, filled part by part."""

    def __init__(self, n, names):
        self.names = names
        self.params = np.full(n, np.nan)
        self.tokens = np.full(n, np.nan)
        self.status = np.zeros(n, dtype=np.int8)
        self.objective = np.full(n, np.nan)
        self.loss = np.full(n, np.nan)
        self.effective = np.full(n, np.nan)
        self.kkt = np.full(n, np.nan)
        self.binding = np.full((n, 3), NO_NAME, dtype=np.int32)
        self.nu = np.zeros((n, 3))

    def result(self) -> BatchResult:
        bad = self.status != OPTIMAL
        for a in (self.params, self.tokens, self.objective, self.loss, self.effective, self.kkt):
            a[bad] = np.nan
        self.binding[bad] = NO_NAME
        self.nu[bad] = 0.0
        return BatchResult(self.params, self.tokens, self.status, self.objective, self.loss,
                           self.effective, self.kkt, self.binding, self.nu, self.names)

    def plans(self, law, where, good, N, D, P, De) -> np.ndarray:
        """Record N, D, loss and D' of the good plans (P the reducible loss, D' the effective
        tokens, of every plan); returns the loss of all."""
        w = where[good]
        self.params[w], self.tokens[w] = N[good], D[good]
        loss = (law.b.E + P) ** law.b.power
        self.loss[w] = loss[good]
        self.effective[w] = De[good]
        return loss

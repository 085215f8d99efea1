"""The optimisation problem of a Scenario, in log space: named, convex, solver-neutral.

Variables x = log N and y = log D (docs/model.md §4); under the roofline serving model
also b = log B, g = log G and τ = log t, the batch, the replica size and the decode step
(docs/model.md §8), so z = (x, y, b, g, τ) — every serving term is a posynomial, and the
problem stays convex. Every constraint is a named
function h(x, y) ≤ 0 that knows its value, gradient and Hessian, which scenario setting
(its *knob*) it comes from, and how h moves when that knob moves — which is all a solver
needs for shadow prices and for explaining infeasibility:

* limits and budgets are posynomials g(N, D) ≤ 1, written h = log g (convex: log-sum-exp
  of affine functions); relaxing the knob by a factor k divides g by k^e;
* the loss target is h = log(P(N, D) / P_target) for laws whose reducible loss is a
  posynomial P (Chinchilla and Kaplan forms), and h = L(N, D) − L_target under the
  repetition penalty (convex in (x, y): docs/model.md §4, tested in tests/test_laws.py).

The objective φ is the log of a posynomial cost a·N·D + b·N (FLOPs or dollars), or the
loss itself when minimising loss under a budget.
"""
from __future__ import annotations

__all__ = ["Posy", "Constraint", "Objective", "Problem", "build_problem", "loss_minus_target", "BOX",
           "SERVING_BOX", "LIMIT_KINDS"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.constants import SECONDS_PER_DAY, TRAIN_FLOPS_PER_PARAM_TOKEN
from ..model.laws import LossLaw
from ..model.serving import Roofline
from ..scenario.schema import OBJECTIVE_UNITS, Scenario

#: the shapes a limit takes in (x, y) = (log N, log D); see Constraint.kind
LIMIT_KINDS = ("x_le", "y_le", "ratio_ge", "ratio_le", "nd_le", "cost_le")

#: the search box in (log N, log D): far outside any plan, it only keeps solvers finite.
BOX = ((math.log(1e3), math.log(1e16)), (math.log(1e3), math.log(1e19)))
#: ... and in (log B, log G, log t) of the roofline serving model: far outside any serving
#: point (the named constraints keep B ≥ 1 and G within the allowed sizes)
SERVING_BOX = ((math.log(1e-2), math.log(1e8)), (math.log(1e-2), math.log(1e5)),
               (math.log(1e-9), math.log(1e4)))


@dataclass(frozen=True)
class Posy:
    """A posynomial Σ c_k · N^a_k · D^b_k (· B^.. G^.. t^.. under the roofline serving
    model), evaluated in log space: terms (c, a, b, ...), exponents in the order of z."""

    terms: tuple[tuple[float, ...], ...]

    def _parts(self, n: int = 2):
        c = np.array([t[0] for t in self.terms])
        V = np.zeros((len(self.terms), n))
        for k, t in enumerate(self.terms):
            V[k, :len(t) - 1] = t[1:n + 1]
        return np.log(c), V

    def value(self, N, D) -> float:
        """g(N, D) of a posynomial in N and D alone."""
        return float(self.values(N, D))

    def values(self, N, D) -> np.ndarray:
        """g(N, D) over arrays of N and D (broadcast), for a posynomial in N and D alone."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return sum(c * N ** t[0] * D ** t[1] for c, *t in self.terms)

    def value_at(self, z) -> float:
        """g at z = (log N, log D, ...)."""
        return math.exp(self.log_value(z)[0])

    def log_value(self, z) -> tuple[float, np.ndarray, np.ndarray]:
        """(log g, ∇ log g, ∇² log g) at z = (x, y, ...)."""
        z = np.asarray(z, dtype=float)
        logc, V = self._parts(z.size)
        u = logc + V @ z
        m = u.max()
        w = np.exp(u - m)
        s = w.sum()
        w = w / s
        grad = V.T @ w
        hess = (V.T * w) @ V - np.outer(grad, grad)
        return m + math.log(s), grad, hess

    def scaled(self, k: float) -> "Posy":
        return Posy(tuple((c * k, *e) for c, *e in self.terms))


@dataclass(frozen=True)
class Constraint:
    """h(x, y) ≤ 0, named, with the scenario setting it comes from.

    name : short identifier used in reports and JSON ("max_params", "loss_target", ...)
    label : what it says, for people
    key : the scenario key of its knob ("limits.max_params")
    knob : the knob's current value, in base units of that key
    posy : for posynomial constraints, g with h = log g; None for the loss constraint
    elasticity : e with g ∝ knob^(−e) (relaxing a limit raises its knob: e = +1; a minimum
        tokens-per-parameter is relaxed by lowering it: e = −1)
    law, loss_target : for the loss constraint
    kind : the shape of a limit in (x, y) = (log N, log D), one of LIMIT_KINDS — ``x_le``
        (x ≤ v), ``y_le`` (y ≤ v), ``ratio_ge`` (y − x ≥ v), ``ratio_le`` (y − x ≤ v),
        ``nd_le`` (x + y ≤ v), ``cost_le`` (c1·N·D + c2·N ≤ 1) — or "loss", or "serving"
        (a term of the roofline serving model); the batch solver reads it instead of
        decoding the posynomial
    movable : whether the infeasibility explanation may suggest moving the knob (not for
        "at least one sequence per replica"); knob_max : the largest value it may take
        (1 for an efficiency)
    """

    name: str
    label: str
    key: str
    knob: float
    posy: Posy | None = None
    elasticity: float = 1.0
    law: LossLaw | None = None
    loss_target: float | None = None
    kind: str = "loss"
    movable: bool = True
    knob_max: float = math.inf

    @property
    def is_loss(self) -> bool:
        return self.posy is None

    def _loss_posy(self) -> tuple[Posy, float] | None:
        """(P, P_target) when the law's reducible loss is a posynomial."""
        p = self.law.posynomial()
        if p is None:
            return None
        return Posy(p.terms), self.law.posynomial_level(self.loss_target)

    def value(self, z) -> float:
        return self.evaluate(z)[0]

    def bound(self):
        """The limit's bound in its kind's terms: v of ``x ≤ v`` and the like (a log), or
        (c1, c2) of a ``cost_le`` cap; None for the loss constraint (its bound is
        ``loss_target``)."""
        if self.is_loss:
            return None
        if self.kind == "cost_le":
            return tuple(c for c, _, _ in self.posy.terms)
        log_c = math.log(self.posy.terms[0][0])
        return log_c if self.kind == "ratio_ge" else -log_c

    def evaluate(self, z) -> tuple[float, np.ndarray, np.ndarray]:
        """(h, ∇h, ∇²h) at z = (log N, log D)."""
        if self.posy is not None:
            return self.posy.log_value(z)
        lp = self._loss_posy()
        if lp is not None:
            h, g, H = lp[0].log_value(z)
            return h - math.log(lp[1]), g, H
        return loss_minus_target(self.law, self.loss_target, z)

    def d_h_d_knob(self, z) -> float:
        """∂h/∂knob at fixed (x, y) [1/knob units]."""
        if self.posy is not None:
            return -self.elasticity / self.knob
        lp = self._loss_posy()
        if lp is not None:
            # h = log P − log level(L_t); level = L_t − E (Chinchilla) or L_t^(1/α_D)
            # (Kaplan): analytic, as a target a hair above E leaves no room for a step
            return -self.law.level_log_slope(self.knob)
        return -1.0

    def knob_at(self, z) -> float:
        """The knob value that puts the point z exactly on this constraint's boundary."""
        if self.posy is not None:
            # in logs: a knob near the ends of the double range (1e-308 epochs) must not overflow
            return math.exp(math.log(self.knob) + self.value(z) / self.elasticity)
        return float(self.law.loss(math.exp(z[0]), math.exp(z[1])))


def loss_minus_target(law, target, z):
    """h = L − L_t with exact gradient and a finite-difference Hessian in (x, y) (zero in
    any further variable: the loss depends on N and D alone)."""
    z = np.asarray(z, dtype=float)
    h, g, H = _loss_in_nd(law, target, z[:2])
    if z.size == 2:
        return h, g, H
    G, HH = np.zeros(z.size), np.zeros((z.size, z.size))
    G[:2], HH[:2, :2] = g, H
    return h, G, HH


def _loss_in_nd(law, target, z):
    def grad(zz):
        N, D = math.exp(zz[0]), math.exp(zz[1])
        L, dN, dD = law.loss_grad(N, D)
        return float(L), np.array([float(dN) * N, float(dD) * D])
    L, g = grad(z)
    H = np.empty((2, 2))
    step = 1e-5
    for i in range(2):
        e = np.zeros(2)
        e[i] = step
        H[:, i] = (grad(np.asarray(z) + e)[1] - grad(np.asarray(z) - e)[1]) / (2 * step)
    return L - target, g, (H + H.T) / 2


@dataclass(frozen=True)
class Objective:
    """What is minimised: kind "cost" (φ = log(a·N·D + b·N), unit "flops" or "usd") or
    "loss" (φ = L(N, D) [nats])."""

    kind: str
    unit: str
    posy: Posy | None = None
    law: LossLaw | None = None

    def evaluate(self, z) -> tuple[float, np.ndarray, np.ndarray]:
        """(φ, ∇φ, ∇²φ) at z."""
        if self.kind == "cost":
            return self.posy.log_value(z)
        return loss_minus_target(self.law, 0.0, z)

    def value_natural(self, phi: float) -> float:
        """The objective in its own units from φ: dollars or FLOPs, or nats."""
        return math.exp(phi) if self.kind == "cost" else phi

    def d_value_d_phi(self, phi: float) -> float:
        return math.exp(phi) if self.kind == "cost" else 1.0


@dataclass(frozen=True)
class Problem:
    """min φ(z) subject to every h_i(z) ≤ 0 and z in ``box`` (BOX, and SERVING_BOX under
    the roofline serving model)."""

    objective: Objective
    constraints: tuple[Constraint, ...]
    law: LossLaw
    box: tuple = BOX

    @property
    def dim(self) -> int:
        """The number of variables: 2, or 5 under the roofline serving model."""
        return len(self.box)


def _posy(terms, dim: int) -> Posy:
    """The terms (c, e_N, e_D, e_B, e_G, e_t) as a Posy over the first ``dim`` variables,
    zero coefficients dropped (the attention term of an empty prompt)."""
    kept = tuple((c, *e[:dim]) for c, *e in terms if c > 0)
    if any(any(x for x in e[dim:]) for c, *e in terms):
        raise ValueError("a serving term in a problem without serving variables")
    return Posy(kept)


def _dim(scenario: Scenario) -> int:
    return 2 if scenario.serving is None else 2 + len(SERVING_BOX)


def _cost_posy(scenario: Scenario, unit: str, part: str = "total") -> Posy:
    """Lifecycle cost in ``unit`` ("flops", "usd" or "usd_nominal"): a·N·D + b·N under the
    MFU serving model, the roofline model's posynomial under that one."""
    return _posy(scenario.costs.cost_terms(unit, part), _dim(scenario))


def _spend_posy(scenario: Scenario, spend: str) -> Posy:
    """What a cap limits: "training_flops" [FLOP], "training_usd" or "total_usd" [$].

    Dollar caps limit nominal dollars, as paid: a budget is approved in money to be spent,
    not in present value (they coincide without a ``[finance]`` section)."""
    if spend == "total_usd":
        return _cost_posy(scenario, "usd_nominal")
    if spend == "training_usd":
        return _cost_posy(scenario, "usd_nominal", "training")
    return Posy(((TRAIN_FLOPS_PER_PARAM_TOKEN, 1.0, 1.0),))


def build_problem(scenario: Scenario, extra_loss_laws: tuple = ()) -> Problem:
    """The named constraints and objective of ``scenario`` (see the module docstring).

    ``extra_loss_laws`` — (index, law) pairs — add the target under further laws (the
    bootstrap laws of a robust plan), each its own convex loss constraint."""
    s, lim, law = scenario, scenario.limits, scenario.loss_law
    cons: list[Constraint] = []

    def cap(name, label, key, knob, kind, terms, elasticity=1.0):
        cons.append(Constraint(name, label, key, knob, Posy(tuple(terms)), elasticity, kind=kind))

    if s.target is not None and s.objective != "loss":
        cons.append(Constraint("loss_target", f"loss at most {s.target.loss:.6g}", "target.loss",
                               s.target.loss, law=law, loss_target=s.target.loss))
    if s.target is not None:
        for index, extra in extra_loss_laws:
            cons.append(Constraint(f"loss_sample_{index}", f"loss under bootstrap law {index} at most "
                                   f"{s.target.loss:.6g}", "target.loss", s.target.loss, law=extra,
                                   loss_target=s.target.loss))
    if lim.max_params is not None:
        cap("max_params", "parameters at most the cap", lim.max_params_key, lim.max_params,
            "x_le", [(1.0 / lim.max_params, 1.0, 0.0)])
    if s.data.max_epochs is not None:
        U, ep = s.data.unique_tokens, s.data.max_epochs
        cap("max_epochs", f"at most {ep:g} epochs over {U:.3g} unique tokens", "data.max_epochs", ep,
            "y_le", [(1.0 / (ep * U), 0.0, 1.0)])
    if lim.min_tokens_per_param is not None:
        r = lim.min_tokens_per_param
        cap("min_tokens_per_param", "tokens per parameter at least the minimum",
            "limits.min_tokens_per_param", r, "ratio_ge", [(r, 1.0, -1.0)], elasticity=-1.0)
    if lim.max_tokens_per_param is not None:
        r = lim.max_tokens_per_param
        cap("max_tokens_per_param", "tokens per parameter at most the maximum",
            "limits.max_tokens_per_param", r, "ratio_le", [(1.0 / r, -1.0, 1.0)])
    if lim.max_training_days is not None:
        t = s.training
        per_day = SECONDS_PER_DAY * t.gpus * t.flop_rate        # FLOP per day of training
        cons.append(Constraint("max_training_days", "training finishes within the deadline",
                               "limits.max_training_days", lim.max_training_days,
                               _spend_posy(s, "training_flops").scaled(
                                   1.0 / (per_day * lim.max_training_days)), kind="nd_le"))
    # caps on spending, from [limits] and [budget] alike: g = spend / cap ≤ 1
    b = s.budget
    for name, label, key, value, spend in (
            ("max_training_cost", "training dollars at most the cap", "limits.max_training_cost",
             lim.max_training_cost, "training_usd"),
            ("max_total_cost", "lifecycle dollars at most the cap", "limits.max_total_cost",
             lim.max_total_cost, "total_usd"),
            ("budget_training_flops", "training compute within the budget", "budget.training_flops",
             b.training_flops, "training_flops"),
            ("budget_training_cost", "training dollars within the budget", "budget.training_cost",
             b.training_cost, "training_usd"),
            ("budget_total_cost", "lifecycle dollars within the budget", "budget.total_cost",
             b.total_cost, "total_usd")):
        if value is not None:
            posy = _spend_posy(s, spend).scaled(1.0 / value)
            # a lifecycle cap without serving demand caps N·D alone
            kind = "serving" if s.serving is not None and len(posy.terms) > 1 else (
                "cost_le" if len(posy.terms) == 2 else "nd_le")
            cons.append(Constraint(name, label, key, value, posy, kind=kind))
    if s.serving is not None:
        cons += _serving_constraints(s.serving)

    if s.objective == "loss":
        objective = Objective("loss", "loss", law=law)
    else:
        unit = OBJECTIVE_UNITS[s.objective]
        objective = Objective("cost", unit, posy=_cost_posy(s, unit))
    return Problem(objective, tuple(cons), law, BOX if s.serving is None else BOX + SERVING_BOX)


def _times_monomial(terms, k: float, B: float = 0.0, G: float = 0.0, t: float = 0.0) -> Posy:
    """The serving posynomial ``terms`` times k·B^B·G^G·t^t, over z = (x, y, b, g, τ)."""
    return _posy(tuple((c * k, a, d, eB + B, eG + G, et + t) for c, a, d, eB, eG, et in terms),
                 2 + len(SERVING_BOX))


def _serving_constraints(r: Roofline) -> list[Constraint]:
    """The roofline serving model's constraints in z = (x, y, b, g, τ) (docs/model.md §8):
    the decode step outlasts its compute and its memory time, meets the TPOT target; the
    prefill meets the TTFT target; weights and cache fit the replica; 1 ≤ B ≤ max_batch and
    G within the allowed sizes."""
    per = _times_monomial
    one = ((1.0, 0.0, 0.0, 0.0, 0.0, 0.0),)
    out = [
        Constraint("decode_compute_time", "decode step at least its compute time", "serving.compute_efficiency",
                   r.compute_efficiency, per(r.compute_time_terms(), 1.0, t=-1), kind="serving", knob_max=1.0),
        Constraint("decode_memory_time", "decode step at least its memory time", "serving.bandwidth_efficiency",
                   r.bandwidth_efficiency, per(r.memory_time_terms(), 1.0, t=-1), kind="serving", knob_max=1.0),
        Constraint("memory_capacity", "weights and KV cache fit the replica's memory",
                   "serving.memory_utilisation", r.memory_utilisation,
                   per(r.memory_use_terms(), 1.0 / r.usable_memory, G=-1), kind="serving", knob_max=1.0),
        Constraint("min_batch", "at least one sequence per replica", "serving.max_batch", 1.0,
                   per(one, 1.0, B=-1), elasticity=-1.0, kind="serving", movable=False),
        Constraint("max_replica_gpus", "replica no larger than the largest allowed size", "serving.replica_gpus",
                   float(max(r.replica_gpus)), per(one, 1.0 / max(r.replica_gpus), G=1), kind="serving"),
        Constraint("min_replica_gpus", "replica no smaller than the smallest allowed size",
                   "serving.replica_gpus", float(min(r.replica_gpus)), per(one, float(min(r.replica_gpus)), G=-1),
                   elasticity=-1.0, kind="serving", movable=False),
    ]
    if r.tpot_seconds is not None:
        ms = r.tpot_seconds * 1e3
        out.append(Constraint("tpot_target", f"time per output token at most {ms:g} ms", "serving.tpot_ms", ms,
                              per(one, 1.0 / r.tpot_seconds, t=1), kind="serving"))
    if r.ttft_seconds is not None:
        ms = r.ttft_seconds * 1e3
        out.append(Constraint("ttft_target", f"time to first token at most {ms:g} ms", "serving.ttft_ms", ms,
                              per(r.ttft_terms(), 1.0 / r.ttft_seconds), kind="serving"))
    if r.max_batch is not None:
        out.append(Constraint("max_batch", "batch at most the cap", "serving.max_batch", r.max_batch,
                              per(one, 1.0 / r.max_batch, B=1), kind="serving"))
    return out

"""The optimisation problem of a Scenario: typed constraints and an objective over the log
variables, convex and solver-neutral.

Variables z = (log N, log D) (docs/model.md §4); under the roofline serving model also
log B, log G and log t, the batch, the replica size and the decode step (docs/model.md §8):
every serving term is a posynomial and the problem stays a geometric program. Each
constraint is a typed object of :mod:`.constraints` built here from one scenario
setting and the model quantity it limits; the objective is the log of a cost posynomial
(:meth:`~lifecycle_opt.model.costs.CostModel.cost`) or the loss itself.
"""
from __future__ import annotations

__all__ = ["Problem", "build_problem", "serving_constraints", "architecture_pins", "plane_problem", "BOX",
           "SERVING_BOX", "LATENCY_TARGETS", "CELL_PINS"]

import functools
import math
from dataclasses import dataclass, replace

from ..model.constants import SECONDS_PER_DAY
from ..model.laws import LossLaw
from ..model.posynomial import Posynomial, monomial
from ..model.serving import Roofline
from ..scenario.schema import OBJECTIVE_UNITS, Scenario
from .constraints import (Cap, ComputeCap, Constraint, CostObjective, EfficiencyCap, ErrorTarget, Floor, LossObjective,
                          LossTarget,
                          ParamCap, RatioCap, RatioFloor, SpendCap, TokenCap)

#: the search box in (log N, log D): far outside any plan, it only keeps solvers finite.
BOX = ((math.log(1e3), math.log(1e16)), (math.log(1e3), math.log(1e19)))
#: ... and in (log B, log G, log t) of the roofline serving model: far outside any serving
#: point (the constraints keep B ≥ 1 and G within the allowed sizes)
SERVING_BOX = ((math.log(1e-2), math.log(1e8)), (math.log(1e-2), math.log(1e5)),
               (math.log(1e-9), math.log(1e4)))
#: the serving constraints that are latency targets (a compute-optimal baseline is served
#: without them: it has no limits)
LATENCY_TARGETS = ("tpot_target", "ttft_target", "ttft_weights")


@dataclass(frozen=True)
class Problem:
    """min φ(z) subject to every constraint h_i(z) ≤ 0 and z in ``box``.

    Parameters
    ----------
    objective : CostObjective or LossObjective
    constraints : tuple of Constraint
    law : the loss law of the plan (with the repetition penalty when it applies)
    box : ((lo, hi), ...) per variable, in logs: BOX, and SERVING_BOX under the roofline model
    """

    objective: CostObjective | LossObjective
    constraints: tuple[Constraint, ...]
    law: LossLaw
    box: tuple = BOX

    @property
    def dim(self) -> int:
        """The number of variables: 2, or 5 under the roofline serving model."""
        return len(self.box)

    def constraint(self, name: str) -> Constraint | None:
        """The constraint called ``name``, or None."""
        return next((c for c in self.constraints if c.name == name), None)


def build_problem(scenario: Scenario, extra_loss_laws: tuple = (), serving: bool = True) -> Problem:
    """The typed constraints and the objective of ``scenario``; under the roofline serving
    model, those of one replica size (each size is its own problem, solved one by one by
    :func:`~lifecycle_opt.solvers.exact.solve_exact`): with several allowed, the largest
    (and a mixture's open bucket: every expert read).

    ``extra_loss_laws`` — (index, law) pairs — add the target under further laws (the
    bootstrap laws of a robust plan), each its own convex loss constraint; ``serving``
    False leaves the serving constraints out (:func:`plane_problem`)."""
    s, law = scenario, scenario.loss_law
    if s.serving is not None and len(s.serving.replica_gpus) > 1:
        s = replace(s, serving=s.serving.at_size(max(s.serving.replica_gpus)))
    cons: list[Constraint] = []
    if s.target is not None and s.objective != "loss":
        if s.target.error is not None:
            cons.append(ErrorTarget("loss_target", f"benchmark error at most {s.target.error:.4g} (loss at most "
                                    f"{s.target.loss:.6g})", "target.error", s.target.error, "error", law=law,
                                    downstream=s.downstream))
        else:
            cons.append(LossTarget("loss_target", f"loss at most {s.target.loss:.6g}", "target.loss",
                                   s.target.loss, "nats", law=law))
    if s.target is not None:
        cons += [LossTarget(f"loss_sample_{index}", f"loss under bootstrap law {index} at most "
                            f"{s.target.loss:.6g}", "target.loss", s.target.loss, "nats", law=extra)
                 for index, extra in extra_loss_laws]
    cons += _plan_limits(s)
    cons += _spending_caps(s)
    if s.serving is not None and serving:
        cons += architecture_pins(s.serving) + serving_constraints(s.serving)
    if s.objective == "loss":
        objective = LossObjective(law)
    else:
        objective = CostObjective(s.costs.cost(OBJECTIVE_UNITS[s.objective]), OBJECTIVE_UNITS[s.objective])
    return Problem(objective, tuple(cons), law, BOX if s.serving is None else BOX + SERVING_BOX)


def _plan_limits(s: Scenario) -> list[Constraint]:
    """The limits on N, D and D/N, and the training deadline. Limits on parameters hold the
    total parameters: N, the law's active parameters, times what a mixture of experts holds
    per active one (docs/model.md §10; 1 for a dense model)."""
    lim, out = s.limits, []
    total = s.moe.total_per_active
    what = "parameters" if s.moe.is_dense else "total parameters"
    if lim.max_params is not None:
        out.append(ParamCap("max_params", f"{what} at most the cap", "limits.max_params", lim.max_params,
                            "parameters", quantity=monomial(total, N=1)))
    if lim.serving_memory is not None:
        out.append(ParamCap("serving_memory", f"weights ({what}) at {lim.bytes_per_param:g} bytes per parameter "
                            "fit the serving memory", "limits.serving_memory", lim.serving_memory, "bytes",
                            quantity=monomial(lim.bytes_per_param * total, N=1)))
    if lim.serving_gpus is not None:
        out.append(ParamCap("serving_gpus", f"weights ({what}) at {lim.bytes_per_param:g} bytes per parameter "
                            "fit the serving GPUs", "limits.serving_gpus", float(lim.serving_gpus), "GPUs",
                            whole=True, quantity=monomial(lim.bytes_per_param * total / lim.gpu_memory, N=1)))
    if s.data.max_epochs is not None:
        U, ep = s.data.unique_tokens, s.data.max_epochs
        out.append(TokenCap("max_epochs", f"at most {ep:g} epochs over {U:.3g} unique tokens", "data.max_epochs",
                            ep, "epochs", quantity=monomial(1.0 / U, D=1)))
    if lim.min_tokens_per_param is not None:
        out.append(RatioFloor("min_tokens_per_param", "tokens per parameter at least the minimum",
                              "limits.min_tokens_per_param", lim.min_tokens_per_param, "tokens/parameter",
                              quantity=monomial(1.0, N=-1, D=1)))
    if lim.max_tokens_per_param is not None:
        out.append(RatioCap("max_tokens_per_param", "tokens per parameter at most the maximum",
                            "limits.max_tokens_per_param", lim.max_tokens_per_param, "tokens/parameter",
                            quantity=monomial(1.0, N=-1, D=1)))
    if lim.max_training_days is not None:
        t = s.training
        seconds = s.costs.training_gpu_seconds()        # GPU-seconds, on the training fleet in days
        out.append(ComputeCap("max_training_days", "training finishes within the deadline",
                              "limits.max_training_days", lim.max_training_days, "days",
                              quantity=seconds.scaled(1.0 / (t.gpus * SECONDS_PER_DAY))))
    return out


def _spending_caps(s: Scenario) -> list[Constraint]:
    """Caps on spending, from [limits] and [budget] alike.

    Dollar caps limit nominal dollars, as paid: a budget is approved in money to be spent,
    not in present value (they coincide without a ``[finance]`` section)."""
    lim, b, out = s.limits, s.budget, []
    if b.training_flops is not None:
        out.append(ComputeCap("budget_training_flops", "training compute within the budget",
                              "budget.training_flops", b.training_flops, "FLOP", quantity=s.costs.training_flops()))
    for name, label, key, value, part in (
            ("max_training_cost", "training dollars at most the cap", "limits.max_training_cost",
             lim.max_training_cost, "training"),
            ("max_total_cost", "lifecycle dollars at most the cap", "limits.max_total_cost",
             lim.max_total_cost, "total"),
            ("budget_training_cost", "training dollars within the budget", "budget.training_cost",
             b.training_cost, "training"),
            ("budget_total_cost", "lifecycle dollars within the budget", "budget.total_cost",
             b.total_cost, "total")):
        if value is not None:
            out.append(SpendCap(name, label, key, value, "$", quantity=s.costs.cost("usd_nominal", part)))
    return out


def serving_constraints(r: Roofline) -> list[Constraint]:
    """The roofline serving model's constraints in z = (x, y, b, g, τ) for replicas of one
    size (``r.at_size``; docs/model.md §8), each from the setting it depends on: the decode
    step lasts at least its compute, prompts' share and links (compute efficiency η_c: the
    compute parts over η_c) and at least its memory time, prompts' share and links
    (bandwidth efficiency η_m); weights and the paged cache fit the replica, and weights and
    one sequence at its longest context (memory utilisation u); the TPOT target; the TTFT
    target as two caps, a prompt's compute and its read of the weights (each plus its links
    and overhead: the longer of the two meets the target exactly when both do); 1 ≤ B ≤
    max_batch; G the replica size."""
    return list(_structural(r.without_targets())) + _targets(r)


@functools.lru_cache(maxsize=512)
def _structural(r: Roofline) -> tuple[Constraint, ...]:
    """The serving constraints but the targets and the batch cap (built once for each roofline:
    a sweep over a target shares them)."""
    g, e = float(r.size), r.efficiencies
    links, prompts = r.step_link_terms().times(t=-1), r.prefill_share_terms().times(t=-1)
    fits = "the replica's memory"
    return (
        EfficiencyCap("decode_compute_time", "decode step at least its compute, the prompts' share and the links",
                      "serving.compute_efficiency", e.compute, "fraction", setting_max=1.0,
                      scaled=(r.compute_time_terms().times(t=-1) + prompts).scaled(e.compute), fixed=links),
        EfficiencyCap("decode_memory_time", "decode step at least its memory time, the prompts' share and the "
                      "links", "serving.bandwidth_efficiency", e.bandwidth, "fraction", setting_max=1.0,
                      scaled=r.memory_time_terms().times(e.bandwidth, t=-1), fixed=prompts + links),
        Cap("memory_capacity", f"weights and the KV cache of the batch fit {fits}", "serving.memory_utilisation",
            r.memory_utilisation, "fraction", setting_max=1.0,
            quantity=r.memory_use_terms().times(1.0 / r.memory_bytes, G=-1)),
        Cap("longest_sequence", f"weights and one sequence at max_context_tokens fit {fits}",
            "serving.memory_utilisation", r.memory_utilisation, "fraction", setting_max=1.0,
            quantity=r.longest_sequence_terms().times(1.0 / r.memory_bytes, G=-1)),
        Floor("min_batch", "at least one sequence per replica", "serving.max_batch", 1.0, "sequences",
              movable=False, quantity=monomial(1.0, B=1)),
        # advice past the size (the largest allowed: its explanation is the one raised) names
        # the size to add by the rule that extends the list, as the whole list of sizes would
        Cap("max_replica_gpus", f"replicas of {g:g} GPUs (an allowed size)", "serving.replica_gpus", g,
            "GPUs per replica", whole=True, allowed=(g,), quantity=monomial(1.0, G=1)),
        Floor("min_replica_gpus", f"replicas of {g:g} GPUs (an allowed size)", "serving.replica_gpus", g,
              "GPUs per replica", movable=False, quantity=monomial(1.0, G=1)),
    ) + _bucket(r)


#: the names of the constraints that pin a problem to its cell (a replica size, a batch
#: bucket): no limit of the scenario, each cell being its own problem
CELL_PINS = ("max_replica_gpus", "min_replica_gpus", "bucket_min_batch", "bucket_max_batch")


def _bucket(r: Roofline) -> tuple[Constraint, ...]:
    """A mixture's batch bucket lo ≤ B ≤ hi, whose experts the step reads at hi's count
    (docs/model.md §10); none for a dense model or an open bucket."""
    if r.batch_bucket is None:
        return ()
    lo, hi = r.batch_bucket
    label = f"a batch in the bucket [{lo:g}, {hi:g}] (experts read at its top's count)"
    out = (Floor("bucket_min_batch", label, "serving.max_batch", lo, "sequences", movable=False,
                 quantity=monomial(1.0, B=1)),) if lo > 1 else ()
    if math.isfinite(hi):
        out += (Cap("bucket_max_batch", label, "serving.max_batch", hi, "sequences", movable=False,
                    quantity=monomial(1.0, B=1)),)
    return out


def _targets(r: Roofline) -> list[Constraint]:
    """The TPOT and TTFT targets and the batch cap."""
    ms = 1e3                                                   # milliseconds per second
    out = []
    if r.tpot_seconds is not None:
        out.append(Cap("tpot_target", f"time per output token at most {r.tpot_seconds * ms:g} ms",
                       "serving.tpot_ms", r.tpot_seconds * ms, "ms", quantity=monomial(ms, t=1)))
    if r.ttft_seconds is not None:
        label = f"time to first token at most {r.ttft_seconds * ms:g} ms"
        out += [Cap("ttft_target", label + " (the prompt's compute)", "serving.ttft_ms", r.ttft_seconds * ms, "ms",
                    quantity=r.ttft_compute_terms().scaled(ms)),
                Cap("ttft_weights", label + " (one read of the weights)", "serving.ttft_ms", r.ttft_seconds * ms,
                    "ms", quantity=r.ttft_memory_terms().scaled(ms))]
    if r.max_batch is not None:
        out.append(Cap("max_batch", "batch at most the cap", "serving.max_batch", r.max_batch, "sequences",
                       whole=True, quantity=monomial(1.0, B=1)))
    return out


def plane_problem(scenario: Scenario) -> tuple[Problem, float] | None:
    """The part of a roofline scenario's problem in (N, D) — its loss target and plane
    limits, and the cost's terms in N and D alone — and k, the objective's unit per
    GPU-second of generated tokens (the cost's G·t/B term): what the batch solver of
    serving plans needs beside the serving constraints (solvers/batch_serving.py). None
    when the objective is not a cost, the cost has another serving term, the architecture
    pins N, or a limit has no batch form (a dollar cap on a cost with serving terms): the
    exact path solves those."""
    if scenario.serving is not None and scenario.serving.architecture is not None:
        return None
    problem = build_problem(scenario, serving=False)
    if problem.objective.kind != "cost":
        return None
    plane, k = [], 0.0
    for c, *e in problem.objective.cost.terms:
        if tuple(e[2:]) == (-1.0, 1.0, 1.0) and e[:2] == [0.0, 0.0]:
            k += c
        elif any(e[2:]):
            return None
        else:
            plane.append((c, *e))
    if any(not c.is_loss and c.batch_form() is None for c in problem.constraints):
        return None
    return Problem(CostObjective(Posynomial(tuple(plane)), problem.objective.unit), problem.constraints,
                   problem.law, BOX), k


def architecture_pins(r: Roofline) -> list[Constraint]:
    """N equal to the count of the exact architecture of ``[serving.architecture]`` (none
    for the shape family, whose N is free): a mixture's active parameters, the law's N."""
    a = r.architecture
    if a is None:
        return []
    what = "parameters" if not a.is_moe else "active parameters"
    n = a.active_params
    label = f"{what} those of the architecture ({a.name}, {n:.6g})"
    return [ParamCap("architecture_max", label, "serving.architecture", n, "parameters", movable=False,
                     quantity=monomial(1.0, N=1)),
            Floor("architecture_min", label, "serving.architecture", n, "parameters", movable=False,
                  quantity=monomial(1.0, N=1))]

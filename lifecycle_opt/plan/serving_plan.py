"""How a plan is served under the roofline serving model (docs/model.md §8): the relaxed
serving point the solver certified and the whole-number one a team deploys, with the
figures an inference engineer asks for (TPOT, TTFT, tokens/s, memory, $ per million
tokens, replicas, the decode MFU the model implies).

The solver's relaxed optimum may be one of many equally cheap points (once decode is
compute-bound a larger batch saves nothing; a larger replica only widens what fits):
the relaxed point reported is the cheapest one with the smallest batch and replica
(:func:`~lifecycle_opt.problem.serving_points.relaxed_point`), its cost checked against
the solver's. The rounded point tries every allowed replica size with its largest whole
batch (:func:`~lifecycle_opt.problem.serving_points.rounded_point`), and is checked
against every constraint of the problem.
"""
from __future__ import annotations

__all__ = ["ServingPlan", "ExpertsRead", "serving_plan", "serving_points", "baseline_point", "point_z",
           "implied_mfu", "nan_if_none"]

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InfeasibleError
from ..model.constants import HOURS_PER_MONTH, SECONDS_PER_HOUR
from ..model.architecture import Architecture
from ..model.serving import Roofline
from ..model.serving_point import BOUND_EFFICIENCIES, Efficiencies, ServingPoint
from ..problem.formulation import LATENCY_TARGETS
from ..problem.serving_points import relaxed_point, rounded_point
from ..scenario.schema import Scenario

_MILLION = 1e6


@dataclass(frozen=True)
class ExpertsRead:
    """What a mixture of experts' decode step reads (docs/model.md §10).

    experts, active_experts : E and k; total_params, active_params [parameters]
    touched, relaxed_touched : distinct experts per MoE layer a step touches at the deployed
        and at the relaxed batch, by the exact formula E·(1 − (1 − k/E)^T), T the step's
        tokens [experts]
    bound : the experts the problem priced the deployed batch at, its bucket's top's [experts]
    bucket : (lo, hi) the deployed batch's bucket [sequences]
    expert_parallel : experts spread over the replica's GPUs (all-to-alls), else tensor parallel
    """

    experts: int
    active_experts: int
    total_params: float
    active_params: float
    touched: float
    relaxed_touched: float
    bound: float
    bucket: tuple[float, float]
    expert_parallel: bool

    def as_dict(self) -> dict:
        return {"experts": self.experts, "active_experts": self.active_experts, "total_params": self.total_params,
                "active_params": self.active_params, "touched_per_layer": self.touched,
                "relaxed_touched_per_layer": self.relaxed_touched, "touched_bound": self.bound,
                "bucket": [self.bucket[0], self.bucket[1] if math.isfinite(self.bucket[1]) else None],
                "expert_parallel": self.expert_parallel}


def _experts_read(r: Roofline, N: float, rounded: ServingPoint, relaxed: ServingPoint) -> ExpertsRead | None:
    """The ExpertsRead of a mixture served at ``rounded`` (None for a dense model)."""
    m = r.moe
    if m.is_dense:
        return None
    B = rounded.batch
    bucket = next(b for b in reversed(m.batch_buckets(1.0 + r.prefill_per_output)) if b[0] <= B)
    bound = float(r.at_cell(rounded.replica_gpus, bucket).touched_bound)
    return ExpertsRead(m.experts, m.active_experts, float(r.params_terms().value(N)), N, float(r.touched(B)),
                       float(r.touched(relaxed.batch)), bound, bucket, r.expert_parallel)


def point_z(N: float, D: float, p: ServingPoint) -> np.ndarray:
    """The solver's variables z = (log N, log D, log B, log G, log t) of a serving point."""
    return np.log([N, D, p.batch, p.replica_gpus, p.step_seconds])


@dataclass(frozen=True)
class ServingPlan:
    """The serving side of a plan under the roofline model.

    rounded, relaxed : the deployed (allowed G, whole B) and the continuous serving points
    bound : the deployed point at the hardware's bound (efficiency 1, no overheads): what no
        engine beats on this hardware
    tpot_target_ms, ttft_target_ms : the targets [ms], or None
    kv_cache_bytes_per_token, weight_bytes : [bytes] (weights: the whole model, per replica)
    usd_per_million_* : today's dollars per million prompt tokens (their share of the decode
        steps) and generated tokens (the rest of the steps) at each point
    replicas : replicas serving the demand on average over the deployment (None without a
        period); replicas_by_month : the same month by month with ``[finance]``, else None
    rounding_cost_usd : what whole numbers cost over the relaxed plan (present value [$];
        None without prices); broken : constraints the rounded point breaks (none expected)
    baseline : how the compute-optimal baseline is served (no latency targets), None when it
        fits no allowed replica
    experts : what a mixture of experts' step reads (None for a dense model)
    shape : the architecture served (exact, or the shape family's member of N parameters);
        shape_exact : whether the weights read per step are exact (else a bound, the untied
        input table counted); efficiencies and efficiency_source: the engine's and where
        they come from (fitted defaults, a calibration file, the scenario)
    """

    rounded: ServingPoint
    relaxed: ServingPoint
    bound: ServingPoint
    tpot_target_ms: float | None
    ttft_target_ms: float | None
    kv_cache_bytes_per_token: float
    weight_bytes: float
    usd_per_million_input_tokens: float | None
    usd_per_million_output_tokens: float | None
    relaxed_usd_per_million_output_tokens: float | None
    implied_decode_mfu: float
    relaxed_implied_decode_mfu: float
    replicas: float | None
    replicas_by_month: tuple[float, ...] | None
    rounding_cost_usd: float | None
    shape: Architecture
    shape_exact: bool
    efficiencies: Efficiencies
    efficiency_source: str
    broken: tuple[str, ...] = ()
    baseline: ServingPoint | None = None
    experts: ExpertsRead | None = None

    def as_dict(self) -> dict:
        """The JSON ``serving`` object: the rounded plan's figures, the relaxed and the
        hardware's bound beside them."""
        r, x, b = self.rounded, self.relaxed, self.bound
        return {"model": "roofline", "replica_gpus": r.replica_gpus, "batch": r.batch,
                "tpot_ms": r.step_seconds * 1e3, "ttft_ms": r.ttft_seconds * 1e3,
                "tpot_target_ms": self.tpot_target_ms, "ttft_target_ms": self.ttft_target_ms,
                "tokens_per_second_per_gpu": r.tokens_per_second_per_gpu,
                "tokens_per_second_per_replica": r.tokens_per_second_per_replica,
                "kv_cache_bytes_per_token": self.kv_cache_bytes_per_token,
                "weight_bytes": self.weight_bytes, "kv_cache_bytes": r.memory_bytes - self.weight_bytes,
                "memory_bytes_per_replica": r.memory_bytes, "bound": r.bound,
                "compute_ms": r.compute_seconds * 1e3, "memory_ms": r.memory_seconds * 1e3,
                "prefill_ms": r.prefill_seconds * 1e3, "link_ms": r.link_seconds * 1e3,
                "usd_per_million_input_tokens": self.usd_per_million_input_tokens,
                "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
                "replicas": self.replicas,
                "replicas_by_month": None if self.replicas_by_month is None else list(self.replicas_by_month),
                "implied_decode_mfu": self.implied_decode_mfu,
                "rounding_cost_usd": self.rounding_cost_usd, "broken": list(self.broken),
                "architecture": {**self.shape.as_dict(), "exact_weights_read": self.shape_exact},
                "efficiencies": {**self.efficiencies.as_dict(), "source": self.efficiency_source},
                "mixture": None if self.experts is None else self.experts.as_dict(),
                "relaxed": {"replica_gpus": x.replica_gpus, "batch": x.batch, "tpot_ms": x.step_seconds * 1e3,
                            "ttft_ms": x.ttft_seconds * 1e3,
                            "tokens_per_second_per_gpu": x.tokens_per_second_per_gpu, "bound": x.bound,
                            "usd_per_million_output_tokens": self.relaxed_usd_per_million_output_tokens,
                            "implied_decode_mfu": self.relaxed_implied_decode_mfu},
                "hardware_bound": {"tpot_ms": b.step_seconds * 1e3, "ttft_ms": b.ttft_seconds * 1e3,
                                   "tokens_per_second_per_gpu": b.tokens_per_second_per_gpu}}


def serving_points(scenario: Scenario, N: float) -> tuple[ServingPoint, ServingPoint]:
    """(relaxed, rounded) serving points of a model of N parameters; InfeasibleError when
    no allowed replica with a whole batch serves it within the targets."""
    r = scenario.serving
    relaxed, rounded = relaxed_point(r, N), rounded_point(r, N)
    if relaxed is None or rounded is None:
        raise InfeasibleError(
            f"{scenario.name}: the optimum of {N:.4g} parameters can be served within the targets only "
            f"by a fraction of a sequence or a replica size not in serving.replica_gpus = "
            f"{list(r.replica_gpus)}; allow a larger replica or relax serving.tpot_ms", ())
    return relaxed, rounded


def baseline_point(scenario: Scenario, N: float) -> ServingPoint | None:
    """How the compute-optimal baseline is served: its cheapest whole-number point with no
    latency targets (the baseline has no limits), None when it fits no allowed replica."""
    # the baseline's size is not the architecture's: served with the shape family
    return rounded_point(scenario.serving.free(), N, exclude=LATENCY_TARGETS)


def serving_plan(scenario: Scenario, N: float, relaxed: ServingPoint, rounded: ServingPoint,
                 costs, relaxed_costs, broken: tuple[str, ...], baseline: ServingPoint | None) -> ServingPlan:
    """The ServingPlan of N parameters served at ``rounded`` (costs: its CostBreakdown) and
    relaxed at ``relaxed`` (relaxed_costs)."""
    r, i = scenario.serving, scenario.inference
    price = i.price_per_gpu_hour if i is not None else None
    per_million = (lambda s: None if price is None else price * s / SECONDS_PER_HOUR * _MILLION)  # noqa: E731
    replicas = None if costs.serving_gpus is None else costs.serving_gpus / rounded.replica_gpus
    by_month = None
    if scenario.finance is not None and costs.inference_gpu_hours is not None:
        shares = scenario.finance.serving_shares()[scenario.finance.training_months:]
        by_month = tuple(float(v) for v in costs.inference_gpu_hours * shares / HOURS_PER_MONTH
                         / rounded.replica_gpus)
    ours, theirs = costs.total_cost_pv_usd, relaxed_costs.total_cost_pv_usd
    prompt = float(r.prefill_gpu_seconds(N))
    generated = lambda p: p.decode_gpu_seconds_per_token - r.prefill_per_output * prompt   # noqa: E731
    bounded = replace(r, efficiencies=BOUND_EFFICIENCIES)
    return ServingPlan(
        rounded=rounded, relaxed=relaxed, bound=bounded.point(N, rounded.batch, rounded.replica_gpus),
        tpot_target_ms=None if r.tpot_seconds is None else r.tpot_seconds * 1e3,
        ttft_target_ms=None if r.ttft_seconds is None else r.ttft_seconds * 1e3,
        kv_cache_bytes_per_token=float(r.kv_bytes_per_token(N)),
        weight_bytes=float(r.params_terms().value(N)) * r.weight_bytes,
        usd_per_million_input_tokens=per_million(prompt),
        usd_per_million_output_tokens=per_million(generated(rounded)),
        relaxed_usd_per_million_output_tokens=per_million(generated(relaxed)),
        implied_decode_mfu=implied_mfu(r, N, rounded), relaxed_implied_decode_mfu=implied_mfu(r, N, relaxed),
        replicas=replicas, replicas_by_month=by_month,
        # (the relaxed point is a lower bound: a negative difference is rounding noise)
        rounding_cost_usd=None if ours is None or theirs is None else max(ours - theirs, 0.0), broken=broken,
        shape=r.architecture if r.architecture is not None else r.family.member(N),
        shape_exact=r.architecture is not None or r.family.tied_embeddings, efficiencies=r.efficiencies,
        efficiency_source=r.efficiency_source, baseline=baseline, experts=_experts_read(r, N, rounded, relaxed))


def implied_mfu(r: Roofline, N: float, p: ServingPoint) -> float:
    """The MFU the roofline point amounts to: the FLOP of a generated token and of its
    share of prompt tokens over what its GPU-seconds could do at peak [–] (compare with
    the 0.05 often assumed for decode)."""
    flops = float(r.decode_flops(N)) + r.prefill_per_output * float(r.prefill_flops(N))
    return flops / (p.decode_gpu_seconds_per_token * r.peak_flops)


def nan_if_none(x) -> float:
    return math.nan if x is None else float(x)

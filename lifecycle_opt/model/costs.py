"""Cost arithmetic: FLOPs → GPU-seconds → days and dollars, for training and serving.

Formulas (docs/model.md §3; Kaplan et al. 2020 §2.1 for 6·N·D, Sardana et al. 2024 for
the lifecycle total):

* training compute C_train = 6·N·D [FLOP];
* inference compute C_inf = 2·N per token served, prompt and generated tokens alike [FLOP];
* GPU-seconds = FLOP / (peak × MFU); dollars = GPU-hours × price per GPU-hour;
* training wall-clock = GPU-seconds / GPUs.

Prompt tokens are processed in the compute-bound *prefill* phase, generated tokens in the
memory-bound *decode* phase, at different MFU: the dollar price of an inference FLOP is
the token-weighted mix of the two.

Spending that happens over months (the ``[finance]`` section) reaches this module as a
:class:`Timing`: four multipliers on today's price, for nominal and present-value dollars
of training and of serving. They keep every dollar cost linear in N·D and N.

Every cost has one form, a :class:`~.posynomial.Posynomial` in (N, D, B, G, t)
(:meth:`CostModel.cost` and the parts it sums): the solver minimises it and
:meth:`CostModel.breakdown` evaluates it. Under the MFU model it is ``a·N·D + b·N``;
under the roofline serving model (:mod:`.serving`, docs/model.md §8) a served token costs
what its decode step and its prefill take on the GPU, which depends on the batch B and
the replica size G too.
"""
from __future__ import annotations

__all__ = ["TrainingHardware", "InferenceHardware", "Demand", "Timing", "CostModel", "CostBreakdown"]

from dataclasses import dataclass

import numpy as np

from .constants import (HOURS_PER_DAY, INFER_FLOPS_PER_PARAM_TOKEN, SECONDS_PER_DAY, SECONDS_PER_HOUR,
                        TRAIN_FLOPS_PER_PARAM_TOKEN)
from .posynomial import Posynomial, monomial
from .serving import Roofline
from .serving_point import ServingPoint


@dataclass(frozen=True)
class TrainingHardware:
    """Where training runs.

    gpu : str — catalogue name or "custom"
    dtype : str — the precision the peak refers to
    peak_flops : float — dense peak per GPU [FLOP/s]
    mfu : float — model FLOPs utilisation [0–1]
    price_per_gpu_hour : float | None — [$ / GPU-hour]; None when dollars are not asked for
    gpus : int | None — GPUs used for training; needed for wall-clock days
    """

    gpu: str
    dtype: str
    peak_flops: float
    mfu: float
    price_per_gpu_hour: float | None = None
    gpus: int | None = None

    @property
    def flop_rate(self) -> float:
        """Achieved FLOP/s per GPU [FLOP/s]."""
        return self.peak_flops * self.mfu



@dataclass(frozen=True)
class InferenceHardware:
    """Where the model is served.

    peak_flops [FLOP/s]; prefill_mfu and decode_mfu [0–1] (the MFU serving model);
    price_per_gpu_hour [$ / GPU-hour]. memory_bytes [bytes] per GPU, for limits derived from
    serving memory; bandwidth [bytes/s] of its HBM, link_bandwidth [bytes/s, one direction]
    and link_latency [s] of its GPU-to-GPU links, for the roofline serving model.
    """

    gpu: str
    dtype: str
    peak_flops: float
    prefill_mfu: float
    decode_mfu: float
    price_per_gpu_hour: float | None = None
    memory_bytes: float | None = None
    bandwidth: float | None = None
    link_bandwidth: float | None = None
    link_latency: float | None = None



@dataclass(frozen=True)
class Demand:
    """Tokens served over the deployed life [count]: prompt (prefill) and generated (decode).

    deployment_days [days]: how long the demand is served, when known (``inference.
    deployment_days``, or the deployment months of ``[finance]``); it turns the serving
    GPU-hours into the GPUs serving on average and the tokens into a daily rate."""

    input_tokens: float = 0.0
    output_tokens: float = 0.0
    deployment_days: float | None = None

    @property
    def tokens(self) -> float:
        """All tokens processed at inference [count]."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Timing:
    """When the dollars are spent, as multipliers on today's price per GPU-hour [–].

    ``*_nominal``: what is actually paid (after any decline of GPU-hour prices) over today's
    price; ``*_present``: the same, discounted to the start of training. Training and
    serving each get their own pair; inference multipliers are token-weighted averages over
    the deployment months. All 1 without a ``[finance]`` section.
    """

    training_nominal: float = 1.0
    training_present: float = 1.0
    inference_nominal: float = 1.0
    inference_present: float = 1.0


def _sum(a, b):
    return None if a is None or b is None else a + b


@dataclass(frozen=True)
class CostBreakdown:
    """The costs of one plan; every field in base units. Dollars are None without prices.

    ``*_cost_usd`` are nominal dollars (what is paid, when it is paid); ``*_cost_pv_usd`` the
    same discounted to the start of training (equal without a ``[finance]`` section).
    """

    training_flops: float
    inference_flops: float
    training_gpu_hours: float | None
    inference_gpu_hours: float | None
    training_days: float | None
    training_cost_usd: float | None
    inference_cost_usd: float | None
    training_cost_pv_usd: float | None = None
    inference_cost_pv_usd: float | None = None
    serving_gpus: float | None = None

    @property
    def total_flops(self) -> float | None:
        """Lifecycle FLOP; None when the serving FLOP are unknown (a model no allowed replica
        serves under the roofline model)."""
        return _sum(self.training_flops, self.inference_flops)

    @property
    def total_cost_usd(self) -> float | None:
        """Nominal lifecycle dollars [$]."""
        return _sum(self.training_cost_usd, self.inference_cost_usd)

    @property
    def total_cost_pv_usd(self) -> float | None:
        """Present value of lifecycle dollars [$]: what the ``cost`` objective minimises."""
        return _sum(self.training_cost_pv_usd, self.inference_cost_pv_usd)

    def as_dict(self) -> dict:
        return {"training_flops": self.training_flops, "inference_flops": self.inference_flops,
                "total_flops": self.total_flops, "training_gpu_hours": self.training_gpu_hours,
                "inference_gpu_hours": self.inference_gpu_hours, "training_days": self.training_days,
                "training_cost_usd": self.training_cost_usd,
                "inference_cost_usd": self.inference_cost_usd, "total_cost_usd": self.total_cost_usd,
                "training_cost_pv_usd": self.training_cost_pv_usd,
                "inference_cost_pv_usd": self.inference_cost_pv_usd,
                "total_cost_pv_usd": self.total_cost_pv_usd, "serving_gpus": self.serving_gpus}


@dataclass(frozen=True)
class CostModel:
    """Lifecycle cost of a plan (N parameters trained on D tokens, then serving ``demand``).

    Every cost is a :class:`~.posynomial.Posynomial` in (N, D, B, G, t), written once here:
    the solver minimises :meth:`cost`, and :meth:`breakdown` evaluates the same
    posynomials for the reports (docs/model.md §3).

    >>> from lifecycle_opt.model.hardware import gpu
    >>> h100 = TrainingHardware("H100", "bf16", gpu("H100").peak("bf16"), mfu=0.4,
    ...                         price_per_gpu_hour=2.5, gpus=2048)
    >>> cost = CostModel(h100, None, Demand())
    >>> b = cost.breakdown(70e9, 1.4e12)     # Chinchilla's plan on 2048 H100 at 40 % MFU
    >>> f"{b.training_flops:.3g} FLOP, {b.training_days:.1f} days, ${b.training_cost_usd/1e6:.2f}M"
    '5.88e+23 FLOP, 8.4 days, $1.03M'
    """

    training: TrainingHardware | None
    inference: InferenceHardware | None
    demand: Demand
    timing: Timing = Timing()
    serving: Roofline | None = None

    # ---- the posynomials: the one home of each cost formula
    def training_flops(self) -> Posynomial:
        """C_train = 6·N·D [FLOP] (Kaplan et al. 2020, §2.1)."""
        return monomial(TRAIN_FLOPS_PER_PARAM_TOKEN, N=1, D=1)

    def training_gpu_seconds(self) -> Posynomial | None:
        """C_train / (peak × MFU) [GPU-seconds]; None without training hardware."""
        t = self.training
        return None if t is None else self.training_flops().scaled(1.0 / t.flop_rate)

    def inference_flops(self) -> Posynomial:
        """FLOP of serving the demand: 2·N per token under the MFU model; prefill and decode
        FLOP per token under the roofline model (attention over the context included)."""
        d, r = self.demand, self.serving
        if r is None:
            return monomial(INFER_FLOPS_PER_PARAM_TOKEN * d.tokens, N=1)
        return r.prefill_flops_terms().scaled(d.input_tokens) + r.decode_flops_terms().scaled(d.output_tokens)

    def inference_gpu_seconds(self) -> Posynomial | None:
        """GPU-seconds of serving the demand; None without inference hardware (or prices
        nothing to serve: an empty posynomial). MFU model: 2·N per prompt token at the
        prefill MFU, per generated token at the decode MFU; roofline model: G·t/B per
        generated token, the step t including its share of the prompts' prefill (prompts
        alone, without generated tokens: their prefill compute)."""
        d, i, r = self.demand, self.inference, self.serving
        if r is not None:
            if d.output_tokens > 0:
                # continuous batching: each step prefills its share of the prompts, ρ per
                # generated token, so G·t/B prices both (docs/model.md §8)
                return r.decode_gpu_seconds_terms().scaled(d.output_tokens)
            return r.prefill_gpu_seconds_terms().scaled(d.input_tokens)
        if i is None:
            return None if d.tokens else Posynomial(())
        per_param = INFER_FLOPS_PER_PARAM_TOKEN / i.peak_flops
        # the small per-token factors first: a demand near the top of the double range
        # (1e308 tokens) must overflow only where its cost truly does
        return monomial(per_param / i.prefill_mfu * d.input_tokens + per_param / i.decode_mfu * d.output_tokens,
                        N=1)

    def cost(self, unit: str, part: str = "total") -> Posynomial:
        """The lifecycle cost in ``unit``: "flops", "usd" (present value, what the cost
        objective minimises) or "usd_nominal" (dollars as paid, what spending caps limit);
        ``part`` "total" or "training". ValueError when a price it needs is unknown."""
        if unit == "flops":
            train, serve = self.training_flops(), self.inference_flops()
        elif unit in ("usd", "usd_nominal"):
            present = unit == "usd"
            t, i, tm = self.training, self.inference, self.timing
            if t is None or t.price_per_gpu_hour is None:
                raise ValueError("training price unknown")
            train = self.training_gpu_seconds().scaled(
                t.price_per_gpu_hour / SECONDS_PER_HOUR * (tm.training_present if present else tm.training_nominal))
            serve = Posynomial(())
            if self.demand.tokens:
                if i is None or i.price_per_gpu_hour is None:
                    raise ValueError("inference price unknown")
                serve = self.inference_gpu_seconds().scaled(
                    i.price_per_gpu_hour / SECONDS_PER_HOUR * (tm.inference_present if present else tm.inference_nominal))
        else:
            raise ValueError(f"unknown cost unit {unit!r}")
        return train if part == "training" else train + serve

    @property
    def has_prices(self) -> bool:
        """Whether every price the dollar cost needs is known."""
        try:
            self.cost("usd")
            return True
        except ValueError:
            return False

    # ---- evaluation
    def breakdown(self, N: float, D: float, point: ServingPoint | None = None) -> CostBreakdown:
        """Every cost of the plan (N [count], D [tokens]), evaluated from the posynomials
        above; under the roofline serving model, served at ``point`` (without one, the
        serving fields are None). Vectorised over arrays of N and D."""
        t, i, tm = self.training, self.inference, self.timing
        train_flops = self.training_flops().value(N, D)
        seconds = self.training_gpu_seconds()
        train_seconds = None if seconds is None else seconds.value(N, D)
        train_hours = None if seconds is None else train_seconds / SECONDS_PER_HOUR
        days = train_seconds / t.gpus / SECONDS_PER_DAY if seconds is not None and t.gpus else None
        train_usd = train_hours * t.price_per_gpu_hour if t and t.price_per_gpu_hour is not None else None
        infer_flops = infer_hours = infer_usd = None
        serving = self.inference_gpu_seconds()
        if self.serving is None or point is not None:
            at = {} if point is None else dict(B=point.batch, G=point.replica_gpus, t=point.step_seconds)
            infer_flops = self.inference_flops().value(N, D, **at)
            if serving is not None:
                infer_hours = serving.value(N, D, **at) / SECONDS_PER_HOUR
                price = i.price_per_gpu_hour if i is not None else None
                infer_usd = (infer_hours * price if price is not None else
                             (0.0 if not self.demand.tokens else None))
        period = self.demand.deployment_days
        # GPUs busy serving, on average over the deployment: GPU-hours over its hours
        serving_gpus = (infer_hours / (period * HOURS_PER_DAY)
                        if infer_hours is not None and period is not None else None)
        return CostBreakdown(_f(train_flops), _f(infer_flops), _f(train_hours),
                             _f(infer_hours), _f(days),
                             _scaled(train_usd, tm.training_nominal),
                             _scaled(infer_usd, tm.inference_nominal),
                             _scaled(train_usd, tm.training_present),
                             _scaled(infer_usd, tm.inference_present), _f(serving_gpus))


def _f(x):
    """A float for one plan, an array for many (``breakdown`` is vectorised), None kept."""
    if x is None:
        return None
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def _scaled(x, factor: float):
    return None if x is None else _f(x) * factor

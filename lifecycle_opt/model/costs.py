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

The solver sees a cost through one narrow interface, :meth:`CostModel.cost_terms`: a
posynomial in (N, D, B, G, t). Under the MFU model it is ``a·N·D + b·N`` with
non-negative a, b (:meth:`CostModel.coefficients`); under the roofline serving model
(:mod:`.serving`, docs/model.md §8) a served token costs what its decode step and its
prefill take on the GPU, which depends on the batch B and replica size G too.
"""
from __future__ import annotations

__all__ = ["TrainingHardware", "InferenceHardware", "Demand", "Timing", "CostModel", "CostBreakdown"]

from dataclasses import dataclass

import numpy as np

from .constants import (HOURS_PER_DAY, INFER_FLOPS_PER_PARAM_TOKEN, SECONDS_PER_DAY, SECONDS_PER_HOUR,
                        TRAIN_FLOPS_PER_PARAM_TOKEN)
from .serving import Roofline, ServingPoint


def _usd_per_flop(price_per_gpu_hour: float | None, flop_rate: float) -> float | None:
    """[$ / FLOP] for a GPU rented at ``price_per_gpu_hour`` achieving ``flop_rate`` [FLOP/s]."""
    if price_per_gpu_hour is None:
        return None
    return price_per_gpu_hour / SECONDS_PER_HOUR / flop_rate


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

    @property
    def price_per_flop(self) -> float | None:
        """[$ / FLOP]"""
        return _usd_per_flop(self.price_per_gpu_hour, self.flop_rate)


@dataclass(frozen=True)
class InferenceHardware:
    """Where the model is served.

    peak_flops [FLOP/s]; prefill_mfu and decode_mfu [0–1] (the MFU serving model);
    price_per_gpu_hour [$ / GPU-hour]. memory_bytes [bytes] per GPU, for limits derived from
    serving memory; bandwidth [bytes/s] of its HBM, for the roofline serving model.
    """

    gpu: str
    dtype: str
    peak_flops: float
    prefill_mfu: float
    decode_mfu: float
    price_per_gpu_hour: float | None = None
    memory_bytes: float | None = None
    bandwidth: float | None = None

    def price_per_flop(self, mfu: float) -> float | None:
        """[$ / FLOP] at utilisation ``mfu``."""
        return _usd_per_flop(self.price_per_gpu_hour, self.peak_flops * mfu)


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
    def total_flops(self) -> float:
        return self.training_flops + self.inference_flops

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

    # ---- the narrow interface the solver uses
    def cost_terms(self, unit: str, part: str = "total") -> tuple:
        """The cost in ``unit`` (see :meth:`coefficients`) as posynomial terms
        (c, e_N, e_D, e_B, e_G, e_t) over :data:`.serving.VARIABLES`; ``part`` "total",
        "training" or "inference"."""
        train = () if part == "inference" else self._training_terms(unit)
        if part == "training":
            return train
        if self.serving is None:
            b = self.coefficients(unit)[1]
            return train + (((b, 1.0, 0.0, 0.0, 0.0, 0.0),) if b > 0 else ())
        r, d = self.serving, self.demand
        if unit == "flops":
            per_in, per_out = r.prefill_flops_terms(), r.decode_flops_terms()
            k_in, k_out = d.input_tokens, d.output_tokens
        else:
            usd = self._inference_usd_per_gpu_second(unit)
            per_in, per_out = r.prefill_gpu_seconds_terms(), r.decode_gpu_seconds_terms()
            k_in, k_out = d.input_tokens * usd, d.output_tokens * usd
        return train + tuple((c * k, *e) for k, terms in ((k_in, per_in), (k_out, per_out)) if k > 0
                             for c, *e in terms)

    def _training_terms(self, unit: str) -> tuple:
        if unit == "flops":
            a = TRAIN_FLOPS_PER_PARAM_TOKEN
        else:
            timing = self.timing.training_present if unit == "usd" else self.timing.training_nominal
            a = TRAIN_FLOPS_PER_PARAM_TOKEN * self.training_price_per_flop() * timing
        return ((a, 1.0, 1.0, 0.0, 0.0, 0.0),)

    def _inference_usd_per_gpu_second(self, unit: str) -> float:
        """[$ / GPU-second] of serving, present value ("usd") or nominal ("usd_nominal")."""
        if self.demand.tokens == 0:
            return 0.0
        hw = self.inference
        if hw is None or hw.price_per_gpu_hour is None:
            raise ValueError("inference price unknown")
        timing = self.timing.inference_present if unit == "usd" else self.timing.inference_nominal
        return hw.price_per_gpu_hour / SECONDS_PER_HOUR * timing

    def coefficients(self, unit: str) -> tuple[float, float]:
        """(a, b) with cost = a·N·D + b·N under the MFU serving model, in ``unit`` "flops",
        "usd" (present value, what the cost objective minimises) or "usd_nominal" (dollars
        as paid, what spending caps limit)."""
        if self.serving is not None:
            raise ValueError("the roofline serving cost is not linear in N: use cost_terms")
        if unit == "flops":
            return TRAIN_FLOPS_PER_PARAM_TOKEN, INFER_FLOPS_PER_PARAM_TOKEN * self.demand.tokens
        if unit in ("usd", "usd_nominal"):
            t = self.timing
            train, infer = ((t.training_present, t.inference_present) if unit == "usd"
                            else (t.training_nominal, t.inference_nominal))
            return (TRAIN_FLOPS_PER_PARAM_TOKEN * self.training_price_per_flop() * train,
                    INFER_FLOPS_PER_PARAM_TOKEN * self.inference_usd_per_param() * infer)
        raise ValueError(f"unknown cost unit {unit!r}")

    def training_price_per_flop(self) -> float:
        """[$ / FLOP]; ValueError when the training price is not known."""
        if self.training is None or self.training.price_per_flop is None:
            raise ValueError("training price unknown")
        return self.training.price_per_flop

    def inference_usd_per_param(self) -> float:
        """Dollars of serving the whole demand per parameter per (2 FLOP) [$], at today's price."""
        if self.demand.tokens == 0:
            return 0.0
        hw = self.inference
        if hw is None or hw.price_per_gpu_hour is None:
            raise ValueError("inference price unknown")
        usd = (self.demand.input_tokens * hw.price_per_flop(hw.prefill_mfu)
               + self.demand.output_tokens * hw.price_per_flop(hw.decode_mfu))
        return usd

    @property
    def has_prices(self) -> bool:
        try:
            self.cost_terms("usd")
            return True
        except ValueError:
            return False

    # ---- evaluation
    def breakdown(self, N: float, D: float, point: ServingPoint | None = None) -> CostBreakdown:
        """Every cost of the plan (N [count], D [tokens]); under the roofline serving model,
        served at ``point`` (without one, the serving fields are None)."""
        train_flops = TRAIN_FLOPS_PER_PARAM_TOKEN * N * D
        infer_flops = INFER_FLOPS_PER_PARAM_TOKEN * N * self.demand.tokens
        t = self.training
        train_hours = train_flops / t.flop_rate / SECONDS_PER_HOUR if t else None
        days = (train_flops / t.flop_rate / t.gpus / SECONDS_PER_DAY) if t and t.gpus else None
        train_usd = train_hours * t.price_per_gpu_hour if t and t.price_per_gpu_hour is not None else None
        tm = self.timing
        i = self.inference
        infer_hours = infer_usd = None
        if self.serving is not None:
            infer_flops, infer_hours, infer_usd = self._roofline_serving(N, point)
        elif i is not None:
            per_param_flop = INFER_FLOPS_PER_PARAM_TOKEN * N
            seconds = (per_param_flop * self.demand.input_tokens / (i.peak_flops * i.prefill_mfu)
                       + per_param_flop * self.demand.output_tokens / (i.peak_flops * i.decode_mfu))
            infer_hours = seconds / SECONDS_PER_HOUR
            if i.price_per_gpu_hour is not None:
                infer_usd = infer_hours * i.price_per_gpu_hour
        elif self.demand.tokens == 0:
            infer_hours, infer_usd = 0.0, 0.0
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


    def _roofline_serving(self, N, point: ServingPoint | None):
        """(FLOP, GPU-hours, dollars at today's price) of serving the demand at ``point``
        under the roofline model; all None without a point."""
        if point is None:
            return None, None, None
        r, d, i = self.serving, self.demand, self.inference
        flops = d.input_tokens * r.prefill_flops(N) + d.output_tokens * r.decode_flops(N)
        seconds = (d.input_tokens * r.prefill_gpu_seconds(N)
                   + d.output_tokens * point.decode_gpu_seconds_per_token)
        hours = seconds / SECONDS_PER_HOUR
        usd = hours * i.price_per_gpu_hour if i is not None and i.price_per_gpu_hour is not None else None
        return flops, hours, usd


def _f(x):
    """A float for one plan, an array for many (``breakdown`` is vectorised), None kept."""
    if x is None:
        return None
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def _scaled(x, factor: float):
    return None if x is None else _f(x) * factor

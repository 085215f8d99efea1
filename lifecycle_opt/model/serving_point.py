"""A served model's operating point and the engine's efficiencies (docs/model.md §8): how
a model is served (B sequences on a replica of G GPUs, the parts of one decode step, the
time to first token, the memory held) and what share of the hardware a serving engine
reaches (fitted to published measurements). The formulas that produce a point live in
:mod:`.serving`; this module holds what they produce and the constants they read."""
from __future__ import annotations

__all__ = ["ServingPoint", "Efficiencies", "DEFAULT_EFFICIENCIES", "BOUND_EFFICIENCIES", "DECODE_GPU_SECONDS",
           "combine_step"]

from dataclasses import dataclass

import numpy as np

from .posynomial import monomial

#: GPU-seconds of one generated token: a step of t seconds on G GPUs emits B tokens, G·t/B
DECODE_GPU_SECONDS = monomial(1.0, B=-1.0, G=1.0, t=1.0)

@dataclass(frozen=True)
class Efficiencies:
    """What a serving engine reaches of the hardware (docs/model.md §8).

    compute η_c, bandwidth η_m, link η_l [0–1]: shares of peak FLOP/s, HBM bandwidth and
    link bandwidth; collective_overhead λ_o [s]: each all-reduce's cost beyond the link's
    latency (launch, synchronisation); kv_reread ξ [0–1]: 0 when decode attention reads each
    KV head once (grouped kernels), 1 when once per query head; prefill_overhead τ [s per
    layer of a prefill pass]."""

    compute: float
    bandwidth: float
    link: float = 1.0
    collective_overhead: float = 0.0
    kv_reread: float = 0.0
    prefill_overhead: float = 0.0

    NAMES = ("compute", "bandwidth", "link", "collective_overhead", "kv_reread", "prefill_overhead")

    def as_dict(self) -> dict:
        return {n: getattr(self, n) for n in self.NAMES}


#: the defaults: every efficiency fitted to 127 published measurements at once, each row
#: weighted alike (benchmarks/fit_serving_defaults.py): the TensorRT-LLM performance tables
#: v0.5, v0.6.1 and v0.17 in examples/runs/serving_measurements.csv with their sources, and the
#: project's shared sample (TensorRT-LLM v0.5, v0.6.1, v1.0; NVIDIA NIM v1.8.0; a
#: FasterTransformer benchmark). Median speed ratio 0.985, 98 % within 0.67–1.5 (docs/model.md §8)
DEFAULT_EFFICIENCIES = Efficiencies(compute=0.609, bandwidth=0.779, link=0.470, collective_overhead=60.8e-6,
                                    kv_reread=0.103, prefill_overhead=141e-6)
#: the best the hardware allows: efficiency 1 everywhere, no overheads (``lifeopt calibrate --bound``)
BOUND_EFFICIENCIES = Efficiencies(compute=1.0, bandwidth=1.0, link=1.0)


def combine_step(compute, memory, prefill, links):
    """The decode step from its parts [s]: the longer of compute and memory, then the
    prefill share and the links (arrays broadcast)."""
    return np.maximum(compute, memory) + prefill + links


@dataclass(frozen=True)
class ServingPoint:
    """How a model of N parameters is served: B sequences on a replica of G GPUs.

    batch [sequences], replica_gpus [GPUs]; the parts of one decode step [s]: compute_seconds
    and memory_seconds (decode), prefill_seconds (the share of prompts), link_seconds
    (all-reduces); ttft_seconds: one prompt alone [s]; memory_bytes: weights plus the KV cache
    held per replica [bytes]."""

    batch: float
    replica_gpus: float
    compute_seconds: float
    memory_seconds: float
    prefill_seconds: float
    link_seconds: float
    ttft_seconds: float
    memory_bytes: float

    @property
    def step_seconds(self) -> float:
        """Time per output token (TPOT): the decode step [s] (an array for points held as arrays)."""
        return _plain(combine_step(self.compute_seconds, self.memory_seconds, self.prefill_seconds,
                                   self.link_seconds))

    @property
    def bound(self) -> str:
        """"memory" or "compute": which time sets the decode part of the step."""
        return "compute" if self.compute_seconds > self.memory_seconds else "memory"

    @property
    def tokens_per_second_per_replica(self) -> float:
        return self.batch / self.step_seconds

    @property
    def tokens_per_second_per_gpu(self) -> float:
        return self.tokens_per_second_per_replica / self.replica_gpus

    @property
    def decode_gpu_seconds_per_token(self) -> float:
        """GPU-seconds of one generated token, G·t/B, its prefill share included [s]."""
        return _plain(DECODE_GPU_SECONDS.value(1.0, B=self.batch, G=self.replica_gpus, t=self.step_seconds))


def _plain(x):
    """A float for one point, the array for many."""
    return float(x) if np.ndim(x) == 0 else x

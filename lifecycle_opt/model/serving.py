"""The roofline serving model: what a served token costs from the GPU up (docs/model.md §8).

A decode step of a replica of G tensor-parallel GPUs holding B sequences of mean context
S reads every weight and the whole KV cache from HBM once and does 2·N + 4·n_layer·d_model·S
FLOP per sequence; it takes the longer of its compute time and its memory time. The time
per output token (TPOT) is that step; each step emits B tokens, so a generated token costs
G·t/B GPU-seconds. A prompt is prefilled compute-bound; its time is the time to first
token (TTFT). Weights and cache must fit the replica's memory.

Every formula is written once, here, as a posynomial in the variables of
:data:`~.posynomial.VARIABLES` (N, D, B, G, t): the solver optimises these very terms and every report
evaluates them with :meth:`~.posynomial.Posynomial.value`. Sources: Kaplan et al. 2020 eq. 2.1 (N ≈
12·n_layer·d_model², the shape); Chowdhery et al. 2022 (PaLM) app. B (attention FLOP
4·n_layer·d_model per token of context); Pope et al. 2022, arXiv 2211.05102 (memory- and
compute-bound decode, the KV cache, latency against cost).
"""
from __future__ import annotations

__all__ = ["Roofline", "ServingPoint", "DECODE_GPU_SECONDS"]

from dataclasses import dataclass

import numpy as np

from .constants import INFER_FLOPS_PER_PARAM_TOKEN
from .posynomial import Posynomial, monomial

#: attention FLOP per layer-width per token of context: 2 (QK^T) + 2 (AV), forward (PaLM app. B)
ATTENTION_FLOPS = 4.0
#: a K and a V vector per layer per token of context
KV_VECTORS = 2.0
#: parameters per layer-width² of a dense decoder (Kaplan et al. 2020, eq. 2.1)
PARAMS_PER_LAYER_WIDTH2 = 12.0
#: GPU-seconds of one generated token: a step of t seconds on G GPUs emits B tokens, G·t/B
DECODE_GPU_SECONDS = monomial(1.0, B=-1.0, G=1.0, t=1.0)


@dataclass(frozen=True)
class ServingPoint:
    """How a model of N parameters is served: B sequences on a replica of G GPUs.

    batch [sequences], replica_gpus [GPUs]; compute_seconds and memory_seconds: the two
    times of one decode step [s]; ttft_seconds: prefill of one prompt [s] (None without a
    prompt length); memory_bytes: weights plus KV cache held per replica [bytes]."""

    batch: float
    replica_gpus: float
    compute_seconds: float
    memory_seconds: float
    ttft_seconds: float
    memory_bytes: float

    @property
    def step_seconds(self) -> float:
        """Time per output token (TPOT): the decode step [s]."""
        return max(self.compute_seconds, self.memory_seconds)

    @property
    def bound(self) -> str:
        """"memory" or "compute": which time sets the step."""
        return "compute" if self.compute_seconds > self.memory_seconds else "memory"

    @property
    def tokens_per_second_per_replica(self) -> float:
        return self.batch / self.step_seconds

    @property
    def tokens_per_second_per_gpu(self) -> float:
        return self.tokens_per_second_per_replica / self.replica_gpus

    @property
    def decode_gpu_seconds_per_token(self) -> float:
        """GPU-seconds of one generated token, G·t/B [s] (the solver's very term)."""
        return float(DECODE_GPU_SECONDS.value(1.0, B=self.batch, G=self.replica_gpus, t=self.step_seconds))


@dataclass(frozen=True)
class Roofline:
    """The serving hardware and workload of the roofline model (docs/model.md §8).

    peak_flops [FLOP/s], bandwidth [bytes/s], memory_bytes [bytes]: one serving GPU
    weight_bytes, kv_bytes [bytes]: per weight (the serving dtype) and per cached value
    context_tokens S, max_context_tokens S_max, prompt_tokens P [tokens per sequence]
    tpot_seconds, ttft_seconds [s]: latency targets, or None
    aspect_ratio r = d_model/n_layer; gqa_ratio g = n_kv_heads/n_heads [–]
    replica_gpus: the allowed tensor-parallel sizes; max_batch [sequences] or None
    compute_efficiency η_c, bandwidth_efficiency η_m, memory_utilisation u [0–1]
    """

    peak_flops: float
    bandwidth: float
    memory_bytes: float
    weight_bytes: float
    kv_bytes: float
    context_tokens: float
    max_context_tokens: float
    prompt_tokens: float
    tpot_seconds: float | None = None
    ttft_seconds: float | None = None
    aspect_ratio: float = 128.0
    gqa_ratio: float = 1.0
    replica_gpus: tuple[int, ...] = (1, 2, 4, 8)
    max_batch: float | None = None
    compute_efficiency: float = 0.6
    bandwidth_efficiency: float = 0.8
    memory_utilisation: float = 0.9

    # ---- rates
    @property
    def compute_rate(self) -> float:
        """Achieved FLOP/s of one GPU, peak·η_c [FLOP/s]."""
        return self.peak_flops * self.compute_efficiency

    @property
    def memory_rate(self) -> float:
        """Achieved HBM bytes/s of one GPU, bw·η_m [bytes/s]."""
        return self.bandwidth * self.bandwidth_efficiency

    @property
    def usable_memory(self) -> float:
        """HBM of one GPU usable for weights and cache, M·u [bytes]."""
        return self.memory_bytes * self.memory_utilisation

    # ---- shape (Kaplan et al. 2020 eq. 2.1): N = 12·n_layer·d_model², r = d_model/n_layer
    def d_model(self, N):
        return np.cbrt(np.asarray(N, float) * self.aspect_ratio / PARAMS_PER_LAYER_WIDTH2)

    def n_layer(self, N):
        return self.d_model(N) / self.aspect_ratio

    @property
    def _width(self) -> float:
        """n_layer·d_model = w·N^(2/3): the coefficient w."""
        r = self.aspect_ratio
        return (r / PARAMS_PER_LAYER_WIDTH2) ** (2.0 / 3.0) / r

    # ---- the posynomials: the one home of each serving formula
    def kv_bytes_per_token_terms(self) -> Posynomial:
        """KV cache per token of context, 2·n_layer·d_model·g·b_kv [bytes]."""
        return monomial(KV_VECTORS * self._width * self.gqa_ratio * self.kv_bytes, N=2 / 3)

    def decode_flops_terms(self) -> Posynomial:
        """FLOP of one generated token at context S: 2·N + 4·n_layer·d_model·S."""
        return (monomial(INFER_FLOPS_PER_PARAM_TOKEN, N=1.0)
                + monomial(ATTENTION_FLOPS * self._width * self.context_tokens, N=2 / 3))

    def prefill_flops_terms(self) -> Posynomial:
        """FLOP per prompt token of a prompt of P tokens, (2·N·P + 2·n_layer·d_model·P²)/P."""
        return (monomial(INFER_FLOPS_PER_PARAM_TOKEN, N=1.0)
                + monomial(ATTENTION_FLOPS / 2 * self._width * self.prompt_tokens, N=2 / 3))

    def compute_time_terms(self) -> Posynomial:
        """t_c = B·(decode FLOP)/(G·peak·η_c) [s]."""
        return self.decode_flops_terms().times(1.0 / self.compute_rate, B=1.0, G=-1.0)

    def memory_time_terms(self) -> Posynomial:
        """t_m = (N·b_w + B·S·kv(N))/(G·bw·η_m) [s]."""
        return (monomial(self.weight_bytes, N=1.0)
                + self.kv_bytes_per_token_terms().times(self.context_tokens, B=1.0)).times(
            1.0 / self.memory_rate, G=-1.0)

    def memory_use_terms(self) -> Posynomial:
        """Weights plus the cache of B sequences at S_max, N·b_w + B·S_max·kv(N) [bytes]."""
        return (monomial(self.weight_bytes, N=1.0)
                + self.kv_bytes_per_token_terms().times(self.max_context_tokens, B=1.0))

    def ttft_terms(self) -> Posynomial:
        """Prefill of one prompt, P·(prefill FLOP per token)/(G·peak·η_c) [s]."""
        return self.prefill_flops_terms().times(self.prompt_tokens / self.compute_rate, G=-1.0)

    def prefill_gpu_seconds_terms(self) -> Posynomial:
        """GPU-seconds of one prompt token, (prefill FLOP per token)/(peak·η_c) [s]."""
        return self.prefill_flops_terms().scaled(1.0 / self.compute_rate)

    @staticmethod
    def decode_gpu_seconds_terms() -> Posynomial:
        """GPU-seconds of one generated token, G·t/B [s]."""
        return DECODE_GPU_SECONDS

    # ---- evaluation
    def kv_bytes_per_token(self, N):
        """[bytes] per token of context of a model of N parameters."""
        return self.kv_bytes_per_token_terms().value(N)

    def decode_flops(self, N):
        """[FLOP] of one generated token."""
        return self.decode_flops_terms().value(N)

    def prefill_gpu_seconds(self, N):
        """[GPU-seconds] of one prompt token."""
        return self.prefill_gpu_seconds_terms().value(N)

    def point(self, N: float, B: float, G: float) -> ServingPoint:
        """The serving point (B, G) of a model of N parameters, every time evaluated."""
        return ServingPoint(float(B), float(G), float(self.compute_time_terms().value(N, B=B, G=G)),
                            float(self.memory_time_terms().value(N, B=B, G=G)),
                            float(self.ttft_terms().value(N, G=G)),
                            float(self.memory_use_terms().value(N, B=B)))

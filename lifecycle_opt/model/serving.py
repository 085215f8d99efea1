"""The roofline serving model: what a served token costs from the GPU up (docs/model.md §8).

A decode step of a replica of G tensor-parallel GPUs holding B sequences of mean context
S reads every weight and the whole KV cache from HBM once and does 2·N + 4·n_layer·d_model·S
FLOP per sequence; it takes the longer of its compute time and its memory time. The time
per output token (TPOT) is that step; each step emits B tokens, so a generated token costs
G·t/B GPU-seconds. A prompt is prefilled compute-bound; its time is the time to first
token (TTFT). Weights and cache must fit the replica's memory.

Every formula is written once, here, as a posynomial in the variables of
:data:`VARIABLES` (N, D, B, G, t): the solver optimises these very terms and every report
evaluates them with :func:`evaluate`. Sources: Kaplan et al. 2020 eq. 2.1 (N ≈
12·n_layer·d_model², the shape); Chowdhery et al. 2022 (PaLM) app. B (attention FLOP
4·n_layer·d_model per token of context); Pope et al. 2022, arXiv 2211.05102 (memory- and
compute-bound decode, the KV cache, latency against cost).
"""
from __future__ import annotations

__all__ = ["VARIABLES", "evaluate", "Roofline", "ServingPoint"]

import math
from dataclasses import dataclass

import numpy as np

from .constants import INFER_FLOPS_PER_PARAM_TOKEN

#: the variables of a serving posynomial term (c, e_N, e_D, e_B, e_G, e_t): parameters,
#: training tokens, batch (sequences per replica), replica size (GPUs), decode step [s]
VARIABLES = ("params", "tokens", "batch", "replica_gpus", "step_seconds")

#: attention FLOP per layer-width per token of context: 2 (QK^T) + 2 (AV), forward (PaLM app. B)
ATTENTION_FLOPS = 4.0
#: a K and a V vector per layer per token of context
KV_VECTORS = 2.0
#: parameters per layer-width² of a dense decoder (Kaplan et al. 2020, eq. 2.1)
PARAMS_PER_LAYER_WIDTH2 = 12.0
#: relative slack for comparisons of times and memory (rounding, not modelling)
_SLACK = 1e-12


def _term(c, N=0.0, D=0.0, B=0.0, G=0.0, t=0.0) -> tuple:
    return (float(c), N, D, B, G, t)


def evaluate(terms, N, D=1.0, B=1.0, G=1.0, t=1.0):
    """Σ c·N^e_N·D^e_D·B^e_B·G^e_G·t^e_t of posynomial ``terms`` (arrays broadcast)."""
    return sum(c * np.power(N, a) * np.power(D, b) * np.power(B, e) * np.power(G, f) * np.power(t, g)
               for c, a, b, e, f, g in terms)


#: GPU-seconds of one generated token: a step of t seconds on G GPUs emits B tokens, G·t/B
DECODE_GPU_SECONDS = (_term(1.0, B=-1.0, G=1.0, t=1.0),)


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
        return float(evaluate(DECODE_GPU_SECONDS, 1.0, B=self.batch, G=self.replica_gpus, t=self.step_seconds))


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
    def kv_bytes_per_token_terms(self) -> tuple:
        """KV cache per token of context, 2·n_layer·d_model·g·b_kv [bytes]."""
        return (_term(KV_VECTORS * self._width * self.gqa_ratio * self.kv_bytes, N=2 / 3),)

    def decode_flops_terms(self) -> tuple:
        """FLOP of one generated token at context S: 2·N + 4·n_layer·d_model·S."""
        return (_term(INFER_FLOPS_PER_PARAM_TOKEN, N=1.0),
                _term(ATTENTION_FLOPS * self._width * self.context_tokens, N=2 / 3))

    def prefill_flops_terms(self) -> tuple:
        """FLOP per prompt token of a prompt of P tokens, (2·N·P + 2·n_layer·d_model·P²)/P."""
        return (_term(INFER_FLOPS_PER_PARAM_TOKEN, N=1.0),
                _term(ATTENTION_FLOPS / 2 * self._width * self.prompt_tokens, N=2 / 3))

    def compute_time_terms(self) -> tuple:
        """t_c = B·(decode FLOP)/(G·peak·η_c) [s]."""
        return tuple(_term(c / self.compute_rate, N=a, B=1.0, G=-1.0)
                     for c, a, *_ in self.decode_flops_terms())

    def memory_time_terms(self) -> tuple:
        """t_m = (N·b_w + B·S·kv(N))/(G·bw·η_m) [s]."""
        (kv, e, *_), = self.kv_bytes_per_token_terms()
        return (_term(self.weight_bytes / self.memory_rate, N=1.0, G=-1.0),
                _term(self.context_tokens * kv / self.memory_rate, N=e, B=1.0, G=-1.0))

    def memory_use_terms(self) -> tuple:
        """Weights plus the cache of B sequences at S_max, N·b_w + B·S_max·kv(N) [bytes]."""
        (kv, e, *_), = self.kv_bytes_per_token_terms()
        return (_term(self.weight_bytes, N=1.0), _term(self.max_context_tokens * kv, N=e, B=1.0))

    def ttft_terms(self) -> tuple:
        """Prefill of one prompt, P·(prefill FLOP per token)/(G·peak·η_c) [s]."""
        return tuple(_term(c * self.prompt_tokens / self.compute_rate, N=a, G=-1.0)
                     for c, a, *_ in self.prefill_flops_terms())

    def prefill_gpu_seconds_terms(self) -> tuple:
        """GPU-seconds of one prompt token, (prefill FLOP per token)/(peak·η_c) [s]."""
        return tuple(_term(c / self.compute_rate, N=a) for c, a, *_ in self.prefill_flops_terms())

    @staticmethod
    def decode_gpu_seconds_terms() -> tuple:
        """GPU-seconds of one generated token, G·t/B [s]."""
        return DECODE_GPU_SECONDS

    # ---- evaluation
    def kv_bytes_per_token(self, N):
        return evaluate(self.kv_bytes_per_token_terms(), N)

    def decode_flops(self, N):
        return evaluate(self.decode_flops_terms(), N)

    def prefill_flops(self, N):
        return evaluate(self.prefill_flops_terms(), N)

    def prefill_gpu_seconds(self, N):
        return evaluate(self.prefill_gpu_seconds_terms(), N)

    def point(self, N: float, B: float, G: float) -> ServingPoint:
        """The serving point (B, G) of a model of N parameters, every time evaluated."""
        return ServingPoint(float(B), float(G), float(evaluate(self.compute_time_terms(), N, B=B, G=G)),
                            float(evaluate(self.memory_time_terms(), N, B=B, G=G)),
                            float(evaluate(self.ttft_terms(), N, G=G)),
                            float(evaluate(self.memory_use_terms(), N, B=B)))

    def violations(self, N: float, p: ServingPoint) -> list[str]:
        """The serving constraints the point breaks (empty when it meets them all)."""
        out = []
        if self.tpot_seconds is not None and p.step_seconds > self.tpot_seconds * (1 + 1e-9):
            out.append("tpot_target")
        if self.ttft_seconds is not None and p.ttft_seconds > self.ttft_seconds * (1 + 1e-9):
            out.append("ttft_target")
        if p.memory_bytes > p.replica_gpus * self.usable_memory * (1 + 1e-9):
            out.append("memory_capacity")
        if self.max_batch is not None and p.batch > self.max_batch * (1 + 1e-9):
            out.append("max_batch")
        if p.batch < 1 - 1e-9:
            out.append("min_batch")
        return out

    # ---- the best point for a given N, in closed form
    def batch_ceiling(self, N: float, G: float) -> float:
        """The largest batch a replica of G GPUs holds within its memory, the batch cap and
        the TPOT target (continuous) [sequences]; below 1, no batch fits."""
        W = N * self.weight_bytes
        kv = float(self.kv_bytes_per_token(N))
        caps = [(G * self.usable_memory - W) / (self.max_context_tokens * kv)]
        if self.max_batch is not None:
            caps.append(self.max_batch)
        T = self.tpot_seconds
        if T is not None:
            caps += [(G * self.memory_rate * T - W) / (self.context_tokens * kv),
                     G * self.compute_rate * T / float(self.decode_flops(N))]
        return min(caps)

    def compute_bound_batch(self, N: float) -> float:
        """The batch beyond which decode is compute-bound and a larger batch saves nothing
        [sequences]; inf when the cache's reads alone outlast the compute."""
        per_token_compute = float(self.decode_flops(N)) / self.compute_rate
        per_token_cache = self.context_tokens * float(self.kv_bytes_per_token(N)) / self.memory_rate
        if per_token_compute <= per_token_cache:
            return math.inf
        return N * self.weight_bytes / self.memory_rate / (per_token_compute - per_token_cache)

    def _ttft_ok(self, N: float, G: float) -> bool:
        return self.ttft_seconds is None or float(evaluate(self.ttft_terms(), N, G=G)) <= \
            self.ttft_seconds * (1 + _SLACK)

    def relaxed_point(self, N: float) -> ServingPoint | None:
        """The cheapest point with continuous B and G (the relaxation the solver optimises),
        and of the equally cheap ones the smallest batch and replica; None when no
        allowed replica serves N within the targets.

        A token's decode cost G·t/B falls with B until decode turns compute-bound, and G
        only widens what fits, so: B as large as the largest replica allows (up to the
        compute-bound batch), then the smallest G that holds that B."""
        G_max, G_min = max(self.replica_gpus), min(self.replica_gpus)
        ceiling = self.batch_ceiling(N, G_max)
        if ceiling < 1 - _SLACK or not self._ttft_ok(N, G_max):
            return None
        B = max(1.0, min(ceiling, self.compute_bound_batch(N)))
        W, kv = N * self.weight_bytes, float(self.kv_bytes_per_token(N))
        need = [G_min, (W + B * self.max_context_tokens * kv) / self.usable_memory]
        if self.tpot_seconds is not None:
            T = self.tpot_seconds
            need += [(W + B * self.context_tokens * kv) / (self.memory_rate * T),
                     B * float(self.decode_flops(N)) / (self.compute_rate * T)]
        if self.ttft_seconds is not None:
            need.append(float(evaluate(self.ttft_terms(), N, G=1.0)) / self.ttft_seconds)
        return self.point(N, B, min(max(need), G_max))

    def rounded_point(self, N: float) -> ServingPoint | None:
        """The cheapest point with an allowed replica size and a whole batch (each allowed
        G tried, the batch its largest whole number up to the compute-bound one; ties go
        to the smaller replica); None when none serves N within the targets."""
        best = None
        B_c = self.compute_bound_batch(N)
        for G in sorted(self.replica_gpus):
            ceiling = self.batch_ceiling(N, G)
            B = math.floor(ceiling * (1 + _SLACK)) if math.isfinite(ceiling) else math.inf
            if math.isfinite(B_c):
                B = min(B, max(1, math.ceil(B_c)))
            if B < 1 or not self._ttft_ok(N, G):
                continue
            p = self.point(N, B, G)
            if best is None or p.decode_gpu_seconds_per_token < best.decode_gpu_seconds_per_token * (1 - 1e-12):
                best = p
        return best

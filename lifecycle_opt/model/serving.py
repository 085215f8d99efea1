"""The roofline serving model: what a served token costs from the GPU up, true to measured
serving (docs/model.md §8).

A replica of G tensor-parallel GPUs decodes B sequences of mean context S by steps; under
continuous batching with chunked prefill (vLLM's and TensorRT-LLM's default scheduling:
each step's token budget takes the decode tokens and a chunk of waiting prompts), a step
also prefills the prompts of the requests that replace finished ones, ρ prompt tokens per
generated token on average. One step takes

    t = max(decode compute, decode memory) + prefill share + links

* decode compute: B·(2 FLOP per weight read + 4·layers·d_model·S attention FLOP)
  / (G·peak·η_c), peak that of the arithmetic dtype;
* decode memory: (weights read·b_w + B·S·KV bytes read per token) / (G·bandwidth·η_m),
  the weights and the cache in their own dtypes; a decode kernel that reads a KV head once
  per query head of its group reads the cache (1 + ξ·(group − 1)) times (ξ = kv_reread);
* prefill share: B·ρ·(2 FLOP per weight + 2·layers·d_model·P)/(G·peak·η_c): a generated
  token waits for its share of the prompts' compute;
* links: 2·layers all-reduces per step (Megatron layout), each the link latency plus the
  engine's overhead per collective λ_o plus a ring's 2·(G−1)/G of the step's activations
  (its B·(1 + ρ) tokens × d_model × 2 bytes) over one direction of the links at η_l.

A mixture of experts (docs/model.md §10) computes with its active weights, holds every
expert, and a step reads its non-expert weights and, per MoE layer, the distinct experts
its B·(1 + ρ) tokens touch (:meth:`~.moe.Mixture.touched`): concave in B, so each *cell*
of the problem — a replica size and a batch bucket — prices the step at its bucket's top
(an upper bound within 5 %, exact there) and the cheapest cell wins; a point is evaluated
with the exact count. Under expert parallelism (``expert_parallel``) the experts are
spread over the replica's GPUs: one all-reduce per layer (attention, tensor parallel) and,
per MoE layer, an all-to-all that dispatches the tokens' k copies to their experts' GPUs
and one that combines them, (G − 1)/G of B·(1 + ρ)·k·d_model·2 bytes leaving their GPU,
1/G of it through each GPU's links.

The step is the time per output token (TPOT) and emits B tokens, so a generated token
costs G·t/B GPU-seconds, its share of prefill included. A prompt alone takes the longer of
its compute and one read of the weights, plus its all-reduces and a fixed overhead per
layer of a prefill pass τ (launches that decode, captured in CUDA graphs, does not pay):
the time to first token (TTFT), queueing aside. Weights, and the KV cache of B sequences
at the mean context S (paged: half a block of rounding a sequence), fit G·M·u; one
sequence at ``max_context_tokens`` must fit too.

Every formula is written once, here, as a posynomial in (N, D, B, G, t)
(:mod:`.posynomial`) for one replica size: the solver optimises these very terms and
every report evaluates them. The shape enters through
:class:`~.architecture.ShapeTerms` (exact counts). Sources: Pope et al. 2022, arXiv
2211.05102 (memory- and compute-bound decode, the KV cache); Chowdhery et al. 2022 (PaLM)
app. B (attention FLOP); Shoeybi et al. 2019, arXiv 1909.08053 (tensor-parallel
all-reduces); Agrawal et al. 2024, SARATHI-Serve, arXiv 2403.02310 (chunked prefill);
Kwon et al. 2023, vLLM, arXiv 2309.06180 (paged KV cache, 16-token blocks).
"""
from __future__ import annotations

__all__ = ["Roofline", "Parts", "Times", "assemble", "serving_point", "ACTIVATION_BYTES", "ATTENTION_FLOPS"]

import functools
from dataclasses import dataclass, replace

import numpy as np

from .architecture import FLOPS_PER_WEIGHT, Architecture, ShapeFamily, ShapeTerms
from .moe import Mixture
from .posynomial import Posynomial
from .serving_point import (BOUND_EFFICIENCIES, DECODE_GPU_SECONDS, DEFAULT_EFFICIENCIES, Efficiencies,
                            ServingPoint)

#: attention FLOP per layer·d_model per token of context in decode: 2 (QK^T) + 2 (AV),
#: forward (PaLM app. B); a prompt attends on average to half of itself, 2 per token
ATTENTION_FLOPS = 4.0
#: bytes of an activation value moved by an all-reduce (16-bit activations)
ACTIVATION_BYTES = 2.0
#: all-to-alls per MoE layer under expert parallelism: dispatch and combine (Lepikhin et
#: al. 2020, GShard, arXiv 2006.16668, §2.2; DeepSeek-V3, arXiv 2412.19437, §3.4)
ALL_TO_ALLS = 2.0


def _product(p: Posynomial, q: Posynomial) -> Posynomial:
    """p·q, term by term."""
    return Posynomial(tuple((c1 * c2, *(a + b for a, b in zip(e1, e2)))
                            for c1, *e1 in p.terms for c2, *e2 in q.terms))


def _k(x, k: float):
    """k·x for a posynomial or a number (or an array)."""
    return x.scaled(k) if isinstance(x, Posynomial) else x * k


@dataclass(frozen=True)
class Parts:
    """The parts of a decode step and of a prompt alone at efficiency 1, as posynomials in
    (N, D, B, G, t) (:meth:`Roofline.parts`) or as their values at a point (:meth:`at`):

    compute: B·(decode FLOP)/(G·peak); weights: weights read whatever the batch
    /(G·bandwidth); expert_weights: one expert in every MoE layer/(G·bandwidth), read
    ``touched`` times a step (a number: the bucket's bound, or the exact count at a point)
    and ``first_touched`` times by a prompt alone; kv: B·S·(KV
    held per token)/(G·bandwidth), and kv_grouped the same times the query heads per KV
    head; prefill: B·ρ·(prefill FLOP per token)/(G·peak); allreduces: of a step;
    link_bytes: a step's all-reduce traffic at the full link bandwidth; first_compute:
    P·(prefill FLOP per token)/(G·peak); first_allreduces, first_link_bytes: a prompt's;
    layers [–]. Times in seconds. How the efficiencies enter is :func:`assemble`."""

    compute: object
    weights: object
    kv: object
    kv_grouped: object
    prefill: object
    allreduces: object
    link_bytes: object
    first_compute: object
    first_allreduces: object
    first_link_bytes: object
    layers: object
    expert_weights: object = Posynomial(())
    touched: object = 1.0
    first_touched: object = 1.0

    def at(self, N, B=1.0, G=1.0) -> "Parts":
        """Every part evaluated at (N, B, G) (arrays broadcast; the counts of experts as they are)."""
        return Parts(*(p.value(N, B=B, G=G) if isinstance(p, Posynomial) else p for p in self.__dict__.values()))


@dataclass(frozen=True)
class Times:
    """The times of a step and of a prompt alone at given efficiencies [s] (posynomials or
    numbers): compute and memory of decode, the prompts' share (prefill), the all-reduces
    (links), and a prompt alone: first_compute and first_memory, each with its links and
    the prefill pass's overhead."""

    compute: object
    memory: object
    prefill: object
    links: object
    first_compute: object
    first_memory: object


def assemble(parts: Parts, e: Efficiencies, link_latency: float) -> Times:
    """How the engine's efficiencies turn the parts into times (the one home of it):
    compute parts over η_c, bandwidth parts over η_m (the cache read 1 + ξ·(group − 1)
    times), link bytes over η_l, each all-reduce the link latency over η_l plus λ_o, and
    τ per layer of a prefill pass."""
    per_allreduce = link_latency / e.link + e.collective_overhead
    links = _k(parts.allreduces, per_allreduce) + _k(parts.link_bytes, 1.0 / e.link)
    first_links = (_k(parts.first_allreduces, per_allreduce) + _k(parts.first_link_bytes, 1.0 / e.link)
                   + _k(parts.layers, e.prefill_overhead))
    weights = parts.weights + _k(parts.expert_weights, parts.touched)
    return Times(compute=_k(parts.compute, 1.0 / e.compute),
                 memory=_k(weights + _k(parts.kv, 1.0 - e.kv_reread) + _k(parts.kv_grouped, e.kv_reread),
                           1.0 / e.bandwidth),
                 prefill=_k(parts.prefill, 1.0 / e.compute), links=links,
                 first_compute=_k(parts.first_compute, 1.0 / e.compute) + first_links,
                 first_memory=_k(parts.weights + _k(parts.expert_weights, parts.first_touched), 1.0 / e.bandwidth)
                 + first_links)


@dataclass(frozen=True)
class Roofline:
    """The serving hardware, model shape, workload and engine (docs/model.md §8).

    peak_flops [FLOP/s] of the arithmetic dtype, bandwidth [bytes/s], memory_bytes [bytes]:
    one GPU; link_bandwidth [bytes/s, one direction], link_latency [s]: its links
    weight_bytes, kv_bytes [bytes]: per weight and per cached value (their own dtypes)
    architecture: the exact shape (N is its count), or None for ``family`` at any N
    context_tokens S (mean, decoding), max_context_tokens (one sequence's longest), prompt_tokens
    P [tokens]; prefill_per_output ρ: prompt tokens prefilled per generated token [–]
    kv_block_tokens: the paged cache's block [tokens]
    tpot_seconds, ttft_seconds [s]: latency targets, or None
    replica_gpus: the allowed tensor-parallel sizes; max_batch [sequences] or None
    efficiencies: the engine's (:class:`Efficiencies`), efficiency_source: where they come
    from; memory_utilisation u [0–1]
    mixture: the family's mixture of experts (an architecture has its own); batch_bucket:
    (lo, hi) the batch of a one-cell roofline, priced at hi's experts (None: all E);
    expert_parallel: experts spread over the replica's GPUs (else tensor parallel inside them)
    """

    peak_flops: float
    bandwidth: float
    memory_bytes: float
    weight_bytes: float
    kv_bytes: float
    context_tokens: float
    max_context_tokens: float
    prompt_tokens: float
    prefill_per_output: float = 0.0
    link_bandwidth: float = 0.0
    link_latency: float = 0.0
    architecture: Architecture | None = None
    family: ShapeFamily = ShapeFamily()
    kv_block_tokens: float = 16.0
    tpot_seconds: float | None = None
    ttft_seconds: float | None = None
    replica_gpus: tuple[int, ...] = (1, 2, 4, 8)
    max_batch: float | None = None
    efficiencies: Efficiencies = DEFAULT_EFFICIENCIES
    memory_utilisation: float = 0.9
    efficiency_source: str = "defaults fitted to published measurements"
    mixture: Mixture = Mixture()
    batch_bucket: tuple[float, float] | None = None
    expert_parallel: bool = False

    # ---- variants
    def at_size(self, gpus: int) -> "Roofline":
        """The same serving with replicas of ``gpus`` GPUs only (the links are priced for one size)."""
        return replace(self, replica_gpus=(int(gpus),))

    def free(self) -> "Roofline":
        """The same serving for a model of any N: the shape family instead of the architecture
        (a mixture's counterpart of the same E, k and expert share)."""
        return replace(self, architecture=None, mixture=self.moe)

    @property
    def moe(self) -> Mixture:
        """The served model's mixture of experts (Mixture() for a dense model)."""
        return self.shape.mixture

    def at_cell(self, gpus: int, bucket: tuple[float, float] | None) -> "Roofline":
        """Replicas of ``gpus`` GPUs with a batch in ``bucket`` (None: any batch, all experts read)."""
        return replace(self, replica_gpus=(int(gpus),), batch_bucket=bucket)

    def cells(self) -> list["Roofline"]:
        """Every replica size and batch bucket (:meth:`~.moe.Mixture.batch_buckets`; its own
        if it has one) as a one-cell roofline, its own geometric program (dense: one per size)."""
        if self.moe.is_dense:
            return [self.at_size(g) for g in self.replica_gpus]
        buckets = ((self.batch_bucket,) if self.batch_bucket is not None
                   else self.moe.batch_buckets(1.0 + self.prefill_per_output))
        return [self.at_cell(g, b) for g in self.replica_gpus for b in buckets]

    def at_point(self, gpus: float, batch: float) -> "Roofline":
        """The one-cell roofline of a point: a mixture's bucket [B, B], priced exactly."""
        g = int(round(gpus))
        return self.at_size(g) if self.moe.is_dense else self.at_cell(g, (float(batch), float(batch)))

    def touched(self, batch):
        """Distinct experts per MoE layer a step of ``batch`` sequences touches, its B·(1 + ρ)
        tokens routed [experts] (1 for a dense model)."""
        return self.moe.touched(np.asarray(batch, dtype=float) * (1.0 + self.prefill_per_output))

    @property
    def touched_bound(self) -> float:
        """The experts this roofline prices a step at: its bucket's top's, else all E."""
        if self.batch_bucket is None or not np.isfinite(self.batch_bucket[1]):
            return float(self.moe.experts)
        return float(self.touched(self.batch_bucket[1]))

    @property
    def size(self) -> int:
        """The one replica size of a roofline at one size; ValueError otherwise."""
        if len(self.replica_gpus) != 1:
            raise ValueError(f"links are priced per replica size; got {self.replica_gpus} (use at_size)")
        return self.replica_gpus[0]

    # ---- rates
    @property
    def compute_rate(self) -> float:
        """Achieved FLOP/s of one GPU, peak·η_c [FLOP/s]."""
        return self.peak_flops * self.efficiencies.compute

    @property
    def memory_rate(self) -> float:
        """Achieved HBM bytes/s of one GPU, bw·η_m [bytes/s]."""
        return self.bandwidth * self.efficiencies.bandwidth

    @property
    def usable_memory(self) -> float:
        """HBM of one GPU usable for weights and cache, M·u [bytes]."""
        return self.memory_bytes * self.memory_utilisation

    @property
    def held_context_tokens(self) -> float:
        """Context a sequence holds in a paged cache on average: S plus half a block [tokens]."""
        return self.context_tokens + self.kv_block_tokens / 2

    @property
    def longest_context_tokens(self) -> float:
        """The longest sequence's context in whole blocks [tokens]."""
        b = self.kv_block_tokens
        return -(-self.max_context_tokens // b) * b

    # ---- the posynomials: the one home of each serving formula
    def __post_init__(self):
        # the shape's posynomials, the parts and the times, built once: every formula reads them
        shape = self.architecture.terms() if self.architecture is not None else self.family.terms(self.mixture)
        object.__setattr__(self, "_shape", shape)
        object.__setattr__(self, "_parts", None)
        object.__setattr__(self, "_times", None)

    @property
    def shape(self) -> ShapeTerms:
        """The model's shape as posynomials in N (the architecture's, else the family's)."""
        return self._shape

    def params_terms(self) -> Posynomial:
        """Weights held [parameters]."""
        return self.shape.params

    def kv_bytes_per_token_terms(self) -> Posynomial:
        """KV cache held per token of context, 2·layers·d_kv·b_kv [bytes]."""
        return self.shape.kv_elements.scaled(self.kv_bytes)

    def decode_flops_terms(self) -> Posynomial:
        """FLOP of one generated token at context S: 2 per weight read + 4·layers·d_model·S."""
        sh = self.shape
        return sh.weights_read.scaled(FLOPS_PER_WEIGHT) + sh.attention_width.scaled(ATTENTION_FLOPS * self.context_tokens)

    def prefill_flops_terms(self) -> Posynomial:
        """FLOP per prompt token of a prompt of P tokens: 2 per weight read + 2·layers·d_model·P."""
        sh = self.shape
        return (sh.weights_read.scaled(FLOPS_PER_WEIGHT)
                + sh.attention_width.scaled(ATTENTION_FLOPS / 2 * self.prompt_tokens))

    def parts(self) -> Parts:
        """The parts of a step and of a prompt alone at efficiency 1 (see :class:`Parts`);
        they depend on the hardware, the shape, the workload and the size alone, not on the
        targets or the efficiencies: built once for each such roofline."""
        if self._parts is None:
            key = replace(self, tpot_seconds=None, ttft_seconds=None, max_batch=None,
                          efficiencies=BOUND_EFFICIENCIES, efficiency_source="", memory_utilisation=1.0)
            object.__setattr__(self, "_parts", _parts_of(key))
        return self._parts

    def _links(self) -> tuple[Posynomial, Posynomial]:
        """(collectives of a forward pass, their bytes per token at the full link bandwidth
        [s]): a ring all-reduce sends and receives 2·(G−1)/G of the activations; under
        expert parallelism attention's all-reduce and a dispatch and a combine per MoE layer
        (docs/model.md §10); none on one GPU."""
        sh, g = self.shape, self.size
        if g == 1:
            return Posynomial(()), Posynomial(())
        ring = 2.0 * (g - 1) / g * ACTIVATION_BYTES / self.link_bandwidth
        if not (self.expert_parallel and not self.moe.is_dense):
            return sh.allreduces, _product(sh.allreduces, sh.activation_width).scaled(ring)
        k = self.moe.active_experts
        spread = ALL_TO_ALLS * k * (g - 1) / g / g * ACTIVATION_BYTES / self.link_bandwidth
        return (sh.layers.scaled(1.0 + ALL_TO_ALLS),
                _product(sh.layers, sh.activation_width).scaled(ring + spread))

    def _build_parts(self) -> Parts:
        sh, rho, P = self.shape, self.prefill_per_output, self.prompt_tokens
        per_gpu = dict(G=-1.0)
        kv = self.kv_bytes_per_token_terms().times(self.context_tokens / self.bandwidth, B=1.0, **per_gpu)
        allreduces, per_token = self._links()
        read = self.weight_bytes / self.bandwidth
        return Parts(
            expert_weights=sh.expert_read.times(read, **per_gpu), touched=self.touched_bound,
            first_touched=float(self.moe.touched(P)),
            compute=self.decode_flops_terms().times(1.0 / self.peak_flops, B=1.0, **per_gpu),
            weights=sh.shared_read.times(read, **per_gpu),
            kv=kv, kv_grouped=_product(kv, sh.kv_group),
            prefill=self.prefill_flops_terms().times(rho / self.peak_flops, B=1.0, **per_gpu),
            allreduces=allreduces, link_bytes=per_token.times(1.0 + rho, B=1.0),
            first_compute=self.prefill_flops_terms().times(P / self.peak_flops, **per_gpu),
            first_allreduces=allreduces, first_link_bytes=per_token.scaled(P), layers=sh.layers)

    def times(self) -> Times:
        """The times of a step and of a prompt alone at this roofline's efficiencies, as
        posynomials (built once for each roofline but its targets)."""
        if self._times is None:
            object.__setattr__(self, "_times", _times_of(self.without_targets()))
        return self._times

    def without_targets(self) -> "Roofline":
        """The same roofline without its latency targets and batch cap: what every time of
        a point depends on."""
        if self.tpot_seconds is None and self.ttft_seconds is None and self.max_batch is None:
            return self
        return replace(self, tpot_seconds=None, ttft_seconds=None, max_batch=None)

    def compute_time_terms(self) -> Posynomial:
        """Decode compute of a step, B·(decode FLOP)/(G·peak·η_c) [s]."""
        return self.times().compute

    def memory_time_terms(self) -> Posynomial:
        """Decode memory of a step, (weights read + B·S·KV read per token)/(G·bw·η_m) [s]."""
        return self.times().memory

    def prefill_share_terms(self) -> Posynomial:
        """The prompts' share of a step, B·ρ·(prefill FLOP per token)/(G·peak·η_c) [s]."""
        return self.times().prefill

    def step_link_terms(self) -> Posynomial:
        """All-reduces of a decode step, over its B·(1 + ρ) tokens [s]."""
        return self.times().links

    def ttft_compute_terms(self) -> Posynomial:
        """A prompt alone, compute-bound: P·(prefill FLOP per token)/(G·peak·η_c), its links
        and the prefill pass's overhead [s]."""
        return self.times().first_compute

    def ttft_memory_terms(self) -> Posynomial:
        """A prompt alone, bandwidth-bound: one read of the weights, its links and overhead [s]."""
        return self.times().first_memory

    def memory_use_terms(self) -> Posynomial:
        """Weights plus the paged cache of B sequences at the mean context [bytes]."""
        return (self.params_terms().scaled(self.weight_bytes)
                + self.kv_bytes_per_token_terms().times(self.held_context_tokens, B=1.0))

    def longest_sequence_terms(self) -> Posynomial:
        """Weights plus one sequence at its longest context [bytes]."""
        return (self.params_terms().scaled(self.weight_bytes)
                + self.kv_bytes_per_token_terms().scaled(self.longest_context_tokens))

    def prefill_gpu_seconds_terms(self) -> Posynomial:
        """GPU-seconds of one prompt token, (prefill FLOP per token)/(peak·η_c) [s]: its share
        of a step (or of a prefill-only pass)."""
        return self.prefill_flops_terms().scaled(1.0 / self.compute_rate)

    @staticmethod
    def decode_gpu_seconds_terms() -> Posynomial:
        """GPU-seconds of one generated token, G·t/B (its prompts' share included) [s]."""
        return DECODE_GPU_SECONDS

    # ---- evaluation
    def kv_bytes_per_token(self, N):
        """[bytes] of KV cache per token of context of a model of N parameters."""
        return self.kv_bytes_per_token_terms().value(N)

    def decode_flops(self, N):
        """[FLOP] of one generated token."""
        return self.decode_flops_terms().value(N)

    def prefill_flops(self, N):
        """[FLOP] per prompt token."""
        return self.prefill_flops_terms().value(N)

    def prefill_gpu_seconds(self, N):
        """[GPU-seconds] of one prompt token."""
        return self.prefill_gpu_seconds_terms().value(N)

    def memory_batch(self, N: float, G: float) -> float:
        """The largest whole batch the memory of a replica of G GPUs holds beside the weights
        (the paged cache at the mean context), within ``max_batch``; 0 when not even one
        sequence at its longest context fits [sequences]."""
        use, longest = self.memory_use_terms(), self.longest_sequence_terms()
        room = G * self.usable_memory
        if float(longest.value(N)) > room:
            return 0.0
        base = float(use.value(N, B=0.0))
        B = float(np.floor((room - base) / (float(use.value(N, B=1.0)) - base)))
        return min(B, self.max_batch) if self.max_batch is not None else B

    def point(self, N, B, G: float) -> ServingPoint:
        """The serving point (B, G) of a model of N parameters (G an allowed size), every time
        evaluated (N and B may be arrays: a ServingPoint of arrays)."""
        r = self if self.replica_gpus == (int(round(G)),) else self.at_size(int(round(G)))
        parts = r.parts().at(N, B, G)
        if not self.moe.is_dense:                      # the experts the batch touches, exactly
            parts = replace(parts, touched=self.touched(B))
        return serving_point(parts, r.efficiencies, r.link_latency, B, G, r.memory_use_terms().value(N, B=B))


@functools.lru_cache(maxsize=1024)
def _parts_of(roofline: Roofline) -> Parts:
    return roofline._build_parts()


@functools.lru_cache(maxsize=1024)
def _times_of(roofline: Roofline) -> Times:
    return assemble(roofline.parts(), roofline.efficiencies, roofline.link_latency)


def serving_point(parts: Parts, e: Efficiencies, link_latency: float, B, G, memory_bytes) -> ServingPoint:
    """The ServingPoint of parts evaluated at a point, at efficiencies ``e`` (floats for one
    point; arrays, broadcast, for many)."""
    t = assemble(parts, e, link_latency)
    one = all(np.ndim(v) == 0 for v in (B, G, t.compute, t.memory))
    cast = float if one else (lambda v: np.asarray(v, dtype=float))    # noqa: E731
    return ServingPoint(cast(B), cast(G), cast(t.compute), cast(t.memory), cast(t.prefill), cast(t.links),
                        cast(np.maximum(t.first_compute, t.first_memory)), cast(memory_bytes))

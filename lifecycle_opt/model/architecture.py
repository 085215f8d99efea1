"""The shape of a dense decoder: its exact parameter count, its KV cache and its FLOP per
token, from published configurations or, for a plan whose N is free, from a shape family
that keeps the count exact (docs/model.md §8).

A layer of a decoder with grouped-query attention holds 2·d² (query and output) +
2·d·d_kv (key and value, d_kv = kv_heads·head_dim) + k·d·d_ff (k = 3 for a gated, SwiGLU
MLP, 2 for a plain one) + 2·d (two norm gains) weights, and d + 2·d_kv biases where the
projections carry them (Qwen 2.5); the model adds V·d embeddings, V·d LM head unless the
two are tied, and a final norm. Llama 2 70B: 68,976,648,192 parameters.

Two quantities that are equal for a dense model are kept apart, so that a mixture of
experts slots in: the parameters *held* in memory (every weight) and the weights *read*
per decode step (every weight but the input embedding table, of which a step reads only
its tokens' rows; with tied embeddings the one table is read as the LM head). The FLOP
per token are 2 per weight read (norm gains, a millionth of the weights, counted alike).

A mixture of experts (``experts`` E > 1) replaces every layer's MLP by E routed experts
of width ``expert_d_ff`` (each as the dense MLP is built, gated or plain), ``shared_experts``
experts of the same width that every token passes through, and a router of E·d weights:
it *holds* every expert, while a token multiplies the ``active_experts`` k it is routed to
(the *active* parameters, Mixtral 8x7B's 12.9B of 46.7B) and a decode step reads the
non-expert weights once and, per MoE layer, the distinct experts its tokens touch
(:meth:`~.moe.Mixture.touched`). A model of N active parameters from the shape family
holds N·(1 + s·(E/k − 1)) (:attr:`~.moe.Mixture.total_per_active`) and reads N·(1 − s)
plus N·s/k per expert touched, s the mixture's expert share.

Every serving quantity reaches the serving model as a :class:`ShapeTerms` of
posynomials in N: constants for an exact architecture (its N is fixed), monomials of N
for a :class:`ShapeFamily`.

References
----------
Touvron et al. 2023, "Llama 2", arXiv 2307.09288 (shapes; grouped-query attention);
Grattafiori et al. 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, Table 3;
Ainslie et al. 2023, "GQA", arXiv 2305.13245; Shazeer 2020, "GLU variants", arXiv
2002.05202 (the gated MLP); Qwen Team 2024, "Qwen2.5 Technical Report", arXiv 2412.15115;
Jiang et al. 2024, "Mixtral of Experts", arXiv 2401.04088 (46.7B total, 12.9B active;
8x22B: 141B, 39B); Qwen Team 2024, "Qwen1.5-MoE: Matching 7B Model Performance with 1/3
Activated Parameters" (blog, 2024-03-28; 14.3B total, 2.7B active).
Shapes as in each model's Hugging Face ``config.json``.
"""
from __future__ import annotations

__all__ = ["Architecture", "ShapeFamily", "ShapeTerms", "PRESETS", "PRESET_NAMES", "preset", "DEFAULT_FAMILY"]

import functools
import math
from dataclasses import dataclass

from .moe import Mixture
from .posynomial import Posynomial, monomial

#: K and V: two cached vectors per layer per token of context
KV_VECTORS = 2.0
#: all-reduces per layer per forward pass under tensor parallelism: after attention and
#: after the MLP (Shoeybi et al. 2019, Megatron-LM, arXiv 1909.08053, §3)
ALLREDUCES_PER_LAYER = 2.0
#: FLOP per weight read per token: a multiply and an add
FLOPS_PER_WEIGHT = 2.0


@dataclass(frozen=True)
class ShapeTerms:
    """The shape's serving quantities as posynomials in N (model/posynomial.py):

    params [weights held], weights_read [weights a token multiplies: every one read per
    decode step of a dense model; a mixture's active ones], shared_read [weights a decode
    step reads whatever its batch: a mixture's non-expert ones], expert_read [one expert in
    every MoE layer: read once per distinct expert touched; zero for a dense model],
    mixture [its experts E and k; Mixture() for a dense model], kv_elements
    [cached values per token of context, 2·layers·d_kv], kv_group [query heads per KV
    head], attention_width [layers·d_model: attention FLOP per token of context are
    4·this in decode], allreduces [per forward pass], activation_width [d_model: values
    each all-reduce moves per token], layers [–]."""

    params: Posynomial
    weights_read: Posynomial
    kv_elements: Posynomial
    kv_group: Posynomial
    attention_width: Posynomial
    allreduces: Posynomial
    activation_width: Posynomial
    layers: Posynomial
    exact: bool
    shared_read: Posynomial | None = None
    expert_read: Posynomial = Posynomial(())
    mixture: Mixture = Mixture()

    def __post_init__(self):
        if self.shared_read is None:            # a dense model reads every weight every step
            object.__setattr__(self, "shared_read", self.weights_read)


@dataclass(frozen=True)
class Architecture:
    """An exact dense decoder (counts may be real numbers for a shape family's member).

    layers, d_model, heads, kv_heads, d_ff, vocab [–]; gated_mlp: three d_model×d_ff
    matrices (SwiGLU) rather than two; tied_embeddings: the LM head is the embedding table;
    qkv_bias: the query, key and value projections carry biases; name and source: where
    the figures come from. A mixture of experts: experts E (1 is dense), active_experts k,
    expert_d_ff the width of each expert (None: d_ff), shared_experts that every token
    passes through (of the same width)."""

    layers: float
    d_model: float
    heads: float
    kv_heads: float
    d_ff: float
    vocab: float
    gated_mlp: bool = True
    tied_embeddings: bool = False
    qkv_bias: bool = False
    name: str = "custom"
    source: str = ""
    experts: int = 1
    active_experts: int = 1
    expert_d_ff: float | None = None
    shared_experts: int = 0

    def __post_init__(self):
        for f in ("layers", "d_model", "heads", "kv_heads", "d_ff", "vocab"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{f}: a positive number, found {v!r}")
        if self.kv_heads > self.heads:
            raise ValueError(f"kv_heads: at most heads = {self.heads:g}, found {self.kv_heads:g}")
        Mixture(self.experts, self.active_experts)          # E and k checked there
        if self.experts == 1 and (self.shared_experts or self.expert_d_ff is not None):
            raise ValueError("shared_experts and expert_d_ff: only for a mixture of experts (experts > 1)")

    # ---- shape
    @property
    def head_dim(self) -> float:
        return self.d_model / self.heads

    @property
    def kv_dim(self) -> float:
        """Width of the keys (and of the values) of a layer, kv_heads·head_dim."""
        return self.kv_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        return self.experts > 1

    @property
    def expert_params(self) -> float:
        """Weights of one expert of one layer (a mixture's; 0 for a dense model)."""
        width = self.d_ff if self.expert_d_ff is None else self.expert_d_ff
        return (3.0 if self.gated_mlp else 2.0) * self.d_model * width if self.is_moe else 0.0

    @property
    def layer_params(self) -> float:
        """Weights of one layer: attention, MLP (a mixture's: every expert, routed and
        shared, and the router's E·d), two norm gains, biases."""
        d, kv = self.d_model, self.kv_dim
        if self.is_moe:
            mlp = (self.experts + self.shared_experts) * self.expert_params + self.experts * d
        else:
            mlp = (3.0 if self.gated_mlp else 2.0) * d * self.d_ff
        bias = d + 2 * kv if self.qkv_bias else 0.0
        return 2 * d * d + 2 * d * kv + mlp + 2 * d + bias

    @property
    def embedding_params(self) -> float:
        """The embedding table and, untied, the LM head: V·d each."""
        return (1.0 if self.tied_embeddings else 2.0) * self.vocab * self.d_model

    @property
    def params(self) -> float:
        """Every weight held in memory [parameters]."""
        return self.layers * self.layer_params + self.embedding_params + self.d_model

    @property
    def active_params(self) -> float:
        """Weights a token uses, every one but the E − k experts it is not routed to in
        each layer [parameters] (``params`` for a dense model)."""
        return self.params - self.layers * (self.experts - self.active_experts) * self.expert_params

    @property
    def weights_read(self) -> float:
        """Weights a token multiplies [parameters]: the active ones but an untied input
        embedding table (a step reads only its tokens' rows); the LM head is read every
        step. A dense model's decode step reads exactly these."""
        return self.active_params - (0.0 if self.tied_embeddings else self.vocab * self.d_model)

    @property
    def shared_read(self) -> float:
        """Weights a decode step reads whatever its batch: all but the routed experts (and
        the untied input table) [parameters]."""
        return self.weights_read - self.layers * self.active_experts * self.expert_params

    @property
    def expert_read(self) -> float:
        """One expert in every layer: what each distinct expert touched adds to a step's
        reads [parameters] (0 for a dense model)."""
        return self.layers * self.expert_params

    @property
    def mixture(self) -> Mixture:
        """The architecture's E and k, and the share s of its active parameters in the k
        routed experts, so that total_per_active is its exact total/active (Mixtral 8x7B:
        s = 0.873)."""
        if not self.is_moe:
            return Mixture()
        s = self.active_experts * self.expert_read / self.active_params
        return Mixture(int(self.experts), int(self.active_experts), s)

    def step_weights_read(self, tokens) -> float:
        """Weights a decode step over ``tokens`` tokens reads: the shared ones and each
        distinct expert touched, E·(1 − (1 − k/E)^T) per layer [parameters]."""
        return self.shared_read + self.expert_read * self.mixture.touched(tokens)

    def kv_bytes_per_token(self, kv_bytes: float) -> float:
        """KV cache per token of context, 2·layers·kv_dim·bytes [bytes]."""
        return KV_VECTORS * self.layers * self.kv_dim * kv_bytes

    def flops_per_token(self, context: float = 0.0) -> float:
        """FLOP of one decoded token at ``context`` tokens: 2 per weight read plus the
        attention, 4·layers·d_model per token of context (PaLM app. B) [FLOP]."""
        return FLOPS_PER_WEIGHT * self.weights_read + 4.0 * self.layers * self.d_model * context

    def terms(self) -> ShapeTerms:
        """The serving quantities as constants (N is this architecture's count)."""
        return _terms(self)

    def _build_terms(self) -> ShapeTerms:
        c = lambda v: monomial(float(v))       # noqa: E731
        return ShapeTerms(params=c(self.params), weights_read=c(self.weights_read),
                          kv_elements=c(KV_VECTORS * self.layers * self.kv_dim),
                          kv_group=c(self.heads / self.kv_heads),
                          attention_width=c(self.layers * self.d_model),
                          allreduces=c(ALLREDUCES_PER_LAYER * self.layers),
                          activation_width=c(self.d_model), layers=c(self.layers), exact=True,
                          shared_read=c(self.shared_read), expert_read=c(self.expert_read), mixture=self.mixture)

    def as_dict(self) -> dict:
        out = {"name": self.name, "layers": self.layers, "d_model": self.d_model, "heads": self.heads,
               "kv_heads": self.kv_heads, "d_ff": self.d_ff, "vocab": self.vocab, "gated_mlp": self.gated_mlp,
               "tied_embeddings": self.tied_embeddings, "qkv_bias": self.qkv_bias, "params": self.params,
               "source": self.source}
        if self.is_moe:
            out.update(experts=self.experts, active_experts=self.active_experts,
                       expert_d_ff=self.d_ff if self.expert_d_ff is None else self.expert_d_ff,
                       shared_experts=self.shared_experts, active_params=self.active_params)
        return out


@dataclass(frozen=True)
class ShapeFamily:
    """Shapes for a plan whose N is free, with exactly N parameters each.

    d_model = (N·r/κ)^(1/3) and layers = d_model/r (r = ``aspect_ratio``), κ = 2 + k·
    ``ffn_ratio`` the nominal weights per layers·d_model² (k = 3 gated, 2 plain); heads =
    d_model/``head_dim`` and a fixed number of ``kv_heads`` (the Llama 3 recipe: 8 of 128
    dimensions at every size); the MLP width d_ff takes what the N parameters leave once
    attention, norms, embeddings (V = ``vocab``) are counted, so the count is exact and
    every serving quantity is a monomial in N. Tied embeddings keep the weights read per
    step exactly N too (the table is the LM head); untied, the GP counts the unread input
    table as read, a bound high by V·d/N (the report says so)."""

    aspect_ratio: float = 128.0
    head_dim: float = 128.0
    kv_heads: float = 8.0
    ffn_ratio: float = 3.5
    vocab: float = 128256.0
    gated_mlp: bool = True
    tied_embeddings: bool = True

    @property
    def _kappa(self) -> float:
        return 2.0 + (3.0 if self.gated_mlp else 2.0) * self.ffn_ratio

    def d_model(self, N):
        return (N * self.aspect_ratio / self._kappa) ** (1.0 / 3.0)

    def member(self, N: float) -> Architecture:
        """The family's shape of N parameters (real-valued counts; d_ff < 0 where the
        embeddings alone take more than N: below the family's range)."""
        d = float(self.d_model(N))
        L, kv = d / self.aspect_ratio, self.kv_heads * self.head_dim
        heads = max(d / self.head_dim, self.kv_heads)
        rest = N - (1.0 if self.tied_embeddings else 2.0) * self.vocab * d - d
        per_layer = rest / L - (2 * d * d + 2 * d * kv + 2 * d)
        d_ff = per_layer / ((3.0 if self.gated_mlp else 2.0) * d)
        return _unchecked(
            layers=L, d_model=d, heads=heads, kv_heads=self.kv_heads, d_ff=d_ff, vocab=self.vocab,
            gated_mlp=self.gated_mlp, tied_embeddings=self.tied_embeddings, name="shape family",
            source="docs/model.md §8")

    def smallest(self) -> float:
        """The smallest N whose member has a positive MLP width [parameters]."""
        lo, hi = 1e3, 1e16
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if self.member(mid).d_ff <= 0 else (lo, mid)
        return hi

    def terms(self, mixture: Mixture = Mixture()) -> ShapeTerms:
        """The serving quantities as monomials in N; for a mixture of experts those of its
        N active parameters: attention and cache as the family's dense member of N, the
        weights held N·total_per_active, read N·(1 − s) per step and N·s/k per expert
        touched (s the mixture's expert share, :class:`~.moe.Mixture`)."""
        return _terms(self, mixture)

    def _build_terms(self, mixture: Mixture = Mixture()) -> ShapeTerms:
        r, k = self.aspect_ratio, self._kappa
        cd = (r / k) ** (1.0 / 3.0)                   # d_model = cd·N^(1/3)
        d = monomial(cd, N=1 / 3)
        layers = monomial(cd / r, N=1 / 3)
        kv = self.kv_heads * self.head_dim
        moe = {}
        if not mixture.is_dense:
            s = mixture.expert_share
            moe = dict(shared_read=monomial(1.0 - s, N=1), expert_read=monomial(s / mixture.active_experts, N=1),
                       mixture=mixture)
        return ShapeTerms(params=monomial(mixture.total_per_active, N=1), weights_read=monomial(1.0, N=1),
                          kv_elements=layers.scaled(KV_VECTORS * kv), **moe,
                          kv_group=d.scaled(1.0 / (self.head_dim * self.kv_heads)),
                          attention_width=monomial(cd * cd / r, N=2 / 3),
                          allreduces=layers.scaled(ALLREDUCES_PER_LAYER), activation_width=d, layers=layers,
                          exact=self.tied_embeddings)


@functools.lru_cache(maxsize=256)
def _terms(shape, *mixture) -> ShapeTerms:
    """A shape's terms, built once per shape (a sweep reads them for every point)."""
    return shape._build_terms(*mixture)


def _unchecked(**fields) -> Architecture:
    """An Architecture without the positivity checks (a family member below its range)."""
    a = object.__new__(Architecture)
    for k, v in fields.items():
        object.__setattr__(a, k, v)
    object.__setattr__(a, "qkv_bias", False)
    return a


#: the shape family of a plan whose N is free: the Llama 3 recipe (d_model/layers 128 as
#: Llama 3 8B, 4096/32; 8 KV heads of 128; SwiGLU at d_ff ≈ 3.5·d_model; its 128,256-token
#: vocabulary), embeddings tied so that every count is exact (arXiv 2407.21783, Table 3)
DEFAULT_FAMILY = ShapeFamily()

_HF = "Hugging Face config.json of "
PRESETS: dict[str, Architecture] = {a.name: a for a in [
    Architecture(32, 4096, 32, 32, 11008, 32000, name="llama-2-7b", source=_HF + "meta-llama/Llama-2-7b-hf"),
    Architecture(40, 5120, 40, 40, 13824, 32000, name="llama-2-13b", source=_HF + "meta-llama/Llama-2-13b-hf"),
    Architecture(80, 8192, 64, 8, 28672, 32000, name="llama-2-70b", source=_HF + "meta-llama/Llama-2-70b-hf"),
    Architecture(32, 4096, 32, 8, 14336, 128256, name="llama-3-8b", source=_HF + "meta-llama/Meta-Llama-3-8B"),
    Architecture(80, 8192, 64, 8, 28672, 128256, name="llama-3-70b", source=_HF + "meta-llama/Meta-Llama-3-70B"),
    Architecture(126, 16384, 128, 8, 53248, 128256, name="llama-3.1-405b",
                 source=_HF + "meta-llama/Llama-3.1-405B"),
    Architecture(32, 4096, 32, 8, 14336, 32000, name="mistral-7b", source=_HF + "mistralai/Mistral-7B-v0.1"),
    Architecture(28, 3584, 28, 4, 18944, 152064, qkv_bias=True, name="qwen-2.5-7b", source=_HF + "Qwen/Qwen2.5-7B"),
    Architecture(80, 8192, 64, 8, 29568, 152064, qkv_bias=True, name="qwen-2.5-72b",
                 source=_HF + "Qwen/Qwen2.5-72B"),
    # mixtures of experts: every layer's MLP is E experts of width d_ff (intermediate_size)
    # and a router; 46,702,792,704 held / 12,879,925,248 active (published 46.7B / 12.9B)
    Architecture(32, 4096, 32, 8, 14336, 32000, experts=8, active_experts=2, name="mixtral-8x7b",
                 source=_HF + "mistralai/Mixtral-8x7B-v0.1"),
    # 140,630,071,296 / 39,161,468,928 (published 141B / 39B); vocabulary 32,768
    Architecture(56, 6144, 48, 8, 16384, 32768, experts=8, active_experts=2, name="mixtral-8x22b",
                 source=_HF + "mistralai/Mixtral-8x22B-v0.1"),
    # 60 routed experts of 1,408 (moe_intermediate_size), top-4, and a shared expert of
    # 5,632 (shared_expert_intermediate_size), modelled as 4 shared experts of 1,408 (the
    # same weights); its sigmoid gate (d_model weights a layer, 49,152 in all) is left out:
    # 14,315,735,040 held / 2,689,124,352 active (published 14.3B / 2.7B)
    Architecture(24, 2048, 16, 16, 1408, 151936, qkv_bias=True, experts=60, active_experts=4, shared_experts=4,
                 name="qwen1.5-moe-a2.7b", source=_HF + "Qwen/Qwen1.5-MoE-A2.7B"),
]}
#: other names of the same shapes (Llama 3.1 and 3.3 keep Llama 3's)
_ALIASES = {"llama-3.1-8b": "llama-3-8b", "llama-3.1-70b": "llama-3-70b", "llama-3.3-70b": "llama-3-70b"}
#: every name :func:`preset` knows
PRESET_NAMES = tuple(PRESETS) + tuple(_ALIASES)


def preset(name: str) -> Architecture:
    """The published architecture called ``name`` (case-insensitive); KeyError names them.

    >>> preset("llama-2-70b").params
    68976648192.0
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        raise KeyError(f"unknown architecture preset {name!r}; known: {', '.join(PRESET_NAMES)}")
    return PRESETS[key]

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

Every serving quantity reaches the serving model as a :class:`ShapeTerms` of
posynomials in N: constants for an exact architecture (its N is fixed), monomials of N
for a :class:`ShapeFamily`.

References
----------
Touvron et al. 2023, "Llama 2", arXiv 2307.09288 (shapes; grouped-query attention);
Grattafiori et al. 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, Table 3;
Ainslie et al. 2023, "GQA", arXiv 2305.13245; Shazeer 2020, "GLU variants", arXiv
2002.05202 (the gated MLP); Qwen Team 2024, "Qwen2.5 Technical Report", arXiv 2412.15115.
Shapes as in each model's Hugging Face ``config.json``.
"""
from __future__ import annotations

__all__ = ["Architecture", "ShapeFamily", "ShapeTerms", "PRESETS", "PRESET_NAMES", "preset", "DEFAULT_FAMILY"]

import functools
import math
from dataclasses import dataclass

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

    params [weights held], weights_read [weights read per decode step], kv_elements
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


@dataclass(frozen=True)
class Architecture:
    """An exact dense decoder (counts may be real numbers for a shape family's member).

    layers, d_model, heads, kv_heads, d_ff, vocab [–]; gated_mlp: three d_model×d_ff
    matrices (SwiGLU) rather than two; tied_embeddings: the LM head is the embedding table;
    qkv_bias: the query, key and value projections carry biases; name and source: where
    the figures come from."""

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

    def __post_init__(self):
        for f in ("layers", "d_model", "heads", "kv_heads", "d_ff", "vocab"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{f}: a positive number, found {v!r}")
        if self.kv_heads > self.heads:
            raise ValueError(f"kv_heads: at most heads = {self.heads:g}, found {self.kv_heads:g}")

    # ---- shape
    @property
    def head_dim(self) -> float:
        return self.d_model / self.heads

    @property
    def kv_dim(self) -> float:
        """Width of the keys (and of the values) of a layer, kv_heads·head_dim."""
        return self.kv_heads * self.head_dim

    @property
    def layer_params(self) -> float:
        """Weights of one layer: attention, MLP, two norm gains, biases."""
        d, kv = self.d_model, self.kv_dim
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
    def weights_read(self) -> float:
        """Weights read per decode step [parameters]: all but an untied input embedding
        table (a step reads only its tokens' rows); the LM head is read every step."""
        return self.params - (0.0 if self.tied_embeddings else self.vocab * self.d_model)

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
                          activation_width=c(self.d_model), layers=c(self.layers), exact=True)

    def as_dict(self) -> dict:
        return {"name": self.name, "layers": self.layers, "d_model": self.d_model, "heads": self.heads,
                "kv_heads": self.kv_heads, "d_ff": self.d_ff, "vocab": self.vocab, "gated_mlp": self.gated_mlp,
                "tied_embeddings": self.tied_embeddings, "qkv_bias": self.qkv_bias, "params": self.params,
                "source": self.source}


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

    def terms(self) -> ShapeTerms:
        """The serving quantities as monomials in N."""
        return _terms(self)

    def _build_terms(self) -> ShapeTerms:
        r, k = self.aspect_ratio, self._kappa
        cd = (r / k) ** (1.0 / 3.0)                   # d_model = cd·N^(1/3)
        d = monomial(cd, N=1 / 3)
        layers = monomial(cd / r, N=1 / 3)
        kv = self.kv_heads * self.head_dim
        return ShapeTerms(params=monomial(1.0, N=1), weights_read=monomial(1.0, N=1),
                          kv_elements=layers.scaled(KV_VECTORS * kv),
                          kv_group=d.scaled(1.0 / (self.head_dim * self.kv_heads)),
                          attention_width=monomial(cd * cd / r, N=2 / 3),
                          allreduces=layers.scaled(ALLREDUCES_PER_LAYER), activation_width=d, layers=layers,
                          exact=self.tied_embeddings)


@functools.lru_cache(maxsize=256)
def _terms(shape) -> ShapeTerms:
    """A shape's terms, built once per shape (a sweep reads them for every point)."""
    return shape._build_terms()


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

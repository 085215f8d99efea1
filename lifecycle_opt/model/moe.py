"""Mixtures of experts: the joint dense/MoE scaling law, and what a mixture's active and total
parameters are (docs/model.md §10).

The joint law of Ludziejewski et al. 2025 (eq. 4, constants of their Table 3):

    L(N_act, D, Ê) = a·Ê^δ·N_act^(α + γ·ln Ê) + b·Ê^ω·D^(β + ζ·ln Ê) + c,
    1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^−1) + 1/E_max,

with N_act the active parameters (embeddings included), D the training tokens and E the
experts (E = 1 is dense, Ê(1) = E_start). For a fixed E it is the Chinchilla form in
(N_act, D) — A = a·Ê^δ, α' = −(α + γ ln Ê), B = b·Ê^ω, β' = −(β + ζ ln Ê), E = c — so every
part of the planner (certificate, shadow prices, infeasibility, sweeps, the batch solver)
applies to it as it is; a set of allowed E is solved one E at a time
(:mod:`lifecycle_opt.plan.choices`).

A decode step over T tokens, each routed to k of E experts at random, touches on average
E·(1 − (1 − k/E)^T) distinct experts per MoE layer (the expected number of experts at least
one token picks): k at T = 1, nearly all E at large T. It is concave in T, not a
posynomial, so the serving problem enumerates *batch buckets* (:meth:`Mixture.batch_buckets`),
each priced at its largest batch's experts — an upper bound, exact at the bucket's top.

A mixture routes each token to k of its E experts. Its total parameters, held in memory,
are the active ones plus the E − k experts a token skips: with s the share of the active
parameters in the k routed experts, N_total = N_act·(1 + s·(E/k − 1)) (Mixtral 8x7B:
12.9B active, 46.7B total, k = 2: s = 0.873).

References
----------
Ludziejewski et al. 2025, "Joint MoE Scaling Laws: Mixture of Experts Can Be Memory
Efficient", arXiv:2502.05172 (ICML 2025).
Jiang et al. 2024, "Mixtral of Experts", arXiv:2401.04088.
DeepSeek-AI 2024, "DeepSeek-V3 Technical Report", arXiv:2412.19437 (E = 256, k = 8: 163
experts touched at 32 tokens, 252 at 128, by the formula above).
"""
from __future__ import annotations

__all__ = ["JointMoELaw", "Mixture", "DEFAULT_EXPERT_SHARE", "JOINT_FORM", "BUCKET_TOLERANCE"]

import math
from dataclasses import dataclass

import numpy as np

from .laws import ChinchillaLaw, FittedRange

#: the share of a decoder layer's parameters in its MLP, 8·d² of 12·d² with a 4·d MLP
#: (Kaplan et al. 2020, eq. 2.1): the share of the active parameters in the routed expert
#: when each expert is a full MLP, as in Ludziejewski et al. 2025 (embeddings aside)
DEFAULT_EXPERT_SHARE = 2.0 / 3.0
#: ``[law] form`` of a joint dense/MoE law given by its constants (``lifeopt fit -o`` writes it)
JOINT_FORM = "joint_moe"
#: how far above the experts a batch touches its bucket's bound may be (docs/model.md §10):
#: the bound on the experts' bytes of a decode step is within 5 % at every batch
BUCKET_TOLERANCE = 0.05


@dataclass(frozen=True)
class JointMoELaw:
    """The joint dense/MoE law of Ludziejewski et al. 2025 (see the module docstring).

    Parameters
    ----------
    a, alpha, delta, gamma : float
        The active-parameter term's constants (alpha and gamma signed, as printed).
    b, beta, omega, zeta : float
        The data term's constants (beta and zeta signed, as printed).
    E_start, E_max : float
        The transformed expert count's constants.
    c : float
        The irreducible loss [nats].
    name, source : str
    fitted : FittedRange or None
        The runs it was fitted on (active parameters, tokens).
    fitted_experts : tuple of (int, int)
        The smallest and largest E fitted on.
    """

    a: float
    alpha: float
    delta: float
    gamma: float
    b: float
    beta: float
    omega: float
    zeta: float
    E_start: float
    E_max: float
    c: float
    name: str = "custom joint MoE law"
    source: str = "user-supplied constants"
    fitted: FittedRange | None = None
    fitted_experts: tuple[int, int] = (1, 32)

    def transformed_experts(self, E: float) -> float:
        """Ê [–]: 1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^−1) + 1/E_max (their eq. 5)."""
        return 1.0 / (1.0 / (E - 1.0 + 1.0 / (1.0 / self.E_start - 1.0 / self.E_max)) + 1.0 / self.E_max)

    def at(self, experts: float) -> ChinchillaLaw:
        """The law of a model of ``experts`` experts: a Chinchilla form in (N_act, D)."""
        Eh = self.transformed_experts(experts)
        log_Eh = math.log(Eh)
        tag = "dense" if experts == 1 else f"{experts:g} experts"
        return ChinchillaLaw(E=self.c, A=self.a * Eh ** self.delta, B=self.b * Eh ** self.omega,
                             alpha=-(self.alpha + self.gamma * log_Eh), beta=-(self.beta + self.zeta * log_Eh),
                             name=f"{self.name} ({tag})", source=self.source, fitted=self.fitted)


@dataclass(frozen=True)
class Mixture:
    """A mixture of experts: ``experts`` E, ``active_experts`` k routed per token, and the
    share ``expert_share`` s of the active parameters in those k experts [–]. E = 1 is a
    dense model (k = 1)."""

    experts: int = 1
    active_experts: int = 1
    expert_share: float = DEFAULT_EXPERT_SHARE

    def __post_init__(self):
        if not (isinstance(self.experts, int) and isinstance(self.active_experts, int)
                and 1 <= self.active_experts <= self.experts):
            raise ValueError(f"experts E and active experts k are whole numbers with 1 <= k <= E, "
                             f"got E = {self.experts!r}, k = {self.active_experts!r}")
        if not 0 < self.expert_share < 1:
            raise ValueError(f"the expert share is in (0, 1), got {self.expert_share!r}")

    @property
    def is_dense(self) -> bool:
        return self.experts == 1

    @property
    def total_per_active(self) -> float:
        """N_total / N_act = 1 + s·(E/k − 1) [–]: the parameters held per active one."""
        return 1.0 + self.expert_share * (self.experts / self.active_experts - 1.0)

    def touched(self, tokens):
        """Distinct experts per MoE layer that ``tokens`` tokens touch on average,
        E·(1 − (1 − k/E)^T) [experts] (1 for a dense model; arrays broadcast): each token
        picks k of E experts, so an expert escapes one token with probability 1 − k/E.

        >>> round(Mixture(8, 2).touched(1), 6), round(Mixture(8, 2).touched(512), 6)
        (2.0, 8.0)
        """
        E, k = self.experts, self.active_experts
        if E == 1:
            return np.ones_like(tokens, dtype=float) if np.ndim(tokens) else 1.0
        out = E * (1.0 - (1.0 - k / E) ** np.asarray(tokens, dtype=float))
        return float(out) if np.ndim(out) == 0 else out

    def batch_buckets(self, tokens_per_sequence: float = 1.0,
                      tolerance: float = BUCKET_TOLERANCE) -> tuple[tuple[float, float], ...]:
        """Whole-batch buckets [lo, hi] (sequences; the last hi infinite) over which a step
        of B·``tokens_per_sequence`` tokens may be priced at the experts of its bucket's top,
        within ``tolerance`` of the experts it touches at any B of the bucket.

        The edges are whole numbers: from lo, hi is the largest batch whose experts are at
        most (1 + tolerance) times lo's (lo itself when the next batch is beyond that: single
        batches at small B, where each sequence adds nearly k experts), and the next bucket
        starts at hi + 1; once lo's experts are within the tolerance of all E, the last
        bucket [lo, ∞) reads all E. The experts touched rise with B, so in a bucket the
        bound (its top's, or E) is at least the truth and within the tolerance of it; the
        buckets grow geometrically in the experts touched, so they number about
        ln(E/k)/ln(1 + tolerance) beyond the single batches (Mixtral, k = 2 of 8: 9). A dense
        model has one bucket, [1, ∞)."""
        if self.experts == 1:
            return ((1.0, math.inf),)
        reach = lambda B: self.touched(B * tokens_per_sequence)     # noqa: E731
        out, lo = [], 1
        while self.experts > (1.0 + tolerance) * reach(lo):
            limit = (1.0 + tolerance) * reach(lo)
            hi = lo
            while reach(2 * hi + 1) <= limit:          # bracket, then bisect on whole batches
                hi = 2 * hi + 1
            top = 2 * hi + 1
            while top - hi > 1:
                mid = (hi + top) // 2
                hi, top = (mid, top) if reach(mid) <= limit else (hi, mid)
            out.append((float(lo), float(hi)))
            lo = hi + 1
        out.append((float(lo), math.inf))
        return tuple(out)

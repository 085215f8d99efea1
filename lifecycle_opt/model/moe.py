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

A mixture routes each token to k of its E experts. Its total parameters, held in memory,
are the active ones plus the E − k experts a token skips: with s the share of the active
parameters in the k routed experts, N_total = N_act·(1 + s·(E/k − 1)) (Mixtral 8x7B:
12.9B active, 46.7B total, k = 2: s = 0.873).

References
----------
Ludziejewski et al. 2025, "Joint MoE Scaling Laws: Mixture of Experts Can Be Memory
Efficient", arXiv:2502.05172 (ICML 2025).
Jiang et al. 2024, "Mixtral of Experts", arXiv:2401.04088.
"""
from __future__ import annotations

__all__ = ["JointMoELaw", "Mixture", "DEFAULT_EXPERT_SHARE", "JOINT_FORM"]

import math
from dataclasses import dataclass

from .laws import ChinchillaLaw, FittedRange

#: the share of a decoder layer's parameters in its MLP, 8·d² of 12·d² with a 4·d MLP
#: (Kaplan et al. 2020, eq. 2.1): the share of the active parameters in the routed expert
#: when each expert is a full MLP, as in Ludziejewski et al. 2025 (embeddings aside)
DEFAULT_EXPERT_SHARE = 2.0 / 3.0
#: ``[law] form`` of a joint dense/MoE law given by its constants (``lifeopt fit -o`` writes it)
JOINT_FORM = "joint_moe"


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

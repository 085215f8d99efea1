"""Quality after post-training quantisation: the loss a model gains when its weights are
served at fewer bits than it was trained in (docs/model.md §11).

Kumar et al. 2024, eq. 2: serving at P bits adds

    δ(N, D, P) = C_T · D^γ_D / N^γ_N · exp(−P / γ_post)

to the loss. The harm grows with the tokens per parameter, exactly where lifecycle plans
go, and past the critical token count of their eq. 13 more training makes the *served*
model worse. δ is a monomial in (N, D), so a loss target that must hold after
quantisation stays a posynomial constraint (convex in log N, log D) and the plan stays
certified.

References
----------
Kumar et al. 2024, "Scaling Laws for Precision", arXiv:2411.04330 (eq. 2, eq. 13, Table 2).
"""
from __future__ import annotations

__all__ = ["Quantisation", "QuantisedLaw", "QUANTISATION_PRESETS", "quantisation_preset", "BITS_OF_DTYPE",
           "ptq_degradation", "critical_tokens", "quantisable"]

import math
from dataclasses import dataclass, replace

import numpy as np

from .laws import ChinchillaLaw, DataConstrainedLaw, LossLaw
from .posynomial import Posynomial, monomial

#: bits of a served weight in each dtype
BITS_OF_DTYPE = {"fp32": 32.0, "tf32": 32.0, "bf16": 16.0, "fp16": 16.0, "fp8": 8.0, "int8": 8.0,
                 "fp4": 4.0, "int4": 4.0}


def ptq_degradation(N, D, scale, gamma_D, gamma_N):
    """δ = s·D^γ_D/N^γ_N [nats] with s = C_T·exp(−P/γ_post) (Kumar et al. 2024, eq. 2);
    every argument may be an array (one plan per element)."""
    return scale * np.asarray(D, dtype=float) ** gamma_D / np.asarray(N, dtype=float) ** gamma_N


def critical_tokens(N, B, beta, scale, gamma_D, gamma_N):
    """D_crit [tokens] of Kumar et al. 2024, eq. 13: past it, more training raises the
    quantised loss of a model of N parameters under a base law with data term B·D^−β:
    D_crit = (β·B·N^γ_N / (γ_D·s))^(1/(γ_D+β)), s = C_T·exp(−P/γ_post). Arrays broadcast."""
    N = np.asarray(N, dtype=float)
    return (beta * B * N ** gamma_N / (gamma_D * scale)) ** (1.0 / (gamma_D + beta))


@dataclass(frozen=True)
class Quantisation:
    """Post-training quantisation of the served weights to ``bits``.

    Parameters
    ----------
    bits : float
        Bits of a served weight, P_post [bits].
    C_T, gamma_D, gamma_N, gamma_post : float
        The constants of eq. 2 [nats, –, –, bits].
    name, source : str
        Where the constants come from.
    """

    bits: float
    C_T: float
    gamma_D: float
    gamma_N: float
    gamma_post: float
    name: str = "custom"
    source: str = "user-supplied constants"

    def __post_init__(self):
        for key in ("bits", "C_T", "gamma_D", "gamma_N", "gamma_post"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive finite number, got {value!r}")

    @property
    def scale(self) -> float:
        """C_T·exp(−P/γ_post) [nats]: the coefficient of the monomial."""
        return self.C_T * math.exp(-self.bits / self.gamma_post)

    def posynomial(self) -> Posynomial:
        """δ as a monomial in (N, D) [nats] (eq. 2)."""
        return monomial(self.scale, N=-self.gamma_N, D=self.gamma_D)

    def degradation(self, N, D):
        """δ(N, D) [nats], vectorised (eq. 2; :func:`ptq_degradation`)."""
        return ptq_degradation(N, D, self.scale, self.gamma_D, self.gamma_N)

    def critical_tokens(self, N, B: float, beta: float):
        """D_crit [tokens] of eq. 13 for a base law with data term B·D^−β
        (:func:`critical_tokens`)."""
        return critical_tokens(N, B, beta, self.scale, self.gamma_D, self.gamma_N)

    def at_bits(self, bits: float) -> "Quantisation":
        """The same constants at another precision."""
        return replace(self, bits=float(bits))


#: Kumar et al. 2024, Table 2 (post-training quantisation, GPTQ): fitted on 30–220M
#: parameters and up to 26B tokens; the authors caution that the constants are for their
#: setting and the trends are the finding.
QUANTISATION_PRESETS = {
    "kumar2024": dict(C_T=0.0598, gamma_D=0.5068, gamma_N=0.3439, gamma_post=0.5907, name="kumar2024",
                      source="Kumar et al. 2024 (arXiv 2411.04330), eq. 2 and Table 2; fitted on 30-220M "
                             "parameters, up to 26B tokens, GPTQ: the constants are for that setting"),
}


def quantisation_preset(name: str, bits: float) -> Quantisation:
    """The published constants called ``name`` at ``bits``; KeyError names the presets."""
    try:
        return Quantisation(bits=float(bits), **QUANTISATION_PRESETS[name])
    except KeyError:
        raise KeyError(f"unknown quantisation preset {name!r}; known: {', '.join(QUANTISATION_PRESETS)}") from None


@dataclass(frozen=True)
class QuantisedLaw:
    """The loss of the served model: a trained law plus the degradation of quantising it,
    L_q(N, D) = L(N, D) + δ(N, D, P).

    For a Chinchilla-form law the reducible loss P(N, D) + δ is still a posynomial (a
    geometric program); under the repetition penalty the sum of two convex functions of
    (log N, log D) is convex. Kaplan's form is not supported (its reducible part is raised
    to a power).
    """

    base: LossLaw
    quantisation: Quantisation

    @property
    def name(self) -> str:
        return f"{self.base.name}, served at {self.quantisation.bits:g} bits"

    @property
    def source(self) -> str:
        return f"{self.base.source}; post-training quantisation: {self.quantisation.source}"

    @property
    def fitted(self):
        return self.base.fitted

    @property
    def irreducible_loss(self) -> float:
        return self.base.irreducible_loss

    @property
    def trained(self) -> LossLaw:
        """The law of the trained (unquantised) model."""
        return self.base

    def loss(self, N, D):
        """The served loss [nats]."""
        return self.base.loss(N, D) + self.quantisation.degradation(N, D)

    def loss_grad(self, N, D):
        L, dN, dD = self.base.loss_grad(N, D)
        q = self.quantisation
        delta = q.degradation(N, D)
        return (L + delta, dN - q.gamma_N * delta / np.asarray(N, dtype=float),
                dD + q.gamma_D * delta / np.asarray(D, dtype=float))

    def posynomial(self) -> Posynomial | None:
        p = self.base.posynomial()
        return None if p is None else p + self.quantisation.posynomial()

    def posynomial_level(self, loss: float) -> float:
        return self.base.posynomial_level(loss)

    def level_log_slope(self, loss: float) -> float:
        return self.base.level_log_slope(loss)

    def posynomial_form(self):
        """None: the batch solver's one shape has no quantisation term (the exact path
        solves these plans)."""
        return None

    # the compute-optimal baseline is the trained law's (an unquantised model)
    def compute_optimal(self, flops):
        return self.base.compute_optimal(flops)

    def compute_optimal_at_loss(self, loss):
        return self.base.compute_optimal_at_loss(loss)

    def describe(self) -> str:
        q = self.quantisation
        return (f"{self.base.describe()}; served at {q.bits:g} bits: + {q.C_T:g}·D^{q.gamma_D:g}/N^{q.gamma_N:g}"
                f"·exp(-{q.bits:g}/{q.gamma_post:g}) ({q.name})")


def quantisable(law: LossLaw) -> bool:
    """Whether the quantisation term applies to ``law`` (a Chinchilla form, with or without
    the repetition penalty)."""
    return isinstance(law, (ChinchillaLaw, DataConstrainedLaw))

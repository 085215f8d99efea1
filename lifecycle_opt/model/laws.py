"""Loss laws: L(N, D) as small frozen values with vectorised numpy evaluation.

Three families:

* :class:`ChinchillaLaw` — L = E + A/N^α + B/D^β (Hoffmann et al. 2022, eq. 10).
* :class:`KaplanLaw` — L = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D (Kaplan et al. 2020, eq. 1.5).
* :class:`DataConstrainedLaw` — a Chinchilla law evaluated on effective data and
  effective parameters when a limited unique corpus is repeated (Muennighoff et al.
  2023, eq. 14–15 with U_D = min(U, D)).

The solver knows a law through one narrow interface:

* ``loss(N, D)`` [nats], vectorised;
* ``loss_grad(N, D)`` → (L, ∂L/∂N, ∂L/∂D);
* ``posynomial()`` → the loss constraint as a posynomial for geometric programming,
  or ``None`` when the law is not DGP-representable (the data-constrained law);
* ``compute_optimal(flops)`` and ``compute_optimal_at_loss(loss)`` → the closed-form
  plan minimising training compute C = 6·N·D without data limits.

N counts parameters [count]; D counts training tokens, repetitions included [count].

References
----------
Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv:2203.15556.
Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", arXiv:2404.10102.
Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv:2305.16264.
Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361.
Sardana et al. 2024, "Beyond Chinchilla-Optimal", arXiv:2401.00448.
"""
from __future__ import annotations

__all__ = [
    "FittedRange",
    "ChinchillaLaw",
    "KaplanLaw",
    "DataConstrainedLaw",
    "LossLaw",
    "MUENNIGHOFF_R_D_STAR",
    "MUENNIGHOFF_R_N_STAR",
    "repetition_effective",
    "repetition_tokens",
    "repetition_params",
    "params_fed_by",
]

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

from .constants import TRAIN_FLOPS_PER_PARAM_TOKEN
from .frontier import compute_optimal_at_reducible, compute_optimal_plan, frontier_scale
from .posynomial import Posynomial, monomial

# Muennighoff et al. 2023, App. A: the half-life-like constants of repeated data and
# of excess parameters, fitted together with their C4 base law (preset muennighoff2023).
MUENNIGHOFF_R_D_STAR = 15.387756
MUENNIGHOFF_R_N_STAR = 5.309743


# ------------------------------------------------- compute-optimal closed forms
# Plain vectorised functions of the Chinchilla constants (scalars or one array element
# per law), so that a law object, the batch solver, the fit's bootstrap and the
# approaches all evaluate the same lines (Hoffmann et al. 2022, §3.3 and App. D.2;
# docs/model.md §2).

@dataclass(frozen=True)
class FittedRange:
    """The runs a law was fitted on; plans far outside it are extrapolations.

    Parameters
    ----------
    min_params, max_params : float
        Parameters of the smallest and largest run [parameters].
    max_tokens : float, optional
        Most training tokens of any run [tokens], None if unknown.
    max_flops : float, optional
        Most training compute of any run [FLOP], None if unknown.
    note : str, optional
        The runs in words, for warnings.
    """

    min_params: float
    max_params: float
    max_tokens: float | None = None
    max_flops: float | None = None
    note: str = ""


@dataclass(frozen=True)
class ChinchillaLaw:
    """The Chinchilla form L(N, D) = E + A·N^(−α) + B·D^(−β) [nats/token].

    Parameters
    ----------
    E : float
        The irreducible loss [nats/token].
    A, B : float
        Scales of the parameter and data terms [nats/token · parameters^α, · tokens^β].
    alpha, beta : float
        Exponents of N and D [–]; ValueError unless all five are positive and finite.
    name, source, fitted : str, str, FittedRange, optional
        The law's name, where its constants come from (paper, arXiv id, table), its runs.

    References
    ----------
    .. [1] Hoffmann et al. 2022, arXiv:2203.15556, eq. 10; docs/model.md §2.1.

    Examples
    --------
    Chinchilla, 70B parameters on 1.4T tokens, under the paper's printed constants [1]_:

    >>> law = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    >>> round(float(law.loss(70e9, 1.4e12)), 4)
    1.9366
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    name: str = "custom"
    source: str = "user-supplied constants"
    fitted: FittedRange | None = None


    def __post_init__(self):
        for key in ("E", "A", "B", "alpha", "beta"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive finite number, got {value!r}")

    # -- evaluation -----------------------------------------------------------------
    def loss(self, N, D):
        """Return the predicted loss of N parameters trained on D tokens.

        Parameters
        ----------
        N, D : float or numpy.ndarray
            Parameters [parameters] and training tokens [tokens]; arrays broadcast.

        Returns
        -------
        numpy.ndarray
            L [nats/token].
        """
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        return self.E + self.A * N ** -self.alpha + self.B * D ** -self.beta

    def loss_grad(self, N, D):
        """Return the loss and its partial derivatives.

        Parameters
        ----------
        N, D : float or numpy.ndarray
            Parameters [parameters] and training tokens [tokens].

        Returns
        -------
        tuple of numpy.ndarray
            (L [nats/token], ∂L/∂N [nats/token per parameter], ∂L/∂D [nats/token per token]).
        """
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        a = self.A * N ** -self.alpha
        b = self.B * D ** -self.beta
        return self.E + a + b, -self.alpha * a / N, -self.beta * b / D

    @property
    def irreducible_loss(self) -> float:
        """The loss no finite model reaches, E [nats]."""
        return self.E

    # -- geometric programming ----------------------------------------------------
    def posynomial(self) -> Posynomial:
        """The reducible loss A·N^−α + B·D^−β as a posynomial."""
        return monomial(self.A, N=-self.alpha) + monomial(self.B, D=-self.beta)

    def posynomial_form(self) -> tuple[float, ...]:
        """(E, A, B, α, β, power) with L = (E + A·N^−α + B·D^−β)^power: the one shape in
        which the batch solver and the rows read every law (power 1 here)."""
        return self.E, self.A, self.B, self.alpha, self.beta, 1.0

    def posynomial_level(self, loss: float) -> float:
        """The posynomial's value at which the loss equals ``loss``: L − E."""
        return loss - self.E

    def level_log_slope(self, loss: float) -> float:
        """d log(posynomial_level)/d loss = 1/(L − E) [1/nats]."""
        return 1.0 / (loss - self.E)

    def loss_from_posynomial(self, p: float) -> float:
        return self.E + p

    # -- closed forms (Hoffmann et al. 2022, §3.3 and App. D.2) ------------------
    @property
    def _constants(self):
        return self.A, self.B, self.alpha, self.beta

    @property
    def G(self) -> float:
        """G = (α·A / (β·B))^(1/(α+β)), the scale of the compute-optimal frontier."""
        return frontier_scale(*self._constants)

    def compute_optimal(self, flops):
        """Return the plan minimising the loss at a training compute.

        Parameters
        ----------
        flops : float or numpy.ndarray
            C = 6·N·D [FLOP].

        Returns
        -------
        tuple of numpy.ndarray
            (N_opt [parameters], D_opt [tokens]) (:func:`compute_optimal_plan`).
        """
        return compute_optimal_plan(flops, *self._constants)

    def compute_optimal_at_loss(self, loss):
        """Return the plan reaching ``loss`` with the least training compute.

        Parameters
        ----------
        loss : float or numpy.ndarray
            L [nats/token], above E.

        Returns
        -------
        tuple of numpy.ndarray
            (N [parameters], D [tokens]) (:func:`compute_optimal_at_reducible` of L − E).
        """
        return compute_optimal_at_reducible(np.asarray(loss, dtype=float) - self.E, *self._constants)

    def describe(self) -> str:
        return (f"{self.name}: L = {self.E:g} + {self.A:g}/N^{self.alpha:g} + "
                f"{self.B:g}/D^{self.beta:g}  ({self.source})")


@dataclass(frozen=True)
class KaplanLaw:
    """L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D [nats/token] (Kaplan et al. 2020, eq. 1.5).

    N counts non-embedding parameters and the loss is on Kaplan's WebText2 tokens:
    its numbers are not comparable with the Chinchilla-form laws (docs/model.md §2.2).

    Parameters
    ----------
    Nc, Dc : float
        N_c [parameters] and D_c [tokens] (8.8e13 and 5.4e13 in Table 2 of arXiv:2001.08361).
    alpha_N, alpha_D : float
        α_N and α_D [–] (0.076 and 0.095).
    name, source, fitted : str, str, FittedRange, optional
        The law's name, where its constants come from, the runs it was fitted on.
    """

    Nc: float
    Dc: float
    alpha_N: float
    alpha_D: float
    name: str = "kaplan2020"
    source: str = "Kaplan et al. 2020 (arXiv 2001.08361), eq. 1.5 and Table 2"
    fitted: FittedRange | None = None

    irreducible_loss = 0.0

    @property
    def _p(self) -> float:
        return self.alpha_N / self.alpha_D

    def loss(self, N, D):
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        return ((self.Nc / N) ** self._p + self.Dc / D) ** self.alpha_D

    def loss_grad(self, N, D):
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        u = (self.Nc / N) ** self._p
        v = self.Dc / D
        L = (u + v) ** self.alpha_D
        dL_dinner = self.alpha_D * L / (u + v)
        return L, dL_dinner * (-self._p * u / N), dL_dinner * (-v / D)

    def posynomial(self) -> Posynomial:
        """The inner sum (N_c/N)^(α_N/α_D) + D_c/D; L = inner^α_D is monotone in it."""
        return monomial(self.Nc ** self._p, N=-self._p) + monomial(self.Dc, D=-1.0)

    def posynomial_form(self) -> tuple[float, ...]:
        """(E, A, B, α, β, power) = (0, N_c^p, D_c, p, 1, α_D), p = α_N/α_D: L is the
        inner sum to the power α_D."""
        return 0.0, self.Nc ** self._p, self.Dc, self._p, 1.0, self.alpha_D

    def posynomial_level(self, loss: float) -> float:
        return loss ** (1.0 / self.alpha_D)

    def level_log_slope(self, loss: float) -> float:
        """d log(L^(1/α_D))/d loss = 1/(α_D·L) [1/nats]."""
        return 1.0 / (self.alpha_D * loss)

    def loss_from_posynomial(self, p: float) -> float:
        return p ** self.alpha_D

    def compute_optimal_at_loss(self, loss):
        """(N, D) reaching ``loss`` with the least 6·N·D: there p·u = v, u + v = L^(1/α_D)."""
        K = np.asarray(loss, dtype=float) ** (1.0 / self.alpha_D)
        p = self._p
        u = K / (1.0 + p)
        v = p * K / (1.0 + p)
        return self.Nc / u ** (1.0 / p), self.Dc / v

    def compute_optimal(self, flops):
        """(N, D) minimising the loss at C = 6·N·D: N^(p+1) = p·N_c^p·(C/6)/D_c."""
        c6 = np.asarray(flops, dtype=float) / TRAIN_FLOPS_PER_PARAM_TOKEN
        p = self._p
        N = (p * self.Nc ** p * c6 / self.Dc) ** (1.0 / (p + 1.0))
        return N, c6 / N

    def describe(self) -> str:
        return (f"{self.name}: L = [({self.Nc:g}/N)^({self.alpha_N:g}/{self.alpha_D:g}) + "
                f"{self.Dc:g}/D]^{self.alpha_D:g}  ({self.source})")


@dataclass(frozen=True)
class DataConstrainedLaw:
    """A Chinchilla law on effective data D' and effective parameters N'.

    Muennighoff et al. 2023, eq. 14–15 (App. A), with D_C = ``unique_tokens``:

    * U_D = min(D_C, D), R_D = D/U_D − 1, D' = U_D + U_D·R_D*·(1 − exp(−R_D/R_D*));
    * U_N = min(N_opt(U_D), N), R_N = max(N/U_N − 1, 0), N' = U_N + U_N·R_N*·(1 − exp(−R_N/R_N*)),
      N_opt(U_D) = G·(U_D·G)^(β/α) the compute-optimal size for U_D tokens;
    * L = E + A/N'^α + B/D'^β.

    The penalty is continuously differentiable; it is not a posynomial, so plans
    under it are solved as smooth convex programs in (log N, log D) (docs/model.md §2.3).

    Parameters
    ----------
    base : ChinchillaLaw
        The law of fresh data.
    unique_tokens : float
        U, the unique corpus [tokens].
    R_D_star, R_N_star : float
        R_D* and R_N* [–] (App. A of arXiv:2305.16264 by default).
    """

    base: ChinchillaLaw
    unique_tokens: float
    R_D_star: float = MUENNIGHOFF_R_D_STAR
    R_N_star: float = MUENNIGHOFF_R_N_STAR


    @property
    def name(self) -> str:
        return f"{self.base.name} + repetition penalty"

    @property
    def source(self) -> str:
        return (f"{self.base.source}; repetition penalty of Muennighoff et al. 2023 "
                f"(arXiv 2305.16264) eq. 14-15, R_D* = {self.R_D_star:g}, R_N* = {self.R_N_star:g}")

    @property
    def fitted(self) -> FittedRange | None:
        return self.base.fitted

    @property
    def irreducible_loss(self) -> float:
        return self.base.E

    def posynomial(self):
        return None

    def posynomial_form(self) -> tuple[float, ...]:
        """The base law's form; the penalty acts on N and D before it (see ``_effective``)."""
        return self.base.posynomial_form()

    def _effective(self, N, D):
        """Effective tokens, effective parameters and the derivatives the gradient needs."""
        law = self.base
        return repetition_effective(N, D, self.unique_tokens, self.R_D_star, self.R_N_star,
                                    law.G, law.beta / law.alpha)

    def effective_tokens(self, D):
        """D' [count]: what D tokens over the limited corpus are worth as fresh data."""
        return self._effective(np.ones_like(np.asarray(D, dtype=float)), D)[1]

    def effective_params(self, N, D):
        """N' [count]: what N parameters are worth when the data can feed fewer."""
        return self._effective(N, D)[0]

    def loss(self, N, D):
        N_eff, D_eff = self._effective(N, D)[:2]
        return self.base.loss(N_eff, D_eff)

    def loss_grad(self, N, D):
        N_eff, D_eff, dNe_dN, dNe_dD, dDe_dD = self._effective(N, D)
        L, dL_dNe, dL_dDe = self.base.loss_grad(N_eff, D_eff)
        return L, dL_dNe * dNe_dN, dL_dNe * dNe_dD + dL_dDe * dDe_dD

    # The compute-optimal baseline is the base law's: unlimited fresh data.
    def compute_optimal(self, flops):
        return self.base.compute_optimal(flops)

    def compute_optimal_at_loss(self, loss):
        return self.base.compute_optimal_at_loss(loss)

    def describe(self) -> str:
        return (f"{self.base.describe()}; repetition penalty over {self.unique_tokens:.3g} unique "
                f"tokens (Muennighoff et al. 2023, R_D* = {self.R_D_star:g}, R_N* = {self.R_N_star:g})")


LossLaw = Union[ChinchillaLaw, KaplanLaw, DataConstrainedLaw]


def repetition_effective(N, D, U, R_D_star, R_N_star, G, beta_over_alpha):
    """(N', D', ∂N'/∂N, ∂N'/∂D, ∂D'/∂D) of Muennighoff et al. 2023, eq. 14–15.

    Every argument may be an array (one scenario per element), so that the batch solver
    and :class:`DataConstrainedLaw` share these lines: U unique tokens, R_D*, R_N*, and the
    base law's G and β/α (N_opt(U_D) = G·(U_D·G)^(β/α)).
    """
    D_eff, dDeff_dD, U_D, repeated = repetition_tokens(D, U, R_D_star)
    N_eff, dNeff_dN, dNeff_dD = repetition_params(N, U_D, repeated, R_N_star, G, beta_over_alpha)
    return N_eff, D_eff, dNeff_dN, dNeff_dD, dDeff_dD


def params_fed_by(tokens, G, beta_over_alpha):
    """N_opt(U_D) = G·(U_D·G)^(β/α) [parameters]: the model size for which ``tokens`` are
    the compute-optimal data size, the ceiling U_N of eq. 15 in Muennighoff et al. 2023
    (G the base law's :func:`frontier_scale`). Arrays broadcast."""
    return G * (np.asarray(tokens, dtype=float) * G) ** beta_over_alpha


def repetition_tokens(D, U, R_D_star):
    """(D', ∂D'/∂D, U_D, repeated) for D tokens over U unique ones (eq. 14)."""
    D = np.asarray(D, dtype=float)
    repeated = D > U
    U_D = np.where(repeated, U, D)
    decay_D = np.exp(-(D / U_D - 1.0) / R_D_star)
    D_eff = U_D + U_D * R_D_star * (1.0 - decay_D)                 # eq. 14
    return D_eff, np.where(repeated, decay_D, 1.0), U_D, repeated


def repetition_params(N, U_D, repeated, R_N_star, G, beta_over_alpha):
    """(N', ∂N'/∂N, ∂N'/∂D) for N parameters fed by U_D unique tokens (eq. 15)."""
    N = np.asarray(N, dtype=float)
    K = params_fed_by(U_D, G, beta_over_alpha)
    excess = N > K
    U_N = np.where(excess, K, N)
    R_N = N / U_N - 1.0
    decay_N = np.exp(-R_N / R_N_star)
    N_eff = U_N + U_N * R_N_star * (1.0 - decay_N)                 # eq. 15
    dNeff_dN = np.where(excess, decay_N, 1.0)
    dNeff_dK = np.where(excess, 1.0 + R_N_star * (1.0 - decay_N) - (N / K) * decay_N, 0.0)
    dK_dD = np.where(repeated, 0.0, K * beta_over_alpha / U_D)
    return N_eff, dNeff_dN, dNeff_dK * dK_dD

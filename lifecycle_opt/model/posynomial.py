"""Posynomials: the one form in which every formula of the model reaches the optimiser.

A posynomial is a sum of monomials c·N^a·D^b·B^e·G^f·t^g with c > 0 over the planning
variables of :data:`VARIABLES`: parameters N, training tokens D, and under the roofline
serving model the batch B, the replica size G and the decode step t. In logs (z = log of
each variable) a posynomial's log is a log-sum-exp of affine functions, hence convex
(docs/model.md §4): the geometric program of the lifecycle problem is built of these.

The same object is evaluated three ways, so that a formula is written once: in natural
units over arrays (:meth:`Posynomial.value`, for reports and sweeps), in logs with its
gradient and Hessian (:meth:`Posynomial.log_value`, for the solvers), and term by term
(:attr:`Posynomial.terms`, for cvxpy's geometric program).

References
----------
Boyd, Kim, Vandenberghe & Hassibi 2007, "A tutorial on geometric programming",
Optimization and Engineering 8, doi:10.1007/s11081-007-9001-7.
"""
from __future__ import annotations

__all__ = ["VARIABLES", "Posynomial", "monomial"]

import math
from dataclasses import dataclass

import numpy as np

#: the planning variables, in the order of a term's exponents and of z: parameters,
#: training tokens, batch (sequences per replica), replica size (GPUs), decode step [s]
VARIABLES = ("N", "D", "B", "G", "t")


@dataclass(frozen=True)
class Posynomial:
    """Σ_k c_k · N^a_k · D^b_k · B^e_k · G^f_k · t^g_k with every c_k > 0.

    Parameters
    ----------
    terms : tuple of (c, e_N, e_D, e_B, e_G, e_t)
        One tuple per monomial: its coefficient [unit of the quantity] and its exponent of
        each variable of :data:`VARIABLES`. Terms with a zero coefficient are dropped.

    Examples
    --------
    Training compute 6·N·D [FLOP] of Chinchilla's plan:

    >>> flops = monomial(6.0, N=1, D=1)
    >>> float(flops.value(70e9, 1.4e12))
    5.88e+23
    """

    terms: tuple[tuple[float, float, float, float, float, float], ...]

    def __post_init__(self):
        width = 1 + len(VARIABLES)
        kept = []
        for t in self.terms:
            if t[0] == 0:
                continue
            t = tuple(map(float, t))
            if len(t) < width:
                t += (0.0,) * (width - len(t))
            if not t[0] > 0:
                raise ValueError(f"a posynomial's coefficients are positive, got {t[0]!r}")
            kept.append(t)
        object.__setattr__(self, "terms", tuple(kept))
        # (log c, V) per number of variables, built once: the solvers evaluate a constraint
        # thousands of times
        object.__setattr__(self, "_log_parts", {})

    # ---- building
    def __add__(self, other: "Posynomial") -> "Posynomial":
        return Posynomial(self.terms + other.terms)

    def scaled(self, k: float) -> "Posynomial":
        """k times this posynomial (k > 0)."""
        return Posynomial(tuple((c * k, *e) for c, *e in self.terms))

    def times(self, k: float = 1.0, **exponents: float) -> "Posynomial":
        """This posynomial times the monomial k·Π v^e (``times(2.0, t=-1)`` divides by t)."""
        extra = _exponents(exponents)
        return Posynomial(tuple((c * k, *(a + b for a, b in zip(e, extra))) for c, *e in self.terms))

    # ---- reading
    def coefficient(self, **exponents: float) -> float:
        """The summed coefficient of the terms with exactly these exponents (0 if none):
        ``coefficient(N=1, D=1)`` of a cost a·N·D + b·N is a."""
        want = _exponents(exponents)
        return sum(c for c, *e in self.terms if tuple(e) == want)

    def exponent_set(self) -> set[tuple[float, ...]]:
        """The distinct exponent vectors of the terms."""
        return {tuple(e) for _, *e in self.terms}

    def depends_on(self, variable: str) -> bool:
        """Whether any term has a non-zero exponent of ``variable`` (one of VARIABLES)."""
        k = VARIABLES.index(variable)
        return any(e[k] != 0 for _, *e in self.terms)

    @property
    def dimension(self) -> int:
        """The number of leading variables it depends on: 2 for a posynomial in N and D."""
        last = [max((k + 1 for k, x in enumerate(e) if x != 0), default=0) for _, *e in self.terms]
        return max(last, default=0)

    # ---- evaluating
    def value(self, N, D=1.0, B=1.0, G=1.0, t=1.0):
        """The posynomial at (N, D, B, G, t) in natural units; arrays broadcast."""
        out = 0.0
        for c, a, b, e, f, g in self.terms:
            # ``**`` rather than np.power: plain floats stay plain floats (fast in the
            # serving point's searches), arrays broadcast; every variable is positive
            out = out + c * N ** a * D ** b * B ** e * G ** f * t ** g
        return out

    def fixed(self, **values: float) -> "Posynomial":
        """The posynomial with some variables set to values (their powers folded into the
        coefficients), e.g. ``fixed(N=7e10, G=8)`` leaves a posynomial in B and t."""
        keep = [v not in values for v in VARIABLES]
        at = [values.get(v, 1.0) for v in VARIABLES]
        return Posynomial(tuple(
            (c * math.prod(x ** k for x, k, kept in zip(at, e, keep) if not kept),
             *(k if kept else 0.0 for k, kept in zip(e, keep))) for c, *e in self.terms))

    def log_value(self, z) -> tuple[float, np.ndarray, np.ndarray]:
        """(log P, ∇ log P, ∇² log P) at z = (log N, log D, ...) over len(z) variables.

        Raises ValueError when a term depends on a variable beyond z (a serving term in a
        problem without serving variables)."""
        z = np.asarray(z, dtype=float)
        logc, V = self.log_parts(z.size)
        u = logc + V @ z
        m = u.max()
        w = np.exp(u - m)
        s = w.sum()
        w = w / s
        grad = V.T @ w
        hess = (V.T * w) @ V - np.outer(grad, grad)
        return m + math.log(s), grad, hess

    def log_parts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(log c, V): log P = log Σ exp(log c_k + V_k·z) over the first ``n`` variables."""
        parts = self._log_parts.get(n)
        if parts is not None:
            return parts
        if self.dimension > n:
            raise ValueError(f"a posynomial in {VARIABLES[:self.dimension]} evaluated over {VARIABLES[:n]}")
        c = np.array([t[0] for t in self.terms])
        V = np.array([t[1:n + 1] for t in self.terms], dtype=float).reshape(len(self.terms), n)
        parts = self._log_parts[n] = (np.log(c), V)
        return parts


def monomial(c: float, **exponents: float) -> Posynomial:
    """The one-term posynomial c·Π v^e, e.g. ``monomial(6.0, N=1, D=1)`` for 6·N·D."""
    return Posynomial(((c, *_exponents(exponents)),))


def _exponents(exponents: dict) -> tuple[float, ...]:
    unknown = set(exponents) - set(VARIABLES)
    if unknown:
        raise ValueError(f"unknown posynomial variables {sorted(unknown)}; known: {VARIABLES}")
    return tuple(float(exponents.get(v, 0.0)) for v in VARIABLES)

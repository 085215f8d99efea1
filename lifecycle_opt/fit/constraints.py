"""Which constants a fit leaves free: the options scaling-law fitters offer (Muennighoff
et al. 2023 tie α = β, App. B; a fixed irreducible loss E; a base law fixed from a file,
as Muennighoff et al. fit only R_D* and R_N* on their runs, App. A).

A fit works on the full vector θ of its constants — (a, b, e, α, β) with A = e^a, B = e^b,
E = e^e, and for the repetition fit (log R_D*, log R_N*) after them — but the optimiser
moves only the free ones, u: θ = c + u·M, a linear map (a fixed constant sits in c, a
tied one repeats its partner's column of M). The gradient maps back as g_u = g_θ·Mᵀ, so
every objective written for θ serves every choice of constraints unchanged.
"""
from __future__ import annotations

__all__ = ["Constraints", "Layout", "THETA_NAMES"]

import math
from dataclasses import dataclass, field

import numpy as np

from ..model.laws import ChinchillaLaw

#: the constants of the Chinchilla form as a fit moves them: a = log A, b = log B, e = log E
THETA_NAMES = ("a", "b", "e", "alpha", "beta")


@dataclass(frozen=True)
class Constraints:
    """What a fit holds fixed.

    tie_exponents : α = β (one exponent; Muennighoff et al. 2023, App. B)
    E : the irreducible loss held at this value [nats], or None to fit it
    base : a whole base law held fixed (the repetition fit then fits only R_D*, R_N*)
    """

    tie_exponents: bool = False
    E: float | None = None
    base: ChinchillaLaw | None = None

    def __post_init__(self):
        if self.E is not None and not (math.isfinite(self.E) and self.E > 0):
            raise ValueError(f"a fixed E must be a positive loss in nats, got {self.E!r}")
        if self.base is not None and (self.E is not None or self.tie_exponents):
            raise ValueError("a fixed base law already fixes E and both exponents")

    @property
    def free_base(self) -> bool:
        """Whether any of the five base constants is fitted."""
        return self.base is None

    def layout(self, extra: tuple[str, ...] = ()) -> "Layout":
        """The map from free constants to θ = (a, b, e, α, β, *extra)."""
        fixed: dict[str, float] = {}
        if self.base is not None:
            law = self.base
            fixed = {"a": math.log(law.A), "b": math.log(law.B), "e": math.log(law.E),
                     "alpha": law.alpha, "beta": law.beta}
        elif self.E is not None:
            fixed["e"] = math.log(self.E)
        tied = {"beta": "alpha"} if self.tie_exponents else {}
        return Layout(THETA_NAMES + tuple(extra), fixed, tied)

    def describe(self) -> str:
        """The constraints in words, "" when every constant is free."""
        if self.base is not None:
            return f"base law fixed ({self.base.name})"
        parts = (["alpha = beta tied"] if self.tie_exponents else []) + \
                ([f"E fixed at {self.E:g}"] if self.E is not None else [])
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {"tie_exponents": self.tie_exponents, "E": self.E,
                "base": None if self.base is None else self.base.name}


@dataclass(frozen=True)
class Layout:
    """θ = c + u·M for the constants ``names``: ``fixed`` name → value, ``tied`` name → the
    name whose value it takes."""

    names: tuple[str, ...]
    fixed: dict = field(default_factory=dict)
    tied: dict = field(default_factory=dict)

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n not in self.fixed and n not in self.tied)

    @property
    def offset(self) -> np.ndarray:
        """c: the fixed values, zeros elsewhere."""
        return np.array([self.fixed.get(n, 0.0) for n in self.names])

    @property
    def matrix(self) -> np.ndarray:
        """M (free × constants): which constants each free one moves."""
        M = np.zeros((len(self.free), len(self.names)))
        for i, name in enumerate(self.free):
            M[i, self.names.index(name)] = 1.0
            for tied, to in self.tied.items():
                if to == name and tied not in self.fixed:
                    M[i, self.names.index(tied)] = 1.0
        return M

    def expand(self, u, offsets=None) -> np.ndarray:
        """θ (m, k) of the free constants ``u`` (m, free); ``offsets`` (m, k) per row."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return u @ self.matrix + (self.offset if offsets is None else offsets)

    def reduce(self, theta) -> np.ndarray:
        """The free constants of θ (m, k) (a tied constant takes its partner's value)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        return theta[:, [self.names.index(n) for n in self.free]]

    def starts(self, grid) -> np.ndarray:
        """The distinct starting points ``grid`` (m, k) gives the free constants."""
        return np.unique(self.reduce(grid), axis=0)

    def wrap(self, fun, offsets=None):
        """``fun(θ, rows, grad)`` as a function of the free constants (same signature);
        ``offsets`` (problems, k): each problem's own fixed values (a profile)."""
        M = self.matrix

        def free_fun(u, rows, grad=True):
            theta = u @ M + (self.offset if offsets is None else offsets[rows])
            out = fun(theta, rows, grad)
            if not grad:
                return out
            f, g = out
            return f, g @ M.T
        return free_fun

    def with_fixed(self, name: str, values) -> tuple["Layout", np.ndarray]:
        """(layout with ``name`` fixed too, offsets (len(values), k) holding each value):
        a profile of the objective along ``name``."""
        layout = Layout(self.names, {**self.fixed, name: 0.0}, self.tied)
        offsets = np.tile(layout.offset, (len(values), 1))
        offsets[:, self.names.index(name)] = values
        return layout, offsets

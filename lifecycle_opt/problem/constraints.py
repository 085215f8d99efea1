"""The typed constraints and objectives of the lifecycle problem.

Each constraint comes from one scenario setting and knows it: its key
(``limits.serving_memory``), its value in the setting's own unit (40e9 bytes) and that
unit, and the model quantity it limits (a :class:`~lifecycle_opt.model.posynomial.Posynomial`
from :mod:`lifecycle_opt.model`: 2 bytes per parameter times N). From these alone it
gives everything the solvers and the reports ask of it, with nothing decoded back:

* h(z) ≤ 0 in the log variables z = (log N, log D, ...) with its gradient and Hessian;
* the setting that would put a plan exactly on its boundary (what a plan *needs*);
* ∂h/∂setting, hence its shadow price in the objective's unit per unit of the setting;
* its geometric-program form g ≤ 1, and the batch solver's form where it has one;
* its boundary g(N, D) = 1 in the (N, D) plane for the plots.

A :class:`Cap` says quantity ≤ setting (g = quantity/setting), a :class:`Floor` says
quantity ≥ setting for a monomial quantity (g = setting/quantity), and the
:class:`LossTarget` says L(N, D) ≤ target. The subclasses of Cap and Floor name the
kinds of limit the batch solver knows by their shape in (x, y) = (log N, log D)
(docs/model.md §4): a parameter cap (x ≤ v), a token cap (y ≤ v), a tokens-per-parameter
floor or ceiling (y − x ≥ v, ≤ v), a compute cap (x + y ≤ v) and a spending cap
(c1·N·D + c2·N ≤ s).
"""
from __future__ import annotations

__all__ = ["Constraint", "Cap", "Floor", "EfficiencyCap", "ParamCap", "TokenCap", "RatioCap", "RatioFloor",
           "ComputeCap", "SpendCap", "LossTarget", "ErrorTarget", "CostObjective", "LossObjective", "BatchForm",
           "loss_minus_target"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.laws import LossLaw
from ..model.posynomial import Posynomial

#: (shape, bound) of a limit for the batch solver: a log bound v of ``x_le``, ``y_le``,
#: ``ratio_ge``, ``ratio_le``, ``nd_le``, or (c1, c2) of ``cost_le`` (c1·N·D + c2·N ≤ 1)
BatchForm = tuple


@dataclass(frozen=True)
class Constraint:
    """A constraint h(z) ≤ 0 from one scenario setting.

    Parameters
    ----------
    name : str
        Identifier in reports and JSON ("max_params", "loss_target", ...).
    label : str
        What it says, for people.
    key : str
        The scenario key of its setting ("limits.serving_memory").
    setting : float
        The setting's value [``unit``].
    unit : str
        The setting's unit, one of :data:`lifecycle_opt.model.units.SETTING_UNITS`.
    movable : bool
        Whether an explanation of infeasibility may suggest moving it (not for "at least
        one sequence per replica").
    setting_max : float
        The largest value the setting may take [``unit``] (1 for an efficiency).
    whole : bool
        Whether the setting counts whole things (GPUs, sequences): advice rounds outward.
    allowed : tuple of float
        The only values the setting may take, when it is a list of them (the replica sizes
        of ``serving.replica_gpus``) [``unit``]; () when any value will do. Advice then
        names a value of :meth:`allowed_at_least`.
    """

    name: str
    label: str
    key: str
    setting: float
    unit: str
    movable: bool = True
    setting_max: float = math.inf
    whole: bool = False
    allowed: tuple[float, ...] = ()

    #: whether raising the setting relaxes the constraint
    relaxes_upward = True
    is_loss = False

    def allowed_at_least(self, value: float) -> float:
        """The smallest value the setting may be given that is at least ``value``: an allowed
        one, or past the largest, the list extended as such lists go: the next power of two
        when every allowed value is one (tensor-parallel sizes: 8 → 64 for a need of 42),
        else the next multiple of the largest. ``value`` itself when any value is allowed."""
        if not self.allowed:
            return value
        fits = [a for a in self.allowed if a >= value]
        if fits:
            return min(fits)
        top = max(self.allowed)
        if all(a >= 1 and math.log2(a).is_integer() for a in self.allowed):
            return float(2 ** math.ceil(math.log2(value) - 1e-12))
        return top * math.ceil(value / top - 1e-12)

    def evaluate(self, z) -> tuple[float, np.ndarray, np.ndarray]:
        """(h, ∇h, ∇²h) at z = (log N, log D, ...)."""
        return self.posynomial.log_value(z)

    def value(self, z) -> float:
        """h at z: ≤ 0 where the constraint holds (about the relative violation above)."""
        return self.evaluate(z)[0]

    @property
    def posynomial(self) -> Posynomial:
        """g with h = log g, g ≤ 1 (the geometric-program form)."""
        raise NotImplementedError

    def needed(self, z) -> float:
        """The setting that puts z exactly on the boundary [``unit``]."""
        raise NotImplementedError

    def d_h_d_setting(self, z) -> float:
        """∂h/∂setting at fixed z [1/``unit``]."""
        return (-1.0 if self.relaxes_upward else 1.0) / self.setting

    def shadow_price(self, multiplier: float, d_value_d_phi: float, z) -> float:
        """Change of the optimal objective per unit increase of the setting [objective
        unit / ``unit``]: ν·∂h/∂setting·dvalue/dφ (envelope theorem); negative when
        raising the setting saves."""
        return d_value_d_phi * multiplier * self.d_h_d_setting(z)

    def batch_form(self) -> BatchForm | None:
        """(shape, bound) for the batch solver, or None when it has no such form."""
        return None

    def scale(self) -> float:
        """What h is measured against in the KKT residual: 1 for the log forms (h is then
        about the relative violation)."""
        return 1.0

    @property
    def in_plane(self) -> bool:
        """Whether it depends on N and D alone (then the plots draw its boundary)."""
        return self.posynomial.dimension <= 2

    def boundary_values(self, N, D):
        """g(N, D) over arrays (g = 1 on the boundary, > 1 forbidden), for a constraint
        in the plane."""
        return self.posynomial.value(N, D)


@dataclass(frozen=True)
class Cap(Constraint):
    """quantity(z) ≤ setting, the quantity a posynomial in the setting's unit."""

    quantity: Posynomial = None

    @property
    def posynomial(self) -> Posynomial:
        return self.quantity.scaled(1.0 / self.setting)

    def evaluate(self, z):
        # log q − log s rather than log(q/s): a setting near the ends of the double range
        # (1e-300 epochs, 1e300 tokens) must not overflow the scaled coefficients
        h, g, H = self.quantity.log_value(z)
        return h - math.log(self.setting), g, H

    def needed(self, z) -> float:
        return _exp(self.quantity.log_value(z)[0])

    def _log_bound(self, **exponents) -> float:
        """log(setting / c) for a quantity c·Π v^e: the bound of a one-term limit in logs."""
        return math.log(self.setting) - math.log(self.quantity.coefficient(**exponents))


@dataclass(frozen=True)
class Floor(Constraint):
    """quantity(z) ≥ setting, the quantity a monomial in the setting's unit."""

    quantity: Posynomial = None
    relaxes_upward = False

    def __post_init__(self):
        if len(self.quantity.terms) != 1:
            raise ValueError(f"{self.name}: a floor needs a monomial quantity (a posynomial ≥ s is not convex)")

    @property
    def posynomial(self) -> Posynomial:
        (c, *e), = self.quantity.terms
        return Posynomial(((self.setting / c, *(-x for x in e)),))

    def evaluate(self, z):
        h, g, H = self.quantity.log_value(z)
        return math.log(self.setting) - h, -g, -H

    def needed(self, z) -> float:
        return _exp(self.quantity.log_value(z)[0])


@dataclass(frozen=True)
class EfficiencyCap(Constraint):
    """scaled/setting + fixed ≤ 1: work done at an efficiency (the setting) plus parts that
    efficiency does not change fit in what the variables allow. The serving model's decode
    step is one (docs/model.md §8): t ≥ (decode and prefill compute at efficiency 1)/η_c +
    links, i.e. ``scaled`` = compute·η_c/t and ``fixed`` = links/t. With ``fixed`` empty it
    is the Cap scaled ≤ setting."""

    scaled: Posynomial = None
    fixed: Posynomial = Posynomial(())

    def __post_init__(self):
        # built once: the solvers evaluate it thousands of times
        object.__setattr__(self, "_g", self.scaled.scaled(1.0 / self.setting) + self.fixed)

    @property
    def posynomial(self) -> Posynomial:
        return self._g

    def _parts(self, z) -> tuple[float, float]:
        """(scaled/setting, fixed) at z."""
        S = _exp(self.scaled.log_value(z)[0]) / self.setting
        F = _exp(self.fixed.log_value(z)[0]) if self.fixed.terms else 0.0
        return S, F

    def d_h_d_setting(self, z) -> float:
        # h = log(S/s + F): ∂h/∂s = −(S/s)/(S/s + F)/s
        S, F = self._parts(z)
        return -S / (S + F) / self.setting

    def needed(self, z) -> float:
        S, F = self._parts(z)
        return S * self.setting / (1.0 - F) if F < 1.0 else math.inf


# ---- the limits the batch solver knows, by their shape in (x, y) = (log N, log D)

@dataclass(frozen=True)
class ParamCap(Cap):
    """c·N ≤ setting: parameters capped directly (c = 1), or through the serving memory
    that holds the weights (c bytes per parameter) or the GPUs that hold it (c = bytes per
    parameter over one GPU's memory)."""

    def batch_form(self):
        return "x_le", self._log_bound(N=1)


@dataclass(frozen=True)
class TokenCap(Cap):
    """c·D ≤ setting: training tokens capped through the epochs over the unique corpus
    (c = 1/U)."""

    def batch_form(self):
        return "y_le", self._log_bound(D=1)


@dataclass(frozen=True)
class RatioCap(Cap):
    """D/N ≤ setting: at most so many tokens per parameter."""

    def batch_form(self):
        return "ratio_le", self._log_bound(N=-1, D=1)


@dataclass(frozen=True)
class RatioFloor(Floor):
    """D/N ≥ setting: at least so many tokens per parameter."""

    def batch_form(self):
        return "ratio_ge", math.log(self.setting) - math.log(self.quantity.coefficient(N=-1, D=1))


@dataclass(frozen=True)
class ComputeCap(Cap):
    """c·N·D ≤ setting: training compute capped in FLOP, or in days of the training fleet."""

    def batch_form(self):
        return "nd_le", self._log_bound(N=1, D=1)


@dataclass(frozen=True)
class SpendCap(Cap):
    """A dollar (or FLOP) cap on a cost posynomial: c1·N·D + c2·N ≤ setting under the MFU
    serving model (training alone: c1·N·D); under the roofline model the serving terms
    bring in B, G and t and the batch solver has no form for it."""

    def batch_form(self):
        shapes = self.quantity.exponent_set()
        nd, n = (1.0, 1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 0.0)
        if shapes == {nd}:
            return "nd_le", self._log_bound(N=1, D=1)
        if shapes == {nd, n}:
            return "cost_le", (self.quantity.coefficient(N=1, D=1) / self.setting,
                               self.quantity.coefficient(N=1) / self.setting)
        return None


# ---- the loss target

@dataclass(frozen=True)
class LossTarget(Constraint):
    """L(N, D) ≤ setting [nats] under ``law``.

    For a law whose reducible loss is a posynomial P (Chinchilla and Kaplan forms) the
    constraint is h = log(P / level(L_t)), a geometric-program constraint; under the
    repetition penalty it is h = L(N, D) − L_t, convex in (log N, log D) (docs/model.md §4).
    """

    law: LossLaw = None
    is_loss = True

    @property
    def target(self) -> float:
        """The target loss [nats]."""
        return self.setting

    @property
    def posynomial(self) -> Posynomial | None:
        """P / level(L_t), or None when the law's loss is not a posynomial."""
        p = self.law.posynomial()
        return None if p is None else p.scaled(1.0 / self.law.posynomial_level(self.target))

    @property
    def in_plane(self) -> bool:
        return True

    def evaluate(self, z):
        p = self.law.posynomial()
        if p is not None:
            h, g, H = p.log_value(z)
            return h - math.log(self.law.posynomial_level(self.target)), g, H
        return loss_minus_target(self.law, self.target, z)

    def d_h_d_target(self) -> float:
        """∂h/∂L_t at fixed z [1/nats]."""
        if self.law.posynomial() is not None:
            # h = log P − log level(L_t): analytic, as a target a hair above E leaves no
            # room for a finite-difference step
            return -self.law.level_log_slope(self.target)
        return -1.0

    def d_h_d_setting(self, z) -> float:
        return self.d_h_d_target()

    def needed(self, z) -> float:
        return self.loss_at(z)

    def loss_at(self, z) -> float:
        """The loss at z [nats]."""
        return float(self.law.loss(math.exp(z[0]), math.exp(z[1])))

    def boundary_values(self, N, D):
        return np.asarray(self.law.loss(N, D), dtype=float) / self.target

    def scale(self) -> float:
        """What h is measured against in the KKT residual: 1 for log forms, the target
        for h = L − L_t (so that both read as relative violations)."""
        return 1.0 if self.law.posynomial() is not None else self.target


@dataclass(frozen=True)
class ErrorTarget(LossTarget):
    """Err(L(N, D)) ≤ setting [fraction]: a benchmark error to reach, through the mapping
    ``downstream`` of Gadre et al. 2024, Err(L) = ε − k·exp(−γ·L). The mapping rises with
    the loss, so the constraint is the loss target L ≤ L(Err) (docs/model.md §11) and
    stays convex; its setting, shadow price and what a plan needs are in error."""

    downstream: object = None

    @property
    def target(self) -> float:
        return float(self.downstream.loss_for_error(self.setting))

    def d_h_d_setting(self, z) -> float:
        # dL_t/dErr = 1/(dErr/dL) = 1/(k·γ·exp(−γ·L_t))
        m = self.downstream
        return self.d_h_d_target() / (m.k * m.gamma * math.exp(-m.gamma * self.target))

    def needed(self, z) -> float:
        return float(self.downstream.error(self.loss_at(z)))


def _exp(x: float) -> float:
    """e^x, inf where it overflows a double."""
    return math.exp(x) if x < 709.78 else math.inf


def loss_minus_target(law, target, z):
    """h = L − L_t with exact gradient and a finite-difference Hessian in (x, y) (zero in
    any further variable: the loss depends on N and D alone)."""
    z = np.asarray(z, dtype=float)
    h, g, H = _loss_in_nd(law, target, z[:2])
    if z.size == 2:
        return h, g, H
    G, HH = np.zeros(z.size), np.zeros((z.size, z.size))
    G[:2], HH[:2, :2] = g, H
    return h, G, HH


def _loss_in_nd(law, target, z):
    def grad(zz):
        N, D = math.exp(zz[0]), math.exp(zz[1])
        L, dN, dD = law.loss_grad(N, D)
        return float(L), np.array([float(dN) * N, float(dD) * D])
    L, g = grad(z)
    H = np.empty((2, 2))
    step = 1e-5
    for i in range(2):
        e = np.zeros(2)
        e[i] = step
        H[:, i] = (grad(np.asarray(z) + e)[1] - grad(np.asarray(z) - e)[1]) / (2 * step)
    return L - target, g, (H + H.T) / 2


# ---- objectives

@dataclass(frozen=True)
class CostObjective:
    """Minimise a lifecycle cost posynomial [``unit``: "usd" present value or "flops"];
    φ = log cost."""

    cost: Posynomial
    unit: str
    kind = "cost"

    def evaluate(self, z):
        """(φ, ∇φ, ∇²φ) at z."""
        return self.cost.log_value(z)

    def value_natural(self, phi: float) -> float:
        """The objective in its unit from φ [$ or FLOP]; inf beyond the double range (the
        plan's row is then invalid: its costs overflow)."""
        return _exp(phi)

    def d_value_d_phi(self, phi: float) -> float:
        return _exp(phi)

    def batch_form(self) -> tuple[float, float] | None:
        """(a, b) of a cost a·N·D + b·N (the MFU serving model), else None."""
        shapes = self.cost.exponent_set()
        if not shapes <= {(1.0, 1.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0, 0.0)}:
            return None
        a = self.cost.coefficient(N=1, D=1)
        return (a, self.cost.coefficient(N=1)) if a > 0 else None


@dataclass(frozen=True)
class LossObjective:
    """Minimise the loss L(N, D) [nats] under ``law``; φ = L."""

    law: LossLaw
    unit = "loss"
    kind = "loss"

    def evaluate(self, z):
        return loss_minus_target(self.law, 0.0, z)

    def value_natural(self, phi: float) -> float:
        return phi

    def d_value_d_phi(self, phi: float) -> float:
        return 1.0

"""From loss to a benchmark's error: the mapping Gadre et al. 2024 ("Language models scale
reliably with over-training and on downstream tasks", arXiv 2403.08540) fit from a model's
validation loss to its average top-1 error on a suite of benchmarks,

    Err(L) = ε − k·exp(−γ·L),

with L the validation loss [nats] and Err the average top-1 error of a benchmark suite
[fraction]. For k, γ > 0 the error rises with the loss towards ε (the error of a model that
has learnt nothing useful, about chance), so an error target is a loss target:

    L(Err) = −log((ε − Err)/k)/γ,

defined for ε − k < Err < ε (an error at or above ε needs no learning; one at or below
ε − k needs a loss at or below zero).

References
----------
Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
tasks", arXiv:2403.08540.
"""
from __future__ import annotations

__all__ = ["DownstreamMap", "error_from_loss", "loss_from_error", "downstream_from_table", "DownstreamTableError",
           "DOWNSTREAM_KEYS"]

import math
from dataclasses import dataclass

import numpy as np


def error_from_loss(loss, epsilon, k, gamma):
    """Err = ε − k·exp(−γ·L) [fraction] of a loss L [nats] (Gadre et al. 2024); vectorised
    over every argument."""
    return epsilon - k * np.exp(-gamma * np.asarray(loss, dtype=float))


def loss_from_error(error, epsilon, k, gamma):
    """L = −log((ε − Err)/k)/γ [nats], the inverse of :func:`error_from_loss`; nan where
    the error is out of reach (Err ≥ ε or Err ≤ ε − k)."""
    gap = (epsilon - np.asarray(error, dtype=float)) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log(gap) / gamma
    return np.where((gap > 0) & (gap < 1), out, np.nan)


@dataclass(frozen=True)
class DownstreamMap:
    """Err(L) = ε − k·exp(−γ·L): a benchmark's error [fraction] from the loss [nats].

    epsilon : the error the mapping tends to at high loss [fraction]
    k : the scale of the improvement [fraction]
    gamma : how fast the error falls with the loss [1/nats]
    source : where the constants come from (a fit, a paper)
    fitted_loss_range : (lowest, highest) loss of the runs it was fitted on [nats], or None;
        a loss target outside it is an extrapolation

    >>> m = DownstreamMap(0.85, 2.0, 0.6)
    >>> round(float(m.error(2.0)), 4)
    0.2476
    >>> round(float(m.loss_for_error(m.error(2.0))), 12)
    2.0
    """

    epsilon: float
    k: float
    gamma: float
    source: str = "user-supplied constants"
    fitted_loss_range: tuple[float, float] | None = None

    def __post_init__(self):
        for key in ("epsilon", "k", "gamma"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive finite number, got {value!r}")

    @property
    def lowest_error(self) -> float:
        """ε − k: the error at zero loss, out of reach [fraction]."""
        return self.epsilon - self.k

    def error(self, loss):
        """The benchmark error [fraction] at ``loss`` [nats] (vectorised)."""
        return error_from_loss(loss, self.epsilon, self.k, self.gamma)

    def loss_for_error(self, error):
        """The loss [nats] at which the error is ``error`` [fraction] (vectorised).

        Raises ValueError naming the reachable range when any error is out of reach."""
        out = loss_from_error(error, self.epsilon, self.k, self.gamma)
        if np.any(np.isnan(out)):
            bad = np.atleast_1d(np.asarray(error, dtype=float))[np.atleast_1d(np.isnan(out))][0]
            raise ValueError(f"an error of {bad:g} is out of reach of Err(L) = {self.epsilon:g} - "
                             f"{self.k:g}*exp(-{self.gamma:g}*L): it must lie between {max(self.lowest_error, 0):g} "
                             f"(zero loss) and {self.epsilon:g} (no learning), exclusive")
        return out

    def describe(self) -> str:
        return f"Err(L) = {self.epsilon:g} - {self.k:g}*exp(-{self.gamma:g}*L)  ({self.source})"


#: the keys of a [downstream] table (a file written by ``lifeopt fit`` or a scenario's)
DOWNSTREAM_KEYS = ("epsilon", "k", "gamma", "source", "fitted_min_loss", "fitted_max_loss")


class DownstreamTableError(ValueError):
    """A [downstream] table that is not a mapping: ``key`` (e.g. "downstream.k"), what was
    ``expected`` and what was found (``found_text``, "found …")."""

    def __init__(self, key: str, expected: str, found_text: str):
        self.key, self.expected, self.found_text = key, expected, found_text
        super().__init__(f"{key}: expected {expected}, {found_text}")


def downstream_from_table(table: dict, where: str = "downstream") -> DownstreamMap:
    """The mapping of a ``[downstream]`` table: epsilon, k, gamma (positive numbers), and
    optionally source and fitted_min_loss, fitted_max_loss [nats]. DownstreamTableError
    naming the key (``where``.key) and what was expected for anything else."""
    unknown = sorted(set(table) - set(DOWNSTREAM_KEYS))
    if unknown:
        raise DownstreamTableError(f"{where}.{unknown[0]}", f"only the keys {', '.join(DOWNSTREAM_KEYS)}",
                                   "found this one")
    values = {}
    for key in ("epsilon", "k", "gamma", "fitted_min_loss", "fitted_max_loss"):
        if key not in table:
            if key in ("epsilon", "k", "gamma"):
                raise DownstreamTableError(f"{where}.{key}", "a positive number (Err(L) = epsilon - k*exp(-gamma*L))",
                                           "found none")
            continue
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise DownstreamTableError(f"{where}.{key}", "a positive number", f"found {v!r}")
        values[key] = float(v)
    source = table.get("source", "[downstream] table")
    if not isinstance(source, str):
        raise DownstreamTableError(f"{where}.source", "a text", f"found {source!r}")
    span = None
    if "fitted_min_loss" in values or "fitted_max_loss" in values:
        if not ("fitted_min_loss" in values and "fitted_max_loss" in values) or \
                values["fitted_min_loss"] > values["fitted_max_loss"]:
            raise DownstreamTableError(f"{where}.fitted_min_loss", "fitted_min_loss and fitted_max_loss together, "
                                       "the first not above the second", f"found {table.get('fitted_min_loss')!r} "
                                       f"and {table.get('fitted_max_loss')!r}")
        span = (values["fitted_min_loss"], values["fitted_max_loss"])
    return DownstreamMap(values["epsilon"], values["k"], values["gamma"], source, span)

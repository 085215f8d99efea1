"""Discrete choices a plan makes: each allowed combination of values is its own certified
plan, and the best is the plan, with what every other would cost.

A choice between a few values — the number of experts of ``[moe] experts = [1, 2, 4, 8]``,
the serving precision of ``[quantisation] dtypes`` — is not part of the convex problem:
for each combination the problem is the convex problem of docs/model.md §4, solved and
certified as any other, and the combinations are compared by their optimal objective.
A mixture of experts is always compared with the dense model of the same scenario, even
when the dense model is not allowed.
"""
from __future__ import annotations

__all__ = ["Alternative", "Variant", "at_serving_precision", "with_experts", "choice_variants", "chosen_scenario"]

import itertools
from dataclasses import dataclass, replace

from ..model import hardware as catalogue
from ..model.quantisation import BITS_OF_DTYPE
from ..scenario.schema import Scenario


@dataclass(frozen=True)
class Alternative:
    """One combination of the choices' values and its optimal plan's objective.

    Parameters
    ----------
    settings : dict
        The scenario settings and their values ({"moe.experts": 8}).
    objective_value : float or None
        The optimal objective with them [the objective's unit], None when no plan exists.
    chosen : bool
        Whether it is the plan's.
    allowed : bool
        Whether the scenario allows it (the dense model is compared even when it is not).
    note : str
        Why there is no plan with it (the error), else "".
    params, total_params : float or None
        Its plan's active and total parameters [parameters].
    """

    settings: dict
    objective_value: float | None
    chosen: bool = False
    allowed: bool = True
    note: str = ""
    params: float | None = None
    total_params: float | None = None

    @property
    def label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.settings.items())

    def as_dict(self) -> dict:
        return {"settings": dict(self.settings), "objective_value": self.objective_value, "chosen": self.chosen,
                "allowed": self.allowed, "note": self.note, "params": self.params,
                "total_params": self.total_params}


@dataclass(frozen=True)
class Variant:
    """A combination of values (``settings``), the scenario with them, and whether the
    scenario allows it."""

    settings: dict
    scenario: Scenario
    allowed: bool = True


def at_serving_precision(scenario: Scenario, dtype: str) -> Scenario:
    """``scenario`` with its weights served in ``dtype``: quantised to that many bits after
    training (docs/model.md §11), the serving arithmetic at that dtype's peak where the
    serving GPU has one (else at the scenario's own dtype: weight-only quantisation, as
    AWQ and GPTQ serve int4), and under the roofline model that many bytes a weight, read
    at that arithmetic's peak (the roofline's own copy of it, docs/model.md §8)."""
    bits = BITS_OF_DTYPE[dtype]
    inference = scenario.inference
    if inference is not None:
        try:
            inference = replace(inference, dtype=dtype, peak_flops=catalogue.gpu(inference.gpu).peak(dtype))
        except KeyError:
            pass                      # a custom GPU, or no peak in that dtype: weight-only
    serving = scenario.serving
    if serving is not None:
        serving = replace(serving, weight_bytes=bits / 8.0,
                          peak_flops=serving.peak_flops if inference is None else inference.peak_flops)
    return replace(scenario, quantisation=scenario.quantisation.at_bits(bits), inference=inference,
                   serving=serving)


def with_experts(scenario: Scenario, experts: int) -> Scenario:
    """``scenario`` with a mixture of ``experts`` experts: its law the joint law's member of
    that E (docs/model.md §10), at most as many active experts as there are experts, served
    (roofline model) as the shape family's mixture of that E (an exact architecture of
    another E, the dense twin of Mixtral, gives way to the family's model)."""
    moe = replace(scenario.moe, experts=int(experts),
                  active_experts=min(scenario.moe.active_experts, int(experts)))
    serving = scenario.serving
    if serving is not None:
        # an exact mixture's twin of another E (the dense one) is the shape family's model
        exact = serving.architecture is not None and serving.architecture.experts != moe.experts
        serving = replace(serving.free() if exact else serving, mixture=moe)
    return replace(scenario, law=scenario.joint_law.at(experts), moe=moe, serving=serving)


_BUILDERS = {"quantisation.dtypes": at_serving_precision, "moe.experts": with_experts}


def choice_variants(scenario: Scenario) -> list[Variant]:
    """Every combination of the scenario's choices, as a Variant; a mixture of experts
    also gets its dense twin (not allowed when ``moe.experts`` leaves out 1)."""
    choices = dict(scenario.choices)
    if "moe.experts" in choices and 1 not in choices["moe.experts"]:
        choices["moe.experts"] = (1,) + tuple(choices["moe.experts"])
    keys = list(choices)
    out = []
    for values in itertools.product(*(choices[k] for k in keys)):
        variant = replace(scenario, choices=())
        for key, value in zip(keys, values):
            variant = _BUILDERS[key](variant, value)
        settings = dict(zip(keys, values))
        allowed = all(v in dict(scenario.choices)[k] for k, v in settings.items())
        out.append(Variant(settings, variant, allowed))
    return out


def chosen_scenario(scenario: Scenario, solution) -> Scenario:
    """The scenario as the plan was solved: with the values its discrete choices took (the
    number of experts, the serving precision), so that a figure or a workbook of the plan
    draws and prices the very problem solved. ``scenario`` itself when it has no choice."""
    chosen = next((a for a in solution.alternatives if a.chosen), None)
    if not scenario.choices or chosen is None:
        return scenario
    variant = replace(scenario, choices=())
    for key, value in chosen.settings.items():
        variant = _BUILDERS[key](variant, value)
    return variant

"""Discrete choices a plan makes: each allowed value is its own certified plan, and the best
is the plan, with what every other would cost.

A choice between a few values (the serving precision of ``[quantisation] dtypes``) is not
part of the convex problem: for each value the problem is the convex problem of
docs/model.md §4, solved and certified as any other, and the values are compared by
their optimal objective. The plan reports the runner-up and what it would cost.
"""
from __future__ import annotations

__all__ = ["Alternative", "at_serving_precision", "choice_variants"]

from dataclasses import dataclass, replace

from ..model import hardware as catalogue
from ..model.quantisation import BITS_OF_DTYPE
from ..scenario.schema import Scenario


@dataclass(frozen=True)
class Alternative:
    """One allowed value of a choice and its optimal plan's objective.

    Parameters
    ----------
    key : str
        The scenario setting chosen ("quantisation.dtypes").
    value : str or float
        The value ("fp8").
    objective_value : float or None
        The optimal objective with that value [the objective's unit], None when no plan
        exists with it.
    chosen : bool
        Whether it is the plan's.
    note : str
        Why there is no plan with it (the error), else "".
    """

    key: str
    value: object
    objective_value: float | None
    chosen: bool = False
    note: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "objective_value": self.objective_value,
                "chosen": self.chosen, "note": self.note}


def at_serving_precision(scenario: Scenario, dtype: str) -> Scenario:
    """``scenario`` with its weights served in ``dtype``: quantised to that many bits after
    training (docs/model.md §10), the serving arithmetic at that dtype's peak where the
    serving GPU has one (else at the scenario's own dtype: weight-only quantisation, as
    AWQ and GPTQ serve int4), and under the roofline model that many bytes a weight."""
    bits = BITS_OF_DTYPE[dtype]
    inference = scenario.inference
    if inference is not None:
        try:
            inference = replace(inference, dtype=dtype, peak_flops=catalogue.gpu(inference.gpu).peak(dtype))
        except KeyError:
            pass                      # a custom GPU, or no peak in that dtype: weight-only
    serving = scenario.serving
    if serving is not None:
        serving = replace(serving, weight_bytes=bits / 8.0)
    return replace(scenario, quantisation=scenario.quantisation.at_bits(bits), inference=inference,
                   serving=serving, serving_dtypes=())


def choice_variants(scenario: Scenario) -> tuple[str, list[tuple[object, Scenario]]]:
    """(the key chosen, [(value, scenario with it)]) of the scenario's discrete choice."""
    return "quantisation.dtypes", [(d, at_serving_precision(scenario, d)) for d in scenario.serving_dtypes]

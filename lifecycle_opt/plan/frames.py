"""A plan's tables as pandas DataFrames for a notebook: its row, its cash flow month by
month, its serving points. pandas is optional (the ``pandas`` extra) and imported only
when a frame is asked for, so that ``import lifecycle_opt`` and ``lifeopt`` never pay for
it. Every number is in base units, as in the JSON ($, tokens, ms, bytes)."""
from __future__ import annotations

__all__ = ["pandas_module", "row_frame", "cash_flow_frame", "serving_frame"]

from typing import TYPE_CHECKING, Any

from ..model.finance import CashFlow
from .rows import INT_FIELDS

if TYPE_CHECKING:
    from .serving_plan import ServingPlan


def pandas_module() -> Any:
    """pandas, or ImportError saying how to install it."""
    try:
        import pandas
    except ImportError:
        raise ImportError("DataFrames need pandas: pip install 'lifecycle_opt[pandas]'") from None
    return pandas


def row_frame(row: dict[str, Any]) -> Any:
    """The plan's row (the fields of a sweep row) as a one-row DataFrame: whole-number
    fields as pandas' nullable integers, None as a missing value."""
    pd = pandas_module()
    frame = pd.DataFrame([row])
    for key in INT_FIELDS:
        if key in frame:
            frame[key] = frame[key].astype("Int64")
    return frame


def cash_flow_frame(cf: CashFlow) -> Any:
    """The cash flow, one row a month (indexed by "YYYY-MM", or "M<m>" without a start):
    training, inference and total spend [$, nominal], tokens served, the discount factor
    and the present value [$] (energy [kWh] where power was given)."""
    pd = pandas_module()
    columns = {"training_usd": cf.training_usd, "inference_tokens": cf.inference_tokens,
               "inference_usd": cf.inference_usd, "total_usd": cf.spend_usd,
               "discount_factor": cf.discount_factor, "present_value_usd": cf.present_value}
    if cf.energy_kwh is not None:
        columns["energy_kwh"] = cf.energy_kwh
    frame = pd.DataFrame({k: list(v) for k, v in columns.items()}, index=pd.Index(list(cf.labels), name="month"))
    frame.attrs["monthly_discount_rate"] = cf.monthly_rate
    return frame


def serving_frame(serving: ServingPlan) -> Any:
    """The serving table of the roofline model: the deployed point (an allowed replica
    size, a whole batch) and the relaxed optimum beside it, one row each, with the fields
    of the JSON ``serving`` object (times in ms, memory in bytes, $ per million tokens)."""
    pd = pandas_module()
    doc = serving.as_dict()
    relaxed = doc.pop("relaxed")
    deployed = {k: v for k, v in doc.items() if not isinstance(v, (list, dict, tuple))}
    return pd.DataFrame([deployed, relaxed], index=pd.Index(["deployed", "relaxed"], name="point"))

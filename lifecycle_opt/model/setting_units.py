"""The unit of every scenario setting a constraint comes from: how its value prints
("40 GB", "70B", "2 GPUs") and the amount of it a shadow price is quoted per (docs/model.md
§4: a shadow price is the objective's change per unit of the setting)."""
from __future__ import annotations

__all__ = ["SETTING_UNITS", "format_setting", "per_unit_text"]

from .units import format_count, format_flops, format_money, format_plain

#: the unit of every scenario setting a constraint comes from: how a value prints, and the
#: amount of it a shadow price is quoted per (its name, its size in the unit)
SETTING_UNITS = {
    "parameters": (lambda v: format_count(v), ("billion parameters", 1e9)),
    "tokens": (lambda v: f"{format_count(v)} tokens", ("billion tokens", 1e9)),
    "epochs": (lambda v: f"{format_plain(v)} epochs", ("epoch", 1.0)),
    "tokens/parameter": (lambda v: f"{format_plain(v)} tokens per parameter", ("token per parameter", 1.0)),
    "FLOP": (lambda v: format_flops(v), ("1e21 FLOP", 1e21)),
    "days": (lambda v: f"{format_plain(v)} days", ("day", 1.0)),
    "$": (lambda v: format_money(v), ("$1", 1.0)),
    "bytes": (lambda v: f"{format_plain(v / 1e9)} GB", ("GB", 1e9)),
    "GPUs": (lambda v: f"{format_plain(v)} GPUs", ("GPU", 1.0)),
    "GPUs per replica": (lambda v: f"{format_plain(v)} GPUs per replica", ("GPU per replica", 1.0)),
    "sequences": (lambda v: f"{format_plain(v)} sequences", ("sequence", 1.0)),
    "ms": (lambda v: f"{format_plain(v)} ms", ("ms", 1.0)),
    "nats": (lambda v: f"{v:.6g} nats", ("0.01 nats of loss", 0.01)),
    "fraction": (lambda v: f"{v:.4g}", ("percentage point", 0.01)),
    "error": (lambda v: f"{v:.4g} error", ("percentage point of error", 0.01)),
}


def format_setting(value: float, unit: str) -> str:
    """A setting's value in its unit, as a planner reads it.

    Parameters
    ----------
    value : float
        The setting in its base unit [parameters, tokens, bytes, $, ...].
    unit : str
        A key of :data:`SETTING_UNITS` ("bytes", "parameters", "GPUs", ...).

    Returns
    -------
    str
        The value with its unit, in human units.

    Examples
    --------
    >>> format_setting(40e9, "bytes"), format_setting(7e10, "parameters"), format_setting(2.0, "GPUs")
    ('40 GB', '70B', '2 GPUs')
    """
    return SETTING_UNITS[unit][0](value)


def per_unit_text(unit: str) -> tuple[str, float]:
    """What a shadow price on a setting of ``unit`` is quoted per.

    Parameters
    ----------
    unit : str
        A key of :data:`SETTING_UNITS`.

    Returns
    -------
    tuple of (str, float)
        The amount's name and its size in ``unit``.

    Examples
    --------
    >>> per_unit_text("bytes")
    ('GB', 1000000000.0)
    """
    return SETTING_UNITS[unit][1]

"""Reading scenario files: the only place TOML is read.

A scenario file (TOML) has the sections ``[law]``, ``[target]``, ``[inference]``,
``[data]``, ``[hardware.training]``, ``[hardware.inference]``, ``[objective]``,
``[budget]``, ``[limits]``, ``[finance]`` and ``[robust]``; see ``examples/`` and the
README for every key. Human units are accepted wherever a quantity appears ("70B",
"1.4T", "$2.1M", "90 days").

Every value is checked once (:mod:`.sections`, :mod:`.fields`, :func:`.schema.check`):
unknown keys (with a did-you-mean), wrong types, zero or negative quantities, a target
at or below the irreducible loss. A failure is a
:class:`~lifecycle_opt.errors.ScenarioError` naming the file, the key, what was
expected and what was found.
"""
from __future__ import annotations

__all__ = ["load_scenario", "load_scenarios", "scenario_from_dict", "as_scenario", "ScenarioLike", "merge",
           "law_from_table"]

from pathlib import Path
from typing import Any, Union

from ..errors import ScenarioError
from .schema import Scenario, fail
from .files import read_toml
from .fields import Section
from .sections import LAW_KEYS, SectionReader


#: what the planning functions take for a scenario: a Scenario, the path of its file, or a
#: dict of the file's keys
ScenarioLike = Union[Scenario, str, Path, "dict[str, Any]"]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``.

    >>> s = load_scenario("examples/chat_assistant.toml")
    >>> s.objective, s.law.name
    ('cost', 'hoffmann2022')
    """
    path = Path(path)
    data = read_toml(path)
    if "scenario" in data:
        fail(str(path), "scenario", "one scenario (this file holds [[scenario]] tables: compare them "
              "with `lifeopt compare`)", found_text=f"found {_count(data['scenario'])}")
    return scenario_from_dict(data, source=str(path), default_name=path.stem)


def _count(value) -> str:
    return f"{len(value)} tables" if isinstance(value, list) else "a single table"


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Every scenario in the file at ``path``: the file itself, or one per ``[[scenario]]``
    table, each laid over the file's top-level sections (its keys win).

    >>> [s.name for s in load_scenarios("examples/compare_demand.toml")]
    ['light serving', 'medium serving', 'heavy serving']
    """
    path = Path(path)
    data = read_toml(path)
    if "scenario" not in data:
        return [scenario_from_dict(data, source=str(path), default_name=path.stem)]
    tables = data.pop("scenario")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        fail(str(path), "scenario", "[[scenario]] tables (an array of tables)", tables)
    out = []
    for i, table in enumerate(tables, start=1):
        name = table.get("name", f"{path.stem} #{i}")
        out.append(scenario_from_dict(merge(data, table), source=f"{path} [[scenario]] #{i}",
                                      default_name=str(name)))
    return out


def merge(base: dict, over: dict) -> dict:
    """``over`` laid on ``base``: tables merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def law_from_table(table: dict, source: str | None = None):
    """The law of a ``[law]`` table (a preset, constants, or a law file) as a scenario
    reads it; ScenarioError naming the key when it is malformed."""
    reader = SectionReader(source)
    try:
        sec, _ = reader.law_file(Section(reader, "law", table, LAW_KEYS))
        return reader.law(sec)
    except ScenarioError as exc:
        if source is not None and exc.source is None:
            raise exc.with_source(source) from None
        raise


def scenario_from_dict(data: dict, source: str | None = None, default_name: str = "scenario") -> Scenario:
    """Build a Scenario from a dict with the keys of a scenario file (see ``load_scenario``).

    >>> s = scenario_from_dict({"law": {"preset": "sardana2024"}, "target": {"loss": 1.947},
    ...                         "inference": {"tokens": "2T"}, "objective": {"minimize": "flops"}})
    >>> s.demand.tokens
    2000000000000.0
    """
    try:
        return SectionReader(source).scenario(data, default_name)
    except ScenarioError as exc:
        if source is not None and exc.source is None:
            raise exc.with_source(source) from None
        raise




def as_scenario(scenario: ScenarioLike) -> Scenario:
    """The Scenario ``scenario`` stands for: itself, the file at a path (:func:`load_scenario`)
    or a dict of the file's keys (:func:`scenario_from_dict`), so that every planning
    function takes what :func:`~lifecycle_opt.execution.sweeps.sweep` takes.

    >>> as_scenario("examples/research_model.toml").objective
    'loss'
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    if isinstance(scenario, dict):
        return scenario_from_dict(scenario)
    raise TypeError(f"a Scenario, the path of a scenario file or a dict of its keys, not "
                    f"{type(scenario).__name__}")

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

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML scenario file holding one scenario (a file of ``[[scenario]]`` tables is
        read by :func:`load_scenarios`). Quantities may be human strings ("70B", "1.4T",
        "$2.1M", "90 days"); every one is stored in base units [parameters, tokens, FLOP,
        seconds, $, bytes].

    Returns
    -------
    Scenario
        The validated scenario, named after the file's stem unless it names itself.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable or malformed, a key is unknown, or a value is of
        the wrong type or out of range; the message names the file and the key.

    See Also
    --------
    scenario_from_dict : the same keys from a dict.

    Examples
    --------
    >>> s = load_scenario("examples/chat_assistant.toml")
    >>> s.objective, s.law.name
    ('cost', 'hoffmann2022')
    >>> s.demand.tokens == 1e11 * (800 + 200)   # requests × (input + output tokens) [tokens]
    True
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
    """Read every scenario of a file: the file itself, or one per ``[[scenario]]`` table.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML scenario file. Each ``[[scenario]]`` table is laid over the file's
        top-level sections (its keys win, :func:`merge`).

    Returns
    -------
    list of Scenario
        One scenario per table, in the file's order (the file itself when it has none).

    Raises
    ------
    ScenarioError
        A table is malformed; the message names the file, the table and the key.

    Examples
    --------
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
    """Lay one table of scenario keys over another.

    Parameters
    ----------
    base, over : dict
        Tables of scenario keys; ``over``'s win.

    Returns
    -------
    dict
        A new table: sub-tables merged key by key, any other value of ``over`` replacing
        ``base``'s (neither input is changed).

    Examples
    --------
    >>> merge({"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}},
    ...       {"target": {"loss": 1.9}})
    {'law': {'preset': 'hoffmann2022'}, 'target': {'loss': 1.9}}
    """
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def law_from_table(table: dict, source: str | None = None):
    """Read the loss law of a ``[law]`` table as a scenario reads it.

    Parameters
    ----------
    table : dict
        The keys of a ``[law]`` table: a ``preset``, the constants (E, A, B, alpha, beta,
        ...), or a ``file`` written by ``lifeopt fit``.
    source : str, optional
        The file the table came from, named in error messages.

    Returns
    -------
    LossLaw
        The law (:mod:`lifecycle_opt.model.laws`).

    Raises
    ------
    ScenarioError
        The table is malformed; the message names the key.

    Examples
    --------
    >>> law_from_table({"preset": "hoffmann2022"}).irreducible_loss   # E [nats/token]
    1.69
    """
    reader = SectionReader(source)
    try:
        sec, _ = reader.law_file(Section(reader, "law", table, LAW_KEYS))
        return reader.law(sec)
    except ScenarioError as exc:
        if source is not None and exc.source is None:
            raise exc.with_source(source) from None
        raise


def scenario_from_dict(data: dict, source: str | None = None, default_name: str = "scenario") -> Scenario:
    """Build a scenario from a dict with the keys of a scenario file.

    Parameters
    ----------
    data : dict
        Sections and keys as in a scenario file (``{"law": {"preset": ...}, "target":
        {...}, ...}``); quantities as numbers in base units or human strings ("2T").
    source : str, optional
        Where the keys came from, named in error messages.
    default_name : str, default "scenario"
        The scenario's name unless ``data`` gives one.

    Returns
    -------
    Scenario
        The validated scenario, in base units.

    Raises
    ------
    ScenarioError
        A key is unknown, or a value is of the wrong type or out of range; the message
        names the key, what was expected and what was found.

    See Also
    --------
    load_scenario : the same from a file.

    Examples
    --------
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
    """Return the scenario that a scenario, a path or a dict of keys stands for.

    Every planning function takes what :func:`~lifecycle_opt.execution.sweeps.sweep`
    takes through this one function.

    Parameters
    ----------
    scenario : Scenario, str, pathlib.Path or dict
        A scenario (returned as it is), the path of its file (:func:`load_scenario`) or a
        dict of the file's keys (:func:`scenario_from_dict`).

    Returns
    -------
    Scenario
        The scenario.

    Raises
    ------
    ScenarioError
        The file or the keys are malformed.
    TypeError
        ``scenario`` is none of the three.

    Examples
    --------
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

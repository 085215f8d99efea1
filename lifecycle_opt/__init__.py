"""lifecycle_opt — plan the training of a language model over its whole life.

The few entry points a notebook needs::

    from lifecycle_opt import load_scenario, solve, sweep
    plan = solve(load_scenario("examples/chat_assistant.toml"))
    rows = sweep("examples/chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})

The package is laid out by stage, each importing only from those before it:
``model`` (units, constants, laws, hardware, costs, finance) → ``fit`` → ``scenario``
→ ``problem`` → ``solvers`` → ``plan`` → ``execution`` → ``outputs`` → ``cli``.
"""
from __future__ import annotations

from .errors import InfeasibleError, LifecycleError, ScenarioError, SolverError
from .model.presets import preset

__all__ = ["load_scenario", "scenario_from_dict", "solve", "sweep", "evaluate", "Scenario", "Solution", "preset",
           "LifecycleError", "ScenarioError", "InfeasibleError", "SolverError", "__version__"]

#: where each lazily imported name lives: the solvers pull in scipy (and cvxpy when
#: solving), which a command such as `lifeopt presets` should not pay for
_LAZY = {"load_scenario": ".scenario.reader", "scenario_from_dict": ".scenario.reader",
         "Scenario": ".scenario.schema", "solve": ".plan.planning", "sweep": ".execution.sweeps",
         "evaluate": ".plan.evaluation",
         "Solution": ".plan.solution"}


def _version() -> str:
    """One place for the version: setup.cfg, read back from the installed metadata (on first
    use: importlib.metadata costs ~35 ms that `lifeopt solve` need not pay)."""
    from importlib import metadata
    try:
        return metadata.version("lifecycle_opt")
    except metadata.PackageNotFoundError:      # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value          # later look-ups skip this function
        return value
    raise AttributeError(f"module 'lifecycle_opt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

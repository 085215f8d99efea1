"""lifecycle_opt — plan the training of a language model over its whole life.

The few entry points a notebook needs::

    from lifecycle_opt import load_scenario, solve, sweep
    plan = solve("examples/chat_assistant.toml")        # a path, a dict of its keys or a Scenario
    print(plan.report())                                 # what `lifeopt solve` prints
    rows = sweep("examples/chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})

The package is laid out by stage, each importing only from those before it:
``model`` (units, constants, laws, hardware, costs, finance) → ``fit`` → ``scenario``
→ ``problem`` → ``solvers`` → ``plan`` → ``execution`` → ``outputs`` → ``cli``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InfeasibleError, LifecycleError, ScenarioError, SolverError
from .model.presets import preset

if TYPE_CHECKING:
    # the lazily imported names, typed for mypy and IDEs (never imported at run time here:
    # `lifeopt presets` should not pay for scipy)
    from .plan.evaluation import Evaluation, evaluate
    from .plan.planning import solve
    from .plan.solution import Solution
    from .execution.sweeps import sweep
    from .plan.sweep_result import SweepResult
    from .scenario.reader import load_scenario, scenario_from_dict
    from .scenario.schema import Scenario

    __version__: str

__all__ = ["load_scenario", "scenario_from_dict", "solve", "sweep", "evaluate", "Scenario", "Solution", "Evaluation",
           "SweepResult", "preset", "LifecycleError", "ScenarioError", "InfeasibleError", "SolverError", "__version__"]

#: where each lazily imported name lives: the solvers pull in scipy (and cvxpy when
#: solving), which a command such as `lifeopt presets` should not pay for
_LAZY = {"load_scenario": ".scenario.reader", "scenario_from_dict": ".scenario.reader",
         "Scenario": ".scenario.schema", "solve": ".plan.planning", "sweep": ".execution.sweeps",
         "evaluate": ".plan.evaluation", "Evaluation": ".plan.evaluation",
         "Solution": ".plan.solution", "SweepResult": ".plan.sweep_result"}


def _version() -> str:
    """One place for the version: setup.cfg, read back from the installed metadata (on first
    use: importlib.metadata costs ~35 ms that `lifeopt solve` need not pay)."""
    from importlib import metadata
    try:
        return metadata.version("lifecycle_opt")
    except metadata.PackageNotFoundError:      # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
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

"""lifecycle_opt — plan the training of a language model over its whole life.

The few entry points a notebook needs::

    from lifecycle_opt import load_scenario, solve
    solution = solve(load_scenario("examples/chat_assistant.toml"))
    rows = sweep("examples/chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})
"""
from __future__ import annotations

__all__ = ["load_scenario", "solve", "sweep", "Scenario", "Solution", "preset", "LifecycleError",
           "ScenarioError", "InfeasibleError", "SolverError"]
__version__ = "0.1.0"

from .errors import InfeasibleError, LifecycleError, ScenarioError, SolverError
from .model.laws import preset


def __getattr__(name):
    # Imported on first use: the solver pulls in cvxpy, which costs about a second.
    if name in ("load_scenario", "Scenario"):
        from .scenario import reader as scenario
        return getattr(scenario, name)
    if name == "solve":
        from .plan.planning import solve
        return solve
    if name == "sweep":
        from .plan.sweep import sweep
        return sweep
    if name == "Solution":
        from .plan.solution import Solution
        return Solution
    raise AttributeError(f"module 'lifecycle_opt' has no attribute {name!r}")

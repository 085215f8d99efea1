"""The ``lifeopt`` command: load → one API call → render. A thin shell over the Python API.

Every lifecycle_opt error becomes a one-line message on stderr and its exit code
(2 for bad input, 1 for an infeasible plan or a solver failure); never a traceback.
"""
from __future__ import annotations

__all__ = ["main", "cli", "plans", "library", "scenarios", "serving"]

from .app import cli, main
from . import library, plans, scenarios, serving   # importing them registers their commands on the group

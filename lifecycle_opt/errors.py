"""The error tree of lifecycle_opt.

Every failure a user can cause or meet is one of these types, each with a message
that says what went wrong and what to do next. The CLI turns them into one-line
messages and exit codes; nothing below ever reaches the user as a traceback.
"""
from __future__ import annotations

__all__ = [
    "ClusterError",
    "LifecycleError",
    "ScenarioError",
    "UnknownKeyError",
    "InfeasibleError",
    "SolverError",
    "ExportError",
    "Conflict",
]

from dataclasses import dataclass


class LifecycleError(Exception):
    """Root of every error raised by lifecycle_opt."""

    #: exit code the CLI uses for this kind of error
    exit_code = 1


def _short(text: str, limit: int = 200) -> str:
    """A value quoted in a message, cut to ``limit`` characters (a file's whole contents
    must never reach the terminal)."""
    return text if len(text) <= limit else text[:limit] + "…"


class ScenarioError(LifecycleError, ValueError):
    """The scenario (file or object) is malformed.

    Retrying cannot help: the input must change. The message names the file,
    the key, what was expected and what was found.
    """

    exit_code = 2

    def __init__(self, key: str, expected: str, found: object = None, *, source: str | None = None,
                 found_text: str | None = None):
        self.source = source
        self.key = key
        self.expected = expected
        self.found = found
        self.found_text = found_text
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        found = self.found_text if self.found_text is not None else f"found {_short(repr(self.found))}"
        return f"{where}{self.key}: expected {self.expected}, {found}"

    def with_source(self, source: str) -> "ScenarioError":
        """Return the same error (of the same type), located in file ``source``."""
        return type(self)(self.key, self.expected, self.found, source=source,
                             found_text=self.found_text)


class UnknownKeyError(ScenarioError):
    """A scenario key that the format does not have (a typo, or a key of another section).

    Retrying cannot help; the message suggests the nearest known key."""


@dataclass(frozen=True)
class Conflict:
    """One constraint taking part in an infeasibility, and how far it must move.

    ``required`` is the smallest value of the user's setting ``key`` that makes the
    plan feasible when only this setting changes (computed by solving the relaxed
    problem, rounded outwards); ``None`` when changing this setting alone cannot help.
    """

    name: str
    key: str
    current: float
    required: float | None
    advice: str


class InfeasibleError(LifecycleError):
    """No plan satisfies the target and every limit at once.

    Retrying cannot help; ``conflicts`` lists the constraints in conflict and, for
    each, the change that alone would make the plan feasible.
    """

    def __init__(self, message: str, conflicts: tuple[Conflict, ...] = ()):
        self.conflicts = tuple(conflicts)
        super().__init__(message)


class SolverError(LifecycleError):
    """The numerical solvers failed to certify an optimum.

    This is a bug or an extreme scenario; retrying with the same input will fail
    the same way. Please report the scenario.
    """


class ClusterError(LifecycleError):
    """The cluster a sweep runs on failed: every worker lost, or a chunk lost again and
    again. The machine's fault, not the input's: retry once the cluster is back."""

    exit_code = 2


class ExportError(LifecycleError):
    """An output could not be written (the file exists, the folder is missing, ...).

    Retrying helps once the cause in the message is fixed.
    """

    exit_code = 2

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
    """Root of every error raised by lifecycle_opt.

    Attributes
    ----------
    exit_code : int
        The exit status the CLI gives it: 2 for input errors, 1 for an infeasible plan.

    Examples
    --------
    One ``except`` catches every failure the user can cause or meet:

    >>> from lifecycle_opt import LifecycleError, scenario_from_dict
    >>> try:
    ...     scenario_from_dict({"law": {"preset": "chinchilla"}})
    ... except LifecycleError as exc:
    ...     print(type(exc).__name__, exc.exit_code)
    ScenarioError 2
    """

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

    Parameters
    ----------
    key : str
        The dotted key ("limits.max_params").
    expected : str
        What was expected, in words.
    found : object, optional
        The value found (quoted, cut to 200 characters).
    source : str, optional
        The file, named first.
    found_text : str, optional
        Said instead of the value ("found none").

    Examples
    --------
    >>> from lifecycle_opt import scenario_from_dict
    >>> try:
    ...     scenario_from_dict({"law": {"preset": "chinchilla"}})
    ... except ScenarioError as exc:
    ...     print(exc.key, exc.exit_code)
    law.preset 2
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
        """Return the same error (of the same type), located in file ``source``.

        Parameters
        ----------
        source : str
            The file.

        Returns
        -------
        ScenarioError
            A new error of this one's type and fields.
        """
        return type(self)(self.key, self.expected, self.found, source=source,
                             found_text=self.found_text)


class UnknownKeyError(ScenarioError):
    """A scenario key that the format does not have (a typo, or a key of another section).

    Retrying cannot help; the message suggests the nearest known key.

    Parameters
    ----------
    key, expected, found, source, found_text
        As for :class:`ScenarioError`.
    """


@dataclass(frozen=True)
class Conflict:
    """One constraint taking part in an infeasibility, and how far it must move.

    Parameters
    ----------
    name : str
        The constraint's name ("max_params").
    key : str
        The user's setting ("limits.max_params").
    current : float
        Its value, in the setting's own unit.
    required : float or None
        The smallest (or largest) value of the setting that makes the plan feasible when
        only it changes, in its unit (solving the relaxed problem, rounded outwards);
        None when changing it alone cannot help.
    advice : str
        The change, in words.
    """

    name: str
    key: str
    current: float
    required: float | None
    advice: str


class InfeasibleError(LifecycleError):
    """No plan satisfies the target and every limit at once.

    Retrying cannot help; ``conflicts`` lists the constraints in conflict and, for
    each, the change that alone would make the plan feasible (docs/model.md §5).

    Parameters
    ----------
    message : str
        The whole story, in words.
    conflicts : tuple of Conflict
        The settings in conflict and how far each must move.

    Examples
    --------
    At most 1B parameters and 20 tokens a parameter, a loss of 1.9 is out of reach: under
    Hoffmann et al. 2022's law the best is 1.69 + 406.4/1e9^0.34 + 410.7/2e10^0.28 = 2.581.

    >>> from lifecycle_opt import solve
    >>> try:
    ...     solve({"law": {"preset": "hoffmann2022"}, "target": {"loss": 1.9},
    ...            "objective": {"minimize": "flops"},
    ...            "limits": {"max_params": "1B", "max_tokens_per_param": 20}})
    ... except InfeasibleError as exc:
    ...     print([(c.key, c.required) for c in exc.conflicts])
    [('target.loss', 2.581), ('limits.max_params', 119700000000)]
    """

    def __init__(self, message: str, conflicts: tuple[Conflict, ...] = ()):
        self.conflicts = tuple(conflicts)
        super().__init__(message)


class SolverError(LifecycleError):
    """The numerical solvers failed to certify an optimum.

    This is a bug or an extreme scenario; retrying with the same input will fail
    the same way. Please report the scenario.

    Examples
    --------
    >>> issubclass(SolverError, LifecycleError), SolverError.exit_code
    (True, 1)
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

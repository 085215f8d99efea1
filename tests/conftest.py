import functools
import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALIDATION = ROOT.parent / "shared" / "validation"

# scripts a test hands to mypy (tests/test_api.py), not modules to import for doctests
collect_ignore = ["typed"]

# Default runs stay fast; set HYPOTHESIS_PROFILE=thorough for a long run.
settings.register_profile("default", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@functools.cache
def example_plans(name: str) -> tuple:
    """((scenario, solution), ...) of the shipped example ``name`` (one per [[scenario]]),
    solved once per test session: the solutions are frozen, and tests only read them."""
    from lifecycle_opt import solve
    from lifecycle_opt.scenario.reader import load_scenarios
    return tuple((s, solve(s)) for s in load_scenarios(EXAMPLES / name))


@pytest.fixture(autouse=True)
def _run_from_root(monkeypatch):
    # doctests and examples use paths relative to the repository root
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def libreoffice(tmp_path_factory):
    """LibreOffice with one profile for the whole session (tests/spreadsheet.py): starting
    on a fresh profile costs seconds each time. Skips, saying why, where it is missing."""
    from spreadsheet import NO_LIBREOFFICE, SOFFICE, LibreOffice
    if SOFFICE is None:
        pytest.skip(NO_LIBREOFFICE)
    return LibreOffice(tmp_path_factory.mktemp("libreoffice"))

"""The same names misused: mypy --strict must reject each marked line (tests/test_api.py),
which it could not if they were Any."""
from __future__ import annotations

from lifecycle_opt import evaluate, solve

size: str = solve("examples/research_model.toml").params  # error: float is not str
regret: str = evaluate("examples/chat_assistant.toml", params="8B", tokens="15T").regret  # error
solve(42)  # error: not a scenario, path or dict

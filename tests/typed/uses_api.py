"""A user's script, checked by `mypy --strict` in tests/test_api.py: the documented
top-level names are typed (not Any), so these annotations must agree with them."""
from __future__ import annotations

from pathlib import Path

from lifecycle_opt import (Evaluation, Scenario, Solution, SweepResult, evaluate, load_scenario, preset,
                           scenario_from_dict, solve, sweep)

scenario: Scenario = load_scenario("examples/research_model.toml")
plan: Solution = solve(scenario)
again: Solution = solve(Path("examples/research_model.toml"))
from_keys: Scenario = scenario_from_dict({"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0},
                                          "objective": {"minimize": "flops"}})
size: float = plan.params
per_param: float = plan.tokens_per_param
text: str = plan.report()
html: str = plan._repr_html_()
judged: Evaluation = evaluate("examples/chat_assistant.toml", params="8B", tokens="15T")
regret: float | None = judged.regret
rows: SweepResult = sweep("examples/chat_assistant.toml", {"inference.requests": [1e10, 1e11]})
count: int = len(rows)
law_name: str = preset("hoffmann2022").name

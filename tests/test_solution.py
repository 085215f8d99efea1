"""The frozen result (lifecycle_opt/plan/solution.py): a solved and an evaluated plan share
their figures (PlanFigures), the ratios are the plan's own arithmetic, and the savings
against the baseline are by hand."""
import pytest

from lifecycle_opt import evaluate, solve
from lifecycle_opt.plan.evaluation import Evaluation
from lifecycle_opt.plan.solution import PlanFigures, Solution
from lifecycle_opt.scenario.reader import load_scenario

from conftest import EXAMPLES


def test_a_solved_and_an_evaluated_plan_share_their_figures():
    scenario = load_scenario(EXAMPLES / "small_corpus.toml")
    sol = solve(scenario)
    e = evaluate(scenario, params=sol.params, tokens=sol.tokens)
    assert isinstance(sol, PlanFigures) and isinstance(e, PlanFigures)
    shared = sol.figures_dict()
    again = e.figures_dict()
    assert set(shared) == set(again)
    for key, value in shared.items():
        if isinstance(value, float):
            assert again[key] == pytest.approx(value, rel=1e-9, abs=1e-300), key
    # Evaluation no longer repeats Solution's fields: they are the base class's
    own = set(Evaluation.__dataclass_fields__) - set(PlanFigures.__dataclass_fields__)
    assert own == {"baseline_params", "baseline_tokens", "violated", "regret_unit", "optimum", "optimum_note",
                   "present_value", "regret_note"}


def test_the_ratios_and_savings_by_hand():
    sol = solve(load_scenario(EXAMPLES / "chat_assistant.toml"))
    assert isinstance(sol, Solution)
    assert sol.tokens_per_param == sol.tokens / sol.params
    assert sol.epochs == sol.tokens / 15e12                       # the example's 15T unique tokens
    assert sol.tokens_per_day == pytest.approx(1e14 / 730, rel=1e-15)
    b = sol.baseline
    assert sol.overtraining_ratio == pytest.approx((sol.tokens / sol.params) / (b.tokens / b.params), rel=1e-12)
    s = sol.savings()
    assert s["params"] == pytest.approx(1 - sol.params / b.params, rel=1e-12)
    assert s["cost_usd"] == pytest.approx(1 - sol.costs.total_cost_pv_usd / b.costs.total_cost_pv_usd, rel=1e-12)
    d = sol.as_dict()
    assert d["experts"] == 1 and d["active_params"] == d["total_params"] == sol.params
    assert d["loss_after_quantisation"] is None and d["error"] is None and d["alternatives"] == []

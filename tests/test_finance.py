"""The [finance] section: months, discounting, price decline, owned GPUs, and the cash flow."""
import copy
import math
import tomllib

import numpy as np
import numpy_financial as npf
import pytest

from lifecycle_opt import solve
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.model.constants import HOURS_PER_MONTH
from lifecycle_opt.model.finance import Finance, month_labels
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict

from conftest import EXAMPLES


def raw(name):
    with open(EXAMPLES / name, "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def finance_solution():
    return solve(load_scenario(EXAMPLES / "finance_plan.toml"))


def test_npv_matches_numpy_financial_and_a_hand_written_sum(finance_solution):
    cf = finance_solution.cash_flow
    spend = np.array(cf.spend_usd)
    r = cf.monthly_rate
    assert r == pytest.approx(1.10 ** (1 / 12) - 1, rel=1e-15)
    by_hand = sum(c / (1 + r) ** m for m, c in enumerate(spend))
    assert cf.npv_usd == pytest.approx(npf.npv(r, spend), rel=1e-12)
    assert cf.npv_usd == pytest.approx(by_hand, rel=1e-12)


def test_cash_flow_totals_agree_with_the_costs_and_the_objective(finance_solution):
    sol = finance_solution
    cf, c = sol.cash_flow, sol.costs
    assert sum(cf.training_usd) == pytest.approx(c.training_cost_usd, rel=1e-12)
    assert sum(cf.inference_usd) == pytest.approx(c.inference_cost_usd, rel=1e-12)
    assert cf.npv_usd == pytest.approx(c.total_cost_pv_usd, rel=1e-12)
    assert sol.objective_value == pytest.approx(cf.npv_usd, rel=1e-10)
    # discounting and a falling price both make later dollars cheaper
    assert c.total_cost_pv_usd < c.total_cost_usd
    # demand: 2.5T growing 4 % a month for 24 months, none while training
    tokens = np.array(cf.inference_tokens)
    assert (tokens[:3] == 0).all()
    assert tokens[3:] == pytest.approx(2.5e12 * 1.04 ** np.arange(24), rel=1e-12)
    assert cf.labels[0] == "2027-01" and cf.labels[-1] == "2029-03" and len(cf.labels) == 27


def test_present_value_plan_equals_a_plan_with_the_discounted_token_count():
    """docs/model.md §3 ("Time and money"): the present value keeps the problem's shape, with the served
    tokens replaced by their discounted count. Solve the same question without [finance],
    serving total × (inference PV factor / training PV factor) tokens: the plan must match."""
    s = load_scenario(EXAMPLES / "finance_plan.toml")
    timing = s.finance.timing()
    equivalent = raw("finance_plan.toml")
    del equivalent["finance"]
    equivalent["inference"]["tokens"] = s.demand.tokens * timing.inference_present / timing.training_present
    a, b = solve(s), solve(scenario_from_dict(equivalent))
    assert a.params == pytest.approx(b.params, rel=1e-8)
    assert a.tokens == pytest.approx(b.tokens, rel=1e-8)
    # and discounting made the model bigger than the undiscounted plan (serving is cheaper)
    undiscounted = copy.deepcopy(equivalent)
    undiscounted["inference"]["tokens"] = s.demand.tokens
    assert a.params > solve(scenario_from_dict(undiscounted)).params


def test_without_discount_or_decline_finance_changes_nothing():
    d = raw("finance_plan.toml")
    d["finance"].update(discount_rate=0, price_decline=0)
    s = scenario_from_dict(d)
    t = s.finance.timing()
    assert [t.training_nominal, t.training_present, t.inference_nominal, t.inference_present] == \
        pytest.approx([1, 1, 1, 1], rel=1e-15)
    plain = raw("finance_plan.toml")
    del plain["finance"]
    plain["inference"]["tokens"] = s.demand.tokens
    a, b = solve(s), solve(scenario_from_dict(plain))
    assert a.params == pytest.approx(b.params, rel=1e-9)
    assert a.costs.total_cost_usd == pytest.approx(b.costs.total_cost_usd, rel=1e-9)
    assert a.cash_flow.npv_usd == pytest.approx(a.costs.total_cost_usd, rel=1e-12)


def test_timing_factors_by_hand():
    f = Finance(monthly_tokens=(1.0, 3.0), training_months=2, discount_rate=0.12, price_decline=0.3)
    df = [1.12 ** (-m / 12) for m in range(4)]
    pr = [0.7 ** (m / 12) for m in range(4)]
    t = f.timing()
    assert t.training_nominal == pytest.approx((pr[0] + pr[1]) / 2, rel=1e-14)
    assert t.training_present == pytest.approx((pr[0] * df[0] + pr[1] * df[1]) / 2, rel=1e-14)
    assert t.inference_nominal == pytest.approx((pr[2] + 3 * pr[3]) / 4, rel=1e-14)
    assert t.inference_present == pytest.approx((pr[2] * df[2] + 3 * pr[3] * df[3]) / 4, rel=1e-14)


def test_owned_gpus_cost_capex_over_the_amortisation_plus_energy():
    s = load_scenario(EXAMPLES / "owned_cluster.toml")
    expected = 30000 / (48 * HOURS_PER_MONTH) + 0.7 * 1.25 * 0.09
    assert s.training.price_per_gpu_hour == pytest.approx(expected, rel=1e-14)
    assert s.inference.price_per_gpu_hour == pytest.approx(expected, rel=1e-14)
    sol = solve(s)
    cf = sol.cash_flow
    hours = sol.costs.training_gpu_hours + sol.costs.inference_gpu_hours
    assert cf.total_energy_kwh == pytest.approx(hours * 0.7 * 1.25, rel=1e-12)
    assert sum(cf.training_usd) == pytest.approx(sol.costs.training_gpu_hours * expected, rel=1e-12)


def test_spending_caps_limit_nominal_dollars():
    d = raw("finance_plan.toml")
    free = solve(scenario_from_dict(d))
    cap = 0.9 * free.costs.training_cost_usd
    d["limits"]["max_training_cost"] = cap
    capped = solve(scenario_from_dict(d))
    assert capped.costs.training_cost_usd == pytest.approx(cap, rel=1e-9)
    assert "max_training_cost" in {b.name for b in capped.binding}


def test_month_labels_cross_years():
    import datetime
    assert month_labels(datetime.date(2027, 11, 1), 3) == ["2027-11", "2027-12", "2028-01"]
    assert month_labels(None, 2) == ["M0", "M1"]


@pytest.mark.parametrize("change, key", [
    ({"monthly_tokens": ["1T", "2T"], "monthly_growth": 0.01}, "finance.monthly_growth"),
    ({"monthly_tokens": ["1T", "2T"], "monthly_growth": None, "deployment_months": 3},
     "finance.deployment_months"),
    ({"monthly_tokens": ["1T", "-2T"], "monthly_growth": None, "deployment_months": None},
     "finance.monthly_tokens[1]"),
    ({"deployment_months": None}, "finance.deployment_months"),
    ({"start": "January 2027"}, "finance.start"),
    ({"discount_rate": "ten percent"}, "finance.discount_rate"),
    ({"price_decline": 1.5}, "finance.price_decline"),
    ({"ownership": "lease"}, "finance.ownership"),
    ({"training_gpu_capex": "$30000"}, "finance.training_gpu_capex"),
    ({"monthly_growth": -1.0}, "finance.monthly_growth"),
    ({"pue": 0.9}, "finance.pue"),
    ({"discount_rte": 0.1}, "finance.discount_rte"),
])
def test_bad_finance_input_names_the_key(change, key):
    d = raw("finance_plan.toml")
    for k, v in change.items():
        if v is None:
            d["finance"].pop(k)
        else:
            d["finance"][k] = v
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(d, source="plan.toml")
    assert err.value.key == key
    assert str(err.value).startswith(f"plan.toml: {key}:")


def test_owned_gpus_need_their_costs_and_no_rental_price():
    d = raw("owned_cluster.toml")
    d["hardware"]["training"]["price_per_gpu_hour"] = 2.0
    with pytest.raises(ScenarioError, match="hardware.training.price_per_gpu_hour"):
        scenario_from_dict(d)
    d = raw("owned_cluster.toml")
    del d["finance"]["energy_price"]
    with pytest.raises(ScenarioError, match="finance.energy_price"):
        scenario_from_dict(d)
    d = raw("owned_cluster.toml")
    d["finance"]["price_decline"] = 0.2
    with pytest.raises(ScenarioError, match="finance.price_decline"):
        scenario_from_dict(d)


def test_total_demand_in_inference_and_monthly_demand_conflict():
    d = raw("finance_plan.toml")
    d["inference"]["tokens"] = "10T"
    with pytest.raises(ScenarioError, match="inference.tokens"):
        scenario_from_dict(d)


def test_total_demand_is_spread_evenly_over_the_deployment_months():
    d = raw("chat_assistant.toml")
    del d["inference"]["deployment_days"]
    d["finance"] = {"deployment_months": 24, "discount_rate": 0.1}
    s = scenario_from_dict(d)
    assert s.finance.monthly_tokens == pytest.approx([1e14 / 24] * 24, rel=1e-14)
    assert any("spread evenly" in a for a in s.assumptions)
    assert math.isclose(s.demand.tokens, 1e14)


def test_the_timing_factors_and_the_cash_flow_spread_serving_the_same_way():
    # one definition of the serving shares: with demand, the token-weighted months; without
    # demand, no serving month at all (the timing factors and the workbook both read 0)
    for tokens in ((1e12, 2e12, 3e12), (0.0, 0.0, 0.0)):
        fin = Finance(monthly_tokens=tokens, training_months=2, discount_rate=0.1, price_decline=0.2)
        timing, shares = fin.timing(), fin.serving_shares()
        assert timing.inference_nominal == pytest.approx(float(shares @ fin.price_factors()), rel=1e-15)
        cf = fin.cash_flow(0.0, 2.0, 1.0, 3.0)
        assert sum(cf.inference_usd) == pytest.approx(3.0 * timing.inference_nominal, rel=1e-12, abs=0)
    assert timing.inference_present == 0.0 and timing.training_present > 0

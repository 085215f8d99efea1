"""The solver against closed forms, published numbers, a second solver and properties."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from lifecycle_opt.errors import InfeasibleError
from lifecycle_opt.model.laws import ChinchillaLaw, DataConstrainedLaw, MUENNIGHOFF_R_D_STAR
from lifecycle_opt.model.presets import PRESETS, preset
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.plan.planning import solve
from lifecycle_opt.solvers.certificate import KKT_TOL

CHINCHILLA_FORM = [p for p in PRESETS if isinstance(preset(p), ChinchillaLaw)]


def scenario(**sections):
    return scenario_from_dict(sections)


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("law", CHINCHILLA_FORM)
def test_compute_optimal_closed_form_across_budgets(law):
    # Hoffmann et al. 2022 closed form (docs/model.md §2.1): no inference, no data limit.
    closed = preset(law)
    for budget in np.logspace(18, 28, 11):
        plan = solve(scenario(law={"preset": law}, objective={"minimize": "loss"},
                              budget={"training_flops": float(budget)}))
        N, D = closed.compute_optimal(budget)
        assert plan.params == pytest.approx(float(N), rel=1e-9)
        assert plan.tokens == pytest.approx(float(D), rel=1e-9)
        assert plan.certificate.kkt_residual < KKT_TOL


@pytest.mark.parametrize("law", CHINCHILLA_FORM)
def test_flops_objective_without_demand_is_the_compute_optimal_plan(law):
    closed = preset(law)
    target = closed.E + 0.25
    plan = solve(scenario(law={"preset": law}, target={"loss": target}, objective={"minimize": "flops"}))
    N, D = closed.compute_optimal_at_loss(target)
    assert plan.params == pytest.approx(float(N), rel=1e-9)
    assert plan.tokens == pytest.approx(float(D), rel=1e-9)


# ---------------------------------------------------------------- published numbers
def test_sardana_lifecycle_optimum():
    # Sardana et al. 2024 (arXiv 2401.00448), with the constants of their code: target loss
    # 1.947 and 2e12 inference tokens give N = 2.418e10, D = 2.657e12, i.e. 70.96 % of the
    # parameters, 146.77 % of the tokens, 95.22 % of the FLOPs of the Chinchilla plan.
    plan = solve(scenario(law={"preset": "sardana2024"}, target={"loss": 1.947},
                          inference={"tokens": "2T"}, objective={"minimize": "flops"}))
    assert plan.params == pytest.approx(2.418e10, rel=5e-4)
    assert plan.tokens == pytest.approx(2.657e12, rel=5e-4)
    assert plan.baseline.params == pytest.approx(3.408e10, rel=5e-4)
    assert plan.baseline.tokens == pytest.approx(1.810e12, rel=5e-4)
    assert 100 * plan.params / plan.baseline.params == pytest.approx(70.96, abs=0.005)
    assert 100 * plan.tokens / plan.baseline.tokens == pytest.approx(146.77, abs=0.005)
    assert 100 * plan.costs.total_flops / plan.baseline.costs.total_flops == pytest.approx(95.22, abs=0.005)


def test_shadow_price_matches_finite_differences():
    # docs/model.md §4 (shadow prices): a cap D <= 1.5e12 at loss 1.95 with 1e13 inference tokens costs
    # 8.03e11 FLOP per token of cap (hoffmann2022 constants).
    def plan(cap):
        return solve(scenario(law={"preset": "hoffmann2022"}, target={"loss": 1.95},
                              inference={"tokens": 1e13}, objective={"minimize": "flops"},
                              data={"unique_tokens": cap, "max_epochs": 1, "repetition_penalty": False}))
    cap = 1.5e12
    base = plan(cap)
    per_epoch = {b.name: b.shadow_price for b in base.binding}["max_epochs"]
    per_token = per_epoch / cap      # one epoch of cap = cap tokens
    assert -per_token == pytest.approx(8.03e11, rel=1e-3)
    h = 1e-4
    fd = (plan(cap * (1 + h)).objective_value - plan(cap * (1 - h)).objective_value) / (2 * h * cap)
    assert per_token == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("key, value, step", [
    ("loss", 2.3, 1e-5),
])
def test_loss_shadow_price_under_the_penalty(key, value, step):
    def plan(target):
        return solve(scenario(law={"preset": "muennighoff2023"}, target={"loss": target},
                              inference={"tokens": "1T"}, objective={"minimize": "flops"},
                              data={"unique_tokens": "30B", "max_epochs": 8}))
    base = plan(value)
    price = {b.name: b.shadow_price for b in base.binding}["loss_target"]
    fd = (plan(value + step).objective_value - plan(value - step).objective_value) / (2 * step)
    assert price == pytest.approx(fd, rel=1e-5)


# ---------------------------------------------------------------- two solvers
def _random_scenario(rng):
    law = rng.choice(CHINCHILLA_FORM + ["kaplan2020"])
    law_obj = preset(law)
    penalty = law != "kaplan2020" and rng.random() < 0.4
    sec = {"law": {"preset": law}, "objective": {"minimize": str(rng.choice(["flops", "cost"]))}}
    E = law_obj.irreducible_loss
    if law == "kaplan2020":
        target = float(rng.uniform(2.0, 3.0))
    else:
        target = float(E + rng.uniform(0.12, 0.8))
    sec["target"] = {"loss": target}
    sec["inference"] = {"tokens": float(10 ** rng.uniform(9, 14)), "output_fraction": float(rng.uniform(0.05, 0.5))}
    N0, D0 = law_obj.compute_optimal_at_loss(target)
    if penalty:
        sec["data"] = {"unique_tokens": float(D0 * 10 ** rng.uniform(-1.2, 0.5)),
                       "max_epochs": float(rng.uniform(2, 40)), "repetition_penalty": True}
    sec["hardware"] = {"training": {"gpu": "H100", "mfu": float(rng.uniform(0.2, 0.6)),
                                    "price_per_gpu_hour": float(rng.uniform(1, 4)), "gpus": 1024},
                       "inference": {"gpu": "H100", "prefill_mfu": float(rng.uniform(0.3, 0.6)),
                                     "decode_mfu": float(rng.uniform(0.02, 0.2)),
                                     "price_per_gpu_hour": float(rng.uniform(1, 4))}}
    limits = {}
    if rng.random() < 0.3:
        limits["max_params"] = float(N0 * 10 ** rng.uniform(-0.5, 0.5))
    if rng.random() < 0.2:
        limits["max_tokens_per_param"] = float(10 ** rng.uniform(1.5, 3))
    if rng.random() < 0.2:
        limits["min_tokens_per_param"] = float(10 ** rng.uniform(0, 1.3))
    if limits:
        sec["limits"] = limits
    return scenario_from_dict(sec)


def test_two_solvers_agree_on_random_scenarios():
    rng = np.random.default_rng(20261125)
    solved = infeasible = 0
    worst_kkt = worst_agreement = 0.0
    disagree = []
    for _ in range(200):
        s = _random_scenario(rng)
        try:
            plan = solve(s)
        except InfeasibleError:
            infeasible += 1
            continue
        solved += 1
        worst_kkt = max(worst_kkt, plan.certificate.kkt_residual)
        worst_agreement = max(worst_agreement, plan.certificate.agreement)
        assert plan.certificate.kkt_residual < KKT_TOL, s
        if not plan.certificate.methods_agree:
            disagree.append((s, plan.certificate))
        # every constraint holds at the plan
        problem = build_problem(s)
        z = np.log([plan.params, plan.tokens])
        for c in problem.constraints:
            assert c.value(z) <= 1e-9, c.name
    assert solved >= 150
    # both independent paths land within 1e-6 of the polished plan (AGREEMENT_TOL)
    assert not disagree, disagree
    print(f"solved {solved}, infeasible {infeasible}, worst KKT {worst_kkt:.1e}, "
          f"worst agreement {worst_agreement:.1e}")


# ---------------------------------------------------------------- infeasibility
def test_infeasible_plan_is_explained_and_each_fix_works():
    # 300B unique tokens, at most 16 epochs, a 10B model cap: loss 2.0 is out of reach.
    sec = dict(law={"preset": "muennighoff2023"}, target={"loss": 2.0}, inference={"tokens": "1T"},
               objective={"minimize": "flops"},
               data={"unique_tokens": "300B", "max_epochs": 16, "repetition_penalty": True},
               limits={"max_params": "10B"})
    with pytest.raises(InfeasibleError) as info:
        solve(scenario_from_dict(sec))
    conflicts = info.value.conflicts
    assert {c.key for c in conflicts} >= {"target.loss", "limits.max_params"}
    assert "target.loss" in str(info.value)
    for c in conflicts:
        fixed = {k: dict(v) if isinstance(v, dict) else v for k, v in sec.items()}
        section, key = c.key.split(".")
        fixed[section][key] = c.required
        plan = solve(scenario_from_dict(fixed))      # must now solve
        assert plan.certificate.status == "optimal"
        # and the change is the smallest: 0.1 % less would not do (the value was rounded outwards)
        tighter = c.required * (0.99 if c.required > c.current else 1.01)
        fixed[section][key] = tighter
        with pytest.raises(InfeasibleError):
            solve(scenario_from_dict(fixed))


# ---------------------------------------------------------------- properties
laws = st.sampled_from(CHINCHILLA_FORM)


@given(law=laws, excess=st.floats(0.1, 0.8), t1=st.floats(8, 14), factor=st.floats(1.5, 100))
def test_more_demand_never_grows_the_model(law, excess, t1, factor):
    def plan(tokens):
        return solve(scenario(law={"preset": law}, target={"loss": preset(law).E + excess},
                              inference={"tokens": tokens}, objective={"minimize": "flops"}))
    a, b = plan(10 ** t1), plan(10 ** t1 * factor)
    assert b.params <= a.params * (1 + 1e-9)
    assert b.tokens_per_param >= a.tokens_per_param * (1 - 1e-9)


@given(excess=st.floats(0.15, 0.6), t=st.floats(9, 14), unique=st.floats(9.5, 12),
       epochs=st.floats(1, 30), loosen=st.floats(1.01, 10))
def test_a_looser_limit_never_raises_the_cost(excess, t, unique, epochs, loosen):
    def plan(max_epochs):
        return solve(scenario(law={"preset": "muennighoff2023"},
                              target={"loss": preset("muennighoff2023").E + excess},
                              inference={"tokens": 10 ** t}, objective={"minimize": "flops"},
                              data={"unique_tokens": 10 ** unique, "max_epochs": max_epochs,
                                    "repetition_penalty": True}))
    try:
        tight = plan(epochs)
    except InfeasibleError:
        return
    loose = plan(epochs * loosen)
    assert loose.objective_value <= tight.objective_value * (1 + 1e-9)


@given(unique=st.floats(1e6, 1e16), D=st.floats(1e6, 1e18))
def test_effective_data_never_exceeds_its_ceiling(unique, D):
    law = DataConstrainedLaw(preset("muennighoff2023"), unique)
    assert float(law.effective_tokens(D)) <= unique * (1 + MUENNIGHOFF_R_D_STAR) * (1 + 1e-12)
    assert float(law.effective_tokens(D)) <= D * (1 + 1e-12)


@given(law=laws, excess=st.floats(0.1, 0.8), t=st.floats(9, 14), mfu=st.floats(0.1, 0.7),
       price=st.floats(0.5, 5))
def test_dollar_optimum_equals_flop_optimum_at_equal_prices(law, excess, t, mfu, price):
    # same GPU, same MFU for training, prefill and decode: every FLOP costs the same
    hw = {"gpu": "H100", "price_per_gpu_hour": price}
    sec = dict(law={"preset": law}, target={"loss": preset(law).E + excess}, inference={"tokens": 10 ** t},
               hardware={"training": {**hw, "mfu": mfu}, "inference": {**hw, "mfu": mfu}})
    usd = solve(scenario(**sec, objective={"minimize": "cost"}))
    flops = solve(scenario(**sec, objective={"minimize": "flops"}))
    assert usd.params == pytest.approx(flops.params, rel=1e-9)
    assert usd.tokens == pytest.approx(flops.tokens, rel=1e-9)


# ---------------------------------------------------------------- plans the batch agreement check found
HEAVY_REPETITION = {"law": {"preset": "muennighoff2023"}, "inference": {"tokens": 4.8e11},
                    "data": {"unique_tokens": 5e9, "repetition_penalty": True},
                    "hardware": {"training": {"gpu": "H100", "mfu": 0.42, "price_per_gpu_hour": 1.73, "gpus": 6857},
                                 "inference": {"gpu": "H100", "mfu": 0.46, "price_per_gpu_hour": 2.39}}}


def test_a_flat_loss_objective_says_what_to_do_and_its_advice_solves():
    """$178M on a 5B-token corpus: the loss is flat to 1e-12 over a range of plans. The
    error says so and suggests a cost objective under a target; that scenario solves."""
    from lifecycle_opt.errors import SolverError
    raw = {**HEAVY_REPETITION, "objective": {"minimize": "loss"}, "budget": {"total_cost": 1.78e8}}
    with pytest.raises(SolverError, match="the loss is flat") as err:
        solve(scenario_from_dict(raw))
    target = float(str(err.value).split("loss = ")[1].rstrip(")"))
    advised = {**HEAVY_REPETITION, "objective": {"minimize": "cost"}, "target": {"loss": target}}
    plan = solve(scenario_from_dict(advised))
    assert plan.certificate.kkt_residual < KKT_TOL
    assert plan.loss == pytest.approx(target, rel=1e-9)


def test_a_plan_pinned_by_a_limit_where_the_loss_is_flat_in_D_is_certified():
    """186 epochs and a limit on N: elasticities near 1e6. The vertex of the two active
    constraints is met to the last bit, so the KKT residual certifies (it stalled at 7e-9)."""
    raw = {"law": {"preset": "hoffmann2022"},
           "objective": {"minimize": "cost"},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4738715510462798,
                                     "price_per_gpu_hour": 3.0406598748712304, "gpus": 7645},
                        "inference": {"gpu": "H100", "mfu": 0.40825271889854753,
                                      "price_per_gpu_hour": 1.5888177818698797}},
           "inference": {"tokens": 1472175554803.4663},
           "target": {"loss": 2.0866354603751702},
           "limits": {"max_training_days": 46.65550301484575, "max_total_cost": 2397176749.377334,
                      "max_params": 1273756227.869425},
           "data": {"unique_tokens": 1699197806306.9575, "repetition_penalty": True}}
    plan = solve(scenario_from_dict(raw))
    assert plan.certificate.kkt_residual < KKT_TOL
    assert {b.name for b in plan.binding} == {"loss_target", "max_params"}
    assert plan.tokens / 1.699e12 > 150

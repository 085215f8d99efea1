"""Quality after post-training quantisation (lifecycle_opt/model/quantisation.py; Kumar
et al. 2024, arXiv 2411.04330): the degradation term and its critical token count, a
quantised plan against an independent scipy solve of the same formulas, the
monotonicity of the plan in the degradation, and the choice of the serving precision."""
import copy
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from lifecycle_opt import solve
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.model.presets import preset
from lifecycle_opt.model.quantisation import Quantisation, QuantisedLaw, quantisation_preset
from lifecycle_opt.scenario.reader import scenario_from_dict

#: Kumar et al. 2024, Table 2 (as docs/model.md §10 quotes it)
C_T, GAMMA_D, GAMMA_N, GAMMA_POST = 0.0598, 0.5068, 0.3439, 0.5907

BASE = {"name": "quantised", "law": {"preset": "hoffmann2022"}, "target": {"loss": 1.95},
        "objective": {"minimize": "cost"}, "inference": {"tokens": "20T"},
        "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5},
                     "inference": {"gpu": "H100", "dtype": "fp8", "mfu": 0.1, "price_per_gpu_hour": 2.5}},
        "quantisation": {"bits": 4, "preset": "kumar2024"}}


def with_(raw, **quantisation):
    out = copy.deepcopy(raw)
    out["quantisation"] = quantisation
    return out


def test_the_degradation_is_eq_2_and_the_critical_tokens_eq_13():
    q = quantisation_preset("kumar2024", 4)
    N, D = 7e9, 2e12
    assert float(q.degradation(N, D)) == pytest.approx(
        C_T * D ** GAMMA_D / N ** GAMMA_N * math.exp(-4 / GAMMA_POST), rel=1e-14)
    # eq. 13: at D_crit the quantised loss is flat in D (the data term's fall equals δ's rise)
    law = preset("hoffmann2022")
    served = QuantisedLaw(law, q)
    crit = float(q.critical_tokens(N, law.B, law.beta))
    h = 1e-4
    slope = (served.loss(N, crit * (1 + h)) - served.loss(N, crit * (1 - h))) / (2 * h * crit)
    assert abs(slope) < 1e-9 * float(served.loss(N, crit)) / crit
    assert served.loss(N, crit * 2) > served.loss(N, crit)           # training longer makes it worse
    # the trained law is unchanged; more bits, less harm
    assert float(q.at_bits(8).degradation(N, D)) < float(q.degradation(N, D))


def _scipy_plan(scenario):
    """The cost-optimal (N, D) of the same formulas, solved by scipy alone: minimise
    a·N·D + b·N subject to E + A/N^α + B/D^β + δ(N, D) ≤ L_t, in logs."""
    law, q = scenario.law, scenario.quantisation
    cost = scenario.costs.cost("usd")
    a, b = cost.coefficient(N=1, D=1), cost.coefficient(N=1)
    target = scenario.target.loss

    def objective(z):
        return math.log(a * math.exp(z[0] + z[1]) + b * math.exp(z[0]))

    def slack(z):
        N, D = math.exp(z[0]), math.exp(z[1])
        return target - (law.E + law.A * N ** -law.alpha + law.B * D ** -law.beta
                         + q.C_T * math.exp(-q.bits / q.gamma_post) * D ** q.gamma_D / N ** q.gamma_N)

    res = minimize(objective, np.log([1e10, 1e12]), method="SLSQP", constraints=[{"type": "ineq", "fun": slack}],
                   options={"ftol": 1e-15, "maxiter": 2000})
    # polish on the active constraint: N from D exactly on the target, then a 1-D minimum
    return np.exp(res.x)


@pytest.mark.parametrize("bits", [3, 4, 8])
def test_a_quantised_plan_matches_an_independent_scipy_solve(bits):
    raw = with_(BASE, bits=bits, preset="kumar2024")
    scenario = scenario_from_dict(raw)
    plan = solve(scenario)
    N, D = _scipy_plan(scenario)
    assert plan.params == pytest.approx(N, rel=1e-6) and plan.tokens == pytest.approx(D, rel=1e-6)
    # the target holds after quantisation, and the report says both losses
    assert plan.loss_after_quantisation == pytest.approx(1.95, rel=1e-12)
    assert plan.loss < plan.loss_after_quantisation
    assert plan.as_dict()["quantisation_degradation"] == pytest.approx(
        float(scenario.quantisation.degradation(plan.params, plan.tokens)), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_a_larger_degradation_never_gives_a_cheaper_plan(seed):
    """Serving prices held fixed: more harm from quantising (fewer bits, a larger C_T) can
    only cost more (the feasible set shrinks)."""
    rng = np.random.default_rng(seed)
    raw = copy.deepcopy(BASE)
    raw["target"]["loss"] = 1.69 + float(rng.uniform(0.15, 0.5))
    raw["inference"]["tokens"] = float(10 ** rng.uniform(11, 13.5))
    costs = []
    for scale in (0.0, 0.5, 1.0, 2.0, 4.0):
        if scale == 0.0:
            r = copy.deepcopy(raw)
            del r["quantisation"]
        else:
            r = with_(raw, bits=4, C_T=C_T * scale, gamma_D=GAMMA_D, gamma_N=GAMMA_N, gamma_post=GAMMA_POST)
        costs.append(solve(scenario_from_dict(r)).objective_value)
    assert all(b >= a * (1 - 1e-12) for a, b in zip(costs, costs[1:])), costs


def test_the_serving_precision_weighs_cheaper_serving_against_the_loss_it_costs():
    # fp8 arithmetic at twice bf16's peak, and a degradation of ~1e-4 nats at 8 bits: fp8 wins
    raw = with_(BASE, dtypes=["bf16", "fp8", "int4"])
    plan = solve(scenario_from_dict(raw))
    chosen = {a.settings["quantisation.dtypes"]: a for a in plan.alternatives}
    assert chosen["fp8"].chosen and plan.loss_after_quantisation == pytest.approx(1.95, rel=1e-12)
    assert chosen["bf16"].objective_value > chosen["fp8"].objective_value
    # int4 is weight-only here (the GPU computes in fp8): no cheaper to serve, and it costs loss
    assert chosen["int4"].objective_value > chosen["fp8"].objective_value
    # a precision that degrades the model 100x more: 8 bits now cost more than serving in bf16
    harsh = with_(BASE, dtypes=["bf16", "fp8"], C_T=C_T * 3000, gamma_D=GAMMA_D, gamma_N=GAMMA_N,
                  gamma_post=GAMMA_POST)
    plan = solve(scenario_from_dict(harsh))
    assert {a.settings["quantisation.dtypes"]: a.chosen for a in plan.alternatives} == {"bf16": True, "fp8": False}


@pytest.mark.parametrize("quantisation, key", [
    ({"bits": 4, "dtype": "int4"}, "quantisation.bits"),
    ({}, "quantisation.bits"),
    ({"dtype": "int3"}, "quantisation.dtype"),
    ({"dtypes": ["fp8", "fp8"]}, "quantisation.dtypes"),
    ({"dtypes": []}, "quantisation.dtypes"),
    ({"bits": 4, "preset": "kumar2024", "C_T": 0.05}, "quantisation.C_T"),
    ({"bits": 4, "C_T": 0.05}, "quantisation.gamma_D"),
    ({"bits": -4}, "quantisation.bits"),
    ({"bits": 4, "preset": "nope"}, "quantisation.preset"),
])
def test_bad_quantisation_settings_name_the_key(quantisation, key):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_(BASE, **quantisation))
    assert info.value.key == key, str(info.value)


def test_kaplans_law_is_refused_with_quantisation():
    raw = with_(BASE, bits=4)
    raw["law"] = {"preset": "kaplan2020"}
    raw["target"] = {"loss": 2.5}
    with pytest.raises(ScenarioError, match="Chinchilla-form"):
        scenario_from_dict(raw)


def test_constants_must_be_positive():
    with pytest.raises(ValueError, match="gamma_D"):
        Quantisation(bits=4, C_T=0.05, gamma_D=-1.0, gamma_N=0.3, gamma_post=0.6)


def test_the_roofline_reads_the_weights_at_the_quantised_precision():
    """One precision: the weights whose degradation the law charges are the weights each
    decode step reads, 4 bits = 0.5 bytes (a bf16 default would read 4x the bytes); a
    serving.weight_dtype of other bytes contradicts [quantisation] and is refused."""
    import tomllib
    from conftest import EXAMPLES

    raw = tomllib.loads((EXAMPLES / "serving_slo.toml").read_text())
    raw["serving"].pop("weight_dtype", None)
    raw["quantisation"] = {"bits": 4, "preset": "kumar2024"}
    assert scenario_from_dict(raw).serving.weight_bytes == 0.5
    raw["serving"]["weight_dtype"] = "int4"
    assert scenario_from_dict(raw).serving.weight_bytes == 0.5
    raw["serving"]["weight_dtype"] = "bf16"
    with pytest.raises(ScenarioError, match=r"serving\.weight_dtype.*4 bits"):
        scenario_from_dict(raw)

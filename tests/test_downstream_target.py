"""A benchmark error as the target (Gadre et al. 2024, arXiv 2403.08540): Err(L) =
ε − k·exp(−γ·L) is monotone in the loss, so ``[target] error`` is the loss target of the
inverse mapping, the plan stays certified, and its shadow price is per unit of error
(against a finite difference); errors the mapping cannot reach are refused, naming the key."""
import copy
import math

import pytest

from lifecycle_opt import solve
from lifecycle_opt.errors import InfeasibleError, ScenarioError
from lifecycle_opt.scenario.reader import scenario_from_dict

EPS, K, GAMMA = 0.85, 2.0, 0.6          # the example mapping

BASE = {"name": "benchmark", "law": {"preset": "hoffmann2022"}, "target": {"error": 0.45},
        "downstream": {"epsilon": EPS, "k": K, "gamma": GAMMA}, "objective": {"minimize": "cost"},
        "inference": {"tokens": "2T"},
        "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.5},
                     "inference": {"gpu": "H100", "dtype": "fp8", "mfu": 0.1, "price_per_gpu_hour": 2.5}}}


def loss_of(error):
    """The inverse mapping, written out: L = −log((ε − Err)/k)/γ."""
    return -math.log((EPS - error) / K) / GAMMA


def test_an_error_target_is_the_loss_target_of_the_inverse_mapping():
    by_error = solve(scenario_from_dict(BASE))
    raw = copy.deepcopy(BASE)
    raw["target"] = {"loss": loss_of(0.45)}
    del raw["downstream"]
    by_loss = solve(scenario_from_dict(raw))
    assert by_error.params == pytest.approx(by_loss.params, rel=1e-9)
    assert by_error.tokens == pytest.approx(by_loss.tokens, rel=1e-9)
    d = by_error.as_dict()
    assert d["target_error"] == 0.45 and d["error"] == pytest.approx(0.45, rel=1e-12)
    assert d["target_loss"] == pytest.approx(loss_of(0.45), rel=1e-14)
    assert by_error.certificate.kkt_residual <= 1e-9


def test_the_shadow_price_is_per_unit_of_error():
    def cost(error):
        raw = copy.deepcopy(BASE)
        raw["target"]["error"] = error
        return solve(scenario_from_dict(raw)).objective_value
    plan = solve(scenario_from_dict(BASE))
    b = {b.key: b for b in plan.binding}["target.error"]
    assert (b.setting, b.unit) == (0.45, "error")
    h = 1e-5
    fd = (cost(0.45 + h) - cost(0.45 - h)) / (2 * h)
    assert b.shadow_price < 0 and b.shadow_price == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("error, match", [
    (0.9, "reaches"),                      # at or above ε: no learning needed, out of the mapping
    (0.05, "irreducible"),                 # reachable by the mapping, but below Err(E) of the law
])
def test_an_error_out_of_reach_is_refused(error, match):
    raw = copy.deepcopy(BASE)
    raw["target"]["error"] = error
    with pytest.raises(ScenarioError, match=match) as info:
        scenario_from_dict(raw)
    assert info.value.key == "target.error"


def test_an_error_target_needs_a_mapping_and_one_target():
    raw = copy.deepcopy(BASE)
    del raw["downstream"]
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)
    assert info.value.key == "downstream"
    raw = copy.deepcopy(BASE)
    raw["target"]["loss"] = 2.0
    with pytest.raises(ScenarioError, match="exactly one of loss, reference or error"):
        scenario_from_dict(raw)
    raw = copy.deepcopy(BASE)
    raw["downstream"]["k"] = -1.0
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)
    assert info.value.key == "downstream.k"


def test_a_mapping_from_a_file(tmp_path):
    (tmp_path / "downstream.toml").write_text(f"[downstream]\nepsilon = {EPS}\nk = {K}\ngamma = {GAMMA}\n"
                                              'source = "a fit"\n')
    raw = copy.deepcopy(BASE)
    raw["downstream"] = {"file": "downstream.toml"}
    scenario = scenario_from_dict(raw, source=str(tmp_path / "scenario.toml"))
    assert scenario.target.loss == pytest.approx(loss_of(0.45), rel=1e-14)
    raw["downstream"] = {"file": "missing.toml"}
    with pytest.raises(ScenarioError):
        scenario_from_dict(raw, source=str(tmp_path / "scenario.toml"))


def test_an_unmeetable_error_is_explained_in_error():
    raw = copy.deepcopy(BASE)
    raw["target"]["error"] = 0.3
    raw["limits"] = {"max_params": "1B", "max_tokens_per_param": 100}
    with pytest.raises(InfeasibleError) as info:
        solve(scenario_from_dict(raw))
    (c,) = [c for c in info.value.conflicts if c.key == "target.error"]
    assert c.current == 0.3 and c.required > 0.3 and "benchmark error" in c.advice

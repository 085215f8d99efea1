"""The batch solver's parameters (lifecycle_opt/solvers/batch_data.py), read from the typed
constraints' batch forms: each limit in its shape, the tighter of two of one shape kept,
and whatever the batch solver cannot model marked for the exact path."""
import math

import pytest

from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import load_scenario, scenario_from_dict
from lifecycle_opt.solvers.batch_data import NO_NAME, batch_from_problems

from conftest import EXAMPLES

PRICED = {"hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0, "gpus": 1000},
                       "inference": {"gpu": "H100", "dtype": "bf16", "mfu": 0.3, "price_per_gpu_hour": 2.0}}}


def batch_of(raw):
    return batch_from_problems([build_problem(scenario_from_dict(raw))])


def test_two_caps_on_parameters_keep_the_tighter():
    # max_params 70B and serving memory 40 GB of bf16 weights (20B): the tighter binds the batch
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
           "inference": {"tokens": 1e12}, **PRICED, "limits": {"max_params": 7e10, "serving_memory": "40GB"}}
    b = batch_of(raw)
    assert b.x_le[0] == pytest.approx(math.log(20e9), rel=1e-15)
    assert b.names[b.x_le_name[0]] == "serving_memory"
    assert not b.unsupported[0]


def test_the_cost_objective_and_a_lifecycle_cap_in_their_coefficients():
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "cost"},
           "inference": {"tokens": 1e12}, **PRICED, "limits": {"max_total_cost": 1e8}}
    b = batch_of(raw)
    # by hand: $2/GPU-hour at 40 % (training) and 30 % (serving) of 989.4 TFLOP/s
    a = 6 * 2.0 / 3600 / (989.4e12 * 0.4)
    c = 2 * 1e12 * 2.0 / 3600 / (989.4e12 * 0.3)
    assert (b.a[0], b.b[0]) == (pytest.approx(a, rel=1e-14), pytest.approx(c, rel=1e-14))
    assert (b.cost_c1[0], b.cost_c2[0]) == (pytest.approx(a / 1e8, rel=1e-14), pytest.approx(c / 1e8, rel=1e-14))
    assert b.ratio_ge[0] == -math.inf and b.ratio_ge_name[0] == NO_NAME


@pytest.mark.parametrize("what", ["roofline serving", "quantised serving", "robust (two loss laws)"])
def test_what_the_batch_cannot_model_is_marked(what):
    if what == "roofline serving":
        problems = [build_problem(load_scenario(EXAMPLES / "serving_slo.toml"))]
    elif what == "quantised serving":
        raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "quantisation": {"bits": 4}}
        problems = [build_problem(scenario_from_dict(raw))]
    else:
        from lifecycle_opt.model.presets import preset
        scenario = scenario_from_dict({"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}})
        problems = [build_problem(scenario, extra_loss_laws=((0, preset("besiroglu2024")),))]
    assert bool(batch_from_problems(problems).unsupported[0])

"""The certificate (lifecycle_opt/solvers/certificate.py): the Newton polish on the KKT
conditions reaches the closed-form optimum from a point off it, and the relative KKT
residual is zero at the optimum and grows with the distance from it."""
import math

import numpy as np
import pytest

from lifecycle_opt.model.presets import preset
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.schema import Budget, Scenario, Target
from lifecycle_opt.solvers.certificate import kkt_residual, polish

LAW = preset("hoffmann2022")


def _compute_optimal_problem(flops):
    """Minimise the loss at C = 6·N·D: the closed form of Hoffmann et al. 2022 (App. D.2)."""
    scenario = Scenario(name="c", law=LAW, objective="loss", budget=Budget(training_flops=flops))
    return build_problem(scenario)


@pytest.mark.parametrize("flops", [1e21, 5.76e23, 1e26])
def test_the_polish_reaches_the_closed_form_optimum(flops):
    problem = _compute_optimal_problem(flops)
    N, D = LAW.compute_optimal(flops)
    start = np.log([float(N) * 3.0, float(D) / 2.0])          # off the optimum, off the budget
    z, nu, residual = polish(problem, start)
    assert residual <= 1e-12
    assert math.exp(z[0]) == pytest.approx(float(N), rel=1e-10)
    assert math.exp(z[1]) == pytest.approx(float(D), rel=1e-10)
    # one active constraint, the budget, with ν = dL/dlog C > 0 (the loss falls with compute)
    assert nu[0] > 0


def test_the_residual_is_zero_only_at_the_optimum():
    problem = _compute_optimal_problem(1e23)
    z, nu, _ = polish(problem, np.log([1e10, 2e11]))
    assert kkt_residual(problem, z, nu) <= 1e-12
    # along the budget, away from the optimum: stationarity fails, more the farther
    moved = [kkt_residual(problem, z + np.array([t, -t]), nu) for t in (1e-4, 1e-2, 1e-1)]
    assert 0 < moved[0] < moved[1] < moved[2]
    # a negative multiplier is no certificate
    assert kkt_residual(problem, z, -nu) > 0.5


def test_a_cost_objective_under_a_target_in_closed_form():
    # minimise 6·N·D under L ≤ L_t without demand: the compute-optimal plan of that loss
    scenario = Scenario(name="t", law=LAW, objective="flops", target=Target(loss=2.0))
    problem = build_problem(scenario)
    z, nu, residual = polish(problem, np.log([1e9, 1e11]))
    N, D = LAW.compute_optimal_at_loss(2.0)
    assert residual <= 1e-12
    assert (math.exp(z[0]), math.exp(z[1])) == (pytest.approx(float(N), rel=1e-10), pytest.approx(float(D), rel=1e-10))

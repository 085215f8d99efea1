"""The cvxpy path (lifecycle_opt/solvers/conic.py): the geometric program and the
tangent-plane cuts reach the closed-form optimum, independently of the batch solver."""
import math

import numpy as np
import pytest

from lifecycle_opt.model.presets import preset
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.schema import Budget, DataLimits, Scenario, Target
from lifecycle_opt.solvers.conic import solve_cvxpy

LAW = preset("hoffmann2022")


def test_the_geometric_program_finds_the_compute_optimal_plan():
    problem = build_problem(Scenario(name="gp", law=LAW, objective="loss", budget=Budget(training_flops=1e22)))
    z, duals, method = solve_cvxpy(problem, np.log([1e9, 1e11]))
    N, D = LAW.compute_optimal(1e22)                              # Hoffmann et al. 2022, App. D.2
    assert method.startswith("cvxpy-gp")
    assert math.exp(z[0]) == pytest.approx(float(N), rel=1e-7) and math.exp(z[1]) == pytest.approx(float(D), rel=1e-7)


def test_the_cuts_meet_a_penalised_target_where_the_loss_binds():
    scenario = Scenario(name="cuts", law=preset("muennighoff2023"), objective="flops", target=Target(loss=2.6),
                        data=DataLimits(unique_tokens=2e9, repetition_penalty=True))
    problem = build_problem(scenario)
    z, _, method = solve_cvxpy(problem, np.log([1e8, 1e10]))
    assert method.startswith("cvxpy-cuts")
    N, D = math.exp(z[0]), math.exp(z[1])
    assert float(scenario.loss_law.loss(N, D)) == pytest.approx(2.6, rel=1e-7)
    # optimal: a plan 1 % smaller in either direction along the boundary costs more
    for dx in (-0.01, 0.01):
        Nx = N * math.exp(dx)
        lo, hi = math.log(D) - 3, math.log(D) + 3
        for _ in range(100):                                     # the D that meets the target at Nx
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if scenario.loss_law.loss(Nx, math.exp(mid)) <= 2.6 else (mid, hi)
        assert Nx * math.exp(hi) >= N * D * (1 - 1e-6)

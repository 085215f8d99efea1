"""The batch solver's multipliers (lifecycle_opt/solvers/batch_kkt.py) against the
stationarity system solved by hand, one and two active constraints."""
import numpy as np
import pytest

from lifecycle_opt.solvers.batch_kkt import multipliers


def test_one_and_two_active_constraints():
    grad_phi = np.array([[0.3, 0.7], [0.5, 0.5]])
    g1 = np.array([[-0.2, -0.6], [1.0, 0.0]])
    g2 = np.array([[0.0, 0.0], [0.0, 1.0]])
    nu, residual = multipliers(grad_phi, g1, g2, np.array([False, True]))
    # plan 0: ∇φ = −ν1·g1 in least squares; plan 1: [g1 g2]ν = −∇φ exactly
    expected0 = -(grad_phi[0] @ g1[0]) / (g1[0] @ g1[0])
    assert nu[0, 0] == pytest.approx(expected0, rel=1e-14) and nu[0, 1] == 0
    assert nu[1] == pytest.approx([-0.5, -0.5], rel=1e-14)
    # plan 0's stationarity holds only in least squares: a residual; plan 1 solves exactly
    # but its multipliers are negative: dual infeasible
    assert residual[0] > 0 and residual[1] == pytest.approx(0.5, rel=1e-12)


def test_an_exact_vertex_has_a_zero_residual():
    g1, g2 = np.array([[1.0, 1.0]]), np.array([[0.0, 1.0]])
    grad_phi = -(2.0 * g1 + 3.0 * g2)
    nu, residual = multipliers(grad_phi, g1, g2, np.array([True]))
    assert nu[0] == pytest.approx([2.0, 3.0], rel=1e-14) and residual[0] == pytest.approx(0.0, abs=1e-15)

"""The one posynomial type (lifecycle_opt/model/posynomial.py): its value in natural units
against the sum written out, its log form's gradient and Hessian against finite
differences, and the building blocks the model uses."""
import math

import numpy as np
import pytest

from lifecycle_opt.model.posynomial import Posynomial, monomial


def test_value_is_the_sum_of_its_monomials():
    p = monomial(3.0, N=1, D=-0.5) + monomial(2.0, B=1, G=-1, t=2)
    N, D, B, G, t = 7e9, 1.4e12, 64.0, 8.0, 0.02
    assert p.value(N, D, B, G, t) == pytest.approx(3 * N / math.sqrt(D) + 2 * B / G * t * t, rel=1e-15)
    # arrays broadcast
    Ns = np.array([1e9, 1e10])
    assert np.allclose(p.value(Ns, D, B, G, t), [p.value(n, D, B, G, t) for n in Ns], rtol=1e-15)


def test_log_value_gradient_and_hessian_match_finite_differences():
    p = monomial(406.4, N=-0.34) + monomial(410.7, D=-0.28) + monomial(1e-3, N=0.5, D=0.2)
    z = np.log([7e9, 1.4e12])
    h, g, H = p.log_value(z)
    assert h == pytest.approx(math.log(p.value(*np.exp(z))), rel=1e-14)
    step = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = step
        up, down = p.log_value(z + e), p.log_value(z - e)
        assert g[i] == pytest.approx((up[0] - down[0]) / (2 * step), rel=1e-7)
        assert H[:, i] == pytest.approx((up[1] - down[1]) / (2 * step), rel=1e-6, abs=1e-9)


def test_a_serving_term_cannot_be_evaluated_without_its_variables():
    with pytest.raises(ValueError, match="evaluated over"):
        monomial(1.0, B=1).log_value(np.zeros(2))
    assert monomial(1.0, B=1).dimension == 3 and monomial(1.0, D=1).dimension == 2


def test_building_blocks():
    p = monomial(2.0, N=1) + monomial(5.0, N=1) + monomial(1.0, N=1, D=1)
    assert p.coefficient(N=1) == 7.0 and p.coefficient(N=1, D=1) == 1.0 and p.coefficient(D=1) == 0.0
    assert p.scaled(2.0).coefficient(N=1) == 14.0
    assert p.times(3.0, t=-1).value(2.0, 1.0, t=4.0) == pytest.approx(p.value(2.0, 1.0) * 3 / 4, rel=1e-15)
    fixed = (monomial(2.0, N=1, B=1) + monomial(1.0, G=-1)).fixed(N=10.0, G=4.0)
    assert fixed.value(1.0, B=3.0) == pytest.approx(2 * 10 * 3 + 1 / 4, rel=1e-15)
    assert not fixed.depends_on("N") and fixed.depends_on("B")
    # zero coefficients are dropped (an empty prompt's attention term), negative ones refused
    assert Posynomial(((0.0, 1, 0, 0, 0, 0),)).terms == ()
    with pytest.raises(ValueError, match="positive"):
        monomial(-1.0, N=1)
    with pytest.raises(ValueError, match="unknown posynomial variables"):
        monomial(1.0, Q=1)

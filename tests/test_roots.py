"""The vectorised root finders against roots known in closed form."""
import numpy as np

from lifecycle_opt.solvers.roots import bracket, bracketed_root, newton


def test_newton_finds_many_logs_at_once():
    # f(y) = e^y − a is increasing with its root at log a (a closed form)
    a = np.geomspace(1e-6, 1e6, 200)

    def fun(y, j):
        return np.exp(y) - a[j], np.exp(y)
    roots = newton(fun, np.zeros(a.size), np.full(a.size, -np.inf), np.full(a.size, np.inf))
    assert np.max(np.abs(roots - np.log(a))) <= 1e-13


def test_newton_stays_in_its_bracket_on_a_convex_function():
    # f(y) = y³ + y − c: increasing, convex on the right; root by Cardano's formula
    c = np.linspace(-50, 50, 101)
    exact = np.cbrt(c / 2 + np.sqrt(c ** 2 / 4 + 1 / 27)) + np.cbrt(c / 2 - np.sqrt(c ** 2 / 4 + 1 / 27))

    def fun(y, j):
        return y ** 3 + y - c[j], 3 * y ** 2 + 1
    roots = newton(fun, np.full(c.size, 10.0), np.full(c.size, -10.0), np.full(c.size, 10.0))
    assert np.max(np.abs(roots - exact)) <= 1e-12


def test_the_bracket_then_the_regula_falsi_find_a_kinked_root():
    # f(y) = max(y − r, 2(y − r)): increasing with a kink at its root r
    r = np.linspace(-3, 7, 41)

    def fun(y, i):
        return np.maximum(y - r[i], 2 * (y - r[i]))
    lo, hi, flo, fhi, found = bracket(fun, np.full(r.size, -5.0), +1)
    assert found.all() and (lo <= r).all() and (r <= hi).all()
    roots = bracketed_root(fun, lo, hi, flo, fhi)
    assert np.max(np.abs(roots - r)) <= 1e-12

"""Step-size rules: the error analysis in fastfd.steps, checked numerically."""

import math

import numpy as np
import pytest

from fastfd.steps import optimal_step, realized_step, step_base, step_rule

EPS = np.finfo(np.float64).eps
EPS32 = float(np.finfo(np.float32).eps)


def _pow2_floor(v):
    return 2.0 ** math.floor(math.log2(v))


@pytest.mark.parametrize("scheme, order, accuracy, power", [
    ("forward", 1, 1, 1 / 2),
    ("backward", 1, 1, 1 / 2),
    ("centered", 1, 2, 1 / 3),
    ("centered", 2, 2, 1 / 4),
    ("centered", 1, 4, 1 / 5),
    ("forward", 3, 2, 1 / 5),
])
@pytest.mark.parametrize("x", [0.0, 0.5, -1.0, 3.7, -1e4, 1e200])
def test_rule_is_eps_power_times_scale_rounded_down(scheme, order, accuracy, power, x):
    h = optimal_step(x, scheme, order=order, accuracy=accuracy)
    target = EPS ** power * max(1.0, abs(x))
    assert h == _pow2_floor(target)
    assert target / 2 < h <= target
    assert isinstance(h, float)


def test_array_matches_scalar_and_keeps_shape():
    x = np.array([[0.0, -2.5, 7.0], [1e-3, 1e9, -1e300]])
    h = optimal_step(x)
    assert h.shape == x.shape and h.dtype == np.float64
    for xi, hi in zip(x.ravel(), h.ravel()):
        assert hi == optimal_step(float(xi))
    assert np.array_equal(optimal_step([1, 2]), optimal_step([1.0, 2.0]))


def test_float32_steps():
    h = optimal_step(np.float32(1.0))
    assert isinstance(h, np.float32)
    assert h == np.float32(_pow2_floor(EPS32 ** (1 / 3)))
    # float32 f on float64 x: the lower precision decides
    hx = optimal_step(np.array([1.0, 4.0]), dtype=np.float32)
    assert hx.dtype == np.float32
    assert hx[0] == np.float32(_pow2_floor(EPS32 ** (1 / 3)))
    assert hx[1] == np.float32(_pow2_floor(4 * EPS32 ** (1 / 3)))
    assert optimal_step(1.0, dtype=np.complex64) == hx[0]
    assert optimal_step(1.0, dtype=np.float64) == _pow2_floor(EPS ** (1 / 3))


def test_non_finite_x_gives_non_finite_or_default_step():
    h = optimal_step([np.inf, 1.0])
    assert np.isinf(h[0]) and np.isfinite(h[1])


def test_power_of_two_step_makes_points_exact():
    rng = np.random.default_rng(0)
    x = rng.uniform(-50, 50, 1000)
    h = optimal_step(x)
    # x + h - x recovers h exactly in almost every case; the realized step is
    # what the derivative code divides by either way.
    assert np.mean((x + h) - x == h) > 0.95
    assert np.array_equal(realized_step(x, h, -1, 1), ((x + h) - (x - h)) / 2)


def test_njit_rule_is_the_numpy_rule():
    # the NumPy rule (Python paths) and the compiled copy (kernels) agree
    # bit for bit, the edge values included
    from fastfd._kernels.steps import step_rule as kernel_rule
    base = step_base(EPS, 2, 2)
    assert base == EPS ** 0.25
    for x in (0.0, 2.0, -33.3):
        assert step_rule(x, base) == optimal_step(x, order=2)
    xs = np.array([0.0, 0.5, 1.0, 1.0 + 2 ** -52, 3.7, -1e300, 1e-300, np.inf, -np.inf,
                   np.nan, 2.0 ** 40 + 3.0], dtype=np.float64)
    mine = step_rule(xs, base)
    theirs = np.array([kernel_rule(x, base) for x in xs])
    np.testing.assert_array_equal(mine, theirs)
    assert [step_rule(float(x), base) for x in xs[:9]] == list(mine[:9])


def test_second_derivative_h_sweep_minimum_near_eps_quarter():
    """The seed says eps**(1/3) for second derivatives; the analysis says eps**(1/4)."""
    f = lambda x: x**4 - 2 * x**2  # noqa: E731
    x0 = np.linspace(0.3, 1.9, 41)
    exact = 12 * x0**2 - 4
    hs = 2.0 ** -np.arange(4, 30, 0.5)
    errs = np.array([np.median(np.abs((f(x0 + h) - 2 * f(x0) + f(x0 - h)) / h**2 - exact))
                     for h in hs])
    h_best = hs[np.argmin(errs)]
    # minimum within a factor 8 of eps**(1/4) = 1.2e-4, far from eps**(1/3) = 6e-6
    assert EPS ** 0.25 / 8 <= h_best <= EPS ** 0.25 * 8
    assert abs(math.log10(h_best) - math.log10(EPS ** 0.25)) < abs(
        math.log10(h_best) - math.log10(EPS ** (1 / 3)))
    err_quarter = np.interp(math.log(EPS ** 0.25), np.log(hs[::-1]), errs[::-1])
    err_third = np.interp(math.log(EPS ** (1 / 3)), np.log(hs[::-1]), errs[::-1])
    assert err_third > 10 * err_quarter
    # the automatic step lands near the minimum
    assert np.max(np.abs(optimal_step(x0, order=2) / h_best)) < 8


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((1.0, "sideways"), {}, ValueError, "scheme must be one of .*'sideways'"),
    ((1.0,), {"accuracy": 3}, ValueError, "accuracy must be even.*3"),
    ((1.0,), {"order": 0}, ValueError, "order must be >= 1, got 0"),
    ((1.0,), {"order": 1.5}, TypeError, "order must be an integer"),
    ((1.0,), {"accuracy": 0}, ValueError, "accuracy must be >= 1, got 0"),
    (("abc",), {}, TypeError, "x must be real numbers"),
    ((1 + 2j,), {}, TypeError, "x must be real numbers, got dtype complex128"),
    ((True,), {}, TypeError, "x must be real numbers, got True"),
    ((np.array([True, False]),), {}, TypeError, "x must be real numbers, got dtype bool"),
    ((1.0,), {"dtype": "U3"}, TypeError, "dtype must be a numeric dtype"),
    (("centered", 1.0), {}, TypeError,
     r"x must be real numbers, got 'centered': x comes first, optimal_step\(x, 'centered'\)"),
    (("forward",), {"accuracy": 1}, TypeError,
     r"got 'forward': x comes first, optimal_step\(x, 'forward'\)"),
])
def test_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        optimal_step(*args, **kwargs)

"""fastfd.derivative: derivatives of functions.

References are independent of the code under test: the seed chapter's formulas
written out literally, analytic derivatives, scipy.optimize's Rosenbrock
derivatives. Jitted test functions are few on purpose: every distinct jitted
``f`` compiles the kernels again (about a second each).
"""

import math
import warnings
from fractions import Fraction

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastfd.functions as D    # public names as D.<name>
from fastfd import _config
from fastfd.functions import _evaluate, _stencil
from fastfd.steps import optimal_step

EPS = np.finfo(np.float64).eps


def seed_f(x):
    return x**4 - 2 * x**2


def seed_fp(x):
    return 4 * x**3 - 4 * x


def seed_fpp(x):
    return 12 * x**2 - 4


# The same arithmetic as a jitted function and its NumPy twin (products, not
# pow, so both evaluate bit for bit the same and the paths can be compared
# exactly). The raise branch serves the error-propagation tests.
def _poly(x):
    if x > 1e6:
        raise ValueError("poly: x too large")
    return x * x * x * x - 2.0 * x * x


poly_jit = numba.njit(_poly)


def poly_np(x):
    return x * x * x * x - 2.0 * x * x


@numba.njit
def expsin_jit(x):
    return np.exp(x) * np.sin(x)


def expsin(x):
    return np.exp(x) * np.sin(x)


def expsin_p(x):
    return np.exp(x) * (np.sin(x) + np.cos(x))


@numba.njit
def rosen_jit(x):
    if x[0] > 1e6:
        raise ValueError("rosen: x[0] too large")
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@numba.njit
def vec_jit(x):
    if x[0] > 1e6:
        return np.zeros(x.shape[0])
    return np.array([x[0] * x[1], np.sin(x[0]), x[1] ** 3])


def vec_np(x):
    return np.array([x[0] * x[1], np.sin(x[0]), x[1] ** 3])


def vec_jac(x):
    return np.array([[x[1], x[0]], [np.cos(x[0]), 0.0], [0.0, 3 * x[1] ** 2]])


@pytest.fixture(autouse=True)
def _no_warnings():
    """Numba's warnings (caching, parallel diagnostics) must not reach users."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------ seed numbers

def test_seed_numbers_and_formulas_python_f():
    x0, h = 1.3, 1e-5
    fwd = D.forward_diff(seed_f, x0, h)
    cen = D.centered_diff(seed_f, x0, h)
    bwd = D.backward_diff(seed_f, x0, h)
    # the seed's formulas, literally, in the seed's order of operations
    assert fwd == (seed_f(x0 + h) - seed_f(x0)) / h
    assert bwd == (seed_f(x0) - seed_f(x0 - h)) / h
    assert cen == (seed_f(x0 + h) - seed_f(x0 - h)) / (2 * h)
    # the seed's numbers, as bounds where their digits follow libm: 8.14e-05
    # is truncation (h f''/2 = 8.1400e-5, thousands of roundoffs from a
    # rounding boundary); 5.32e-10 is truncation h**2 f'''/6 = 5.2e-10 plus
    # ~1e-11 of roundoff per ulp of f; 4.43e-07 below is roundoff, ~1e-7 per ulp
    assert f"{abs(fwd - seed_fp(x0)):.2e}" == "8.14e-05"
    assert 5.2e-10 - 1e-10 < abs(cen - seed_fp(x0)) < 5.2e-10 + 1e-10
    x = np.linspace(-2, 2, 200)
    sd = D.second_derivative(seed_f, x, 1e-4)
    h = 1e-4
    assert np.array_equal(sd, (seed_f(x + h) - 2 * seed_f(x) + seed_f(x - h)) / h**2)
    assert 1e-7 < np.abs(sd - seed_fpp(x)).max() < 1e-6


def test_seed_numbers_jitted_f_two_digits():
    x0, h = 1.3, 1e-5
    assert f"{abs(D.forward_diff(poly_jit, x0, h) - seed_fp(x0)):.1e}" == "8.1e-05"
    # the centered error at h=1e-5 is truncation 5.2e-10 plus roundoff of a
    # few 1e-11 that depends on how f rounds: Python's x**4 gives the seed's
    # 5.32e-10 (libm pow), poly_jit's products 5.5e-10 (IEEE products only,
    # the same on every machine, as is the second difference's 4.4e-07 below)
    err = abs(D.centered_diff(poly_jit, x0, h) - seed_fp(x0))
    assert err == abs(D.centered_diff(poly_np, x0, h) - seed_fp(x0))
    assert abs(err - 5.32e-10) < 0.3e-10
    x = np.linspace(-2, 2, 200)
    err = np.abs(D.second_derivative(poly_jit, x, 1e-4) - seed_fpp(x)).max()
    assert f"{err:.1e}" == "4.4e-07"


@pytest.mark.parametrize("f", [seed_f, poly_jit], ids=["python", "jitted"])
def test_automatic_steps_on_seed_function(f):
    for x0 in (1.3, -0.7, 2.9, 40.0):
        assert abs(D.forward_diff(f, x0) / seed_fp(x0) - 1) <= 1e-7
        assert abs(D.backward_diff(f, x0) / seed_fp(x0) - 1) <= 1e-7
        assert abs(D.centered_diff(f, x0) / seed_fp(x0) - 1) <= 1e-9
        assert abs(D.second_derivative(f, x0) / seed_fpp(x0) - 1) <= 1e-6
    # the seed's fixed steps are 100x (forward) and 10x (centered) worse
    assert abs(D.forward_diff(seed_f, 1.3, 1e-5) / seed_fp(1.3) - 1) > 1e-5
    assert abs(D.centered_diff(seed_f, 1.3, 1e-5) / seed_fp(1.3) - 1) > 1e-10


def test_automatic_step_divides_by_realized_step():
    x0 = 0.1  # 0.1 + h is inexact for almost every h
    h = optimal_step(x0)
    span = (x0 + h) - (x0 - h)
    expected = (poly_np(x0 + h) - poly_np(x0 - h)) / span
    assert D.centered_diff(poly_np, x0) == expected
    assert D.centered_diff(poly_jit, x0) == expected
    hf = optimal_step(x0, "forward", accuracy=1)
    assert D.forward_diff(poly_np, x0) == (poly_np(x0 + hf) - poly_np(x0)) / ((x0 + hf) - x0)


# ----------------------------------------------------- paths agree exactly

POINTS = np.array([-1.7, -0.3, 0.0, 0.45, 1.3, 2.2, 75.0])


@pytest.mark.parametrize("kwargs", [
    {},
    {"order": 2},
    {"order": 3, "accuracy": 4},
    {"order": 4, "accuracy": 2, "scheme": "forward"},
    {"order": 1, "accuracy": 3, "scheme": "backward", "h": 1e-3},
    {"method": "richardson"},
])
def test_jitted_python_and_scalar_paths_agree_bitwise(kwargs):
    a = D.derivative(poly_jit, POINTS, **kwargs)
    b = D.derivative(poly_np, POINTS, **kwargs)
    c = D.derivative(lambda t: poly_np(float(t)), POINTS, vectorized=False, **kwargs)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_parallel_points_equal_serial_bitwise(monkeypatch):
    x = np.linspace(-3, 3, 10_001)
    serial = D.centered_diff(poly_jit, x)
    serial_h = D.derivative(poly_jit, x, order=2, h=1e-3)
    serial_c = D.derivative(expsin_jit, x, method="complex")
    monkeypatch.setattr(_config, "PARALLEL_MIN", 100)
    assert np.array_equal(D.centered_diff(poly_jit, x), serial)
    assert np.array_equal(D.derivative(poly_jit, x, order=2, h=1e-3), serial_h)
    assert np.array_equal(D.derivative(expsin_jit, x, method="complex"), serial_c)
    xv = np.array([0.7, -1.2])
    assert np.array_equal(D.jacobian(vec_jit, xv, parallel=True),
                          D.jacobian(vec_jit, xv, parallel=False))


# ----------------------------------------------------------- numerics

def _int_poly(degree):
    coef = np.arange(1, degree + 2, dtype=np.float64) * np.array([1, -1] * (degree + 1))[
        :degree + 1]
    return np.polynomial.Polynomial(coef)


CASES = [(d, p, s) for d in (1, 2, 3, 4) for s in ("centered", "forward", "backward")
         for p in ((2, 4) if s == "centered" else (1, 2, 3))]


@pytest.mark.parametrize("order, accuracy, scheme", CASES)
def test_polynomial_exactness(order, accuracy, scheme):
    """Exact for degree < order + accuracy, and not for degree order + accuracy."""
    x = np.arange(-3.0, 4.0)
    h = 0.5  # integer points and a power-of-two step: every f value is exact
    top = order + accuracy - 1
    for degree in range(top + 1):
        P = _int_poly(degree)
        got = D.derivative(P, x, order=order, accuracy=accuracy, scheme=scheme, h=h)
        assert np.array_equal(got, P.deriv(order)(x)), degree
    P = _int_poly(top + 1)
    got = D.derivative(P, x, order=order, accuracy=accuracy, scheme=scheme, h=h)
    assert not np.allclose(got, P.deriv(order)(x), rtol=1e-12, atol=0)


@pytest.mark.parametrize("order, accuracy, scheme", [
    (1, 1, "forward"), (1, 2, "backward"), (1, 2, "centered"), (1, 4, "centered"),
    (2, 2, "centered"), (2, 1, "forward"), (3, 2, "centered"), (4, 2, "centered"),
    (2, 4, "centered"), (3, 3, "backward"),
])
def test_convergence_slope(order, accuracy, scheme):
    x0 = 0.3
    exact = math.exp(x0)
    hs = 2.0 ** -np.arange(3, 7)
    errs = [abs(D.derivative(np.exp, x0, order=order, accuracy=accuracy, scheme=scheme,
                             h=h) - exact) for h in hs]
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - accuracy) <= 0.2, slope


def test_second_derivative_error_vs_h_minimum_near_eps_quarter():
    x0 = np.linspace(0.4, 1.9, 31)
    hs = 2.0 ** -np.arange(6, 26)
    errs = [np.median(np.abs(D.second_derivative(seed_f, x0, h) - seed_fpp(x0))) for h in hs]
    best = hs[int(np.argmin(errs))]
    assert EPS ** 0.25 / 8 <= best <= EPS ** 0.25 * 8
    auto = np.median(np.abs(D.second_derivative(seed_f, x0) - seed_fpp(x0)))
    at_third = np.median(np.abs(D.second_derivative(seed_f, x0, EPS ** (1 / 3)) - seed_fpp(x0)))
    assert auto < at_third / 10


def test_float32_and_float64():
    x32 = np.linspace(0.5, 2.0, 7, dtype=np.float32)
    x64 = x32.astype(np.float64)
    r32 = D.derivative(np.exp, x32, full_output=True)
    assert r32.value.dtype == np.float32 and r32.step.dtype == np.float32
    assert np.array_equal(r32.step, optimal_step(x32))
    assert np.max(np.abs(r32.value / np.exp(x64) - 1)) < 2e-4
    r64 = D.derivative(np.exp, x64)
    assert r64.dtype == np.float64 and np.max(np.abs(r64 / np.exp(x64) - 1)) < 1e-9
    # float64 x with an f computing in float32: float32-sized steps
    f32 = lambda t: np.exp(np.asarray(t, dtype=np.float32))  # noqa: E731
    r = D.derivative(f32, x64, full_output=True)
    assert np.array_equal(r.step, optimal_step(x64, dtype=np.float32))
    assert np.max(np.abs(r.value / np.exp(x64) - 1)) < 2e-4
    # with float64 steps the float32 roundoff would swamp the result
    assert np.max(np.abs(D.centered_diff(f32, x64, 1e-8) / np.exp(x64) - 1)) > 1e-2
    # jitted, float32 points: float32 arithmetic in the kernel
    vj = D.second_derivative(expsin_jit, x32)
    ref = 2 * np.exp(x64) * np.cos(x64)
    assert vj.dtype == np.float32
    # float32 roundoff of a second difference: eps32 * |f| / h**2 ~ 1e-3 here
    assert np.allclose(vj, D.second_derivative(expsin, x32), rtol=0, atol=5e-3)
    assert np.max(np.abs(vj / ref - 1)) < 1e-2
    # a jitted f that promotes to float64 (the literal 2.0): float64 result,
    # float32-sized steps (x is float32)
    r = D.derivative(poly_jit, x32, full_output=True)
    assert r.value.dtype == np.float64 and r.step.dtype == np.float64
    assert np.array_equal(r.step, optimal_step(x32))
    assert isinstance(D.forward_diff(seed_f, np.float32(1.3)), np.float32)
    # integers are points too
    assert D.centered_diff(poly_np, [1, 2]).dtype == np.float64


def test_scalar_and_array_shapes_and_h_broadcasting():
    v = D.centered_diff(seed_f, 1.3)
    assert np.ndim(v) == 0 and isinstance(v, np.float64)
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    assert D.centered_diff(poly_jit, x).shape == (2, 3)
    assert D.centered_diff(seed_f, x).shape == (2, 3)
    h = np.array([1e-3, 1e-4, 1e-5])
    got = D.centered_diff(poly_np, x, h)
    for idx in np.ndindex(2, 3):
        assert got[idx] == D.centered_diff(poly_np, x[idx], h[idx[1]])
    assert np.array_equal(D.centered_diff(poly_jit, x, h), got)
    # h with more dimensions broadcasts the result
    assert D.centered_diff(seed_f, 1.3, [1e-3, 1e-4]).shape == (2,)
    # non-contiguous and read-only x; x is never modified
    xs = np.linspace(0, 3, 20)[::3]
    xs.flags.writeable = False
    keep = xs.copy()
    assert np.array_equal(D.centered_diff(poly_jit, xs), D.centered_diff(poly_np, keep))
    assert np.array_equal(xs, keep)


def test_empty_points():
    assert D.centered_diff(seed_f, np.array([])).shape == (0,)
    assert D.centered_diff(poly_jit, np.array([])).shape == (0,)


@settings(max_examples=30, deadline=None)
@given(st.floats(-50, 50), st.sampled_from([1, 2, 3]), st.sampled_from([2, 4]))
def test_property_python_matches_jitted_and_analytic(x0, order, accuracy):
    a = D.derivative(poly_np, x0, order=order, accuracy=accuracy)
    b = D.derivative(poly_jit, np.array([x0]), order=order, accuracy=accuracy)[0]
    assert a == b
    exact = [seed_fp, seed_fpp, lambda t: 24 * t][order - 1](x0)
    scale = max(1.0, abs(x0)) ** (4 - order) * 30
    assert abs(a - exact) <= scale * 1e-4


# -------------------------------------------------- oracles, complex, Richardson

def test_x99_relative():
    f = lambda x: x**99 - 1  # noqa: E731
    fp = 99 * 7.0**98
    assert abs(D.centered_diff(f, 7.0) / fp - 1) < 1e-7
    assert abs(D.forward_diff(f, 7.0) / fp - 1) < 1e-6
    assert abs(D.second_derivative(f, 7.0) / (99 * 98 * 7.0**97) - 1) < 1e-5
    assert abs(D.derivative(f, 7.0, method="complex") / fp - 1) < 1e-15
    assert abs(D.derivative(f, 7.0, method="richardson") / fp - 1) < 1e-14


@pytest.mark.parametrize("f", [expsin, expsin_jit], ids=["python", "jitted"])
def test_complex_step_exp_sin(f):
    x = np.array([-2.0, 0.5, 1.0, 3.0, 10.0])
    got = D.derivative(f, x, method="complex")
    assert np.max(np.abs(got / expsin_p(x) - 1)) <= 1e-14
    r = D.derivative(f, 1.0, method="complex", full_output=True)
    assert abs(r.value / expsin_p(1.0) - 1) <= 1e-14
    assert r.nfev == 1 and r.error == EPS * abs(r.value) and r.step == EPS


def test_scalar_only_f_with_vectorized_false():
    x = np.array([0.3, 1.1])
    got = D.centered_diff(math.sin, x, vectorized=False)
    assert np.allclose(got, np.cos(x), rtol=1e-9)
    assert abs(D.centered_diff(math.sin, 0.3) - math.cos(0.3)) < 1e-9


def test_complex_step_scalar_only_f_and_float32():
    got = D.derivative(lambda z: np.exp(z) * np.sin(z), [1.0, 2.0], method="complex",
                       vectorized=False)
    assert np.max(np.abs(got / expsin_p(np.array([1.0, 2.0])) - 1)) <= 1e-14
    g32 = D.derivative(np.exp, np.float32(1.0), method="complex")
    assert isinstance(g32, np.float32) and abs(g32 / np.e - 1) < 1e-6
    assert D.derivative(lambda z: 3.0 + 0 * z, 1.0, method="complex") == 0.0
    # explicit steps, broadcast over a 2-D x, on every path
    x = np.array([[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]])
    h = np.array([1e-20, 1e-10, 1e-30])
    ref = expsin_p(x)
    for f, kw in ((expsin, {}), (expsin, {"vectorized": False}), (expsin_jit, {})):
        r = D.derivative(f, x, method="complex", h=h, full_output=True, **kw)
        assert r.value.shape == (2, 3) and np.array_equal(r.step, np.broadcast_to(h, (2, 3)))
        assert np.max(np.abs(r.value / ref - 1)) <= 1e-14


# Richardson's error estimate against the true error. References are exact:
# Fractions for polynomials, long double (64-bit mantissa on x86) for the
# transcendental functions, so the true error of a result accurate to 1e-16
# is measured, not the reference's own rounding. The d/dx and d/dy slices of
# sin(x - y) + y*exp(x) at (1, 1) use the float64 constant
# exp(1.0), as the function does.
LD = np.longdouble
EXTENDED = np.finfo(LD).eps < 1e-18
E1 = np.exp(1.0)


def sinxy_dx(x):
    return np.sin(x - 1.0) + np.exp(x)


def sinxy_dy(y):
    return np.sin(1.0 - y) + y * E1


def x99(x):
    return x**99 - 1


def _frac_poly(coeffs):
    """Exact derivative references for polynomials, as Fractions."""
    def ref(x):
        return [sum(c * Fraction(float(t)) ** k for k, c in coeffs) for t in np.atleast_1d(x)]
    ref.exact = True
    return ref


# name: (f, order, exact derivative, pinned point, interval for the sweep)
RICH = {
    "seed d1": (seed_f, 1, _frac_poly([(3, 4), (1, -4)]), 1.3, (-2.0, 2.0)),
    "seed d2": (seed_f, 2, _frac_poly([(2, 12), (0, -4)]), 1.3, (-2.0, 2.0)),
    "expsin d1": (expsin, 1, lambda x: np.exp(x) * (np.sin(x) + np.cos(x)), 1.0, (-3.0, 3.0)),
    "expsin d2": (expsin, 2, lambda x: 2 * np.exp(x) * np.cos(x), 1.0, (-3.0, 3.0)),
    "sinxy dx": (sinxy_dx, 1, lambda x: np.cos(x - 1) + np.exp(x), 1.0, (-2.0, 3.0)),
    "sinxy dy": (sinxy_dy, 1, lambda y: LD(E1) - np.cos(1 - y), 1.0, (-2.0, 3.0)),
    "exp d1": (np.exp, 1, np.exp, 1.0, (-3.0, 3.0)),
    "sin d2": (np.sin, 2, lambda x: -np.sin(x), 0.7, (-3.0, 3.0)),
    "x99 d1": (x99, 1, _frac_poly([(98, 99)]), 7.0, (6.0, 8.0)),
}
# relative value error at the pinned point: measured 9.2e-16, 6.0e-14,
# 1.1e-14, 1.6e-12, 4.0e-15, 3.1e-14, 1.0e-14, 2.7e-13, 4.3e-15
RICH_VALUE_TOL = {"seed d1": 5e-15, "seed d2": 3e-13, "expsin d1": 5e-14, "expsin d2": 5e-12,
                  "sinxy dx": 2e-14, "sinxy dy": 1e-13, "exp d1": 5e-14, "sin d2": 1e-12,
                  "x99 d1": 1e-14}


def _true_error(name, x, value):
    """|value - exact| and |exact| as float64 arrays, from an exact reference."""
    ref = RICH[name][2]
    if getattr(ref, "exact", False):
        ex = ref(x)
        err = [abs(Fraction(float(v)) - e) for v, e in zip(np.atleast_1d(value), ex)]
        return np.array([float(e) for e in err]), np.array([abs(float(e)) for e in ex])
    if not EXTENDED:
        pytest.skip("long double is not extended precision here: no exact reference")
    ex = ref(np.asarray(x, dtype=LD))
    err = np.abs(np.asarray(value, dtype=LD) - ex)
    return np.atleast_1d(err.astype(np.float64)), np.atleast_1d(np.abs(ex).astype(np.float64))


@pytest.mark.parametrize("name", list(RICH))
def test_richardson_error_estimate_within_10x(name):
    f, order, _, x0, _ = RICH[name]
    r = D.derivative(f, x0, order=order, method="richardson", full_output=True)
    err, scale = _true_error(name, x0, r.value)
    assert 0.1 <= r.error / err[0] <= 10, (r.error, err[0])
    assert err[0] <= RICH_VALUE_TOL[name] * scale[0], err[0] / scale[0]
    assert r.nfev == 16 * (2 if order == 1 else 3) + 1
    plain, _ = _true_error(name, x0, D.derivative(f, x0, order=order))
    assert err[0] <= plain[0] / 100


@pytest.mark.parametrize("name", list(RICH))
def test_richardson_error_estimate_statistics(name):
    # 60 points per function, measured with and without AVX-512: estimate/
    # true error >= 0.50 here and >= 0.40 at 641 points of the same
    # intervals (other roundoff, as another CPU gives), medians 1.7 to 4.1,
    # at least 76% of points within 10x both ways (sin, order 2: 46 of 60;
    # overestimates come from points whose true error happens to be far
    # below their roundoff level)
    f, order, _, _, (a, b) = RICH[name]
    x = np.linspace(a, b, 61)[:-1] + 0.0123
    r = D.derivative(f, x, order=order, method="richardson", full_output=True)
    err, scale = _true_error(name, x, r.value)
    ratio = r.error / err
    assert ratio.min() >= 0.35, x[np.argmin(ratio)]
    assert 0.5 <= np.median(ratio) <= 5
    assert np.mean((ratio >= 0.1) & (ratio <= 10)) >= 0.75
    assert np.median(err / scale) <= RICH_VALUE_TOL[name]
    # the per-point choice does not depend on the other points (one-element
    # arrays: NumPy scalars may round x**k differently from arrays)
    one = [D.derivative(f, x[i:i + 1], order=order, method="richardson", full_output=True)
           for i in range(0, x.size, 7)]
    assert np.array_equal(r.value[::7], [o.value[0] for o in one])
    assert np.array_equal(r.error[::7], [o.error[0] for o in one])


@pytest.mark.parametrize("name", ["seed d1", "expsin d1", "sinxy dx", "expsin d2"])
@pytest.mark.parametrize("scheme, accuracy", [("forward", 1), ("backward", 2), ("centered", 4)])
def test_richardson_error_estimate_other_stencils(name, scheme, accuracy):
    # measured with and without AVX-512: estimate/true >= 0.41 here and
    # >= 0.35 at 641 points, medians 1.7 to 4.0 (one-sided stencils
    # extrapolate odd and even powers: q = 1)
    f, order, _, _, (a, b) = RICH[name]
    x = np.linspace(a, b, 61)[:-1] + 0.0123
    r = D.derivative(f, x, order=order, scheme=scheme, accuracy=accuracy, method="richardson",
                     full_output=True)
    err, _ = _true_error(name, x, r.value)
    ratio = r.error / err
    assert ratio.min() >= 0.3 and 0.5 <= np.median(ratio) <= 5, (ratio.min(), np.median(ratio))
    assert r.nfev == 16 * len(_stencil._stencil_arrays(order, accuracy, scheme, "<f8")[1]) + 1


def test_richardson_reference_values():
    # reference values, themselves ~1e-14 from 1 + e and e - 1
    assert np.isclose(D.derivative(sinxy_dx, 1.0, method="richardson"), 3.7182818284590686,
                      rtol=1e-13, atol=0)
    assert np.isclose(D.derivative(sinxy_dy, 1.0, method="richardson"), 1.7182818284590162,
                      rtol=1e-13, atol=0)
    fp = 99 * 7.0**98
    assert abs(D.derivative(x99, 7.0, method="richardson") / fp - 1) < 1e-14


def test_richardson_float32():
    # measured with and without AVX-512: estimate/true >= 0.51 here and
    # >= 0.38 at 641 points, median 2.0; values ~1e-6 relative
    x = (np.linspace(-3.0, 3.0, 61)[:-1] + 0.0123).astype(np.float32)
    r = D.derivative(expsin, x, method="richardson", full_output=True)
    assert r.value.dtype == np.float32 and r.error.dtype == np.float32
    err, scale = _true_error("expsin d1", x, r.value)
    ratio = r.error / err
    assert ratio.min() >= 0.3 and 0.5 <= np.median(ratio) <= 5, (ratio.min(), np.median(ratio))
    assert np.median(err / scale) <= 4e-6


def test_richardson_jitted_and_explicit_h():
    a = D.derivative(poly_jit, POINTS, method="richardson", full_output=True)
    b = D.derivative(poly_np, POINTS, method="richardson", full_output=True)
    c = D.derivative(poly_np, POINTS, method="richardson", full_output=True, vectorized=False)
    assert np.array_equal(a.value, b.value) and np.array_equal(a.error, b.error)
    assert np.array_equal(c.value, b.value) and np.array_equal(c.error, b.error)
    assert a.nfev == b.nfev == c.nfev == 33 and np.array_equal(a.step, b.step)
    r = D.derivative(np.exp, 1.0, method="richardson", h=0.25, full_output=True)
    assert r.step == 0.25 and abs(r.value - np.e) < 1e-9 and r.error >= abs(r.value - np.e)


def test_full_output_fd():
    x = np.array([0.5, 1.0, 2.0])
    r = D.derivative(np.exp, x, full_output=True)
    assert isinstance(r, D.DerivativeResult) and r.method == "fd"
    assert np.array_equal(r.value, D.derivative(np.exp, x))
    assert np.array_equal(r.step, optimal_step(x))
    assert r.nfev == 4  # two points, and the same at twice the step
    err = np.abs(r.value - np.exp(x))
    # at the optimal step truncation and roundoff are comparable, so the
    # estimate is an order of magnitude, not a bound
    assert np.all(err <= 10 * r.error) and np.all(r.error <= 1e-9 * np.exp(x))
    r = D.derivative(np.exp, x, h=0.01, full_output=True)   # truncation-dominated
    err = np.abs(r.value - np.exp(x))
    assert np.all(r.error >= err / 2) and np.all(r.error <= 2 * err)
    assert not r.nonfinite.any()
    r = D.derivative(np.exp, 1.0, h=1e-3, order=2, full_output=True)
    assert r.step == 1e-3 and np.ndim(r.nonfinite) == 0


@pytest.mark.parametrize("f", [
    lambda x: np.where(np.abs(x - 1.0) < 0.01, np.nan, x * x),
    numba.njit(lambda x: np.nan if abs(x - 1.0) < 0.01 else x * x),
], ids=["python", "jitted"])
def test_non_finite_values_stay_local(f):
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    with np.errstate(invalid="ignore"):
        r = D.derivative(f, x, full_output=True)
        d2 = D.second_derivative(f, x)
    assert np.array_equal(r.nonfinite, [False, False, True, False, False])
    assert np.allclose(r.value[~r.nonfinite], 2 * x[~r.nonfinite], rtol=1e-9)
    assert np.array_equal(np.isfinite(d2), [True, True, False, True, True])


@pytest.mark.parametrize("f", [expsin, expsin_jit], ids=["python", "jitted"])
def test_non_finite_points_stay_local(f):
    x = np.array([1.3, np.nan, np.inf, -np.inf, 0.5])
    with np.errstate(invalid="ignore", over="ignore"):
        for kw in ({}, {"order": 2}, {"h": 1e-3}, {"method": "richardson"}):
            r = D.derivative(f, x, full_output=True, **kw)
            assert np.array_equal(r.nonfinite, [False, True, True, True, False]), kw
            assert np.allclose(r.value[[0, 4]], D.derivative(f, x[[0, 4]], **kw), rtol=0,
                               atol=0), kw


# ------------------------------------------------- gradient, Jacobian, Hessian

def test_gradient_oracle_sin_exp():
    f = lambda v: np.sin(v[0] - v[1]) + v[1] * np.exp(v[0])  # noqa: E731
    expected = np.array([3.7182818284590686, 1.7182818284590162])
    g = D.gradient(f, [1.0, 1.0])
    assert np.allclose(g, expected, rtol=1e-9, atol=0)
    assert np.allclose(D.gradient(f, [1.0, 1.0], accuracy=6), expected, rtol=1e-12, atol=0)
    assert np.allclose(D.gradient(f, [1.0, 1.0], scheme="forward", accuracy=1), expected,
                       rtol=1e-7, atol=0)


@pytest.mark.parametrize("f", ["python", "jitted"])
@pytest.mark.parametrize("n", [5, 100])
def test_rosenbrock_gradient_and_hessian(f, n):
    from scipy.optimize import rosen, rosen_der, rosen_hess
    fun = rosen if f == "python" else rosen_jit
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    g = D.gradient(fun, x)
    assert np.max(np.abs(g - rosen_der(x))) <= 1e-8 * np.max(np.abs(rosen_der(x)))
    g4 = D.gradient(fun, x, accuracy=4, scheme="backward")
    assert np.max(np.abs(g4 - rosen_der(x))) <= 1e-9 * np.max(np.abs(rosen_der(x)))
    if n <= 5 or f == "jitted":
        H = D.hessian(fun, x)
        ref = rosen_hess(x)
        assert np.array_equal(H, H.T)
        assert np.max(np.abs(H - ref)) <= 1e-6 * np.max(np.abs(ref))


def test_jitted_f_compiled_before_timing_and_one_kernel_per_call_shape(monkeypatch):
    """parallel=None times one evaluation of f, not its compilation, and a
    second call of the same shape compiles no other kernel."""
    @numba.njit
    def lin(v):
        return v[0] * v[0] + 3.0 * v[1]

    seen = []
    clock = _evaluate.time.perf_counter

    class Clock:
        @staticmethod
        def perf_counter():
            seen.append(len(lin.signatures))
            return clock()

    monkeypatch.setattr(_evaluate, "time", Clock)

    def kernels():
        return sum(len(getattr(_evaluate.JIT, k).signatures)
                   for k in ("grad", "grad_guarded", "grad_chunk"))

    before = kernels()
    g1 = D.gradient(lin, [1.0, 2.0])
    after = kernels()
    assert seen and seen[0] == 1        # f compiled before the clock started
    assert after - before in (2, 3)     # one driver: the chunk, or the parallel one
    g2 = D.gradient(lin, [1.0, 2.0])
    assert kernels() == after
    assert np.array_equal(g1, g2)
    np.testing.assert_allclose(g1, [2.0, 3.0], rtol=1e-9)


def test_gradient_jitted_parallel_equals_serial_and_python():
    x = np.random.default_rng(1).uniform(-1, 1, 300)
    a = D.gradient(rosen_jit, x, parallel=True)
    b = D.gradient(rosen_jit, x, parallel=False)
    assert np.array_equal(a, b)
    Hp = D.hessian(rosen_jit, x[:40], parallel=True)
    Hs = D.hessian(rosen_jit, x[:40], parallel=False)
    assert np.array_equal(Hp, Hs)
    from scipy.optimize import rosen
    # scipy sums in another order: f differs by ~eps*|f|, the gradient by that / h
    assert np.max(np.abs(a - D.gradient(rosen, x))) <= 1e-8 * np.max(np.abs(a))


def test_gradient_explicit_h_and_realized_step():
    f = lambda v: np.sum(v**3)  # noqa: E731
    x = np.array([0.1, 1.0, 3.0])
    h = 1e-4
    g = D.gradient(f, x, h=h)
    for i in range(3):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        assert g[i] == (f(xp) - f(xm)) / (xp[i] - xm[i])
    g2 = D.gradient(f, x, h=[1e-3, 1e-4, 1e-5])
    assert np.allclose(g2, 3 * x**2, rtol=1e-4)
    g32 = D.gradient(f, x.astype(np.float32))
    assert g32.dtype == np.float32 and np.allclose(g32, 3 * x**2, rtol=1e-3)


def test_python_f_gets_one_private_copy_and_x_is_restored():
    seen = []
    x = np.linspace(-1, 1, 50)
    keep = x.copy()

    def f(v):
        seen.append(id(v))
        assert v is not x
        # every other entry is the caller's value (restored by assignment)
        assert np.count_nonzero(v != keep) <= (1 if len(v) == 50 else 2)
        return float(np.sum(np.cos(v)))

    g = D.gradient(f, x)
    assert np.allclose(g, -np.sin(x), rtol=1e-8)
    assert len(set(seen)) <= 2  # f(x) on one copy, every perturbation on another
    assert np.array_equal(x, keep)
    seen.clear()
    keep = x[:6].copy()
    D.hessian(f, keep.copy())
    assert len(set(seen)) <= 2


def test_x_unchanged_when_f_raises():
    x = np.linspace(0, 1, 10)
    keep = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("boom from f")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom from f"):
        D.gradient(f, x)
    assert np.array_equal(x, keep)


def test_jitted_f_exceptions_propagate_from_parallel_kernels(monkeypatch):
    x = np.ones(200)
    x[150] = 2e6
    keep = x.copy()
    with pytest.raises(ValueError, match="poly: x too large"):
        D.centered_diff(poly_jit, x)
    monkeypatch.setattr(_config, "PARALLEL_MIN", 10)
    with pytest.raises(ValueError, match="poly: x too large"):
        D.centered_diff(poly_jit, x)
    y = np.ones(100)
    y[0] = 1e6 - 1e-7  # f(y) is fine, f(y + h) raises
    with pytest.raises(ValueError, match=r"rosen: x\[0\] too large"):
        D.gradient(rosen_jit, y, parallel=True)
    with pytest.raises(ValueError, match=r"rosen: x\[0\] too large"):
        D.hessian(rosen_jit, y[:10], parallel=True)
    assert np.array_equal(x, keep)
    assert y[0] == 1e6 - 1e-7 and np.all(y[1:] == 1.0)


@pytest.mark.parametrize("f", [vec_np, vec_jit], ids=["python", "jitted"])
def test_jacobian(f):
    x = np.array([0.7, -1.2])
    J = D.jacobian(f, x)
    assert J.shape == (3, 2)
    assert np.allclose(J, vec_jac(x), rtol=1e-9, atol=1e-10)
    Jf = D.jacobian(f, x, scheme="forward", accuracy=2)
    assert np.allclose(Jf, vec_jac(x), rtol=1e-7, atol=1e-8)
    assert np.array_equal(D.jacobian(f, x, parallel=False), J)


def test_jacobian_python_and_jitted_agree():
    x = np.array([0.7, -1.2])
    assert np.array_equal(D.jacobian(vec_np, x, h=1e-3), D.jacobian(vec_jit, x, h=1e-3))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1), st.sampled_from([2, 4]))
def test_property_quadratic_gradient_and_hessian(n, seed, accuracy):
    """f = x.A.x/2 + b.x: centered stencils are exact on quadratics up to roundoff."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(-2, 2, (n, n))
    A = A + A.T
    b = rng.uniform(-2, 2, n)
    x = rng.uniform(-3, 3, n)
    f = lambda v: 0.5 * v @ A @ v + b @ v  # noqa: E731
    scale = 1 + np.abs(A).sum() * (1 + np.abs(x).max()) ** 2
    g = D.gradient(f, x, accuracy=accuracy)
    assert np.max(np.abs(g - (A @ x + b))) <= 1e-8 * scale
    H = D.hessian(f, x, accuracy=accuracy)
    assert np.array_equal(H, H.T)
    assert np.max(np.abs(H - A)) <= 1e-5 * scale
    keep = x.copy()
    J = D.jacobian(lambda v: np.array([f(v), 2 * f(v)]), x, accuracy=accuracy)
    assert np.array_equal(x, keep)
    assert np.allclose(J[1], 2 * J[0], rtol=1e-12, atol=1e-12 * scale)


def test_hessian_symmetric_and_analytic():
    f = lambda v: v[0] ** 2 * v[1] + np.exp(v[1] * v[2]) + v[2] ** 4  # noqa: E731
    x = np.array([0.3, -0.4, 0.9])
    e = np.exp(x[1] * x[2])
    ref = np.array([
        [2 * x[1], 2 * x[0], 0.0],
        [2 * x[0], x[2] ** 2 * e, e + x[1] * x[2] * e],
        [0.0, e + x[1] * x[2] * e, x[1] ** 2 * e + 12 * x[2] ** 2],
    ])
    for kw, tol in (({}, 1e-7), ({"accuracy": 4}, 1e-9), ({"scheme": "forward"}, 1e-4)):
        H = D.hessian(f, x, **kw)
        assert np.array_equal(H, H.T)
        assert np.max(np.abs(H - ref)) <= tol, kw


# ------------------------------------------------ steps below the resolution

def _never(x):
    raise AssertionError("f must not be called for a step that is refused")


@pytest.mark.parametrize("call, match", [
    (lambda f: D.derivative(f, 1.0, h=1e-320),
     r"^h=1e-320 is below the resolution of x=1\.0: x \+ h == x in float64; "
     r"use a larger h or h=None$"),
    (lambda f: D.derivative(f, [0.0, 1.0, 2.0], h=1e-320, order=3, accuracy=4),
     r"^h=1e-320 is below the resolution of x\[1\]=1\.0: x \+ h == x"),
    (lambda f: D.derivative(f, [[0.5, 4.0]], h=[[1e-3, 1e-16]], full_output=True),
     r"^h\[0, 1\]=1e-16 is below the resolution of x\[0, 1\]=4\.0: x \+ h == x"),
    (lambda f: D.derivative(f, 1.0, h=2.0**-53, scheme="forward", accuracy=1),
     r"^h=1\.1102230246251565e-16 is below the resolution of x=1\.0: x \+ h == x"),
    (lambda f: D.derivative(f, 1.0, h=1e-17, scheme="backward", accuracy=2),
     r"^h=1e-17 is below the resolution of x=1\.0: x - h == x in float64"),
    (lambda f: D.derivative(f, np.float32(1.0), h=1e-9),
     r"^h=1e-09 is below the resolution of x=1\.0: x \+ h == x in float32"),
    (lambda f: D.derivative(f, 1e4, h=1e-12, method="richardson"),
     r"^h=1e-12 is below the resolution of x=10000\.0 \(method='richardson' goes down to "
     r"the step h/32768\): x \+ h/32768 == x in float64; use a larger h or h=None$"),
    (lambda f: D.derivative(f, 0.0, h=1e-200, order=2),
     r"^h=1e-200 is too small at x=0\.0: the formula divides by h\*\*2, which underflows "
     r"to 0 in float64; use a larger h or h=None$"),
    (lambda f: D.gradient(f, [0.0, 1.0], h=1e-320),
     r"^h=1e-320 is below the resolution of x\[1\]=1\.0: x \+ h == x in float64; "
     r"use a larger h or h=None$"),
    (lambda f: D.gradient(f, [1.0, 1.0], h=[1e-3, 1e-17], scheme="forward", accuracy=1),
     r"^h\[1\]=1e-17 is below the resolution of x\[1\]=1\.0: x \+ h == x"),
    (lambda f: D.jacobian(f, [1.0, 2.0], h=1e-320),
     r"^h=1e-320 is below the resolution of x\[0\]=1\.0: x \+ h == x in float64; "
     r"use a larger h or h=None$"),
    (lambda f: D.hessian(f, [1.0, 2.0], h=1e-200),
     r"^h=1e-200 is below the resolution of x\[0\]=1\.0: x \+ h == x in float64; "
     r"use a larger h or h=None$"),
    (lambda f: D.hessian(f, [1.0, 0.0], h=[1e-3, 1e-200]),
     r"^h\[1\]=1e-200 is too small at x\[1\]=0\.0: the formula divides by h\*\*2, "
     r"which underflows to 0 in float64"),
], ids=["derivative", "array-x", "2d-h", "forward-boundary", "backward", "float32",
        "richardson", "underflow", "gradient", "gradient-h-array", "jacobian", "hessian",
        "hessian-underflow"])
def test_step_below_resolution_refused_before_f_runs(call, match):
    with pytest.raises(ValueError, match=match):
        call(_never)


def test_step_below_resolution_jitted_f():
    with pytest.raises(ValueError, match=r"^h=1e-320 is below the resolution of x=1\.0"):
        D.derivative(poly_jit, 1.0, h=1e-320)
    with pytest.raises(ValueError, match=r"^h=1e-320 is below the resolution of x\[0\]=1\.0"):
        D.gradient(rosen_jit, [1.0, 1.0], h=1e-320)


def test_steps_at_the_resolution_are_accepted():
    # forward at x=1: 1 + 2**-52 is the next float (2**-53 was refused above);
    # the exact difference of a linear f divided by the exact step
    assert D.derivative(lambda x: 2 * x, 1.0, h=2.0**-52, scheme="forward", accuracy=1) == 2.0
    # centered at x=1: 1 + 2**-53 rounds to 1 but 1 - 2**-53 is a float, so
    # the points differ and the step is accepted
    assert np.isfinite(D.derivative(np.sin, 1.0, h=2.0**-53))
    # first derivatives at 0 divide by h itself: tiny steps are fine there
    g = D.gradient(lambda v: 3.0 * v[0] + v[1], [0.0, 0.0], h=1e-300)
    assert np.allclose(g, [3.0, 1.0], rtol=4 * EPS, atol=0)
    # Richardson's smallest step 1e-6/32768 still moves x = 1e4
    assert abs(D.derivative(np.sin, 1e4, h=1e-6, method="richardson") - np.cos(1e4)) < 1e-8


@pytest.mark.parametrize("name, formula", [
    ("forward_diff", lambda f, x, h: (f(x + h) - f(x)) / h),
    ("backward_diff", lambda f, x, h: (f(x) - f(x - h)) / h),
    ("centered_diff", lambda f, x, h: (f(x + h) - f(x - h)) / (2 * h)),
    ("second_derivative", lambda f, x, h: (f(x + h) - 2 * f(x) + f(x - h)) / h**2),
])
def test_seed_functions_keep_the_seed_formula_below_resolution(name, formula):
    x = np.array([0.0, 1.0, 3.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        for h in (1e-320, 1e-200, 1e-17):
            got = getattr(D, name)(np.sin, x, h)
            assert np.array_equal(got, formula(np.sin, x, h), equal_nan=True), (name, h)
        # x = 1: x + 1e-320 == x, so 0 (or 0/0: 1e-320**2 underflows) as the
        # formula gives; derivative refuses the same step
        tiny = getattr(D, name)(np.sin, 1.0, 1e-320)
    assert np.isnan(tiny) if name == "second_derivative" else tiny == 0


# ------------------------------------------------------------ bad input

def _sq(x):
    return x * x


@pytest.mark.parametrize("call, exc, match", [
    (lambda: D.centered_diff(3.0, 1.0), TypeError, "f must be callable, got 3.0"),
    (lambda: D.derivative("sin", 1.0), TypeError, "f must be callable, got 'sin'"),
    (lambda: D.gradient(None, [1.0]), TypeError, "f must be callable, got None"),
    (lambda: D.gradient(np.arange(5.0), 0.1), TypeError,
     r"f must be callable, got array\(\[0\., 1\., 2\., 3\., 4\.\]\); for sampled arrays use "
     r"fastfd\.grid\.gradient\(u, dx\)"),
    (lambda: D.derivative(np.arange(5.0), 0.1), TypeError,
     r"f must be callable, got .*; for sampled arrays use fastfd\.grid\.derivative\(u, order, dx=dx\)"),
    (lambda: D.centered_diff(np.arange(5.0), 0.1), TypeError,
     r"f must be callable, got .*; for sampled arrays use fastfd\.grid\.centered_diff\(u, dx\)"),
    (lambda: D.forward_diff([1.0, 2.0], 0.1), TypeError,
     r"f must be callable, got \[1\.0, 2\.0\]; for sampled arrays use fastfd\.grid\.forward_diff"),
    (lambda: D.backward_diff(np.ones(3), 0.1), TypeError, r"use fastfd\.grid\.backward_diff\(u, dx\)"),
    (lambda: D.second_derivative(np.ones(3), 0.1), TypeError,
     r"use fastfd\.grid\.second_diff\(u, dx\)"),
    (lambda: D.jacobian(np.ones(3), [0.1]), TypeError, r"f must be callable, got array\(\[1\., 1\., 1\.\]\)$"),
    (lambda: D.centered_diff(_sq, 1.0, 0.0), ValueError, r"h must be positive and finite, got 0\.0"),
    (lambda: D.centered_diff(_sq, 1.0, -1e-3), ValueError, r"h must be positive and finite, got -0\.001"),
    (lambda: D.forward_diff(_sq, 1.0, np.inf), ValueError, "h must be positive and finite, got inf"),
    (lambda: D.centered_diff(_sq, [1.0, 2.0], [1e-3, np.nan]), ValueError,
     "h must be positive and finite.*first bad value np.float64.nan"),
    (lambda: D.centered_diff(_sq, 1.0, "a"), TypeError, "h must be a positive real number"),
    (lambda: D.centered_diff(_sq, 1.0, True), TypeError, "h must be a positive real number or array, got True"),
    (lambda: D.centered_diff(_sq, [1.0, 2.0], [1e-3] * 3), ValueError,
     r"h with shape \(3,\) does not broadcast with x of shape \(2,\)"),
    (lambda: D.gradient(_sq, [1.0, 2.0], h=0), ValueError, "h must be positive and finite, got 0"),
    (lambda: D.gradient(np.sum, [1.0, 2.0], h=[1e-3] * 3), ValueError,
     r"h must be a scalar or an array of shape \(2,\) \(one step per element of x\), "
     r"got shape \(3,\)"),
    (lambda: D.derivative(_sq, 1.0, scheme="upwind"), ValueError, "scheme must be one of .*'upwind'"),
    (lambda: D.gradient(np.sum, [1.0], scheme="upwind"), ValueError, "scheme must be one of"),
    (lambda: D.derivative(_sq, 1.0, method="spline"), ValueError,
     "method must be one of 'fd', 'richardson', 'complex', got 'spline'"),
    (lambda: D.derivative(_sq, 1.0, order=5), ValueError, "order must be between 1 and 4, got 5"),
    (lambda: D.derivative(_sq, 1.0, order=0), ValueError, "order must be >= 1, got 0"),
    (lambda: D.derivative(_sq, 1.0, order=1.0), TypeError, "order must be an integer"),
    (lambda: D.derivative(_sq, 1.0, accuracy=3), ValueError, "accuracy must be even.*got 3"),
    (lambda: D.derivative(_sq, 1.0, accuracy=0, scheme="forward"), ValueError,
     "accuracy must be >= 1, got 0"),
    (lambda: D.gradient(np.sum, [1.0], accuracy=1), ValueError, "accuracy must be even"),
    (lambda: D.derivative(_sq, 1.0, order=2, method="complex"), ValueError,
     "method='complex' computes first derivatives only, got order=2"),
    (lambda: D.derivative(_sq, 1.0, full_output=1), TypeError, "full_output must be True or False, got 1"),
    (lambda: D.centered_diff(_sq, 1.0, vectorized="yes"), TypeError,
     "vectorized must be True or False, got 'yes'"),
    (lambda: D.gradient(np.sum, [1.0], parallel="yes"), TypeError,
     "parallel must be None, True or False, got 'yes'"),
    (lambda: D.gradient(np.sum, [1.0], parallel=True), ValueError,
     "parallel=True needs a Numba-jitted f"),
    (lambda: D.centered_diff(_sq, "abc"), TypeError, "x must be real numbers, got 'abc'"),
    (lambda: D.centered_diff(_sq, 1 + 1j), TypeError, "x must be real numbers, got dtype complex128"),
    (lambda: D.centered_diff(_sq, [[1.0], [1.0, 2.0]]), TypeError, "x must be real numbers"),
    (lambda: D.gradient(np.sum, []), ValueError, r"x must be a non-empty 1-D array, got shape \(0,\)"),
    (lambda: D.gradient(np.sum, 1.0), ValueError, r"x must be a non-empty 1-D array, got shape \(\)"),
    (lambda: D.hessian(np.sum, np.ones((2, 2))), ValueError, r"x must be a non-empty 1-D array, got shape \(2, 2\)"),
    (lambda: D.jacobian(vec_np, []), ValueError, "x must be a non-empty 1-D array"),
    # f returning the wrong thing
    (lambda: D.centered_diff(lambda x: np.array([x, x]), 1.0), ValueError,
     r"f must return a scalar for a scalar x, got shape \(2,\)"),
    (lambda: D.centered_diff(lambda x: np.ones(3), [1.0, 2.0]), ValueError,
     r"f must return an array of its argument's shape \(2,\), got shape \(3,\)"),
    (lambda: D.centered_diff(lambda x: np.ones(3) if np.ndim(x) else 1.0, [1.0, 2.0], h=0.1),
     ValueError, r"f must return an array of its argument's shape \(2,\), got shape \(3,\); "
     "pass vectorized=False"),
    (lambda: D.centered_diff(lambda x: (x, x), 1.0, vectorized=False, h=0.1), ValueError,
     r"f must return a scalar for a scalar argument, got shape \(2,\)"),
    (lambda: D.centered_diff(lambda x: "a", 1.0, h=0.1), TypeError, "f must return numbers, got 'a'"),
    (lambda: D.centered_diff(math.sin, [1.0, 2.0]), TypeError,
     "f raised TypeError on an array argument .*; pass vectorized=False"),
    (lambda: D.centered_diff(lambda x: 1j * x, 1.0, h=0.1), TypeError, "f must return real numbers"),
    (lambda: D.gradient(lambda v: v * 2, [1.0, 2.0]), ValueError,
     r"f must return a scalar for gradient \(f: R\^n -> R; use jacobian.*got shape \(2,\)"),
    (lambda: D.hessian(lambda v: v * 2, [1.0, 2.0]), ValueError,
     r"f must return a scalar for hessian .*got shape \(2,\)"),
    (lambda: D.gradient(lambda v: 1j * v.sum(), [1.0, 2.0]), TypeError, "f must return real numbers"),
    (lambda: D.jacobian(np.sum, [1.0, 2.0]), ValueError,
     r"f must return a 1-D array for jacobian, got shape \(\)"),
    (lambda: D.jacobian(lambda v: np.ones(int(v[0] * 10) % 3 + 2), [1.0, 2.0]), ValueError,
     r"f must return arrays of one shape \(3,\), got shape \(2,\)"),
    (lambda: D.jacobian(vec_jit, np.array([1e6 - 1e-3, 1.0])), ValueError,
     "f returned arrays of different lengths"),
    # complex step with an f that drops the imaginary part
    (lambda: D.derivative(lambda z: np.exp(z.real), 1.0, method="complex"), ValueError,
     "method='complex' needs an f that keeps the imaginary part, but f returned the real value"),
    (lambda: D.derivative(lambda z: np.exp(z.real) + 0j, 1.0, method="complex"), ValueError,
     "has imaginary part exactly 0 too, but f is not constant near x=np.float64.1.0."),
    (lambda: D.derivative(lambda z: np.abs(z) + 0j, [1.0, 2.0], method="complex",
                          vectorized=False), ValueError, "has imaginary part exactly 0"),
    (lambda: D.derivative(poly_jit, 1.0, method="complex"), ValueError,
     "method='complex' needs an f that accepts complex arguments; the jitted f could not be "
     "compiled for complex128"),
    (lambda: D.derivative(numba.njit(lambda z: abs(z)), 1.0, method="complex"), ValueError,
     "needs an f that keeps the imaginary part, but f returned the real value 1.0"),
    (lambda: D.derivative(_sq, 1.0, method="complex", h=-1.0), ValueError,
     "h must be positive and finite"),
    (lambda: D.gradient(rosen_jit, np.array([[1.0]]).ravel()[:0]), ValueError, "non-empty"),
    (lambda: D.centered_diff(numba.njit(lambda x: x[0]), 1.0), TypeError,
     "f .a jitted function. could not be compiled for a float64 scalar argument"),
    (lambda: D.gradient(numba.njit(lambda v: v.nonexistent), [1.0]), TypeError,
     "f .a jitted function. could not be compiled for a 1-D float64 array argument"),
    (lambda: D.gradient(expsin_jit, [1.0]), ValueError,
     r"f must return a scalar for gradient .*got shape \(1,\)"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

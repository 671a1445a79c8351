"""grid.laplacian against NumPy slicing, np.roll, summed point-by-point
references, grid.derivative, analytic Laplacians and numerical properties."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastfd import _config, grid, kernels
from reference import derivative_ref, periodic_roll_ref

RNG = np.random.default_rng(4242)
BOUNDARIES = ("one-sided", "periodic", "valid")


def lap_ref(u, dx, accuracy=2, boundary="one-sided"):
    """Sum over axes of the point-by-point reference second derivative."""
    u = np.asarray(u)
    dxs = [dx] * u.ndim if np.ndim(dx) == 0 else list(dx)
    m = accuracy // 2
    total = 0
    for a in range(u.ndim):
        d = derivative_ref(u, 2, dxs[a], a, accuracy, "centered", boundary)
        if boundary == "valid":
            crop = [slice(m, n - m) for n in u.shape]
            crop[a] = slice(None)
            d = d[tuple(crop)]
        total = total + d
    return total


def slicing_7pt(u, dx, dy, dz):
    """NumPy slicing: the interior of the 3-D 7-point Laplacian."""
    c = u[1:-1, 1:-1, 1:-1]
    return ((u[2:, 1:-1, 1:-1] - 2 * c + u[:-2, 1:-1, 1:-1]) / dx**2
            + (u[1:-1, 2:, 1:-1] - 2 * c + u[1:-1, :-2, 1:-1]) / dy**2
            + (u[1:-1, 1:-1, 2:] - 2 * c + u[1:-1, 1:-1, :-2]) / dz**2)


def bound(u, dx, accuracy, eps=np.finfo(np.float64).eps):
    """Rounding allowance: a few eps times the largest sum |w u| of the
    edge stencils (the widest weights), summed over the axes."""
    dxs = [dx] * np.ndim(u) if np.ndim(dx) == 0 else list(dx)
    wsum = 2.0 ** (accuracy + 3)  # sum |w| of one-sided 2nd-derivative stencils
    return 64 * eps * wsum * sum(1 / h**2 for h in dxs) * max(1.0, float(np.abs(u).max()))


SHAPES = [(11,), (9, 12), (8, 9, 10)]


# ----------------------------------------------------------- references

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matches_summed_reference_and_grid_derivative(shape, accuracy, boundary):
    u = RNG.standard_normal(shape)
    dx = [0.5, 0.3, 0.7][:len(shape)]
    got = grid.laplacian(u, dx, accuracy=accuracy, boundary=boundary)
    ref = lap_ref(u, dx, accuracy, boundary)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=bound(u, dx, accuracy))
    m = accuracy // 2
    total = 0
    for a in range(u.ndim):
        d = grid.derivative(u, 2, dx=dx[a], axis=a, accuracy=accuracy, boundary=boundary)
        if boundary == "valid":
            crop = [slice(m, n - m) for n in u.shape]
            crop[a] = slice(None)
            d = d[tuple(crop)]
        total = total + d
    np.testing.assert_allclose(got, total, rtol=0, atol=bound(u, dx, accuracy))


def test_7pt_interior_matches_numpy_slicing():
    u = RNG.standard_normal((10, 11, 12))
    ref = slicing_7pt(u, 0.5, 0.25, 2.0)
    tol = bound(u, (0.5, 0.25, 2.0), 2)
    np.testing.assert_allclose(grid.laplacian(u, (0.5, 0.25, 2.0))[1:-1, 1:-1, 1:-1],
                               ref, rtol=0, atol=tol)
    np.testing.assert_allclose(grid.laplacian(u, (0.5, 0.25, 2.0), boundary="valid"),
                               ref, rtol=0, atol=tol)


def test_5pt_and_1d_match_numpy_slicing():
    u = RNG.standard_normal((13, 7))
    ref = ((u[2:, 1:-1] - 2 * u[1:-1, 1:-1] + u[:-2, 1:-1]) / 0.1**2
           + (u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / 0.2**2)
    np.testing.assert_allclose(grid.laplacian(u, (0.1, 0.2), boundary="valid"), ref,
                               rtol=0, atol=bound(u, (0.1, 0.2), 2))
    v = u[:, 0].copy()
    ref1 = (v[2:] - 2 * v[1:-1] + v[:-2]) / 0.1**2
    np.testing.assert_allclose(grid.laplacian(v, 0.1)[1:-1], ref1, rtol=1e-13,
                               atol=bound(v, 0.1, 2))
    # 1-D is the second derivative
    np.testing.assert_allclose(grid.laplacian(v, 0.1), grid.second_diff(v, 0.1),
                               rtol=0, atol=bound(v, 0.1, 2))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("accuracy", [2, 4])
def test_periodic_matches_np_roll(shape, accuracy):
    u = RNG.standard_normal(shape)
    dx = [0.5, 0.3, 0.7][:len(shape)]
    ref = sum(periodic_roll_ref(u, 2, accuracy, dx[a], axis=a) for a in range(u.ndim))
    got = grid.laplacian(u, dx, accuracy=accuracy, boundary="periodic")
    np.testing.assert_allclose(got, ref, rtol=0, atol=bound(u, dx, accuracy))


def test_kernels_laplacian_3d_is_grid_laplacian_bitwise():
    u = RNG.standard_normal((9, 10, 11))
    for boundary, mode in (("one-sided", kernels.ONE_SIDED), ("periodic", kernels.PERIODIC)):
        out = np.empty_like(u)
        kernels.laplacian_3d(u, 0.3, 0.4, 0.5, out, mode)
        np.testing.assert_array_equal(grid.laplacian(u, (0.3, 0.4, 0.5), boundary=boundary), out)


# ----------------------------------------------------------- numerical properties

@pytest.mark.parametrize("dx", [1.0, 0.25, 0.1])
@pytest.mark.parametrize("boundary", ["one-sided", "valid"])
def test_sum_of_squares_gives_six_including_edges(dx, boundary):
    x = dx * np.arange(7)
    y = dx * (np.arange(8) - 3)
    z = dx * (np.arange(9) + 2)
    u = x[:, None, None] ** 2 + y[None, :, None] ** 2 + z[None, None, :] ** 2
    got = grid.laplacian(u, dx, boundary=boundary)
    if dx == 1.0:
        assert (got == 6.0).all()  # integer data, integer weights: exact
    else:
        np.testing.assert_allclose(got, 6.0, rtol=0, atol=bound(u, dx, 2))


@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_exact_on_polynomials_of_degree_accuracy_plus_one(accuracy):
    # A centred or (accuracy + 2)-point one-sided second-derivative stencil of
    # accuracy p is exact up to degree p + 1, edges included.
    deg = accuracy + 1
    rng = np.random.default_rng(accuracy)
    h = (0.5, 0.25)
    x = h[0] * np.arange(accuracy + 4)
    y = h[1] * np.arange(accuracy + 5)
    cx = rng.uniform(-1, 1, deg + 1)
    cy = rng.uniform(-1, 1, deg + 1)
    px, py = np.polynomial.Polynomial(cx), np.polynomial.Polynomial(cy)
    u = px(x)[:, None] * py(y)[None, :]
    exact = px.deriv(2)(x)[:, None] * py(y)[None, :] + px(x)[:, None] * py.deriv(2)(y)[None, :]
    got = grid.laplacian(u, h, accuracy=accuracy)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-9 * (1 + np.abs(exact).max()))


@pytest.mark.parametrize("accuracy", [2, 4, 6])
@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_convergence_slope(accuracy, boundary):
    # n from 24: at 16 points the 8-point one-sided stencils of accuracy 6 are
    # not yet asymptotic (slope 6.22); at 128 rounding starts to show.
    errs, hs = [], []
    for n in (24, 48, 96):
        if boundary == "periodic":
            x = np.linspace(0, 2 * np.pi, n, endpoint=False)
            h = x[1] - x[0]
            y = x
        else:
            x = np.linspace(0.2, 1.4, n)
            y = np.linspace(-0.5, 0.7, n)
            h = x[1] - x[0]
        X, Y = np.meshgrid(x, y, indexing="ij")
        u = np.sin(X) * np.cos(2 * Y)
        exact = -5.0 * u
        got = grid.laplacian(u, h, accuracy=accuracy, boundary=boundary)
        errs.append(np.abs(got - exact).max())
        hs.append(h)
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - accuracy) <= 0.2, (slope, errs)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("where", [(1, 6), (5, 4)])
def test_nan_spreads_only_where_stencils_touch(boundary, accuracy, where):
    u = np.ones((11, 10))
    u[where] = np.nan
    got = grid.laplacian(u, accuracy=accuracy, boundary=boundary)
    # the reference skips zero weights, so its NaNs mark exactly the outputs
    # whose stencil reads u[1, 6]
    expect = np.isnan(lap_ref(u, 1.0, accuracy, boundary))
    assert 2 <= expect.sum() < expect.size // 2
    np.testing.assert_array_equal(np.isnan(got), expect)


# ----------------------------------------------------------- dtypes and layouts

def test_dtypes():
    u = RNG.standard_normal((8, 9))
    ref = grid.laplacian(u, 0.5)
    got32 = grid.laplacian(u.astype(np.float32), 0.5)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, ref, rtol=0, atol=bound(u, 0.5, 2, np.finfo(np.float32).eps))
    assert grid.laplacian(u.astype(np.float16)).dtype == np.float32
    ui = (10 * u).astype(np.int64)
    gi = grid.laplacian(ui)
    assert gi.dtype == np.float64
    np.testing.assert_array_equal(gi, grid.laplacian(ui.astype(np.float64)))
    assert grid.laplacian(u > 0).dtype == np.float64
    v = RNG.standard_normal((8, 9))
    z = grid.laplacian(u + 1j * v, 0.5, accuracy=4)
    assert z.dtype == np.complex128
    np.testing.assert_allclose(z.real, grid.laplacian(u, 0.5, accuracy=4), rtol=0,
                               atol=bound(u, 0.5, 4))
    np.testing.assert_allclose(z.imag, grid.laplacian(v, 0.5, accuracy=4), rtol=0,
                               atol=bound(v, 0.5, 4))
    z64 = grid.laplacian((u + 1j * v).astype(np.complex64))
    assert z64.dtype == np.complex64
    eps32 = np.finfo(np.float32).eps
    np.testing.assert_allclose(z64.real, grid.laplacian(u), rtol=0, atol=bound(u, 1.0, 2, eps32))
    np.testing.assert_allclose(z64.imag, grid.laplacian(v), rtol=0, atol=bound(v, 1.0, 2, eps32))
    assert grid.laplacian(u.tolist()).dtype == np.float64


@pytest.mark.parametrize("accuracy", [2, 4])
def test_layouts(accuracy):
    base = RNG.standard_normal((12, 14, 16))
    ref = lap_ref(base[::2, 1::2, ::3], (0.5, 0.3, 0.7), accuracy)
    tol = bound(base, (0.5, 0.3, 0.7), accuracy)
    views = {
        "C": np.ascontiguousarray(base[::2, 1::2, ::3]),
        "F": np.asfortranarray(base[::2, 1::2, ::3]),
        "strided": base[::2, 1::2, ::3],
    }
    ro = views["C"].copy()
    ro.flags.writeable = False
    views["read-only"] = ro
    for name, u in views.items():
        before = u.copy()
        got = grid.laplacian(u, (0.5, 0.3, 0.7), accuracy=accuracy)
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol, err_msg=name)
        np.testing.assert_array_equal(u, before)  # input untouched
    # a transposed view is the Laplacian of the transposed data
    t = views["C"].transpose(2, 0, 1)
    np.testing.assert_allclose(grid.laplacian(t, (0.7, 0.5, 0.3), accuracy=accuracy),
                               ref.transpose(2, 0, 1), rtol=0, atol=tol)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("accuracy", [2, 4])
def test_out_poisoned_with_nan_is_fully_written(boundary, accuracy):
    u = RNG.standard_normal((9, 10, 11))
    ref = grid.laplacian(u, 0.5, accuracy=accuracy, boundary=boundary)
    for order in ("C", "F"):
        out = np.full(ref.shape, np.nan, order=order)
        res = grid.laplacian(u, 0.5, accuracy=accuracy, boundary=boundary, out=out)
        assert res is out
        np.testing.assert_array_equal(out, ref)
    big = np.full(ref.shape + (2,), np.nan)
    res = grid.laplacian(u, 0.5, accuracy=accuracy, boundary=boundary, out=big[..., 0])
    np.testing.assert_array_equal(res, ref)
    assert np.isnan(big[..., 1]).all()


@pytest.mark.parametrize("shape", [(40, 50), (10, 12, 14)])
@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_parallel_equals_serial_bitwise(monkeypatch, shape, accuracy, boundary):
    u = RNG.standard_normal(shape)
    serial = grid.laplacian(u, (0.3, 0.4, 0.5)[:len(shape)], accuracy=accuracy,
                            boundary=boundary)
    monkeypatch.setattr(_config, "PARALLEL_MIN", 1)
    par = grid.laplacian(u, (0.3, 0.4, 0.5)[:len(shape)], accuracy=accuracy,
                         boundary=boundary)
    np.testing.assert_array_equal(par, serial)


# ----------------------------------------------------------- spacing forms

def test_coordinate_arrays_sum_grid_derivative():
    x = np.linspace(0.0, 1.0, 9) ** 1.5
    y = np.linspace(-1.0, 1.0, 10)
    u = np.sin(x)[:, None] * np.cos(y)[None, :]
    got = grid.laplacian(u, (x, 0.25))
    ref = grid.derivative(u, 2, dx=x, axis=0) + grid.derivative(u, 2, dx=0.25, axis=1)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # non-uniform stencils of accuracy 2 stay exact on cubics
    X, Y = np.meshgrid(x, y, indexing="ij")
    cubic = X**3 - 2 * X**2 * Y + Y**3
    np.testing.assert_allclose(grid.laplacian(cubic, (x, y)), 6 * X - 4 * Y + 6 * Y,
                               rtol=0, atol=1e-9)
    v = np.sin(x)
    np.testing.assert_allclose(grid.laplacian(v, x), grid.derivative(v, 2, dx=x),
                               rtol=1e-12, atol=1e-12)
    # "valid": the non-uniform axis loses 4 points (5-point stencil), the
    # uniform one 2, and each term is cropped to the common interior
    gv = grid.laplacian(u, (x, 0.25), boundary="valid")
    ref = (grid.derivative(u, 2, dx=x, axis=0, boundary="valid")[:, 1:-1]
           + grid.derivative(u, 2, dx=0.25, axis=1, boundary="valid")[2:-2, :])
    assert gv.shape == (5, 8)
    np.testing.assert_allclose(gv, ref, rtol=1e-12, atol=1e-12)
    assert grid.laplacian(u, (x, y), boundary="valid").shape == (5, 6)


def test_four_dimensions_and_scalar_broadcast():
    u = RNG.standard_normal((5, 6, 5, 6))
    np.testing.assert_allclose(grid.laplacian(u, 0.5), lap_ref(u, 0.5), rtol=0,
                               atol=bound(u, 0.5, 2))
    assert grid.laplacian(u, boundary="valid").shape == (3, 4, 3, 4)
    w = RNG.standard_normal((6, 7, 8))
    np.testing.assert_array_equal(grid.laplacian(w, 0.5), grid.laplacian(w, [0.5] * 3))
    np.testing.assert_array_equal(grid.laplacian(w, np.float32(0.5)),
                                  grid.laplacian(w, np.array(0.5)))


@pytest.mark.parametrize("accuracy, boundary, shape", [
    (2, "valid", (3, 5)), (4, "one-sided", (6, 6)), (4, "periodic", (5, 5)),
    (2, "one-sided", (4,)),
])
def test_minimum_lengths_work(accuracy, boundary, shape):
    u = RNG.standard_normal(shape)
    np.testing.assert_allclose(grid.laplacian(u, accuracy=accuracy, boundary=boundary),
                               lap_ref(u, 1.0, accuracy, boundary), rtol=0,
                               atol=bound(u, 1.0, accuracy))


# ----------------------------------------------------------- hypothesis

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.lists(st.integers(8, 12), min_size=1, max_size=3),
       accuracy=st.sampled_from([2, 4, 6]),
       boundary=st.sampled_from(BOUNDARIES),
       h=st.floats(0.1, 4.0), seed=st.integers(0, 2**32 - 1))
def test_hypothesis_matches_reference(shape, accuracy, boundary, h, seed):
    u = np.random.default_rng(seed).uniform(-10, 10, shape)
    got = grid.laplacian(u, h, accuracy=accuracy, boundary=boundary)
    np.testing.assert_allclose(got, lap_ref(u, h, accuracy, boundary), rtol=0,
                               atol=bound(u, h, accuracy))


@settings(max_examples=25, deadline=None)
@given(c=st.floats(-1e3, 1e3), shape=st.lists(st.integers(4, 9), min_size=1, max_size=3))
def test_hypothesis_constant_and_linear_give_zero(c, shape):
    u = np.full(shape, c)
    assert (grid.laplacian(u) == 0).all()
    idx = np.indices(shape).sum(axis=0).astype(np.float64)
    np.testing.assert_allclose(grid.laplacian(c + 3.0 * idx), 0.0, rtol=0,
                               atol=64 * np.finfo(float).eps * (abs(c) + 30 * max(shape)))


# ----------------------------------------------------------- bad input

def test_errors():
    u = np.ones((6, 7))
    with pytest.raises(ValueError, match=r"dx must be a scalar or have one entry per axis "
                       r"of u \(2\), got 3 entries"):
        grid.laplacian(u, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"dx must be a scalar or have one entry per axis "
                       r"of u \(2\), got 1 entry: \[0.5\]"):
        grid.laplacian(u, [0.5])
    with pytest.raises(ValueError, match=r"dx must be positive and finite, got 0"):
        grid.laplacian(u, 0)
    with pytest.raises(ValueError, match=r"dx must be positive and finite, got -1.5"):
        grid.laplacian(u, -1.5)
    with pytest.raises(ValueError, match=r"dx must be positive and finite, got inf"):
        grid.laplacian(u, math.inf)
    with pytest.raises(ValueError, match=r"dx\[1\] must be positive and finite, got nan"):
        grid.laplacian(u, (1.0, math.nan))
    with pytest.raises(TypeError, match=r"dx must be a positive real number, got True"):
        grid.laplacian(u, True)
    with pytest.raises(TypeError, match=r"dx\[0\] must be a positive number or a 1-D "
                       r"coordinate array, got 'a'"):
        grid.laplacian(u, ("a", 1.0))
    with pytest.raises(TypeError, match=r"dx must be a positive number or a sequence"):
        grid.laplacian(u, object())
    with pytest.raises(ValueError, match=r"u has length 3 along axis 1, but accuracy=2 with "
                       r"boundary='one-sided' needs at least 4 points"):
        grid.laplacian(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"u has length 5 along axis 0, but accuracy=6 with "
                       r"boundary='periodic' needs at least 7 points"):
        grid.laplacian(np.ones((5, 9)), accuracy=6, boundary="periodic")
    with pytest.raises(ValueError, match=r"u has length 2 along axis 0, but accuracy=2 with "
                       r"boundary='valid' needs at least 3 points"):
        grid.laplacian(np.ones(2), boundary="valid")
    with pytest.raises(ValueError, match=r"accuracy must be even for scheme='centered'.*got 3"):
        grid.laplacian(u, accuracy=3)
    with pytest.raises(ValueError, match=r"accuracy must be >= 1, got 0"):
        grid.laplacian(u, accuracy=0)
    with pytest.raises(TypeError, match=r"accuracy must be an integer, got 2.0"):
        grid.laplacian(u, accuracy=2.0)
    with pytest.raises(ValueError, match=r"boundary must be one of 'one-sided', 'periodic', "
                       r"'valid', got 'reflect'"):
        grid.laplacian(u, boundary="reflect")
    with pytest.raises(ValueError, match=r"out has shape \(6, 6\), expected \(6, 7\)"):
        grid.laplacian(u, out=np.empty((6, 6)))
    with pytest.raises(ValueError, match=r"out has shape \(6, 7\), expected \(4, 5\)"):
        grid.laplacian(u, boundary="valid", out=np.empty((6, 7)))
    with pytest.raises(ValueError, match=r"out has dtype float32, expected float64"):
        grid.laplacian(u, out=np.empty((6, 7), np.float32))
    ro = np.empty((6, 7))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"out is read-only"):
        grid.laplacian(u, out=ro)
    with pytest.raises(ValueError, match=r"out overlaps the input array"):
        grid.laplacian(u, out=u)
    with pytest.raises(TypeError, match=r"out must be a numpy.ndarray, got list"):
        grid.laplacian(u, out=[[0.0] * 7] * 6)
    with pytest.raises(ValueError, match=r"u must have at least 1 dimension\(s\), "
                       r"got a 0-d array"):
        grid.laplacian(3.0)
    with pytest.raises(TypeError, match=r"u must have a numeric dtype.*got dtype <U1"):
        grid.laplacian(np.array(["a", "b", "c", "d"]))
    with pytest.raises(TypeError, match=r"u must have a numeric dtype.*got dtype object"):
        grid.laplacian(np.array([None] * 5, dtype=object))
    with pytest.raises(TypeError, match=r"dx must be a positive number or a sequence.*'ab'"):
        grid.laplacian(u, "ab")
    x = np.linspace(0, 1, 6)
    with pytest.raises(ValueError, match=r"dx\[0\] coordinates must be strictly monotonic"):
        grid.laplacian(u, (np.array([0, 1, 2, 2, 3, 4.0]), 1.0))
    with pytest.raises(ValueError, match=r"dx\[0\] has 5 coordinates but u has 6 points "
                       r"along axis 0"):
        grid.laplacian(u, (x[:5], 1.0))
    with pytest.raises(ValueError, match=r"dx has 7 coordinates but u has 6 points along axis 0"):
        grid.laplacian(x, np.linspace(0, 1, 7))
    with pytest.raises(ValueError, match=r"u has length 6 along axis 0, but accuracy=4 with "
                       r"boundary='one-sided' on a non-uniform grid needs at least 7 points"):
        grid.laplacian(u, (x, 1.0), accuracy=4)
    with pytest.raises(ValueError, match=r"boundary='periodic' needs a uniform scalar dx\[0\]"):
        grid.laplacian(u, (x, 1.0), boundary="periodic")


def test_errors_raised_before_out_is_touched():
    u = np.ones((6, 7))
    out = np.full((6, 7), 7.0)
    with pytest.raises(ValueError):
        grid.laplacian(u, (1.0, -1.0), out=out)
    assert (out == 7.0).all()


# ----------------------------------------------------------- one operation order per point
# Every point is computed by the same operations wherever it lies (row end or
# middle, wrapped or not, flat or row loop, serial or parallel, any memory
# layout), so these hold bit for bit: what chunk-by-chunk evaluation with a
# halo of accuracy/2 points relies on.

ORDER_SHAPES = [(17,), (12, 13), (10, 11, 12)]
ORDER_DX = (0.3, 0.7, 0.45)
ORDER_DTYPES = [np.float64, np.float32, np.complex128]


def _order_field(shape, dtype, seed=7):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        u = u + 1j * rng.standard_normal(shape)
    return u.astype(dtype)


@pytest.mark.parametrize("dtype", ORDER_DTYPES)
@pytest.mark.parametrize("shape", ORDER_SHAPES)
def test_periodic_is_valid_of_the_wrap_padded_array_bitwise(shape, dtype):
    u = _order_field(shape, dtype)
    dx = ORDER_DX[:len(shape)]
    for accuracy in (2, 4, 6, 8):
        m = accuracy // 2
        per = grid.laplacian(u, dx, accuracy=accuracy, boundary="periodic")
        ref = grid.laplacian(np.pad(u, m, mode="wrap"), dx, accuracy=accuracy, boundary="valid")
        np.testing.assert_array_equal(per, ref, err_msg=f"accuracy={accuracy}")


@pytest.mark.parametrize("dtype", ORDER_DTYPES)
@pytest.mark.parametrize("shape", ORDER_SHAPES)
def test_valid_is_the_interior_of_one_sided_bitwise(shape, dtype):
    u = _order_field(shape, dtype)
    for dx in (0.3, ORDER_DX[:len(shape)]):
        for accuracy in (2, 4, 6, 8):
            m = accuracy // 2
            valid = grid.laplacian(u, dx, accuracy=accuracy, boundary="valid")
            full = grid.laplacian(u, dx, accuracy=accuracy, boundary="one-sided")
            np.testing.assert_array_equal(valid, full[(slice(m, -m),) * u.ndim],
                                          err_msg=f"accuracy={accuracy}, dx={dx}")


@pytest.mark.parametrize("shape", ORDER_SHAPES)
def test_periodic_commutes_with_roll_bitwise(shape):
    u = _order_field(shape, np.float64)
    dx = ORDER_DX[:len(shape)]
    for accuracy in (2, 4, 6, 8):
        per = grid.laplacian(u, dx, accuracy=accuracy, boundary="periodic")
        for axis in range(u.ndim):
            for k in (1, 3):
                rolled = grid.laplacian(np.roll(u, k, axis), dx, accuracy=accuracy,
                                        boundary="periodic")
                np.testing.assert_array_equal(np.roll(per, k, axis), rolled,
                                              err_msg=f"accuracy={accuracy}, axis={axis}")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_memory_layout_does_not_change_the_bits(boundary):
    base = _order_field((10, 11, 12), np.float64)
    dx = ORDER_DX
    views = {
        "F": np.asfortranarray(base),
        "transposed (2, 0, 1)": np.ascontiguousarray(base.transpose(2, 0, 1)).transpose(1, 2, 0),
        "transposed (1, 2, 0)": np.ascontiguousarray(base.transpose(1, 2, 0)).transpose(2, 0, 1),
        "strided": np.repeat(base, 2, axis=2)[:, :, ::2],
    }
    for accuracy in (2, 4, 6):
        ref = grid.laplacian(base, dx, accuracy=accuracy, boundary=boundary)
        for name, u in views.items():
            np.testing.assert_array_equal(u, base)
            np.testing.assert_array_equal(
                grid.laplacian(u, dx, accuracy=accuracy, boundary=boundary), ref,
                err_msg=f"{name}, accuracy={accuracy}")
    # the layout-independent order is also what the wrap-padded "valid" sees
    u = views["transposed (2, 0, 1)"]
    np.testing.assert_array_equal(
        grid.laplacian(u, dx, accuracy=4, boundary="periodic"),
        grid.laplacian(np.pad(u, 2, mode="wrap"), dx, accuracy=4, boundary="valid"))


def _block_and_kept(n, start, length, m):
    """The block ``[start, start + length)`` of an axis of ``n`` points and,
    inside it, the points it owns: a halo of ``m`` is dropped on each side
    that is not a global edge (how a chunk is evaluated with its halo)."""
    stop = start + length
    lo = 0 if start == 0 else m
    hi = 0 if stop == n else m
    return slice(start, stop), slice(lo, length - hi), slice(start + lo, stop - hi)


def _check_block(u, dx, accuracy, full, starts, lengths):
    # blocks are C-contiguous copies, as a chunked array hands them over,
    # whatever the layout of the array ``full`` was computed from
    m = accuracy // 2
    parts = [_block_and_kept(n, s, L, m) for n, s, L in zip(u.shape, starts, lengths)]
    block = grid.laplacian(np.ascontiguousarray(u[tuple(p[0] for p in parts)]), dx,
                           accuracy=accuracy)
    np.testing.assert_array_equal(block[tuple(p[1] for p in parts)],
                                  full[tuple(p[2] for p in parts)],
                                  err_msg=f"accuracy={accuracy}, blocks={parts}")


BLOCK_FIELDS = {2: _order_field((23, 21), np.float64), 3: _order_field((13, 12, 14), np.float64)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nd=st.sampled_from([2, 3]), accuracy=st.sampled_from([2, 4, 6, 8]),
       order=st.sampled_from("CF"), data=st.data())
def test_hypothesis_block_with_halo_gives_the_global_bits(nd, accuracy, order, data):
    u = BLOCK_FIELDS[nd]
    dx = ORDER_DX[:nd]
    full = grid.laplacian(np.asarray(u, order=order), dx, accuracy=accuracy)
    starts, lengths = [], []
    for n in u.shape:
        # one-sided blocks need accuracy + 2 points per axis
        length = data.draw(st.integers(accuracy + 2, n), label="length")
        starts.append(data.draw(st.integers(0, n - length), label="start"))
        lengths.append(length)
    _check_block(u, dx, accuracy, full, starts, lengths)


@pytest.mark.parametrize("accuracy", [2, 4, 6, 8])
def test_smallest_blocks_at_edges_and_inside_give_the_global_bits(monkeypatch, accuracy):
    # per axis: blocks at the low and high edge and inside, each as short as
    # one-sided allows (accuracy + 2), which keeps 2 inner points or m + 2
    # edge points; the global result is computed by the parallel kernels
    # from a Fortran-ordered array
    u = BLOCK_FIELDS[3]
    dx = ORDER_DX
    serial = grid.laplacian(np.asfortranarray(u), dx, accuracy=accuracy)
    monkeypatch.setattr(_config, "PARALLEL_MIN", 1)
    full = grid.laplacian(np.asfortranarray(u), dx, accuracy=accuracy)
    np.testing.assert_array_equal(full, serial)
    monkeypatch.undo()
    L = accuracy + 2
    for pos in range(3):
        starts = [(0, n - L, (n - L) // 2)[pos] for n in u.shape]
        _check_block(u, dx, accuracy, full, starts, [L] * 3)
        # mixed: short along one axis, the whole length along the others
        for a in range(3):
            st_ = [0, 0, 0]
            ln = list(u.shape)
            st_[a], ln[a] = starts[a], L
            _check_block(u, dx, accuracy, full, st_, ln)


def test_four_dimensions_keep_the_same_order_properties():
    # more than 3 axes sum grid.derivative per axis: the same properties hold
    u = _order_field((9, 10, 9, 11), np.float64)
    dx = (0.3, 0.7, 0.45, 0.6)
    for accuracy in (2, 4):
        m = accuracy // 2
        per = grid.laplacian(u, dx, accuracy=accuracy, boundary="periodic")
        np.testing.assert_array_equal(
            per, grid.laplacian(np.pad(u, m, mode="wrap"), dx, accuracy=accuracy,
                                boundary="valid"))
        np.testing.assert_array_equal(
            np.roll(per, 2, 1),
            grid.laplacian(np.roll(u, 2, 1), dx, accuracy=accuracy, boundary="periodic"))
        full = grid.laplacian(np.asfortranarray(u), dx, accuracy=accuracy)
        np.testing.assert_array_equal(
            grid.laplacian(u, dx, accuracy=accuracy, boundary="valid"),
            full[(slice(m, -m),) * 4])
        _check_block(u, dx, accuracy, full, [0, 3, 0, 11 - accuracy - 2],
                     [9, accuracy + 2, 9, accuracy + 2])

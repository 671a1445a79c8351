"""fastfd.kernels: called from user @njit code, against NumPy slicing,
np.gradient, np.roll, exact (rational) weights and analytic derivatives."""

import os
import runpy
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastfd
from fastfd import grid, kernels
from reference import (
    backward_slicing, centered_slicing, forward_slicing, second_slicing,
    vandermonde_weights,
)

RNG = np.random.default_rng(7)
EPS = {np.float64: np.finfo(np.float64).eps, np.float32: np.finfo(np.float32).eps}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Each distinct (kernel, argument types, layout) is one Numba compile of
# seconds. Stencil weights are passed read-only everywhere (the type
# fastfd.stencil returns), so apply_stencil compiles once per dtype.


def ro(a):
    """``a`` as a new read-only array."""
    a = np.array(a)
    a.flags.writeable = False
    return a


# ----------------------------------------------------------- called from user njit code

@numba.njit
def user_all_1d(u, dx, f, b, c, s):
    kernels.forward_diff(u, dx, f)
    kernels.backward_diff(u, dx, b)
    kernels.centered_diff(u, dx, c)
    kernels.second_diff(u, dx, s)


@numba.njit
def user_stencil(u, offsets, weights, out, mode):
    kernels.apply_stencil(u, offsets, weights, out, mode)


@numba.njit
def user_laplacians(u2, u3, dx, out2, out3, mode):
    kernels.laplacian_2d(u2, dx, 2 * dx, out2, mode)
    kernels.laplacian_3d(u3, dx, 2 * dx, 3 * dx, out3, mode)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_1d_kernels_in_user_njit_match_numpy_slicing(dtype):
    u = RNG.standard_normal(50).astype(dtype)
    dx = 0.1
    f, b, c, s = (np.full_like(u, np.nan) for _ in range(4))
    user_all_1d(u, dx, f, b, c, s)
    for arr in (f, b, c, s):
        assert arr.dtype == dtype
        assert not np.isnan(arr).any()
    # interiors: the same expressions NumPy evaluates on float32 / float64 data
    h = dtype(dx)
    np.testing.assert_array_equal(f[:-1], forward_slicing(u, h))
    np.testing.assert_array_equal(b[1:], backward_slicing(u, h))
    np.testing.assert_array_equal(c[1:-1], centered_slicing(u, h))
    np.testing.assert_array_equal(c[1:-1], np.gradient(u, h)[1:-1])
    np.testing.assert_allclose(s[1:-1], second_slicing(u, h), rtol=0,
                               atol=16 * EPS[dtype] * np.abs(u).max() / dx**2)
    # one-sided ends
    assert f[-1] == (u[-1] - u[-2]) / h
    assert b[0] == (u[1] - u[0]) / h
    g = np.gradient(u, h, edge_order=2)
    tol = 16 * EPS[dtype] * np.abs(u).max() / dx
    np.testing.assert_allclose(c[[0, -1]], g[[0, -1]], rtol=0, atol=tol)
    e0 = (2 * u[0] - 5 * u[1] + 4 * u[2] - u[3]) / h**2
    e1 = (2 * u[-1] - 5 * u[-2] + 4 * u[-3] - u[-4]) / h**2
    np.testing.assert_allclose(s[[0, -1]], [e0, e1], rtol=0,
                               atol=64 * EPS[dtype] * np.abs(u).max() / dx**2)


def test_1d_kernels_agree_with_grid():
    u = RNG.standard_normal(40)
    out = np.empty_like(u)
    for kern, fn in ((kernels.forward_diff, grid.forward_diff),
                     (kernels.backward_diff, grid.backward_diff),
                     (kernels.centered_diff, grid.centered_diff),
                     (kernels.second_diff, grid.second_diff)):
        kern(u, 0.3, out)
        np.testing.assert_allclose(out, fn(u, 0.3), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_1d_kernels_exactness_and_convergence(dtype):
    # centered and second differences are exact on quadratics / cubics,
    # the one-sided ends included; forward/backward on lines
    x = np.linspace(-1.0, 2.0, 31)
    h = x[1] - x[0]
    out = np.empty(31, dtype=dtype)
    tol = 1e3 * EPS[dtype]
    kernels.forward_diff((3 * x - 1).astype(dtype), h, out)
    np.testing.assert_allclose(out, 3.0, rtol=tol)
    kernels.centered_diff((x**2).astype(dtype), h, out)
    np.testing.assert_allclose(out, 2 * x, rtol=0, atol=tol * 10)
    kernels.second_diff((x**3).astype(dtype), h, out)
    np.testing.assert_allclose(out, 6 * x, rtol=0, atol=tol * 100)
    if dtype is np.float32:
        return
    # error slopes on sin, ends included
    for kern, order, exact, p in ((kernels.forward_diff, 1, np.cos, 1),
                                  (kernels.backward_diff, 1, np.cos, 1),
                                  (kernels.centered_diff, 1, np.cos, 2),
                                  (kernels.second_diff, 2, lambda t: -np.sin(t), 2)):
        hs, errs = [], []
        for n in (40, 80, 160):
            t = np.linspace(0.3, 1.9, n)
            o = np.empty(n)
            kern(np.sin(t), t[1] - t[0], o)
            hs.append(t[1] - t[0])
            errs.append(np.abs(o - exact(t)).max())
        slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
        assert abs(slope - p) <= 0.2, (kern, slope)


def test_constant_gives_exact_zero():
    out = np.empty(9)
    for kern in (kernels.forward_diff, kernels.backward_diff, kernels.centered_diff,
                 kernels.second_diff):
        kern(np.full(9, 0.1 * 3), 0.1, out)
        assert (out == 0).all()
    o3 = np.empty((5, 6, 7))
    kernels.laplacian_3d(np.full((5, 6, 7), np.pi), 0.1, 0.2, 0.3, o3, kernels.ONE_SIDED)
    assert (o3 == 0).all()


def test_complex_data():
    u = RNG.standard_normal(20) + 1j * RNG.standard_normal(20)
    out = np.empty_like(u)
    kernels.centered_diff(u, 0.5, out)
    np.testing.assert_allclose(out, np.gradient(u, 0.5, edge_order=2), rtol=1e-14, atol=1e-14)


# ----------------------------------------------------------- apply_stencil

def exact_edge_value(u, order, window, i):
    """sum of exact (rational) weights of the ``order``-th derivative at
    ``i`` on the points ``window``, applied to ``u``."""
    w = vandermonde_weights(order, [j - i for j in window])
    return sum(float(c) * u[j] for c, j in zip(w, window))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_apply_stencil_one_sided_edges_are_exact_one_sided_stencils(order, accuracy):
    offsets, weights = fastfd.stencil(order, accuracy)
    n = 24
    u = RNG.standard_normal(n)
    out = np.full(n, np.nan)
    h = 0.5
    user_stencil(u, offsets, ro(weights / h**order), out, kernels.ONE_SIDED)
    m = offsets[-1]
    width = order + accuracy  # same accuracy at the edges
    scale = np.abs(u).max() * 2.0 ** width / h**order
    for i in range(n):
        if m <= i < n - m:
            ref = sum(w * u[i + o] for o, w in zip(offsets, weights)) / h**order
        else:
            window = range(width) if i < m else range(n - width, n)
            ref = exact_edge_value(u, order, window, i) / h**order
        assert abs(out[i] - ref) <= 1e-12 * scale, (i, out[i], ref)


@pytest.mark.parametrize("order, accuracy, scheme", [
    (1, 1, "forward"), (1, 3, "backward"), (2, 2, "forward"), (3, 1, "backward"),
    (2, 5, "forward"), (4, 2, "backward"),
])
def test_apply_stencil_one_sided_schemes(order, accuracy, scheme):
    offsets, weights = fastfd.stencil(order, accuracy, scheme)
    n = 20
    u = RNG.standard_normal(n)
    out = np.full(n, np.nan)
    kernels.apply_stencil(u, offsets, weights, out, kernels.ONE_SIDED)
    lo, hi = offsets.min(), offsets.max()
    width = order + accuracy
    for i in range(n):
        if i + lo >= 0 and i + hi < n:
            ref = float(np.dot(weights, u[i + offsets]))
        else:
            window = range(width) if i + lo < 0 else range(n - width, n)
            ref = exact_edge_value(u, order, window, i)
        assert abs(out[i] - ref) <= 1e-11 * np.abs(u).max() * 2.0 ** width


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_apply_stencil_polynomial_exactness_and_grid(order, accuracy):
    offsets, weights = fastfd.stencil(order, accuracy)
    x = np.linspace(-1.0, 1.0, 25)
    h = x[1] - x[0]
    p = np.polynomial.Polynomial(RNG.uniform(-1, 1, order + accuracy))  # degree p+d-1
    out = np.empty_like(x)
    kernels.apply_stencil(p(x), offsets, ro(weights / h**order), out, kernels.ONE_SIDED)
    exact = p.deriv(order)(x)
    np.testing.assert_allclose(out, exact, rtol=0, atol=1e-7 * (1 + np.abs(exact).max()))
    np.testing.assert_allclose(out, grid.derivative(p(x), order, dx=h, accuracy=accuracy),
                               rtol=0, atol=1e-7 * (1 + np.abs(exact).max()))


def test_apply_stencil_periodic_and_interior():
    offsets, weights = fastfd.stencil(2, 4)
    u = RNG.standard_normal(30).astype(np.float32)
    out = np.full_like(u, np.nan)
    kernels.apply_stencil(u, offsets, ro(weights.astype(np.float32)), out, kernels.PERIODIC)
    ref = sum(w * np.roll(u.astype(np.float64), -o) for o, w in zip(offsets, weights))
    np.testing.assert_allclose(out, ref, rtol=0, atol=64 * EPS[np.float32] * np.abs(u).max())
    # INTERIOR leaves the edge points alone
    sentinel = np.full(30, -7.0)
    u64 = u.astype(np.float64)
    kernels.apply_stencil(u64, offsets, weights, sentinel, kernels.INTERIOR)
    assert (sentinel[:2] == -7.0).all() and (sentinel[-2:] == -7.0).all()
    np.testing.assert_allclose(sentinel[2:-2], ref[2:-2], rtol=0, atol=1e-5)
    # a stencil wider than the periodic array still wraps correctly
    small = RNG.standard_normal(4)
    o = np.empty(4)
    kernels.apply_stencil(small, offsets, weights, o, kernels.PERIODIC)
    np.testing.assert_allclose(o, sum(w * np.roll(small, -k) for k, w in zip(offsets, weights)),
                               rtol=1e-13, atol=1e-13)


def test_apply_stencil_large_array_blocks():
    # more than one 1024-point block, and an unsorted, asymmetric stencil
    offsets = ro(np.array([2, -1, 0], dtype=np.int64))
    weights = ro([0.5, -2.0, 1.25])
    u = RNG.standard_normal(5000)
    out = np.full_like(u, np.nan)
    kernels.apply_stencil(u, offsets, weights, out, kernels.INTERIOR)
    ref = 0.5 * u[3:] - 2.0 * u[:-3] + 1.25 * u[1:-2]
    np.testing.assert_allclose(out[1:-2], ref, rtol=1e-15, atol=1e-15)
    assert np.isnan(out[0]) and np.isnan(out[-2:]).all()


# ----------------------------------------------------------- Laplacians

def lap2_slicing(u, dx, dy):
    return ((u[2:, 1:-1] - 2 * u[1:-1, 1:-1] + u[:-2, 1:-1]) / dx**2
            + (u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / dy**2)


def lap3_slicing(u, dx, dy, dz):
    c = u[1:-1, 1:-1, 1:-1]
    return ((u[2:, 1:-1, 1:-1] - 2 * c + u[:-2, 1:-1, 1:-1]) / dx**2
            + (u[1:-1, 2:, 1:-1] - 2 * c + u[1:-1, :-2, 1:-1]) / dy**2
            + (u[1:-1, 1:-1, 2:] - 2 * c + u[1:-1, 1:-1, :-2]) / dz**2)


def roll_lap(u, hs):
    return sum((np.roll(u, -1, a) - 2 * u + np.roll(u, 1, a)) / h**2 for a, h in enumerate(hs))


def one_sided_ref(u, hs):
    """Point by point: 3-point centred inside, (2, -5, 4, -1) at edges."""
    out = np.zeros(u.shape)
    for a, h in enumerate(hs):
        v = np.moveaxis(u, a, 0)
        d = np.empty(v.shape)
        d[1:-1] = v[2:] - 2 * v[1:-1] + v[:-2]
        d[0] = 2 * v[0] - 5 * v[1] + 4 * v[2] - v[3]
        d[-1] = 2 * v[-1] - 5 * v[-2] + 4 * v[-3] - v[-4]
        out += np.moveaxis(d, 0, a) / h**2
    return out


def strided(shape, order="C", fill=None):
    """A view of every other element of a buffer of twice ``shape`` in
    ``order`` (Numba layout 'A'), holding ``fill`` or random numbers."""
    big = np.empty(tuple(2 * n for n in shape), order=order)
    v = big[tuple(slice(None, None, 2) for _ in shape)]
    v[...] = RNG.standard_normal(shape) if fill is None else fill
    return v


def make(layout):
    """``u2, u3, o2, o3`` (NaN) in ``layout``.

    Each layout is a compile of both kernels, and laplacian_3d's C path
    (one flat loop per plane) is the only one that depends on the layout:
    every other layout, and every 2-D one, goes row by row through the same
    code. So besides "C" there is one mixed case: a Fortran-ordered 2-D u
    (Numba layout 'F') with a strided out, and strided 3-D views, a
    Fortran-ordered u (last axis not the contiguous one) and a C-ordered out.
    """
    if layout == "C":
        u2, u3 = RNG.standard_normal((9, 11)), RNG.standard_normal((7, 8, 9))
        return u2, u3, np.full(u2.shape, np.nan), np.full(u3.shape, np.nan)
    u2 = np.asfortranarray(RNG.standard_normal((9, 11)))
    return (u2, strided((7, 8, 9), "F"), strided((9, 11), fill=np.nan),
            strided((7, 8, 9), fill=np.nan))


@pytest.mark.parametrize("layout", ["C", "F_and_strided"])
def test_laplacians_in_user_njit_all_modes(layout):
    u2, u3, o2, o3 = make(layout)
    dx = 0.25
    tol2 = 64 * EPS[np.float64] * np.abs(u2).max() / dx**2
    tol3 = 64 * EPS[np.float64] * np.abs(u3).max() / dx**2
    # ONE_SIDED
    user_laplacians(u2, u3, dx, o2, o3, kernels.ONE_SIDED)
    np.testing.assert_allclose(o2, one_sided_ref(u2, (dx, 2 * dx)), rtol=0, atol=tol2)
    np.testing.assert_allclose(o3, one_sided_ref(u3, (dx, 2 * dx, 3 * dx)), rtol=0, atol=tol3)
    np.testing.assert_allclose(o3[1:-1, 1:-1, 1:-1], lap3_slicing(u3, dx, 2 * dx, 3 * dx),
                               rtol=0, atol=tol3)
    # PERIODIC
    user_laplacians(u2, u3, dx, o2, o3, kernels.PERIODIC)
    np.testing.assert_allclose(o2, roll_lap(u2, (dx, 2 * dx)), rtol=0, atol=tol2)
    np.testing.assert_allclose(o3, roll_lap(u3, (dx, 2 * dx, 3 * dx)), rtol=0, atol=tol3)
    # INTERIOR: ghost cells untouched
    o2[...] = -5.0
    o3[...] = -5.0
    user_laplacians(u2, u3, dx, o2, o3, kernels.INTERIOR)
    np.testing.assert_allclose(o2[1:-1, 1:-1], lap2_slicing(u2, dx, 2 * dx), rtol=0, atol=tol2)
    np.testing.assert_allclose(o3[1:-1, 1:-1, 1:-1], lap3_slicing(u3, dx, 2 * dx, 3 * dx),
                               rtol=0, atol=tol3)
    ghost2 = np.ones(u2.shape, bool)
    ghost2[1:-1, 1:-1] = False
    ghost3 = np.ones(u3.shape, bool)
    ghost3[1:-1, 1:-1, 1:-1] = False
    assert (o2[ghost2] == -5.0).all() and (o3[ghost3] == -5.0).all()


def test_laplacians_in_user_njit_float32():
    # float32 on the 2-D kernel: laplacian_3d's float32 arithmetic is the
    # same row primitives (_fused, _ends, _add3, _add4) in the same dtype,
    # and each 3-D specialization is a compile of about 5 s; here u3 stays
    # float64 (one user function, float32 and float64 kernels side by side)
    u2 = RNG.standard_normal((9, 11)).astype(np.float32)
    u3 = RNG.standard_normal((7, 8, 9))
    o2 = np.full(u2.shape, np.nan, np.float32)
    o3 = np.full(u3.shape, np.nan)
    dx = 0.25
    user_laplacians(u2, u3, dx, o2, o3, kernels.ONE_SIDED)
    assert o2.dtype == np.float32
    tol = 64 * EPS[np.float32] * 4 / dx**2
    np.testing.assert_allclose(o2, one_sided_ref(u2.astype(float), (dx, 2 * dx)), rtol=0,
                               atol=tol)
    np.testing.assert_allclose(o3, one_sided_ref(u3, (dx, 2 * dx, 3 * dx)), rtol=0,
                               atol=64 * EPS[np.float64] * np.abs(u3).max() / dx**2)
    offsets, weights = fastfd.stencil(1, 2)
    o1 = np.full(9, np.nan, np.float32)
    user_stencil(u2[0, :9].copy(), offsets, ro(weights.astype(np.float32)), o1,
                 kernels.ONE_SIDED)
    np.testing.assert_allclose(o1, np.gradient(u2[0, :9], edge_order=2), rtol=0, atol=1e-5)


def test_laplacian_layouts_agree_bitwise():
    # contiguous planes take the flat path, other layouts go row by row:
    # the same sums in the same order (the layouts compiled by
    # test_laplacians_in_user_njit_all_modes)
    u = RNG.standard_normal((6, 7, 8))
    ref = np.empty_like(u)
    kernels.laplacian_3d(u, 0.3, 0.4, 0.5, ref, kernels.ONE_SIDED)
    for order in ("F", "C"):
        v = strided(u.shape, order, fill=u)
        o = strided(u.shape, fill=np.nan)
        kernels.laplacian_3d(v, 0.3, 0.4, 0.5, o, kernels.ONE_SIDED)
        np.testing.assert_array_equal(o, ref)
    w = u[:, :, 0].copy()
    ref2 = np.empty_like(w)
    kernels.laplacian_2d(w, 0.3, 0.4, ref2, kernels.ONE_SIDED)
    o2 = strided(w.shape, fill=np.nan)
    kernels.laplacian_2d(np.asfortranarray(w), 0.3, 0.4, o2, kernels.ONE_SIDED)
    np.testing.assert_array_equal(o2, ref2)


def test_laplacian_float32_and_polynomials():
    x = np.arange(6.0)
    y = np.arange(7.0)
    z = np.arange(8.0)
    u = (x[:, None, None] ** 3 + 2 * y[None, :, None] ** 2 * x[:, None, None]
         + z[None, None, :] ** 3)
    exact = 10 * x[:, None, None] + 6 * z[None, None, :] + 0 * y[None, :, None]
    o = np.empty(u.shape)
    kernels.laplacian_3d(u, 1.0, 1.0, 1.0, o, kernels.ONE_SIDED)
    np.testing.assert_allclose(o, exact, rtol=0, atol=1e3 * EPS[np.float64] * np.abs(u).max())
    # float32 (on the 2-D kernel, see test_laplacians_in_user_njit_float32)
    u2 = x[:, None] ** 3 + 2 * y[None, :] ** 2 * x[:, None]
    o2 = np.empty((6, 7), np.float32)
    kernels.laplacian_2d(u2.astype(np.float32), 1.0, 1.0, o2, kernels.ONE_SIDED)
    np.testing.assert_allclose(o2, 10 * x[:, None] + 0 * y[None, :], rtol=0,
                               atol=1e3 * EPS[np.float32] * np.abs(u2).max())
    kernels.laplacian_2d((x[:, None] ** 2 + y[None, :] ** 2).astype(np.float32), 1.0, 1.0, o2,
                         kernels.ONE_SIDED)
    assert (o2 == 4.0).all()


# ----------------------------------------------------------- heat equation

@numba.njit
def heat_njit(u, dx, dt, nsteps):
    lap = np.empty_like(u)
    for _ in range(nsteps):
        kernels.second_diff(u, dx, lap)
        lap[0] = 0.0  # fixed (Dirichlet) ends
        lap[-1] = 0.0
        for i in range(u.shape[0]):
            u[i] += dt * lap[i]
    return u


@numba.njit
def heat2d_njit(u, dx, dt, nsteps):
    lap = np.zeros_like(u)
    for _ in range(nsteps):
        kernels.laplacian_2d(u, dx, dx, lap, kernels.PERIODIC)
        u += dt * lap
    return u


def heat_numpy(u, dx, dt, nsteps):
    u = u.copy()
    for _ in range(nsteps):
        u[1:-1] += dt * (u[2:] - 2 * u[1:-1] + u[:-2]) / dx**2
    return u


def test_heat_equation_in_user_njit_matches_numpy():
    n = 101
    x = np.linspace(0.0, 1.0, n)
    dx = x[1] - x[0]
    dt = 0.4 * dx**2
    u0 = np.sin(np.pi * x) + 0.3 * np.sin(3 * np.pi * x)
    steps = 500
    got = heat_njit(u0.copy(), dx, dt, steps)
    ref = heat_numpy(u0, dx, dt, steps)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    # and both follow the analytic decay of the two modes to O(dx**2)
    t = steps * dt
    exact = (np.exp(-np.pi**2 * t) * np.sin(np.pi * x)
             + 0.3 * np.exp(-9 * np.pi**2 * t) * np.sin(3 * np.pi * x))
    assert np.abs(got - exact).max() < 1e-3
    # 2-D periodic: a Fourier mode decays as exp(-|k|^2 t) (discretely)
    m = 32
    xs = np.arange(m) * (2 * np.pi / m)
    h = xs[1] - xs[0]
    u2 = np.sin(xs)[:, None] * np.cos(2 * xs)[None, :]
    dt2 = 0.2 * h**2
    got2 = heat2d_njit(u2.copy(), h, dt2, 50)
    lam = (2 * np.cos(h) - 2) / h**2 + (2 * np.cos(2 * h) - 2) / h**2  # discrete eigenvalue
    np.testing.assert_allclose(got2, (1 + dt2 * lam) ** 50 * u2, rtol=0, atol=1e-12)


def test_heat_example_script_runs(capsys):
    path = os.path.join(ROOT, "examples", "heat_equation.py")
    old = sys.argv
    sys.argv = [path, "--quick"]
    try:
        runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = old
    text = capsys.readouterr().out
    assert "max |fastfd - numpy|" in text


# ----------------------------------------------------------- hypothesis

@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 40), h=st.floats(0.01, 10.0), seed=st.integers(0, 2**32 - 1))
def test_hypothesis_second_and_centered_match_slicing(n, h, seed):
    u = np.random.default_rng(seed).uniform(-100, 100, n)
    out = np.empty(n)
    kernels.second_diff(u, h, out)
    np.testing.assert_allclose(out[1:-1], second_slicing(u, h), rtol=0,
                               atol=16 * EPS[np.float64] * 100 / h**2)
    kernels.centered_diff(u, h, out)
    np.testing.assert_array_equal(out[1:-1], centered_slicing(u, h))


@settings(max_examples=25, deadline=None)
@given(order=st.integers(1, 4), accuracy=st.sampled_from([2, 4, 6]),
       n=st.integers(12, 30), seed=st.integers(0, 2**32 - 1))
def test_hypothesis_apply_stencil_matches_grid_derivative(order, accuracy, n, seed):
    u = np.random.default_rng(seed).uniform(-1, 1, n)
    offsets, weights = fastfd.stencil(order, accuracy)
    out = np.empty(n)
    kernels.apply_stencil(u, offsets, weights, out, kernels.ONE_SIDED)
    np.testing.assert_allclose(out, grid.derivative(u, order, accuracy=accuracy), rtol=0,
                               atol=1e-11 * 2.0 ** (order + accuracy))
    kernels.apply_stencil(u, offsets, weights, out, kernels.PERIODIC)
    np.testing.assert_allclose(out, grid.derivative(u, order, accuracy=accuracy,
                                                    boundary="periodic"),
                               rtol=0, atol=1e-11 * 2.0 ** (order + accuracy))

"""fastfd.kernels N-d pieces: derivative along an axis, mixed_derivative,
accuracy 4 and 6 Laplacians, and the modes of the 1-D kernels.

References are fastfd.grid (derivative, laplacian) and NumPy slicing. Every
kernel is called through one jitted "user" function per family, shared by
the tests, with few argument types (C float64 mostly; one float32 and a few
layouts), so the suite compiles each kernel only a handful of times.
"""

import numba
import numpy as np
import pytest
from kernel_callers import call_1d

from fastfd import grid, kernels

RNG = np.random.default_rng(7)
MODES = [kernels.ONE_SIDED, kernels.PERIODIC, kernels.INTERIOR]
BOUNDARY = {kernels.ONE_SIDED: "one-sided", kernels.PERIODIC: "periodic",
            kernels.INTERIOR: "valid"}


@numba.njit
def user_derivative(u, dx, axis, out, mode, order, accuracy):
    kernels.derivative(u, dx, axis, out, mode, order, accuracy)


@numba.njit
def user_derivative_default(u, dx, axis, out, mode):
    kernels.derivative(u, dx, axis, out, mode)


@numba.njit
def user_mixed(u, da, db, a, b, out, mode, accuracy):
    kernels.mixed_derivative(u, da, db, a, b, out, mode, accuracy)


@numba.njit
def user_lap2(u, dy, dx, out, mode, accuracy):
    kernels.laplacian_2d(u, dy, dx, out, mode, accuracy)


@numba.njit
def user_lap2_default(u, dy, dx, out, mode):
    kernels.laplacian_2d(u, dy, dx, out, mode)


@numba.njit
def user_lap3(u, dz, dy, dx, out, mode, accuracy):
    kernels.laplacian_3d(u, dz, dy, dx, out, mode, accuracy)


@numba.njit
def user_1d(which, u, dx, out, mode):
    if which == 0:
        kernels.forward_diff(u, dx, out, mode)
    elif which == 1:
        kernels.backward_diff(u, dx, out, mode)
    elif which == 2:
        kernels.centered_diff(u, dx, out, mode)
    else:
        kernels.second_diff(u, dx, out, mode)


def _valid(res, ref, mode, axes, m):
    """The written part of an INTERIOR result (m points off each end of
    ``axes``), and the untouched rest, which must still be NaN."""
    if mode != kernels.INTERIOR:
        return res, ref, np.zeros(0)
    sl = [slice(None)] * res.ndim
    for a in axes:
        sl[a] = slice(m, res.shape[a] - m)
    inner = res[tuple(sl)]
    mask = np.ones(res.shape, bool)
    mask[tuple(sl)] = False
    return inner, ref, res[mask]


def _close(res, ref, rtol=1e-12):
    scale = max(np.abs(ref).max(), 1.0)
    np.testing.assert_allclose(res, ref, rtol=0, atol=rtol * scale)


# ------------------------------------------------------------- derivative


@pytest.mark.parametrize("shape", [(17,), (11, 13), (9, 10, 11)])
@pytest.mark.parametrize("mode", MODES)
def test_derivative_matches_grid_every_axis_order_accuracy(shape, mode):
    u = RNG.standard_normal(shape)
    u0 = u.copy()
    for axis in range(len(shape)):
        for order in (1, 2):
            for acc in (2, 4, 6):
                out = np.full(shape, np.nan)
                user_derivative(u, 0.3, axis, out, mode, order, acc)
                ref = grid.derivative(u, order, dx=0.3, axis=axis, accuracy=acc,
                                      boundary=BOUNDARY[mode])
                res, ref, rest = _valid(out, ref, mode, [axis], acc // 2)
                _close(res, ref)
                assert np.isnan(rest).all()
    assert np.array_equal(u, u0)


def test_derivative_negative_axis_defaults_and_python_call():
    u = RNG.standard_normal((7, 8))
    a, b, c = (np.empty_like(u) for _ in range(3))
    user_derivative_default(u, 0.5, -2, a, kernels.ONE_SIDED)
    user_derivative(u, 0.5, 0, b, kernels.ONE_SIDED, 1, 2)
    kernels.derivative(u, 0.5, 0, c, kernels.ONE_SIDED)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    # order 1, accuracy 2 is np.gradient(edge_order=2) along the axis
    _close(a, np.gradient(u, 0.5, axis=0, edge_order=2))


def test_derivative_numpy_slicing_reference_periodic():
    u = RNG.standard_normal((6, 9))
    out = np.empty_like(u)
    user_derivative(u, 0.25, 0, out, kernels.PERIODIC, 2, 2)
    ref = (np.roll(u, -1, 0) - 2 * u + np.roll(u, 1, 0)) / 0.25**2
    _close(out, ref)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("acc", [2, 4, 6])
def test_derivative_exact_on_polynomials(order, acc):
    # degree order + accuracy - 1 along the axis, edges included
    deg = order + acc - 1
    z = np.linspace(-1.0, 1.5, 12)
    y = np.linspace(0.0, 1.0, 9)
    u = z[:, None, None] ** deg + 0 * y[None, :, None] + np.ones(5)
    out = np.empty_like(u)
    user_derivative(u, z[1] - z[0], 0, out, kernels.ONE_SIDED, order, acc)
    k = deg if order == 1 else deg * (deg - 1)
    exact = k * z[:, None, None] ** (deg - order) + 0 * out
    np.testing.assert_allclose(out, exact, rtol=0, atol=1e-8 * np.abs(exact).max())


@pytest.mark.parametrize("layout", ["F", "strided"])
def test_derivative_any_layout_equals_c(layout):
    base = RNG.standard_normal((10, 12, 14))
    u = np.asfortranarray(base) if layout == "F" else base[::-1, :, ::2]
    ref_u = np.ascontiguousarray(u)
    for mode in MODES:
        for axis in range(3):
            out = np.full(u.shape, np.nan, order="F")
            ref = np.full(u.shape, np.nan)
            user_derivative(u, 0.2, axis, out, mode, 2, 4)
            user_derivative(ref_u, 0.2, axis, ref, mode, 2, 4)
            np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-11, equal_nan=True)


def test_derivative_float32_stays_float32():
    u = RNG.standard_normal((9, 10)).astype(np.float32)
    out = np.empty_like(u)
    user_derivative(u, 0.5, 0, out, kernels.ONE_SIDED, 1, 4)
    assert out.dtype == np.float32
    ref = grid.derivative(u, 1, dx=0.5, axis=0, accuracy=4)
    assert ref.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_derivative_complex():
    u = RNG.standard_normal((8, 9)) + 1j * RNG.standard_normal((8, 9))
    out = np.empty_like(u)
    kernels.derivative(u, 0.5, 1, out, kernels.ONE_SIDED, 2, 2)
    ref = grid.derivative(u.real, 2, dx=0.5, axis=1) + 1j * grid.derivative(u.imag, 2, dx=0.5,
                                                                           axis=1)
    _close(out, ref)


# ------------------------------------------------------------------ 1-D modes


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_1d_kernels_periodic_and_interior(which):
    u = RNG.standard_normal(12)
    h = 0.4
    fwd = (np.roll(u, -1) - u) / h
    ref = [fwd, np.roll(fwd, 1), (np.roll(u, -1) - np.roll(u, 1)) / (2 * h),
           (np.roll(u, -1) - 2 * u + np.roll(u, 1)) / h**2][which]
    out = np.full(12, np.nan)
    user_1d(which, u, h, out, kernels.PERIODIC)
    _close(out, ref)
    out[:] = np.nan
    user_1d(which, u, h, out, kernels.INTERIOR)
    lo, hi = [(0, 11), (1, 12), (1, 11), (1, 11)][which]
    _close(out[lo:hi], ref[lo:hi])
    assert np.isnan(np.delete(out, np.arange(lo, hi))).all()


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_1d_kernels_mode_argument_is_optional(which):
    u = RNG.standard_normal(10)
    a, b, c = np.empty(10), np.empty(10), np.empty(10)
    call_1d(which, u, 0.3, a)
    user_1d(which, u, 0.3, b, kernels.ONE_SIDED)
    [kernels.forward_diff, kernels.backward_diff, kernels.centered_diff,
     kernels.second_diff][which](u, 0.3, c)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_second_diff_periodic_needs_three_points():
    out = np.zeros(3)
    user_1d(3, np.array([1.0, 2.0, 4.0]), 1.0, out, kernels.PERIODIC)
    assert np.array_equal(out, [4.0, 1.0, -5.0])
    with pytest.raises(ValueError, match=r"^second_diff: u has length 3, needs at least 4"):
        user_1d(3, np.array([1.0, 2.0, 4.0]), 1.0, out, kernels.ONE_SIDED)


# ------------------------------------------------------------------ Laplacian


@pytest.mark.parametrize("acc", [4, 6])
@pytest.mark.parametrize("mode", MODES)
def test_laplacian_accuracy_4_6_matches_grid(acc, mode):
    u2 = RNG.standard_normal((13, 15))
    u3 = RNG.standard_normal((9, 10, 11))
    o2 = np.full_like(u2, np.nan)
    o3 = np.full_like(u3, np.nan)
    user_lap2(u2, 0.3, 0.2, o2, mode, acc)
    user_lap3(u3, 0.3, 0.2, 0.25, o3, mode, acc)
    for out, u, h in ((o2, u2, (0.3, 0.2)), (o3, u3, (0.3, 0.2, 0.25))):
        ref = grid.laplacian(u, h, accuracy=acc, boundary=BOUNDARY[mode])
        res, ref, rest = _valid(out, ref, mode, range(u.ndim), acc // 2)
        _close(res, ref)
        assert np.isnan(rest).all()


@pytest.mark.parametrize("acc", [4, 6])
def test_laplacian_exact_on_polynomials(acc):
    deg = acc + 1
    y = np.linspace(-1.0, 1.0, 11)
    x = np.linspace(0.0, 2.0, 12)
    u = y[:, None] ** deg + (x[None, :] ** deg) * 0.5
    out = np.empty_like(u)
    user_lap2(u, y[1] - y[0], x[1] - x[0], out, kernels.ONE_SIDED, acc)
    exact = deg * (deg - 1) * (y[:, None] ** (deg - 2) + 0.5 * x[None, :] ** (deg - 2))
    np.testing.assert_allclose(out, exact, rtol=0, atol=1e-8 * np.abs(exact).max())
    z = np.linspace(0.0, 1.0, 10)
    u3 = z[:, None, None] ** deg + y[None, :, None] ** 2 + x[None, None, :] ** deg
    o3 = np.empty_like(u3)
    user_lap3(u3, z[1] - z[0], y[1] - y[0], x[1] - x[0], o3, kernels.ONE_SIDED, acc)
    exact3 = (deg * (deg - 1) * (z[:, None, None] ** (deg - 2) + x[None, None, :] ** (deg - 2))
              + 2.0 + 0 * o3)
    np.testing.assert_allclose(o3, exact3, rtol=0, atol=1e-8 * np.abs(exact3).max())


def test_laplacian_spacings_in_axis_order_and_default_accuracy():
    # u[y, x]: the first spacing is axis 0's
    y = np.linspace(0.0, 1.0, 6)
    x = np.linspace(0.0, 3.0, 7)
    u = y[:, None] ** 2 + 0 * x[None, :]
    a, b = np.empty_like(u), np.empty_like(u)
    user_lap2_default(u, 0.2, 0.5, a, kernels.ONE_SIDED)
    user_lap2(u, 0.2, 0.5, b, kernels.ONE_SIDED, 2)
    assert np.array_equal(a, b)
    c = np.empty_like(u)
    kernels.laplacian_2d(u, 0.2, 0.5, c, kernels.ONE_SIDED, None)  # None is 2
    assert np.array_equal(a, c)
    _close(a, np.full_like(u, 2.0), rtol=1e-12)


def test_laplacian_accuracy_4_float32_and_strided():
    u = RNG.standard_normal((12, 14)).astype(np.float32)
    out = np.empty_like(u)
    kernels.laplacian_2d(u, 0.5, 0.25, out, kernels.ONE_SIDED, 4)
    assert out.dtype == np.float32
    ref = grid.laplacian(u, (0.5, 0.25), accuracy=4)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    # a strided view (one more compiled specialization: 2-D, the cheaper)
    v = RNG.standard_normal((12, 28))[::-1, ::2]
    o = np.empty(v.shape)
    kernels.laplacian_2d(v, 0.3, 0.25, o, kernels.PERIODIC, 4)
    _close(o, grid.laplacian(v, (0.3, 0.25), accuracy=4, boundary="periodic"))


# ------------------------------------------------------------ mixed derivative


def _mixed_ref(u, h, a, b, acc, mode):
    bd = BOUNDARY[mode]
    if mode == kernels.INTERIOR:
        bd = "one-sided"  # the interior points of a composition
    d = grid.derivative(u, 1, dx=h[b], axis=b, accuracy=acc, boundary=bd)
    return grid.derivative(d, 1, dx=h[a], axis=a, accuracy=acc, boundary=bd)


@pytest.mark.parametrize("acc", [2, 4])
@pytest.mark.parametrize("mode", MODES)
def test_mixed_matches_grid_composition(acc, mode):
    u2 = RNG.standard_normal((11, 12))
    out = np.full_like(u2, np.nan)
    user_mixed(u2, 0.3, 0.2, 0, 1, out, mode, acc)
    ref = _mixed_ref(u2, (0.3, 0.2), 0, 1, acc, mode)
    m = acc // 2
    if mode == kernels.INTERIOR:
        ref = ref[m:-m, m:-m]
    res, ref, rest = _valid(out, ref, mode, [0, 1], m)
    _close(res, ref)
    assert np.isnan(rest).all()
    swapped = np.full_like(u2, np.nan)
    user_mixed(u2, 0.2, 0.3, 1, 0, swapped, mode, acc)
    np.testing.assert_allclose(swapped, out, rtol=1e-14, atol=1e-12, equal_nan=True)
    u3 = RNG.standard_normal((8, 9, 10))
    h = (0.3, 0.2, 0.25)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        o3 = np.full_like(u3, np.nan)
        user_mixed(u3, h[a], h[b], a, b, o3, mode, acc)
        ref = _mixed_ref(u3, h, a, b, acc, mode)
        if mode == kernels.INTERIOR:
            sl = [slice(None)] * 3
            sl[a] = sl[b] = slice(m, -m)
            ref = ref[tuple(sl)]
        res, ref, rest = _valid(o3, ref, mode, [a, b], m)
        _close(res, ref)
        assert np.isnan(rest).all()


def test_mixed_exact_on_monomials():
    y = np.linspace(-1.0, 1.0, 9)
    x = np.linspace(0.0, 2.0, 10)
    for acc in (2, 4, 6):
        u = y[:, None] ** acc * x[None, :] ** acc
        out = np.empty_like(u)
        user_mixed(u, y[1] - y[0], x[1] - x[0], 0, 1, out, kernels.ONE_SIDED, acc)
        exact = acc * acc * y[:, None] ** (acc - 1) * x[None, :] ** (acc - 1)
        np.testing.assert_allclose(out, exact, rtol=0, atol=1e-8 * np.abs(exact).max())


# -------------------------------------------------------------- preconditions


def _d(u, out, **kw):
    args = dict(dx=0.1, axis=0, mode=kernels.ONE_SIDED, order=1, accuracy=2)
    args.update(kw)
    user_derivative(u, args["dx"], args["axis"], out, args["mode"], args["order"],
                    args["accuracy"])


@pytest.mark.parametrize("kw, match", [
    (dict(mode=3), r"^derivative: mode must be ONE_SIDED \(0\), PERIODIC \(1\) or INTERIOR "
                   r"\(2\), got 3$"),
    (dict(order=3), r"^derivative: order must be 1 or 2, got 3$"),
    (dict(accuracy=3), r"^derivative: accuracy must be 2, 4 or 6, got 3$"),
    (dict(axis=2), r"^derivative: axis 2 is out of bounds for a 2-D u$"),
    (dict(axis=-3), r"^derivative: axis -3 is out of bounds for a 2-D u$"),
    (dict(dx=0.0), r"^derivative: dx must be positive and finite"),
    (dict(accuracy=6), r"^derivative: u has length 6 along axis 0; this order, accuracy and "
                       r"mode needs at least 7$"),
    (dict(order=2, accuracy=4), r"^derivative: u has length 6 along axis 0; this order, "
                                r"accuracy and mode needs at least 6$"),
])
def test_derivative_preconditions(kw, match):
    u = np.ones((6, 8))
    out = np.zeros((6, 8))
    if "needs at least 6$" in match:  # fits: no error
        _d(u, out, **kw)
        return
    with pytest.raises(ValueError, match=match):
        _d(u, out, **kw)
    assert not out.any()


def test_derivative_preconditions_arrays():
    u = np.ones((6, 8))
    with pytest.raises(ValueError, match=r"^derivative: out has shape \(8, 6\), expected "
                                         r"\(6, 8\) \(the shape of u\)$"):
        _d(u, np.zeros((8, 6)))
    with pytest.raises(ValueError, match=r"^derivative: out overlaps u in memory"):
        _d(u, u)
    with pytest.raises(ValueError, match=r"^derivative: u and out must be float32, float64"):
        kernels.derivative(np.ones((6, 8), np.int64), 0.1, 0, np.zeros((6, 8), np.int64),
                           kernels.ONE_SIDED)
    with pytest.raises(ValueError, match=r"^derivative: u and out must be 1-D, 2-D or 3-D "
                                         r"arrays of one ndim, got a 4-d u and a 4-d out$"):
        kernels.derivative(np.ones((4,) * 4), 0.1, 0, np.zeros((4,) * 4), kernels.ONE_SIDED)
    with pytest.raises(ValueError, match=r"^derivative: order must be 1 or 2, got a value of "
                                         r"type float64$"):
        kernels.derivative(u, 0.1, 0, np.zeros((6, 8)), kernels.ONE_SIDED, 1.0)
    with pytest.raises(ValueError, match=r"^derivative: axis must be an integer, got a value "
                                         r"of type float64$"):
        kernels.derivative(u, 0.1, 0.0, np.zeros((6, 8)), kernels.ONE_SIDED)
    with pytest.raises(ValueError, match=r"^laplacian_2d: accuracy must be 2, 4 or 6, got a "
                                         r"value of type float64$"):
        kernels.laplacian_2d(u, 0.1, 0.1, np.zeros((6, 8)), kernels.ONE_SIDED, 4.0)


def test_mixed_preconditions():
    u = np.ones((6, 8))
    out = np.zeros((6, 8))
    with pytest.raises(ValueError, match=r"^mixed_derivative: axis_a and axis_b must differ, "
                                         r"got 1 and -1$"):
        user_mixed(u, 0.1, 0.1, 1, -1, out, kernels.ONE_SIDED, 2)
    with pytest.raises(ValueError, match=r"^mixed_derivative: accuracy must be 2, 4 or 6, "
                                         r"got 8$"):
        user_mixed(u, 0.1, 0.1, 0, 1, out, kernels.ONE_SIDED, 8)
    with pytest.raises(ValueError, match=r"^mixed_derivative: u has length 6 along axis 0; "
                                         r"this accuracy needs at least 7$"):
        user_mixed(u, 0.1, 0.1, 0, 1, out, kernels.PERIODIC, 6)
    with pytest.raises(ValueError, match=r"^mixed_derivative: axis_b 2 is out of bounds for "
                                         r"a 2-D u$"):
        user_mixed(u, 0.1, 0.1, 0, 2, out, kernels.ONE_SIDED, 2)
    with pytest.raises(ValueError, match=r"^mixed_derivative: dx_b must be positive"):
        user_mixed(u, 0.1, -1.0, 0, 1, out, kernels.ONE_SIDED, 2)
    with pytest.raises(ValueError, match=r"^mixed_derivative: u and out must be 2-D or 3-D "
                                         r"arrays of one ndim, got a 1-d u and a 1-d out$"):
        kernels.mixed_derivative(np.ones(8), 0.1, 0.1, 0, 1, np.zeros(8), kernels.ONE_SIDED)
    assert not out.any()


def test_laplacian_accuracy_preconditions():
    u = np.ones((6, 7))
    out = np.zeros((6, 7))
    with pytest.raises(ValueError, match=r"^laplacian_2d: accuracy must be 2, 4 or 6, got 5$"):
        user_lap2(u, 0.1, 0.1, out, kernels.ONE_SIDED, 5)
    with pytest.raises(ValueError, match=r"^laplacian_2d: u has shape \(6, 7\); this mode "
                                         r"needs every axis at least 8 long \(axis 0 has 6\)$"):
        user_lap2(u, 0.1, 0.1, out, kernels.ONE_SIDED, 6)
    user_lap2(u, 0.1, 0.1, out, kernels.PERIODIC, 4)  # 5 points fit
    assert np.abs(out).max() < 1e-10
    with pytest.raises(ValueError, match=r"^laplacian_2d: mode must be ONE_SIDED"):
        user_lap2(u, 0.1, 0.1, out, 7, 4)
    with pytest.raises(ValueError, match=r"^laplacian_3d: accuracy must be 2, 4 or 6, got 8$"):
        user_lap3(np.ones((9, 9, 9)), 0.1, 0.1, 0.1, np.zeros((9, 9, 9)), kernels.ONE_SIDED, 8)


def test_1d_mode_preconditions():
    out = np.zeros(5)
    with pytest.raises(ValueError, match=r"^centered_diff: mode must be ONE_SIDED \(0\), "
                                         r"PERIODIC \(1\) or INTERIOR \(2\), got 4$"):
        user_1d(2, np.ones(5), 0.1, out, 4)
    with pytest.raises(ValueError, match=r"^forward_diff: mode must be .* got True \(a bool"):
        kernels.forward_diff(np.ones(5), 0.1, out, True)
    assert not out.any()


def test_constant_gives_exact_zero_every_kernel_and_mode():
    # the centre and edge weights enter as differences u[j] - u[i]
    c2 = np.full((9, 10), np.pi)
    c3 = np.full((8, 9, 10), np.pi)
    for mode in MODES:
        for order in (1, 2):
            for acc in (2, 4, 6):
                for u in (c2, c3):
                    for axis in range(u.ndim):
                        out = np.zeros_like(u)
                        user_derivative(u, 0.1, axis, out, mode, order, acc)
                        assert (out == 0).all(), (mode, order, acc, u.ndim, axis)
        for acc in (4, 6):
            o2, o3 = np.zeros_like(c2), np.zeros_like(c3)
            user_lap2(c2, 0.1, 0.3, o2, mode, acc)
            user_lap3(c3, 0.1, 0.3, 0.2, o3, mode, acc)
            assert (o2 == 0).all() and (o3 == 0).all()
            user_mixed(c2, 0.1, 0.3, 0, 1, o2, mode, acc)
            user_mixed(c3, 0.1, 0.3, 0, 2, o3, mode, acc)
            assert (o2 == 0).all() and (o3 == 0).all()

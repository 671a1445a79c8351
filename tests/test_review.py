"""Regressions for defects found in review of the array layer (grid,
laplacian, kernels, weights, validation): each test failed before its fix,
or pins a docstring claim that was corrected."""

import math

import numpy as np
import pytest

import fastfd
from fastfd import grid

RNG = np.random.default_rng(20261125)


# --------------------------------------------------- extreme but finite dx

@pytest.mark.parametrize("dtype, dx", [(np.float64, 1e-200), (np.float32, 1e-30)])
def test_uniform_dx_whose_power_underflows_is_a_value_error(dtype, dx):
    # den * dx**order rounded to 0 in the result dtype: the kernel used to
    # divide by it and raise ZeroDivisionError from inside Numba.
    u = np.arange(10.0, dtype=dtype) ** 2
    out = np.full(10, 7.0, dtype)
    with pytest.raises(ValueError, match=rf"dx={dx!r} is too small for order=2"):
        grid.derivative(u, 2, dx=dx, out=out)
    assert (out == 7.0).all()
    with pytest.raises(ValueError, match="dx=.* is too small for order=2"):
        grid.second_diff(u, dx)
    with pytest.raises(ValueError, match="dx=.* is too small for order=2"):
        grid.derivative(u, 2, dx=dx, boundary="periodic")


def test_uniform_first_derivative_at_tiny_dx_still_works():
    u = np.arange(10.0) * 1e-300
    np.testing.assert_allclose(grid.derivative(u, dx=1e-300), 1.0, rtol=1e-12)


def test_uniform_huge_dx_gives_zero_like_numpy():
    # dx**2 overflows float64: used to raise OverflowError while planning.
    u = np.arange(10.0) ** 2
    got = grid.derivative(u, 2, dx=1e300)
    with np.errstate(over="ignore"):
        ref = (u[2:] - 2 * u[1:-1] + u[:-2]) / np.float64(1e300) ** 2
    np.testing.assert_array_equal(got[1:-1], ref)
    assert (got == 0).all()


def test_huge_integer_dx_is_a_value_error():
    # float(10**400) raised OverflowError from check_positive_scalar.
    u = np.arange(10.0)
    with pytest.raises(ValueError, match="dx must be positive and finite, got 1000"):
        grid.derivative(u, dx=10 ** 400)
    with pytest.raises(ValueError, match="dx must be positive and finite"):
        grid.laplacian(u, dx=10 ** 400)
    with pytest.raises(ValueError, match=r"spacing\[1\] must be positive and finite"):
        grid.gradient(np.ones((4, 4)), 1.0, 10 ** 400)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("scheme, accuracy", [("centered", 2), ("forward", 2)])
def test_nonuniform_tiny_coordinates_match_rescaled_grid(order, scheme, accuracy):
    # Coordinates 1e-90 apart: Fornberg's products of differences underflow
    # to 0 and the weights kernel raised ZeroDivisionError. The weights of a
    # grid scaled by a power of two are the scaled weights exactly.
    x = np.cumsum(np.linspace(1.0, 2.0, 12))
    u = np.sin(x)
    s = 2.0 ** -300
    ref = grid.derivative(u, order, dx=x, accuracy=accuracy, scheme=scheme)
    got = grid.derivative(u, order, dx=x * s, accuracy=accuracy, scheme=scheme)
    np.testing.assert_array_equal(got, ref * 2.0 ** (300 * order))


def test_nonuniform_weights_unchanged_bitwise_on_ordinary_grids():
    # the rescaling must not move a single bit on ordinary coordinates
    x = np.cumsum(RNG.random(40) + 0.1) * 0.37 + 5.0
    u = RNG.standard_normal((3, 40))
    from fastfd._kernels import stencil as k
    from fastfd.grid._derivatives import _nonuniform_plan
    for order, acc, scheme in [(1, 2, "centered"), (2, 4, "centered"), (3, 1, "backward")]:
        starts, w, _ = _nonuniform_plan(order, acc, scheme, "one-sided", x, np.float64)
        w0 = np.zeros_like(w)
        k.fornberg_rows(x, order, starts, w0)
        np.testing.assert_array_equal(w, w0)
        got = grid.derivative(u, order, dx=x, accuracy=acc, scheme=scheme)
        assert np.isfinite(got).all()


def test_nonuniform_weights_that_overflow_are_a_value_error():
    x = np.arange(8.0) * 1e-200
    with pytest.raises(ValueError, match=r"dx coordinates .* too close together for order=2"):
        grid.derivative(np.ones(8), 2, dx=x)
    with pytest.raises(ValueError, match=r"dx\[1\] coordinates .* too close together"):
        grid.laplacian(np.ones((6, 8)), dx=[1.0, x])


@pytest.mark.parametrize("accuracy", [2, 4])
@pytest.mark.parametrize("dtype, dx", [(np.float64, 1e-160), (np.float32, 1e-20)])
def test_laplacian_dx_whose_inverse_square_overflows_is_a_value_error(accuracy, dtype, dx):
    # 1/dx**2 not finite in the result dtype: ZeroDivisionError (accuracy 2)
    # or OverflowError (accuracy 4) from the Python weight set-up before.
    u = np.ones((6, 6), dtype)
    with pytest.raises(ValueError, match=r"dx=.* is too small: the stencil weights \(up to .*/dx\*\*2\) overflow"):
        grid.laplacian(u, dx=dx, accuracy=accuracy)
    with pytest.raises(ValueError, match=r"dx\[1\]=.* is too small"):
        grid.laplacian(u, dx=[1.0, dx], accuracy=accuracy)


def test_laplacian_huge_dx_gives_zero():
    u = RNG.random((6, 7))
    for accuracy in (2, 4):
        got = grid.laplacian(u, dx=1e300, accuracy=accuracy)
        assert (got == 0).all()


def test_laplacian_valid_shape_along_coordinate_axes_is_as_documented():
    # docstring said every axis shrinks by `accuracy`; a coordinate axis has
    # the wider (accuracy + 3)-point stencil and shrinks by accuracy + 2
    x = np.cumsum(np.linspace(1.0, 2.0, 11))
    for accuracy in (2, 4):
        got = grid.laplacian(RNG.random((9, 11)), dx=[0.5, x], accuracy=accuracy,
                             boundary="valid")
        assert got.shape == (9 - accuracy, 11 - accuracy - 2)


# ------------------------------------------- kernels.apply_stencil, float32

@pytest.mark.parametrize("order, accuracy, scheme", [
    (4, 7, "forward"), (5, 5, "backward"), (6, 4, "forward"), (4, 8, "backward")])
def test_apply_stencil_one_sided_reads_float32_weights_right(order, accuracy, scheme):
    # float32 weights of these stencils have M_order only ~3e-6 of its scale,
    # below the 1e-5 moment threshold: the edges were computed as an 11th
    # (or 13th) derivative, off by factors of 5-70. Now the edges are as
    # accurate as the interior those float32 weights give.
    import fastfd
    from fastfd import kernels
    from fastfd._kernels.simple import stencil_moments
    h = 0.25
    offsets, weights = fastfd.stencil(order, accuracy, scheme)
    w64 = weights / h ** order
    w32 = w64.astype(np.float32)
    d, p, scale = stencil_moments(offsets, w32)
    assert (d, p) == (order, accuracy)
    assert abs(scale * h ** order - 1) < 1e-2
    # u = x**order / order! on x centred at 0: the derivative is 1 everywhere
    x = (np.arange(24) - 11.5) * h
    u = x ** order / math.factorial(order)
    got = np.full_like(u, np.nan)
    kernels.apply_stencil(u, offsets, w32, got, kernels.ONE_SIDED)
    lo, hi = -min(offsets), 24 - max(offsets)
    interior = np.abs(got[lo:hi] - 1).max()
    edges = np.abs(np.r_[got[:lo], got[hi:]] - 1).max()
    assert edges < 1e-2 + 10 * interior


def test_step_rule_non_finite_x_as_documented():
    # the docstring said every non-finite x gives a non-finite step; NaN
    # fails `abs(x) > 1` and gets the |x| <= 1 step
    from fastfd.steps import step_base, step_rule
    base = step_base(np.finfo(np.float64).eps)
    assert step_rule(np.inf, base) == np.inf
    assert step_rule(-np.inf, base) == np.inf
    assert step_rule(np.nan, base) == step_rule(0.5, base)


def test_stencil_weights_overflowing_is_a_value_error():
    # exact weights ~1e600 raised OverflowError converting to float
    import fastfd
    with pytest.raises(ValueError, match=r"offsets are too close together for "
                                         r"order=2: .*\[0\.0, 1e-300, 2e-300\]"):
        fastfd.stencil_weights(2, [0, 1e-300, 2e-300])
    np.testing.assert_array_equal(fastfd.stencil_weights(2, [0, 1e300, 2e300]), 0.0)


def test_constant_zero_as_documented():
    # the module docstring said every symmetric stencil gives exactly 0 on a
    # constant; only odd orders (difference pairs) do, even orders and edges
    # are zero to rounding
    c = np.full(30, 0.1)
    for order in (1, 3):
        for accuracy in (2, 4, 6):
            for boundary in ("periodic", "valid"):
                got = grid.derivative(c, order, dx=0.1, accuracy=accuracy,
                                      boundary=boundary)
                assert (got == 0).all()
    even = grid.derivative(c, 4, dx=0.1, accuracy=6, boundary="periodic")
    assert np.abs(even).max() > 0  # not exactly zero: the claim was false
    _, weights = fastfd.stencil(4, 6)
    bound = 8 * np.finfo(float).eps * 0.1 * np.abs(weights).sum() / 0.1 ** 4
    assert np.abs(even).max() < bound


# ----------------------------------------------------- out next to u

def test_disjoint_interleaved_out_is_accepted():
    # np.may_share_memory compares address ranges only: out=z.imag for
    # u=z.real was refused as "overlapping" though no element is shared
    x = np.linspace(0.0, 1.0, 12)
    z = np.exp(1j * x)
    re = z.real.copy()
    got = grid.derivative(z.real, dx=x[1], out=z.imag)
    assert got is not None
    np.testing.assert_array_equal(z.imag, grid.derivative(re, dx=x[1]))
    np.testing.assert_array_equal(z.real, re)  # input untouched
    b = np.arange(48.0) ** 2
    u = b[0::2].reshape(4, 6)
    ref = grid.laplacian(u.copy())
    out = b[1::2].reshape(4, 6)
    assert grid.laplacian(u, out=out) is out
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(b[0::2], np.arange(0, 48, 2.0) ** 2)


def test_really_overlapping_out_is_still_refused():
    b = np.arange(42.0)
    with pytest.raises(ValueError, match="out overlaps the input array"):
        grid.derivative(b[0:40:2], out=b[2:42:2])
    c = np.arange(30.0)
    with pytest.raises(ValueError, match="out overlaps the input array"):
        grid.laplacian(c[:20].reshape(4, 5), out=c[10:30].reshape(4, 5))

"""grid.derivative and grid.laplacian at spacings whose powers or inverse
powers underflow or overflow, and at coordinates far from 1: a ValueError
naming dx, or results that match a rescaled grid or NumPy."""

import numpy as np
import pytest

from fastfd import grid

RNG = np.random.default_rng(20261125)


@pytest.mark.parametrize("dtype, dx", [(np.float64, 1e-200), (np.float32, 1e-30)])
def test_uniform_dx_whose_power_underflows_is_a_value_error(dtype, dx):
    # den * dx**order rounds to 0 in the result dtype: refused before the
    # kernel would divide by it, and out is left untouched
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
    # dx**2 overflows float64: the result is 0, as NumPy's (u / inf)
    u = np.arange(10.0) ** 2
    got = grid.derivative(u, 2, dx=1e300)
    with np.errstate(over="ignore"):
        ref = (u[2:] - 2 * u[1:-1] + u[:-2]) / np.float64(1e300) ** 2
    np.testing.assert_array_equal(got[1:-1], ref)
    assert (got == 0).all()


def test_huge_integer_dx_is_a_value_error():
    # float(10**400) overflows: an integer dx that large is not finite
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
    # Coordinates 1e-90 apart: Fornberg's products of differences would
    # underflow to 0. The weights of a grid scaled by a power of two are the
    # scaled weights exactly.
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
    from fastfd.grid._plan import _nonuniform_plan
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
    # 1/dx**2 is not finite in the result dtype: refused while setting up
    # the weights, for both stencils
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

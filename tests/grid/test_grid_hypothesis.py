"""Property tests for fastfd.grid (always on, few examples, float64 only so
no extra kernels compile)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastfd import grid
from reference import derivative_ref, stencil_windows

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

stencils = st.sampled_from([
    (1, 2, "centered"), (1, 4, "centered"), (2, 2, "centered"), (3, 2, "centered"),
    (1, 1, "forward"), (2, 3, "forward"), (1, 2, "backward"), (4, 1, "backward"),
])
boundaries = st.sampled_from(["one-sided", "periodic", "valid"])


@st.composite
def problems(draw):
    order, accuracy, scheme = draw(stencils)
    boundary = draw(boundaries)
    ndim = draw(st.integers(1, 3))
    axis = draw(st.integers(-ndim, ndim - 1))
    shape = list(draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=5)))
    shape[axis] = draw(st.integers(order + accuracy + 1, 14))
    u = draw(hnp.arrays(np.float64, tuple(shape),
                        elements=st.floats(-1e3, 1e3, allow_nan=False)))
    layout = draw(st.sampled_from(["C", "F", "reversed", "transposed"]))
    if layout == "F":
        u = np.asfortranarray(u)
    elif layout == "reversed":
        u = np.flip(u, axis=0)
    elif layout == "transposed" and ndim > 1:
        u = np.moveaxis(np.ascontiguousarray(np.moveaxis(u, 0, -1)), -1, 0)
    dx = draw(st.floats(0.05, 20.0))
    return u, order, accuracy, scheme, boundary, axis, dx


def _bound(u, order, accuracy, scheme, boundary, dx, axis):
    n = u.shape[axis]
    rows = stencil_windows(n, order, accuracy, scheme, boundary)
    wsum = max(sum(abs(c) for c in w) for _, w in rows) / dx ** order
    return 64 * np.finfo(float).eps * wsum * max(1.0, np.abs(u).max())


@SETTINGS
@given(problems())
def test_matches_reference(problem):
    u, order, accuracy, scheme, boundary, axis, dx = problem
    keep = u.copy()
    got = grid.derivative(u, order, dx=dx, axis=axis, accuracy=accuracy, scheme=scheme,
                          boundary=boundary)
    ref = derivative_ref(u, order, dx, axis, accuracy, scheme, boundary)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0,
                               atol=_bound(u, order, accuracy, scheme, boundary, dx, axis))
    np.testing.assert_array_equal(u, keep)


@SETTINGS
@given(problems(), st.floats(-4, 4))
def test_linear_and_constant_free(problem, c):
    u, order, accuracy, scheme, boundary, axis, dx = problem
    kw = dict(dx=dx, axis=axis, accuracy=accuracy, scheme=scheme, boundary=boundary)
    d = grid.derivative(u, order, **kw)
    # adding a constant changes nothing in the interior of a symmetric stencil
    # and nothing at all up to rounding elsewhere
    shifted = grid.derivative(u + c, order, **kw)
    np.testing.assert_allclose(shifted, d, rtol=0, atol=2 * _bound(
        np.abs(u) + abs(c), order, accuracy, scheme, boundary, dx, axis))
    if scheme == "centered" and boundary != "one-sided":
        const = grid.derivative(np.full(u.shape, c), order, **kw)
        assert np.all(const == 0)
    np.testing.assert_allclose(grid.derivative(3 * u, order, **kw), 3 * d, rtol=0,
                               atol=4 * _bound(u, order, accuracy, scheme, boundary, dx, axis))


@SETTINGS
@given(st.lists(st.floats(0.2, 1.0), min_size=9, max_size=20),
       st.sampled_from([(1, 2, "centered"), (2, 2, "centered"), (1, 3, "forward"),
                        (2, 1, "backward"), (3, 2, "centered")]),
       st.booleans())
def test_nonuniform_exact_on_polynomials(steps, stencil, decreasing):
    order, accuracy, scheme = stencil
    x = np.concatenate([[0.0], np.cumsum(steps)])
    x = x / x[-1] * 2 - 1
    if decreasing:
        x = x[::-1].copy()
    p = np.polynomial.Polynomial(np.linspace(-1, 1, order + accuracy))
    got = grid.derivative(p(x), order, dx=x, accuracy=accuracy, scheme=scheme)
    hmin = np.abs(np.diff(x)).min()
    np.testing.assert_allclose(got, p.deriv(order)(x), rtol=0,
                               atol=1e4 * np.finfo(float).eps / hmin ** order)

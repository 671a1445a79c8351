"""fastfd.grid against NumPy slicing, np.gradient, the point-by-point
references in reference.py, analytic derivatives and numerical properties."""

import math

import numpy as np
import pytest

import fastfd._config as config
from fastfd import grid
from reference import (
    backward_slicing, centered_slicing, derivative_ref, forward_slicing,
    periodic_roll_ref, second_slicing, stencil_windows, touched,
)

RNG = np.random.default_rng(20261125)
SCHEMES = ("centered", "forward", "backward")
BOUNDARIES = ("one-sided", "periodic", "valid")


def cases(orders=(1, 2, 3, 4), accuracies=(1, 2, 3, 4)):
    return [(o, a, s) for o in orders for a in accuracies for s in SCHEMES
            if not (s == "centered" and a % 2)]


def rounding_bound(u, order, accuracy, scheme, boundary, dx, eps, x=None):
    """A bound on the rounding difference between two evaluations of the same
    stencil: a few eps times the largest sum |w_k u_k| over the rows."""
    n = np.shape(u)[-1] if x is None else len(x)
    rows = stencil_windows(n, order, accuracy, scheme, boundary, x)
    wsum = max(sum(abs(c) for c in w) for _, w in rows)
    if x is None:
        wsum /= dx ** order
    return 32 * eps * wsum * max(1.0, float(np.max(np.abs(u))))


def stretched(n, a=0.0, b=1.0):
    """Smoothly stretched grid on [a, b]: x(s) = s + 0.1 sin(2 pi s) / (2 pi)."""
    s = np.linspace(0.0, 1.0, n)
    return a + (b - a) * (s + 0.1 * np.sin(2 * np.pi * s) / (2 * np.pi))


# ---------------------------------------------------------------- np.gradient

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dx", [1.0, 0.1, 3.0])
def test_centered_interior_is_np_gradient_bitwise(dtype, dx):
    u = RNG.standard_normal(101).astype(dtype)
    ref = np.gradient(u, dx, edge_order=2)
    for got in (grid.centered_diff(u, dx), grid.derivative(u, dx=dx),
                grid.gradient(u, dx, edge_order=2)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got[1:-1], ref[1:-1])
        np.testing.assert_allclose(got[[0, -1]], ref[[0, -1]],
                                   rtol=8 * np.finfo(dtype).eps, atol=0)
    # and the seed's slicing formula, evaluated by NumPy
    np.testing.assert_array_equal(grid.centered_diff(u, dx)[1:-1],
                                  centered_slicing(u, dx))


def test_edges_are_second_order_one_sided():
    u = RNG.standard_normal(9)
    d = grid.centered_diff(u, 0.5)
    assert d[0] == pytest.approx((-3 * u[0] + 4 * u[1] - u[2]) / 1.0, rel=1e-14)
    assert d[-1] == pytest.approx((3 * u[-1] - 4 * u[-2] + u[-3]) / 1.0, rel=1e-14)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_matches_np_gradient_every_axis(axis):
    u = RNG.standard_normal((6, 7, 8))
    ref = np.gradient(u, 0.3, axis=axis, edge_order=2)
    got = grid.derivative(u, dx=0.3, axis=axis)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    inner = [slice(None)] * 3
    inner[axis] = slice(1, -1)
    np.testing.assert_array_equal(got[tuple(inner)], ref[tuple(inner)])


def test_gradient_call_shapes():
    u = RNG.standard_normal((5, 6, 7))
    x = np.cumsum(RNG.uniform(0.5, 1.5, 7))
    # no spacing, one scalar, one per axis with a coordinate array
    for args in [(), (0.5,), (0.5, 2.0, x)]:
        ref = np.gradient(u, *args, edge_order=2)
        got = grid.gradient(u, *args, edge_order=2)
        assert isinstance(got, tuple) and len(got) == 3
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
    one = grid.gradient(u, x, axis=-1, edge_order=2)
    assert isinstance(one, np.ndarray)
    np.testing.assert_allclose(one, np.gradient(u, x, axis=-1, edge_order=2),
                               rtol=1e-12, atol=1e-12)
    two = grid.gradient(u, 0.5, 2.0, axis=(0, -2), edge_order=2)
    ref = np.gradient(u, 0.5, 2.0, axis=(0, -2), edge_order=2)
    for g, r in zip(two, ref):
        np.testing.assert_allclose(g, r, rtol=1e-13, atol=1e-13)
    assert len(grid.gradient(u[0, 0])) == 7  # 1-D: one array


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _assert_like_np_gradient(got, ref, uniform, dtype=np.float64):
    got, ref = _as_tuple(got), _as_tuple(ref)
    assert len(got) == len(ref)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
        if uniform and r.ndim == 1 and r.shape[0] > 2:
            np.testing.assert_array_equal(g[1:-1], r[1:-1])


# np.gradient needs 3 points at edge_order=2 (2 points: test_gradient_edge_order_errors)
@pytest.mark.parametrize("edge_order, n", [
    (e, n) for e in (None, 1, 2) for n in (2, 3, 4, 9) if n > 2 or e != 2])
def test_gradient_is_np_gradient_1d(edge_order, n):
    kw = {} if edge_order is None else {"edge_order": edge_order}
    u = RNG.standard_normal(n)
    x = np.cumsum(RNG.uniform(0.5, 1.5, n))
    for args, uniform in [((), True), ((0.3,), True), ((x,), False), ((x[::-1],), False)]:
        _assert_like_np_gradient(grid.gradient(u, *args, **kw),
                                 np.gradient(u, *args, **kw), uniform)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("edge_order", [None, 1, 2])
def test_gradient_is_np_gradient_nd(edge_order, dtype):
    kw = {} if edge_order is None else {"edge_order": edge_order}
    u = RNG.standard_normal((5, 3, 7)).astype(dtype)
    x = np.cumsum(RNG.uniform(0.5, 1.5, 7))
    y = np.cumsum(RNG.uniform(0.5, 1.5, 5))
    cases = [((), {}, True), ((0.5,), {}, True), ((0.5, 2.0, 0.25), {}, True),
             ((y, 2.0, x), {}, False), ((x,), {"axis": -1}, False),
             ((0.5, x), {"axis": (1, 2)}, False), ((), {"axis": 0}, True)]
    for args, ax, uniform in cases:
        _assert_like_np_gradient(grid.gradient(u, *args, **ax, **kw),
                                 np.gradient(u, *args, **ax, **kw), uniform, dtype)


@pytest.mark.parametrize("shape, axis", [((500, 2), 1), ((3, 2, 400), 1), ((2, 300), 0)])
def test_gradient_two_points_parallel(monkeypatch, shape, axis):
    """A plan with no interior row (2 points, edge_order=1) on the parallel
    kernel: its edge rows are still written."""
    monkeypatch.setattr(config, "PARALLEL_MIN", 1)
    v = RNG.standard_normal(shape)
    np.testing.assert_array_equal(grid.gradient(v, axis=axis), np.gradient(v, axis=axis))


def test_gradient_two_points_per_axis():
    u = RNG.standard_normal((2, 2))
    for a, b in zip(grid.gradient(u, 0.5, [1.0, 3.0]), np.gradient(u, 0.5, [1.0, 3.0])):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


def test_gradient_edge_order_keeps_the_interior():
    u = RNG.standard_normal((6, 9))
    x = np.cumsum(RNG.uniform(0.5, 1.5, 9))
    for args in [(0.3,), (0.3, x)]:
        one = grid.gradient(u, *args)
        two = grid.gradient(u, *args, edge_order=2)
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a[1:-1, 1:-1], b[1:-1, 1:-1])
    # accuracy above 2 keeps its full-accuracy edges, the same as derivative
    np.testing.assert_array_equal(grid.gradient(u[0], 0.3, accuracy=4),
                                  grid.derivative(u[0], dx=0.3, accuracy=4))


@pytest.mark.parametrize("call, exc, match", [
    (lambda u: grid.gradient(u, edge_order=3), ValueError,
     r"edge_order must be 1 or 2, as in np.gradient, got 3"),
    (lambda u: grid.gradient(u, edge_order=1.0), TypeError,
     r"edge_order must be an integer, got 1.0"),
    (lambda u: grid.gradient(u, edge_order=1, accuracy=4), ValueError,
     r"edge_order=1 contradicts accuracy=4: .* Omit edge_order, or pass accuracy=2"),
    (lambda u: grid.gradient(u, edge_order=2, boundary="periodic"), ValueError,
     r"edge_order=2 has no meaning with boundary='periodic'.*omit edge_order"),
    (lambda u: grid.gradient(u[:2], edge_order=2), ValueError,
     r"u has 2 points along axis 0.* needs at least 3"),
    (lambda u: grid.gradient(u[:1]), ValueError, r"u has 1 point along axis 0.* needs at least 2"),
])
def test_gradient_edge_order_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.arange(6.0))


def test_gradient_nonuniform_matches_np_gradient():
    x = stretched(40, -1.0, 2.0)[::-1]  # decreasing coordinates too
    u = np.exp(np.sin(3 * x))
    ref = np.gradient(u, x, edge_order=2)
    got = grid.derivative(u, dx=x)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_gradient_accuracy_and_periodic():
    x = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    u = np.sin(x)
    dx = x[1] - x[0]
    e2 = np.abs(grid.gradient(u, dx, boundary="periodic") - np.cos(x)).max()
    e4 = np.abs(grid.gradient(u, dx, accuracy=4, boundary="periodic") - np.cos(x)).max()
    assert e4 < e2 / 50
    np.testing.assert_allclose(grid.gradient(u, dx, accuracy=4, boundary="periodic"),
                               periodic_roll_ref(u, 1, 4, dx), rtol=0, atol=1e-14)


# ------------------------------------------------------ the seed's formulas

@pytest.mark.parametrize("axis", [0, -1])
def test_named_differences_match_slicing(axis):
    u = RNG.standard_normal((7, 9))
    h = 0.25
    inner = [slice(None)] * 2
    inner[axis] = slice(None, -1)
    f = grid.forward_diff(u, h, axis=axis)
    np.testing.assert_array_equal(f[tuple(inner)], forward_slicing(u, h, axis))
    inner[axis] = slice(1, None)
    b = grid.backward_diff(u, h, axis=axis)
    np.testing.assert_array_equal(b[tuple(inner)], backward_slicing(u, h, axis))
    inner[axis] = slice(1, -1)
    c = grid.centered_diff(u, h, axis=axis)
    np.testing.assert_array_equal(c[tuple(inner)], centered_slicing(u, h, axis))
    s = grid.second_diff(u, h, axis=axis)
    np.testing.assert_allclose(s[tuple(inner)], second_slicing(u, h, axis),
                               rtol=0, atol=rounding_bound(u, 2, 2, "centered", "valid",
                                                           h, np.finfo(float).eps))
    # edges: forward's last point is the backward difference and vice versa
    last = [slice(None)] * 2
    last[axis] = -1
    first = [slice(None)] * 2
    first[axis] = 0
    np.testing.assert_array_equal(f[tuple(last)], b[tuple(last)])
    np.testing.assert_array_equal(b[tuple(first)], f[tuple(first)])
    for got, order, acc, scheme in [(f, 1, 1, "forward"), (b, 1, 1, "backward"),
                                    (c, 1, 2, "centered"), (s, 2, 2, "centered")]:
        ref = derivative_ref(u, order, h, axis, acc, scheme)
        np.testing.assert_allclose(got, ref, rtol=0,
                                   atol=rounding_bound(u, order, acc, scheme,
                                                       "one-sided", h, 2.2e-16))


# ------------------------------------------------ reference, every stencil

@pytest.mark.parametrize("order,accuracy,scheme", cases() + [(1, 6, "centered"),
                                                            (2, 6, "centered")])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matches_reference_uniform(order, accuracy, scheme, boundary):
    u = RNG.standard_normal((3, 20))
    h = 0.7
    got = grid.derivative(u, order, dx=h, accuracy=accuracy, scheme=scheme,
                          boundary=boundary)
    ref = derivative_ref(u, order, h, -1, accuracy, scheme, boundary)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=rounding_bound(
        u, order, accuracy, scheme, boundary, h, 2.2e-16))


@pytest.mark.parametrize("order,accuracy,scheme", cases())
@pytest.mark.parametrize("boundary", ["one-sided", "valid"])
def test_matches_reference_nonuniform(order, accuracy, scheme, boundary):
    x = np.sort(RNG.uniform(0, 3, 18))
    x = x[np.r_[True, np.diff(x) > 0.03]]
    u = RNG.standard_normal((2, x.size))
    got = grid.derivative(u, order, dx=x, accuracy=accuracy, scheme=scheme,
                          boundary=boundary)
    ref = derivative_ref(u, order, x, -1, accuracy, scheme, boundary)
    assert got.shape == ref.shape
    scale = np.abs(ref).max() + 1
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("order,accuracy", [(1, 2), (1, 4), (2, 2), (2, 6), (3, 4), (4, 2)])
def test_periodic_is_np_roll(order, accuracy):
    u = RNG.standard_normal((4, 16))
    h = 0.4
    got = grid.derivative(u, order, dx=h, accuracy=accuracy, boundary="periodic")
    ref = periodic_roll_ref(u, order, accuracy, h, axis=-1)
    np.testing.assert_allclose(got, ref, rtol=0, atol=rounding_bound(
        u, order, accuracy, "centered", "periodic", h, 2.2e-16))
    # shift invariance: every row uses the same stencil, in the same order
    shifted = grid.derivative(np.roll(u, 5, axis=-1), order, dx=h, accuracy=accuracy,
                              boundary="periodic")
    np.testing.assert_array_equal(shifted, np.roll(got, 5, axis=-1))


@pytest.mark.parametrize("order,accuracy,scheme", cases(accuracies=(1, 2, 4)))
def test_valid_is_interior_of_one_sided(order, accuracy, scheme):
    u = RNG.standard_normal(25)
    full = grid.derivative(u, order, accuracy=accuracy, scheme=scheme)
    valid = grid.derivative(u, order, accuracy=accuracy, scheme=scheme, boundary="valid")
    rows = stencil_windows(25, order, accuracy, scheme, "valid")
    width = len(rows[0][0])
    assert valid.shape == (25 - width + 1,)
    assert rows[0][0][0] == 0
    centre = {"centered": width // 2, "forward": 0, "backward": width - 1}[scheme]
    np.testing.assert_array_equal(valid, full[centre:centre + valid.size])


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.float64])
@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_every_axis_same_bits(dtype, boundary):
    """A point's value depends on its neighbours only, not on which axis is
    the contiguous one: the edge rows of the contiguous axis accumulate in the
    input's dtype like every other row (chunked evaluation relies on it)."""
    u = RNG.standard_normal((37, 5)) + 0j * np.iscomplexobj(dtype(0))
    if np.iscomplexobj(dtype(0)):
        u = u + 1j * RNG.standard_normal(u.shape)
    u = u.astype(dtype)
    for order, accuracy, scheme in [(1, 2, "centered"), (3, 6, "centered"),
                                    (2, 3, "forward"), (1, 4, "backward")]:
        kw = dict(dx=0.3, accuracy=accuracy, scheme=scheme, boundary=boundary)
        along0 = grid.derivative(u, order, axis=0, **kw)
        along1 = grid.derivative(np.ascontiguousarray(u.T), order, axis=1, **kw).T
        np.testing.assert_array_equal(along1, along0)


# ------------------------------------------------ exactness and convergence

def _poly(degree):
    return np.polynomial.Polynomial(RNG.uniform(-1, 1, degree + 1))


@pytest.mark.parametrize("order,accuracy,scheme", cases())
@pytest.mark.parametrize("boundary", ["one-sided", "valid"])
@pytest.mark.parametrize("uniform", [True, False])
def test_polynomial_exactness(order, accuracy, scheme, boundary, uniform):
    degree = order + accuracy - 1
    p = _poly(degree)
    dp = p.deriv(order)
    n = 15
    x = np.linspace(-1, 1, n) if uniform else stretched(n, -1, 1)
    dx = x[1] - x[0] if uniform else x
    got = grid.derivative(p(x), order, dx=dx, accuracy=accuracy, scheme=scheme,
                          boundary=boundary)
    if boundary == "valid":
        rows = stencil_windows(n, order, accuracy, scheme, "valid")
        width = len(rows[0][0])
        centre = {"centered": width // 2, "forward": 0, "backward": width - 1}[scheme]
        if not uniform and scheme == "centered":
            width = order + accuracy + 1 - (order + accuracy) % 2
            centre = width // 2
        xs = x[centre:centre + got.size]
    else:
        xs = x
    h = 2 / (n - 1)
    tol = 1e4 * np.finfo(float).eps * np.abs(p(x)).max() / h ** order
    np.testing.assert_allclose(got, dp(xs), rtol=0, atol=tol)
    # one degree more is not exact (the stencil really has this accuracy), at
    # least at the one-sided edges; centered "valid" stencils are exact one
    # degree higher when uniform (symmetry) or of even order (an odd count of
    # order + accuracy + 1 points)
    if not (scheme == "centered" and boundary == "valid" and (uniform or order % 2 == 0)):
        q = p + np.polynomial.Polynomial.basis(degree + 1)
        worse = grid.derivative(q(x), order, dx=dx, accuracy=accuracy, scheme=scheme,
                                boundary=boundary)
        dq = q.deriv(order)(xs)
        assert np.abs(worse - dq).max() > 100 * tol


def _derivs(order, x):
    """d^order/dx^order of sin(2x)."""
    return 2.0 ** order * np.sin(2 * x + order * np.pi / 2)


@pytest.mark.parametrize("order,accuracy,scheme", cases() + [(1, 6, "centered")])
@pytest.mark.parametrize("uniform", [True, False])
def test_convergence_slope(order, accuracy, scheme, uniform):
    # grids coarse enough that truncation, not rounding (~eps/h**order),
    # dominates the error of the high-order stencils
    ns = (32, 64) if order + accuracy <= 6 else (24, 48)
    errs, hs = [], []
    for n in ns:
        x = np.linspace(0, 1, n) if uniform else stretched(n)
        dx = x[1] - x[0] if uniform else x
        got = grid.derivative(np.sin(2 * x), order, dx=dx, accuracy=accuracy,
                              scheme=scheme)
        errs.append(np.abs(got - _derivs(order, x)).max())
        hs.append(1 / (n - 1))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - accuracy) <= 0.2, slope


def test_nonuniform_second_derivative_keeps_its_order():
    # 3 points give a first-order second derivative on a non-uniform grid;
    # fastfd uses 5 so accuracy=2 holds
    errs = []
    for n in (40, 80):
        x = stretched(n) ** 2 + stretched(n)
        got = grid.derivative(np.sin(2 * x), 2, dx=x)
        errs.append(np.abs(got + 4 * np.sin(2 * x)).max())
    assert math.log2(errs[0] / errs[1]) > 1.8


def test_constants_give_exact_zero():
    for order, acc, boundary in [(1, 2, "one-sided"), (1, 8, "periodic"), (2, 4, "valid"),
                                 (3, 6, "periodic"), (4, 4, "valid")]:
        u = np.full(30, 0.1)
        d = grid.derivative(u, order, dx=0.1, accuracy=acc, boundary=boundary)
        interior = d if boundary != "one-sided" else d[5:-5]
        assert np.all(interior == 0.0)


# --------------------------------------------------- layouts, dtypes, out

@pytest.mark.parametrize("layout", ["C", "F", "strided", "transposed", "readonly",
                                    "negative"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_layouts(layout, axis):
    base = RNG.standard_normal((8, 9, 10))
    u = {"C": base, "F": np.asfortranarray(base),
         "strided": base[::2, 1:, ::3],
         "transposed": base.transpose(1, 2, 0),
         "readonly": base.copy(),
         "negative": base[:, ::-1]}[layout]
    if layout == "readonly":
        u.flags.writeable = False
    before = u.copy()
    for order, acc, scheme in [(1, 2, "centered"), (2, 1, "forward")]:
        got = grid.derivative(u, order, dx=0.5, axis=axis, accuracy=acc, scheme=scheme)
        ref = derivative_ref(np.ascontiguousarray(u), order, 0.5, axis, acc, scheme)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(u, before)
    if layout == "F":
        assert got.flags.f_contiguous
    if layout in ("C", "readonly"):
        assert got.flags.c_contiguous


def test_contiguous_layouts_are_not_copied(monkeypatch):
    # C, F and axis-permuted contiguous views go straight to the kernel
    calls = []
    real = np.ascontiguousarray

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(np, "ascontiguousarray", spy)
    base = RNG.standard_normal((5, 6, 7))
    for u in (base, np.asfortranarray(base), base.transpose(2, 0, 1)):
        for axis in range(3):
            grid.derivative(u, axis=axis)
    assert calls == []
    grid.derivative(base[:, ::2], axis=1)
    assert calls == [1]


@pytest.mark.parametrize("dtype,result", [
    (np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float32),
    (np.complex128, np.complex128), (np.complex64, np.complex64),
    (np.int64, np.float64), (np.int32, np.float64), (np.uint8, np.float64),
    (np.bool_, np.float64)])
def test_dtypes(dtype, result):
    raw = RNG.standard_normal((4, 12)) * 10
    if np.dtype(dtype).kind == "c":
        raw = raw + 1j * RNG.standard_normal((4, 12))
    if np.dtype(dtype).kind == "b":
        raw = raw > 0
    elif np.dtype(dtype).kind == "u":
        raw = np.abs(raw)
    u = raw.astype(dtype)
    eps = np.finfo(result).eps
    for order, acc, scheme, boundary in [(1, 2, "centered", "one-sided"),
                                         (2, 4, "centered", "periodic"),
                                         (1, 3, "backward", "valid")]:
        got = grid.derivative(u, order, dx=0.5, accuracy=acc, scheme=scheme,
                              boundary=boundary)
        assert got.dtype == result
        ref = derivative_ref(u, order, 0.5, -1, acc, scheme, boundary)
        np.testing.assert_allclose(got, ref, rtol=0, atol=rounding_bound(
            np.abs(u.astype(np.complex128)), order, acc, scheme, boundary, 0.5, eps))
    x = np.linspace(0, 1, 12) ** 1.5
    got = grid.derivative(u, dx=x)
    assert got.dtype == result
    np.testing.assert_allclose(got, derivative_ref(u, 1, x), rtol=0,
                               atol=1e4 * eps * np.abs(u).max())


def test_float32_scale_is_cast():
    u = np.linspace(0, 1, 50, dtype=np.float32) ** 2
    d = grid.derivative(u, 2, dx=np.float32(1 / 49))
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, 2.0, rtol=5e-3)


def test_out_is_fully_written_and_returned():
    u = RNG.standard_normal((6, 11))
    for kwargs, shape in [(dict(), (6, 11)), (dict(boundary="valid", accuracy=4), (6, 7)),
                          (dict(axis=0, order=2), (6, 11)),
                          (dict(dx=np.linspace(0, 1, 11) ** 2), (6, 11))]:
        for order in ("C", "F"):
            out = np.full(shape, np.nan, order=order)
            res = grid.derivative(u, out=out, **kwargs)
            assert res is out
            assert not np.isnan(out).any()
            np.testing.assert_array_equal(out, grid.derivative(u, **kwargs))
    # non-contiguous out
    big = np.full((6, 22), np.nan)
    res = grid.derivative(u, out=big[:, ::2])
    assert res.base is big
    np.testing.assert_array_equal(big[:, ::2], grid.derivative(u))
    assert np.isnan(big[:, 1::2]).all()
    # the named differences take out= too
    out = np.full(11, np.nan)
    assert grid.second_diff(u[0], 0.5, out=out) is out
    np.testing.assert_array_equal(out, grid.second_diff(u[0], 0.5))


def test_empty_other_axes():
    u = np.zeros((0, 5))
    assert grid.derivative(u).shape == (0, 5)
    assert grid.derivative(u, boundary="valid").shape == (0, 3)


def test_minimum_length_works():
    # exactly the needed number of points
    for order, acc, scheme, boundary, n in [(1, 2, "centered", "one-sided", 3),
                                            (2, 2, "centered", "one-sided", 4),
                                            (2, 2, "centered", "valid", 3),
                                            (1, 1, "forward", "one-sided", 2),
                                            (4, 4, "centered", "periodic", 7)]:
        u = np.arange(float(n)) ** 2
        d = grid.derivative(u, order, accuracy=acc, scheme=scheme, boundary=boundary)
        ref = derivative_ref(u, order, 1.0, -1, acc, scheme, boundary)
        np.testing.assert_allclose(d, ref, atol=1e-10)


# ------------------------------------------------------- NaN, parallel, inputs

@pytest.mark.parametrize("order,accuracy,scheme", [(1, 2, "centered"), (2, 4, "centered"),
                                                   (1, 3, "forward"), (3, 2, "backward")])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_nan_spreads_only_where_the_stencil_touches(order, accuracy, scheme, boundary):
    n = 24
    mask = touched(n, order, accuracy, scheme, boundary)
    for k in (0, 1, 11, n - 2, n - 1):
        for bad in (np.nan, np.inf):
            u = np.linspace(0, 1, n)
            u[k] = bad
            d = grid.derivative(np.tile(u, (3, 1)).T, order, accuracy=accuracy,
                                scheme=scheme, boundary=boundary, axis=0)
            np.testing.assert_array_equal(~np.isfinite(d[:, 0]), mask[:, k])
            d1 = grid.derivative(u, order, accuracy=accuracy, scheme=scheme,
                                 boundary=boundary)
            np.testing.assert_array_equal(~np.isfinite(d1), mask[:, k])
    x = stretched(n)
    mask = touched(n, order, accuracy, scheme, "one-sided", x)
    u = np.linspace(0, 1, n)
    u[7] = np.nan
    d = grid.derivative(u, order, dx=x, accuracy=accuracy, scheme=scheme)
    np.testing.assert_array_equal(np.isnan(d), mask[:, 7])


@pytest.mark.parametrize("shape,axis", [((200_003,), 0), ((70_001, 3), 0), ((3, 70_001), 1),
                                        ((50, 41, 60), 1), ((8, 100_000), 0)])
def test_parallel_equals_serial_bitwise(monkeypatch, shape, axis):
    u = RNG.standard_normal(shape)
    x = np.cumsum(RNG.uniform(0.5, 1.0, shape[axis]))
    runs = []
    for threshold in (10**12, 0):
        monkeypatch.setattr(config, "PARALLEL_MIN", threshold)
        runs.append([
            grid.derivative(u, axis=axis, dx=0.1),
            grid.derivative(u, 3, axis=axis, accuracy=4, boundary="periodic"),
            grid.derivative(u, 2, axis=axis, scheme="forward", boundary="valid"),
            grid.derivative(u, 2, axis=axis, dx=x),
        ])
    for serial, parallel in zip(*runs):
        np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_allclose(runs[0][0], np.gradient(u, 0.1, axis=axis, edge_order=2),
                               rtol=1e-12, atol=1e-12)


def test_inputs_never_modified():
    u = RNG.standard_normal((5, 8))
    x = np.linspace(0, 1, 8) ** 2
    keep_u, keep_x = u.copy(), x.copy()
    grid.derivative(u, 2, dx=x, accuracy=4)
    grid.derivative(u, axis=0, boundary="periodic")
    grid.forward_diff(u)
    grid.backward_diff(u)
    grid.centered_diff(u)
    grid.second_diff(u)
    grid.gradient(u, 1.0, x)
    np.testing.assert_array_equal(u, keep_u)
    np.testing.assert_array_equal(x, keep_x)


def test_repeat_calls_use_cached_plan_and_agree():
    u = RNG.standard_normal(1000)
    a = grid.derivative(u, dx=0.1)
    b = grid.derivative(u, dx=0.1)
    np.testing.assert_array_equal(a, b)
    out = np.empty_like(u)
    assert grid.derivative(u, dx=0.1, out=out) is out
    np.testing.assert_array_equal(out, a)
    for h in (1, 1.0, np.float64(1.0)):  # spellings of one spacing share a plan
        np.testing.assert_array_equal(grid.derivative(u, dx=h), grid.derivative(u))
    # a cached plan does not let bad arguments through
    with pytest.raises(TypeError, match="dx must be a positive real number, got True"):
        grid.derivative(u, dx=True)
    with pytest.raises(TypeError, match="order must be an integer"):
        grid.derivative(u, True, dx=0.1)
    with pytest.raises(ValueError, match="axis=1 is out of range"):
        grid.derivative(u, dx=0.1, axis=1)
    with pytest.raises(ValueError, match="out overlaps"):
        grid.derivative(u, dx=0.1, out=u)
    with pytest.raises(ValueError, match="out is read-only"):
        ro = np.empty_like(u)
        ro.flags.writeable = False
        grid.derivative(u, dx=0.1, out=ro)
    with pytest.raises(ValueError, match="scheme must be one of"):
        grid.derivative(u, dx=0.1, scheme=["centered"])


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("call,exc,match", [
    (lambda u: grid.derivative(u, axis=2), ValueError, r"axis=2 is out of range"),
    (lambda u: grid.derivative(u, axis=-3), ValueError, r"axis=-3 is out of range"),
    (lambda u: grid.derivative(u, axis=1.0), TypeError, r"axis must be an integer, got 1.0"),
    (lambda u: grid.derivative(u[:, :2]), ValueError,
     r"u has 2 points along axis 1, but order=1, accuracy=2, scheme='centered' with "
     r"boundary='one-sided' needs at least 3"),
    (lambda u: grid.derivative(u[:, :3], 2), ValueError, r"u has 3 points .* needs at least 4"),
    (lambda u: grid.derivative(u[:, :4], accuracy=4, boundary="valid"), ValueError,
     r"u has 4 points along axis 1.*needs at least 5"),
    (lambda u: grid.derivative(u[:, :4], 2, dx=np.arange(4.0)), ValueError,
     r"u has 4 points.*needs at least 5"),
    (lambda u: grid.derivative(np.float64(3.0)), ValueError, r"u must have at least 1 dim"),
    (lambda u: grid.derivative(u, dx=0.0), ValueError, r"dx must be positive and finite, got 0.0"),
    (lambda u: grid.derivative(u, dx=-1.5), ValueError, r"dx must be positive and finite, got -1.5"),
    (lambda u: grid.derivative(u, dx=np.inf), ValueError, r"dx must be positive and finite, got inf"),
    (lambda u: grid.derivative(u, dx=np.nan), ValueError, r"dx must be positive and finite, got nan"),
    (lambda u: grid.derivative(u, dx="1"), TypeError, r"dx must be a positive number or a 1-D"),
    (lambda u: grid.derivative(u, dx=1j), TypeError, r"dx must be a positive real number, got 1j"),
    (lambda u: grid.derivative(u, dx=np.arange(5.0)), ValueError,
     r"dx has 5 coordinates but u has 6 points along axis 1"),
    (lambda u: grid.derivative(u, dx=np.ones((2, 3))), ValueError,
     r"dx must be a positive number or a 1-D coordinate array, got an array of shape \(2, 3\)"),
    (lambda u: grid.derivative(u, dx=[0, 1, 2, 2, 3, 4]), ValueError,
     r"dx coordinates must be strictly monotonic, got \[0, 1, 2, 2, 3, 4\]"),
    (lambda u: grid.derivative(u, dx=[0, 1, 3, 2, 4, 5]), ValueError,
     r"dx coordinates must be strictly monotonic"),
    (lambda u: grid.derivative(u, dx=[0, 1, 2, np.nan, 4, 5]), ValueError,
     r"dx coordinates must be finite, got \[0, 1, 2, nan, 4, 5\]"),
    (lambda u: grid.derivative(u, dx=np.arange(6) + 1j), TypeError,
     r"dx must hold real coordinates, got dtype complex128"),
    (lambda u: grid.derivative(u, dx=np.arange(6.0), boundary="periodic"), ValueError,
     r"boundary='periodic' needs a uniform scalar dx"),
    (lambda u: grid.derivative(u, scheme="central"), ValueError,
     r"scheme must be one of 'centered', 'forward', 'backward', got 'central'"),
    (lambda u: grid.derivative(u, boundary="wrap"), ValueError,
     r"boundary must be one of 'one-sided', 'periodic', 'valid', got 'wrap'"),
    (lambda u: grid.derivative(u, 0), ValueError, r"order must be >= 1, got 0"),
    (lambda u: grid.derivative(u, -2), ValueError, r"order must be >= 1, got -2"),
    (lambda u: grid.derivative(u, 1.5), TypeError, r"order must be an integer, got 1.5"),
    (lambda u: grid.derivative(u, accuracy=0, scheme="forward"), ValueError,
     r"accuracy must be >= 1, got 0"),
    (lambda u: grid.derivative(u, accuracy=3), ValueError,
     r"accuracy must be even for scheme='centered'.*got 3"),
    (lambda u: grid.derivative(u, accuracy=2.0), TypeError, r"accuracy must be an integer"),
    (lambda u: grid.derivative(u, out=np.empty((3, 5))), ValueError,
     r"out has shape \(3, 5\), expected \(3, 6\)"),
    (lambda u: grid.derivative(u, boundary="valid", out=np.empty((3, 6))), ValueError,
     r"out has shape \(3, 6\), expected \(3, 4\)"),
    (lambda u: grid.derivative(u, out=np.empty((3, 6), np.float32)), ValueError,
     r"out has dtype float32, expected float64"),
    (lambda u: grid.derivative(u, out=[[0.0] * 6] * 3), TypeError,
     r"out must be a numpy.ndarray, got list"),
    (lambda u: grid.derivative(u, out=u), ValueError, r"out overlaps the input"),
    (lambda u: grid.derivative(u, out=u.T.copy().T[:, ::-1]), None, None),
    (lambda u: grid.derivative(u.astype(object)), TypeError, r"u must have a numeric dtype.*object"),
    (lambda u: grid.derivative(np.array(["a", "b", "c"])), TypeError,
     r"u must have a numeric dtype.*<U1"),
    (lambda u: grid.derivative(np.zeros(4, dtype="datetime64[s]")), TypeError,
     r"u must have a numeric dtype.*datetime64"),
    (lambda u: grid.derivative([[1, 2], [3]]), TypeError, r"u must be array_like"),
    (lambda u: grid.centered_diff(u, 0.0), ValueError, r"dx must be positive"),
    (lambda u: grid.second_diff(u[:, :3]), ValueError, r"u has 3 points.*needs at least 4"),
    (lambda u: grid.forward_diff(u[:, :1]), ValueError, r"u has 1 point along.*needs at least 2"),
    (lambda u: grid.gradient(u, 1.0, 2.0, 3.0), TypeError,
     r"spacing must be empty, one scalar, or one value per differentiated axis \(2\), got 3"),
    (lambda u: grid.gradient(u, 1.0, -2.0), ValueError,
     r"spacing\[1\] must be positive and finite, got -2.0"),
    (lambda u: grid.gradient(u, 1.0, np.arange(3.0)), ValueError,
     r"spacing\[1\] has 3 coordinates but u has 6 points along axis 1"),
    (lambda u: grid.gradient(u, axis=(0, 0)), ValueError, r"axis must not repeat an axis, got \(0, 0\)"),
    (lambda u: grid.gradient(u, axis=3), ValueError, r"axis=3 is out of range"),
    (lambda u: grid.gradient(u, boundary="valid"), ValueError,
     r"boundary must be one of 'one-sided', 'periodic', got 'valid'"),
    (lambda u: grid.gradient(u, accuracy=3), ValueError, r"accuracy must be even"),
])
def test_errors(call, exc, match):
    u = RNG.standard_normal((3, 6))
    keep = u.copy()
    if exc is None:  # a fresh, non-overlapping strided out is fine
        call(u)
    else:
        with pytest.raises(exc, match=match):
            call(u)
    np.testing.assert_array_equal(u, keep)


def test_out_overlapping_view_rejected():
    u = RNG.standard_normal(10)
    with pytest.raises(ValueError, match="out overlaps the input"):
        grid.derivative(u[:5], out=u[3:8])


def test_nothing_compiles_at_import():
    import subprocess
    import sys
    code = (
        "import fastfd.grid\n"
        "from fastfd._kernels import stencil\n"
        "from numba.core.registry import CPUDispatcher\n"
        "d = [v for v in vars(stencil).values() if isinstance(v, CPUDispatcher)]\n"
        "assert len(d) >= 6, len(d)\n"
        "print(sum(len(v.signatures) for v in d))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "0"

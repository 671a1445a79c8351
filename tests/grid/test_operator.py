"""fastfd.grid operators: algebra, one-pass application, sparse matrices.

References: fastfd.grid.derivative (itself tested against NumPy slicing and
np.gradient), sequential application, exact polynomial derivatives, and the
operator's own scipy.sparse matrix built independently of the kernel.
"""

import numba
import numpy as np
import pytest

import fastfd
from fastfd import _config
from fastfd import grid
from fastfd.grid import Curl, Diff, Divergence, Gradient, Identity, Laplacian

RNG = np.random.default_rng(7)
U2 = RNG.standard_normal((13, 17))
U3 = RNG.standard_normal((7, 8, 9))
BOUNDARIES = ["one-sided", "periodic", "valid"]


def close(a, b, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * scale)


# ------------------------------------------------------------ single derivatives
@pytest.mark.parametrize("order, accuracy, scheme", [
    (1, 2, "centered"), (2, 2, "centered"), (1, 4, "centered"), (2, 6, "centered"),
    (3, 2, "centered"), (1, 1, "forward"), (1, 3, "backward"), (2, 2, "forward"),
])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_diff_equals_grid_derivative(order, accuracy, scheme, axis, boundary):
    dx = 0.3
    got = Diff(axis, order, accuracy=accuracy, dx=dx, scheme=scheme)(U2, boundary=boundary)
    ref = grid.derivative(U2, order, dx=dx, axis=axis, accuracy=accuracy, scheme=scheme,
                          boundary=boundary)
    if boundary == "valid":
        # grid trims the differentiated axis only; an operator's output is
        # the points where its stencil fits, the same here
        assert got.shape == ref.shape
    close(got, ref, scale=np.abs(ref).max())


def test_diff_on_coordinates_equals_grid_derivative():
    x = np.cumsum(RNG.uniform(0.5, 1.5, 17))
    for order, accuracy in [(1, 2), (2, 2), (1, 4)]:
        for boundary in ("one-sided", "valid"):
            got = Diff(1, order, accuracy=accuracy, dx=x)(U2, boundary=boundary)
            ref = grid.derivative(U2, order, dx=x, axis=1, accuracy=accuracy,
                                  boundary=boundary)
            assert got.shape == ref.shape
            close(got, ref, scale=np.abs(ref).max())


# ------------------------------------------------------------ algebra
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_sums_scalars_and_differences_are_linear(boundary):
    a, b = Diff(0, 2, dx=0.5), Diff(1, accuracy=4)
    lhs = (2.5 * a - b + 3)(U2, boundary=boundary)
    sl = (slice(1, -1), slice(2, -2)) if boundary == "valid" else (slice(None),) * 2
    ref = (2.5 * grid.derivative(U2, 2, dx=0.5, axis=0, boundary=boundary)[:, sl[1]]
           if boundary == "valid" else
           2.5 * grid.derivative(U2, 2, dx=0.5, axis=0, boundary=boundary))
    other = grid.derivative(U2, 1, axis=1, accuracy=4, boundary=boundary)
    other = other[sl[0], :] if boundary == "valid" else other
    close(lhs, ref - other + 3 * U2[sl], scale=30)


@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_composition_is_sequential_application(boundary):
    a = Diff(1, accuracy=4, dx=0.2)
    b = Diff(1, 2, dx=0.2) + Diff(0)
    close((a @ b)(U2, boundary=boundary), a(b(U2, boundary=boundary), boundary=boundary),
          scale=1e3)
    # along one axis: the composed table includes the edge rows
    close((a @ a)(U2, boundary=boundary), a(a(U2, boundary=boundary), boundary=boundary),
          scale=1e3)


def test_mixed_partials_commute_and_curl_of_gradient_vanishes():
    d01 = Diff(0, dx=0.3) @ Diff(1, dx=0.7)
    d10 = Diff(1, dx=0.7) @ Diff(0, dx=0.3)
    close(d01(U2), d10(U2), scale=10)
    g = Gradient(2, dx=[0.3, 0.7])(U2)
    close(Curl(2, dx=[0.3, 0.7])(g), np.zeros_like(U2), scale=10)
    g3 = Gradient(3)(U3)
    close(Curl(3)(g3), np.zeros((3,) + U3.shape), scale=10)


def test_divergence_of_gradient_is_the_composed_laplacian():
    lap = Diff(0) @ Diff(0) + Diff(1) @ Diff(1)
    close(Divergence(2)(Gradient(2)(U2)), lap(U2), scale=10)


def test_multiplying_operators_is_a_type_error_that_points_to_composition():
    with pytest.raises(TypeError, match=r"use @ to compose operators"):
        Diff(0) * Diff(1)


# ------------------------------------------------------------ a coefficient field between derivatives
K2 = 1 + RNG.random(U2.shape)
K2B = 2 + RNG.random(U2.shape)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_coefficient_between_derivatives_is_applied_in_two_passes(boundary):
    # d/dx1 (k2 d/dx0 (k u)) + Laplacian, against the parts applied one
    # after another, coefficient fields cut to each output by hand
    op = 3.0 * (Diff(1, dx=0.5) @ (K2B * (Diff(0) @ (K2 * Identity())))) + Laplacian(2)
    got = op(U2, boundary=boundary)
    if boundary == "valid":
        inner = K2B[1:-1] * Diff(0)(K2 * U2, boundary="valid")
        chain = Diff(1, dx=0.5)(inner, boundary="valid")
        ref = 3.0 * chain + Laplacian(2)(U2, boundary="valid")
        assert got.shape == (11, 15)
    else:
        inner = K2B * Diff(0)(K2 * U2, boundary=boundary)
        ref = 3.0 * Diff(1, dx=0.5)(inner, boundary=boundary) + Laplacian(2)(U2, boundary=boundary)
    close(got, ref, scale=10)
    M = op.matrix(U2.shape, boundary=boundary)
    close(M @ U2.ravel(), got.ravel(), scale=10)
    out = np.full_like(got, np.nan)
    assert op(U2, boundary=boundary, out=out) is out
    np.testing.assert_array_equal(out, got)


def test_nested_coefficients_between_derivatives_with_valid_edges():
    # each coefficient field lives on the whole grid: a chain's outer
    # operator, applied to a smaller "valid" output, reads its own part
    op = Diff(0) @ (K2 * (Diff(0) @ (K2B * Diff(1))))
    t = K2B[:, 1:-1] * Diff(1)(U2, boundary="valid")
    t = K2[1:-1, 1:-1] * Diff(0)(t, boundary="valid")
    ref = Diff(0)(t, boundary="valid")
    got = op(U2, boundary="valid")
    assert got.shape == (9, 15)
    close(got, ref, scale=10)
    close(op.matrix(U2.shape, boundary="valid") @ U2.ravel(), ref.ravel(), scale=10)


def test_a_variable_coefficient_in_conservative_form_is_exact_on_polynomials():
    # d/dx (k du/dx) with k = 1 + x, u = x^2: 2 + 4x, edges included (each
    # second-order stencil is exact on the quadratics it is applied to)
    x = np.linspace(0.0, 1.0, 41)
    h = x[1] - x[0]
    op = Diff(0, dx=h) @ ((1 + x) * Diff(0, dx=h))
    np.testing.assert_allclose(op(x ** 2), 2 + 4 * x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(op.matrix(x.shape) @ x ** 2, 2 + 4 * x, rtol=0, atol=1e-10)


def test_a_chain_in_a_vector_operator_and_beside_terms_on_other_fields():
    chain = Diff(0) @ (K2 * Diff(0))
    ref = Diff(0)(K2 * Diff(0)(U2))
    V = fastfd.VectorOperator([chain, Diff(1)])
    got = V(U2)
    close(got[0], ref, scale=10)
    close(got[1], Diff(1)(U2))
    close(V.matrix(U2.shape) @ U2.ravel(), got.ravel(), scale=10)
    # the chain reads field 0 of a stack of two
    U = np.stack([U2, U2[::-1]])
    op = chain + Diff(1).on(1)
    assert op.nfields == 2
    close(op(U), ref + Diff(1)(U2[::-1]), scale=10)
    close(op.matrix(U2.shape) @ U.ravel(), op(U).ravel(), scale=10)


def test_a_chain_on_coordinates_with_valid_edges():
    x = np.cumsum(1 + RNG.random(12))
    k = 1 + RNG.random(12)
    u = RNG.standard_normal(12)
    op = Diff(0, dx=x) @ (k * Diff(0, dx=x))
    t = k[1:-1] * Diff(0, dx=x)(u, boundary="valid")
    ref = Diff(0, dx=x[1:-1])(t, boundary="valid")
    close(op(u, boundary="valid"), ref, scale=10)
    close(op.matrix(u.shape, boundary="valid") @ u, ref, scale=10)


def test_a_chain_too_long_for_a_small_valid_grid_says_so():
    with pytest.raises(ValueError, match=r"a grid of shape \(4,\) is too small for .* with "
                                         r"boundary='valid': its inner part leaves \(2,\) "
                                         r"points, and then Diff\(0\) needs at least 3 points"):
        (Diff(0) @ (np.ones(4) * Diff(0)))(np.ones(4), boundary="valid")


def test_a_coefficient_between_derivatives_has_no_kernel_stencil_or_fused_step():
    op = Diff(0) @ (K2 * Diff(0))
    assert "@ (<field (13, 17)> * Diff(0))" in repr(op)
    with pytest.raises(NotImplementedError, match=r"A\(k \* B\(u\)\).*DivKGrad"):
        op.kernel(U2.shape)
    with pytest.raises(NotImplementedError, match=r"no constant stencil"):
        op.stencil
    with pytest.raises(NotImplementedError, match=r"cannot be fused"):
        # refused before fn is compiled
        fastfd.fuse(numba.njit(lambda u, lu: lu), op, shape=U2.shape)
    assert repr(0 * op) == "Operator(0)"


# ------------------------------------------------------------ exactness
@pytest.mark.parametrize("p, q, accuracy", [(1, 1, 2), (2, 1, 2), (1, 2, 4), (2, 2, 4)])
@pytest.mark.parametrize("boundary", ["one-sided", "valid"])
def test_mixed_partials_are_exact_on_polynomials(p, q, accuracy, boundary):
    # x**a y**b with a, b up to the degree the stencils are exact on
    y, x = np.meshgrid(np.linspace(-1, 1, 11), np.linspace(0, 2, 12), indexing="ij")
    dy, dx = 0.2, 2 / 11
    op = Diff(0, p, accuracy=accuracy, dx=dy) @ Diff(1, q, accuracy=accuracy, dx=dx)
    for a in range(p, p + accuracy):
        for b in range(q, q + accuracy):
            u = y ** a * x ** b
            fy = np.prod(np.arange(a - p + 1, a + 1)) * y ** (a - p)
            fx = np.prod(np.arange(b - q + 1, b + 1)) * x ** (b - q)
            got = op(u, boundary=boundary)
            ref = fy * fx
            if boundary == "valid":
                k0 = (ref.shape[0] - got.shape[0]) // 2
                k1 = (ref.shape[1] - got.shape[1]) // 2
                ref = ref[k0:k0 + got.shape[0], k1:k1 + got.shape[1]]
            np.testing.assert_allclose(got, ref, atol=1e-9 * max(1, np.abs(ref).max()))


def test_laplacian_accuracy_4_converges_at_order_4():
    errs = []
    for n in (17, 33, 65):
        x = np.linspace(0, 1, n)
        u = np.sin(3 * x)[:, None] * np.cos(2 * x)[None, :]
        ref = -13 * u
        h = x[1] - x[0]
        errs.append(np.abs(Laplacian(2, accuracy=4, dx=h)(u) - ref).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert (rates > 3.6).all(), rates


# ------------------------------------------------------------ matrices
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matrix_times_field_equals_the_operator(boundary):
    k = 1 + RNG.random(U2.shape)
    x = np.cumsum(RNG.uniform(0.5, 1.5, 17))
    ops = [Laplacian(2, accuracy=4, dx=[0.5, 0.25]), k * Diff(0, 2) - 2.0,
           Diff(0, accuracy=4) @ Diff(1, scheme="forward", accuracy=1)]
    if boundary != "periodic":
        ops.append(Diff(1, 2, dx=x) + Diff(0))
    for op in ops:
        out = op(U2, boundary=boundary)
        m = op.matrix(U2.shape, boundary=boundary)
        assert m.format == "csr" and m.shape == (out.size, U2.size)
        close(m @ U2.ravel(), out.ravel(), scale=100)


def test_matrix_of_a_vector_field_operator():
    F = RNG.standard_normal((3,) + U3.shape)
    for op in (Divergence(3), Curl(3)):
        close(op.matrix(U3.shape) @ F.ravel(), op(F).ravel(), scale=10)
    g = Gradient(3)
    close(g.matrix(U3.shape) @ U3.ravel(), g(U3).ravel(), scale=10)


def test_matrix_of_a_large_grid():
    u = RNG.standard_normal((300, 301))
    m = Laplacian(2, accuracy=4).matrix(u.shape)
    assert m.shape == (u.size,) * 2 and m.has_canonical_format
    close(m @ u.ravel(), Laplacian(2, accuracy=4)(u).ravel(), scale=100)


def test_matrix_solves_a_poisson_problem():
    import scipy.sparse.linalg as spla
    n = 41
    x = np.linspace(0, 1, n)
    h = x[1] - x[0]
    u_exact = np.sin(np.pi * x)[:, None] * np.sin(np.pi * x)[None, :]
    f = -2 * np.pi ** 2 * u_exact
    A = Laplacian(2, dx=h).matrix((n, n), boundary="valid")
    inner = (slice(1, -1),) * 2
    # interior unknowns, zero Dirichlet values on the walls
    cols = np.zeros((n, n), dtype=bool)
    cols[inner] = True
    u = np.zeros((n, n))
    u[inner] = spla.spsolve(A[:, cols.ravel()].tocsc(), f[inner].ravel()).reshape(n - 2, n - 2)
    assert np.abs(u - u_exact).max() < 1e-3


# ------------------------------------------------------------ kernel paths
def test_parallel_equals_serial_bit_for_bit(monkeypatch):
    op = Laplacian(3, accuracy=4, dx=[0.1, 0.2, 0.3]) + (1 + U3) * Diff(2)
    serial = op(U3)
    monkeypatch.setattr(_config, "PARALLEL_MIN", 0)
    np.testing.assert_array_equal(op(U3), serial)


def test_float32_stays_float32():
    u = U2.astype(np.float32)
    op = Laplacian(2, accuracy=4, dx=0.5)
    got = op(u)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, op(U2), rtol=1e-4, atol=1e-4 * np.abs(op(U2)).max())


def test_complex_fields():
    z = U2 + 1j * U2[::-1]
    op = Diff(0, 2) + 1j * Diff(1)
    np.testing.assert_allclose(op(z), Diff(0, 2)(z) + 1j * Diff(1)(z), atol=1e-12)


def test_out_and_accumulating_forms():
    op = Laplacian(2)
    out = np.full(U2.shape, np.nan)
    assert op(U2, out=out) is out
    np.testing.assert_array_equal(out, op(U2))
    with pytest.raises(ValueError, match=r"out has shape \(13, 16\), expected \(13, 17\)"):
        op(U2, out=np.empty((13, 16)))
    with pytest.raises(ValueError, match=r"out overlaps the input array"):
        op(out, out=out)


def test_inputs_are_never_modified():
    u = U2.copy()
    k = np.ones(U2.shape)
    (k * Laplacian(2) + Diff(0))(u)
    np.testing.assert_array_equal(u, U2)
    k[:] = 5.0
    np.testing.assert_array_equal(u, U2)


def test_coefficient_is_copied_when_the_operator_is_built():
    k = np.ones(U2.shape)
    op = k * Diff(0)
    before = op(U2)
    k[:] = 2.0
    np.testing.assert_array_equal(op(U2), before)


# ------------------------------------------------------------ description and errors
def test_stencil_and_repr():
    assert Laplacian(2, accuracy=4).stencil[(0, 0)] == pytest.approx(-5.0)
    assert Laplacian(1, accuracy=4).stencil == pytest.approx(
        {(-2,): -1 / 12, (-1,): 4 / 3, (0,): -5 / 2, (1,): 4 / 3, (2,): -1 / 12})
    assert (Diff(0) @ Diff(1)).stencil == pytest.approx(
        {(-1, -1): 0.25, (-1, 1): -0.25, (1, -1): -0.25, (1, 1): 0.25})
    assert repr(2 * Diff(1, 2, dx=0.5) - Identity()) == (
        "Operator(2.0 * Diff(1, order=2, dx=0.5) + -1.0 * Identity())")
    with pytest.raises(ValueError, match=r"coefficient field has no constant stencil"):
        (np.ones(3) * Diff(0)).stencil


@pytest.mark.parametrize("call, exc, match", [
    (lambda: Diff(2)(U2), ValueError, r"differentiates along axis 2, but u has 2 dimension"),
    (lambda: Diff(0)(np.ones((2, 2, 2, 2))), ValueError, r"fields of 1 to 3 dimensions"),
    (lambda: Diff(0)(U2, boundary="wrap"), ValueError, r"boundary must be one of"),
    (lambda: Diff(0, accuracy=8)(np.ones((5, 3))), ValueError,
     r"needs at least 9 points along axis 0 with boundary='one-sided', got 5"),
    (lambda: Diff(3), ValueError, r"axis must be < 3"),
    (lambda: Diff(0, 1.5), TypeError, r"order must be an integer, got 1\.5"),
    (lambda: Diff(0, dx=-1.0), ValueError, r"dx must be positive and finite"),
    (lambda: Diff(0, dx=np.arange(4.0))(U2), ValueError,
     r"dx has 4 coordinates but the field has 13 points along axis 0"),
    (lambda: Diff(0, dx=np.arange(13.0))(U2, boundary="periodic"), ValueError,
     r"boundary='periodic' needs a uniform spacing"),
    (lambda: (np.ones(4) * Diff(0))(U2), ValueError,
     r"coefficient field of shape \(4,\) does not broadcast to the grid's shape \(13, 17\)"),
    (lambda: Divergence(2)(U2), ValueError, r"u must hold the 2 fields this operator takes"),
    (lambda: Laplacian(4), ValueError, r"ndim must be between 1 and 3, got 4"),
    (lambda: Laplacian(2, dx=[1.0]), ValueError, r"dx must be one spacing or 2"),
    (lambda: Diff(0).matrix((3.5, 2)), TypeError, r"shape must be a tuple of positive integers"),
    (lambda: (1j * Diff(0))(U2), TypeError, r"a complex coefficient needs a complex field u"),
])
def test_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_top_level_names():
    assert fastfd.Diff is Diff and fastfd.Laplacian is Laplacian


# ------------------------------------------------------------ div(k grad u)
def conservative_reference(u, k, h):
    """(k[i+1/2](u[i+1]-u[i]) - k[i-1/2](u[i]-u[i-1])) / h**2 summed over axes,
    on the interior, by NumPy slicing."""
    out = np.zeros(tuple(n - 2 for n in u.shape))
    for a in range(u.ndim):
        def sl(lo, hi, a=a):
            return tuple(slice(lo, u.shape[a] + hi) if b == a else slice(1, u.shape[b] - 1)
                         for b in range(u.ndim))
        kp = (k[sl(1, -1)] + k[sl(2, 0)]) / 2
        km = (k[sl(1, -1)] + k[sl(0, -2)]) / 2
        out += (kp * (u[sl(2, 0)] - u[sl(1, -1)]) - km * (u[sl(1, -1)] - u[sl(0, -2)])) / h[a] ** 2
    return out


def test_div_k_grad_is_the_conservative_form():
    from fastfd.grid import DivKGrad
    k = 1 + RNG.random(U2.shape)
    op = DivKGrad(k, dx=[0.5, 0.25])
    close(op(U2, boundary="valid"), conservative_reference(U2, k, [0.5, 0.25]), scale=100)
    close(op.matrix(U2.shape) @ U2.ravel(), op(U2).ravel(), scale=100)


def test_div_k_grad_conserves_on_a_periodic_grid():
    from fastfd.grid import DivKGrad
    k = 1 + RNG.random(U3.shape)
    flux = DivKGrad(k, dx=0.3, periodic=True)(U3, boundary="periodic")
    assert abs(flux.sum()) < 1e-12 * np.abs(flux).sum()


def test_div_k_grad_is_exact_for_linear_k_and_quadratic_u_edges_included():
    # (k u')' with k = 1 + x, u = x^2 is 2 + 4x: the flux form is exact on
    # it, and so is k u'' + k' u' with second-order one-sided stencils at the
    # ends (an end point once gave (k[1/2] - k[-1/2]) (u1 - u0) / h: 0 for k = 1)
    from fastfd.grid import DivKGrad
    x = np.linspace(0.0, 1.0, 11)
    h = x[1] - x[0]
    np.testing.assert_allclose(DivKGrad(1 + x, dx=h)(x ** 2), 2 + 4 * x, rtol=0, atol=1e-10)
    y = np.linspace(0.0, 2.0, 9)
    X, Y = np.meshgrid(x, y, indexing="ij")
    got = DivKGrad(np.ones(X.shape), dx=[h, y[1] - y[0]])(X ** 2 + 3 * Y ** 2)
    np.testing.assert_allclose(got, 8.0, rtol=0, atol=1e-9)


@pytest.mark.parametrize("boundary", ["one-sided", "periodic"])
def test_div_k_grad_converges_at_order_2_at_every_point(boundary):
    # periodic: built without periodic=True, the points at the seam take the
    # non-conservative form, still second order
    from fastfd.grid import DivKGrad
    errs = []
    for n in (32, 64, 128):
        x = np.arange(n) / n
        k = 2 + np.sin(2 * np.pi * x)
        u = np.sin(2 * np.pi * x) if boundary == "periodic" else np.exp(x)
        du = 2 * np.pi * np.cos(2 * np.pi * x) if boundary == "periodic" else u
        d2u = -(2 * np.pi) ** 2 * u if boundary == "periodic" else u
        ref = 2 * np.pi * np.cos(2 * np.pi * x) * du + k * d2u
        errs.append(np.abs(DivKGrad(k, dx=1 / n)(u, boundary=boundary) - ref).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert (rates > 1.8).all(), rates


def test_div_k_grad_converges_at_order_2():
    from fastfd.grid import DivKGrad
    errs = []
    for n in (17, 33, 65):
        x = np.linspace(0, 1, n)
        h = x[1] - x[0]
        X, Y = np.meshgrid(x, x, indexing="ij")
        k = 1 + X * Y
        u = np.sin(X) * np.cos(Y)
        # div(k grad u) = k lap(u) + grad k . grad u
        ref = k * (-2 * u) + Y * np.cos(X) * np.cos(Y) - X * np.sin(X) * np.sin(Y)
        errs.append(np.abs(DivKGrad(k, dx=h)(u, boundary="valid") - ref[1:-1, 1:-1]).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert (rates > 1.8).all(), rates


def test_out_of_any_layout_is_filled():
    op = Laplacian(2) + Diff(1)
    ref = op(U2)
    out = np.empty(U2.shape, order="F")
    assert op(U2, out=out) is out
    np.testing.assert_array_equal(out, ref)
    big = np.zeros((13, 34))
    op(U2, out=big[:, ::2])
    np.testing.assert_array_equal(big[:, ::2], ref)
    assert not big[:, 1::2].any()
    g = np.empty((2,) + U2.shape, order="F")
    np.testing.assert_array_equal(Gradient(2)(U2, out=g), Gradient(2)(U2))


def test_composition_keeps_every_coefficient_field():
    k, k2 = 1 + RNG.random(13), 1 + RNG.random(13)
    u = RNG.random(13)
    close((Identity() @ (k * Diff(0)))(u), k * Diff(0)(u), scale=10)
    close(((k2 * Identity()) @ (k * Diff(0)))(u), k2 * k * Diff(0)(u), scale=10)


def test_an_array_added_to_an_operator_is_a_potential_term():
    V = RNG.random(U2.shape)
    L = Laplacian(2)
    for op, ref in ((L - V, L(U2) - V * U2), (V + L, L(U2) + V * U2)):
        assert isinstance(op, fastfd.Operator)
        close(op(U2), ref, scale=10)


def test_valid_outputs_of_vector_operators_must_agree():
    with pytest.raises(ValueError, match=r"components' outputs have different shapes"):
        Gradient(2)(np.ones((6, 6)), boundary="valid")
    assert Gradient(2, dx=np.array([0.5, 0.25]))(U2).shape == (2,) + U2.shape


def test_small_grids_and_bad_coefficients_are_named():
    from fastfd.grid import DivKGrad
    with pytest.raises(ValueError, match=r"needs at least 9 points along axis 0 with "
                                         r"boundary='periodic', got 3"):
        Diff(0, 2, accuracy=8)(np.ones(3), boundary="periodic")
    with pytest.raises(ValueError, match=r"k must be a real field of 1 to 3 dimensions, got "
                                         r"dtype complex128"):
        DivKGrad(np.ones(5) * 1j)
    with pytest.raises(ValueError, match=r"coefficient field of shape \(4,\) does not broadcast"):
        (np.ones(4) * Diff(0)).matrix((13, 17))


def test_a_generated_file_changed_on_disk_is_written_again():
    from fastfd.grid import _codegen
    src = "X = 1\n"
    mod = _codegen.load(src)
    path = mod.__file__
    _codegen._MODULES.clear()
    with open(path, "w") as fh:
        fh.write("")
    assert _codegen.load(src).X == 1
    with open(path) as fh:
        assert fh.read() == src


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_generated_kernels_equal_the_table_kernel(boundary, monkeypatch):
    # small grids use the table kernel alone; forced, the generated one
    # must give the same values (to rounding: it sums in another order)
    from fastfd.grid import _operator
    u = RNG.standard_normal((8, 9, 24))
    k = 1 + RNG.random(u.shape)
    ops = [Laplacian(3, accuracy=4, dx=[0.5, 0.25, 0.2]),
           Diff(2, 2, scheme="forward") + k * (Diff(0) @ Diff(1)) - 2.0]
    tables = [op(u, boundary=boundary) for op in ops]
    monkeypatch.setattr(_operator, "GENERATED_MIN", 0)
    for op, ref in zip([Laplacian(3, accuracy=4, dx=[0.5, 0.25, 0.2]),
                        Diff(2, 2, scheme="forward") + k * (Diff(0) @ Diff(1)) - 2.0], tables):
        plan = op._plan(u.shape, boundary, np.dtype(np.float64))
        assert plan.region is not None
        close(op(u, boundary=boundary), ref, scale=100)
        out = RNG.random(ref.shape)
        acc = out.copy()
        op.kernel(u.shape, boundary=boundary)(u, acc, 0.5, 2.0)
        close(acc, 0.5 * ref + 2.0 * out, scale=100)


def test_flat_pass_gives_the_same_values_however_the_work_is_split(monkeypatch):
    # pieces <= rows: blocks of rows swept through the planes; more pieces
    # than rows: each plane cut by points. Every split writes each point of
    # the planes i0:i1 once, edge rows and columns included, with the same
    # expression; the table kernel (the reference) sums in another order.
    # Accuracy 2 and a coefficient field: the generated edge rows read it too.
    from fastfd.grid import _operator
    u = RNG.standard_normal((5, 7, 24))
    k = 1 + RNG.random(u.shape)
    ops = [Laplacian(3, dx=[0.5, 0.25, 0.2]) + k * Diff(2) for _ in range(2)]
    ref = ops[0](u)
    monkeypatch.setattr(_operator, "GENERATED_MIN", 0)
    monkeypatch.setattr(_operator, "ROWS_MIN", 0)
    plan = ops[1]._plan(u.shape, "one-sided", np.dtype(np.float64))
    assert plan.rows
    serial, parallel, weights, flat_serial, flat_parallel = plan.interior_kernels()
    i0, i1, j0, j1, k0, k1 = plan.region
    first = None
    for flat in (flat_serial, flat_parallel):
        for pieces in range(1, j1 - j0 + 3):
            out = ref.copy()
            out[i0:i1] = np.nan
            flat(u[None], out, weights, plan.coef, plan.lo, 1.0, *plan.region, pieces)
            if first is None:
                first = out
                close(out, ref, scale=100)
            np.testing.assert_array_equal(out, first)
    np.testing.assert_array_equal(ops[1](u), first)
    # alpha is folded into the weights, edge rows included
    out = ref.copy()
    flat_serial(u[None], out, weights, plan.coef, plan.lo, 0.5, *plan.region, 1)
    close(out[i0:i1], 0.5 * ref[i0:i1], scale=100)


# ------------------------------------------------------------ one order per point
# Every path (table kernel, generated interior, generated edge rows and
# columns) computes a point by the same expression in the same order, so a
# point's value depends only on the samples its stencil reads: the result
# on a box cut from the grid (plus the reach) is the whole grid's, bit for
# bit, whichever path computes either. The operators are built by factories
# taking the coefficient field, so a box gets its own cut of the field.

SHAPE = (8, 9, 30)   # the last axis long enough for a generated interior at accuracy 4
KFIELD = 1 + RNG.random((2,) + SHAPE)
# name: (factory of the coefficient fields, fields, generated edge rows of
# axis 1 on the whole grid, generated code with periodic edges); generated
# code compiles once per operator structure, so it is forced on a few
CONSISTENT = {
    "laplacian3": (lambda k: Laplacian(3, dx=[0.5, 0.25, 0.2]), 1, True, True),
    "sum acc4 forward constant": (lambda k: Diff(0) + 0.5 * Diff(2, 2, accuracy=4)
                                  + Diff(1, scheme="forward") - 2.0, 1, False, False),
    "composition backward": (lambda k: Diff(1, accuracy=4) @ Diff(1)
                             + Diff(2, scheme="backward", dx=0.3), 1, False, True),
    "coefficient fields": (lambda k: k[0] * Diff(0, 2) + Diff(2) @ Diff(1) + k[1] * Diff(2), 1,
                           True, False),
    "two fields": (lambda k: Diff(0).on(0, 2) + Diff(1, 2).on(1) + 3.0 * Identity().on(1), 2,
                   False, False),
}


def _forced(monkeypatch, generated, rows=True):
    """Thresholds that send every grid to the generated kernels (with
    `rows`, edge rows included) or to the table kernel."""
    from fastfd.grid import _operator
    monkeypatch.setattr(_operator, "GENERATED_MIN", 0 if generated else 1 << 60)
    monkeypatch.setattr(_operator, "ROWS_MIN", 0 if generated and rows else 1 << 60)


def _field(nfields, dtype):
    u = RNG.standard_normal(((nfields,) if nfields > 1 else ()) + SHAPE)
    return u.astype(dtype)


def _cut(u, nfields, box):
    lead = (slice(None),) if nfields > 1 else ()
    return np.ascontiguousarray(u[lead + tuple(slice(a, b) for a, b in box)])


def _widened(box, reach, shape):
    return [(max(a - r0, 0), min(b + r1, n)) for (a, b), (r0, r1), n in zip(box, reach, shape)]


BOXES = [[(0, 8), (0, 9), (0, 30)], [(0, 3), (4, 9), (0, 7)], [(5, 8), (0, 2), (26, 30)],
         [(3, 4), (4, 5), (12, 13)], [(2, 6), (3, 8), (5, 27)], [(0, 8), (2, 3), (9, 30)]]


@pytest.mark.parametrize("name, dtype", [(name, np.float64) for name in CONSISTENT]
                         + [("laplacian3", np.float32)])
def test_an_operator_on_a_box_of_the_grid_gives_the_grids_bits(name, dtype, monkeypatch):
    make, nf, rows, _ = CONSISTENT[name]
    u = _field(nf, dtype)
    reach = make(KFIELD)._reach(3)
    _forced(monkeypatch, True, rows)
    ref = make(KFIELD)(u)
    assert make(KFIELD)._plan(SHAPE, "one-sided", np.dtype(dtype)).rows == rows
    _forced(monkeypatch, False)
    np.testing.assert_array_equal(make(KFIELD)(u), ref)   # table == generated
    for n, box in enumerate(BOXES):
        # the whole grid and the widest boxes by generated code, the others
        # by the table kernel
        _forced(monkeypatch, n == 0, rows)
        wide = _widened(box, reach, SHAPE)
        k = KFIELD[(slice(None),) + tuple(slice(a, b) for a, b in wide)]
        try:
            got = make(k)(_cut(u, nf, wide))
        except ValueError as exc:   # a box whose widened part is too short
            assert "needs at least" in str(exc)
            continue
        inner = tuple(slice(a - c, b - c) for (a, b), (c, _) in zip(box, wide))
        np.testing.assert_array_equal(got[inner], ref[tuple(slice(a, b) for a, b in box)])
        # away from the grid's edges a box of one point is "valid" on its halo
        core = [(max(a, r0), min(b, s - r1)) for (a, b), (r0, r1), s in zip(box, reach, SHAPE)]
        if all(b > a for a, b in core):
            one = [(a, a + 1) for a, _ in core]
            wide = _widened(one, reach, SHAPE)
            k = KFIELD[(slice(None),) + tuple(slice(a, b) for a, b in wide)]
            try:
                got = make(k)(_cut(u, nf, wide), boundary="valid")
            except ValueError as exc:   # "valid" needs the one-sided minimum too
                assert "needs at least" in str(exc)
                continue
            assert got.shape == (1, 1, 1)
            assert got.ravel()[0] == ref[tuple(a for a, _ in one)]


@pytest.mark.parametrize("name", list(CONSISTENT))
def test_periodic_is_valid_on_the_wrapped_grid_and_commutes_with_roll(name, monkeypatch):
    make, nf, _, generated = CONSISTENT[name]
    u = _field(nf, np.float64)
    reach = make(KFIELD)._reach(3)
    lead = [(0, 0)] if nf > 1 else []
    wrapped = np.pad(u, lead + list(reach), mode="wrap")
    kwrapped = np.pad(KFIELD, [(0, 0)] + list(reach), mode="wrap")
    _forced(monkeypatch, generated, rows=False)
    ref = make(KFIELD)(u, boundary="periodic")
    assert (make(KFIELD)._plan(SHAPE, "periodic", np.dtype(np.float64)).region
            is not None) == generated
    _forced(monkeypatch, False)
    np.testing.assert_array_equal(make(KFIELD)(u, boundary="periodic"), ref)
    np.testing.assert_array_equal(make(kwrapped)(wrapped, boundary="valid"), ref)
    # the operator's own fields wrapped by _crop, on a box past the edges
    box = [(-b, n + a) for (b, a), n in zip(reach, SHAPE)]
    got = make(KFIELD)._crop(SHAPE, box)(wrapped, boundary="valid")
    np.testing.assert_array_equal(got, ref)
    if name == "laplacian3":
        _forced(monkeypatch, True, rows=False)
        np.testing.assert_array_equal(make(kwrapped)(wrapped, boundary="valid"), ref)
    shift = (3, -4, 11)
    rolled = np.roll(u, shift, axis=(-3, -2, -1))
    got = make(np.roll(KFIELD, shift, axis=(1, 2, 3)))(rolled, boundary="periodic")
    np.testing.assert_array_equal(got, np.roll(ref, shift, axis=(0, 1, 2)))


def test_laplacian2_and_a_chain_on_boxes(monkeypatch):
    # a 2-D grid, and a coefficient between two derivatives (two passes):
    # the chain's reach is its parts' added
    u = RNG.standard_normal((9, 40))
    k = 1 + RNG.random(u.shape)
    for make, generated in ((lambda k: Laplacian(2), True),
                            (lambda k: Diff(1) @ (k * Diff(1, accuracy=4)), False)):
        reach = make(k)._reach(2)
        _forced(monkeypatch, generated)
        ref = make(k)(u)
        _forced(monkeypatch, False)
        np.testing.assert_array_equal(make(k)(u), ref)
        for box in ([(0, 4), (0, 20)], [(3, 9), (17, 40)], [(4, 6), (10, 12)]):
            wide = _widened(box, reach, u.shape)
            cut = tuple(slice(a, b) for a, b in wide)
            got = make(k[cut])(np.ascontiguousarray(u[cut]))
            inner = tuple(slice(a - c, b - c) for (a, b), (c, _) in zip(box, wide))
            np.testing.assert_array_equal(got[inner], ref[tuple(slice(a, b) for a, b in box)])


def test_reach_is_how_far_a_stencil_reads():
    assert Laplacian(3)._reach(3) == ((1, 1),) * 3
    assert Laplacian(2, accuracy=4)._reach(3) == ((2, 2), (2, 2), (0, 0))
    assert (Diff(1, accuracy=4) @ Diff(1))._reach(2) == ((0, 0), (3, 3))
    assert (Diff(0, scheme="forward") + Diff(0, 2, scheme="backward"))._reach(1) == ((3, 2),)
    assert (Diff(0) @ (RNG.random(9) * Diff(0, 2)))._reach(1) == ((2, 2),)
    x = np.cumsum(1 + RNG.random(12))
    assert Diff(0, dx=x)._reach(1) == ((1, 1),)
    u = RNG.standard_normal((9, 12, 10))
    for op in (Laplacian(3, accuracy=4), Diff(0, scheme="forward") @ Diff(2, 2)):
        lo, hi = zip(*op._reach(3))
        assert op(u, boundary="valid").shape == tuple(
            n - a - b for n, a, b in zip(u.shape, lo, hi))
    with pytest.raises(ValueError, match="differentiates along axis 2, but ndim is 2"):
        Laplacian(3)._reach(2)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_min_points_is_the_shortest_axis_an_operator_takes(boundary):
    k = 1 + RNG.random((5, 12))
    for op in (Laplacian(2, accuracy=4), Diff(1, accuracy=4) @ Diff(1, 2),
               Diff(0, scheme="backward") + Diff(1, 3, accuracy=4)):
        need = op._min_points(2, boundary)
        op(RNG.standard_normal(need), boundary=boundary)
        for a in range(2):
            short = tuple(n - (b == a) for b, n in enumerate(need))
            if short[a] >= 1:
                with pytest.raises(ValueError, match=f"along axis {a}|no point along axis {a}"):
                    op(RNG.standard_normal(short), boundary=boundary)
    chain = Diff(1) @ (k[:, :9] * Diff(1))
    assert chain._min_points(2, "one-sided") == (1, 3)
    assert chain._min_points(2, "valid") == (1, 5)


def test_an_operator_on_coordinates_gives_the_grids_bits_on_a_box():
    # no generated code on coordinates: the row tables alone, cut with the box
    shape = (12, 14, 20)
    x, y = np.cumsum(0.5 + RNG.random(12)), np.cumsum(0.5 + RNG.random(14))
    u = RNG.standard_normal(shape)
    op = (1 + RNG.random(shape)) * Diff(0, 2, dx=x, accuracy=4) + Diff(1, dx=y) + Diff(2, 2)
    ref = op(u)
    reach = op._reach(3)
    for box in ([(0, 5), (3, 9), (0, 20)], [(4, 12), (0, 14), (10, 17)]):
        wide = _widened(box, reach, shape)
        got = op._crop(shape, wide)(np.ascontiguousarray(u[tuple(slice(a, b) for a, b in wide)]))
        inner = tuple(slice(a - c, b - c) for (a, b), (c, _) in zip(box, wide))
        np.testing.assert_array_equal(got[inner], ref[tuple(slice(a, b) for a, b in box)])
    with pytest.raises(ValueError, match=r"past the edges of a grid of shape \(12, 14, 20\) "
                       "cannot wrap coordinates"):
        op._crop(shape, [(-1, 13), (0, 14), (0, 20)])

"""Operator kernels for user @njit code (op.kernel) and fused pointwise
updates (fastfd.fuse), against the unfused NumPy reference."""

import functools

import numba
import numpy as np
import pytest

from fastfd import Diff, Laplacian, fuse
from fastfd.grid import Divergence, Gradient

RNG = np.random.default_rng(3)
DU, DV, FEED, KILL, DT = 0.16, 0.08, 0.035, 0.065, 0.9


@numba.njit
def gray_scott(u, v, lu, lv):
    uvv = u * v * v
    return (u + DT * (DU * lu - uvv + FEED * (1 - u)),
            v + DT * (DV * lv + uvv - (FEED + KILL) * v))


@numba.njit
def damped(u, lu):
    return u + 0.1 * lu - 0.01 * u


def gray_scott_reference(UV, L, boundary):
    u, v = UV
    lu, lv = L(u, boundary=boundary), L(v, boundary=boundary)
    uvv = u * v * v
    return np.stack([u + DT * (DU * lu - uvv + FEED * (1 - u)),
                     v + DT * (DV * lv + uvv - (FEED + KILL) * v)])


# fused steps compile in every process (they take the user's function):
# built once here and shared. 70 x 61 points: above the size where the
# operators' generated kernels are used (GENERATED_MIN), so the fused
# interior is the generated one and the edges go through the shell.
SHAPE = (70, 61)
L4 = Laplacian(2, accuracy=4, dx=[0.5, 0.7])


@functools.lru_cache(maxsize=None)
def gray_scott_step(boundary, parallel=False):
    return fuse(gray_scott, L4.on(0), L4.on(1), shape=SHAPE, boundary=boundary,
                parallel=parallel)


@pytest.mark.parametrize("boundary", ["periodic", "one-sided"])
def test_fused_gray_scott_equals_the_unfused_update(boundary):
    UV = RNG.random((2,) + SHAPE)
    new = np.full_like(UV, np.nan)
    gray_scott_step(boundary)(UV, new)
    np.testing.assert_allclose(new, gray_scott_reference(UV, L4, boundary), rtol=1e-14,
                               atol=1e-14)
    if boundary == "periodic":
        again = np.empty_like(UV)
        gray_scott_step(boundary, True)(UV, again)
        np.testing.assert_array_equal(again, new)


def test_fused_3d_one_output_float32_called_from_a_jitted_loop():
    L = Laplacian(3)
    u = RNG.random((1, 9, 10, 11)).astype(np.float32)
    step = fuse(damped, L, shape=u.shape[1:], dtype=np.float32)

    @numba.njit
    def run(u, steps):
        a = u.copy()
        b = np.empty_like(u)
        for _ in range(steps):
            step(a, b)
            a, b = b, a
        return a

    got = run(u, 3)
    ref = u[0].astype(np.float64)
    for _ in range(3):
        ref = ref + 0.1 * L(ref) - 0.01 * ref
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[0], ref, rtol=1e-5, atol=1e-5)


def test_fused_step_checks_its_arrays():
    L = Laplacian(2)
    step = gray_scott_step("one-sided")
    UV = np.ones((2,) + SHAPE)
    with pytest.raises(ValueError, match=r"F must be a C-contiguous float64 array of shape "
                                         r"\(2, 70, 61\)"):
        step(UV[:, :, :60].copy(), np.empty((2,) + SHAPE))
    with pytest.raises(ValueError, match=r"G overlaps F in memory"):
        step(UV, UV)
    with pytest.raises(ValueError, match=r"G must be a C-contiguous float64 array"):
        step(UV, np.empty((2, 70, 122))[:, :, ::2])
    with pytest.raises(TypeError, match=r"fn must be a Numba-jitted function"):
        fuse(lambda u, v, a, b: (u, v), L.on(0), L.on(1), shape=(8, 9))
    with pytest.raises(ValueError, match=r"boundary must be one of"):
        fuse(gray_scott, L.on(0), L.on(1), shape=(8, 9), boundary="valid")
    with pytest.raises(ValueError, match=r"fn returns 2 value\(s\) for 2 field\(s\) and 2 "
                                         r"operator value\(s\), but nout=1"):
        fuse(gray_scott, L.on(0), L.on(1), shape=(8, 9), nout=1)


# ------------------------------------------------------------ op.kernel
def test_kernel_equals_the_operator_and_accumulates():
    op = Laplacian(2, accuracy=4) + 0.5 * (Diff(0) @ Diff(1))
    u = RNG.random((30, 31))
    k = op.kernel(u.shape)
    out = np.full_like(u, np.nan)
    k(u, out)
    np.testing.assert_array_equal(out, op(u))
    prev = RNG.random(u.shape)
    out = prev.copy()
    k(u, out, 0.25, 2.0)
    np.testing.assert_allclose(out, 0.25 * op(u) + 2.0 * prev, rtol=1e-14)


def test_kernel_in_a_jitted_time_loop_and_valid_edges():
    lap = Laplacian(1, dx=0.1)
    k = lap.kernel((11,))

    @numba.njit
    def heat(u, dt, steps):
        new = np.empty_like(u)
        for _ in range(steps):
            new[:] = u
            k(u, new, dt, 1.0)
            u, new = new, u
        return u

    x = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(heat(x ** 2, 1e-3, 10), x ** 2 + 10 * 1e-3 * 2, atol=1e-12)
    kv = Laplacian(2).kernel((6, 7), boundary="valid")
    u = RNG.random((6, 7))
    out = np.empty((4, 5))
    kv(u, out)
    np.testing.assert_array_equal(out, Laplacian(2)(u, boundary="valid"))


def test_kernel_of_a_vector_field_operator():
    F = RNG.random((2, 12, 13))
    div = Divergence(2, dx=0.3)
    out = np.empty((12, 13))
    div.kernel((12, 13))(F, out)
    np.testing.assert_array_equal(out, div(F))
    assert Gradient(2)(F[0]).shape == (2, 12, 13)


@pytest.mark.parametrize("u, out, match", [
    (np.ones((5, 6)), np.empty((5, 6)), r"u must be a C-contiguous float64 array of shape "
                                        r"\(4, 6\)"),
    (np.ones((4, 6)), np.empty((4, 5)), r"out must be a C-contiguous float64 array of shape \(4, 6\)"),
    (np.ones((4, 6), dtype=np.float32), np.empty((4, 6)), r"u must be a C-contiguous float64"),
    (np.ones((6, 4)).T, np.empty((4, 6)), r"u must be a C-contiguous"),
])
def test_kernel_checks_its_preconditions(u, out, match):
    k = Laplacian(2).kernel((4, 6))
    with pytest.raises(ValueError, match=match):
        k(u, out)


def test_kernel_refuses_out_overlapping_u():
    k = Laplacian(2).kernel((4, 6))
    u = np.ones((4, 6))
    with pytest.raises(ValueError, match=r"out overlaps u in memory"):
        k(u, u)


def test_kernel_refuses_layouts_it_cannot_write():
    k = Laplacian(2).kernel((8, 9))
    u = np.ones((8, 9))
    with pytest.raises(ValueError, match=r"out must be a C-contiguous float64 array"):
        k(u, np.empty((9, 8)).T)
    ro = np.empty((8, 9))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"out must be a C-contiguous, writeable array"):
        k(u, ro)


def test_kernel_refuses_a_complex_alpha_for_a_real_field():
    k = Laplacian(2).kernel((4, 6))
    u, out = np.ones((4, 6)), np.zeros((4, 6))
    with pytest.raises(TypeError, match=r"alpha and beta must be real numbers for a float64 "
                                        r"field, got complex128"):
        k(u, out, 1j)
    with pytest.raises(TypeError, match=r"must be real numbers for a float64 field, got str"):
        k(u, out, "2")
    k(u, out, 2, True)  # integers and booleans are numbers, as in NumPy
    np.testing.assert_array_equal(out, 0.0)


def test_fuse_says_how_it_calls_fn_when_the_arity_is_wrong():
    @numba.njit
    def two_fields(u, v, lu, lv):
        return u + lu, v + lv

    with pytest.raises(TypeError, match=r"fn is called with the 1 field value\(s\) at a point, "
                                        r"then the 1 operator value\(s\) there \(2 arguments\)"):
        fuse(two_fields, Laplacian(2), shape=(16, 16))


def test_kernel_of_a_vector_operator_fills_every_component():
    u = RNG.random((12, 13))
    grad = Gradient(2, dx=[0.3, 0.2])
    k = grad.kernel(u.shape)
    out = np.full((2, 12, 13), np.nan)
    k(u, out)
    np.testing.assert_array_equal(out, grad(u))
    acc = np.ones((2, 12, 13))
    k(u, acc, 0.5, 2.0)
    np.testing.assert_allclose(acc, 0.5 * grad(u) + 2.0, rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match=r"vector operator kernel: out must have 2 components"):
        k(u, np.empty((3, 12, 13)))
    assert grad.stencil == (Diff(0, dx=0.3).stencil, Diff(1, dx=0.2).stencil)


def test_kernel_and_fused_step_say_what_they_were_built_for():
    k = Laplacian(2).kernel((4, 6))
    u32 = np.ones((4, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"u must be a C-contiguous float64 array of shape "
                                         r"\(4, 6\); this kernel was built with "
                                         r"op\.kernel\(\(4, 6\), dtype=float64\)"):
        k(u32, np.empty((4, 6), dtype=np.float32))
    step = gray_scott_step("one-sided")
    with pytest.raises(ValueError, match=r"this step was built with shape=\(70, 61\), "
                                         r"dtype=float64"):
        step(np.ones((2, 70, 61), dtype=np.float32), np.empty((2, 70, 61)))

"""fastfd.kernels (serial njit stencils) against NumPy slicing and np.copyto.

    .venv/bin/python -m pytest bench/bench_kernels.py --benchmark-only -q

Compare the fastfd rows as ratios to the roofline of the same run: absolute
times drift between runs, the ratios much less.

These kernels are serial by design (they run inside a user's own njit or
prange loop), so the roofline here is the single-threaded ``np.copyto``.
"""

import numba
import numpy as np
import pytest

import fastfd
from fastfd import kernels

H = 0.1
N = 4_000_000


def _warm(f):
    f()
    return f


@pytest.fixture(scope="module")
def line():
    u = np.random.default_rng(2).standard_normal(N)
    return u, np.empty_like(u)


GC = "kernels: centered_diff, 4e6 float64"


def test_centered_fastfd(role, line):
    u, out = line
    role("fastfd", GC)(_warm(lambda: kernels.centered_diff(u, H, out)))


def test_centered_numpy(role, line):
    u, out = line
    o = out[1:-1]

    def f():
        np.subtract(u[2:], u[:-2], out=o)
        np.divide(o, 2 * H, out=o)

    role("numpy", GC)(_warm(f))


def test_centered_roofline(role, line):
    u, out = line
    role("roofline", GC)(_warm(lambda: np.copyto(out, u)))


GS = "kernels: apply_stencil 2nd derivative acc4 (5 taps), 4e6 float64"


def test_stencil_fastfd(role, line):
    u, out = line
    offsets, weights = fastfd.stencil(2, 4)
    w = weights / H**2
    role("fastfd", GS)(_warm(lambda: kernels.apply_stencil(u, offsets, w, out,
                                                           kernels.ONE_SIDED)))


def test_stencil_numpy(role, line):
    u, out = line

    def f():
        out[2:-2] = (-u[:-4] + 16 * u[1:-3] - 30 * u[2:-2] + 16 * u[3:-1] - u[4:]) / (12 * H**2)

    role("numpy", GS)(_warm(f))


def test_stencil_roofline(role, line):
    u, out = line
    role("roofline", GS)(_warm(lambda: np.copyto(out, u)))


# Small arrays inside a user's njit loop: the O(1) precondition checks of the
# public kernels are most visible here (100 calls on 1e3 points per round).
# Unchecked -> checked kernels, interleaved runs, fastfd min / np.copyto min
# in the same run: this loop 0.55/0.54 -> 0.53/0.54, centered_diff 4e6
# 1.21/1.25 -> 1.22/1.22, apply_stencil 4e6 2.64/2.64 -> 2.65/2.59,
# laplacian_2d 1024^2 3.62/3.48 -> 3.38/3.41: within noise.
NS = 1000
REPS = 100


@numba.njit
def _loop_centered(u, out, reps):
    for _ in range(reps):
        kernels.centered_diff(u, H, out)


@numba.njit
def _loop_copy(u, out, reps):
    for _ in range(reps):
        out[:] = u


@numba.njit
def _loop_numpy(u, out, reps):
    for _ in range(reps):
        out[1:-1] = (u[2:] - u[:-2]) / (2 * H)


GL = "kernels: centered_diff in an njit loop, 100 x 1e3 float64"


@pytest.fixture(scope="module")
def small():
    u = np.random.default_rng(3).standard_normal(NS)
    return u, np.empty_like(u)


def test_loop_fastfd(role, small):
    u, out = small
    role("fastfd", GL)(_warm(lambda: _loop_centered(u, out, REPS)))


def test_loop_numpy(role, small):
    u, out = small
    role("numpy", GL)(_warm(lambda: _loop_numpy(u, out, REPS)))


def test_loop_roofline(role, small):
    u, out = small
    role("roofline", GL)(_warm(lambda: _loop_copy(u, out, REPS)))


G2 = "kernels: laplacian_2d one-sided, 1024^2 float64"


@pytest.fixture(scope="module")
def plane():
    u = np.random.default_rng(4).standard_normal((1024, 1024))
    return u, np.empty_like(u)


def test_lap2_fastfd(role, plane):
    u, out = plane
    role("fastfd", G2)(_warm(lambda: kernels.laplacian_2d(u, H, H, out, kernels.ONE_SIDED)))


def test_lap2_numpy(role, plane):
    u, out = plane
    c = 1 / H**2

    def f():
        out[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                           - 4 * u[1:-1, 1:-1]) * c

    role("numpy", G2)(_warm(f))


def test_lap2_roofline(role, plane):
    u, out = plane
    role("roofline", G2)(_warm(lambda: np.copyto(out, u)))


# N-d kernels from inside user njit code (the way a simulation calls them).


@numba.njit
def _user_derivative(u, out, axis, order, accuracy):
    kernels.derivative(u, H, axis, out, kernels.ONE_SIDED, order, accuracy)


@numba.njit
def _user_lap3(u, out, accuracy):
    kernels.laplacian_3d(u, H, H, H, out, kernels.ONE_SIDED, accuracy)


@pytest.fixture(scope="module")
def square():
    u = np.random.default_rng(5).standard_normal((4000, 4000))
    return u, np.empty_like(u)


GD = "kernels: derivative axis 0 (order 1, accuracy 2) from user njit, 4000^2 float64"


def test_axis0_fastfd(role, square):
    u, out = square
    role("fastfd", GD)(_warm(lambda: _user_derivative(u, out, 0, 1, 2)))


def test_axis0_fastfd_columns(role, square):
    # the old way: the 1-D kernel on each strided column
    u, out = square

    @numba.njit
    def columns(u, out):
        for j in range(u.shape[1]):
            kernels.centered_diff(u[:, j], H, out[:, j])

    role("centered_diff per column", GD)(_warm(lambda: columns(u, out)))


def test_axis0_numpy(role, square):
    u, out = square
    o = out[1:-1]

    def f():
        np.subtract(u[2:], u[:-2], out=o)
        np.divide(o, 2 * H, out=o)

    role("numpy", GD)(_warm(f))


def test_axis0_roofline(role, square):
    u, out = square
    role("roofline", GD)(_warm(lambda: np.copyto(out, u)))


GD4 = "kernels: derivative axis 0 (order 2, accuracy 4) from user njit, 4000^2 float64"


def test_axis0_acc4_fastfd(role, square):
    u, out = square
    role("fastfd", GD4)(_warm(lambda: _user_derivative(u, out, 0, 2, 4)))


def test_axis0_acc4_numpy(role, square):
    u, out = square
    c = 1 / (12 * H**2)

    def f():
        out[2:-2] = (-u[:-4] + 16 * u[1:-3] - 30 * u[2:-2] + 16 * u[3:-1] - u[4:]) * c

    role("numpy", GD4)(_warm(f))


def test_axis0_acc4_roofline(role, square):
    u, out = square
    role("roofline", GD4)(_warm(lambda: np.copyto(out, u)))


G34 = "kernels: laplacian_3d accuracy 4 one-sided from user njit, 256^3 float64"


@pytest.fixture(scope="module")
def cube():
    u = np.random.default_rng(6).standard_normal((256, 256, 256))
    return u, np.empty_like(u)


def test_lap3_acc4_fastfd(role, cube):
    u, out = cube
    role("fastfd", G34)(_warm(lambda: _user_lap3(u, out, 4)))


def test_lap3_acc4_numpy(role, cube):
    u, out = cube
    c = 1 / (12 * H**2)
    s = slice(2, -2)

    def f():
        o = out[s, s, s]
        o[...] = -90 * u[s, s, s]
        for ax in range(3):
            for off, w in ((-2, -1), (-1, 16), (1, 16), (2, -1)):
                idx = [s, s, s]
                idx[ax] = slice(2 + off, u.shape[ax] - 2 + off)
                o += w * u[tuple(idx)]
        o *= c

    role("numpy", G34)(_warm(f))


def test_lap3_acc4_roofline(role, cube):
    u, out = cube
    role("roofline", G34)(_warm(lambda: np.copyto(out, u)))

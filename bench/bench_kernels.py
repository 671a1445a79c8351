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

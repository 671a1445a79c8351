"""fastfd.kernels (serial njit stencils) against NumPy slicing and np.copyto.

    .venv/bin/python -m pytest bench/bench_kernels.py --benchmark-only -q

These kernels are serial by design (they run inside a user's own njit or
prange loop), so the roofline here is the single-threaded ``np.copyto``.
"""

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

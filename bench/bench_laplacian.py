"""grid.laplacian against NumPy slicing, scipy.ndimage.laplace and the
np.copyto roofline; fastfd.kernels in a user's njit loop against NumPy.

    .venv/bin/python -m pytest bench/bench_laplacian.py --benchmark-only -q

Target: the 3-D 7-point Laplacian on 256**3 float64 with
out= at most 1.3x ``np.copyto(out, u)`` (NumPy slicing measured about 16x,
scipy.ndimage.laplace about 57x on 2 cores).
"""

import importlib.util
import pathlib

import numpy as np
import pytest

from fastfd import grid, kernels

H = 0.1


def _warm(f):
    f()  # compile (or load from Numba's cache) and fault pages in
    return f


@pytest.fixture(scope="module")
def cube():
    u = np.random.default_rng(0).standard_normal((256, 256, 256))
    return u, np.empty_like(u)


@pytest.fixture(scope="module")
def plane():
    u = np.random.default_rng(1).standard_normal((4096, 4096))
    return u, np.empty_like(u)


def numpy_lap3(u, h, out):
    """7-point Laplacian by slicing into ``out`` (interior only; NumPy's best
    effort without temporaries beyond the slice expression)."""
    c = u[1:-1, 1:-1, 1:-1]
    out[1:-1, 1:-1, 1:-1] = (u[2:, 1:-1, 1:-1] + u[:-2, 1:-1, 1:-1] + u[1:-1, 2:, 1:-1]
                             + u[1:-1, :-2, 1:-1] + u[1:-1, 1:-1, 2:] + u[1:-1, 1:-1, :-2]
                             - 6 * c) / h**2
    return out


def numpy_lap3_acc4(u, h, out):
    """Accuracy-4 centred (-1, 16, -30, 16, -1)/12 along each axis, interior."""
    s = slice(2, -2)
    c = u[s, s, s]
    acc = -90 * c
    for a in range(3):
        for k, w in ((-2, -1), (-1, 16), (1, 16), (2, -1)):
            idx = [s, s, s]
            idx[a] = slice(2 + k, u.shape[a] - 2 + k)
            acc = acc + w * u[tuple(idx)]
    out[s, s, s] = acc / (12 * h**2)
    return out


def numpy_lap2(u, h, out):
    out[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                       - 4 * u[1:-1, 1:-1]) / h**2
    return out


# ------------------------------------------------- 3-D 7-point, 256**3

G3 = "laplacian: 3-D 7-point acc2, 256^3 float64"


def test_lap3_fastfd(role, cube):
    u, out = cube
    role("fastfd", G3)(_warm(lambda: grid.laplacian(u, H, out=out)))


def test_lap3_fastfd_periodic(role, cube):
    u, out = cube
    role("fastfd periodic", G3)(_warm(lambda: grid.laplacian(u, H, boundary="periodic",
                                                             out=out)))


def test_lap3_kernels_serial(role, cube):
    u, out = cube
    role("fastfd.kernels (serial)", G3)(
        _warm(lambda: kernels.laplacian_3d(u, H, H, H, out, kernels.ONE_SIDED)))


def test_lap3_numpy(role, cube):
    u, out = cube
    role("numpy", G3)(_warm(lambda: numpy_lap3(u, H, out)))


def test_lap3_scipy(role, cube):
    ndimage = pytest.importorskip("scipy.ndimage")
    u, out = cube
    role("scipy.ndimage.laplace", G3)(_warm(lambda: ndimage.laplace(u, output=out)))


def test_lap3_roofline(role, cube):
    u, out = cube
    role("roofline", G3)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------- 3-D accuracy 4, 256**3

G34 = "laplacian: 3-D acc4 (13-point), 256^3 float64"


def test_lap3_acc4_fastfd(role, cube):
    u, out = cube
    role("fastfd", G34)(_warm(lambda: grid.laplacian(u, H, accuracy=4, out=out)))


def test_lap3_acc4_numpy(role, cube):
    u, out = cube
    role("numpy", G34)(_warm(lambda: numpy_lap3_acc4(u, H, out)))


def test_lap3_acc4_roofline(role, cube):
    u, out = cube
    role("roofline", G34)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------- 2-D 5-point, 4096**2

G2 = "laplacian: 2-D 5-point acc2, 4096^2 float64"


def test_lap2_fastfd(role, plane):
    u, out = plane
    role("fastfd", G2)(_warm(lambda: grid.laplacian(u, H, out=out)))


def test_lap2_numpy(role, plane):
    u, out = plane
    role("numpy", G2)(_warm(lambda: numpy_lap2(u, H, out)))


def test_lap2_scipy(role, plane):
    ndimage = pytest.importorskip("scipy.ndimage")
    u, out = plane
    role("scipy.ndimage.laplace", G2)(_warm(lambda: ndimage.laplace(u, output=out)))


def test_lap2_roofline(role, plane):
    u, out = plane
    role("roofline", G2)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------- heat equation, user njit loop

GH = "kernels: 1-D heat equation, 1001 points x 2000 steps"


# the example's own functions: the user's njit loop and its NumPy twin
_spec = importlib.util.spec_from_file_location(
    "heat_equation", pathlib.Path(__file__).resolve().parents[1] / "examples" / "heat_equation.py")
_heat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_heat)


@pytest.fixture(scope="module")
def rod():
    x = np.linspace(0.0, 1.0, 1001)
    return np.sin(np.pi * x), x[1] - x[0]


def test_heat_fastfd(role, rod):
    u0, dx = rod
    u = u0.copy()
    role("fastfd", GH)(_warm(lambda: _heat.heat_1d(u, dx, 0.4 * dx**2, 2000)))


def test_heat_numpy(role, rod):
    u0, dx = rod
    u = u0.copy()
    role("numpy", GH)(_warm(lambda: _heat.heat_1d_numpy(u, dx, 0.4 * dx**2, 2000)))

"""fastfd.grid against NumPy slicing and the np.copyto roofline.

    .venv/bin/python -m pytest bench/bench_grid.py --benchmark-only -q

Targets: 1-D centered 2e7 float64 with out= at most
1.25x copyto and at least 2x faster than NumPy slicing; accuracy 4 and 6 at
most 1.5x copyto; axis 0 of a C 4000x4000 array at most 1.3x copyto; 1e5
elements faster than NumPy slicing, 1e3 within 1.5x of it.
"""

import numpy as np
import pytest

import fastfd._config as config
from fastfd import grid

H = 0.1
BIG = 20_000_000


@pytest.fixture(scope="module")
def big():
    u = np.random.default_rng(0).standard_normal(BIG)
    return u, np.empty_like(u)


@pytest.fixture(scope="module")
def square():
    a = np.random.default_rng(1).standard_normal((4000, 4000))
    return a, np.empty_like(a)


def _warm(f):
    f()  # compile / fault pages in before timing
    return f


# NumPy slicing of the centered stencils of accuracy 2, 4 and 6 (weights from
# the standard tables, divided by the same denominators as fastfd's).
def numpy_centered(u, h, accuracy):
    if accuracy == 2:
        return (u[2:] - u[:-2]) / (2 * h)
    if accuracy == 4:
        return (u[:-4] - 8 * u[1:-3] + 8 * u[3:-1] - u[4:]) / (12 * h)
    return (-u[:-6] + 9 * u[1:-5] - 45 * u[2:-4] + 45 * u[4:-2] - 9 * u[5:-1]
            + u[6:]) / (60 * h)


# ----------------------------------------------------- 1-D centered, 2e7

G1 = "grid: 1-D centered acc2, 2e7 float64"


def test_centered_2e7_fastfd(role, big):
    u, out = big
    role("fastfd", G1)(_warm(lambda: grid.derivative(u, dx=H, out=out)))


def test_centered_2e7_fastfd_serial(role, big, monkeypatch):
    # one thread: the figure when no second core is free
    monkeypatch.setattr(config, "PARALLEL_MIN", 1 << 62)
    u, out = big
    role("fastfd serial", G1)(_warm(lambda: grid.derivative(u, dx=H, out=out)))


def test_centered_2e7_numpy(role, big):
    u, _ = big
    role("numpy", G1)(_warm(lambda: numpy_centered(u, H, 2)))


def test_centered_2e7_numpy_out(role, big):
    u, out = big
    o = out[:-2]

    def f():
        np.subtract(u[2:], u[:-2], out=o)
        np.divide(o, 2 * H, out=o)

    role("numpy, out=", G1)(_warm(f))


def test_centered_2e7_roofline(role, big):
    u, out = big
    role("roofline", G1)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------- higher accuracy, 2e7

@pytest.mark.parametrize("accuracy", [4, 6])
def test_accuracy_2e7_fastfd(role, big, accuracy):
    u, out = big
    role("fastfd", f"grid: 1-D centered acc{accuracy}, 2e7 float64")(
        _warm(lambda: grid.derivative(u, dx=H, accuracy=accuracy, out=out)))


@pytest.mark.parametrize("accuracy", [4, 6])
def test_accuracy_2e7_numpy(role, big, accuracy):
    u, _ = big
    role("numpy", f"grid: 1-D centered acc{accuracy}, 2e7 float64")(
        _warm(lambda: numpy_centered(u, H, accuracy)))


@pytest.mark.parametrize("accuracy", [4, 6])
def test_accuracy_2e7_roofline(role, big, accuracy):
    u, out = big
    role("roofline", f"grid: 1-D centered acc{accuracy}, 2e7 float64")(
        _warm(lambda: np.copyto(out, u)))


# ------------------------------------------------- axis 0 of 4000 x 4000

G2 = "grid: axis 0 of C 4000x4000 float64"


def test_axis0_fastfd(role, square):
    a, out = square
    role("fastfd", G2)(_warm(lambda: grid.derivative(a, dx=H, axis=0, out=out)))


def test_axis0_fastfd_serial(role, square, monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_MIN", 1 << 62)
    a, out = square
    role("fastfd serial", G2)(_warm(lambda: grid.derivative(a, dx=H, axis=0, out=out)))


def test_axis0_numpy(role, square):
    a, _ = square
    role("numpy", G2)(_warm(lambda: (a[2:] - a[:-2]) / (2 * H)))


def test_axis0_np_gradient(role, square):
    a, _ = square
    role("np.gradient", G2)(_warm(lambda: np.gradient(a, H, axis=0)))


def test_axis0_roofline(role, square):
    a, out = square
    role("roofline", G2)(_warm(lambda: np.copyto(out, a)))


# ------------------------------------------------------- small arrays

@pytest.mark.parametrize("n", [100_000, 1_000])
def test_small_fastfd(role, n):
    u = np.random.default_rng(2).standard_normal(n)
    role("fastfd", f"grid: 1-D centered acc2, {n:.0e} float64")(
        _warm(lambda: grid.derivative(u, dx=H)))


@pytest.mark.parametrize("n", [100_000, 1_000])
def test_small_numpy(role, n):
    u = np.random.default_rng(2).standard_normal(n)
    role("numpy", f"grid: 1-D centered acc2, {n:.0e} float64")(
        _warm(lambda: numpy_centered(u, H, 2)))


@pytest.mark.parametrize("n", [100_000, 1_000])
def test_small_roofline(role, n):
    u = np.random.default_rng(2).standard_normal(n)
    out = np.empty_like(u)
    role("roofline", f"grid: 1-D centered acc2, {n:.0e} float64")(
        _warm(lambda: np.copyto(out, u)))

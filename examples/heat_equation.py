"""Step the heat equation u_t = u_xx with fastfd.kernels inside your own njit loop.

Run from the repository root::

    python examples/heat_equation.py          # about 2 s after the first compile
    python examples/heat_equation.py --quick  # smaller, for the test suite

Explicit Euler in time, the 3-point second difference in space (stable for
dt <= dx**2 / 2 in 1-D, dx**2 / 4 in 2-D). The whole time loop is one
``@numba.njit`` function that calls ``fastfd.kernels.second_diff`` /
``fastfd.kernels.laplacian_2d`` on a buffer it allocated once; a pure-NumPy
loop with slicing does the same steps for comparison. Both are checked
against the exact solution of each Fourier mode.
"""

import argparse
import os
import sys
import time

import numba
import numpy as np

try:
    from fastfd import kernels
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fastfd import kernels


@numba.njit
def heat_1d(u, dx, dt, nsteps):
    """Dirichlet ends held fixed; ``u`` is updated in place and returned."""
    lap = np.empty_like(u)
    for _ in range(nsteps):
        kernels.second_diff(u, dx, lap)
        for i in range(1, u.shape[0] - 1):
            u[i] += dt * lap[i]
    return u


@numba.njit
def heat_2d(u, dx, dt, nsteps):
    """Periodic in both directions."""
    lap = np.empty_like(u)
    for _ in range(nsteps):
        kernels.laplacian_2d(u, dx, dx, lap, kernels.PERIODIC)
        u += dt * lap
    return u


def heat_1d_numpy(u, dx, dt, nsteps):
    u = u.copy()
    for _ in range(nsteps):
        u[1:-1] += dt * (u[2:] - 2 * u[1:-1] + u[:-2]) / dx**2
    return u


def heat_2d_numpy(u, dx, dt, nsteps):
    u = u.copy()
    for _ in range(nsteps):
        lap = (np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1)
               - 4 * u) / dx**2
        u += dt * lap
    return u


def timed(f, *args):
    t = time.perf_counter()
    r = f(*args)
    return r, time.perf_counter() - t


def main(quick=False):
    n, steps = (201, 2000) if quick else (1001, 40000)
    x = np.linspace(0.0, 1.0, n)
    dx = x[1] - x[0]
    dt = 0.4 * dx**2
    u0 = np.sin(np.pi * x) + 0.5 * np.sin(4 * np.pi * x)
    heat_1d(u0.copy(), dx, dt, 1)  # compile (or load from Numba's cache)
    got, t_fd = timed(heat_1d, u0.copy(), dx, dt, steps)
    ref, t_np = timed(heat_1d_numpy, u0, dx, dt, steps)
    t = steps * dt
    exact = (np.exp(-np.pi**2 * t) * np.sin(np.pi * x)
             + 0.5 * np.exp(-16 * np.pi**2 * t) * np.sin(4 * np.pi * x))
    print(f"1-D heat equation, {n} points, {steps} steps to t = {t:.4f}")
    print(f"  max |fastfd - numpy| = {np.abs(got - ref).max():.2e}")
    print(f"  max |fastfd - exact| = {np.abs(got - exact).max():.2e}  (O(dx**2))")
    print(f"  time: fastfd.kernels in njit {t_fd * 1e3:8.1f} ms, NumPy slicing "
          f"{t_np * 1e3:8.1f} ms  ({t_np / t_fd:.1f}x)")

    m, steps2 = (64, 100) if quick else (256, 1000)
    xs = np.arange(m) * (2 * np.pi / m)
    h = xs[1] - xs[0]
    dt2 = 0.2 * h**2
    v0 = np.sin(xs)[:, None] * np.cos(3 * xs)[None, :]
    heat_2d(v0.copy(), h, dt2, 1)
    got2, t_fd2 = timed(heat_2d, v0.copy(), h, dt2, steps2)
    ref2, t_np2 = timed(heat_2d_numpy, v0, h, dt2, steps2)
    exact2 = np.exp(-10 * steps2 * dt2) * v0
    print(f"2-D periodic heat equation, {m}x{m}, {steps2} steps")
    print(f"  max |fastfd - numpy| = {np.abs(got2 - ref2).max():.2e}")
    print(f"  max |fastfd - exact| = {np.abs(got2 - exact2).max():.2e}  (O(h**2))")
    print(f"  time: fastfd.kernels in njit {t_fd2 * 1e3:8.1f} ms, NumPy np.roll "
          f"{t_np2 * 1e3:8.1f} ms  ({t_np2 / t_fd2:.1f}x)")
    return got, ref


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem")
    main(parser.parse_args().quick)

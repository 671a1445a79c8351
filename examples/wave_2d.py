"""The 2-D wave equation at accuracy 4, checked against an exact solution.

    python examples/wave_2d.py            # grids of 17, 33, 65 and 129 points a side

``u_tt = u_xx + u_yy`` on the unit square with ``u = 0`` on the walls and
the exact solution ``u = sin(pi x) sin(2 pi y) cos(sqrt(5) pi t)``. Space:
``fastfd.Laplacian(2, accuracy=4)`` (one-sided accuracy-4 rows next to the
walls), compiled into an ``@njit`` kernel (``op.kernel``) that the time loop
calls in accumulating form; time: the classical fourth-order Runge-Kutta
method with ``dt = h / 4``. Both errors are O(h**4), so halving ``h``
divides the error by about 16: the printed observed order is close to 4.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numba
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import fastfd  # noqa: E402

OMEGA = math.sqrt(5.0) * math.pi


def exact(x, y, t):
    return np.sin(np.pi * x)[:, None] * np.sin(2 * np.pi * y)[None, :] * math.cos(OMEGA * t)


def stepper(lap):
    """An @njit RK4 integrator of (u, v = u_t) with the compiled Laplacian `lap`."""

    @numba.njit
    def rhs(u, v, du, dv):
        du[:] = v
        dv[:] = 0.0
        lap(u, dv, 1.0, 0.0)            # dv = L(u)
        # u = 0 on the walls: no acceleration there
        dv[0, :] = 0.0
        dv[-1, :] = 0.0
        dv[:, 0] = 0.0
        dv[:, -1] = 0.0

    @numba.njit
    def run(u, v, dt, steps):
        k = np.empty((8,) + u.shape)
        tu = np.empty_like(u)
        tv = np.empty_like(v)
        for _ in range(steps):
            rhs(u, v, k[0], k[1])
            tu[:] = u + 0.5 * dt * k[0]
            tv[:] = v + 0.5 * dt * k[1]
            rhs(tu, tv, k[2], k[3])
            tu[:] = u + 0.5 * dt * k[2]
            tv[:] = v + 0.5 * dt * k[3]
            rhs(tu, tv, k[4], k[5])
            tu[:] = u + dt * k[4]
            tv[:] = v + dt * k[5]
            rhs(tu, tv, k[6], k[7])
            u += dt / 6.0 * (k[0] + 2.0 * k[2] + 2.0 * k[4] + k[6])
            v += dt / 6.0 * (k[1] + 2.0 * k[3] + 2.0 * k[5] + k[7])
        return u

    return run


def error(n, t_end=0.5):
    """Max error at `t_end` on an n x n grid."""
    x = np.linspace(0.0, 1.0, n)
    h = x[1] - x[0]
    steps = int(round(t_end / (h / 4)))
    dt = t_end / steps
    lap = fastfd.Laplacian(2, accuracy=4, dx=h).kernel((n, n))
    u = exact(x, x, 0.0)
    v = np.zeros_like(u)
    u = stepper(lap)(u, v, dt, steps)
    return float(np.abs(u - exact(x, x, t_end)).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[17, 33, 65, 129])
    args = parser.parse_args(argv)
    errors = [error(n) for n in args.sizes]
    orders = []
    print(" points   max error   observed order")
    for k, (n, e) in enumerate(zip(args.sizes, errors)):
        if k:
            hr = (args.sizes[k] - 1) / (args.sizes[k - 1] - 1)
            orders.append(math.log(errors[k - 1] / e) / math.log(hr))
        print(f"{n:7d}   {e:9.3e}   {orders[-1]:.2f}" if k else f"{n:7d}   {e:9.3e}")
    return errors, orders


if __name__ == "__main__":
    main()

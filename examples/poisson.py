"""Solve a Poisson problem with the sparse matrix of a fastfd operator.

    python examples/poisson.py            # grids of 33, 65, 129 and 257 points a side

``u_xx + u_yy = f`` on the unit square with ``u = 0`` on the walls and
``f`` chosen so that ``u = sin(pi x) sin(pi y) * x`` is the solution. The
interior equations are the rows of ``Laplacian(2).matrix(shape,
boundary="valid")`` (one per interior point); the wall values are known, so
their columns move to the right-hand side (zero here) and
``scipy.sparse.linalg.spsolve`` gives the interior values. The error falls
as ``h**2`` at accuracy 2 and ``h**4`` at accuracy 4 (whose rows next to the
walls reach two points in, one of them on the wall).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import fastfd  # noqa: E402


def exact(x, y):
    return np.sin(np.pi * x)[:, None] * np.sin(np.pi * y)[None, :] * x[:, None]


def rhs(x, y):
    sx, cx = np.sin(np.pi * x)[:, None], np.cos(np.pi * x)[:, None]
    sy = np.sin(np.pi * y)[None, :]
    # d2/dx2 (x sin(pi x)) = 2 pi cos(pi x) - pi**2 x sin(pi x); d2/dy2 gives -pi**2
    return (2 * np.pi * cx - 2 * np.pi ** 2 * x[:, None] * sx) * sy


def solve(n, accuracy=2):
    """Max error of the discrete solution on an n x n grid."""
    import scipy.sparse.linalg as spla

    x = np.linspace(0.0, 1.0, n)
    h = x[1] - x[0]
    op = fastfd.Laplacian(2, accuracy=accuracy, dx=h)
    A = op.matrix((n, n), boundary="valid")
    # the rows are the points where the whole stencil fits; the unknowns are
    # the same points, the rest of the grid is the wall (u = 0), or, at
    # accuracy 4, a ring of points one in from it taken from the exact
    # solution (a second-order stencil there would set the order)
    m = int(round(A.shape[0] ** 0.5))
    k = (n - m) // 2
    rows = (slice(k, n - k),) * 2
    unknown = np.zeros((n, n), dtype=bool)
    unknown[rows] = True
    known = exact(x, x)
    known[unknown] = 0.0
    b = rhs(x, x)[rows].ravel() - A[:, (~unknown).ravel()] @ known[~unknown]
    u = known.copy()
    u[rows] = spla.spsolve(A[:, unknown.ravel()].tocsc(), b).reshape(n - 2 * k, n - 2 * k)
    return float(np.abs(u - exact(x, x)).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[33, 65, 129, 257])
    args = parser.parse_args(argv)
    results = {}
    for accuracy in (2, 4):
        errors = [solve(n, accuracy) for n in args.sizes]
        print(f"accuracy {accuracy}: points, max error, observed order")
        for k, (n, e) in enumerate(zip(args.sizes, errors)):
            ratio = (n - 1) / (args.sizes[k - 1] - 1)
            order = f"{math.log(errors[k - 1] / e) / math.log(ratio):.2f}" if k else ""
            print(f"  {n:5d}   {e:9.3e}   {order}")
        results[accuracy] = errors
    return results


if __name__ == "__main__":
    main()

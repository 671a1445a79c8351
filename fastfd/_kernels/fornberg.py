"""Fornberg's recurrence in float64 (njit), shared by the non-uniform grid
rows (``stencil.fornberg_rows``) and ``apply_stencil``'s one-sided edges.

The exact (Fraction) version of the same recurrence is
``fastfd.stencils._fornberg``; this one serves weights that depend on data
(coordinates, a user's stencil) and so cannot be tabulated.
"""

from numba import njit

from .._config import CACHE, FASTMATH


@njit(cache=CACHE, fastmath=FASTMATH)
def fornberg(order, x0, nodes, c):
    """Weights of the ``order``-th derivative at ``x0`` on ``nodes`` (float).

    ``c`` is scratch of shape ``(len(nodes), order + 1)``; on return
    ``c[:, order]`` holds the weights. Same recurrence as ``_weights._fornberg``.
    """
    n = nodes.shape[0] - 1
    c[:, :] = 0.0
    c[0, 0] = 1.0
    c1 = 1.0
    c4 = nodes[0] - x0
    for i in range(1, n + 1):
        mn = min(i, order)
        c2 = 1.0
        c5 = c4
        c4 = nodes[i] - x0
        for j in range(i):
            c3 = nodes[i] - nodes[j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2

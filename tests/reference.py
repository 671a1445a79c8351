"""Slow, obvious reference implementations shared by the test files.

Nothing here imports fastfd: weights come from solving the Vandermonde
(moment) system directly, exactly in rational arithmetic for integer offsets
and with ``numpy.linalg.solve`` for real ones, and stencils are applied with
plain NumPy indexing one output point at a time.

The stencil rules (which points each output uses) are the documented ones of
``fastfd.grid.derivative``:

* uniform centered: offsets ``-m..m`` with ``m = (order - 1)//2 +
  accuracy//2``; forward ``0..W-1``, backward ``-(W-1)..0`` with
  ``W = order + accuracy``;
* non-uniform centered: ``order + accuracy`` points rounded up to odd,
  centered on the point;
* ``"one-sided"``: a point whose stencil would leave the array uses the ``W``
  points at that end of the array; ``"periodic"``: indices wrap;
  ``"valid"``: only points whose stencil fits.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "vandermonde_weights", "vandermonde_weights_float", "stencil_windows",
    "derivative_ref", "centered_slicing", "forward_slicing", "backward_slicing",
    "second_slicing", "periodic_roll_ref", "touched",
]


def vandermonde_weights(order, offsets):
    """Exact weights (Fractions) with ``sum_k w_k o_k**j == j! [j == order]``
    for ``j < len(offsets)``, by Gauss-Jordan elimination on Fractions."""
    offs = [Fraction(o) for o in offsets]
    n = len(offs)
    a = [[o ** j for o in offs] + [Fraction(math.factorial(order) if j == order else 0)]
         for j in range(n)]
    for col in range(n):
        piv = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [v - f * c for v, c in zip(a[r], a[col])]
    return [a[k][n] for k in range(n)]


def vandermonde_weights_float(order, offsets):
    """Float64 weights for real offsets (scaled Vandermonde solve)."""
    o = np.asarray(offsets, dtype=np.float64)
    s = np.max(np.abs(o))
    z = o / s
    n = len(z)
    v = np.vander(z, n, increasing=True).T
    rhs = np.zeros(n)
    rhs[order] = math.factorial(order)
    return np.linalg.solve(v, rhs) / s ** order


def _uniform_offsets(order, accuracy, scheme):
    w = order + accuracy
    if scheme == "centered":
        m = (order - 1) // 2 + accuracy // 2
        return list(range(-m, m + 1))
    if scheme == "forward":
        return list(range(w))
    return list(range(-(w - 1), 1))


def stencil_windows(n, order=1, accuracy=2, scheme="centered", boundary="one-sided",
                    x=None):
    """``[(indices, weights)]``, one per output point, weights already divided
    by ``dx**order`` when ``x`` is given, else on a unit grid.

    ``x`` (coordinates) selects the non-uniform rules.
    """
    w_edge = order + accuracy
    rows = []
    if x is None:
        offs = _uniform_offsets(order, accuracy, scheme)
        lo, hi = offs[0], offs[-1]
        centre = [float(c) for c in vandermonde_weights(order, offs)]
        if boundary == "valid":
            for i in range(-lo, n - hi):
                rows.append(([i + o for o in offs], centre))
            return rows
        for i in range(n):
            if boundary == "periodic":
                rows.append(([(i + o) % n for o in offs], centre))
            elif i + lo >= 0 and i + hi < n:
                rows.append(([i + o for o in offs], centre))
            else:
                start = 0 if i + lo < 0 else n - w_edge
                idx = list(range(start, start + w_edge))
                rows.append((idx, [float(c) for c in
                                   vandermonde_weights(order, [j - i for j in idx])]))
        return rows
    x = np.asarray(x, dtype=np.float64)
    if scheme == "centered":
        width = w_edge + 1 - w_edge % 2
        back = width // 2
    else:
        width = w_edge
        back = 0 if scheme == "forward" else width - 1
    if boundary == "valid":
        centres = [(s, s + back) for s in range(n - width + 1)]
        for s, c in centres:
            idx = list(range(s, s + width))
            rows.append((idx, list(vandermonde_weights_float(order, x[idx] - x[c]))))
        return rows
    for i in range(n):
        s = i - back
        if 0 <= s and s + width <= n:
            idx = list(range(s, s + width))
        else:
            start = 0 if s < 0 else n - w_edge
            idx = list(range(start, start + w_edge))
        rows.append((idx, list(vandermonde_weights_float(order, x[idx] - x[i]))))
    return rows


def derivative_ref(u, order=1, dx=1.0, axis=-1, accuracy=2, scheme="centered",
                   boundary="one-sided"):
    """Point-by-point reference in float64 / complex128."""
    u = np.asarray(u)
    work = np.complex128 if u.dtype.kind == "c" else np.float64
    v = np.moveaxis(u.astype(work), axis, -1)
    n = v.shape[-1]
    if np.ndim(dx) == 0:
        rows = stencil_windows(n, order, accuracy, scheme, boundary)
        scale = float(dx) ** order
    else:
        rows = stencil_windows(n, order, accuracy, scheme, boundary, x=dx)
        scale = 1.0
    out = np.empty(v.shape[:-1] + (len(rows),), dtype=work)
    for i, (idx, w) in enumerate(rows):
        acc = np.zeros(v.shape[:-1], dtype=work)
        for j, c in zip(idx, w):
            if c != 0:
                acc = acc + c * v[..., j]
        out[..., i] = acc / scale
    return np.moveaxis(out, -1, axis)


def touched(n, order=1, accuracy=2, scheme="centered", boundary="one-sided", x=None):
    """``mask[i, j]``: output ``i`` reads input ``j`` with a nonzero weight."""
    rows = stencil_windows(n, order, accuracy, scheme, boundary, x)
    mask = np.zeros((len(rows), n), dtype=bool)
    for i, (idx, w) in enumerate(rows):
        for j, c in zip(idx, w):
            if c != 0:
                mask[i, j] = True
    return mask


def _along(u, axis, sl):
    idx = [slice(None)] * u.ndim
    idx[axis] = sl
    return u[tuple(idx)]


def centered_slicing(u, dx, axis=-1):
    """NumPy slicing interior ``(u[2:] - u[:-2]) / (2*dx)``."""
    return (_along(u, axis, slice(2, None)) - _along(u, axis, slice(None, -2))) / (2 * dx)


def forward_slicing(u, dx, axis=-1):
    """Interior ``(u[i+1] - u[i]) / dx`` for ``i < n - 1``."""
    return (_along(u, axis, slice(1, None)) - _along(u, axis, slice(None, -1))) / dx


def backward_slicing(u, dx, axis=-1):
    """Interior ``(u[i] - u[i-1]) / dx`` for ``i >= 1``."""
    return forward_slicing(u, dx, axis)


def second_slicing(u, dx, axis=-1):
    """Interior ``(u[i+1] - 2u[i] + u[i-1]) / dx**2``."""
    return (_along(u, axis, slice(2, None)) - 2 * _along(u, axis, slice(1, -1))
            + _along(u, axis, slice(None, -2))) / dx ** 2


def periodic_roll_ref(u, order, accuracy, dx, axis=-1):
    """Centered periodic stencil as a sum of ``np.roll`` shifts."""
    offs = _uniform_offsets(order, accuracy, "centered")
    w = vandermonde_weights(order, offs)
    u = np.asarray(u)
    out = np.zeros(u.shape, dtype=np.result_type(u.dtype, np.float64))
    for o, c in zip(offs, w):
        if c != 0:
            out = out + float(c) * np.roll(u, -o, axis=axis)
    return out / dx ** order

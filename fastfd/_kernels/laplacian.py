"""Laplacian kernels (njit): row primitives, 2-D/3-D drivers, general accuracy.

Layout: the last axis is the contiguous one, and every loop runs over
contiguous 1-D slices indexed from 0, with few input streams, which LLVM
vectorizes. For C-contiguous arrays a whole plane is one flat loop (the
neighbouring rows are the same plane shifted by a row length) and the points
at the row ends, where that shift wraps, are recomputed afterwards; other
layouts go row by row. Parallel drivers ``prange`` over planes (3-D), rows
(2-D) or row tiles (any accuracy) and call the same code as the serial ones
(measured: a bare ``prange`` element loop did not vectorize and ran 2.6x
slower than serial; a helper per contiguous chunk restores it).

Output index = input index - ``sh`` on every active axis: ``sh = 0`` for the
same-shape modes, ``sh = m`` for ``"valid"`` (the output is smaller).

One operation order per point
-----------------------------
Every point is computed by the same floating-point operations wherever it
lies: flat loop or row loop, row end or middle, wrapped or not, serial or
parallel, tile seams. A point's result depends only on the values its
stencil reads and, per axis, on the stencil it uses there (centred, or the
one-sided stencil of its distance to the edge). So ``"valid"`` equals the
interior of ``"one-sided"``, ``"periodic"`` equals ``"valid"`` on the
wrap-padded array, and a block of an array (with a halo of ``m`` points)
gives the same bits as the whole array on the points it keeps.

The per-axis terms ``T_a`` are summed as ``(T_2 + T_1) + T_0`` in the axes of
the caller's array (a 2-D sum ``T_1 + T_0`` is commutative, so needs no
order). The grid layer hands C-ordered copies or transposed views to the
kernels, whose axis ``last`` then holds the caller's axis 0: the 3-D kernels
add that axis's term last, ``(T_p + T_q) + T_last``, so every memory layout
gives the same bits.

Accuracy 2 (``a = 1/h**2`` per axis): centred ``T = (u[k+1] - 2 u[k] +
u[k-1]) a`` with ``2 u`` written ``u + u`` (exact, and keeps float32
float32) and evaluated ``((u[k+1] - 2 u[k]) + u[k-1]) * a``; one-sided ends
``(2 u0 - 5 u1 + 4 u2 - u3) a`` (4 points, O(h**2)), summed as differences.

Accuracy >= 4 (weights ``w`` already divided by ``h**2``): centred ``T =
w_-m u[k-m] + ... + w_0 u[k] + ... + w_m u[k+m]`` summed left to right
(periodic: the same with wrapped indices); one-sided ``T = sum_t w_t
u[idx_t]`` over the ``accuracy + 2`` edge points from the edge inwards, left
to right.
"""

import numpy as np
from numba import njit, prange
from numba.extending import overload

from .._config import CACHE, FASTMATH
from .simple import INTERIOR, ONE_SIDED, PERIODIC, add_scaled, real_like, scale_into

# ---------------------------------------------------------------------------
# Row primitives, accuracy 2. Arguments are equal-length 1-D slices cut by the
# caller and loops index them from 0: a run-time offset inside the loop
# (``c[k - 1]`` with ``k`` from a variable start) makes Numba test for
# negative indices, and that branch stopped LLVM vectorizing (measured 9x).


@njit(cache=CACHE, fastmath=FASTMATH)
def _one_sided(u0, u1, u2, u3):
    """2 u0 - 5 u1 + 4 u2 - u3 as 2 (u0 - u1) - 3 (u1 - u2) + (u2 - u3): the
    differences vanish exactly on a constant, so its Laplacian is exactly 0."""
    d = u1 - u2
    return (u0 - u1) * real_like(2.0, d) - d * real_like(3.0, d) + (u2 - u3)


@njit(cache=CACHE, fastmath=FASTMATH)
def _fused(o, cm, c, cp, xm, xp, ym, yp, a0, a1, a2, nd):
    """o = 3-point Laplacian: ``cm/c/cp`` are the row shifted by -1/0/+1.

    ``nd`` active axes: 1 uses only the row; 2 adds ``ym/yp`` (the
    neighbouring rows); 3 adds ``xm/xp`` (the neighbouring planes). The terms
    are summed ``(row + y) + x``; callers pass any axis's neighbours in any
    slot (``_fused3``), the row slot included.
    """
    if nd == 3:
        for k in range(o.shape[0]):
            cc = c[k] + c[k]
            o[k] = ((cp[k] - cc + cm[k]) * a2 + (yp[k] - cc + ym[k]) * a1
                    + (xp[k] - cc + xm[k]) * a0)
    elif nd == 2:
        for k in range(o.shape[0]):
            cc = c[k] + c[k]
            o[k] = (cp[k] - cc + cm[k]) * a2 + (yp[k] - cc + ym[k]) * a1
    else:
        for k in range(o.shape[0]):
            o[k] = (cp[k] - (c[k] + c[k]) + cm[k]) * a2


@njit(cache=CACHE, fastmath=FASTMATH)
def _fused3(o, c, zm, zp, ym, yp, xm, xp, a0, a1, a2, last):
    """3-D 7-point Laplacian of contiguous slices, the term of axis ``last``
    (0: x, 1: y, 2: z) added last."""
    if last == 0:
        _fused(o, zm, c, zp, xm, xp, ym, yp, a0, a1, a2, 3)
    elif last == 1:
        _fused(o, zm, c, zp, ym, yp, xm, xp, a1, a0, a2, 3)
    else:
        _fused(o, ym, c, yp, zm, zp, xm, xp, a2, a0, a1, 3)


@njit(cache=CACHE, fastmath=FASTMATH)
def _comb3(z, y, x, last):
    """The three axis terms of one point, in the order of ``_fused3``."""
    if last == 0:
        return (z + y) + x
    if last == 1:
        return (z + x) + y
    return (y + x) + z


@njit(cache=CACHE, fastmath=FASTMATH)
def _ends(o, c, a2, mode):
    """o[0], o[n-1] = second difference along the row (same-shape modes)."""
    n = c.shape[0]
    if mode == PERIODIC:
        o[0] = (c[1] - (c[0] + c[0]) + c[n - 1]) * a2
        o[n - 1] = (c[0] - (c[n - 1] + c[n - 1]) + c[n - 2]) * a2
    else:
        o[0] = _one_sided(c[0], c[1], c[2], c[3]) * a2
        o[n - 1] = _one_sided(c[n - 1], c[n - 2], c[n - 3], c[n - 4]) * a2


@njit(cache=CACHE, fastmath=FASTMATH)
def _set3(o, m, c, p, a):
    for k in range(o.shape[0]):
        o[k] = (p[k] - (c[k] + c[k]) + m[k]) * a


@njit(cache=CACHE, fastmath=FASTMATH)
def _add3(o, m, c, p, a):
    for k in range(o.shape[0]):
        o[k] += (p[k] - (c[k] + c[k]) + m[k]) * a


@njit(cache=CACHE, fastmath=FASTMATH)
def _set4(o, r0, r1, r2, r3, a):
    for k in range(o.shape[0]):
        o[k] = _one_sided(r0[k], r1[k], r2[k], r3[k]) * a


@njit(cache=CACHE, fastmath=FASTMATH)
def _add4(o, r0, r1, r2, r3, a):
    for k in range(o.shape[0]):
        o[k] += _one_sided(r0[k], r1[k], r2[k], r3[k]) * a


@njit(cache=CACHE, fastmath=FASTMATH)
def _row_inner(o, c, a2, sh):
    """o[k - sh] = second difference of row ``c`` at 1 <= k <= n - 2."""
    n = c.shape[0]
    _fused(o[1 - sh:n - 1 - sh], c[:n - 2], c[1:n - 1], c[2:], c, c, c, c, a2, a2, a2, 1)


@njit(cache=CACHE, fastmath=FASTMATH)
def _add3_ends(o, m, c, p, a):
    n = c.shape[0]
    _add3(o[:1], m[:1], c[:1], p[:1], a)
    _add3(o[n - 1:], m[n - 1:], c[n - 1:], p[n - 1:], a)


@njit(cache=CACHE, fastmath=FASTMATH)
def _zrow(o, c, a2, add):
    """o (=, or += if ``add``) the one-sided second difference along row ``c``."""
    n = c.shape[0]
    if add:
        _add3(o[1:n - 1], c[:n - 2], c[1:n - 1], c[2:], a2)
        o[0] += _one_sided(c[0], c[1], c[2], c[3]) * a2
        o[n - 1] += _one_sided(c[n - 1], c[n - 2], c[n - 3], c[n - 4]) * a2
    else:
        _row_inner(o, c, a2, 0)
        _ends(o, c, a2, ONE_SIDED)


@njit(cache=CACHE, fastmath=FASTMATH)
def _line(u, i, j, axis, q):
    """Row ``(q, j)`` (axis 0) or ``(i, q)`` (axis 1) of 3-D ``u``."""
    if axis == 0:
        return u[q, j]
    return u[i, q]


@njit(cache=CACHE, fastmath=FASTMATH)
def _side(o, u, i, j, axis, a, add):
    """o (=, or += if ``add``) the one-sided-mode term of ``axis`` (0 or 1)
    on row ``(i, j)``: centred inside, the 4-point stencil at the edges."""
    n = u.shape[axis]
    q = i if axis == 0 else j
    c = _line(u, i, j, axis, q)
    if 1 <= q <= n - 2:
        rm = _line(u, i, j, axis, q - 1)
        rp = _line(u, i, j, axis, q + 1)
        if add:
            _add3(o, rm, c, rp, a)
        else:
            _set3(o, rm, c, rp, a)
        return
    d = 1 if q == 0 else -1
    r1 = _line(u, i, j, axis, q + d)
    r2 = _line(u, i, j, axis, q + 2 * d)
    r3 = _line(u, i, j, axis, q + 3 * d)
    if add:
        _add4(o, c, r1, r2, r3, a)
    else:
        _set4(o, c, r1, r2, r3, a)


@njit(cache=CACHE, fastmath=FASTMATH)
def _end_z(c, k, kp, km, d, a2, mode):
    """Axis-2 term at row end ``k``: periodic from its neighbours ``kp`` (+1)
    and ``km`` (-1), else one-sided inwards (direction ``d``)."""
    ck = c[k]
    if mode == PERIODIC:
        return (c[kp] - (ck + ck) + c[km]) * a2
    return _one_sided(ck, c[k + d], c[k + 2 * d], c[k + 3 * d]) * a2


@njit(cache=CACHE, fastmath=FASTMATH)
def _end_flat(o, c, xm, xp, n2, k, kp, km, d, a0, a1, a2, mode, last):
    """o[k] at a row end of a flat plane (rows ``n2`` long), centred along x
    and y. Index arithmetic on the plane: the same point with its rows passed
    as separate arrays ran 15x slower (measured)."""
    z = _end_z(c, k, kp, km, d, a2, mode)
    cc = c[k] + c[k]
    y = (c[k + n2] - cc + c[k - n2]) * a1
    x = (xp[k] - cc + xm[k]) * a0
    o[k] = _comb3(z, y, x, last)


@njit(cache=CACHE, fastmath=FASTMATH)
def _end_rows(o, c, xm, xp, ym, yp, a0, a1, a2, mode, last):
    """o[0], o[n-1] of a row centred along x and y (neighbour rows given)."""
    n = c.shape[0]
    for k, kp, km, d in ((0, 1, n - 1, 1), (n - 1, 0, n - 2, -1)):
        z = _end_z(c, k, kp, km, d, a2, mode)
        cc = c[k] + c[k]
        y = (yp[k] - cc + ym[k]) * a1
        x = (xp[k] - cc + xm[k]) * a0
        o[k] = _comb3(z, y, x, last)


# ---------------------------------------------------------------------------
# Accuracy-2 drivers. ``mode`` is ONE_SIDED, PERIODIC or INTERIOR; ``sh`` is 0,
# or 1 with INTERIOR for the smaller "valid" output.


@njit(cache=CACHE, fastmath=FASTMATH)
def row1(u, out, a2, mode, sh):
    _row_inner(out, u, a2, sh)
    if mode != INTERIOR:
        _ends(out, u, a2, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def row2(u, out, j, a1, a2, mode, sh):
    """Row ``j`` of the 2-D Laplacian of ``u`` (spacings -> a1, a2)."""
    n1, n2 = u.shape
    c = u[j]
    o = out[j - sh]
    if mode == PERIODIC or 1 <= j <= n1 - 2:
        ym = u[(j - 1) % n1]
        yp = u[(j + 1) % n1]
        _fused(o[1 - sh:n2 - 1 - sh], c[:n2 - 2], c[1:n2 - 1], c[2:],
               c, c, ym[1:n2 - 1], yp[1:n2 - 1], a1, a1, a2, 2)
        if mode != INTERIOR:
            _ends(o, c, a2, mode)
            _add3_ends(o, ym, c, yp, a1)
        return
    _row_inner(o, c, a2, 0)
    _ends(o, c, a2, ONE_SIDED)
    if j == 0:
        _add4(o, u[0], u[1], u[2], u[3], a1)
    else:
        _add4(o, u[n1 - 1], u[n1 - 2], u[n1 - 3], u[n1 - 4], a1)


@njit(cache=CACHE, fastmath=FASTMATH)
def _rows3(u, out, i, ja, jb, a0, a1, a2, mode, sh, last):
    """Rows ``ja <= j < jb`` of plane ``i``, one row at a time (any layout)."""
    n0, n1, n2 = u.shape
    xint = mode == PERIODIC or 1 <= i <= n0 - 2
    for j in range(ja, jb):
        c = u[i, j]
        o = out[i - sh, j - sh]
        yint = mode == PERIODIC or 1 <= j <= n1 - 2
        if xint and yint:
            xm = u[(i - 1) % n0, j]
            xp = u[(i + 1) % n0, j]
            ym = u[i, (j - 1) % n1]
            yp = u[i, (j + 1) % n1]
            _fused3(o[1 - sh:n2 - 1 - sh], c[1:n2 - 1], c[:n2 - 2], c[2:],
                    ym[1:n2 - 1], yp[1:n2 - 1], xm[1:n2 - 1], xp[1:n2 - 1], a0, a1, a2, last)
            if mode != INTERIOR:
                _end_rows(o, c, xm, xp, ym, yp, a0, a1, a2, mode, last)
            continue
        # one-sided along x or y: the terms one at a time, in _comb3's order
        if last == 0:
            _zrow(o, c, a2, False)
            _side(o, u, i, j, 1, a1, True)
            _side(o, u, i, j, 0, a0, True)
        elif last == 1:
            _zrow(o, c, a2, False)
            _side(o, u, i, j, 0, a0, True)
            _side(o, u, i, j, 1, a1, True)
        else:
            _side(o, u, i, j, 1, a1, False)
            _side(o, u, i, j, 0, a0, True)
            _zrow(o, c, a2, True)


@njit(cache=CACHE, fastmath=FASTMATH)
def _plane3_flat(u, out, i, a0, a1, a2, mode, last):
    """Rows 1..n1-2 of plane ``i`` (x-interior or periodic) as one flat loop.

    Planes of C-contiguous arrays are contiguous, so the row neighbours are
    the same plane shifted by a row: one long vectorized loop instead of a
    call per row (measured 1.45x -> 1.2x of copy at 256**3), which computes
    wrapped nonsense at the two ends of each row; those are then rewritten.
    """
    n0, n1, n2 = u.shape
    size = n1 * n2
    c = u[i].reshape(size)
    o = out[i].reshape(size)
    xm = u[(i - 1) % n0].reshape(size)
    xp = u[(i + 1) % n0].reshape(size)
    lo = n2
    hi = size - n2
    _fused3(o[lo:hi], c[lo:hi], c[lo - 1:hi - 1], c[lo + 1:hi + 1], c[:hi - n2], c[lo + n2:],
            xm[lo:hi], xp[lo:hi], a0, a1, a2, last)
    for j in range(1, n1 - 1):
        k = j * n2
        _end_flat(o, c, xm, xp, n2, k, k + 1, k + n2 - 1, 1, a0, a1, a2, mode, last)
        k = k + n2 - 1
        _end_flat(o, c, xm, xp, n2, k, k - n2 + 1, k - 1, -1, a0, a1, a2, mode, last)


def _plane_body(u, out, i, a0, a1, a2, mode, last):
    """Rows 1..n1-2 of an x-interior (or periodic) plane; chosen at compile
    time: flat for C-contiguous arrays (Numba cannot reshape other layouts),
    row by row otherwise. Both give the same bits."""


@overload(_plane_body)
def _plane_body_impl(u, out, i, a0, a1, a2, mode, last):
    if u.layout == "C" and out.layout == "C":
        def flat(u, out, i, a0, a1, a2, mode, last):
            _plane3_flat(u, out, i, a0, a1, a2, mode, last)
        return flat

    def rows(u, out, i, a0, a1, a2, mode, last):
        _rows3(u, out, i, 1, u.shape[1] - 1, a0, a1, a2, mode, 0, last)
    return rows


@njit(cache=CACHE, fastmath=FASTMATH)
def plane3(u, out, i, a0, a1, a2, mode, sh, last):
    """Plane ``i`` of the 3-D Laplacian of ``u`` (spacings -> a0, a1, a2)."""
    n0, n1, n2 = u.shape
    if mode != INTERIOR and (mode == PERIODIC or 1 <= i <= n0 - 2):
        _plane_body(u, out, i, a0, a1, a2, mode, last)
        _rows3(u, out, i, 0, 1, a0, a1, a2, mode, sh, last)
        _rows3(u, out, i, n1 - 1, n1, a0, a1, a2, mode, sh, last)
    else:
        jlo = 1 if mode == INTERIOR else 0
        _rows3(u, out, i, jlo, n1 - jlo, a0, a1, a2, mode, sh, last)


@njit(cache=CACHE, fastmath=FASTMATH)
def lap2_serial(u, out, a1, a2, mode, sh):
    lo = 1 if mode == INTERIOR else 0
    for j in range(lo, u.shape[0] - lo):
        row2(u, out, j, a1, a2, mode, sh)


@njit(cache=CACHE, fastmath=FASTMATH, parallel=True)
def lap2_parallel(u, out, a1, a2, mode, sh):
    lo = 1 if mode == INTERIOR else 0
    for j in prange(lo, u.shape[0] - lo):
        row2(u, out, j, a1, a2, mode, sh)


@njit(cache=CACHE, fastmath=FASTMATH)
def lap3_serial(u, out, a0, a1, a2, mode, sh, last=0):
    """``last``: the axis whose term is added last (the caller's axis 0)."""
    lo = 1 if mode == INTERIOR else 0
    for i in range(lo, u.shape[0] - lo):
        plane3(u, out, i, a0, a1, a2, mode, sh, last)


@njit(cache=CACHE, fastmath=FASTMATH, parallel=True)
def lap3_parallel(u, out, a0, a1, a2, mode, sh, last):
    lo = 1 if mode == INTERIOR else 0
    for i in prange(lo, u.shape[0] - lo):
        plane3(u, out, i, a0, a1, a2, mode, sh, last)


# ---------------------------------------------------------------------------
# Any even accuracy, table driven. ``u`` and ``out`` are 3-D (unused leading
# axes have length 1 and no taps). Per axis a and input position q, the
# ``cnt_a[q]`` taps ``idx_a[q, t]`` (input indices, wrapped if periodic) with
# weights ``w_a[q, t]`` (already / h**2), summed in tap order: centred rows
# (2m + 1 taps) run over offsets -m..m, one-sided rows over the edge points
# from the edge inwards; ``cnt_a[q] = 0``: no term (an axis that is not there,
# or a position "valid" does not write). ``lo_a <= q < hi_a`` are the
# positions written, to ``out[... q - sh_a ...]``. ``wc`` / ``cw1`` are the
# centred weights of axes 2 / 1 on offsets -m..m, the values of the centred
# table rows. Scalar code sums taps in plain loops: the same sums written as
# symmetric pairs ``w (u[+s] + u[-s])`` ran 3.5x slower at the row ends
# (measured), and taps need no case for the one-sided rows.


@njit(cache=CACHE, fastmath=FASTMATH)
def _term2(c, k, idx, w, cnt):
    """The axis-2 term at point ``k`` of row ``c``."""
    acc = w[k, 0] * c[idx[k, 0]]
    for t in range(1, cnt[k]):
        acc += w[k, t] * c[idx[k, t]]
    return acc


@njit(cache=CACHE, fastmath=FASTMATH)
def _term_rows(t, u, axis, i, j, idx, w, cnt, ka, kb):
    """t = the term of ``axis`` (0 or 1) on row ``(i, j)``, points ka..kb-1,
    one pass per tap."""
    q = i if axis == 0 else j
    scale_into(t, w[q, 0], _line(u, i, j, axis, idx[q, 0])[ka:kb])
    for r in range(1, cnt[q]):
        add_scaled(t, w[q, r], _line(u, i, j, axis, idx[q, r])[ka:kb])


@njit(cache=CACHE, fastmath=FASTMATH)
def _combine(o, t1, t0, has1, has0, last):
    """o = o + t1 + t0 (the axis-2, 1, 0 terms) in ``_comb3``'s order."""
    if has1 and has0:
        if last == 0:
            for k in range(o.shape[0]):
                o[k] = (o[k] + t1[k]) + t0[k]
        elif last == 1:
            for k in range(o.shape[0]):
                o[k] = (o[k] + t0[k]) + t1[k]
        else:
            for k in range(o.shape[0]):
                o[k] = (t1[k] + t0[k]) + o[k]
    elif has1:
        for k in range(o.shape[0]):
            o[k] += t1[k]
    elif has0:
        for k in range(o.shape[0]):
            o[k] += t0[k]


@njit(cache=CACHE, fastmath=FASTMATH)
def _flat_end(u, c, o, i, j, k, tabs, cw1, m, last):
    """Point (j, k) of the flat plane ``c`` (rows centred along axis 1): the
    terms as the passes compute them, combined as ``_combine``."""
    idx0, w0, cnt0, idx1, w1, cnt1, idx2, w2, cnt2 = tabs
    n2 = u.shape[2]
    base = j * n2
    z = w2[k, 0] * c[base + idx2[k, 0]]
    for t in range(1, cnt2[k]):
        z += w2[k, t] * c[base + idx2[k, t]]
    y = cw1[0] * c[base - m * n2 + k]
    for s in range(1, 2 * m + 1):
        y += cw1[s] * c[base + (s - m) * n2 + k]
    x = w0[i, 0] * u[idx0[i, 0], j, k]
    for t in range(1, cnt0[i]):
        x += w0[i, t] * u[idx0[i, t], j, k]
    if cnt0[i] == 0:
        o[base + k] = z + y
    elif last == 0:
        o[base + k] = (z + y) + x
    elif last == 1:
        o[base + k] = (z + x) + y
    else:
        o[base + k] = (y + x) + z


@njit(cache=CACHE, fastmath=FASTMATH)
def _general_row(u, out, i, j, tabs, wc, m, lims, t1, t0, last):
    """One row, one pass per tap; any layout, any mode."""
    idx0, w0, cnt0, idx1, w1, cnt1, idx2, w2, cnt2 = tabs
    lo0, lo1, lo2, hi2, sh0, sh1, sh2 = lims
    c = u[i, j]
    o = out[i - sh0, j - sh1]
    n2 = c.shape[0]
    a = max(lo2, m)
    b = min(hi2, n2 - m)
    if a < b:
        oi = o[a - sh2:b - sh2]
        scale_into(oi, wc[0], c[a - m:b - m])
        for s in range(1, 2 * m + 1):
            add_scaled(oi, wc[s], c[a - m + s:b - m + s])
    else:
        a = b = hi2
    for k in range(lo2, a):
        o[k - sh2] = _term2(c, k, idx2, w2, cnt2)
    for k in range(b, hi2):
        o[k - sh2] = _term2(c, k, idx2, w2, cnt2)
    nk = hi2 - lo2
    has1 = cnt1[j] > 0
    has0 = cnt0[i] > 0
    if has1:
        _term_rows(t1[:nk], u, 1, i, j, idx1, w1, cnt1, lo2, hi2)
    if has0:
        _term_rows(t0[:nk], u, 0, i, j, idx0, w0, cnt0, lo2, hi2)
    _combine(o[lo2 - sh2:hi2 - sh2], t1[:nk], t0[:nk], has1, has0, last)


@njit(cache=CACHE, fastmath=FASTMATH)
def _fused5(o, a0, a1, a2, a3, a4, wa, b0, b1, b2, b3, b4, wb, c0, c1, c2, c3, c4, wc, three):
    """Accuracy 4 in one loop: the centred terms A, B (and C if ``three``),
    each ``w[0] u[-2] + w[1] u[-1] + ... + w[4] u[+2]`` left to right, summed
    ``(A + B) + C``; the centre point is ``a2``/``b2``/``c2`` (measured 1.2x
    faster than one pass per tap on a 256x256 plane in cache)."""
    if three:
        for k in range(o.shape[0]):
            ta = (((wa[0] * a0[k] + wa[1] * a1[k]) + wa[2] * a2[k]) + wa[3] * a3[k]) + wa[4] * a4[k]
            tb = (((wb[0] * b0[k] + wb[1] * b1[k]) + wb[2] * b2[k]) + wb[3] * b3[k]) + wb[4] * b4[k]
            tc = (((wc[0] * c0[k] + wc[1] * c1[k]) + wc[2] * c2[k]) + wc[3] * c3[k]) + wc[4] * c4[k]
            o[k] = (ta + tb) + tc
    else:
        for k in range(o.shape[0]):
            ta = (((wa[0] * a0[k] + wa[1] * a1[k]) + wa[2] * a2[k]) + wa[3] * a3[k]) + wa[4] * a4[k]
            tb = (((wb[0] * b0[k] + wb[1] * b1[k]) + wb[2] * b2[k]) + wb[3] * b3[k]) + wb[4] * b4[k]
            o[k] = ta + tb


@njit(cache=CACHE, fastmath=FASTMATH)
def _flat_m2(o, c, n2, beg, end, planes, wc, cw1, wx, has0, last):
    """Accuracy 4 on flat points beg..end-1 of a plane, centred (or absent)
    along axis 0: ``planes`` are its rows -2..+2, flattened."""
    e = end
    z0, z1, z2 = c[beg - 2:e - 2], c[beg - 1:e - 1], c[beg:e]
    z3, z4 = c[beg + 1:e + 1], c[beg + 2:e + 2]
    y0, y1 = c[beg - 2 * n2:e - 2 * n2], c[beg - n2:e - n2]
    y3, y4 = c[beg + n2:e + n2], c[beg + 2 * n2:e + 2 * n2]
    x0, x1, x2 = planes[0][beg:e], planes[1][beg:e], planes[2][beg:e]
    x3, x4 = planes[3][beg:e], planes[4][beg:e]
    oc = o[beg:e]
    if not has0 or last == 0:
        _fused5(oc, z0, z1, z2, z3, z4, wc, y0, y1, z2, y3, y4, cw1,
                x0, x1, x2, x3, x4, wx, has0)
    elif last == 1:
        _fused5(oc, z0, z1, z2, z3, z4, wc, x0, x1, x2, x3, x4, wx,
                y0, y1, z2, y3, y4, cw1, True)
    else:
        _fused5(oc, y0, y1, z2, y3, y4, cw1, x0, x1, x2, x3, x4, wx,
                z0, z1, z2, z3, z4, wc, True)


@njit(cache=CACHE, fastmath=FASTMATH)
def _fused7(o, a, wa, b, wb, c, wc, three):
    """Accuracy 6 in one loop, as ``_fused5`` with 7 taps per axis (``a``,
    ``b``, ``c``: tuples of the 7 shifted slices)."""
    a0, a1, a2, a3, a4, a5, a6 = a
    b0, b1, b2, b3, b4, b5, b6 = b
    c0, c1, c2, c3, c4, c5, c6 = c
    if three:
        for k in range(o.shape[0]):
            ta = (((((wa[0] * a0[k] + wa[1] * a1[k]) + wa[2] * a2[k]) + wa[3] * a3[k])
                   + wa[4] * a4[k]) + wa[5] * a5[k]) + wa[6] * a6[k]
            tb = (((((wb[0] * b0[k] + wb[1] * b1[k]) + wb[2] * b2[k]) + wb[3] * b3[k])
                   + wb[4] * b4[k]) + wb[5] * b5[k]) + wb[6] * b6[k]
            tc = (((((wc[0] * c0[k] + wc[1] * c1[k]) + wc[2] * c2[k]) + wc[3] * c3[k])
                   + wc[4] * c4[k]) + wc[5] * c5[k]) + wc[6] * c6[k]
            o[k] = (ta + tb) + tc
    else:
        for k in range(o.shape[0]):
            ta = (((((wa[0] * a0[k] + wa[1] * a1[k]) + wa[2] * a2[k]) + wa[3] * a3[k])
                   + wa[4] * a4[k]) + wa[5] * a5[k]) + wa[6] * a6[k]
            tb = (((((wb[0] * b0[k] + wb[1] * b1[k]) + wb[2] * b2[k]) + wb[3] * b3[k])
                   + wb[4] * b4[k]) + wb[5] * b5[k]) + wb[6] * b6[k]
            o[k] = ta + tb


@njit(cache=CACHE, fastmath=FASTMATH)
def _flat_m3(o, c, n2, beg, end, planes, wc, cw1, wx, has0, last):
    """Accuracy 6 on flat points beg..end-1 of a plane, centred (or absent)
    along axis 0: ``planes`` are its rows -3..+3, flattened."""
    e = end
    z = (c[beg - 3:e - 3], c[beg - 2:e - 2], c[beg - 1:e - 1], c[beg:e], c[beg + 1:e + 1],
         c[beg + 2:e + 2], c[beg + 3:e + 3])
    y = (c[beg - 3 * n2:e - 3 * n2], c[beg - 2 * n2:e - 2 * n2], c[beg - n2:e - n2], c[beg:e],
         c[beg + n2:e + n2], c[beg + 2 * n2:e + 2 * n2], c[beg + 3 * n2:e + 3 * n2])
    x = (planes[0][beg:e], planes[1][beg:e], planes[2][beg:e], planes[3][beg:e],
         planes[4][beg:e], planes[5][beg:e], planes[6][beg:e])
    oc = o[beg:e]
    if not has0 or last == 0:
        _fused7(oc, z, wc, y, cw1, x, wx, has0)
    elif last == 1:
        _fused7(oc, z, wc, x, wx, y, cw1, True)
    else:
        _fused7(oc, y, cw1, x, wx, z, wc, True)


@njit(cache=CACHE, fastmath=FASTMATH)
def _general_flat(u, out, i, fa, fb, tabs, wc, cw1, m, t1, t0, last):
    """Rows ``fa <= j < fb`` (centred along axis 1) of plane ``i`` of
    C-contiguous arrays as flat passes over blocks of 2048 points (the
    partial sums stay in L1); the ``m`` points at each row end, where the
    flat shifts wrap into the neighbouring row, are then recomputed."""
    idx0, w0, cnt0, idx1, w1, cnt1, idx2, w2, cnt2 = tabs
    n1 = u.shape[1]
    n2 = u.shape[2]
    size = n1 * n2
    c = u[i].reshape(size)
    o = out[i].reshape(size)
    end = fb * n2
    beg = fa * n2
    has0 = cnt0[i] > 0
    if m == 2 and cnt0[i] != 2 * m + 2:  # accuracy 4, centred (or no) axis 0: fused
        if has0:
            planes = (u[idx0[i, 0]].reshape(size), u[idx0[i, 1]].reshape(size),
                      u[idx0[i, 2]].reshape(size), u[idx0[i, 3]].reshape(size),
                      u[idx0[i, 4]].reshape(size))
            wx = w0[i]
        else:  # placeholders, not read
            planes = (c, c, c, c, c)
            wx = wc
        _flat_m2(o, c, n2, beg, end, planes, wc, cw1, wx, has0, last)
        beg = end
    elif m == 3 and cnt0[i] != 2 * m + 2:  # accuracy 6 likewise (1.3x faster at 128**3)
        if has0:
            planes7 = (u[idx0[i, 0]].reshape(size), u[idx0[i, 1]].reshape(size),
                       u[idx0[i, 2]].reshape(size), u[idx0[i, 3]].reshape(size),
                       u[idx0[i, 4]].reshape(size), u[idx0[i, 5]].reshape(size),
                       u[idx0[i, 6]].reshape(size))
            wx = w0[i]
        else:
            planes7 = (c, c, c, c, c, c, c)
            wx = wc
        _flat_m3(o, c, n2, beg, end, planes7, wc, cw1, wx, has0, last)
        beg = end
    for b in range(beg, end, 2048):
        e = min(b + 2048, end)
        ob = o[b:e]
        tb1 = t1[:e - b]
        tb0 = t0[:e - b]
        scale_into(ob, wc[0], c[b - m:e - m])
        for s in range(1, 2 * m + 1):
            add_scaled(ob, wc[s], c[b - m + s:e - m + s])
        scale_into(tb1, cw1[0], c[b - m * n2:e - m * n2])
        for s in range(1, 2 * m + 1):
            add_scaled(tb1, cw1[s], c[b + (s - m) * n2:e + (s - m) * n2])
        if has0:
            scale_into(tb0, w0[i, 0], u[idx0[i, 0]].reshape(size)[b:e])
            for t in range(1, cnt0[i]):
                add_scaled(tb0, w0[i, t], u[idx0[i, t]].reshape(size)[b:e])
        _combine(ob, tb1, tb0, True, has0, last)
    for j in range(fa, fb):
        for k in range(m):
            _flat_end(u, c, o, i, j, k, tabs, cw1, m, last)
        for k in range(n2 - m, n2):
            _flat_end(u, c, o, i, j, k, tabs, cw1, m, last)


@njit(cache=CACHE, fastmath=FASTMATH)
def _general_tile(u, out, q, tabs, wc, cw1, m, lims, hi0, hi1, flat, rows, last):
    lo0 = lims[0]
    lo1 = lims[1]
    ntj = (hi1 - lo1 + rows - 1) // rows
    i = lo0 + q // ntj
    ja = lo1 + (q % ntj) * rows
    jb = min(ja + rows, hi1)
    fa = max(ja, m)
    fb = min(jb, u.shape[1] - m)
    # per-tile scratch for the axis-1 and axis-0 terms (a row, or a block)
    t1 = np.empty(max(u.shape[2], 2048), u.dtype)
    t0 = np.empty(max(u.shape[2], 2048), u.dtype)
    if not flat or fa >= fb:
        fa = fb = jb
    else:
        _general_flat(u, out, i, fa, fb, tabs, wc, cw1, m, t1, t0, last)
    for j in range(ja, fa):
        _general_row(u, out, i, j, tabs, wc, m, lims, t1, t0, last)
    for j in range(fb, jb):
        _general_row(u, out, i, j, tabs, wc, m, lims, t1, t0, last)


@njit(cache=CACHE, fastmath=FASTMATH)
def general_serial(u, out, tabs, wc, cw1, m, lims, hi0, hi1, flat, rows, last):
    ntiles = (hi0 - lims[0]) * ((hi1 - lims[1] + rows - 1) // rows)
    for q in range(ntiles):
        _general_tile(u, out, q, tabs, wc, cw1, m, lims, hi0, hi1, flat, rows, last)


@njit(cache=CACHE, fastmath=FASTMATH, parallel=True)
def general_parallel(u, out, tabs, wc, cw1, m, lims, hi0, hi1, flat, rows, last):
    # Tiles of ``rows`` rows of one plane: 3-D and 2-D (one plane) both split.
    ntiles = (hi0 - lims[0]) * ((hi1 - lims[1] + rows - 1) // rows)
    for q in prange(ntiles):
        _general_tile(u, out, q, tabs, wc, cw1, m, lims, hi0, hi1, flat, rows, last)

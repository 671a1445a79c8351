"""Centered derivatives along one axis of a 1-, 2- or 3-D array (njit, serial).

Building blocks of ``fastfd.kernels.derivative``, ``mixed_derivative`` and
the accuracy 4 and 6 Laplacians. Arithmetic only: no validation, nothing
allocated. Weights come in as unit-spacing tables (float64, read-only):

* ``cent[s]``, ``0 <= s <= m``: the centered weight at offsets ``+s`` (and
  ``-s``, the same weight for an even order, negated for an odd one);
* ``edge[r, j]``, ``r < m``, ``j < width``: the one-sided weights of point
  ``r`` on the window ``u[0:width]`` (``width = order + accuracy``, the same
  accuracy); the right end is the mirror image, negated for an odd order.

Every weight is cast to ``u``'s real dtype and multiplied by ``sc`` (the
``1/h**order`` scale times any outer factor, already in that dtype), so
float32 stays float32.

Two row primitives do the work on any layout, and every loop runs over
contiguous 1-D slices cut by the caller and indexed from 0 (a run-time
offset inside the loop stopped LLVM vectorizing, see ``laplacian.py``):

* :func:`along` differentiates a row along itself (the last axis);
* :func:`across` forms one output row from the neighbouring rows of a 2-D
  view ``V`` (the derivative along ``V``'s axis 0), so a derivative along
  axis 0 of a C array streams whole rows instead of strided columns.

Both either store (``add=False``) or accumulate (``add=True``) into ``o``,
which lets a Laplacian or a mixed derivative build each output row while
its inputs are still in cache. For C-contiguous arrays the drivers sweep
many rows in one flat pass instead (see "Flat passes" below).

Taps are summed as differences from the centre, ``w (u[j] - u[i])`` (the
weights of a derivative sum to zero), so a constant gives exactly 0.
"""

from numba import njit, types
from numba.extending import overload

from .._config import CACHE, FASTMATH
from .simple import (NAMES, INTERIOR, PERIODIC, bad_mode, fail_axis, fail_mode,
                     fail_overlap, fail_shape, mode_is_int, overlaps, real_like, short_axis)


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def _put(o, k, v, add):
    if add:
        o[k] += v
    else:
        o[k] = v


@njit(cache=CACHE, fastmath=FASTMATH)
def _pairs(o, c, m1, p1, m2, p2, m3, p3, w0, w1, w2, w3, m, odd, add):
    """o (+)= sum_s ws (ps - ms) (odd) or sum_s ws ((ps - c) + (ms - c))
    (even) over equal-length slices; one loop per (m, parity), streams not
    used by ``m`` are ignored."""
    n = o.shape[0]
    if odd:
        if m == 1:
            for k in range(n):
                _put(o, k, w1 * (p1[k] - m1[k]), add)
        elif m == 2:
            for k in range(n):
                _put(o, k, w1 * (p1[k] - m1[k]) + w2 * (p2[k] - m2[k]), add)
        else:
            for k in range(n):
                _put(o, k, w1 * (p1[k] - m1[k]) + w2 * (p2[k] - m2[k])
                     + w3 * (p3[k] - m3[k]), add)
    else:
        # w0 = -2 (w1 + ... + wm) exactly, so the centre enters as differences:
        # a constant gives exactly 0 (w0 c + ... left about 1e-15 / h**2)
        if m == 1:
            for k in range(n):
                _put(o, k, w1 * ((p1[k] - c[k]) + (m1[k] - c[k])), add)
        elif m == 2:
            for k in range(n):
                ck = c[k]
                _put(o, k, w1 * ((p1[k] - ck) + (m1[k] - ck))
                     + w2 * ((p2[k] - ck) + (m2[k] - ck)), add)
        else:
            for k in range(n):
                ck = c[k]
                _put(o, k, w1 * ((p1[k] - ck) + (m1[k] - ck)) + w2 * ((p2[k] - ck) + (m2[k] - ck))
                     + w3 * ((p3[k] - ck) + (m3[k] - ck)), add)


@njit(cache=CACHE, fastmath=FASTMATH)
def diff_into(o, w, a, c, store):
    """o = w (a - c) if ``store``, else o += w (a - c)."""
    if store:
        for k in range(o.shape[0]):
            o[k] = w * (a[k] - c[k])
    else:
        for k in range(o.shape[0]):
            o[k] += w * (a[k] - c[k])


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def _scaled(cent, sc, ref):
    """The four centered weights times ``sc``, in ``ref``'s real dtype."""
    m = cent.shape[0] - 1
    w0 = real_like(cent[0], ref) * sc
    w1 = real_like(cent[1], ref) * sc
    w2 = real_like(cent[min(2, m)], ref) * sc
    w3 = real_like(cent[min(3, m)], ref) * sc
    return w0, w1, w2, w3


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def inside(q, n, m, mode):
    """Whether position ``q`` uses the centered stencil (wrapped if periodic)."""
    return mode == PERIODIC or (m <= q and q < n - m)


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def ntaps(q, n, m, width, odd, mode):
    """How many input positions point ``q`` of an axis of ``n`` reads."""
    if inside(q, n, m, mode):
        return 2 * m if odd else 2 * m + 1
    return width


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def tap(t, q, n, cent, edge, m, odd, mode):
    """Tap ``t`` of point ``q``: ``(index, unit weight)`` (float64)."""
    if inside(q, n, m, mode):
        if odd:
            s = t // 2 + 1
            if t % 2 == 0:
                return (q + s) % n, cent[s]
            return (q - s + n) % n, -cent[s]
        if t == 0:
            return q, cent[0]
        s = (t + 1) // 2
        if t % 2 == 1:
            return (q + s) % n, cent[s]
        return (q - s + n) % n, cent[s]
    if q < m:
        return t, edge[q, t]
    w = edge[n - 1 - q, t]
    return n - 1 - t, -w if odd else w


@njit(cache=CACHE, fastmath=FASTMATH)
def across(o, V, q, lo, hi, cent, edge, sc, odd, mode, add):
    """o (+)= derivative along axis 0 of the 2-D view ``V`` at row ``q``,
    columns ``lo <= k < hi`` (``o`` has length ``hi - lo``)."""
    n = V.shape[0]
    m = cent.shape[0] - 1
    if inside(q, n, m, mode):
        w0, w1, w2, w3 = _scaled(cent, sc, V)
        c = V[q, lo:hi]
        r1m = V[(q - 1 + n) % n, lo:hi]
        r1p = V[(q + 1) % n, lo:hi]
        r2m = r2p = r3m = r3p = c
        if m >= 2:
            r2m = V[(q - 2 + n) % n, lo:hi]
            r2p = V[(q + 2) % n, lo:hi]
        if m >= 3:
            r3m = V[(q - 3 + n) % n, lo:hi]
            r3p = V[(q + 3) % n, lo:hi]
        _pairs(o, c, r1m, r1p, r2m, r2p, r3m, r3p, w0, w1, w2, w3, m, odd, add)
        return
    width = edge.shape[1]
    c = V[q, lo:hi]
    first = not add
    for t in range(width):
        j, w = tap(t, q, n, cent, edge, m, odd, mode)
        if j == q:
            continue
        diff_into(o, real_like(w, V) * sc, V[j, lo:hi], c, first)
        first = False


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def _point(o, c, k, cent, edge, sc, odd, mode, add):
    """One point from its taps, as ``sum w (c[j] - c[k])`` over the taps
    ``j != k`` (the weights of a derivative sum to zero, so a constant gives
    exactly 0)."""
    n = c.shape[0]
    m = cent.shape[0] - 1
    cnt = ntaps(k, n, m, edge.shape[1], odd, mode)
    ck = c[k]
    acc = ck - ck
    for t in range(cnt):
        j, w = tap(t, k, n, cent, edge, m, odd, mode)
        if j != k:
            acc += (real_like(w, c) * sc) * (c[j] - ck)
    _put(o, k, acc, add)


@njit(cache=CACHE, fastmath=FASTMATH)
def along(o, c, lo, hi, cent, edge, sc, odd, mode, add):
    """o[k] (+)= derivative of the row ``c`` along itself at ``lo <= k < hi``
    (``o`` has ``c``'s length). Points near the ends take one loop over their
    taps (wrapped or one-sided); the rest one vectorized pass."""
    n = c.shape[0]
    m = cent.shape[0] - 1
    a = max(lo, m)
    b = min(hi, n - m)
    if a < b:
        w0, w1, w2, w3 = _scaled(cent, sc, c)
        cc = c[a:b]
        r2m = r2p = r3m = r3p = cc
        if m >= 2:
            r2m = c[a - 2:b - 2]
            r2p = c[a + 2:b + 2]
        if m >= 3:
            r3m = c[a - 3:b - 3]
            r3p = c[a + 3:b + 3]
        _pairs(o[a:b], cc, c[a - 1:b - 1], c[a + 1:b + 1], r2m, r2p, r3m, r3p,
               w0, w1, w2, w3, m, odd, add)
    else:
        a = b = hi
    for k in range(lo, a):
        _point(o, c, k, cent, edge, sc, odd, mode, add)
    for k in range(b, hi):
        _point(o, c, k, cent, edge, sc, odd, mode, add)


@njit(cache=CACHE, fastmath=FASTMATH)
def span(n, m, interior):
    """``(lo, hi)`` written along an axis of ``n``: all, or the centred part."""
    return (m, n - m) if interior else (0, n)


# ---------------------------------------------------------------------------
# Flat passes for C-contiguous arrays. Calls per row are costly for short
# rows (measured at 256**3, second derivative accuracy 4, as multiples of
# np.copyto: along the last axis row by row 4.8x, flat 1.5x; along axis 1
# row by row 3.5x, flat 1.8x). Consecutive rows of a C array are one flat
# array, so rows are swept in one pass (shifted by 1 along the row, by a row
# length across rows) and the few points where a shift along the row wraps
# into the next row are recomputed from flat indices. The per-point helper
# is inlined: as a call it cost 46 ns per point in cache, inlined 22 ns.


@njit(cache=CACHE, fastmath=FASTMATH)
def _flat_pairs(o, f, b, e, d, w0, w1, w2, w3, m, odd, add):
    """o[b:e] (+)= pairs of ``f`` at shifts of ``d`` (indices ``b - m d`` to
    ``e + m d`` must be inside ``f``)."""
    c = f[b:e]
    m1 = f[b - d:e - d]
    p1 = f[b + d:e + d]
    if m == 1:
        _pairs(o[b:e], c, m1, p1, c, c, c, c, w0, w1, w2, w3, m, odd, add)
    elif m == 2:
        _pairs(o[b:e], c, m1, p1, f[b - 2 * d:e - 2 * d], f[b + 2 * d:e + 2 * d], c, c,
               w0, w1, w2, w3, m, odd, add)
    else:
        _pairs(o[b:e], c, m1, p1, f[b - 2 * d:e - 2 * d], f[b + 2 * d:e + 2 * d],
               f[b - 3 * d:e - 3 * d], f[b + 3 * d:e + 3 * d], w0, w1, w2, w3, m, odd, add)


@njit(cache=CACHE, fastmath=FASTMATH, inline="always")
def _row_end_flat(o, f, base, n, k, cent, edge, sc, odd, mode):
    """o[base + k] = derivative along the row ``f[base:base + n]`` at an end
    point ``k`` (``k < m`` or ``k >= n - m``): wrapped pairs or one-sided,
    in the difference forms of ``_pairs`` and ``_point``."""
    m = cent.shape[0] - 1
    ck = f[base + k]
    acc = ck - ck
    if mode == PERIODIC:
        for s in range(1, m + 1):
            p = f[base + (k + s) % n]
            q = f[base + (k - s + n) % n]
            if odd:
                acc += (real_like(cent[s], f) * sc) * (p - q)
            else:
                acc += (real_like(cent[s], f) * sc) * ((p - ck) + (q - ck))
        o[base + k] = acc
        return
    width = edge.shape[1]
    if k < m:
        for j in range(width):
            if j != k:
                acc += (real_like(edge[k, j], f) * sc) * (f[base + j] - ck)
        o[base + k] = acc
        return
    r = n - 1 - k
    for j in range(width):
        if j != r:
            acc += (real_like(edge[r, j], f) * sc) * (f[base + n - 1 - j] - ck)
    o[base + k] = -acc if odd else acc


@njit(cache=CACHE, fastmath=FASTMATH)
def _row_ends_flat(o, f, ja, jb, n, cent, edge, sc, odd, mode):
    m = cent.shape[0] - 1
    for j in range(ja, jb):
        base = j * n
        for k in range(m):
            _row_end_flat(o, f, base, n, k, cent, edge, sc, odd, mode)
        for k in range(n - m, n):
            _row_end_flat(o, f, base, n, k, cent, edge, sc, odd, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def _last_flat(u2, out2, cent, edge, sc, odd, mode):
    """Derivative along the rows of C 2-D arrays (ONE_SIDED or PERIODIC)."""
    rows, n = u2.shape
    m = cent.shape[0] - 1
    size = rows * n
    f = u2.reshape(size)
    o = out2.reshape(size)
    w0, w1, w2, w3 = _scaled(cent, sc, u2)
    for ja in range(0, rows, 64):  # 64 rows: the ends are fixed while in cache
        jb = min(ja + 64, rows)
        b = max(ja * n, m)
        e = min(jb * n, size - m)
        if b < e:
            _flat_pairs(o, f, b, e, 1, w0, w1, w2, w3, m, odd, False)
        _row_ends_flat(o, f, ja, jb, n, cent, edge, sc, odd, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def _across_flat(out2, u2, cent, edge, sc, odd, mode):
    """Derivative along axis 0 of C 2-D arrays: inside rows in one pass,
    the ``m`` rows at each end (wrapped or one-sided) row by row."""
    n, L = u2.shape
    m = cent.shape[0] - 1
    interior = mode == 2
    f = u2.reshape(n * L)
    o = out2.reshape(n * L)
    w0, w1, w2, w3 = _scaled(cent, sc, u2)
    if n > 2 * m:
        _flat_pairs(o, f, m * L, (n - m) * L, L, w0, w1, w2, w3, m, odd, False)
    if not interior:
        for q in range(m):
            across(out2[q], u2, q, 0, L, cent, edge, sc, odd, mode, False)
        for q in range(n - m, n):
            across(out2[q], u2, q, 0, L, cent, edge, sc, odd, mode, False)


# ---------------------------------------------------------------------------
# Drivers. ``cent``/``edge`` are the tables of one (order, accuracy); ``odd``
# the parity of the order; ``sc`` the scale 1/h**order in u's real dtype.


@njit(cache=CACHE, fastmath=FASTMATH)
def _last_rows(u2, out2, cent, edge, sc, odd, mode):
    """Derivative along the rows of 2-D arrays, row by row (any layout)."""
    lo, hi = span(u2.shape[1], cent.shape[0] - 1, mode == INTERIOR)
    for i in range(u2.shape[0]):
        along(out2[i], u2[i], lo, hi, cent, edge, sc, odd, mode, False)


@njit(cache=CACHE, fastmath=FASTMATH)
def _across_rows(u2, out2, cent, edge, sc, odd, mode):
    """Derivative along axis 0 of 2-D arrays, row by row (any layout)."""
    lo, hi = span(u2.shape[0], cent.shape[0] - 1, mode == INTERIOR)
    for q in range(lo, hi):
        across(out2[q], u2, q, 0, u2.shape[1], cent, edge, sc, odd, mode, False)


def last_axis(u2, out2, cent, edge, sc, odd, mode):
    """Derivative along the rows of 2-D arrays: flat for C arrays (Numba
    reshapes only contiguous arrays; INTERIOR must not touch the row ends,
    so it goes row by row), row by row otherwise."""


@overload(last_axis, jit_options={"fastmath": FASTMATH})
def _last_axis_impl(u2, out2, cent, edge, sc, odd, mode):
    if u2.layout == "C" and out2.layout == "C":
        def flat(u2, out2, cent, edge, sc, odd, mode):
            if mode == INTERIOR:
                _last_rows(u2, out2, cent, edge, sc, odd, mode)
            else:
                _last_flat(u2, out2, cent, edge, sc, odd, mode)
        return flat
    return lambda u2, out2, cent, edge, sc, odd, mode: _last_rows(
        u2, out2, cent, edge, sc, odd, mode)


def across_axis(u2, out2, cent, edge, sc, odd, mode):
    """Derivative along axis 0 of 2-D arrays: flat for C arrays."""


@overload(across_axis, jit_options={"fastmath": FASTMATH})
def _across_axis_impl(u2, out2, cent, edge, sc, odd, mode):
    if u2.layout == "C" and out2.layout == "C":
        return lambda u2, out2, cent, edge, sc, odd, mode: _across_flat(
            out2, u2, cent, edge, sc, odd, mode)
    return lambda u2, out2, cent, edge, sc, odd, mode: _across_rows(
        u2, out2, cent, edge, sc, odd, mode)


def merge_last(u, out, cent, edge, sc, odd, mode):
    """Axis 2 of 3-D arrays: C arrays as (n0*n1, n2) rows, others by plane."""


@overload(merge_last, jit_options={"fastmath": FASTMATH})
def _merge_last_impl(u, out, cent, edge, sc, odd, mode):
    if u.layout == "C" and out.layout == "C":
        def flat(u, out, cent, edge, sc, odd, mode):
            n0, n1, n2 = u.shape
            last_axis(u.reshape(n0 * n1, n2), out.reshape(n0 * n1, n2),
                      cent, edge, sc, odd, mode)
        return flat

    def planes(u, out, cent, edge, sc, odd, mode):
        for i in range(u.shape[0]):
            last_axis(u[i], out[i], cent, edge, sc, odd, mode)
    return planes


def merge_first(u, out, cent, edge, sc, odd, mode):
    """Axis 0 of 3-D arrays: C arrays as (n0, n1*n2), others by column j."""


@overload(merge_first, jit_options={"fastmath": FASTMATH})
def _merge_first_impl(u, out, cent, edge, sc, odd, mode):
    if u.layout == "C" and out.layout == "C":
        def flat(u, out, cent, edge, sc, odd, mode):
            n0, n1, n2 = u.shape
            across_axis(u.reshape(n0, n1 * n2), out.reshape(n0, n1 * n2),
                        cent, edge, sc, odd, mode)
        return flat

    def columns(u, out, cent, edge, sc, odd, mode):
        for j in range(u.shape[1]):
            across_axis(u[:, j, :], out[:, j, :], cent, edge, sc, odd, mode)
    return columns


@njit(cache=CACHE, fastmath=FASTMATH)
def deriv1(u, out, cent, edge, sc, odd, mode):
    lo, hi = span(u.shape[0], cent.shape[0] - 1, mode == INTERIOR)
    along(out, u, lo, hi, cent, edge, sc, odd, mode, False)


@njit(cache=CACHE, fastmath=FASTMATH)
def deriv2(u, out, axis, cent, edge, sc, odd, mode):
    if axis == 1:
        last_axis(u, out, cent, edge, sc, odd, mode)
    else:
        across_axis(u, out, cent, edge, sc, odd, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def deriv3(u, out, axis, cent, edge, sc, odd, mode):
    if axis == 2:
        merge_last(u, out, cent, edge, sc, odd, mode)
    elif axis == 1:
        for i in range(u.shape[0]):
            across_axis(u[i], out[i], cent, edge, sc, odd, mode)
    else:
        merge_first(u, out, cent, edge, sc, odd, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap_rows_flat(o, c, V0, i, ja, jb, n2, cent, edge, sx, sy, sz, mode, has_x):
    """Rows ``ja <= j < jb`` (centred along axis 1, unwrapped) of one flat
    plane ``c`` -> ``o``, in blocks of about 2048 points that stay in L1:
    the axis-2 pairs (wrapped at the row ends, which are then recomputed),
    plus the axis-1 pairs (shifts of a row), plus, if ``has_x``, the axis-0
    taps from the planes of ``V0`` (the array as (n0, n1*n2))."""
    m = cent.shape[0] - 1
    z0, z1, z2, z3 = _scaled(cent, sz, c)
    y0, y1, y2, y3 = _scaled(cent, sy, c)
    x0, x1, x2, x3 = _scaled(cent, sx, c)
    n0 = V0.shape[0]
    xin = inside(i, n0, m, mode)
    rows = max(1, 2048 // n2)
    for rb in range(ja, jb, rows):
        re = min(rb + rows, jb)
        b = rb * n2
        e = re * n2
        _flat_pairs(o, c, b, e, 1, z0, z1, z2, z3, m, False, False)
        _row_ends_flat(o, c, rb, re, n2, cent, edge, sz, False, mode)
        _flat_pairs(o, c, b, e, n2, y0, y1, y2, y3, m, False, True)
        if not has_x:
            continue
        ob = o[b:e]
        if xin:
            cb = V0[i, b:e]
            r2m = r2p = r3m = r3p = cb
            if m >= 2:
                r2m = V0[(i - 2 + n0) % n0, b:e]
                r2p = V0[(i + 2) % n0, b:e]
            if m >= 3:
                r3m = V0[(i - 3 + n0) % n0, b:e]
                r3p = V0[(i + 3) % n0, b:e]
            _pairs(ob, cb, V0[(i - 1 + n0) % n0, b:e], V0[(i + 1) % n0, b:e], r2m, r2p,
                   r3m, r3p, x0, x1, x2, x3, m, False, True)
        else:
            ci = V0[i, b:e]
            for t in range(edge.shape[1]):
                j0, w = tap(t, i, n0, cent, edge, m, False, mode)
                if j0 != i:
                    diff_into(ob, real_like(w, c) * sx, V0[j0, b:e], ci, False)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap2_rows(u, out, cent, edge, s0, s1, mode, qa, qb):
    lo1, hi1 = span(u.shape[1], cent.shape[0] - 1, mode == INTERIOR)
    for q in range(qa, qb):
        o = out[q]
        across(o[lo1:hi1], u, q, lo1, hi1, cent, edge, s0, False, mode, False)
        along(o, u[q], lo1, hi1, cent, edge, s1, False, mode, True)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap2_flat(u, out, cent, edge, s0, s1, mode):
    n0, n1 = u.shape
    m = cent.shape[0] - 1
    c = u.reshape(n0 * n1)
    _lap_rows_flat(out.reshape(n0 * n1), c, c.reshape(1, n0 * n1), 0, m, n0 - m, n1,
                   cent, edge, s0, s0, s1, mode, False)
    _lap2_rows(u, out, cent, edge, s0, s1, mode, 0, m)
    _lap2_rows(u, out, cent, edge, s0, s1, mode, n0 - m, n0)


def lap2(u, out, cent, edge, s0, s1, mode):
    """Second differences along both axes, summed: blocked flat passes for
    C arrays (ONE_SIDED, PERIODIC), output row by output row otherwise
    (each row finished while its input rows are in cache)."""


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap2_all_rows(u, out, cent, edge, s0, s1, mode):
    lo0, hi0 = span(u.shape[0], cent.shape[0] - 1, mode == INTERIOR)
    _lap2_rows(u, out, cent, edge, s0, s1, mode, lo0, hi0)


@overload(lap2, jit_options={"fastmath": FASTMATH})
def _lap2_impl(u, out, cent, edge, s0, s1, mode):
    if u.layout == "C" and out.layout == "C":
        def flat(u, out, cent, edge, s0, s1, mode):
            # rows of 1024 and more: one output row at a time was faster
            # (4000**2, accuracy 4: 2.6x vs 3.3x of copy)
            if mode == INTERIOR or u.shape[1] >= 1024:
                _lap2_all_rows(u, out, cent, edge, s0, s1, mode)
            else:
                _lap2_flat(u, out, cent, edge, s0, s1, mode)
        return flat
    return lambda u, out, cent, edge, s0, s1, mode: _lap2_all_rows(
        u, out, cent, edge, s0, s1, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def _axis0_row_strided(o, u, i, j, lo, hi, cent, edge, sc, mode):
    across(o, u[:, j, :], i, lo, hi, cent, edge, sc, False, mode, False)


@njit(cache=CACHE, fastmath=FASTMATH)
def _axis0_row_flat(o, u, i, j, lo, hi, cent, edge, sc, mode):
    n2 = u.shape[2]
    V = u.reshape(u.shape[0], u.shape[1] * n2)
    across(o, V, i, j * n2 + lo, j * n2 + hi, cent, edge, sc, False, mode, False)


def axis0_row(o, u, i, j, lo, hi, cent, edge, sc, mode):
    """o = second difference along axis 0 at row ``(i, j)`` of a 3-D array.
    C arrays are viewed as (n0, n1*n2) so that the input rows are typed
    contiguous (a ``u[:, j, :]`` view is typed strided)."""


@overload(axis0_row, jit_options={"fastmath": FASTMATH})
def _axis0_row_impl(o, u, i, j, lo, hi, cent, edge, sc, mode):
    if u.layout == "C":
        return lambda o, u, i, j, lo, hi, cent, edge, sc, mode: _axis0_row_flat(
            o, u, i, j, lo, hi, cent, edge, sc, mode)
    return lambda o, u, i, j, lo, hi, cent, edge, sc, mode: _axis0_row_strided(
        o, u, i, j, lo, hi, cent, edge, sc, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap3_rows(u, out, i, ja, jb, cent, edge, s0, s1, s2, mode):
    lo2, hi2 = span(u.shape[2], cent.shape[0] - 1, mode == INTERIOR)
    for j in range(ja, jb):
        o = out[i, j]
        oi = o[lo2:hi2]
        axis0_row(oi, u, i, j, lo2, hi2, cent, edge, s0, mode)
        across(oi, u[i], j, lo2, hi2, cent, edge, s1, False, mode, True)
        along(o, u[i, j], lo2, hi2, cent, edge, s2, False, mode, True)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap3_flat(u, out, cent, edge, s0, s1, s2, mode):
    n0, n1, n2 = u.shape
    m = cent.shape[0] - 1
    size = n1 * n2
    V0 = u.reshape(n0, size)
    O0 = out.reshape(n0, size)
    for i in range(n0):
        _lap_rows_flat(O0[i], V0[i], V0, i, m, n1 - m, n2, cent, edge, s0, s1, s2, mode,
                       True)
        _lap3_rows(u, out, i, 0, m, cent, edge, s0, s1, s2, mode)
        _lap3_rows(u, out, i, n1 - m, n1, cent, edge, s0, s1, s2, mode)


def lap3(u, out, cent, edge, s0, s1, s2, mode):
    """The 3-D Laplacian: blocked flat passes over each plane for C arrays
    (ONE_SIDED, PERIODIC), row by row otherwise."""


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap3_all_rows(u, out, cent, edge, s0, s1, s2, mode):
    m = cent.shape[0] - 1
    lo0, hi0 = span(u.shape[0], m, mode == INTERIOR)
    lo1, hi1 = span(u.shape[1], m, mode == INTERIOR)
    for i in range(lo0, hi0):
        _lap3_rows(u, out, i, lo1, hi1, cent, edge, s0, s1, s2, mode)


@overload(lap3, jit_options={"fastmath": FASTMATH})
def _lap3_impl(u, out, cent, edge, s0, s1, s2, mode):
    if u.layout == "C" and out.layout == "C":
        def flat(u, out, cent, edge, s0, s1, s2, mode):
            if mode == INTERIOR or u.shape[2] >= 1024:
                _lap3_all_rows(u, out, cent, edge, s0, s1, s2, mode)
            else:
                _lap3_flat(u, out, cent, edge, s0, s1, s2, mode)
        return flat
    return lambda u, out, cent, edge, s0, s1, s2, mode: _lap3_all_rows(
        u, out, cent, edge, s0, s1, s2, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def mixed2(u, out, cent, edge, s0, s1, mode):
    """d2u/(dx0 dx1): for each tap of the axis-0 stencil at row q, the
    axis-1 derivative of that input row, weighted, accumulated into row q."""
    n0, n1 = u.shape
    m = cent.shape[0] - 1
    width = edge.shape[1]
    interior = mode == INTERIOR
    lo0, hi0 = span(n0, m, interior)
    lo1, hi1 = span(n1, m, interior)
    for q in range(lo0, hi0):
        for t in range(ntaps(q, n0, m, width, True, mode)):
            r, w = tap(t, q, n0, cent, edge, m, True, mode)
            along(out[q], u[r], lo1, hi1, cent, edge, s1 * (real_like(w, u) * s0),
                  True, mode, t > 0)


@njit(cache=CACHE, fastmath=FASTMATH)
def mixed3(u, out, a, b, cent, edge, sa, sb, mode):
    """d2u/(dx_a dx_b) of a 3-D array, ``a < b``."""
    n0, n1, n2 = u.shape
    m = cent.shape[0] - 1
    width = edge.shape[1]
    interior = mode == INTERIOR
    lo0, hi0 = span(n0, m, interior and (a == 0))
    lo1, hi1 = span(n1, m, interior and (a == 1 or b == 1))
    lo2, hi2 = span(n2, m, interior and b == 2)
    for i in range(lo0, hi0):
        for j in range(lo1, hi1):
            o = out[i, j]
            if b == 1:  # axes (0, 1): rows of the planes u[i'] at row j
                for t in range(ntaps(i, n0, m, width, True, mode)):
                    r, w = tap(t, i, n0, cent, edge, m, True, mode)
                    across(o, u[r], j, 0, n2, cent, edge, sb * (real_like(w, u) * sa),
                           True, mode, t > 0)
            elif a == 0:  # axes (0, 2)
                for t in range(ntaps(i, n0, m, width, True, mode)):
                    r, w = tap(t, i, n0, cent, edge, m, True, mode)
                    along(o, u[r, j], lo2, hi2, cent, edge, sb * (real_like(w, u) * sa),
                          True, mode, t > 0)
            else:  # axes (1, 2)
                for t in range(ntaps(j, n1, m, width, True, mode)):
                    r, w = tap(t, j, n1, cent, edge, m, True, mode)
                    along(o, u[i, r], lo2, hi2, cent, edge, sb * (real_like(w, u) * sa),
                          True, mode, t > 0)


# ---------------------------------------------------------------------------
# Preconditions of the public N-d kernels (``k`` indexes simple.NAMES). As
# in simple.py: tests return codes, cold ``fail_*`` functions raise.


def int_str(x):
    """How an integer argument is shown: its value, or its type when it is
    not an integer (Numba's ``str`` of a float is ``<object type:float64>``)."""
    return str(x)


@overload(int_str)
def _int_str_impl(x):
    if isinstance(x, types.Integer):
        return lambda x: str(x)
    if isinstance(x, types.Boolean):
        return lambda x: ("True" if x else "False") + " (a bool)"
    text = "a value of type " + str(x)
    return lambda x: text


@njit(cache=CACHE)
def fail_choice(k, name, allowed, x):
    raise ValueError(NAMES[k] + ": " + name + " must be " + allowed + ", got " + int_str(x))


@njit(cache=CACHE)
def check_accuracy(k, accuracy):
    if not mode_is_int(accuracy) or (accuracy != 2 and accuracy != 4 and accuracy != 6):
        fail_choice(k, "accuracy", "2, 4 or 6", accuracy)


@njit(cache=CACHE)
def check_order(k, order):
    if not mode_is_int(order) or (order != 1 and order != 2):
        fail_choice(k, "order", "1 or 2", order)


@njit(cache=CACHE)
def check_mode(k, mode):
    if bad_mode(mode):
        fail_mode(k, mode)


@njit(cache=CACHE)
def _fail_axis_range(k, name, axis, ndim):
    raise ValueError(NAMES[k] + ": " + name + " " + str(axis) + " is out of bounds for a "
                     + str(ndim) + "-D u")


@njit(cache=CACHE)
def normalize_axis(k, name, axis, ndim):
    """``axis`` in ``[0, ndim)`` (negative counts from the end)."""
    if not mode_is_int(axis):
        fail_choice(k, name, "an integer", axis)
    if axis < -ndim or axis >= ndim:
        _fail_axis_range(k, name, axis, ndim)
    return axis + ndim if axis < 0 else axis


@njit(cache=CACHE)
def _fail_short_axis(k, n, axis, need, what):
    raise ValueError(NAMES[k] + ": u has length " + str(n) + " along axis " + str(axis)
                     + "; " + what + " needs at least " + str(need))


@njit(cache=CACHE)
def check_arrays(k, u, out, axis, need, what):
    """``out`` of ``u``'s shape, ``u.shape[axis] >= need``, no overlap."""
    if out.shape != u.shape:
        fail_shape(k, u.shape, out.shape)
    if u.shape[axis] < need:
        _fail_short_axis(k, u.shape[axis], axis, need, what)
    if overlaps(u, out):
        fail_overlap(k)


@njit(cache=CACHE)
def check_grid_need(k, u, out, need):
    """``out`` of ``u``'s shape, every axis at least ``need`` long, no overlap."""
    if out.shape != u.shape:
        fail_shape(k, u.shape, out.shape)
    a = short_axis(u.shape, need)
    if a >= 0:
        fail_axis(k, u.shape, need, a)
    if overlaps(u, out):
        fail_overlap(k)


def wrong_ndim(name, dims, u, out):
    """The message for arrays of a wrong or mismatched ndim (``dims`` the
    accepted ones), or None: decided at compile time, so a bad call raises
    ValueError instead of a Numba TypingError deep in the loops."""
    def describe(a):
        return f"{a.ndim}-d" if isinstance(a, types.Array) else f"{a}"
    if (isinstance(u, types.Array) and isinstance(out, types.Array)
            and u.ndim == out.ndim and u.ndim in dims):
        return None
    names = [f"{d}-D" for d in dims]
    allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return (f"{name}: u and out must be {allowed} arrays of one ndim, got a {describe(u)} "
            f"u and a {describe(out)} out")


def wrong_int(name, **args):
    """The message for the first of ``args`` (name -> (Numba type, what it
    must be)) that is not an integer, or None; decided at compile time (a
    float order or axis would not type further down)."""
    for arg, (typ, allowed) in args.items():
        if isinstance(typ, (types.Omitted, types.NoneType)) or isinstance(typ, types.Integer):
            continue
        return f"{name}: {arg} must be {allowed}, got a value of type {typ}"
    return None

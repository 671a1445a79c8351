"""Stencil kernels along one axis of an array viewed as (outer, n, inner).

Arithmetic only: the public layer (``fastfd.grid``) validates, builds the
plan, allocates and picks serial or parallel. Every kernel fills a
caller-supplied ``out``; nothing here bounds-checks (Numba does not), so the
plan must only hold indices that the caller has checked.

Kernels take ``u`` as a C-contiguous (outer, n*inner) array, ``out`` as
(outer, n_out*inner) and ``inner``: the differentiated axis is the middle one
of a row-major (outer, n, inner) block. A stencil offset ``a`` along it is a
flat offset ``a*inner``, so the interior of every block is one contiguous run
that vectorizes whether the axis is the contiguous one (inner == 1) or not.
Only the dtype varies between compiled specializations.

Uniform plan (``ip`` int64 of shape (rows, 4), ``fp`` real of shape (rows,)):

* row 0: ``[j0, j1, T, R]``; ``fp[0]`` is the interior scale
  ``denominator * dx**order``. Output rows ``j0 <= j < j1`` are interior.
* rows 1..T: interior terms ``[a, b, s, 0]`` with weight ``fp[row]`` (an
  integer numerator): ``w*(u[j+a] + u[j+b])`` if ``s > 0``,
  ``w*(u[j+a] - u[j+b])`` if ``s < 0``, ``w*u[j+a]`` if ``s == 0``.
* then R edge rows, each a header ``[row, nterms, 0, 0]`` with its scale in
  ``fp`` followed by ``nterms`` term rows whose indices are absolute.

An output value is ``(term_0 + term_1 + ... ) / scale``, accumulated in that
order whatever the blocking or threading, so the serial and parallel drivers
agree bit for bit. Symmetric stencils come as pairs, so an odd derivative
of a constant is exactly 0 (even ones, ``w*(x + y)`` pairs, and the edge
rows only to rounding) and the centered first difference is exactly
``(u[j+1] - u[j-1]) / (2*dx)``, the expression ``np.gradient`` evaluates.

The numerators are exact integers in float64; float32 holds them exactly up
to 2**24, beyond which (second and higher derivatives at accuracy >= 8) a
numerator is rounded once, like any float32 weight.

Non-uniform plan (``starts`` int64 of shape (n_out, 3) = ``[start, count,
centre]``, ``w`` real of shape (n_out, K)): ``out[j] = sum_k w[j, k] *
u[start + k]`` for ``k < count``, summed in index order.
"""

import numpy as np
from numba import njit, prange

from .. import _config as config
from .fornberg import fornberg

# Elements of `out` accumulated per block while every stencil term is added.
# Serial, float64: 1e5 points acc 2 took 31/19/16/16 us with
# blocks of 256/1024/4096/8192, 4e6 points acc 6 3.4/2.8/2.5/2.4 ms; 4096
# float64 (32 KB) stays in L1.
BLOCK = 4096
# Elements per parallel work unit (per prange iteration).
CHUNK = 1 << 16

_opts = dict(cache=config.CACHE, fastmath=config.FASTMATH, nogil=True)


@njit(**_opts)
def _pair(x, y, w, s):
    if s > 0:
        return w * (x + y)
    if s < 0:
        return w * (x - y)
    return w * x


@njit(**_opts)
def _term(x, y, w, s, k):
    return _pair(x[k], y[k], w, s)


@njit(**_opts)
def _combine(d, x, y, w, s, first, last, sc):
    """``d (=|+=) w*(x ± y)`` (``w*x`` if ``s == 0``), then ``/ sc`` if
    ``last``: the last term and the division share one pass over ``d``.

    d, x, y: 1-D contiguous of equal length. The loop index runs from 0 on
    slices (not ``j + a`` on the full row) so LLVM sees no negative-index
    wraparound and vectorizes; the branches on ``s``, ``first`` and ``last``
    are loop-invariant and get unswitched.
    """
    n = d.shape[0]
    if first and last:
        for k in range(n):
            d[k] = _term(x, y, w, s, k) / sc
    elif first:
        for k in range(n):
            d[k] = _term(x, y, w, s, k)
    elif last:
        for k in range(n):
            d[k] = (d[k] + _term(x, y, w, s, k)) / sc
    else:
        for k in range(n):
            d[k] = d[k] + _term(x, y, w, s, k)


@njit(**_opts)
def _interior(u, out, jb, je, inner, ip, fp):
    """Interior outputs ``jb <= j < je`` of one flattened ``(n, inner)`` row.

    Element ``j*inner + k`` of ``out`` reads ``u[(j + a)*inner + k]``, so the
    whole interior is one contiguous run whatever ``inner`` is: the blocks
    below vectorize for the contiguous axis (inner == 1) and across rows of a
    strided axis alike.
    """
    T = ip[0, 2]
    sc = fp[0]
    e0 = jb * inner
    e1 = je * inner
    for b0 in range(e0, e1, BLOCK):
        b1 = min(b0 + BLOCK, e1)
        d = out[b0:b1]
        for t in range(T):
            a = ip[1 + t, 0] * inner
            b = ip[1 + t, 1] * inner
            _combine(d, u[b0 + a:b1 + a], u[b0 + b:b1 + b], fp[1 + t],
                     ip[1 + t, 2], t == 0, t == T - 1, sc)


@njit(**_opts)
def _edges(u, out, inner, ip, fp):
    """Edge rows of one flattened ``(n, inner)`` row. For inner == 1 scalar
    code in the same operation order as the block path."""
    pos = 1 + ip[0, 2]
    for r in range(ip[0, 3]):
        row = ip[pos, 0]
        nt = ip[pos, 1]
        sc = fp[pos]
        if inner == 1:
            # Accumulated in u's dtype from the first term, as _combine
            # does: a float32 row stays float32 (a zero literal would type
            # the sum float64 and differ from the same row along axis 0).
            t = pos + 1
            acc = _pair(u[ip[t, 0]], u[ip[t, 1]], fp[t], ip[t, 2])
            for t in range(pos + 2, pos + 1 + nt):
                acc = acc + _pair(u[ip[t, 0]], u[ip[t, 1]], fp[t], ip[t, 2])
            out[row] = acc / sc
        else:
            for k0 in range(0, inner, BLOCK):
                k1 = min(k0 + BLOCK, inner)
                d = out[row * inner + k0:row * inner + k1]
                for t in range(nt):
                    a = ip[pos + 1 + t, 0] * inner
                    b = ip[pos + 1 + t, 1] * inner
                    _combine(d, u[a + k0:a + k1], u[b + k0:b + k1], fp[pos + 1 + t],
                             ip[pos + 1 + t, 2], t == 0, t == nt - 1, sc)
        pos += 1 + nt


@njit(**_opts)
def uniform_serial(u, out, inner, ip, fp):
    """``u``: (outer, n*inner) and ``out``: (outer, n_out*inner), both
    C-contiguous; the stencil runs along the ``n`` axis of each
    ``(n, inner)`` row-major block."""
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    for o in range(u.shape[0]):
        _interior(u[o], out[o], j0, j1, inner, ip, fp)
        _edges(u[o], out[o], inner, ip, fp)


@njit(parallel=True, **_opts)
def uniform_parallel(u, out, inner, ip, fp):
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    rows = max(1, CHUNK // inner)  # rows of the n axis per work unit
    # at least one unit per block: a plan may have no interior row at all
    # (np.gradient's 2-point edges, edge_order=1 on 2 points)
    per = max(1, (j1 - j0 + rows - 1) // rows)
    outer = u.shape[0]
    # One helper call per contiguous chunk: a bare prange body did not
    # vectorize and ran 2.6x slower than serial.
    # Edges ride with the first unit of each block: one parallel region (one
    # barrier) per call.
    for c in prange(outer * per):
        o = c // per
        jb = j0 + (c % per) * rows
        _interior(u[o], out[o], jb, min(jb + rows, j1), inner, ip, fp)
        if c % per == 0:
            _edges(u[o], out[o], inner, ip, fp)


# ---------------------------------------------------------------- non-uniform

@njit(**_opts)
def fornberg_rows(x, order, starts, w):
    """Weights of the ``order``-th derivative at ``x[centre]`` from the
    nodes ``x[start:start+count]``, row by row (Fornberg's recurrence in
    float64 on the differences ``x[start + i] - x[centre]``).

    ``starts[j] = [start, count, centre]``; ``w`` is (n_out, K) float64,
    entries past ``count`` are left untouched.
    """
    K = w.shape[1]
    c = np.empty((K, order + 1))
    for j in range(starts.shape[0]):
        s = starts[j, 0]
        m = starts[j, 1]
        # O(1) per row against writing past w's row or reading past x
        if m > K or s < 0 or s + m > x.shape[0] or not 0 <= starts[j, 2] < x.shape[0]:
            raise ValueError("fornberg_rows: a row's nodes do not fit w or x")
        x0 = x[starts[j, 2]]
        fornberg(order, x0, x[s:s + m], c[:m])
        for i in range(m):
            w[j, i] = c[i, order]


@njit(**_opts)
def _nu_rows(u, out, inner, starts, w, jb, je):
    """Non-uniform rows ``jb <= j < je`` of one flattened ``(n, inner)`` row;
    the sum runs in index order in both branches."""
    if inner == 1:
        for j in range(jb, je):
            s = starts[j, 0]
            acc = w[j, 0] * u[s]
            for k in range(1, starts[j, 1]):
                acc = acc + w[j, k] * u[s + k]
            out[j] = acc
    else:
        for j in range(jb, je):
            s = starts[j, 0] * inner
            for k0 in range(0, inner, BLOCK):
                k1 = min(k0 + BLOCK, inner)
                d = out[j * inner + k0:j * inner + k1]
                for t in range(starts[j, 1]):
                    x = u[s + t * inner + k0:s + t * inner + k1]
                    _combine(d, x, x, w[j, t], 0, t == 0, False, w[j, t])


@njit(**_opts)
def nonuniform_serial(u, out, inner, starts, w):
    """Layout as :func:`uniform_serial`; per-row weights ``w`` over the
    windows ``starts[j] = [start, count, ...]`` of the ``n`` axis."""
    for o in range(u.shape[0]):
        _nu_rows(u[o], out[o], inner, starts, w, 0, starts.shape[0])


@njit(parallel=True, **_opts)
def nonuniform_parallel(u, out, inner, starts, w):
    n_out = starts.shape[0]
    rows = max(1, CHUNK // inner)
    per = (n_out + rows - 1) // rows
    for c in prange(u.shape[0] * per):
        o = c // per
        jb = (c % per) * rows
        _nu_rows(u[o], out[o], inner, starts, w, jb, min(jb + rows, n_out))

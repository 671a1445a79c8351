"""Stencil kernels along one axis of an array viewed as (outer, n, inner).

Arithmetic only: the public layer (``fastfd.grid``) validates, builds the
plan, allocates and picks serial or parallel. Every kernel fills a
caller-supplied ``out``; nothing here bounds-checks (Numba does not), so the
plan must only hold indices that the caller has checked.

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
agree bit for bit. Symmetric stencils come as pairs, so a constant gives
exactly 0 and the centered first difference is exactly
``(u[j+1] - u[j-1]) / (2*dx)``, the expression ``np.gradient`` evaluates.

Non-uniform plan (``starts`` int64 of shape (n_out, 2) = ``[start, count]``,
``w`` real of shape (n_out, K)): ``out[j] = sum_k w[j, k] * u[start + k]``.
"""

import numpy as np
from numba import njit, prange

from .. import _config as config

# Elements of `out` accumulated per block: 1024 float64 (8 KB) plus the u
# blocks they read stay in L1 while every stencil term is added.
BLOCK = 1024
# Elements per parallel work unit (per prange iteration).
CHUNK = 1 << 16

_opts = dict(cache=config.CACHE, fastmath=config.FASTMATH, nogil=True)


@njit(**_opts)
def _combine(d, x, y, w, s, first):
    # d, x, y: 1-D contiguous of equal length. Loop index from 0 on slices
    # (not j + a on the full row) so LLVM sees no negative-index wraparound
    # and vectorizes.
    n = d.shape[0]
    if first:
        if s > 0:
            for k in range(n):
                d[k] = w * (x[k] + y[k])
        elif s < 0:
            for k in range(n):
                d[k] = w * (x[k] - y[k])
        else:
            for k in range(n):
                d[k] = w * x[k]
    else:
        if s > 0:
            for k in range(n):
                d[k] += w * (x[k] + y[k])
        elif s < 0:
            for k in range(n):
                d[k] += w * (x[k] - y[k])
        else:
            for k in range(n):
                d[k] += w * x[k]


@njit(**_opts)
def _divide(d, sc):
    for k in range(d.shape[0]):
        d[k] = d[k] / sc


@njit(**_opts)
def _row_interior(u, out, jb, je, ip, fp):
    """Interior outputs ``jb <= j < je`` of one contiguous row."""
    T = ip[0, 2]
    sc = fp[0]
    for b0 in range(jb, je, BLOCK):
        b1 = min(b0 + BLOCK, je)
        d = out[b0:b1]
        for t in range(T):
            a = ip[1 + t, 0]
            b = ip[1 + t, 1]
            _combine(d, u[b0 + a:b1 + a], u[b0 + b:b1 + b], fp[1 + t],
                     ip[1 + t, 2], t == 0)
        _divide(d, sc)


@njit(**_opts)
def _row_edges(u, out, ip, fp):
    """Edge outputs of one contiguous row, scalar code, same operation order
    as the block path."""
    pos = 1 + ip[0, 2]
    for r in range(ip[0, 3]):
        row = ip[pos, 0]
        nt = ip[pos, 1]
        sc = fp[pos]
        acc = u[0] * 0
        for t in range(nt):
            a = ip[pos + 1 + t, 0]
            b = ip[pos + 1 + t, 1]
            s = ip[pos + 1 + t, 2]
            w = fp[pos + 1 + t]
            if s > 0:
                v = w * (u[a] + u[b])
            elif s < 0:
                v = w * (u[a] - u[b])
            else:
                v = w * u[a]
            if t == 0:
                acc = v
            else:
                acc = acc + v
        out[row] = acc / sc
        pos += 1 + nt


@njit(**_opts)
def rows_serial(u, out, ip, fp):
    """``u``: (outer, n) C-contiguous, stencil along axis 1."""
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    for o in range(u.shape[0]):
        _row_interior(u[o], out[o], j0, j1, ip, fp)
        _row_edges(u[o], out[o], ip, fp)


@njit(parallel=True, **_opts)
def rows_parallel(u, out, ip, fp):
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    per_row = (j1 - j0 + CHUNK - 1) // CHUNK
    outer = u.shape[0]
    # One helper call per contiguous chunk: a bare prange body did not
    # vectorize and ran 2.6x slower than serial on this machine.
    for c in prange(outer * per_row):
        o = c // per_row
        jb = j0 + (c % per_row) * CHUNK
        je = min(jb + CHUNK, j1)
        _row_interior(u[o], out[o], jb, je, ip, fp)
    for o in prange(outer):
        _row_edges(u[o], out[o], ip, fp)


@njit(**_opts)
def _plane_row(u, out, o, j, ip, fp, k0, k1, interior, pos):
    """One output row ``out[o, j, k0:k1]`` (a contiguous run of the inner
    axis). Interior rows use relative offsets, edge rows the absolute terms
    starting at ``pos``."""
    if interior:
        nt = ip[0, 2]
        first = 1
        sc = fp[0]
        base = j
    else:
        nt = ip[pos, 1]
        first = pos + 1
        sc = fp[pos]
        base = 0
    for b0 in range(k0, k1, BLOCK):
        b1 = min(b0 + BLOCK, k1)
        d = out[o, j, b0:b1]
        for t in range(nt):
            a = base + ip[first + t, 0]
            b = base + ip[first + t, 1]
            _combine(d, u[o, a, b0:b1], u[o, b, b0:b1], fp[first + t],
                     ip[first + t, 2], t == 0)
        _divide(d, sc)


@njit(**_opts)
def planes_serial(u, out, ip, fp):
    """``u``: (outer, n, inner) C-contiguous, stencil along axis 1."""
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    inner = u.shape[2]
    for o in range(u.shape[0]):
        for j in range(j0, j1):
            _plane_row(u, out, o, j, ip, fp, 0, inner, True, 0)
        pos = 1 + ip[0, 2]
        for r in range(ip[0, 3]):
            _plane_row(u, out, o, ip[pos, 0], ip, fp, 0, inner, False, pos)
            pos += 1 + ip[pos, 1]


@njit(parallel=True, **_opts)
def planes_parallel(u, out, ip, fp):
    j0 = ip[0, 0]
    j1 = ip[0, 1]
    outer = u.shape[0]
    inner = u.shape[2]
    # Work unit: a run of whole rows of about CHUNK elements, or a piece of
    # one row when a row alone is longer than that.
    if inner >= CHUNK:
        kper = (inner + CHUNK - 1) // CHUNK
        rows = 1
    else:
        kper = 1
        rows = max(1, CHUNK // inner)
    nrow_units = (j1 - j0 + rows - 1) // rows
    units = outer * nrow_units * kper
    for c in prange(units):
        o = c // (nrow_units * kper)
        rem = c % (nrow_units * kper)
        jb = j0 + (rem // kper) * rows
        je = min(jb + rows, j1)
        k0 = (rem % kper) * CHUNK
        k1 = min(k0 + CHUNK, inner)
        for j in range(jb, je):
            _plane_row(u, out, o, j, ip, fp, k0, k1, True, 0)
    for o in prange(outer):
        pos = 1 + ip[0, 2]
        for r in range(ip[0, 3]):
            _plane_row(u, out, o, ip[pos, 0], ip, fp, 0, inner, False, pos)
            pos += 1 + ip[pos, 1]


# ---------------------------------------------------------------- non-uniform

@njit(**_opts)
def fornberg_rows(x, order, starts, w):
    """Weights of the ``order``-th derivative at ``x[centers[j]]`` from the
    nodes ``x[start:start+count]``, row by row (float64 Fornberg recurrence).

    ``starts[j] = [start, count, center]``; ``w`` is (n_out, K) float64,
    entries past ``count`` are left untouched.
    """
    K = w.shape[1]
    c = np.empty((K, order + 1))
    for j in range(starts.shape[0]):
        s = starts[j, 0]
        m = starts[j, 1]
        x0 = x[starts[j, 2]]
        c[:, :] = 0.0
        c[0, 0] = 1.0
        c1 = 1.0
        c4 = x[s] - x0
        for i in range(1, m):
            mn = min(i, order)
            c2 = 1.0
            c5 = c4
            c4 = x[s + i] - x0
            for v in range(i):
                c3 = x[s + i] - x[s + v]
                c2 = c2 * c3
                if v == i - 1:
                    for k in range(mn, 0, -1):
                        c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                    c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
                for k in range(mn, 0, -1):
                    c[v, k] = (c4 * c[v, k] - k * c[v, k - 1]) / c3
                c[v, 0] = c4 * c[v, 0] / c3
            c1 = c2
        for i in range(m):
            w[j, i] = c[i, order]


@njit(**_opts)
def _nu_row(u, out, starts, w, jb, je):
    for j in range(jb, je):
        s = starts[j, 0]
        acc = w[j, 0] * u[s]
        for k in range(1, starts[j, 1]):
            acc = acc + w[j, k] * u[s + k]
        out[j] = acc


@njit(**_opts)
def nonuniform_rows_serial(u, out, starts, w):
    """``u``: (outer, n) C-contiguous; per-row weights along axis 1."""
    for o in range(u.shape[0]):
        _nu_row(u[o], out[o], starts, w, 0, out.shape[1])


@njit(parallel=True, **_opts)
def nonuniform_rows_parallel(u, out, starts, w):
    n_out = out.shape[1]
    per_row = (n_out + CHUNK - 1) // CHUNK
    for c in prange(u.shape[0] * per_row):
        o = c // per_row
        jb = (c % per_row) * CHUNK
        _nu_row(u[o], out[o], starts, w, jb, min(jb + CHUNK, n_out))


@njit(**_opts)
def _nu_plane_row(u, out, o, j, starts, w, k0, k1):
    s = starts[j, 0]
    for b0 in range(k0, k1, BLOCK):
        b1 = min(b0 + BLOCK, k1)
        d = out[o, j, b0:b1]
        for t in range(starts[j, 1]):
            x = u[o, s + t, b0:b1]
            _combine(d, x, x, w[j, t], 0, t == 0)


@njit(**_opts)
def nonuniform_planes_serial(u, out, starts, w):
    """``u``: (outer, n, inner) C-contiguous; per-row weights along axis 1."""
    for o in range(u.shape[0]):
        for j in range(out.shape[1]):
            _nu_plane_row(u, out, o, j, starts, w, 0, u.shape[2])


@njit(parallel=True, **_opts)
def nonuniform_planes_parallel(u, out, starts, w):
    n_out = out.shape[1]
    inner = u.shape[2]
    if inner >= CHUNK:
        kper = (inner + CHUNK - 1) // CHUNK
        rows = 1
    else:
        kper = 1
        rows = max(1, CHUNK // inner)
    nrow_units = (n_out + rows - 1) // rows
    for c in prange(u.shape[0] * nrow_units * kper):
        o = c // (nrow_units * kper)
        rem = c % (nrow_units * kper)
        jb = (rem // kper) * rows
        k0 = (rem % kper) * CHUNK
        for j in range(jb, min(jb + rows, n_out)):
            _nu_plane_row(u, out, o, j, starts, w, k0, min(k0 + CHUNK, inner))

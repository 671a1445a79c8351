"""One pass of a linear stencil operator over a 3-D block (``fastfd.grid.Operator``).

Arithmetic only: ``fastfd.grid._operator`` validates, builds the tables and
picks serial or parallel. Nothing here bounds-checks; every index comes
from tables built for these shapes.

The operator is a sum of terms ``t``, each ``scale[t] * c_t * (A0 x A1 x
A2) u[field[t]]``: a separable product of 1-D row tables along the three
axes of ``u[field[t]]`` (the identity where the term has no derivative),
times an optional coefficient field ``c_t = coef[cidx[t]]`` (``cidx[t] <
0``: none). Axis tables are stacked over terms: ``I{a}[t, i, p]``,
``W{a}[t, i, p]`` for ``p < C{a}[t, i]`` (see ``fastfd.grid._axis``). The
last axis is contiguous: its interior columns ``J0[t] <= k < J1[t]`` use
the stencil ``OFF[t, :NC[t]]``, ``IW[t, :NC[t]]``, applied as one shifted
run per stencil point, so every inner loop is a contiguous, vectorizable
multiply-add into a row buffer that stays in L1; only the few edge columns
go through the table.

An output row ``out[i, j, :]`` is read from memory once and written once
(``alpha * op(u) + beta * out``; with ``beta == 0`` it is not read, so it may
hold anything, NaN included), and the rows of ``u`` it needs are reused
from cache by its neighbours: one pass over memory for the whole sum.
Each row is computed alone, in the same order whatever the threading, so
the serial and parallel drivers agree bit for bit.
"""

import numpy as np
from numba import njit, prange

from .. import _config as config

_opts = dict(cache=config.CACHE, fastmath=config.FASTMATH, nogil=True)
# Columns of an output row computed together: the block of the row buffer
# and the source rows' blocks stay in L1 while every stencil point is added.
BLOCK = 512


@njit(**_opts)
def _term_row(acc, src, wpq, t, kb, ke, J0, J1, OFF, IW, NC, I2, W2, C2):
    """Add ``wpq`` times term ``t``'s last-axis stencil on row `src` to
    ``acc[kb:ke]`` (columns ``kb:ke`` of the output row)."""
    j0 = min(max(J0[t], kb), ke)
    j1 = max(min(J1[t], ke), j0)
    a = acc[j0:j1]
    for c in range(NC[t]):
        # a run from index 0 of two slices: no negative index to wrap, so
        # the loop vectorizes
        s = src[j0 + OFF[t, c]:j1 + OFF[t, c]]
        wc = wpq * IW[t, c]
        for k in range(a.shape[0]):
            a[k] += wc * s[k]
    for k in range(kb, j0):
        v = acc[k]
        for e in range(C2[t, k]):
            v += wpq * W2[t, k, e] * src[I2[t, k, e]]
        acc[k] = v
    for k in range(j1, ke):
        v = acc[k]
        for e in range(C2[t, k]):
            v += wpq * W2[t, k, e] * src[I2[t, k, e]]
        acc[k] = v


@njit(**_opts)
def _row(u, out, i, j, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0, I1, W1, C1,
         I2, W2, C2, J0, J1, OFF, IW, NC, buf, tb):
    n2 = out.shape[2]
    o = out[i, j]
    for kb in range(0, n2, BLOCK):
        ke = min(n2, kb + BLOCK)
        buf[kb:ke] = 0
        for t in range(field.shape[0]):
            with_coef = cidx[t] >= 0
            acc = tb if with_coef else buf
            if with_coef:
                acc[kb:ke] = 0
            f = field[t]
            for p in range(C0[t, i]):
                ii = I0[t, i, p]
                wp = scale[t] * W0[t, i, p]
                for q in range(C1[t, j]):
                    _term_row(acc, u[f, ii, I1[t, j, q]], wp * W1[t, j, q], t, kb, ke,
                              J0, J1, OFF, IW, NC, I2, W2, C2)
            if with_coef:
                crow = coef[cidx[t], i + lo[0], j + lo[1]]
                c0 = lo[2]
                for k in range(kb, ke):
                    buf[k] += crow[k + c0] * tb[k]
        if beta == 0:
            for k in range(kb, ke):
                o[k] = alpha * buf[k]
        else:
            for k in range(kb, ke):
                o[k] = alpha * buf[k] + beta * o[k]


@njit(**_opts)
def apply_serial(u, out, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0, I1, W1, C1,
                 I2, W2, C2, J0, J1, OFF, IW, NC):
    n0, n1, n2 = out.shape
    buf = np.empty(n2, dtype=out.dtype)
    tb = np.empty(n2, dtype=out.dtype)
    for i in range(n0):
        for j in range(n1):
            _row(u, out, i, j, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0,
                 I1, W1, C1, I2, W2, C2, J0, J1, OFF, IW, NC, buf, tb)


@njit(parallel=True, **_opts)
def apply_parallel(u, out, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0, I1, W1,
                   C1, I2, W2, C2, J0, J1, OFF, IW, NC, nblocks):
    n0, n1, n2 = out.shape
    rows = n0 * n1
    for b in prange(nblocks):
        buf = np.empty(n2, dtype=out.dtype)
        tb = np.empty(n2, dtype=out.dtype)
        for r in range(b * rows // nblocks, (b + 1) * rows // nblocks):
            _row(u, out, r // n1, r % n1, alpha, beta, field, scale, cidx, coef, lo, I0, W0,
                 C0, I1, W1, C1, I2, W2, C2, J0, J1, OFF, IW, NC, buf, tb)

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

The drivers fill the segments ``seg[s] = (i, j, kb, ke)``: columns
``kb:ke`` of output row ``(i, j)``. The public layer hands them the edges
of the grid (the rows and columns where some stencil is an edge row);
the interior goes to a generated kernel (``fastfd.grid._codegen``) that
writes every point as one expression. An output segment is written once
(``alpha * op(u) + beta * out``; with ``beta == 0`` it is not read, so it may
hold anything, NaN included). Each point is computed alone, in the same
order whatever the threading, so the serial and parallel drivers agree bit
for bit.

Two table kernels fill the segments. ``apply_program_*``, for operators on
uniform grids, evaluates at each point the expression the generated
kernels write there (its terms, weights and order of additions, from
``fastfd.grid._operator._canonical``), so a value is the same bits whether
a small grid, the edge shell or generated code computes it, and it depends
only on the samples the point's stencil reads: the operator on a box cut
from a grid agrees with the whole grid's away from the cut. ``apply_*``
(the row tables, term by term, as above) serves operators on coordinates,
which have no generated code.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

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
def _segment(u, out, i, j, kb, ke, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0,
             I1, W1, C1, I2, W2, C2, J0, J1, OFF, IW, NC, buf, tb):
    """Columns ``kb:ke`` of output row ``(i, j)``, in blocks of ``BLOCK``."""
    o = out[i, j]
    for bb in range(kb, ke, BLOCK):
        be = min(ke, bb + BLOCK)
        buf[bb:be] = 0
        for t in range(field.shape[0]):
            with_coef = cidx[t] >= 0
            acc = tb if with_coef else buf
            if with_coef:
                acc[bb:be] = 0
            f = field[t]
            for p in range(C0[t, i]):
                ii = I0[t, i, p]
                wp = scale[t] * W0[t, i, p]
                for q in range(C1[t, j]):
                    _term_row(acc, u[f, ii, I1[t, j, q]], wp * W1[t, j, q], t, bb, be,
                              J0, J1, OFF, IW, NC, I2, W2, C2)
            if with_coef:
                crow = coef[cidx[t], i + lo[0], j + lo[1]]
                c0 = lo[2]
                for k in range(bb, be):
                    buf[k] += crow[k + c0] * tb[k]
        if beta == 0:
            for k in range(bb, be):
                o[k] = alpha * buf[k]
        else:
            for k in range(bb, be):
                o[k] = alpha * buf[k] + beta * o[k]


@njit(**_opts)
def apply_serial(u, out, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0, I1, W1, C1,
                 I2, W2, C2, J0, J1, OFF, IW, NC, seg):
    buf = np.empty(out.shape[2], dtype=out.dtype)
    tb = np.empty(out.shape[2], dtype=out.dtype)
    for s in range(seg.shape[0]):
        _segment(u, out, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3], alpha, beta, field,
                 scale, cidx, coef, lo, I0, W0, C0, I1, W1, C1, I2, W2, C2, J0, J1, OFF, IW,
                 NC, buf, tb)


@njit(parallel=True, **_opts)
def apply_parallel(u, out, alpha, beta, field, scale, cidx, coef, lo, I0, W0, C0, I1, W1,
                   C1, I2, W2, C2, J0, J1, OFF, IW, NC, seg, nblocks):
    nseg = seg.shape[0]
    for b in prange(nblocks):
        buf = np.empty(out.shape[2], dtype=out.dtype)
        tb = np.empty(out.shape[2], dtype=out.dtype)
        for s in range(b * nseg // nblocks, (b + 1) * nseg // nblocks):
            _segment(u, out, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3], alpha, beta, field,
                     scale, cidx, coef, lo, I0, W0, C0, I1, W1, C1, I2, W2, C2, J0, J1, OFF,
                     IW, NC, buf, tb)


@njit(**_opts)
def _program_segment(u, out, i, j, kb, ke, alpha, beta, cls0, cls1, cls2, K1, K2, runs, TP, TF,
                     TC, GP, GW, PP, D, coef, lo, nin, periodic, gs, acc, tot):
    """Columns ``kb:ke`` of output row ``(i, j)`` (see
    :func:`apply_program_serial`; `u` and `coef` flattened), a piece of
    the row at a time: up to ``BLOCK`` columns of one class, or one column
    read modulo the length of the last axis. In a piece, the first term
    accumulates in ``tot``, the others in ``acc``; a group of one point
    is not copied to ``gs``."""
    o = out[i, j]
    base = (cls0[i] * K1 + cls1[j]) * K2
    for r in range(runs.shape[0]):
        ka = max(runs[r, 0], kb)
        kz = min(runs[r, 1], ke)
        safe = runs[r, 2] != 0
        while ka < kz:
            m = min(BLOCK, kz - ka) if safe else 1
            combo = base + cls2[ka]
            t0, t1 = TP[combo], TP[combo + 1]
            if t1 == t0:
                tot[:m] = 0
            for t in range(t0, t1):
                f = TF[t]
                a = tot if t == t0 else acc
                g0, g1 = GP[t], GP[t + 1]
                if g1 == g0:
                    a[:m] = 0
                for g in range(g0, g1):
                    p0, p1 = PP[g], PP[g + 1]
                    for p in range(p0, p1):
                        x0 = i + lo[0] + D[p, 0]
                        x1 = j + lo[1] + D[p, 1]
                        x2 = ka + lo[2] + D[p, 2]
                        if periodic:
                            x0 = x0 % nin[0]
                            x1 = x1 % nin[1]
                            if not safe:
                                x2 = x2 % nin[2]
                        b = ((f * nin[0] + x0) * nin[1] + x1) * nin[2] + x2
                        s = u[b:b + m]
                        if p1 - p0 == 1:
                            w = GW[g]
                            if g == g0:
                                for k in range(m):
                                    a[k] = w * s[k]
                            else:
                                for k in range(m):
                                    a[k] += w * s[k]
                        elif p == p0:
                            for k in range(m):
                                gs[k] = s[k]
                        else:
                            for k in range(m):
                                gs[k] += s[k]
                    if p1 - p0 > 1:
                        w = GW[g]
                        if g == g0:
                            for k in range(m):
                                a[k] = w * gs[k]
                        else:
                            for k in range(m):
                                a[k] += w * gs[k]
                if TC[t] >= 0:
                    b = ((TC[t] * nin[0] + i + lo[0]) * nin[1] + j + lo[1]) * nin[2] + lo[2] + ka
                    c = coef[b:b + m]
                    for k in range(m):
                        a[k] = c[k] * a[k]
                if t > t0:
                    for k in range(m):
                        tot[k] += acc[k]
            os = o[ka:ka + m]
            if beta == 0:
                for k in range(m):
                    os[k] = alpha * tot[k]
            else:
                for k in range(m):
                    os[k] = alpha * tot[k] + beta * os[k]
            ka += m


@njit(**_opts)
def apply_program_serial(u, out, alpha, beta, cls0, cls1, cls2, K1, K2, runs, TP, TF, TC, GP,
                         GW, PP, D, coef, lo, nin, periodic, seg):
    """The segments ``seg`` of an operator on uniform grids, every point by
    its program: the expression the generated kernels write for it, in
    their order (``fastfd.grid._operator._canonical``). Point ``(i, j, k)``
    runs program ``(cls0[i] * K1 + cls1[j]) * K2 + cls2[k]``: terms
    ``TP[c]:TP[c+1]`` (field ``TF``, coefficient ``TC``, groups
    ``GP[t]:GP[t+1]``), a group the sum of its points ``PP[g]:PP[g+1]``
    (offsets ``D``, from the point plus ``lo``; modulo ``nin`` when
    periodic) times ``GW[g]``. ``runs[r] = (ka, kb, safe)``: columns of one
    class along the last axis, read as contiguous runs when ``safe``, point
    by point (wrapped) otherwise."""
    gs = np.empty(BLOCK, dtype=out.dtype)
    acc = np.empty(BLOCK, dtype=out.dtype)
    tot = np.empty(BLOCK, dtype=out.dtype)
    uf = u.reshape(u.size)
    cf = coef.reshape(coef.size)
    for s in range(seg.shape[0]):
        _program_segment(uf, out, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3], alpha, beta, cls0,
                         cls1, cls2, K1, K2, runs, TP, TF, TC, GP, GW, PP, D, cf, lo, nin,
                         periodic, gs, acc, tot)


@njit(parallel=True, **_opts)
def apply_program_parallel(u, out, alpha, beta, cls0, cls1, cls2, K1, K2, runs, TP, TF, TC, GP,
                           GW, PP, D, coef, lo, nin, periodic, seg, nblocks):
    nseg = seg.shape[0]
    uf = u.reshape(u.size)
    cf = coef.reshape(coef.size)
    for b in prange(nblocks):
        gs = np.empty(BLOCK, dtype=out.dtype)
        acc = np.empty(BLOCK, dtype=out.dtype)
        tot = np.empty(BLOCK, dtype=out.dtype)
        for s in range(b * nseg // nblocks, (b + 1) * nseg // nblocks):
            _program_segment(uf, out, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3], alpha, beta,
                             cls0, cls1, cls2, K1, K2, runs, TP, TF, TC, GP, GW, PP, D, cf, lo,
                             nin, periodic, gs, acc, tot)


def _c_block(message, writeable):
    """An njit ``block(arr, shape)``: ``arr.reshape(shape)`` for a
    C-contiguous array (and writeable, with `writeable`), ValueError(`message`)
    for any other array type. Decided from the type when the caller
    compiles: Numba cannot even type ``reshape`` of a non-contiguous array,
    so a check at run time would never be reached."""

    def block(arr, shape):
        return arr.reshape(shape)

    @overload(block, jit_options={"fastmath": config.FASTMATH})
    def _block_impl(arr, shape):
        if (isinstance(arr, types.Array) and arr.layout == "C"
                and (arr.mutable or not writeable)):
            return lambda arr, shape: arr.reshape(shape)

        def bad(arr, shape):
            if shape[0] >= 0:
                raise ValueError(message)
            return np.empty(shape, dtype=arr.dtype)
        return bad

    return block


kernel_u = _c_block("operator kernel: u must be a C-contiguous array", False)
kernel_out = _c_block("operator kernel: out must be a C-contiguous, writeable array", True)
fused_f = _c_block("fused step: F must be a C-contiguous array", False)
fused_g = _c_block("fused step: G must be a C-contiguous, writeable array", True)


def coefficient(x, proto):
    """``x`` (``alpha`` or ``beta`` of an operator kernel) as a number of
    ``proto``'s dtype; a TypeError for a complex number with a real dtype
    or for anything that is not a number, decided when the caller compiles
    (Numba would otherwise fail to lower the cast)."""
    return x


@overload(coefficient, jit_options={"fastmath": config.FASTMATH})
def _coefficient_impl(x, proto):
    complex_ok = isinstance(proto.dtype, types.Complex)
    if isinstance(x, (types.Integer, types.Float, types.Boolean)) or (
            complex_ok and isinstance(x, types.Complex)):
        return lambda x, proto: proto.dtype.type(x)
    got = ("str" if isinstance(x, types.UnicodeType) else
           "None" if isinstance(x, (types.NoneType, types.Omitted)) else str(x))
    message = (f"operator kernel: alpha and beta must be {'' if complex_ok else 'real '}numbers "
               f"for a {proto.dtype} field, got {got}")

    def bad(x, proto):
        if proto.size >= 0:
            raise TypeError(message)
        return np.zeros(1, dtype=proto.dtype)[0]
    return bad

"""One-dimensional stencil operators along one axis, as row tables.

A :class:`Table` is a linear map from the ``n_in`` samples of one axis to
``n_out`` values: row ``i`` is ``sum_p w[i, p] * u[idx[i, p]]`` over its
first ``count[i]`` entries (absolute input indices, already wrapped when
periodic). Rows ``j0 <= i < j1`` are the interior, where ``idx[i, p] = i +
off[p]`` and ``w[i, p] = iw[p]``: the same stencil at every point, which
the kernels apply to contiguous runs. Rows ``v0 <= i < v1`` are those whose
stencil is not an edge row (the interior, or on coordinates the rows with
the full centered window): what ``boundary="valid"`` keeps. Every table of an axis is built from
one derivative (:func:`derivative_table`: uniform steps or coordinates, any
order, accuracy and scheme, one-sided edges of the same accuracy, periodic
wrap) and composed by :func:`compose` (the matrix product, exact for the
edge rows too); :func:`restrict` keeps a range of output rows (the "valid"
boundary) and :func:`sparse` gives the scipy.sparse matrix.
"""

from __future__ import annotations

import functools

import numpy as np

from ..stencils import exact_weights, stencil_offsets
from ._plan import _nonuniform_plan


class Table:
    """Rows of a 1-D linear operator (see the module docstring)."""

    def __init__(self, idx, w, count, j0, j1, off, iw, n_in, v0=None, v1=None):
        self.idx = idx
        self.w = w
        self.count = count
        self.j0, self.j1 = int(j0), int(j1)
        self.v0 = self.j0 if v0 is None else int(v0)
        self.v1 = self.j1 if v1 is None else int(v1)
        self.off = off
        self.iw = iw
        self.n_in = int(n_in)

    @property
    def n_out(self):
        return self.idx.shape[0]

    @property
    def extent(self):
        """``(lo, hi)``: the interior stencil reaches ``lo`` points back and ``hi`` ahead."""
        return -int(self.off.min()), int(self.off.max())


def identity(n):
    """The identity on an axis of ``n`` points."""
    i = np.arange(n, dtype=np.int64)
    return Table(i[:, None].copy(), np.ones((n, 1)), np.ones(n, dtype=np.int64), 0, n,
                 np.zeros(1, dtype=np.int64), np.ones(1), n)


def _pack(rows, n_in, j0, j1, off, iw, v0=None, v1=None):
    """A :class:`Table` from rows ``[(indices, weights), ...]`` (zero weights dropped)."""
    rows = [(np.asarray(i, dtype=np.int64)[np.asarray(w) != 0],
             np.asarray(w, dtype=np.float64)[np.asarray(w) != 0]) for i, w in rows]
    width = max(1, max(len(i) for i, _ in rows))
    n = len(rows)
    idx = np.zeros((n, width), dtype=np.int64)
    w = np.zeros((n, width))
    count = np.zeros(n, dtype=np.int64)
    for r, (ii, ww) in enumerate(rows):
        idx[r, :ii.size] = ii
        w[r, :ww.size] = ww
        count[r] = ii.size
    keep = np.asarray(iw) != 0
    return Table(idx, w, count, j0, j1, np.asarray(off, dtype=np.int64)[keep],
                 np.asarray(iw, dtype=np.float64)[keep], n_in, v0, v1)


@functools.lru_cache(maxsize=512)
def _uniform(order, accuracy, scheme, n, periodic, dx):
    offsets = stencil_offsets(order, accuracy, scheme)
    scale = float(dx) ** order
    iw = np.array([float(c) for c in exact_weights(order, offsets)]) / scale
    off = np.array(offsets, dtype=np.int64)
    lo, hi = -offsets[0], offsets[-1]
    j0, j1 = lo, n - hi
    rows = []
    for r in range(n):
        if j0 <= r < j1:
            rows.append((r + off, iw))
        elif periodic:
            rows.append(((r + off) % n, iw))
        else:
            width = order + accuracy
            start = 0 if r < j0 else n - width
            offs = tuple(range(start - r, start - r + width))
            rows.append((np.arange(start, start + width),
                         np.array([float(c) for c in exact_weights(order, offs)]) / scale))
    return _pack(rows, n, j0, j1, off, iw)


def derivative_table(order, accuracy, scheme, n, boundary, dx, dx_name="dx"):
    """The ``order``-th derivative on ``n`` points (validated arguments):
    uniform spacing ``dx`` (a float) or coordinates ``dx`` (a 1-D float64
    array of ``n`` increasing values); ``boundary`` "periodic" wraps, the
    others get one-sided edge rows of the same accuracy (restricted to the
    interior later for "valid")."""
    if not isinstance(dx, np.ndarray):
        return _uniform(order, accuracy, scheme, n, boundary == "periodic", float(dx))
    starts, w, _ = _nonuniform_plan(order, accuracy, scheme, "one-sided", dx, np.float64,
                                    dx_name)
    rows = [(np.arange(s, s + c), w[r, :c]) for r, (s, c, _) in enumerate(starts)]
    # coordinates: no row repeats another, so there is no interior stencil;
    # the rows with a full window centred as the scheme wants are "valid"
    width = int(starts[:, 1].max())
    back = {"centered": width // 2, "forward": 0, "backward": width - 1}[scheme]
    full = np.flatnonzero((starts[:, 2] - starts[:, 0] == back) & (starts[:, 1] == width))
    v0, v1 = (int(full[0]), int(full[-1]) + 1) if full.size else (0, 0)
    return _pack(rows, n, 0, 0, [0], [0.0], v0, v1)


def compose(a, b):
    """The table of ``a @ b`` (apply ``b``, then ``a``): the matrix product,
    its interior the convolution of the two interior stencils."""
    if a.n_in != b.n_out:
        raise ValueError(f"cannot compose a {a.n_in}-point operator with a "
                         f"{b.n_out}-point one")
    if a.j1 > a.j0 and b.j1 > b.j0:
        off = (a.off[:, None] + b.off[None, :]).ravel()
        iw = (a.iw[:, None] * b.iw[None, :]).ravel()
        uoff = np.unique(off)
        iw = np.array([iw[off == o].sum() for o in uoff])
        off = uoff
        j0 = max(a.j0, b.j0 - int(a.off.min()))
        j1 = min(a.j1, b.j1 - int(a.off.max()))
    else:
        off, iw, j0, j1 = np.zeros(1, dtype=np.int64), np.zeros(1), 0, 0
    if j1 <= j0:
        j0 = j1 = 0
    # rows valid in `a` whose every entry is a valid row of `b`
    v0 = max(a.v0, b.v0 + max(0, -int(a.off.min()) if a.j1 > a.j0 else 0))
    v1 = min(a.v1, b.v1 - max(0, int(a.off.max()) if a.j1 > a.j0 else 0))
    if a.j1 <= a.j0:
        lo = a.idx[:, 0]
        hi = a.idx[np.arange(a.n_out), np.maximum(a.count - 1, 0)]
        ok = np.flatnonzero((lo >= b.v0) & (hi < b.v1) & (np.arange(a.n_out) >= a.v0)
                            & (np.arange(a.n_out) < a.v1))
        v0, v1 = (int(ok[0]), int(ok[-1]) + 1) if ok.size else (0, 0)
    rows = []
    for i in range(a.n_out):
        if j0 <= i < j1:
            rows.append((i + off, iw))
            continue
        acc = {}
        for p in range(a.count[i]):
            k, wa = a.idx[i, p], a.w[i, p]
            for q in range(b.count[k]):
                m = int(b.idx[k, q])
                acc[m] = acc.get(m, 0.0) + wa * b.w[k, q]
        keys = sorted(acc)
        rows.append((keys, [acc[m] for m in keys]))
    return _pack(rows, b.n_in, j0, j1, off, iw, v0, max(v0, v1))


def restrict(t, start, stop):
    """Output rows ``start:stop`` of ``t`` (input indices unchanged)."""
    j0 = min(max(t.j0 - start, 0), stop - start)
    j1 = max(min(t.j1 - start, stop - start), j0)
    v0 = min(max(t.v0 - start, 0), stop - start)
    v1 = max(min(t.v1 - start, stop - start), v0)
    return Table(t.idx[start:stop], t.w[start:stop], t.count[start:stop], j0, j1,
                 t.off + start, t.iw, t.n_in, v0, v1)


def sparse(t):
    """``t`` as a scipy.sparse CSR matrix of shape ``(n_out, n_in)``."""
    import scipy.sparse as sp

    mask = np.arange(t.idx.shape[1])[None, :] < t.count[:, None]
    rows = np.broadcast_to(np.arange(t.n_out)[:, None], t.idx.shape)[mask]
    m = sp.csr_matrix((t.w[mask], (rows, t.idx[mask])), shape=(t.n_out, t.n_in))
    m.sum_duplicates()
    return m


def stencil_width(order, accuracy, scheme):
    """Points of the interior stencil."""
    offsets = stencil_offsets(order, accuracy, scheme)
    return offsets[-1] - offsets[0] + 1


def min_points(order, accuracy, scheme):
    """Points a derivative needs along its axis with one-sided edges."""
    offsets = stencil_offsets(order, accuracy, scheme)
    return max(offsets[-1] - offsets[0] + 1, order + accuracy)


__all__ = ["Table", "identity", "derivative_table", "compose", "restrict", "sparse",
           "min_points", "stencil_width"]

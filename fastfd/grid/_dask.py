"""Grid derivatives of ``dask.array`` arrays, chunk by chunk with fastfd's kernels.

The only module of fastfd that imports dask, inside its functions: ``import
fastfd`` does not import it.

Each result is one ``dask.array.map_overlap`` layer with one task per output
chunk (``trim=False``: the block function cuts its own halo, so no trim layer
follows). Along a differentiated axis the halo is the stencil's reach, ``r =
max(-lo, hi)`` for interior offsets ``lo..hi``; other axes get none, which adds
no overlap tasks along them. ``boundary="periodic"`` is Dask's periodic halo.

Equal to the in-memory result bit for bit: every in-memory kernel computes a
point from its neighbours in an order that does not depend on where the point
lies (tested without Dask), so a block evaluated with the same plan gives the
same bits. Per axis, a block of chunk ``[s, e)`` spans ``[s - r, e + r)``
(periodic: always; otherwise clipped at the global ends, where Dask adds no
halo), and

* a block touching a global end of a ``"one-sided"`` axis is evaluated
  one-sided, so its edge rows see the same window as the global call; the
  rows it computes one-sided at a seam lie in the halo and are cut off;
* every other block is evaluated ``"valid"`` (interior terms only; periodic
  edge rows are the interior terms with wrapped indices, the same
  arithmetic);
* coordinate arrays use the global per-row weights, sliced and rebased to the
  block: validated once on the whole axis, and equal by construction.

Chunks too small for this (under the reach, or an end chunk under what a
one-sided edge window or a ``"valid"`` output needs) are merged with a
neighbour: one rechunk layer, only for such inputs.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from .._validation import as_float_array
from ..stencils import stencil_offsets
from . import _plan


def stand_in(u, caller):
    """A zero-stride NumPy array of ``u``'s shape in the result dtype: the
    in-memory validation runs on it without computing ``u``."""
    if any(isinstance(n, float) and math.isnan(n) for n in u.shape):
        raise ValueError(
            f"u is a dask array of unknown chunk sizes {u.shape}: call "
            f"u.compute_chunk_sizes() first (fastfd.grid.{caller} needs the shape)")
    if isinstance(getattr(u, "_meta", None), np.ma.MaskedArray):
        raise TypeError(
            "u is a masked dask array, which fastfd does not support: a stencil would mix "
            "masked samples into their neighbours' derivatives. Pass "
            "dask.array.ma.filled(u, value) to choose the masked values, or "
            "dask.array.ma.getdata(u) to ignore the mask")
    _, dtype = as_float_array(np.empty((0,), u.dtype), "u", min_ndim=1)
    if u.ndim == 0:
        raise ValueError("u must have at least 1 dimension(s), got a 0-d dask array")
    return np.broadcast_to(np.zeros((), dtype), u.shape)


def refuse_out(out):
    if out is not None:
        raise TypeError(
            "out= cannot be used with a dask array u: the result is itself a lazy dask "
            "array; compute it with .compute(), or write it into an array with "
            "dask.array.store(result, out)")


# Numba's workqueue threading layer (what Numba falls back to without TBB or
# OpenMP) aborts the process when two threads launch parallel kernels at
# once, as the blocks of Dask's threaded scheduler do: with it, blocks run
# one at a time (each kernel still parallel).
_LAUNCH = threading.Lock()


@functools.lru_cache(maxsize=1)
def _one_launch_at_a_time():
    import numba
    from numba.np.ufunc import parallel

    try:
        parallel._launch_threads()  # picks the threading layer, as a first parallel call does
        return numba.threading_layer() == "workqueue"
    except Exception:  # undeterminable: stay safe
        return True


def _call(fn, *args):
    """``fn(*args)``, one call at a time under Numba's workqueue layer (a
    module-level function: a graph sent to workers refers to it, and to the
    lock through it, by name)."""
    if _one_launch_at_a_time():
        with _LAUNCH:
            return fn(*args)
    return fn(*args)


# ----------------------------------------------------------------- axes

class _Axis:
    """One axis of a chunked computation.

    ``r``: the halo (0 for an axis computed pointwise); ``crop``: output
    centres are ``[crop[0], n - crop[1])`` (non-zero for ``"valid"``);
    ``need``: points a block needs for one-sided edge rows (a block may be
    evaluated one-sided because it touches a global end along another axis);
    ``periodic``: Dask's periodic halo.
    """

    def __init__(self, chunks, r=0, crop=(0, 0), need=1, periodic=False):
        self.n = sum(chunks)
        self.r, self.crop, self.need, self.periodic = r, crop, need, periodic
        self.chunks = self._fit(tuple(chunks))
        self.bounds = np.concatenate([[0], np.cumsum(self.chunks)]).tolist()

    def _ok(self, i, c):
        """Whether chunk ``i`` of ``c`` can be computed on its own block."""
        if len(c) == 1:
            return True
        end = i in (0, len(c) - 1)
        low = self.crop[0] if i == 0 else self.crop[1]
        block = c[i] + self.r * (1 if end and not self.periodic else 2)
        return c[i] >= max(self.r, 1) and not (end and c[i] <= low) and block >= self.need

    def _fit(self, c):
        """``c`` with offending chunks merged into their smaller neighbour,
        in one sweep: a merge only changes the merged chunk and whether its
        neighbours are ends, so the sweep steps back one chunk after it."""
        c = list(c)
        i = 0
        while i < len(c):
            if self._ok(i, c):
                i += 1
                continue
            if i == 0:
                j = 1
            elif i == len(c) - 1 or c[i - 1] <= c[i + 1]:
                j = i - 1
            else:
                j = i + 1
            k = min(i, j)
            c[k:k + 2] = [c[k] + c[k + 1]]
            i = max(k - 1, 0)
        return tuple(c)

    def out_chunks(self):
        lo, hi = self.crop
        return tuple(min(e, self.n - hi) - max(s, lo)
                     for s, e in zip(self.bounds[:-1], self.bounds[1:]))

    def block(self, k):
        """``(bs, be, c0, c1)`` for chunk ``k``: the block's global span and
        the output centres it produces."""
        s, e = self.bounds[k], self.bounds[k + 1]
        last = k == len(self.chunks) - 1
        bs = s - self.r if (k > 0 or self.periodic) else 0
        be = e + self.r if (not last or self.periodic) else self.n
        return bs, be, max(s, self.crop[0]), min(e, self.n - self.crop[1])


def _reach(order, accuracy, scheme, uniform):
    """``(lo, hi)``: interior offsets of the stencil (window of a
    coordinate-array stencil, relative to its centre)."""
    if uniform:
        offsets = stencil_offsets(order, accuracy, scheme)
        return offsets[0], offsets[-1]
    _, width = _plan._min_points(order, accuracy, scheme, "one-sided", False)
    back = {"centered": width // 2, "forward": 0, "backward": width - 1}[scheme]
    return -back, width - 1 - back


class _Derivative:
    """One derivative along one axis, as validated by :func:`_plan.check`:
    the halo it needs and its value on a block."""

    def __init__(self, spec, plan):
        (self.order, self.accuracy, self.scheme, self.boundary, self.axis, self.h,
         self.edge_accuracy, _, self.dtype) = spec
        self.uniform = spec.uniform
        self.lo, self.hi = _reach(self.order, self.accuracy, self.scheme, self.uniform)
        self.r = max(-self.lo, self.hi)
        self.need = _plan._min_points(self.order, self.accuracy, self.scheme, "one-sided",
                                      self.uniform, self.edge_accuracy)[0]
        # global weights of a coordinate array, validated on the whole axis here
        self.weights = None if self.uniform else plan()

    def axis_spec(self, chunks):
        valid = self.boundary == "valid"
        return _Axis(chunks, self.r, (-self.lo, self.hi) if valid else (0, 0),
                     self.need if self.boundary == "one-sided" else 1,
                     self.boundary == "periodic")

    def on_block(self, b, bs, be, n, c0, c1):
        """Its values at centres ``[c0, c1)`` along the axis, from block ``b``
        spanning ``[bs, be)`` of an axis of ``n`` points; ``b`` holds only the
        output range on every other axis."""
        a = self.axis
        if not self.uniform:
            b, _ = as_float_array(b, "u")  # float16, byte-swapped: as the global call
            starts, w, _ = self.weights
            j0 = c0 - int(starts[0, 2])
            rows = starts[j0:j0 + c1 - c0].copy()
            rows[:, 0] -= bs
            if rows.shape[0] and (rows[:, 0].min() < 0
                                  or (rows[:, 0] + rows[:, 1]).max() > b.shape[a]):
                raise AssertionError("fastfd: a stencil window leaves its dask block")
            shape = b.shape[:a] + (c1 - c0,) + b.shape[a + 1:]
            job = _plan.make_job(b, a, (rows, w[j0:j0 + c1 - c0], c1 - c0), False,
                                 shape, self.dtype)
            return _plan.run_job(job)
        edge = self.boundary == "one-sided" and (bs == 0 or be == n)
        mode = "one-sided" if edge else "valid"
        arr, spec, plan = _plan.check(b, self.order, self.h, a, self.accuracy, self.scheme,
                                      mode, None, edge_accuracy=self.edge_accuracy)
        res = _plan.run_job(_plan.make_job(arr, a, plan, True, spec.shape, spec.dtype))
        first = c0 - bs + (0 if edge else self.lo)  # result index of centre c0
        return _take(res, a, first, first + c1 - c0)


def _take(x, axis, i0, i1):
    if i0 == 0 and i1 == x.shape[axis]:
        return x
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(i0, i1)
    return x[tuple(idx)]


def _map(u, axes, block_fn, dtype, what, lead_chunks=(), fields=(), lead=0, **layout):
    """One ``map_overlap`` layer named ``fastfd-<what>``: ``block_fn(block,
    spans, *field_blocks)`` with ``spans`` the ``(bs, be, c0, c1)`` of every
    axis of ``u``. ``fields``: in-memory arrays that broadcast to the grid
    ``u.shape[lead:]``, overlapped like ``u`` (with a leading axis of 1 for
    ``lead``). ``lead_chunks`` and ``layout`` (``drop_axis``/``new_axis``)
    for outputs whose leading axis is not ``u``'s."""
    import dask.array as da
    from dask.base import tokenize

    fitted = tuple(ax.chunks for ax in axes)
    if fitted != u.chunks:
        u = u.rechunk(fitted)
    depth = {i: ax.r for i, ax in enumerate(axes)}
    boundary = {i: "periodic" if ax.periodic else "none" for i, ax in enumerate(axes)}
    def like_u(shape):
        return tuple((1,) if n == 1 else ax.chunks for n, ax in zip(shape, axes))

    target = (1,) * lead + u.shape[lead:]
    extra = []
    for f in fields:
        # chunked like u; a field that broadcasts (shape (n, 1, 1)) stays
        # that small in the graph and is broadcast chunk by chunk
        g = f.reshape((1,) * (u.ndim - f.ndim) + f.shape)
        arr = da.from_array(g, chunks=like_u(g.shape),
                            name=f"fastfd-field-{tokenize(g, like_u(g.shape))}")
        if g.shape != target:
            arr = da.broadcast_to(arr, target, chunks=like_u(target))
        extra.append(arr)

    def block(b, *more, block_info=None):
        loc = block_info[0]["chunk-location"]
        return _call(block_fn, b, [ax.block(k) for ax, k in zip(axes, loc)], *more)

    chunks = tuple(ax.out_chunks() for ax in axes)
    if lead_chunks:
        chunks = lead_chunks + chunks[1 if "new_axis" not in layout else 0:]
    elif "drop_axis" in layout:
        chunks = chunks[1:]
    n = 1 + len(extra)
    return da.map_overlap(block, u, *extra, depth=[depth] * n, boundary=[boundary] * n,
                          trim=False, allow_rechunk=False, align_arrays=False, chunks=chunks,
                          dtype=dtype, meta=np.empty((0,) * len(chunks), dtype),
                          token=f"fastfd-{what}", **layout)


def _output_rows(b, spans, skip=None):
    """``b`` cut to the output centres on every axis but ``skip``."""
    idx = tuple(slice(None) if a == skip else slice(c0 - bs, c1 - bs)
                for a, (bs, _, c0, c1) in enumerate(spans))
    return b[idx]


def _derivative_map(u, d):
    axes = [d.axis_spec(c) if a == d.axis else _Axis(c) for a, c in enumerate(u.chunks)]
    n = u.shape[d.axis]

    def block_fn(b, spans):
        bs, be, c0, c1 = spans[d.axis]
        return d.on_block(b, bs, be, n, c0, c1)

    return _map(u, axes, block_fn, d.dtype, "derivative")


# ------------------------------------------------------------ entry points

def derivative(u, checked):
    """``grid.derivative`` and the named differences: ``checked`` is what
    :func:`_plan.check` returned for the stand-in of ``u``."""
    _, spec, plan = checked
    return _derivative_map(u, _Derivative(spec, plan))


def gradient(u, checked):
    """``grid.gradient``: one layer per differentiated axis."""
    parts = tuple(_derivative_map(u, _Derivative(spec, plan))
                  for _, spec, plan in checked)
    return parts[0] if len(parts) == 1 else parts


def laplacian(u, stand, spacing, names, accuracy, boundary, dtype, fused):
    """``grid.laplacian``, validated on ``stand`` (:func:`stand_in`):
    ``fused(block, boundary)`` is the in-memory fused Laplacian (1-3 axes,
    scalar spacings); otherwise, as in memory, the sum over axes of second
    derivatives, in axis order."""
    parts = [_Derivative(*_plan.check(stand, 2, h, a, accuracy, "centered", boundary,
                                      None, dx_name=names[a])[1:])
             for a, h in enumerate(spacing)]
    axes = [d.axis_spec(c) for d, c in zip(parts, u.chunks)]
    use_fused = u.ndim <= 3 and all(d.uniform for d in parts)

    def block_fn(b, spans):
        if use_fused:
            edge = boundary == "one-sided" and any(
                bs == 0 or be == ax.n for ax, (bs, be, _, _) in zip(axes, spans))
            mode = "one-sided" if edge else "valid"
            res = fused(np.ascontiguousarray(b), mode)
            idx = tuple(slice(c0 - bs - (0 if edge else d.hi), c1 - bs - (0 if edge else d.hi))
                        for d, (bs, _, c0, c1) in zip(parts, spans))
            return res[idx]
        res = None
        for a, (d, ax, (bs, be, c0, c1)) in enumerate(zip(parts, axes, spans)):
            part = d.on_block(_output_rows(b, spans, skip=a), bs, be, ax.n, c0, c1)
            if res is None:
                res = np.zeros(part.shape, dtype)
            res += part
        return res

    return _map(u, axes, block_fn, dtype, "laplacian")




def operator(parts, u, boundary, dtype, box, lead, vector):
    """``op(u, boundary=...)``, validated by ``_operator._on_dask``:
    ``parts`` the operator (or a vector operator's components, stacked along
    a new first axis), ``box`` its output range on the grid, ``lead`` 1 when
    ``u`` stacks several fields along its first axis. The coefficient
    fields travel as dask arrays overlapped like ``u`` (wrapped for a
    periodic halo); every block runs the operator with its fields and
    coordinates cut to the block."""
    grid_shape = u.shape[lead:]
    ndim = len(grid_shape)
    reach = [c._reach(ndim) for c in parts]
    # Dask's overlap depth is symmetric: the farther of back and ahead, over the parts
    depth = [max(max(rc[a]) for rc in reach) for a in range(ndim)]
    for a, (n, r) in enumerate(zip(grid_shape, depth)):
        if boundary == "periodic" and r > n:
            # Dask's periodic halo cannot be deeper than the axis is long
            raise ValueError(
                f"boundary='periodic' on a dask array needs every axis at least as long as "
                f"the operator reaches: axis {a} has {n} points, the operator reaches {r}; "
                f"compute this array in memory (u.compute())")
    modes = ("one-sided", "valid") if boundary == "one-sided" else ("valid",)
    need = [max(n) for n in zip(*(c._min_points(ndim, m) for c in parts for m in modes))]
    axes = [_Axis((u.shape[0],))] if lead else []  # every block holds all the fields
    axes += [_Axis(ch, r, (lo, n - hi), nd, boundary == "periodic")
             for ch, r, (lo, hi), n, nd in zip(u.chunks[lead:], depth, box, grid_shape, need)]
    fields = [c._fields() for c in parts]
    light = [c._without_fields() for c in parts]

    def block_fn(b, spans, *field_blocks):
        spans = spans[lead:]
        edge = boundary == "one-sided" and any(
            bs == 0 or be == n for n, (bs, be, _, _) in zip(grid_shape, spans))
        mode = "one-sided" if edge else "valid"
        cut = tuple((bs, be) for bs, be, _, _ in spans)
        blocks = iter(f[0] if lead else f for f in field_blocks)
        res = []
        for c, r in zip(light, reach):
            # "valid" drops `back` points at the start of each axis
            idx = tuple(slice(c0 - bs - (0 if edge else back), c1 - bs - (0 if edge else back))
                        for (back, _), (bs, _, c0, c1) in zip(r, spans))
            res.append(c._crop(grid_shape, cut, fields=blocks)(b, boundary=mode)[idx])
        return np.stack(res) if vector else res[0]

    layout = {}
    if lead and not vector:
        layout = dict(drop_axis=0)
    elif vector and not lead:
        layout = dict(new_axis=0)
    lead_chunks = ((len(parts),),) if vector else ()
    return _map(u, axes, block_fn, dtype, "operator", lead_chunks,
                [f for fs in fields for f in fs], lead, **layout)

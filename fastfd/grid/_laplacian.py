"""``grid.laplacian``: the sum of second derivatives over every axis."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
import functools
import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _config
from .._kernels import laplacian as lk
from .._kernels.schedule import launch
from .._validation import (
    as_float_array, check_accuracy, check_choice, check_out, is_dask_array, short_repr,
)
from ..stencils import check_accuracy_limit, exact_weights
from . import _dask
from ._plan import check_dx, check_samples, prepare, run_job

__all__ = ["laplacian"]

BOUNDARIES = ("one-sided", "periodic", "valid")
_MODES = {"one-sided": lk.ONE_SIDED, "periodic": lk.PERIODIC, "valid": lk.INTERIOR}


def _is_scalar(value):
    """A number, or a 0-d array-like (xarray's ``x[1] - x[0]``)."""
    return isinstance(value, (numbers.Number, np.generic)) or (
        hasattr(value, "__array__") and np.ndim(value) == 0)


def _split_dx(dx, u, boundary):
    """One spacing per axis: a float, or a checked float64 coordinate array;
    and the name each is reported under (``dx`` or ``dx[a]``)."""
    ndim = u.ndim
    if type(dx) is float and 0.0 < dx < math.inf:  # the common call, kept lean
        return [dx] * ndim, ["dx"] * ndim
    if _is_scalar(dx) or isinstance(dx, np.ma.MaskedArray):  # check_dx refuses a masked dx
        h = check_dx(dx, u.shape[0], 0, boundary)
        return [h] * ndim, ["dx"] * ndim
    if isinstance(dx, (str, bytes)) or not isinstance(dx, (Sequence, np.ndarray)):
        # a dict iterates its keys, a set has no order, a generator is spent
        # after one look: per-axis spacing is a sequence
        raise TypeError(
            f"dx must be a positive number or a sequence with one spacing per "
            f"axis, got a {type(dx).__name__}: {short_repr(dx)}")
    if ndim == 1 and isinstance(dx, np.ndarray) and dx.ndim == 1 and dx.shape[0] != 1:
        return [check_dx(dx, u.shape[0], 0, boundary, name="dx")], ["dx"]
    try:
        entries = list(dx)
    except TypeError:
        raise TypeError(
            f"dx must be a positive number or a sequence with one spacing per "
            f"axis, got {short_repr(dx)}") from None
    if ndim == 1 and len(entries) == u.shape[0] and len(entries) != 1 and all(
            _is_scalar(e) for e in entries):
        return [check_dx(np.asarray(dx), u.shape[0], 0, boundary, name="dx")], ["dx"]
    if len(entries) != ndim:
        raise ValueError(
            f"dx must be a scalar or have one entry per axis of u ({ndim}), got "
            f"{len(entries)} {'entry' if len(entries) == 1 else 'entries'}: "
            f"{short_repr(dx)}")
    names = [f"dx[{a}]" for a in range(ndim)]
    return [check_dx(e, n, a, boundary, name=name)
            for a, (e, n, name) in enumerate(zip(entries, u.shape, names))], names


def _widths(accuracy, spacing):
    """Points of the centred stencil along each axis.

    Uniform: ``accuracy + 1``. Coordinate arrays: ``grid.derivative`` keeps
    the formal accuracy of an even derivative on a non-uniform grid with
    ``order + accuracy`` points rounded up to odd, ``accuracy + 3``.
    """
    return [accuracy + 3 if isinstance(h, np.ndarray) else accuracy + 1 for h in spacing]


def _laplacian_iv(u, dx, accuracy, boundary, out):
    u_in = u
    check_samples(u, "laplacian")
    u, dtype = as_float_array(u, "u")
    boundary = check_choice("boundary", boundary, BOUNDARIES)
    accuracy = check_accuracy_limit(check_accuracy(accuracy, "centered"), 2, "centered", dtype,
                                    edges=boundary == "one-sided")
    spacing, names = _split_dx(dx, u, boundary)
    for h, name in zip(spacing, names):
        # The weights are exact rationals / h**2, formed in Python: at
        # h ~ 1e-160 that is a ZeroDivisionError or OverflowError, and in
        # float32 already at 1e-20 every result would be inf or nan.
        if not isinstance(h, np.ndarray) and h < 1e-4:
            big = _max_weight(accuracy)
            hh = h * h
            if hh == 0.0 or big / hh > float(np.finfo(dtype).max):
                raise ValueError(
                    f"{name}={h!r} is too small: the stencil weights (up to "
                    f"{big:g}/{name}**2) overflow {np.finfo(dtype).dtype}")
    widths = _widths(accuracy, spacing)
    for a, (n, w) in enumerate(zip(u.shape, widths)):
        # one-sided edge stencils of the second derivative: accuracy + 2 points
        need = max(w, accuracy + 2) if boundary == "one-sided" else w
        if n < need:
            grid_kind = " on a non-uniform grid" if w > accuracy + 1 else ""
            raise ValueError(
                f"u has length {n} along axis {a}, but accuracy={accuracy} with "
                f"boundary={boundary!r}{grid_kind} needs at least {need} points"
                f"{_shorter_hint(n, accuracy, boundary, w - accuracy - 1)}")
    if boundary == "valid":
        shape = tuple(n - w + 1 for n, w in zip(u.shape, widths))
    else:
        shape = u.shape
    if out is not None:
        check_out(out, shape, dtype, inputs=(u_in, u))
    return u, dtype, spacing, names, accuracy, boundary, shape


def _shorter_hint(n, accuracy, boundary, extra):
    """What fits an axis of ``n`` points (``extra``: 2 on coordinate axes)."""
    for acc in range(accuracy - 2, 0, -2):
        need = max(acc + 1 + extra, acc + 2) if boundary == "one-sided" else acc + 1 + extra
        if n >= need:
            return f"; accuracy={acc} fits {n}"
    if boundary == "one-sided" and n >= 3 + extra:
        return f"; boundary='valid' or 'periodic' fits {n} (no one-sided edge rows)"
    return ""


@functools.lru_cache(maxsize=64)
def _weights_1d(accuracy, h):
    """Centre and left-edge second-derivative weights for spacing ``h``.

    Returns ``(centre, edges)``: ``centre`` the ``accuracy + 1`` centred
    weights on offsets ``-m..m``; ``edges[r]`` the ``accuracy + 2`` weights
    for point ``r`` on the window ``u[0:accuracy + 2]``. Right edges are the
    mirror image (an even derivative keeps its sign under reflection). Each
    weight is the exact rational weight divided by ``h**2``, rounded once.
    """
    m = accuracy // 2
    h2 = Fraction(h) ** 2
    centre = [float(w / h2) for w in exact_weights(2, tuple(range(-m, m + 1)))]
    n = accuracy + 2
    edges = [[float(w / h2) for w in exact_weights(2, tuple(j - r for j in range(n)))]
             for r in range(m)]
    centre = np.array(centre)
    edges = np.array(edges).reshape(m, n)
    centre.flags.writeable = False  # cached: shared by every call
    edges.flags.writeable = False
    return centre, edges


@functools.lru_cache(maxsize=16)
def _max_weight(accuracy):
    """Largest |weight| of the unit-spacing centre and edge stencils."""
    return float(max(np.abs(t).max() for t in _weights_1d(accuracy, 1.0)))


def _axis_table(n, h, accuracy, boundary, real):
    """``(idx, w, cnt)`` for one axis of the table-driven kernel: per
    position the taps in the order the kernel sums them (centred: offsets
    -m..m; one-sided: from the edge inwards); ``cnt`` 0 marks the positions
    "valid" skips."""
    m = accuracy // 2
    centre, edges = _weights_1d(accuracy, h)
    width = accuracy + 2
    q = np.arange(n)[:, None]
    idx = np.zeros((n, width), dtype=np.int64)
    w = np.zeros((n, width), dtype=real)
    cnt = np.full(n, 2 * m + 1, dtype=np.int64)
    idx[:, :2 * m + 1] = q + np.arange(-m, m + 1)
    w[:, :2 * m + 1] = centre
    if boundary == "periodic":
        idx %= n
        return idx, w, cnt
    idx[:m] = np.arange(width)
    idx[n - m:] = n - 1 - np.arange(width)
    w[:m] = edges
    w[n - m:] = edges[::-1]
    cnt[:m] = width
    cnt[n - m:] = width
    if boundary == "valid":
        cnt[:m] = 0
        cnt[n - m:] = 0
    return idx, w, cnt


def _empty_table(real):
    return (np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=real),
            np.zeros(1, dtype=np.int64))


def _via_derivative(u, spacing, names, accuracy, boundary, shape, dtype):
    """Coordinate arrays or more than 3 axes: sum ``grid.derivative(order=2)``."""
    half = [w // 2 for w in _widths(accuracy, spacing)]
    res = np.zeros(shape, dtype=dtype)
    for a, h in enumerate(spacing):
        d = run_job(prepare(u, 2, h, a, accuracy, "centered", boundary, None,
                                     dx_name=names[a]))
        if boundary == "valid":
            crop = [slice(m, n - m) for n, m in zip(u.shape, half)]
            crop[a] = slice(None)
            d = d[tuple(crop)]
        res += d
    return res


def _compute(u, spacing, accuracy, boundary, res, last=0):
    """Fill C-contiguous ``res`` from C-contiguous ``u`` (1-3 axes); ``last``
    is the axis of ``u`` that is the caller's axis 0 (its term is added last,
    so every memory layout gives the same bits)."""
    if u.size >= _config.PARALLEL_MIN:
        # About 32 chunks handed out dynamically instead of the default
        # static halves: with static halves a thread whose core also runs
        # another process holds up the whole call (256**3 with one of two
        # cores loaded: 2.4x copy time static, 1.3x dynamic; 1.2x either way
        # on idle cores).
        n = u.shape[0] if accuracy == 2 else u.size // 65536
        _fused(u, spacing, accuracy, boundary, res, max(1, n // 32), last)
    else:
        _fused(u, spacing, accuracy, boundary, res, None, last)


def _fused(u, spacing, accuracy, boundary, res, chunksize, last):
    """The fused kernels; parallel with Numba chunk size ``chunksize``,
    serial if it is None."""
    real = res.real.dtype.type
    nd = u.ndim
    if accuracy == 2:
        # 1/h**2 rounded as fastfd.kernels rounds it, so both agree bitwise.
        a = [real(1.0 / (h * h)) for h in spacing]
        mode = _MODES[boundary]
        sh = 1 if boundary == "valid" else 0
        if nd == 1:
            lk.row1(u, res, a[0], mode, sh)
        elif nd == 2:
            args = (u, res, a[0], a[1], mode, sh)
            _run_fused(lk.lap2_serial, lk.lap2_parallel, chunksize, args)
        else:
            args = (u, res, a[0], a[1], a[2], mode, sh, last)
            _run_fused(lk.lap3_serial, lk.lap3_parallel, chunksize, args)
        return
    m = accuracy // 2
    pad = 3 - nd
    u3 = u.reshape((1,) * pad + u.shape)
    r3 = res.reshape((1,) * pad + res.shape)
    tabs = [_empty_table(real)] * pad + [
        _axis_table(n, h, accuracy, boundary, real) for n, h in zip(u.shape, spacing)]
    wc = _weights_1d(accuracy, spacing[-1])[0].astype(real)
    cw1 = _weights_1d(accuracy, spacing[-2])[0].astype(real) if nd > 1 else wc
    if boundary == "valid":
        lo = [0] * pad + [m] * nd
        hi = [1] * pad + [n - m for n in u.shape]
        sh = lo
    else:
        lo = [0, 0, 0]
        hi = list(u3.shape)
        sh = [0, 0, 0]
    lims = (lo[0], lo[1], lo[2], hi[2], sh[0], sh[1], sh[2])
    flat = tuple(x for t in tabs for x in t)
    # Tiles of about 64k points: a 256**2 plane is one tile, a 4096-wide 2-D
    # array splits into 16-row tiles, so both keep 2 threads busy.
    rows = max(1, 65536 // u3.shape[2])
    _run_fused(lk.general_serial, lk.general_parallel, chunksize,
               (u3, r3, flat, wc, cw1, m, lims, hi[0], hi[1], boundary != "valid", rows,
                last + pad))


def _run_fused(serial, parallel, chunksize, args):
    if chunksize is None:
        serial(*args)
    else:
        launch(parallel, chunksize, *args)


def laplacian(u: ArrayLike, dx: Any = 1.0, *, accuracy: int = 2, boundary: str = "one-sided",
              out: np.ndarray | None = None) -> np.ndarray:
    r"""Laplacian of a sampled field: the sum of second derivatives over all axes.

    .. math:: \nabla^2 u = \sum_a \partial^2 u / \partial x_a^2

    Each term is the centred second-derivative stencil of the given accuracy
    along that axis, for accuracy 2 the 3-point ``(u[i+1] - 2 u[i] + u[i-1])
    / h**2`` (the 5-point Laplacian in 2-D, 7-point in 3-D). For 1-, 2- and
    3-D input with scalar spacings the sum is formed in one fused pass over
    ``u`` with no temporaries (parallel over planes or rows for arrays of at
    least ``FASTFD_PARALLEL_MIN`` elements; parallel and serial results are
    bit-identical).

    Parameters
    ----------
    u : array_like or dask.array.Array
        Samples, at least 1-D. float32/float64/complex64/complex128 keep their
        dtype, integers and bools become float64, float16 becomes float32. A
        dask array gives a dask array, equal to the NumPy result bit for bit
        (see :func:`fastfd.grid.derivative`; ``out=`` is then refused).
    dx : float or sequence, optional
        Grid spacing: one positive number for every axis, or one entry per
        axis, each a positive number or a 1-D strictly monotonic coordinate
        array of that axis's length (non-uniform grid, summed from
        ``grid.derivative(u, 2, dx=..., axis=a)``). For 1-D ``u`` a 1-D array
        of ``u``'s length is taken as its coordinate array. The per-axis
        form is a sequence (list, tuple, array): a dict would give its keys,
        a set has no order, so both are a TypeError.
    accuracy : int, optional
        Even order of accuracy of the centred stencil, >= 2. The truncation
        error is ``O(h**accuracy)``; the result is exact for polynomials of
        degree ``accuracy + 1``. At most the second-derivative limit of
        ``fastfd.stencils.max_accuracy`` in the working dtype (one-sided
        edges: 18 in float64, 10 in float32; otherwise 28 and 12).
    boundary : {"one-sided", "periodic", "valid"}, optional
        ``"one-sided"``: same shape as ``u``; points within ``accuracy/2`` of
        an edge use, along the axis they are near, the one-sided
        second-derivative stencil on the ``accuracy + 2`` points at that edge
        (same accuracy; equal to summing ``grid.derivative(u, 2, axis=a,
        accuracy=accuracy)`` over the axes). ``"periodic"``: ``u`` wraps
        around on every axis. ``"valid"``: only points whose stencils fit;
        every axis with a scalar spacing shrinks by ``accuracy``, an axis
        given by a coordinate array by ``accuracy + 2`` (its wider stencil).
    out : ndarray, optional
        Buffer of exactly the result shape and dtype, writeable and not
        overlapping ``u``; it is filled and returned.

    Returns
    -------
    ndarray
        The Laplacian, ``u``'s shape (``"valid"``: each axis ``accuracy``
        shorter, ``accuracy + 2`` along coordinate-array axes).

    Raises
    ------
    ValueError
        ``dx`` not positive and finite, or with the wrong number of entries;
        an axis shorter than the stencil (``accuracy + 2`` points one-sided,
        ``accuracy + 1`` otherwise); odd or non-positive ``accuracy``; unknown
        ``boundary``; ``out`` of the wrong shape or dtype, read-only or
        overlapping ``u``; 0-d ``u``.
    TypeError
        Non-numeric or masked ``u`` (pass ``u.filled(value)``), a masked
        ``dx`` (or entry of ``dx``) or ``out``, non-numeric
        ``dx`` or ``accuracy``; ``dx`` neither a number
        nor a sequence (a dict, set, string or generator).

    See Also
    --------
    fastfd.kernels.laplacian_2d, fastfd.kernels.laplacian_3d :
        the same stencils callable from your own ``@numba.njit`` code.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> x = np.linspace(0.0, 1.0, 11)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> lap = grid.laplacian(X**2 + Y**2, dx=0.1)
    >>> bool(np.allclose(lap, 4.0))
    True
    >>> grid.laplacian(np.sin(2 * np.pi * x[:-1]), dx=0.1, boundary="periodic",
    ...                accuracy=4).shape
    (10,)
    >>> grid.laplacian(np.ones((5, 6)), boundary="valid").shape
    (3, 4)
    """
    if is_dask_array(u):
        _dask.refuse_out(out)
        stand, dtype, spacing, names, accuracy, boundary, _ = _laplacian_iv(
            _dask.stand_in(u, "laplacian"), dx, accuracy, boundary, None)
        return _dask.laplacian(u, stand, spacing, names, accuracy, boundary, dtype,
                               lambda b, mode: laplacian(b, spacing, accuracy=accuracy,
                                                         boundary=mode))
    u, dtype, spacing, names, accuracy, boundary, shape = _laplacian_iv(
        u, dx, accuracy, boundary, out)
    if u.ndim > 3 or any(isinstance(h, np.ndarray) for h in spacing):
        res = _via_derivative(u, spacing, names, accuracy, boundary,
                              shape, dtype)
        if out is None:
            return res
        out[...] = res
        return out
    if u.flags.c_contiguous:
        if out is not None and out.flags.c_contiguous:
            _compute(u, spacing, accuracy, boundary, out)
            return out
        res = np.empty(shape, dtype=dtype)
        _compute(u, spacing, accuracy, boundary, res)
        if out is None:
            return res
        out[...] = res
        return out
    # The Laplacian is symmetric in its axes: visit them in decreasing-stride
    # order, so Fortran and any transposed contiguous layout run the
    # contiguous-row kernel without a copy (other strides are copied once).
    perm = tuple(int(a) for a in np.argsort([-abs(s) for s in u.strides], kind="stable"))
    up = np.ascontiguousarray(u.transpose(perm))
    sp = [spacing[a] for a in perm]
    last = perm.index(0)
    if out is not None:
        op = out.transpose(perm)
        if op.flags.c_contiguous:
            _compute(up, sp, accuracy, boundary, op, last)
            return out
    res = np.empty(tuple(shape[a] for a in perm), dtype=dtype)
    _compute(up, sp, accuracy, boundary, res, last)
    res = res.transpose(np.argsort(perm))
    if out is None:
        return res  # laid out like u (NumPy's order="K")
    out[...] = res
    return out

"""Axis plans, launch and the public derivatives of sampled arrays (fastfd.grid)."""

from __future__ import annotations

import functools
import math
import numbers
from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

from .. import _config
from .._kernels import stencil as _k
from ._laplacian import laplacian
from .._validation import (
    as_float_array, check_accuracy, check_choice, check_int, check_not_masked, check_out,
    check_positive_scalar, check_scheme, normalize_axis, short_repr,
)
from ..stencils import check_accuracy_limit, exact_weights, integer_form, stencil_offsets

__all__ = [
    "derivative", "forward_diff", "backward_diff", "centered_diff",
    "second_diff", "gradient", "laplacian",
]

BOUNDARIES = ("one-sided", "periodic", "valid")

_REAL = {
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
    np.dtype(np.complex64): np.dtype(np.float32),
    np.dtype(np.complex128): np.dtype(np.float64),
}


# ------------------------------------------------------------------ plans

def _terms(order, offsets, scheme):
    """``[(a, b, s, num)]`` for an integer stencil; pairs for centered."""
    nums, den = integer_form(exact_weights(order, offsets))
    w = dict(zip(offsets, nums))
    terms = []
    if scheme == "centered":
        sign = -1 if order % 2 else 1
        for k in range(1, max(offsets) + 1):
            if w[k] != 0:
                terms.append((k, -k, sign, w[k]))
        if w[0] != 0:
            terms.append((0, 0, 0, w[0]))
    else:
        terms = [(o, o, 0, w[o]) for o in offsets if w[o] != 0]
    return terms, den


def _edge_terms(order, start, width, row):
    """Absolute-index single terms of the one-sided window ``[start,
    start+width)`` for output ``row``."""
    offs = tuple(range(start - row, start - row + width))
    nums, den = integer_form(exact_weights(order, offs))
    return [(start + i, start + i, 0, c) for i, c in enumerate(nums) if c != 0], den


def _min_points(order, accuracy, scheme, boundary, uniform):
    """Points needed along the axis, and the interior stencil width."""
    edge = order + accuracy
    if scheme == "centered":
        if uniform:
            width = 2 * ((order - 1) // 2 + accuracy // 2) + 1
        else:
            width = edge + 1 - edge % 2  # rounded up to odd
    else:
        width = edge
    if boundary == "one-sided":
        return max(width, edge), width
    return width, width


def _power(dx, order):
    """``dx**order`` for a float ``dx``, inf on overflow (Python's ``**``
    raises); the result then divides to 0, as NumPy's ``/ dx**order`` does."""
    try:
        return dx ** order
    except OverflowError:
        return math.inf


@functools.lru_cache(maxsize=256)
def _uniform_plan(order, accuracy, scheme, boundary, n, dx, rdtype):
    """``(ip, fp, n_out)`` for the uniform kernels (validated arguments)."""
    offsets = stencil_offsets(order, accuracy, scheme)
    terms, den = _terms(order, offsets, scheme)
    scale = float(den) * _power(dx, order)
    lo, hi = offsets[0], offsets[-1]
    edges = []  # (row, terms, scale)
    if boundary == "valid":
        j0, j1 = 0, n - (hi - lo)
        terms = [(a - lo, b - lo, s, c) for a, b, s, c in terms]
    else:
        j0, j1 = -lo, n - hi
        rows = list(range(0, j0)) + list(range(j1, n))
        for r in rows:
            if boundary == "periodic":
                edges.append((r, [((r + a) % n, (r + b) % n, s, c)
                                  for a, b, s, c in terms], scale))
            else:
                width = order + accuracy
                start = 0 if r < j0 else n - width
                et, eden = _edge_terms(order, start, width, r)
                edges.append((r, et, float(eden) * _power(dx, order)))
    ip = [(j0, j1, len(terms), len(edges))]
    fp = [scale]
    for a, b, s, c in terms:
        ip.append((a, b, s, 0))
        fp.append(c)
    for r, et, sc in edges:
        ip.append((r, len(et), 0, 0))
        fp.append(sc)
        for a, b, s, c in et:
            ip.append((a, b, s, 0))
            fp.append(c)
    ip = np.array(ip, dtype=np.int64)
    fp = np.array(fp, dtype=np.float64).astype(rdtype)
    ip.flags.writeable = False
    fp.flags.writeable = False
    return ip, fp, j1 - j0 if boundary == "valid" else n


def _nonuniform_weights(order, accuracy, scheme, boundary, x):
    """``(starts, w, xs, e)``: per-row float64 weights ``w`` for the
    coordinates ``xs = x / 2**e`` (times ``2**(-e*order)`` for ``x``)."""
    n = x.shape[0]
    edge = order + accuracy
    _, width = _min_points(order, accuracy, scheme, boundary, False)
    back = {"centered": width // 2, "forward": 0, "backward": width - 1}[scheme]
    if boundary == "valid":
        start = np.arange(n - width + 1)
        count = np.full(start.shape, width)
        center = start + back
    else:
        center = np.arange(n)
        start = np.clip(center - back, 0, n - width)
        count = np.full(n, width)
        if width != edge:  # centered even order: one-sided edges of `edge` points
            lo = center < back
            hi = center >= n - back
            count[lo | hi] = edge
            start[lo] = 0
            start[hi] = n - edge
    starts = np.ascontiguousarray(np.stack([start, count, center], axis=1), dtype=np.int64)
    w = np.zeros((starts.shape[0], width))
    # Fornberg's recurrence multiplies up to width - 1 coordinate differences:
    # at spacings near 1e-120 (or 1e+120) that product under- or overflows
    # float64 (a ZeroDivisionError in the kernel). Run it on x / 2**e, with
    # 2**e about the mean spacing, and scale the weights back by 2**(-e*order):
    # every operation of the recurrence is homogeneous in the differences, so
    # for ordinary spacings the weights come out bit for bit the same.
    e = math.frexp(abs(x[-1] * 0.5 - x[0] * 0.5) / (n - 1))[1] + 1
    xs = np.ldexp(x, -e)
    _k.fornberg_rows(xs, order, starts, w)
    return starts, w, xs, e


def _rounding_excess(starts, w, xs, order, rdtype):
    """Per row, the rounding of the weights in ``rdtype`` relative to the
    ``sqrt(eps)`` budget of the uniform limit (accept where <= 1).

    With ``h`` the row's mean spacing, ``max(|sum w|, eps * sum|w|) *
    h**order / sqrt(eps)``: ``sum w`` should be 0 (a constant has derivative
    0), so what is left is the float Fornberg recurrence's own error, and
    ``eps * sum|w|`` is what the data's rounding is amplified by. On a
    uniform grid this is the rule of ``_weights.max_accuracy`` (``eps *
    sum|w| <= sqrt(eps)`` at unit step; measured: float64 forward first
    derivative 0.03 at accuracy 24, float32 0.3 at 12, both the uniform
    limits). The coordinates ``xs`` and weights are scaled alike, so the
    product is scale free.
    """
    eps = float(np.finfo(rdtype).eps)
    wr = w.astype(rdtype).astype(np.float64)
    count = starts[:, 1]
    first = starts[:, 0]
    h = np.abs(xs[first + count - 1] - xs[first]) / (count - 1)
    hp = h ** order
    return np.maximum(np.abs(wr.sum(axis=1)), eps * np.abs(wr).sum(axis=1)) * hp / math.sqrt(eps)


def _nonuniform_plan(order, accuracy, scheme, boundary, x, rdtype, dx_name="dx"):
    """``(starts, weights, n_out)`` for the non-uniform kernels.

    ValueError if any row's weights amplify rounding beyond the budget of
    :func:`_rounding_excess` (the uniform limit does not bound them: on a
    geometric grid with ratio 1.15 the first derivative of a constant came
    out 2849 at accuracy 24, 0.002 at 20); the message names the worst point
    and the highest accuracy these coordinates accept.
    """
    starts, w, xs, e = _nonuniform_weights(order, accuracy, scheme, boundary, x)
    excess = _rounding_excess(starts, w, xs, order, rdtype)
    if not excess.max() <= 1.0:  # NaN refused too
        j = int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)))
        c = int(starts[j, 2])
        step = 2 if scheme == "centered" else 1
        ok = 0
        for acc in range(accuracy - step, 0, -step):  # only on this error path
            if x.shape[0] < _min_points(order, acc, scheme, boundary, False)[0]:
                continue
            st, ww, _, _ = _nonuniform_weights(order, acc, scheme, boundary, x)
            if _rounding_excess(st, ww, xs, order, rdtype).max() <= 1.0:
                ok = acc
                break
        hint = (f"accuracy={ok} is the highest these coordinates accept" if ok else
                "no accuracy is usable on these coordinates")
        raise ValueError(
            f"accuracy={accuracy} is too high for order={order}, scheme={scheme!r} on "
            f"the coordinates {dx_name} in {np.dtype(rdtype)}: at point {c} ({dx_name}[{c}]"
            f" = {x[c]:.6g}) the weights amplify rounding {excess[j]:.2g} times beyond "
            f"sqrt(eps)/spacing**{order}; {hint}")
    with np.errstate(over="ignore", under="ignore"):
        w = np.ldexp(w, -e * order).astype(rdtype)
    if not np.isfinite(w).all():
        raise ValueError(
            f"{dx_name} coordinates are too close together for order={order}: the "
            f"stencil weights (about 1/spacing**{order}) overflow {np.dtype(rdtype)}")
    return starts, w, starts.shape[0]


# ------------------------------------------------------------- validation

def _check_dx(dx, n, axis, boundary, name="dx"):
    """A float (uniform) or a float64 coordinate array (non-uniform)."""
    check_not_masked(dx, name, "a masked coordinate or spacing would be used as a value")
    if isinstance(dx, (numbers.Number, np.generic)) or (
            isinstance(dx, np.ndarray) and dx.ndim == 0):
        return check_positive_scalar(name, dx)
    if isinstance(dx, (str, bytes)):
        raise TypeError(f"{name} must be a positive number or a 1-D coordinate array, "
                        f"got {short_repr(dx)}")
    try:
        x = np.asarray(dx)
    except Exception as exc:
        raise TypeError(f"{name} must be a positive number or a 1-D coordinate array, "
                        f"got {short_repr(dx)}") from exc
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real coordinates, got dtype {x.dtype}: "
                        f"{short_repr(dx)}")
    if x.ndim != 1:
        raise ValueError(f"{name} must be a positive number or a 1-D coordinate array, "
                         f"got an array of shape {x.shape}")
    if x.shape[0] != n:
        raise ValueError(f"{name} has {x.shape[0]} coordinates but u has {n} points "
                         f"along axis {axis}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} coordinates must be finite, got {short_repr(dx)}")
    d = np.diff(x)
    if not ((d > 0).all() or (d < 0).all()):
        raise ValueError(f"{name} coordinates must be strictly monotonic, got "
                         f"{short_repr(dx)}")
    if boundary == "periodic":
        raise ValueError(f"boundary='periodic' needs a uniform scalar {name}, got a "
                         f"coordinate array")
    return x


def _permutation(arr):
    """Axes order under which ``arr`` is C-contiguous, or None."""
    if arr.flags.c_contiguous:
        return tuple(range(arr.ndim))
    if arr.flags.f_contiguous:
        return tuple(range(arr.ndim - 1, -1, -1))
    perm = tuple(sorted(range(arr.ndim), key=lambda a: -abs(arr.strides[a])))
    if arr.transpose(perm).flags.c_contiguous:
        return perm
    return None


_KERNELS = {
    (True, False): _k.uniform_serial, (True, True): _k.uniform_parallel,
    (False, False): _k.nonuniform_serial, (False, True): _k.nonuniform_parallel,
}


def _launch(uniform, parallel, u2, out2, inner, a, b):
    if not parallel:
        _KERNELS[uniform, False](u2, out2, inner, a, b)
        return
    # Work units (about 65536 elements each) handed out one at a time rather
    # than split evenly up front: a thread on a core shared with another
    # process then takes fewer units instead of holding up the call. Quiet
    # machine, 2e7 float64: 4.1 ms vs 4.3 ms (acc 2), 6.8 vs 7.1 ms (acc 6).
    with numba.parallel_chunksize(1):
        _KERNELS[uniform, True](u2, out2, inner, a, b)


class _Job:
    __slots__ = ("u", "perm", "axis", "plan", "uniform", "shape", "dtype", "out", "user")


def _prepare(u, order, dx, axis, accuracy, scheme, boundary, out, dx_name="dx"):
    """Validate everything and return a job; no kernel runs here (the
    non-uniform weights are computed by :func:`_run`)."""
    arr, dtype = as_float_array(u, "u")
    order = check_int("order", order, 1)
    scheme = check_scheme(scheme)
    accuracy = check_accuracy(accuracy, scheme)
    boundary = check_choice("boundary", boundary, BOUNDARIES)
    # before any weights are computed: accuracy=100000 must not run Fornberg
    check_accuracy_limit(accuracy, order, scheme, dtype, edges=boundary == "one-sided")
    ax = normalize_axis(axis, arr.ndim)
    n = arr.shape[ax]
    h = _check_dx(dx, n, ax, boundary, dx_name)
    uniform = not isinstance(h, np.ndarray)
    need, _ = _min_points(order, accuracy, scheme, boundary, uniform)
    if n < need:
        raise ValueError(
            f"u has {n} points along axis {ax}, but order={order}, accuracy="
            f"{accuracy}, scheme={scheme!r} with boundary={boundary!r} needs at "
            f"least {need}")
    _, width = _min_points(order, accuracy, scheme, boundary, uniform)
    n_out = n - width + 1 if boundary == "valid" else n
    shape = arr.shape[:ax] + (n_out,) + arr.shape[ax + 1:]
    if out is not None:
        check_out(out, shape, dtype, inputs=(u, arr))
    rdtype = _REAL[dtype]
    if uniform and rdtype.type(_power(h, order)) == 0:
        # den * dx**order would round to 0 and the kernel would divide by it
        raise ValueError(
            f"{dx_name}={dx!r} is too small for order={order}: {dx_name}**{order} "
            f"underflows to 0 in {rdtype}")
    if uniform:  # pure Python, cached
        plan = _uniform_plan(order, accuracy, scheme, boundary, n, h, rdtype)
        if len(_FAST) >= 256:
            _FAST.clear()
        _FAST[(order, accuracy, scheme, boundary, n, h, dtype)] = plan
    else:  # runs the Fornberg kernel: built in _run, after every check
        plan = (order, accuracy, scheme, boundary, h, rdtype, dx_name)
    job = _Job()
    perm = _permutation(arr)
    if perm is None:  # contiguous under no permutation: copy once
        arr = np.ascontiguousarray(arr)
        perm = tuple(range(arr.ndim))
    job.u, job.perm, job.axis, job.plan = arr, perm, ax, plan
    job.uniform, job.shape, job.dtype, job.out = uniform, shape, dtype, out
    return job


def _run(job):
    perm, ax = job.perm, job.axis
    ut = job.u.transpose(perm)
    pax = perm.index(ax)
    outer = math.prod(ut.shape[:pax])
    inner = math.prod(ut.shape[pax + 1:])
    n = ut.shape[pax]
    tshape = tuple(job.shape[p] for p in perm)
    inv = tuple(np.argsort(perm))
    out = job.out
    direct = out is not None and out.transpose(perm).flags.c_contiguous
    target = out.transpose(perm) if direct else np.empty(tshape, job.dtype)
    if ut.size:
        n_out = tshape[pax]
        plan = job.plan if job.uniform else _nonuniform_plan(*job.plan)
        _launch(job.uniform, ut.size >= _config.PARALLEL_MIN,
                ut.reshape(outer, n * inner), target.reshape(outer, n_out * inner),
                inner, plan[0], plan[1])
    if out is None:
        return target.transpose(inv)
    if not direct:
        np.copyto(out, target.transpose(inv))
    return out


# Validated uniform plans by (order, accuracy, scheme, boundary, n, dx,
# dtype), for the fast path of `_diff`: at 1e3 elements the whole call has
# about 2 us (NumPy slicing takes 1.3 us, a bare Numba dispatch 0.2-0.4), so a
# repeated call on a C-contiguous array of a native result dtype skips the
# validation it already passed (only the array-dependent checks remain).
_FAST = {}


def _diff(u, order, dx, axis, accuracy, scheme, boundary, out):
    tdx = type(dx)
    if (type(u) is np.ndarray and (tdx is float or tdx is int or tdx is np.float64)
            and type(order) is int
            and type(accuracy) is int and type(axis) is int
            and u.flags.c_contiguous):
        ndim = u.ndim
        ax = axis + ndim if axis < 0 else axis
        if 0 <= ax < ndim:
            shape = u.shape
            try:
                plan = _FAST.get((order, accuracy, scheme, boundary, shape[ax], dx, u.dtype))
            except TypeError:  # unhashable scheme/boundary: validation reports it
                plan = None
            if plan is not None:
                ip, fp, n_out = plan
                dtype = u.dtype
                if ndim == 1:
                    rshape = (n_out,)
                else:
                    rshape = shape[:ax] + (n_out,) + shape[ax + 1:]
                if out is None:
                    res = np.empty(rshape, dtype)
                elif (type(out) is np.ndarray and out.shape == rshape
                        and out.dtype == dtype and out.flags.c_contiguous
                        and out.flags.writeable and not np.may_share_memory(out, u)):
                    res = out
                else:
                    res = None
                if res is not None:
                    if u.size:
                        parallel = u.size >= _config.PARALLEL_MIN
                        if ndim == 1 and not parallel:
                            _k.uniform_serial(u[None], res[None], 1, ip, fp)
                        else:
                            outer = math.prod(shape[:ax])
                            _launch(True, parallel, u.reshape(outer, -1),
                                    res.reshape(outer, -1), math.prod(shape[ax + 1:]),
                                    ip, fp)
                    return res
    return _run(_prepare(u, order, dx, axis, accuracy, scheme, boundary, out))


# ------------------------------------------------------------- public API

def derivative(u: ArrayLike, order: int = 1, *, dx: float | ArrayLike = 1.0,
               axis: int = -1, accuracy: int = 2, scheme: str = "centered",
               boundary: str = "one-sided",
               out: np.ndarray | None = None) -> np.ndarray:
    """Finite-difference derivative of sampled data along one axis.

    On a uniform grid the ``order``-th derivative at point ``i`` is
    ``sum(num_k * u[i + k]) / (den * dx**order)`` with the exact integer
    stencil of :func:`fastfd.stencil`; its truncation error is
    ``O(dx**accuracy)`` and it is exact on polynomials of degree
    ``order + accuracy - 1``.

    Parameters
    ----------
    u : array_like
        Samples, at least 1-D, any memory layout. Never modified.
    order : int, optional
        Derivative order, >= 1.
    dx : float or 1-D array_like, optional
        Grid spacing (positive), or the coordinates of the samples along
        ``axis`` (strictly increasing or decreasing, ``u.shape[axis]``
        values) for a non-uniform grid. Non-uniform weights are computed per
        point in float64 by Fornberg's recurrence over the neighbouring
        coordinates; centered stencils there use ``order + accuracy`` points
        rounded up to odd, so even derivatives keep their order.
    axis : int, optional
        Axis to differentiate along; negative counts from the end.
    accuracy : int, optional
        Formal order of accuracy, >= 1; even for ``scheme="centered"``. At
        most ``fastfd.stencils.max_accuracy(order, scheme, dtype)`` (and, with
        one-sided edges, the one-sided limit): beyond it the weights are not
        exact integers over one denominator in the working dtype or amplify
        rounding by more than ``1/sqrt(eps)``. Float64, first derivative:
        40 centered, 24 one-sided; float32: 18 and 12. With coordinates
        ``dx`` every point's float weights ``w`` must also pass the same
        budget, ``max(|sum w|, eps * sum|w|) * h**order <= sqrt(eps)`` with
        ``h`` the mean spacing of the point's stencil (``sum w`` is what a
        constant's derivative comes out as): graded grids accept less (a
        geometric grid of ratio 1.15 and 60 points: 14 centered in
        float64), and the error names the worst point and the highest
        accuracy the coordinates accept.
    scheme : {"centered", "forward", "backward"}, optional
        Interior stencil.
    boundary : {"one-sided", "periodic", "valid"}, optional
        ``"one-sided"``: same shape as ``u``; points whose stencil would leave
        the array use a one-sided stencil of ``order + accuracy`` points,
        which keeps the formal accuracy (``np.gradient(edge_order=2)`` at
        ``accuracy=2``). ``"periodic"``: indices wrap around (uniform ``dx``
        only; the period is ``u.shape[axis] * dx``). ``"valid"``: interior
        points only, the axis shrinks by the stencil width minus one.
    out : ndarray, optional
        Result buffer of exactly the result shape and dtype, writeable, not
        overlapping ``u``.

    Returns
    -------
    ndarray
        float32 for float16/float32 input, complex64/complex128 kept,
        float64 otherwise. Fortran-ordered input gives a Fortran-ordered
        result.

    Raises
    ------
    TypeError
        Non-numeric ``u``, a masked ``u`` (``numpy.ma.MaskedArray``: pass
        ``u.filled(value)`` or ``np.asarray(u)``; the same in every function
        of this module, and for a masked coordinate array ``dx`` or a masked
        ``out``), non-integer ``order``/``accuracy``/``axis`` (a 0-d integer
        array is an integer, as in NumPy).
    numpy.exceptions.AxisError
        ``axis`` out of range (a ValueError and an IndexError, as in NumPy).
    ValueError
        Bad ``dx``, ``scheme``, ``boundary``, ``order``, ``accuracy`` (above
        the limit of the working precision, see ``accuracy``) or ``out``, or
        fewer points along ``axis`` than the stencil needs.

    Notes
    -----
    Rounding: the error of a stencil grows like ``eps * sum|w| * max|u| /
    dx**order`` as ``dx`` shrinks (``w`` the unit-step weights), so in
    float32 high orders on fine grids lose digits, and more at higher
    accuracy, whose ``sum|w|`` is larger. The accuracy limit cannot know
    ``dx``: it bounds that error by ``sqrt(eps) * max|u| / dx**order``, not by
    the truncation error it trades against. Measured, forward fourth
    derivative of float32 ``sin(3x)`` on ``[0, 1]``: with 12 points accuracy
    5 is best (relative error 7e-3, 0.2 at accuracy 2); with 30 points
    accuracy 2 is (0.04, 0.45 at accuracy 5, of which the float32 samples
    alone, differentiated in float64, cause 0.17); with 200 points every
    accuracy is above 100%. Choose the accuracy for your ``dx`` or use
    float64.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> x = np.linspace(0.0, 1.0, 5)
    >>> grid.derivative(x**2, dx=0.25)
    array([0. , 0.5, 1. , 1.5, 2. ])
    >>> grid.derivative(x**3, 2, dx=x, accuracy=2)
    array([0. , 1.5, 3. , 4.5, 6. ])
    >>> grid.derivative(np.arange(6.0)**2, boundary="valid")
    array([2., 4., 6., 8.])
    """
    return _diff(u, order, dx, axis, accuracy, scheme, boundary, out)


def forward_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Forward difference ``(u[i+1] - u[i]) / dx``, first order accurate.

    The last point, which has no right neighbour, uses the backward
    difference. Same shape as ``u``; see :func:`derivative` for ``dx``,
    ``axis``, ``out`` and dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.forward_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([1., 3., 5., 5.])
    """
    return _diff(u, 1, dx, axis, 1, "forward", "one-sided", out)


def backward_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Backward difference ``(u[i] - u[i-1]) / dx``, first order accurate.

    The first point uses the forward difference. Same shape as ``u``; see
    :func:`derivative`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.backward_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([1., 1., 3., 5.])
    """
    return _diff(u, 1, dx, axis, 1, "backward", "one-sided", out)


def centered_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Centered difference ``(u[i+1] - u[i-1]) / (2*dx)``, second order.

    Interior values are bit for bit those of ``np.gradient``; the two edge
    points use the one-sided second-order stencils ``(-3u[0] + 4u[1] -
    u[2]) / (2*dx)`` and its mirror, as ``np.gradient(edge_order=2)`` does.
    Same shape as ``u``; see :func:`derivative`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.centered_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([0., 2., 4., 6.])
    """
    return _diff(u, 1, dx, axis, 2, "centered", "one-sided", out)


def second_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                out: np.ndarray | None = None) -> np.ndarray:
    """Second difference ``(u[i+1] - 2u[i] + u[i-1]) / dx**2``, second order.

    The edge points use the one-sided second-order stencil ``(2u[0] - 5u[1]
    + 4u[2] - u[3]) / dx**2`` and its mirror, so at least 4 points are
    needed. Same shape as ``u``; see :func:`derivative`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.second_diff(np.array([0.0, 1.0, 4.0, 9.0, 16.0]), dx=1.0)
    array([2., 2., 2., 2., 2.])
    """
    return _diff(u, 2, dx, axis, 2, "centered", "one-sided", out)


def gradient(u: ArrayLike, *spacing: float | ArrayLike,
             axis: int | tuple[int, ...] | None = None, accuracy: int = 2,
             boundary: str = "one-sided") -> np.ndarray | tuple[np.ndarray, ...]:
    """First derivatives along several axes, with ``np.gradient``'s call shape.

    Parameters
    ----------
    u : array_like
        Samples, at least 1-D.
    *spacing : scalars or 1-D arrays, optional
        None (unit spacing), one positive scalar for every axis, or one value
        per differentiated axis, each a positive scalar or a coordinate array
        of that axis's length (see ``dx`` in :func:`derivative`).
    axis : None, int or tuple of ints, optional
        Axes to differentiate along; all of them by default.
    accuracy : int, optional
        Even formal order of accuracy of the centered interior and the
        one-sided edges. At 2 the result equals ``np.gradient(u, *spacing,
        edge_order=2)`` to rounding (the interior bit for bit on uniform
        grids).
    boundary : {"one-sided", "periodic"}, optional
        Edge handling; see :func:`derivative`.

    Returns
    -------
    ndarray or tuple of ndarray
        One array when a single axis is differentiated, else a tuple in the
        order of the axes.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> y, x = np.mgrid[0:4, 0:5].astype(float)
    >>> dy, dx = grid.gradient(x * y, 1.0, 0.5)
    >>> dx[1]
    array([2., 2., 2., 2., 2.])
    >>> grid.gradient(x**2, axis=1)[0]
    array([0., 2., 4., 6., 8.])
    """
    arr, _ = as_float_array(u, "u")
    ndim = arr.ndim
    if axis is None:
        axes = tuple(range(ndim))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis must not repeat an axis, got {short_repr(axis)}")
    else:
        axes = (normalize_axis(axis, ndim),)
    boundary = check_choice("boundary", boundary, ("one-sided", "periodic"))
    if len(spacing) == 0:
        dxs = [1.0] * len(axes)
    elif len(spacing) == 1 and np.ndim(spacing[0]) == 0:
        dxs = [spacing[0]] * len(axes)
    elif len(spacing) == len(axes):
        dxs = list(spacing)
    else:
        raise TypeError(
            f"spacing must be empty, one scalar, or one value per differentiated "
            f"axis ({len(axes)}), got {len(spacing)} values")
    jobs = [_prepare(arr, 1, h, a, accuracy, "centered", boundary, None,
                     f"spacing[{i}]" if len(spacing) > 1 else "spacing")
            for i, (h, a) in enumerate(zip(dxs, axes))]
    results = tuple(_run(job) for job in jobs)
    return results[0] if len(results) == 1 else results

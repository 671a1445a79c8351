"""1-D difference kernels and the general stencil applier (njit, serial).

Arithmetic only: no validation, no allocation except the documented scratch of
``apply_stencil``'s one-sided mode. Constants and the spacing are cast to the
real dtype of ``u`` first (``real_like``), so float32 data is computed in
float32 exactly as NumPy evaluates the same expression, and integer literals
never promote float32 to float64.
"""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._config import CACHE, FASTMATH
from .fornberg import fornberg

ONE_SIDED = 0
PERIODIC = 1
INTERIOR = 2


def real_like(x, arr):
    """``x`` as the real dtype of ``arr`` (an array or a scalar; the float
    type for complex)."""
    dt = np.empty(0, np.asarray(arr).dtype).real.dtype
    return dt.type(x)


@overload(real_like)
def _real_like_impl(x, arr):
    dt = arr.dtype if isinstance(arr, types.Array) else arr
    if isinstance(dt, types.Complex):
        dt = dt.underlying_float

    def impl(x, arr):
        return dt(x)

    return impl


# ---------------------------------------------------------------------------
# Preconditions of the public kernels (fastfd.kernels). Each is O(1) (or
# O(taps)) next to the O(n) loop and raises inside the kernel, so it also holds
# when a user's own @njit code calls it: Numba does not bounds-check.
#
# Cost, measured on centered_diff at 100 points called from an njit loop
# (26 ns unchecked): a helper that takes arrays and raises a formatted message
# added 30-40 ns per call, as did a kernel name passed as a string (reference
# counting); tests returning a bool or an int plus one cold `_fail_*` function
# that takes only scalars and builds the message added under 5 ns. Hence the
# split below: `bad_*` / `overlaps` test, `fail_*` raise, kernels by int id.

FORWARD, BACKWARD, CENTERED, SECOND, STENCIL, LAP2, LAP3, DERIV, MIXED = range(9)
NAMES = ("forward_diff", "backward_diff", "centered_diff", "second_diff",
         "apply_stencil", "laplacian_2d", "laplacian_3d", "derivative", "mixed_derivative")


@njit(cache=CACHE)
def _shape_str(shape):
    s = "("
    for d in range(len(shape)):
        if d:
            s += ", "
        s += str(shape[d])
    return s + ("," if len(shape) == 1 else "") + ")"


@njit(cache=CACHE)
def _byte_range(a):
    """``[lo, hi)`` bytes spanned by ``a`` (``hi == lo`` if it is empty)."""
    lo = a.ctypes.data
    hi = lo
    for d in range(a.ndim):
        n = a.shape[d]
        if n == 0:
            return lo, lo
        ext = (n - 1) * a.strides[d]
        if ext < 0:
            lo += ext
        else:
            hi += ext
    return lo, hi + a.itemsize


@njit(cache=CACHE)
def _ranges_overlap(ulo, uhi, olo, ohi, ustep, ostep, usize, osize):
    if not (ulo < ohi and olo < uhi):
        return False
    # 1-D views with one stride whose elements interleave without sharing a
    # byte (z.real and z.imag of a complex array) are disjoint
    if ustep == ostep and ustep != 0:
        step = abs(ustep)
        gap = (olo - ulo) % step
        if gap >= usize and step - gap >= osize:
            return False
    return True


@njit(cache=CACHE)
def overlaps(u, out):
    """Whether the byte ranges of ``u`` and ``out`` intersect (address
    ranges, not elements; the one exception recognized is two 1-D views with
    the same stride that interleave without sharing a byte)."""
    ulo, uhi = _byte_range(u)
    olo, ohi = _byte_range(out)
    one_d = u.ndim == 1 and out.ndim == 1
    return _ranges_overlap(ulo, uhi, olo, ohi, u.strides[0] if one_d else 0,
                           out.strides[0] if one_d else 0, u.itemsize, out.itemsize)


def mode_is_int(mode):
    """Whether ``mode`` is of an integer type (not bool). Decided from the
    Numba type at compile time, so it costs nothing at run time."""
    return isinstance(mode, (int, np.integer)) and not isinstance(mode, (bool, np.bool_))


@overload(mode_is_int)
def _mode_is_int_impl(mode):
    # types.Boolean is not a types.Integer: True == PERIODIC is refused
    ok = isinstance(mode, types.Integer)
    return lambda mode: ok


def mode_str(mode):
    """How a bad ``mode`` is shown: its value for an integer or a bool, its
    type otherwise (Numba's ``str`` of a float is ``<object type:float64>``)."""
    return str(mode)


@overload(mode_str)
def _mode_str_impl(mode):
    if isinstance(mode, types.Integer):
        return lambda mode: str(mode)
    if isinstance(mode, types.Boolean):
        return lambda mode: ("True" if mode else "False") + (
            " (a bool; pass one of the integer constants)")
    text = "a value of type " + str(mode) + " (mode is an integer)"
    return lambda mode: text


@njit(cache=CACHE)
def bad_mode(mode):
    if not mode_is_int(mode):
        return True
    return mode != ONE_SIDED and mode != PERIODIC and mode != INTERIOR


@njit(cache=CACHE)
def short_axis(shape, need):
    """First axis of ``shape`` shorter than ``need``, or -1."""
    for d in range(len(shape)):
        if shape[d] < need:
            return d
    return -1


@njit(cache=CACHE)
def check_1d(u, out, minimum):
    """0 if ``u`` and ``out`` are 1-D of one length ``>= minimum`` and do
    not overlap, else the code :func:`fail_1d` reports."""
    if u.ndim != 1 or out.ndim != 1:
        return 1
    if out.shape[0] != u.shape[0]:
        return 2
    if u.shape[0] < minimum:
        return 3
    if overlaps(u, out):
        return 4
    return 0


@njit(cache=CACHE)
def fail_1d(k, err, n, n_out, minimum):
    if err == 1:
        fail_ndim(k, "u and out")
    if err == 2:
        fail_length(k, "out", n_out, n, "u")
    if err == 3:
        fail_short(k, n, minimum)
    fail_overlap(k)


@njit(cache=CACHE)
def check_grid(u, out, mode):
    """0 if ``mode`` is known, ``out`` has ``u``'s shape, every axis is at
    least 4 long (ONE_SIDED edge stencil) or 3, and they do not overlap;
    else the code :func:`fail_grid` reports."""
    if bad_mode(mode):
        return 1
    if out.shape != u.shape:
        return 2
    if short_axis(u.shape, 4 if mode == ONE_SIDED else 3) >= 0:
        return 3
    if overlaps(u, out):
        return 4
    return 0


@njit(cache=CACHE)
def fail_grid(k, err, shape, out_shape, mode):
    if err == 1:
        fail_mode(k, mode)
    if err == 2:
        fail_shape(k, shape, out_shape)
    if err == 3:
        need = 4 if mode == ONE_SIDED else 3
        fail_axis(k, shape, need, short_axis(shape, need))
    fail_overlap(k)


def same_float_dtype(u, out):
    """Whether ``u`` and ``out`` are float32/float64/complex arrays of one
    dtype (decided when the caller compiles)."""
    return u.dtype == out.dtype and u.dtype.kind in "fc"


@overload(same_float_dtype)
def _same_float_dtype_impl(u, out):
    ok = (isinstance(u, types.Array) and isinstance(out, types.Array)
          and isinstance(u.dtype, (types.Float, types.Complex)) and u.dtype == out.dtype)
    return lambda u, out: ok


def dtypes_str(u, out):
    """``"<u dtype> and <out dtype>"``, for messages."""
    return f"{u.dtype} and {out.dtype}"


@overload(dtypes_str)
def _dtypes_str_impl(u, out):
    text = f"{getattr(u, 'dtype', u)} and {getattr(out, 'dtype', out)}"
    return lambda u, out: text


@njit(cache=CACHE)
def check_dtype(k, u, out):
    """An integer ``u`` would make the kernels truncate ``1/dx`` to an
    integer (``centered_diff`` of ``10 * arange(5)`` with dx=2.5 gave 5, not
    4); mixed dtypes would round through the wrong precision."""
    if not same_float_dtype(u, out):
        raise ValueError(NAMES[k] + ": u and out must be float32, float64, complex64 or "
                         "complex128 arrays of one dtype, got " + dtypes_str(u, out))


@njit(cache=CACHE)
def check_spacing(k, name, h):
    # also catches NaN (every comparison is False)
    if not (h > 0 and h < np.inf):
        raise ValueError(NAMES[k] + ": " + name + " must be positive and finite "
                         "(got zero, a negative number, NaN or inf)")


@njit(cache=CACHE)
def fail_ndim(k, what):
    raise ValueError(NAMES[k] + ": " + what + " must be 1-D arrays")


@njit(cache=CACHE)
def fail_overlap(k):
    raise ValueError(NAMES[k] + ": out overlaps u in memory; pass a separate out array")


@njit(cache=CACHE)
def fail_mode(k, mode):
    raise ValueError(NAMES[k] + ": mode must be ONE_SIDED (0), PERIODIC (1) or "
                     "INTERIOR (2), got " + mode_str(mode))


@njit(cache=CACHE)
def fail_length(k, name, got, expected, of):
    raise ValueError(NAMES[k] + ": " + name + " has length " + str(got) + ", expected "
                     + str(expected) + " (the length of " + of + ")")


@njit(cache=CACHE)
def fail_short(k, n, minimum):
    raise ValueError(NAMES[k] + ": u has length " + str(n) + ", needs at least "
                     + str(minimum))


@njit(cache=CACHE)
def fail_shape(k, ushape, oshape):
    raise ValueError(NAMES[k] + ": out has shape " + _shape_str(oshape) + ", expected "
                     + _shape_str(ushape) + " (the shape of u)")


@njit(cache=CACHE)
def fail_axis(k, shape, need, axis):
    raise ValueError(NAMES[k] + ": u has shape " + _shape_str(shape)
                     + "; this mode needs every axis at least " + str(need)
                     + " long (axis " + str(axis) + " has " + str(shape[axis]) + ")")


@njit(cache=CACHE)
def fail_empty():
    raise ValueError("apply_stencil: offsets and weights are empty; a stencil needs "
                     "at least one point")


@njit(cache=CACHE)
def _int_str(v):
    """``str`` of an int64; Numba's ``str(-2**63)`` fails to allocate (it
    negates the value)."""
    if v == np.iinfo(np.int64).min:
        return "-9223372036854775808"
    return str(v)


@njit(cache=CACHE)
def fail_one_sided(n, lo, hi, d, p, fits):
    if not fits:  # hi - lo + 1 may not even fit in int64
        raise ValueError("apply_stencil: u has length " + str(n) + ", ONE_SIDED needs the "
                         "stencil to span at most " + str(n) + " points (offsets "
                         + _int_str(lo) + ".." + _int_str(hi) + ")")
    need = max(hi - lo + 1, d + p)
    raise ValueError("apply_stencil: u has length " + str(n) + ", ONE_SIDED needs at least "
                     + str(need) + " (the stencil spans " + str(hi - lo + 1)
                     + " points, offsets " + str(lo) + ".." + str(hi)
                     + "; its one-sided edge stencils, derivative " + str(d)
                     + " of accuracy " + str(p) + ", take " + str(d + p) + ")")


# The 1-D differences. ``mode`` only changes the end points: ONE_SIDED
# (the formulas below), PERIODIC (the interior formula on wrapped indices),
# INTERIOR (ends left untouched).


@njit(cache=CACHE, fastmath=FASTMATH)
def forward_diff(u, dx, out, mode):
    n = u.shape[0]
    h = real_like(dx, u)
    for i in range(n - 1):
        out[i] = (u[i + 1] - u[i]) / h
    if mode == ONE_SIDED:
        out[n - 1] = (u[n - 1] - u[n - 2]) / h
    elif mode == PERIODIC:
        out[n - 1] = (u[0] - u[n - 1]) / h


@njit(cache=CACHE, fastmath=FASTMATH)
def backward_diff(u, dx, out, mode):
    n = u.shape[0]
    h = real_like(dx, u)
    if mode == ONE_SIDED:
        out[0] = (u[1] - u[0]) / h
    elif mode == PERIODIC:
        out[0] = (u[0] - u[n - 1]) / h
    for i in range(1, n):
        out[i] = (u[i] - u[i - 1]) / h


@njit(cache=CACHE, fastmath=FASTMATH)
def centered_diff(u, dx, out, mode):
    n = u.shape[0]
    h = real_like(dx, u)
    h2 = h + h
    for i in range(1, n - 1):
        out[i] = (u[i + 1] - u[i - 1]) / h2
    if mode == PERIODIC:
        out[0] = (u[1] - u[n - 1]) / h2
        out[n - 1] = (u[0] - u[n - 2]) / h2
    elif mode == ONE_SIDED:
        # 3-point one-sided, O(h**2): (-3, 4, -1) / 2 as np.gradient(edge_order=2),
        # summed as differences 3 (u1 - u0) - (u2 - u1) so a constant gives 0.
        three = real_like(3.0, u)
        out[0] = (three * (u[1] - u[0]) - (u[2] - u[1])) / h2
        out[n - 1] = (three * (u[n - 1] - u[n - 2]) - (u[n - 2] - u[n - 3])) / h2


@njit(cache=CACHE, fastmath=FASTMATH)
def second_diff(u, dx, out, mode):
    n = u.shape[0]
    h = real_like(dx, u)
    hh = h * h
    for i in range(1, n - 1):
        out[i] = (u[i + 1] - (u[i] + u[i]) + u[i - 1]) / hh
    if mode == PERIODIC:
        out[0] = (u[1] - (u[0] + u[0]) + u[n - 1]) / hh
        out[n - 1] = (u[0] - (u[n - 1] + u[n - 1]) + u[n - 2]) / hh
    elif mode == ONE_SIDED:
        # 4-point one-sided, O(h**2): (2, -5, 4, -1), summed as differences
        # 2 (u0 - u1) - 3 (u1 - u2) + (u2 - u3) so a constant gives exactly 0.
        two = real_like(2.0, u)
        three = real_like(3.0, u)
        out[0] = (two * (u[0] - u[1]) - three * (u[1] - u[2]) + (u[2] - u[3])) / hh
        out[n - 1] = (two * (u[n - 1] - u[n - 2]) - three * (u[n - 2] - u[n - 3])
                      + (u[n - 3] - u[n - 4])) / hh


# ---------------------------------------------------------------------------
# General stencil


@njit(cache=CACHE, fastmath=FASTMATH)
def _span(offsets):
    """``(min, max)`` of ``offsets`` as int64. Every offset is read as int64
    here and in the loops (a narrow type overflows on negation: ``-(-128)``
    is -128 in int8)."""
    lo = np.int64(offsets[0])
    hi = lo
    for k in range(offsets.shape[0]):
        o = np.int64(offsets[k])
        lo = min(lo, o)
        hi = max(hi, o)
    return lo, hi


@njit(cache=CACHE, fastmath=FASTMATH)
def stencil_moments(offsets, weights):
    """``(d, p, scale)`` of a stencil from its moments ``M_q = sum w o**q``.

    A ``d``-th derivative stencil on a unit grid scaled by ``1/h**d`` has
    ``M_q = 0`` for ``q < d`` and ``M_d = d! * scale``; it is of accuracy ``p``
    when ``M_q`` also vanishes for ``d < q < d + p``. "Vanishes" means below
    ``1e-9`` of ``sum |w| |o|**q``: rounding float64 weights leaves about
    1e-15 there, and the leading error moment of every standard stencil
    (orders 1-6, centered accuracy up to 12, one-sided up to 8) is at least
    8e-7 of it (measured). Weights in a narrower type (float32, rounding
    error 6e-8) use ``1e-5``, with the fallback below when that is fooled.
    """
    npts = offsets.shape[0]
    tol = 1e-9 if real_like(1.0 + 1e-12, weights) != 1.0 else 1e-5
    d = -1
    scale = 0.0
    for q in range(npts + 2):
        m, s = _moment(offsets, weights, q)
        if s > 0.0 and abs(m) > tol * s:
            if d < 0:
                d = q
                scale = m / math.gamma(q + 1.0)
            elif d < npts:
                return d, q - d, scale
    if 0 <= d < npts:
        return d, max(npts - d, 1), scale
    # No moment below npts passed the test: a stencil on npts points that
    # annihilates every polynomial of degree < npts is zero, so the test is
    # fooled by rounded weights. float32 weights of high-order one-sided
    # stencils (order 4 accuracy 7, order 5 accuracy 5, order 6 accuracy 4,
    # ...) have M_d as small as 3e-6 of its scale, under the 1e-5 threshold,
    # and the test alone would read them as an 11th derivative. For a stencil of maximal accuracy
    # on its points M_d is the only moment below q = npts that is not zero, so
    # take the largest relative moment there; the rest of the edge then uses
    # all npts points (accuracy npts - d, that of a one-sided stencil).
    best = -1.0
    for q in range(npts):
        m, s = _moment(offsets, weights, q)
        if s > 0.0 and abs(m) > best * s:
            best = abs(m) / s
            d = q
            scale = m / math.gamma(q + 1.0)
    if best <= 0.0:
        return 0, 1, 0.0
    return d, max(npts - d, 1), scale


@njit(cache=CACHE, fastmath=FASTMATH)
def _moment(offsets, weights, q):
    """``(sum w o**q, sum |w o**q|)`` in float64."""
    m = 0.0
    s = 0.0
    for k in range(offsets.shape[0]):
        t = float(weights[k]) * float(offsets[k]) ** q
        m += t
        s += abs(t)
    return m, s


@njit(cache=CACHE, fastmath=FASTMATH)
def scale_into(o, w, r):
    """o[:] = w * r over equal-length 1-D slices.

    Loops index from 0 over slices the caller cut, never ``r[k + offset]``:
    with a run-time offset Numba must handle negative indices, and that
    branch stopped LLVM from vectorizing (measured 9x slower in L1).
    """
    for k in range(o.shape[0]):
        o[k] = w * r[k]


@njit(cache=CACHE, fastmath=FASTMATH)
def add_scaled(o, w, r):
    """o[:] += w * r over equal-length 1-D slices."""
    for k in range(o.shape[0]):
        o[k] += w * r[k]


@njit(cache=CACHE, fastmath=FASTMATH)
def _set3(o, w0, r0, w1, r1, w2, r2):
    for k in range(o.shape[0]):
        o[k] = w0 * r0[k] + w1 * r1[k] + w2 * r2[k]


@njit(cache=CACHE, fastmath=FASTMATH)
def _add3(o, w0, r0, w1, r1, w2, r2):
    for k in range(o.shape[0]):
        o[k] += w0 * r0[k] + w1 * r1[k] + w2 * r2[k]


@njit(cache=CACHE, fastmath=FASTMATH)
def _apply_range(u, offsets, weights, out, lo, hi):
    # Passes of up to three taps (four streams per loop, which LLVM
    # vectorizes) over blocks of 1024 points, so the partial sums stay in L1
    # and u and out each cross the memory bus once. One tap per pass was
    # measured 1.3x slower for 5 taps at 4e6 points; a loop over the taps
    # inside the point loop did not vectorize (about 4x slower).
    npts = offsets.shape[0]
    for b in range(lo, hi, 1024):
        e = min(b + 1024, hi)
        ob = out[b:e]
        k = 0
        if npts >= 3:
            o0, o1, o2 = np.int64(offsets[0]), np.int64(offsets[1]), np.int64(offsets[2])
            _set3(ob, weights[0], u[b + o0:e + o0], weights[1], u[b + o1:e + o1],
                  weights[2], u[b + o2:e + o2])
            k = 3
        else:
            o0 = np.int64(offsets[0])
            scale_into(ob, weights[0], u[b + o0:e + o0])
            k = 1
        while k + 3 <= npts:
            o0 = np.int64(offsets[k])
            o1 = np.int64(offsets[k + 1])
            o2 = np.int64(offsets[k + 2])
            _add3(ob, weights[k], u[b + o0:e + o0], weights[k + 1], u[b + o1:e + o1],
                  weights[k + 2], u[b + o2:e + o2])
            k += 3
        while k < npts:
            o0 = np.int64(offsets[k])
            add_scaled(ob, weights[k], u[b + o0:e + o0])
            k += 1


@njit(cache=CACHE, fastmath=FASTMATH)
def apply_stencil(u, offsets, weights, out, mode):
    if bad_mode(mode):
        fail_mode(STENCIL, mode)
    if u.ndim != 1 or out.ndim != 1 or offsets.ndim != 1 or weights.ndim != 1:
        fail_ndim(STENCIL, "u, offsets, weights and out")
    n = u.shape[0]
    npts = offsets.shape[0]
    if out.shape[0] != n:
        fail_length(STENCIL, "out", out.shape[0], n, "u")
    if weights.shape[0] != npts:
        fail_length(STENCIL, "weights", weights.shape[0], npts, "offsets")
    if npts == 0:
        fail_empty()
    if overlaps(u, out):
        fail_overlap(STENCIL)
    lo, hi = _span(offsets)
    # Compare lo and hi with n before any arithmetic on them: hi - lo + 1
    # overflows int64 for offsets near +-2**62, -lo for -2**63. Once
    # -n < lo and hi < n, every expression below is within (-2n, 2n).
    fits = lo > -n and hi < n
    d = p = 0
    scale = 0.0
    if mode == ONE_SIDED:  # O(taps**2), before anything is written
        d, p, scale = stencil_moments(offsets, weights)
        if not fits or n < max(hi - lo + 1, d + p):
            fail_one_sided(n, lo, hi, d, p, fits)
    first = n  # no point's stencil fits unless fits
    last = 0
    if fits:
        first = max(0, -lo)  # first point whose stencil fits
        last = min(n, n - hi)  # one past the last such point
    if first < last:
        _apply_range(u, offsets, weights, out, first, last)
    if mode == INTERIOR:
        return
    # the points whose stencil does not fit, [0, e0) and [e1, n); one-sided
    # windows come from the left end in the first range, the right in the other
    e0 = min(first, n)
    e1 = last if first < last else e0
    if mode == PERIODIC:
        for i in range(e0):
            _periodic_point(u, offsets, weights, out, i, npts, n)
        for i in range(e1, n):
            _periodic_point(u, offsets, weights, out, i, npts, n)
        return
    # One-sided: the d-th derivative of accuracy p from the d + p points at
    # the nearer end, weights by float Fornberg on integer nodes relative to
    # the evaluation point (small integers: well conditioned), times the
    # stencil's scale 1/h**d read off its moments (d, p, scale above).
    m = d + p
    nodes = np.empty(m)
    c = np.empty((m, d + 1))
    for i in range(e0):
        _one_sided_point(u, out, i, 0, m, d, scale, nodes, c)
    for i in range(e1, n):
        _one_sided_point(u, out, i, n - m, m, d, scale, nodes, c)


@njit(cache=CACHE, fastmath=FASTMATH)
def _periodic_point(u, offsets, weights, out, i, npts, n):
    # (i + o % n) % n: o % n is in [0, n) for any int64 o, so the sum
    # cannot overflow as i + o can for offsets near 2**63
    acc = weights[0] * u[(i + np.int64(offsets[0]) % n) % n]
    for k in range(1, npts):
        acc += weights[k] * u[(i + np.int64(offsets[k]) % n) % n]
    out[i] = acc


@njit(cache=CACHE, fastmath=FASTMATH)
def _one_sided_point(u, out, i, start, m, d, scale, nodes, c):
    for j in range(m):
        nodes[j] = float(start + j - i)
    fornberg(d, 0.0, nodes, c)
    acc = scale * c[0, d] * u[start]
    for j in range(1, m):
        acc += scale * c[j, d] * u[start + j]
    out[i] = acc

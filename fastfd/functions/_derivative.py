"""Finite differences, Richardson and complex step for callables (fastfd.functions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools
import time
from typing import Any
import weakref

import numba
import numba.np.numpy_support
import numpy as np
from numpy.typing import ArrayLike
from numba.core.errors import NumbaError
from numba.extending import is_jitted

from .. import _config as config
from ..gradcheck._params import jit_return_type as _jit_return_type
from .._kernels.fd import JIT, PY
from ..steps import _eps, realized_step, step_base, step_rule
from .._validation import (
    as_real_array, check_accuracy, check_bool, check_callable, check_choice, check_h,
    check_order, check_scheme, real_dtype, short_repr,
)
from ..stencils import check_accuracy_limit, exact_weights, integer_form, stencil_offsets

__all__ = [
    "forward_diff", "backward_diff", "centered_diff", "second_derivative",
    "derivative", "DerivativeResult", "gradient", "jacobian", "hessian",
]

METHODS = ("fd", "richardson", "complex")
MAX_ORDER = 4
# Richardson (see _richardson; measured on x**4 - 2x**2, exp(x) sin(x),
# sin(x - 1) + exp(x), exp, sin and x**99 - 1 near 7, 60 points each): steps
# RICHARDSON_FIRST * s / 2**k for k < RICHARDSON_STEPS (s = max(1, |x|) up to
# |x| = 64, see _richardson_scale), extended where needed. Candidate
# windows end at k <= 11: 10 steps were the fewest that reached the best window
# of x**99 at 7 (scale 7/99), 12 leave a margin; the last RICHARDSON_SMOOTH
# steps only measure roundoff for them (with candidates among the last
# windows, nothing after them shows their roundoff: a forward difference of
# sin(x - 1) + exp(x) at -0.154 was underestimated 14x). Windows of 2, 3 and
# 4 steps (orders 4, 6, 8 for a centered accuracy-2 stencil): windows of 4
# alone left polynomials' second
# derivatives at 4e-13 relative instead of 4e-14 (a short window is already
# exact for them and amplifies roundoff less). Four following windows in the
# roundoff estimate: with two, one point in 60 was underestimated 4.6x.
RICHARDSON_FIRST = 0.125
RICHARDSON_STEPS = 16
RICHARDSON_WINDOWS = (2, 3, 4)
RICHARDSON_SMOOTH = 4
RICHARDSON_NOISE = 0.3
# Where the best window is still truncation-dominated at the end of the
# sequence, RICHARDSON_EXTEND more steps at a time, up to RICHARDSON_MAX_STEPS
# in all (h0 / 2**47: sin at 1e8 needs h ~ 1e-2, 2**-30 of h0).
RICHARDSON_EXTEND = 4
RICHARDSON_MAX_STEPS = 48
RICHARDSON_DOMINANT = 100
# The error reported for the window each point selects (the selection above
# is unchanged: values and nfev are bitwise the same) is at least
# RICHARDSON_COVER times its roundoff, measured at the point's last
# RICHARDSON_TAIL steps (where the longest window has no truncation left)
# and carried back to the window through the stencil's and the
# extrapolation's amplification (_richardson_roundoff); and at least what
# the changes around the window say (_richardson_neighbours). Measured on
# the RICH functions of tests/functions/test_derivative.py at 641 points (centered 2,
# forward 1, backward 2, centered 4; float64 and float32; with and without
# AVX-512), estimate/true error: minimum 0.35 for the tested configurations
# (0.21 for a float32 forward accuracy-1 second derivative, whose truncation
# stagnates before it converges), medians 1.1-3.6; the selection's estimate
# alone gives minimum 0.13 (0.17 tested), medians 1.0-2.8.
# COVER trades minima for medians and for the share of points within 10x
# (sin, order 2: 46 of 60 with it, 48 without): the spread between the median and
# the minimum over 641 points (3-6x here) is close to that of a perfectly
# known Gaussian noise level (|N(0, s)|: median 0.67 s, the largest of 641
# about 3.3 s, 4.9x), so a larger factor buys minima only with medians.
RICHARDSON_COVER = 2.0
RICHARDSON_TAIL = 4
# The "fd" error estimate's roundoff term allows each f value an error of
# this many eps |f|. Measured with 1 (2001 points each of ndtr, exp, sin, log,
# x**99 - 1, orders 1-3, centered/forward/backward, accuracy 1-4):
# estimate/true error never below 0.33 (scipy.special.ndtr near -1.39, whose
# own error is ~1.3 ulp: it rounds -x/sqrt(2) internally) and >= 1.0 for the
# others, median 3-10. 2 keeps every case >= 0.57, medians 5-21.
FD_ROUNDOFF_ULPS = 2.0
# parallel=None: per-coordinate kernels use the thread pool when the
# evaluations are estimated (from the timed f(x) call) to take longer than
# this. Waking the pool costs ~10-20 µs on idle cores and 4-12 ms on 2 cores
# busy with other processes.
PARALLEL_MIN_SECONDS = 1e-3


@dataclass(frozen=True)
class DerivativeResult:
    """What ``derivative(..., full_output=True)`` returns.

    Attributes
    ----------
    value : float or ndarray
        The derivative (the same as with ``full_output=False``).
    error : float or ndarray
        Estimated absolute error of ``value``, at least ``eps * |value|``.
        ``"fd"``: the difference to the same stencil at twice the step,
        divided by ``2**accuracy - 1`` (the leading truncation term; costs a
        second set of evaluations), plus the roundoff bound ``2 eps
        sum|w_k f_k| / h**order`` (each ``f`` value allowed 2 ulps; measured
        on ndtr, exp, sin, log and ``x**99 - 1``: never below 0.57x of the
        true error, median 5-21x above it); ``"richardson"``: for the window
        returned, the largest of its truncation estimate (also from the
        change before), the changes to the following windows, the roundoff
        predicted from ``|f(x)|``, and twice the roundoff measured at the
        smallest steps and carried to the window through the stencil's and
        the extrapolation's amplification (measured on smooth functions:
        never below 0.35x of the true error, median 1.1-3.6x above it; see
        ``RICHARDSON_COVER``); ``"complex"``:
        ``eps * |value|`` (no cancellation, and the truncation error is
        ``O(h**2)`` with ``h ~ eps``).
    step : float or ndarray
        Step(s) used. For ``"richardson"`` the first (largest) step; the
        others are ``step / 2**k``, ``k < 16`` (more where the sequence was
        extended: ``(nfev - 1) / n`` steps for ``n`` stencil points).
    nfev : int
        Evaluations of ``f`` per point (calls of a vectorized ``f``), all
        of them counted: ``"fd"`` twice the stencil's nonzero weights,
        ``"richardson"`` see there, ``"complex"`` 1 (2 or 4 with the probes
        made when ``Im f`` is exactly 0 at every point).
    nonfinite : bool or ndarray of bool
        Where ``value`` is not finite (a non-finite ``f`` value, or overflow).
    method : str
    """

    value: object
    error: object
    step: object
    nfev: int
    nonfinite: object
    method: str


# ---------------------------------------------------------------- validation

# The fastfd.grid function for sampled arrays passed where f belongs (the
# np.gradient habit: gradient(u, 0.1)).
_FOR_SAMPLES = {
    "forward_diff": "fastfd.grid.forward_diff(u, dx)",
    "backward_diff": "fastfd.grid.backward_diff(u, dx)",
    "centered_diff": "fastfd.grid.centered_diff(u, dx)",
    "second_derivative": "fastfd.grid.second_diff(u, dx)",
    "derivative": "fastfd.grid.derivative(u, order, dx=dx)",
    "gradient": "fastfd.grid.gradient(u, dx)",
}


def _check_f(f, caller=None):
    """Whether ``f`` is jitted; TypeError if it is not callable (for an
    array, naming the ``fastfd.grid`` function of ``caller``)."""
    hint = _FOR_SAMPLES.get(caller)
    check_callable("f", f, hint and f"for sampled arrays use {hint}")
    return is_jitted(f)


def _check_derivative_args(order, accuracy, scheme, method):
    scheme = check_scheme(scheme)
    method = check_choice("method", method, METHODS)
    order = check_order(order)
    if order > MAX_ORDER:
        raise ValueError(f"order must be between 1 and {MAX_ORDER}, got {order!r}")
    # the float64 limit of fastfd.stencils.max_accuracy; float32 points get
    # float32's in _stencil_derivative, before f runs
    accuracy = check_accuracy_limit(check_accuracy(accuracy, scheme), order, scheme)
    if method == "complex" and order != 1:
        raise ValueError(
            f"method='complex' computes first derivatives only, got order={order!r}")
    return order, accuracy, scheme, method


@functools.lru_cache(maxsize=128)
def _stencil_arrays(order, accuracy, scheme, dtype_str):
    """Offsets, integer numerators and denominator, in the compute dtype.

    Integer numerators are exact in float32 and float64, so the only
    rounding is the one division by ``den * h**order``.
    """
    dt = np.dtype(dtype_str)
    offsets = stencil_offsets(order, accuracy, scheme)
    nums, den = integer_form(exact_weights(order, offsets))
    # zero weights (the centre of odd centered stencils) are dropped; the
    # outermost weights never vanish, so offs[0] and offs[-1] stay the ends
    assert nums[0] != 0 and nums[-1] != 0
    keep = [k for k, w in enumerate(nums) if w != 0]
    offs = np.array([offsets[k] for k in keep], dtype=dt)
    numa = np.array([nums[k] for k in keep], dtype=dt)
    offs.flags.writeable = False
    numa.flags.writeable = False
    return offs, numa, dt.type(den)


def _value_dtype(v, name="f"):
    dt = np.asarray(v).dtype
    if dt == object or dt.kind not in "biufc":
        raise TypeError(f"{name} must return numbers, got {short_repr(v)}")
    return dt


def _out_dtype(xdt, fdt):
    return np.result_type(xdt, real_dtype(fdt))


# Kernels over points split them into this many chunks per thread, handed out
# dynamically, so a core shared with another process slows the run by its
# share of the chunks, not by a whole static half (see
# fastfd._kernels.fd.points). Per-coordinate kernels keep one chunk (one
# private copy of x) per thread.
CHUNKS_PER_THREAD = 8


def _nchunks(n, parallel, per_thread=1):
    if not parallel:
        return 1
    return max(1, min(per_thread * numba.get_num_threads(), n))


_KERNELS = {  # kind: (parallel driver, guarded chunk, bare chunk)
    "points": ("points", "points_guarded", "points_chunk"),
    "complex": ("complex_points", "complex_guarded", "complex_chunk"),
    "grad": ("grad", "grad_guarded", "grad_chunk"),
    "jac": ("jac", "jac_guarded", "jac_chunk"),
    "hess": ("hess", "hess_guarded", "hess_chunk"),
}


def _run(kind, f, x, args, n, nch, out):
    """Run a jitted kernel of ``fastfd._kernels.fd`` with ``nch`` chunks.

    One chunk runs the guarded chunk function directly: no thread pool
    (measured: a prange launch costs ~10 µs on an idle machine and several
    ms on a loaded one). A chunk that failed is rerun unguarded, serially,
    so ``f``'s own exception reaches the caller. Per-coordinate kernels get
    one private copy of ``x`` per chunk (rows of ``work``), compared with
    ``x`` afterwards (:func:`_check_untouched`).
    """
    par, guarded, chunk = (getattr(JIT, name) for name in _KERNELS[kind])
    per_coordinate = kind in ("grad", "jac", "hess")

    def bounds(c):
        if kind == "hess":
            return (c, nch)
        lo, hi = c * n // nch, (c + 1) * n // nch
        return (lo, hi, 1) if per_coordinate else (lo, hi)

    if per_coordinate:
        work = np.empty((nch, x.size), dtype=x.dtype)
        work[...] = x
        bad = np.full(nch, -1, dtype=np.int64)

    def private(c):
        return (work[c],) if per_coordinate else ()

    def flag(c):
        return (bad[c:c + 1],) if per_coordinate else ()

    if nch == 1:
        status = np.array([guarded(f, x, *private(0), *args, *bounds(0), out,
                                  *flag(0))])
    else:
        status = np.zeros(nch, dtype=np.int64)
        par(f, x, *((work,) if per_coordinate else ()), *args, nch, out, status,
               *((bad,) if per_coordinate else ()))
    for c in np.flatnonzero(status):
        c = int(c)
        if per_coordinate:
            work[c] = x
            bad[c] = -1
        chunk(f, x, *private(c), *args, *bounds(c), out, *flag(c))
    if status.any():
        raise RuntimeError(f"a {kind} kernel chunk failed but its serial rerun did not")
    if per_coordinate:
        _check_untouched(x, work, bad)


def _modified(x, i, now):
    return ValueError(
        f"f modified its input: x[{i}] was {now!r} after a call of f (x[{i}] is {x[i]!r}). "
        f"f must not write to the array it is given; copy it first")


def _check_untouched(x, work, bad):
    """Raise if ``f`` wrote to its argument: a private copy (a row of
    ``work``) differs from ``x``, or a kernel found the perturbed entry
    changed after a call (``bad >= 0``: the coordinate; the entry is left as
    ``f`` left it)."""
    for c in np.flatnonzero(bad >= 0):
        i = int(bad[c])
        raise _modified(x, i, work[c, i].item())
    same = (work == x) | (np.isnan(work) & np.isnan(x))
    if not same.all():
        c, i = np.argwhere(~same)[0]
        raise _modified(x, int(i), work[c, i].item())


class _ReadOnlyArg:
    """Calls a Python ``f`` with a read-only view of its argument, so a write
    fails at the write (a read-only view of the private copy ``buf`` is made
    once; other arguments get their own)."""

    def __init__(self, f, buf):
        self.f = f
        self.buf = buf
        self.view = _readonly(buf)

    def __call__(self, z):
        arg = self.view if z is self.buf else _readonly(z)
        try:
            return self.f(arg)
        except ValueError as exc:
            if "read-only" in str(exc):
                raise ValueError(
                    f"f modified its input ({exc}). f must not write to the array it is "
                    f"given; copy it first") from exc
            raise


def _readonly(a):
    v = a.view()
    v.flags.writeable = False
    return v


def _per_coordinate(kind, f, jitted, x, args, n, nch, out):
    """A per-coordinate kernel: jitted (``_run``) or, for a Python ``f``, the
    same chunk code as Python on one private copy, ``f`` seeing read-only
    views of it."""
    if jitted:
        _run(kind, f, x, args, n, nch, out)
        return out
    work = x.reshape(1, -1).copy()
    bad = np.full(1, -1, dtype=np.int64)
    bounds = (0, 1) if kind == "hess" else (0, n, 1)
    getattr(PY, f"{kind}_chunk")(_ReadOnlyArg(f, work[0]), x, work[0], *args, *bounds, out,
                                 bad)
    _check_untouched(x, work, bad)
    return out


# ----------------------------------------------------------------- the core

def _auto_steps(x, base, dt):
    return np.asarray(step_rule(x, base)).astype(dt, copy=False)


class _ShapeChecked:
    """Wraps a Python ``f``: checks the shape and kind of every result."""

    def __init__(self, f, scalar, complex_ok=False):
        self.f = f
        self.scalar = scalar
        self.complex_ok = complex_ok

    def __call__(self, z):
        try:
            v = self.f(z)
        except TypeError as exc:
            if self.scalar or np.ndim(z) == 0:
                raise
            raise TypeError(
                f"f raised TypeError on an array argument ({exc}); pass vectorized=False "
                f"for an f that takes scalars only") from exc
        shape = np.shape(v)
        if self.scalar:
            if shape != ():
                raise ValueError(
                    f"f must return a scalar for a scalar argument, got shape {shape}: "
                    f"{short_repr(v)}")
        elif shape != () and np.shape(z) == ():
            raise ValueError(
                f"f must return a scalar for a scalar x, got shape {shape}: {short_repr(v)}")
        elif shape != () and shape != np.shape(z):
            raise ValueError(
                f"f must return an array of its argument's shape {np.shape(z)}, got "
                f"shape {shape}; pass vectorized=False for an f that takes scalars only")
        kind = _value_dtype(v).kind
        if kind == "c" and not self.complex_ok:
            raise TypeError(f"f must return real numbers, got {short_repr(v)}")
        return v


def _fd_eval(f, jitted, x, h, offs, nums, den, order, realize, base, dt, vectorized,
             mags=False):
    """Stencil derivative at every point of ``x`` (an array of the compute dtype).

    ``h``: array broadcast to ``x``'s shape or a one-element array, ignored
    when ``base > 0`` (automatic steps computed per point). ``mags=True``
    also returns ``sum|w_k f_k| / h**order`` per point (the scale of the
    result's roundoff).
    """
    shape = x.shape
    if jitted or not vectorized:
        xf = np.ascontiguousarray(x).reshape(-1)
        if base > 0 or h.size == 1:
            hf, hstride = np.ascontiguousarray(h, dtype=dt).reshape(-1)[:1], 0
        else:
            hf, hstride = np.ascontiguousarray(np.broadcast_to(h, shape), dtype=dt).reshape(-1), 1
        out = np.empty(xf.size, dtype=dt)
        mag = np.empty(xf.size if mags else 0, dtype=dt)
        n = xf.size
        if jitted:
            # the stencil as tuples: their length is part of the compiled type,
            # so the loop over stencil points unrolls (measured: 17% faster
            # than arrays for the centered difference, one compile per size)
            args = (hf, hstride, base, realize, tuple(offs), tuple(nums), den, order,
                    offs[0], offs[-1], mag)
            nch = _nchunks(n, n >= config.PARALLEL_MIN, CHUNKS_PER_THREAD)
            _run("points", f, xf, args, n, nch, out)
        else:
            PY.points_chunk(_ShapeChecked(f, True), xf, hf, hstride, base, realize,
                            offs, nums, den, order, offs[0], offs[-1], mag, 0, n, out)
        if mags:
            return out.reshape(shape), mag.reshape(shape)
        return out.reshape(shape)
    if base > 0:
        h = _auto_steps(x, base, dt)
    fw = _ShapeChecked(f, False)
    zero = nums[0] - nums[0]
    if mags:
        acc, mag = PY.point_sum_mag(fw, x, h, offs, nums, zero)
    else:
        acc = PY.point_sum(fw, x, h, offs, nums, zero)
    step = realized_step(x, h, offs[0], offs[-1]) if realize else h
    value = np.asarray(PY.finish(acc, den, step, order))
    if mags:
        return value, np.broadcast_to(np.asarray(PY.finish(mag, den, step, order)), shape)
    return value


def _prepare_points(f, x, h, vectorized):
    jitted = _check_f(f)
    vectorized = check_bool("vectorized", vectorized)
    xa, xdt = as_real_array(x)
    ha = None if h is None else check_h(h, xdt)
    if ha is not None and ha.shape != xa.shape:
        try:
            shape = np.broadcast_shapes(xa.shape, ha.shape)
        except ValueError:
            raise ValueError(
                f"h with shape {ha.shape} does not broadcast with x of shape {xa.shape}"
            ) from None
        xa = np.broadcast_to(xa, shape)
    return jitted, vectorized, xa, xdt, ha


def _check_resolution(x, h, lo, hi, dt, power=1, divisor=1):
    """Explicit steps must move the stencil's points, before ``f`` runs.

    The realized step ``r = ((x + hi*s) - (x + lo*s)) / (hi - lo)``, with
    ``s = h / divisor`` the smallest step used, is what the formulas divide
    by (as ``r**power``): it is 0 where ``s`` is below the spacing of floats
    at ``x`` (0/0 or a silent 0 otherwise), and ``r**power`` (repeated
    products, as the kernels form it) underflows to 0 for tiny ``s`` at
    small ``|x|``. A non-finite ``x`` gives a nan ``r``, not 0, and keeps
    its non-finite result at that point only.
    """
    if h is None:
        return
    xb, hb = np.broadcast_arrays(np.asarray(x, dtype=dt), np.asarray(h, dtype=dt))
    with np.errstate(all="ignore"):
        r = realized_step(xb, hb / dt.type(divisor), dt.type(lo), dt.type(hi))
        rp = r
        for _ in range(power - 1):
            rp = rp * r
    zero, under = r == 0, (rp == 0) & (r != 0)
    bad = zero if zero.any() else under     # unresolved steps reported first
    if not bad.any():
        return
    k = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), bad.shape)
    xshow, hshow = np.broadcast_arrays(np.asarray(x), np.asarray(h))   # the caller's dtypes
    where = "" if xb.ndim == 0 else f"[{', '.join(str(int(i)) for i in k)}]"
    hname = "h" if np.ndim(h) == 0 or np.size(h) == 1 else f"h{where}"
    step = "h" if divisor == 1 else f"h/{divisor}"
    what = "" if divisor == 1 else f" (method='richardson' goes down to the step {step})"
    head = f"{hname}={str(hshow[k])} "
    at = f"x{where}={str(xshow[k])}"
    if zero[k]:
        moved = f"x - {step}" if hi == 0 else f"x + {step}"
        raise ValueError(
            f"{head}is below the resolution of {at}{what}: {moved} == x in {dt}; "
            f"use a larger h or h=None")
    raise ValueError(
        f"{head}is too small at {at}{what}: the formula divides by {step}**{power}, "
        f"which underflows to 0 in {dt}; use a larger h or h=None")


def _jit_fdtype(f, xa, xdt):
    """dtype a jitted ``f`` returns for a scalar of ``x``'s dtype, from its
    compiled signature: no call of ``f`` (every call is counted in nfev)."""
    if xa.size == 0:
        return xdt
    x0 = xa.reshape(-1)[0]
    try:
        f.compile((numba.typeof(x0),))
    except NumbaError as exc:
        raise TypeError(
            f"f (a jitted function) could not be compiled for a {xdt} scalar "
            f"argument: {str(exc).splitlines()[0]}") from None
    rt = _jit_return_type(f, x0)
    if not isinstance(rt, numba.types.Number) and not isinstance(rt, numba.types.Boolean):
        raise ValueError(f"f must return a scalar for a scalar x, got {rt}")
    return _jit_return_dtype(f, x0, x0)


def _jit_return_dtype(f, arg, value):
    """The dtype a jitted ``f`` returns for ``arg``'s type (Numba boxes a
    float32 result as a Python float, so ``value`` alone cannot tell)."""
    rt = _jit_return_type(f, arg)
    if rt is not None:
        try:
            return numba.np.numpy_support.as_dtype(rt)
        except NumbaError:
            pass
    return _value_dtype(value)


class _Restart(Exception):
    """The first value of a Python ``f`` showed a dtype that changes the steps
    or the compute dtype: the run starts again with it."""

    def __init__(self, fdt):
        super().__init__(str(fdt))
        self.fdt = fdt


class _Watched:
    """A Python ``f``, counted. The dtype of its first value is ``f``'s dtype
    (learned from the real evaluations, not from an extra call). Where the
    run was set up for another dtype (``x``'s) and that changes the steps
    (``on_eps``: a float32 ``f`` of float64 ``x`` needs float32-sized steps)
    or the compute dtype (``on_dtype``), the first call raises
    :class:`_Restart`; that evaluation is counted in ``nfev``."""

    def __init__(self, f, xdt, fdt, on_eps, on_dtype):
        self.f = f
        self.xdt, self.fdt = xdt, fdt
        self.on_eps, self.on_dtype = on_eps, on_dtype
        self.seen = None

    def __call__(self, z):
        v = self.f(z)
        if self.seen is None:
            self.seen = fdt = _value_dtype(v)
            if fdt.kind != "c" and (
                    (self.on_eps and _eps(self.xdt, fdt) != _eps(self.xdt, self.fdt))
                    or (self.on_dtype and _out_dtype(self.xdt, fdt)
                        != _out_dtype(self.xdt, self.fdt))):
                raise _Restart(fdt)
        return v


def _stencil_derivative(f, x, h, order, accuracy, scheme, vectorized, full_output=False,
                        method="fd", seed=False):
    jitted, vectorized, xa, xdt, ha = _prepare_points(f, x, h, vectorized)
    if xdt != np.float64:
        check_accuracy_limit(accuracy, order, scheme, xdt)
    # Richardson's smallest step is h / 2**(RICHARDSON_STEPS - 1), exact
    divisor = 2 ** (RICHARDSON_STEPS - 1) if method == "richardson" else 1
    if not seed:
        # in float64 before f runs (a step unresolved in float64 is unresolved
        # in float32 too), again below in float32 if that is the compute dtype
        offsets = stencil_offsets(order, accuracy, scheme)
        _check_resolution(xa, ha, offsets[0], offsets[-1], np.dtype(np.float64), order,
                          divisor)
    # f's dtype: from the compiled signature of a jitted f; for a Python f,
    # x's dtype until its first value says otherwise (then the run restarts
    # once if the steps or the compute dtype change); with a given h the
    # values are computed in x's dtype and nothing restarts
    fdt = _jit_fdtype(f, xa, xdt) if jitted else xdt
    wasted = 0
    while True:
        call = f if jitted else _Watched(f, xdt, fdt, on_eps=ha is None and method == "fd",
                                         on_dtype=ha is None)
        try:
            return _stencil_run(call, jitted, xa, xdt, fdt, ha, order, accuracy, scheme,
                                vectorized, full_output, method, seed, divisor, wasted)
        except _Restart as restart:
            fdt = restart.fdt
            wasted += 1


def _stencil_run(f, jitted, xa, xdt, fdt, ha, order, accuracy, scheme, vectorized,
                 full_output, method, seed, divisor, wasted):
    dt = _out_dtype(xdt, fdt)
    offs, nums, den = _stencil_arrays(order, accuracy, scheme, dt.str)
    if not seed and dt != np.float64:
        _check_resolution(xa, ha, offs[0], offs[-1], dt, order, divisor)
    xc = xa.astype(dt, copy=False)
    nfev = nums.size
    if method == "richardson":
        return _richardson(f, jitted, xc, ha, offs, nums, den, order, accuracy, scheme,
                           xdt, fdt, dt, vectorized, nfev, full_output, wasted)
    if ha is None:
        base = step_base(_eps(xdt, fdt), order, accuracy)
        hh = np.zeros(1, dtype=dt)
    else:
        base = 0.0
        hh = ha.astype(dt, copy=False)
    if not full_output:
        value = _fd_eval(f, jitted, xc, hh, offs, nums, den, order, ha is None, base, dt,
                         vectorized)
        return value.astype(dt, copy=False)[()]
    value, mag = _fd_eval(f, jitted, xc, hh, offs, nums, den, order, ha is None, base, dt,
                          vectorized, mags=True)
    value = value.astype(dt, copy=False)
    fdt = _seen_dtype(f, fdt)
    step = _auto_steps(xc, base, dt) if ha is None else np.broadcast_to(hh, xc.shape)
    coarse = _fd_eval(f, jitted, xc, np.asarray(2 * step, dtype=dt), offs, nums, den, order,
                      ha is None, 0.0, dt, vectorized)
    # truncation: the leading term C h**p from D(h) - D(2h); roundoff: each
    # f value off by up to FD_ROUNDOFF_ULPS * eps |f_k|, through the
    # weights: that times sum|w_k f_k| / h**d
    eps = _eps(xdt, fdt)
    with np.errstate(over="ignore", invalid="ignore"):
        error = np.maximum(np.abs(value - coarse) / (2.0 ** accuracy - 1)
                           + FD_ROUNDOFF_ULPS * eps * mag, eps * np.abs(value))
    return DerivativeResult(value[()], error.astype(dt)[()], np.asarray(step)[()],
                            2 * nfev + wasted, (~np.isfinite(value))[()], "fd")


def _seen_dtype(f, fdt):
    """``f``'s dtype as its values showed it (Python ``f``), else ``fdt``."""
    seen = getattr(f, "seen", None)
    return fdt if seen is None or seen.kind == "c" else seen


def _richardson(f, jitted, x, ha, offs, nums, den, order, accuracy, scheme, xdt, fdt, dt,
                vectorized, nfev, full_output, wasted=0):
    """Richardson extrapolation over windows of a geometric sequence of steps.

    The stencil ``D(h)`` is evaluated at ``RICHARDSON_STEPS`` steps
    ``h_k = h0 / 2**k``. Its error expands in powers ``h**p, h**(p+q), ...``
    (``p`` the accuracy, ``q = 2`` for centered stencils whose odd powers
    cancel by symmetry, else 1); the Neville table entry ``T[k][j]`` combines
    ``D(h_{k-j}), ..., D(h_k)`` and removes ``j`` powers, leaving order
    ``P = p + j q``. Every window of ``j + 1`` consecutive steps, for each
    window length in ``RICHARDSON_WINDOWS``, is a candidate.

    Error estimate of a candidate ``T[k][j]``: the largest of

    * ``|T[k][j] - T[k-1][j]| / (2**P - 1)``: the truncation error, if the
      error of both windows is ``C h**P``;
    * ``|T[k+s][j] - T[k+s-1][j]| / 2**(s*order)`` for ``s = 1 ..
      RICHARDSON_SMOOTH``: the changes between the following (smaller-step)
      windows, scaled back to step ``h_k`` (roundoff grows like
      ``h**-order``). They measure the roundoff actually present; taking
      several keeps one difference that vanished by chance from making a
      window look exact (the smallest of many noisy estimates is a lucky one).
      The last ``RICHARDSON_SMOOTH`` windows serve only as these samples;
    * the predicted roundoff: ``RICHARDSON_NOISE * eps * |f(x)|`` per value
      of ``f`` (a rounding has standard deviation ``ulp/sqrt(12)``, about
      ``0.3 eps |f|``), propagated through the stencil weights and the
      window's extrapolation coefficients. It costs one more evaluation,
      ``f(x)``, and keeps windows of tiny steps whose values agree because
      the roundoff of ``f`` is correlated between nearby points from being
      trusted (measured: NumPy's ``exp`` near ``x = -0.29``, where windows
      of steps below ``1e-4`` agreed to ``2e-16`` on a value ``2.5e-13``
      off).

    Each point returns the candidate with the smallest estimate; the error
    reported for it is that estimate or more (:func:`_richardson_roundoff`,
    :func:`_richardson_neighbours`, ``RICHARDSON_COVER``). Steps start at ``RICHARDSON_FIRST * s`` (``s`` from
    :func:`_richardson_scale`, ``max(1, |x|)`` up to ``|x| = 64``; rounded
    down to a power of two, so every ``h_k`` is exact) and go below the best
    step of every window, so the selection sees truncation fall and roundoff
    rise; functions whose scale is much smaller than ``s`` (``x**99`` near 7
    varies on the scale ``7/99``) need the long run.

    Where the sequence was too short (the chosen window's estimate is its
    truncation term, at one of the last two candidate steps, and above
    ``RICHARDSON_DOMINANT`` times the roundoff predicted there; or no window
    is finite yet, as for ``log`` at ``x < h``), ``RICHARDSON_EXTEND`` more
    steps are evaluated (for all points: a vectorized ``f`` gets arrays of
    ``x``'s shape) and only those points select again, until the predicted
    roundoff of the next step exceeds their estimate, the steps stop being
    resolved, or ``RICHARDSON_MAX_STEPS``. Measured: ``log`` at ``1e-3``
    went from 5e-7 (33 evaluations) to 3.9e-14 (41), ``sqrt`` at ``1e-4``
    to 1e-14 (49); none of the standard cases above is extended.
    """
    q = 2 if scheme == "centered" else 1
    K = RICHARDSON_STEPS
    jmax = max(RICHARDSON_WINDOWS) - 1
    if ha is None:
        h0 = _auto_steps(_richardson_scale(x), RICHARDSON_FIRST, dt)
    else:
        h0 = np.broadcast_to(ha, x.shape).astype(dt)
    factors = [dt.type(2.0 ** (accuracy + j * q) - 1) for j in range(jmax + 1)]
    columns = {w - 1: [] for w in RICHARDSON_WINDOWS}   # T[k][j], k = j .. K-1
    mags = []       # sum|w_i f(x + o_i h_k)| / (den h_k**order), k = 0 .. K-1
    prev = []

    def extend(k0, k1):
        nonlocal prev
        for k in range(k0, k1):
            hk = (h0 / dt.type(2.0 ** k)).astype(dt)
            dk = _fd_eval(f, jitted, x, hk, offs, nums, den, order, True, 0.0, dt,
                          vectorized, mags=full_output)
            if full_output:
                dk, mk = dk
                mags.append(np.array(mk, dtype=dt))
            cur = [dk.astype(dt, copy=False)]
            for j in range(1, min(k, jmax) + 1):
                cur.append(cur[j - 1] + (cur[j - 1] - prev[j - 1]) / factors[j - 1])
            for j in columns:
                if k >= j:
                    columns[j].append(cur[j])
            prev = cur

    extend(0, K)
    fx = _fd_eval(f, jitted, x, np.ones(1, dtype=dt), np.zeros(1, dtype=dt),
                  np.ones(1, dtype=dt), dt.type(1), 1, False, 0.0, dt, vectorized)
    fx = np.where(np.isfinite(fx), np.abs(fx), 0).astype(dt).reshape(x.shape)
    eps = _eps(xdt, _seen_dtype(f, fdt))
    calls = K + 1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        sigma0 = (dt.type(RICHARDSON_NOISE * eps * np.linalg.norm(nums) / den) * fx
                  / h0 ** order)        # roundoff of D(h0)
        value, error, more, pick = _richardson_select(columns, factors, sigma0, K, accuracy,
                                                      q, order, dt, x.ndim)
        # keep shrinking the step where the best window is still truncation-
        # dominated at the end of the sequence (or nothing finite was found
        # yet), while the roundoff of the next steps stays below the error
        # so far and the steps stay resolved; other points keep their result
        active = more & np.isfinite(x)
        kend = np.full(x.shape, K)         # each point's last step
        while active.any() and K < RICHARDSON_MAX_STEPS:
            k1 = min(K + RICHARDSON_EXTEND, RICHARDSON_MAX_STEPS)
            hmin = h0 / dt.type(2.0 ** (k1 - 1))
            r = realized_step(x, hmin, offs[0], offs[-1])
            useful = (sigma0 * dt.type(2.0 ** (K * order)) < error) | ~np.isfinite(error)
            active &= useful & (r > 0) & (r ** order > 0)
            if not active.any():
                break
            extend(K, k1)
            calls += k1 - K
            K = k1
            kend = np.where(active, K, kend)
            v2, e2, more2, pick2 = _richardson_select(columns, factors, sigma0, K, accuracy,
                                                      q, order, dt, x.ndim)
            value = np.where(active, v2, value)
            error = np.where(active, e2, error)
            pick = tuple(np.where(active, b, a) for a, b in zip(pick, pick2))
            active &= more2
        if not full_output:
            return value[()]
        error = np.fmax(error, _richardson_roundoff(mags, columns[jmax], pick, kend, accuracy,
                                                    q, offs, nums, dt))
        error = np.fmax(error, _richardson_neighbours(columns, pick, accuracy, q, order, dt))
        # floor: no result is better than its own rounding
        error = np.maximum(error, dt.type(eps) * np.abs(value))
    return DerivativeResult(value[()], error[()], h0[()], (calls - 1) * nfev + 1 + wasted,
                            (~np.isfinite(value))[()], "richardson")


def _richardson_scale(x):
    """The scale ``s`` of the first step ``RICHARDSON_FIRST * s``: ``max(1,
    |x|)`` up to ``|x| = 64``, then ``8 sqrt|x|`` (continuous at 64), but at
    least ``2**-26 |x|``, which keeps the 16th step ``2**-44 |x|`` far above the
    spacing of floats at ``x`` (up to ``|x| ~ 3e15``).

    Functions whose scale of variation is ``|x|`` (powers, log) lose nothing:
    the first windows already have small truncation there. Functions with an
    ``O(1)`` scale at large ``x`` (``sin``, ``exp``) would otherwise start far
    outside the asymptotic range: ``sin`` at 1e5 and 1e6 with steps from
    ``0.125 |x|`` down to ``|x| / 2**18`` (all above 0.25) returned 0 for
    ``cos(x)`` with an error estimate of 2.6e-5, since values at steps where
    ``sin(h)/h`` is tiny agree with each other. Below 64 the rule is unchanged
    (the measured windows and estimates of the tests hold there).
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        big = np.maximum(8.0 * np.sqrt(ax), ax * 2.0 ** -26)
    return np.where(ax <= 64.0, ax, big)


def _richardson_select(columns, factors, sigma0, K, accuracy, q, order, dt, ndim):
    """Per point the candidate with the smallest error estimate (see
    :func:`_richardson`) over steps ``0 .. K-1``: its value, its estimate,
    and whether smaller steps may help (the estimate is the truncation term,
    at one of the last two candidate steps, or no candidate is finite)."""
    values, errors, trunc_dom, late, cand_j, cand_k = [], [], [], [], [], []
    last = K - 1 - RICHARDSON_SMOOTH        # the last candidate step
    for j, col in columns.items():
        if len(col) < RICHARDSON_SMOOTH + 2:
            continue
        T = np.stack(col)
        diff = np.abs(T[1:] - T[:-1])     # candidates k = j+1 .. K-1
        trunc = diff / factors[j]
        noise = np.zeros_like(trunc)
        for s in range(1, RICHARDSON_SMOOTH + 1):
            noise[:-s] = np.maximum(noise[:-s], diff[s:] * dt.type(2.0 ** (-s * order)))
        gains = np.array([_richardson_noise_gain(j + 1, accuracy, q, order)
                          * 2.0 ** (k * order) for k in range(j + 1, K)], dtype=dt)
        noise = np.maximum(noise, sigma0 * gains.reshape((-1,) + (1,) * ndim))
        est = np.maximum(trunc, noise)
        values.append(T[1:][:-RICHARDSON_SMOOTH])
        errors.append(est[:-RICHARDSON_SMOOTH])
        pred = sigma0 * gains.reshape((-1,) + (1,) * ndim)
        trunc_dom.append(((trunc > noise) & (est > RICHARDSON_DOMINANT * pred))
                         [:-RICHARDSON_SMOOTH])
        ks = np.arange(j + 1, K - RICHARDSON_SMOOTH)
        cand_j.append(np.full(ks.size, j))
        cand_k.append(ks)
        late.append(np.broadcast_to((ks >= last - 1).reshape((-1,) + (1,) * ndim),
                                    trunc_dom[-1].shape))
    values = np.concatenate(values)
    errors = np.concatenate(errors)
    errors = np.where(np.isnan(errors), np.inf, errors)
    best = np.argmin(errors, axis=0)[None]
    value = np.take_along_axis(values, best, 0)[0]
    error = np.take_along_axis(errors, best, 0)[0]
    more = ((np.take_along_axis(np.concatenate(trunc_dom), best, 0)[0]
             & np.take_along_axis(np.concatenate(late), best, 0)[0])
            | ~np.isfinite(error))
    pick = (np.concatenate(cand_j)[best[0]], np.concatenate(cand_k)[best[0]])
    return value, error, more, pick


@functools.lru_cache(maxsize=64)
def _richardson_coefficients(w, accuracy, q):
    """The extrapolation coefficients ``c_t`` of a window's extrapolant on its
    ``w`` values ``D(h_t)``, largest step first (``sum c_t = 1``)."""
    rows = [np.eye(w)[t] for t in range(w)]   # coefficients of T[t][j] on the window
    for j in range(1, w):
        factor = 2.0 ** (accuracy + (j - 1) * q) - 1
        rows = [rows[t] + (rows[t] - rows[t - 1]) / factor if t >= j else rows[t]
                for t in range(w)]
    c = rows[w - 1]
    c.flags.writeable = False
    return c


@functools.lru_cache(maxsize=64)
def _richardson_noise_gain(w, accuracy, q, order):
    """``sqrt(sum_t (c_t 2**((t - w + 1) order))**2)``: the noise of a window's
    extrapolant relative to that of ``D`` at its last (smallest) step, for
    independent noise ``~ h**-order`` in each ``D``; ``c_t`` are the
    extrapolation coefficients on the window's ``w`` values."""
    c = _richardson_coefficients(w, accuracy, q)
    scale = 2.0 ** ((np.arange(w) - w + 1) * order)
    return float(np.sqrt(np.sum((c * scale) ** 2)))


@functools.lru_cache(maxsize=256)
def _richardson_shared(coefs, offs, nums):
    """``Q`` such that a combination ``sum_t coefs[t] D(h0 / 2**t)`` has
    roundoff variance ``u**2 M^T Q M`` where every value of ``f`` carries an
    independent relative error of standard deviation ``u`` and ``M_t =
    sum_i |w_i f_i| / (den h_t**order)`` (all ``|f_i|`` of a step taken
    alike). Points shared between steps (``x + 2 h_{t+1} = x + h_t``, and
    ``x`` itself) are one value of ``f`` with one error: their coefficients
    add before squaring."""
    W = sum(abs(n) for n in nums)
    rows = {}
    for t, c in enumerate(coefs):
        for o, n in zip(offs, nums):
            rows.setdefault(o / 2.0 ** t, np.zeros(len(coefs)))[t] += c * n / W
    A = np.array(list(rows.values()))
    Q = A.T @ A
    Q.flags.writeable = False
    return Q


def _richardson_roundoff(mags, column, pick, kend, accuracy, q, offs, nums, dt):
    """The roundoff allowance of each point's chosen window ``T[k][j]``.

    ``M_t = sum_i |w_i f(x + o_i h_t)| / (den h_t**order)`` is the stencil's
    amplification of the values of ``f`` at step ``t``; through the window's
    extrapolation coefficients, errors of relative size ``u`` in the values
    become an error of size ``u S`` in ``T[k][j]`` (``S**2 = M^T Q M``, see
    :func:`_richardson_shared`). The ``u`` actually present is measured at
    the point's last ``RICHARDSON_TAIL`` steps (up to ``kend``), where the
    longest window (``column``, order ``p + 3q``) has no truncation left: the
    RMS of its changes between successive steps, each divided by its own
    ``S``. That sees what no model of ``f``'s rounding from ``|f|`` can:
    cancellation inside ``f`` (``x**4 - 2 x**2`` near ``sqrt(2)``), libm's
    accuracy, the rounding of a scaled argument (``sin(1e3 x)`` carries
    errors ``~ |x f'(x)| eps``). Changes that are small by chance, or
    because the rounding of nearby points is correlated, are covered by the
    selection's own predicted roundoff, which stays a floor. Returns
    ``RICHARDSON_COVER * u * S``.
    """
    M = np.stack(mags)
    T = np.stack(column)                       # T[i] is T[jmax + i][jmax]
    jmax = M.shape[0] - T.shape[0]
    offs, nums = tuple(float(o) for o in offs), tuple(float(n) for n in nums)
    kend = np.asarray(kend)

    def at(A, idx):
        return np.take_along_axis(A, np.clip(idx, 0, A.shape[0] - 1)[None], 0)[0]

    def spread(coefs, first):
        """``S**2`` of the combination ``coefs`` of ``D`` from step ``first`` on."""
        Q = _richardson_shared(tuple(float(c) for c in coefs), offs, nums)
        Ms = [at(M, first + t) for t in range(len(coefs))]
        out = np.zeros(M.shape[1:], dtype=dt)
        for t in range(len(coefs)):
            for t2 in range(len(coefs)):
                out = out + dt.type(Q[t, t2]) * Ms[t] * Ms[t2]
        return np.maximum(out, 0)

    js, ks = (np.asarray(b) for b in pick)
    c = _richardson_coefficients(jmax + 1, accuracy, q)
    a = np.append(c, 0.0) - np.append(0.0, c)  # T[k] - T[k-1] on D_{k-jmax-1 .. k}
    z2 = np.zeros(M.shape[1:], dtype=dt)
    for back in range(1, RICHARDSON_TAIL + 1):
        k = kend - back
        change = at(T, k - jmax) - at(T, k - 1 - jmax)
        scale = spread(a, k - jmax - 1)
        z2 = z2 + np.where(scale > 0, change * change / np.where(scale > 0, scale, 1), 0)
    u = np.sqrt(z2 / dt.type(RICHARDSON_TAIL))

    S2 = np.zeros(M.shape[1:], dtype=dt)
    for j in {w - 1 for w in RICHARDSON_WINDOWS}:
        S2 = np.where(js == j, spread(_richardson_coefficients(j + 1, accuracy, q), ks - j),
                      S2)
    return dt.type(RICHARDSON_COVER) * u * np.sqrt(S2)


def _richardson_neighbours(columns, pick, accuracy, q, order, dt):
    """For each point's chosen window ``T[k][j]`` (``P = 2**(p + j q)``):
    ``max(d_k, d_{k-1} / P) / (P - 1)`` and ``d_{k+1} / 2**(order/2)``, with
    ``d_k = |T[k][j] - T[k-1][j]|``. The first is the truncation estimate
    with the previous change taken at the asymptotic rate as well (a change
    that is small because two terms of the error cancel at ``k`` does not
    make the window look exact: sin at -0.0396, forward accuracy 1, order 2,
    converged 85x, 3.8x, 12x, 15x per step, and the window after the 3.8x
    step was 5x worse than its estimate); the second is the noise of the next
    window, scaled back by only half the growth ``2**order`` of roundoff."""
    js, ks = (np.asarray(b) for b in pick)
    out = np.zeros(js.shape, dtype=dt)
    for j, col in columns.items():
        T = np.stack(col)                       # T[i] is T[j + i][j]

        def at(idx):
            return np.take_along_axis(T, np.clip(idx, 0, T.shape[0] - 1)[None], 0)[0]

        i = ks - j
        d0 = np.where(i >= 2, np.abs(at(i - 1) - at(i - 2)), 0)
        d1 = np.abs(at(i) - at(i - 1))
        d2 = np.abs(at(i + 1) - at(i))
        P = dt.type(2.0 ** (accuracy + j * q))
        est = np.fmax(np.fmax(d1, d0 / P) / (P - 1), d2 * dt.type(2.0 ** (-order / 2)))
        out = np.where(js == j, est, out)
    return out


def _complex_step(f, x, h, vectorized, full_output):
    jitted, vectorized, xa, xdt, ha = _prepare_points(f, x, h, vectorized)
    cdt = np.dtype(np.complex64) if xdt == np.float32 else np.dtype(np.complex128)
    eps = _eps(xdt)
    # Im f(x + ih) / h = f'(x) - h**2 f'''(x)/6 + ...: no subtraction, so h can
    # be tiny; h = eps * max(1, |x|) makes the truncation term ~eps**2.
    base = eps
    shape = xa.shape
    step = _auto_steps(xa, base, xdt) if ha is None else np.broadcast_to(ha, shape)
    if jitted or not vectorized:
        xf = np.ascontiguousarray(xa).reshape(-1)
        if ha is None or ha.size == 1:
            hf = np.zeros(1, dtype=xdt) if ha is None else ha.reshape(-1)[:1]
            hstride = 0
        else:
            hf = np.ascontiguousarray(np.broadcast_to(ha, shape)).reshape(-1)
            hstride = 1
        b = base if ha is None else 0.0
        out = np.empty(xf.size, dtype=xdt)
        ctype = np.zeros(1, dtype=cdt)
        n = xf.size
        if jitted:
            try:
                _run("complex", f, xf, (hf, hstride, b, ctype), n,
                     _nchunks(n, n >= config.PARALLEL_MIN, CHUNKS_PER_THREAD), out)
            except NumbaError as exc:
                _complex_compile_error(f, xa, step, cdt, exc)
            if n and _jit_return_dtype(f, cdt.type(0), cdt.type(0)).kind != "c":
                z0 = cdt.type(complex(xf[0], step.reshape(-1)[0]))
                _real_for_complex(f(z0), z0)
        else:
            PY.complex_chunk(_ComplexChecked(f), xf, hf, hstride, b, ctype, 0, n, out)
        value = out.reshape(shape)
    else:
        z = xa.astype(cdt) + 1j * step.astype(cdt)
        v = _ShapeChecked(f, False, complex_ok=True)(z)
        if _value_dtype(v).kind != "c":
            _real_for_complex(v, z[()])
        value = (np.asarray(v).imag / step).astype(xdt)
    nfev = 1
    finite = np.isfinite(value)
    if finite.any() and not np.any(value[finite] != 0):
        nfev += _complex_zero_probe(f, jitted, vectorized, xa, cdt)
    if not full_output:
        return value[()]
    error = (eps * np.abs(value)).astype(xdt)
    return DerivativeResult(value[()], error[()], np.asarray(step)[()], nfev,
                            (~np.isfinite(value))[()], "complex")


def _real_for_complex(v, z):
    raise ValueError(
        f"method='complex' needs an f that keeps the imaginary part, but f returned "
        f"the real value {short_repr(v)} for the complex argument {short_repr(z)}")


class _ComplexChecked(_ShapeChecked):
    """A scalar Python ``f`` on complex points: a real result means ``f``
    dropped the imaginary part."""

    def __init__(self, f):
        super().__init__(f, True, complex_ok=True)

    def __call__(self, z):
        v = super().__call__(z)
        if _value_dtype(v).kind != "c":
            _real_for_complex(v, z)
        return v


def _complex_compile_error(f, xa, step, cdt, exc):
    """A jitted ``f`` the complex kernel could not compile: name the cause."""
    z0 = cdt.type(complex(xa.reshape(-1)[0], step.reshape(-1)[0]))
    try:
        v0 = f(z0)
    except NumbaError:
        v0 = None
    if v0 is not None and np.ndim(v0) != 0:
        raise ValueError(
            f"f must return a scalar for a scalar argument, got shape {np.shape(v0)}: "
            f"{short_repr(v0)}") from None
    raise ValueError(
        f"method='complex' needs an f that accepts complex arguments; the jitted f "
        f"could not be compiled for {cdt}: {str(exc).splitlines()[0]}") from None


def _complex_zero_probe(f, jitted, vectorized, xa, cdt):
    """``Im f(x + ih)`` was exactly 0 at every point: ``f' = 0`` there (``cos``
    at 0, ``x**2`` at 0), a constant ``f``, or an ``f`` that drops the
    imaginary part (``abs``, ``.real``, ``float()``). An analytic non-constant
    ``f`` has ``Im f(x + d + id) = d f'(x + d) + O(d**3) != 0`` at a shifted
    point ``d = 2**-10 max(1, |x|)``; if that is 0 too, ``f`` must be constant:
    its real values at ``x`` and ``x + d`` are compared. Returns the number of
    calls per point (1 or 3)."""
    xr = np.asarray(xa, dtype=np.float64)
    d = np.asarray(np.ldexp(np.maximum(1.0, np.abs(xr)), -10))
    fin = np.isfinite(xr)
    if jitted or not vectorized:
        idx = np.flatnonzero(fin.reshape(-1))

        def call(z):
            zf = np.asarray(z).reshape(-1)
            return np.array([f(cdt.type(zf[k])) for k in idx])
    else:
        def call(z):
            v = np.asarray(f(z))
            return np.broadcast_to(v, xr.shape)[fin]
    zs = np.asarray(xr + d + 1j * d).astype(cdt)
    if np.any(call(zs).imag != 0):
        return 1
    r1, r0 = call((xr + d).astype(cdt)).real, call(xr.astype(cdt)).real
    moved = (r1 != r0) & np.isfinite(r1) & np.isfinite(r0)
    if moved.any():
        k = np.flatnonzero(fin.reshape(-1))[int(np.flatnonzero(moved)[0])]
        x0 = xa.reshape(-1)[k]
        z0 = cdt.type(complex(x0, float(d.reshape(-1)[k])))
        raise ValueError(
            f"method='complex' needs an analytic f that keeps the imaginary part: "
            f"Im f(x + ih) is exactly 0 at every point and f({z0!r}) has imaginary part "
            f"exactly 0 too, but f is not constant near x={x0!r} (it drops the imaginary "
            f"part, e.g. via abs, .real or a float() cast)")
    return 3


# ------------------------------------------------------- the seed's functions

_SEED_DOC = """{summary}

    ``{formula}``, truncation error ``O(h**{p})``.

    Parameters
    ----------
    f : callable
        Scalar function of a scalar. A Numba-jitted ``f`` runs in a parallel
        jitted kernel over the points; a Python ``f`` is called on whole
        arrays (``vectorized=True``) or once per point (``vectorized=False``).
    x : float or array_like
        Point(s); the result has ``x``'s shape (broadcast with ``h``).
    h : float or array_like, optional
        Step, positive and finite, broadcastable with ``x``. Given, the
        formula above is evaluated exactly as written (the seed chapter's
        order of operations), so a step below the resolution of ``x`` (``x
        + h == x``) gives 0 or nan there, exactly as the seed's formula
        would (:func:`derivative` refuses such a step with a ValueError).
        ``None`` (default): ``optimal_step(x, "{scheme}", order={order},
        accuracy={p})``, about ``{rule} * max(1, |x|)``, and the difference
        is divided by the realized step ``{realized}`` instead of the
        nominal one.
    vectorized : bool, optional
        Whether a Python ``f`` accepts arrays (default True).

    Returns
    -------
    float or ndarray
        In the lower of the precisions of ``x`` and ``f``'s values'
        (float32 stays float32). A non-finite ``f`` value gives a non-finite
        result at that point only.

    See Also
    --------
    derivative : any order and accuracy, Richardson, complex step.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import {name}
    >>> f = lambda x: x**4 - 2*x**2          # f' = 4x**3 - 4x, f'' = 12x**2 - 4
{examples}
    """


def forward_diff(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | None = None, *,
                 vectorized: bool = True) -> Any:
    _check_f(f, "forward_diff")
    return _stencil_derivative(f, x, h, 1, 1, "forward", vectorized, seed=True)


def backward_diff(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | None = None, *,
                  vectorized: bool = True) -> Any:
    _check_f(f, "backward_diff")
    return _stencil_derivative(f, x, h, 1, 1, "backward", vectorized, seed=True)


def centered_diff(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | None = None, *,
                  vectorized: bool = True) -> Any:
    _check_f(f, "centered_diff")
    return _stencil_derivative(f, x, h, 1, 2, "centered", vectorized, seed=True)


def second_derivative(f: Callable[..., Any], x: ArrayLike, h: ArrayLike | None = None, *,
                      vectorized: bool = True) -> Any:
    _check_f(f, "second_derivative")
    return _stencil_derivative(f, x, h, 2, 2, "centered", vectorized, seed=True)


forward_diff.__doc__ = _SEED_DOC.format(
    summary="Forward difference: first derivative of ``f`` at ``x``.",
    formula="(f(x + h) - f(x)) / h", p=1, scheme="forward", order=1,
    rule="eps**(1/2)", realized="(x + h) - x", name="forward_diff",
    examples="""    >>> err = abs(forward_diff(f, 1.3, 1e-5) - (4*1.3**3 - 4*1.3))  # the seed's number
    >>> print(f"{err:.2e}")
    8.14e-05
    >>> bool(abs(forward_diff(f, 1.3) - (4*1.3**3 - 4*1.3)) < 5e-7)   # automatic step: ~1e-7
    True""")
backward_diff.__doc__ = _SEED_DOC.format(
    summary="Backward difference: first derivative of ``f`` at ``x``.",
    formula="(f(x) - f(x - h)) / h", p=1, scheme="backward", order=1,
    rule="eps**(1/2)", realized="x - (x - h)", name="backward_diff",
    examples="""    >>> backward_diff(f, np.array([0.0, 1.0]), 2.0**-10)   # every f value is exact here
    array([ 0.00195312, -0.00390244])""")
centered_diff.__doc__ = _SEED_DOC.format(
    summary="Centered difference: first derivative of ``f`` at ``x``.",
    formula="(f(x + h) - f(x - h)) / (2*h)", p=2, scheme="centered", order=1,
    rule="eps**(1/3)", realized="(x + h) - (x - h)", name="centered_diff",
    examples="""    >>> err = abs(centered_diff(f, 1.3, 1e-5) - (4*1.3**3 - 4*1.3))
    >>> bool(4e-10 < err < 7e-10)   # the seed's 5.32e-10: truncation 5.2e-10 + roundoff
    True
    >>> centered_diff(np.sin, np.array([0.0, np.pi]))
    array([ 1., -1.])""")
second_derivative.__doc__ = _SEED_DOC.format(
    summary="Second derivative of ``f`` at ``x`` by the centered second difference.",
    formula="(f(x + h) - 2*f(x) + f(x - h)) / h**2", p=2, scheme="centered", order=2,
    rule="eps**(1/4)", realized="((x + h) - (x - h)) / 2", name="second_derivative",
    examples="""    >>> x = np.linspace(-2, 2, 200)
    >>> err = np.abs(second_derivative(f, x, 1e-4) - (12*x**2 - 4)).max()
    >>> bool(1e-7 < err < 1e-6)     # the seed's 4.43e-07: roundoff ~ eps*|f|/h**2
    True
    >>> bool(np.abs(second_derivative(f, x) - (12*x**2 - 4)).max() < 1e-6)
    True

    The step is ``eps**(1/4) ~ 1.2e-4``, not the seed summary's
    ``eps**(1/3) ~ 6e-6``: roundoff in a second difference grows like
    ``eps/h**2`` (see ``fastfd.steps``).""")


def derivative(f: Callable[..., Any], x: ArrayLike, *, order: int = 1, accuracy: int = 2,
               scheme: str = "centered", h: ArrayLike | None = None, method: str = "fd",
               full_output: bool = False, vectorized: bool = True) -> Any:
    """Derivative of order 1..4 of a scalar function at one or many points.

    ``method="fd"``: the finite-difference stencil of :func:`fastfd.stencil`
    for ``(order, accuracy, scheme)``:
    ``sum(w[k] * f(x + offsets[k]*h)) / h**order`` with error ``O(h**accuracy)``.
    Exact for polynomials of degree ``< order + accuracy``.

    ``method="richardson"``: the same stencil at the sixteen steps ``h, h/2,
    ..., h/2**15``, every window of 2, 3 and 4 consecutive steps
    extrapolated to ``h -> 0`` (each extrapolation removes the next power of
    ``h`` in the error expansion; powers go up by 2 for centered stencils),
    and per point the window with the smallest estimated error (truncation
    and roundoff) returned. Where the best window is still dominated by
    truncation at the smallest steps, four more steps at a time (up to 48
    steps in all). Costs ``16 * n + 1`` evaluations (``n`` stencil points
    with a nonzero weight), ``4 n`` more per extension; with
    ``full_output`` the error estimate is measured at 0.35x of the true
    error or above it, typically 1-4x above it, on smooth functions.

    ``method="complex"`` (first derivatives only): ``Im f(x + i h) / h``
    with ``h = eps * max(1, |x|)``. There is no subtraction, so the result
    is accurate to a few ulps, but ``f`` must be analytic and written so that
    it keeps the imaginary part (NumPy ufuncs do; ``abs``, ``.real``,
    ``float()`` and comparisons do not). An ``f`` that returns real numbers
    for complex arguments is rejected. Where ``Im f(x + ih)`` is exactly 0 at
    every point (``f' = 0`` there, as for ``cos`` at 0, or a dropped imaginary
    part), ``f`` is probed once more at ``x + d + id``, ``d = 2**-10 max(1,
    |x|)`` (not 0 for an analytic non-constant ``f``), and if that is 0 as
    well, its real values at ``x`` and ``x + d`` must agree (a constant ``f``).

    Parameters
    ----------
    f : callable
        Scalar function of a scalar; see :mod:`fastfd.functions` for how it
        is evaluated (jitted kernel, NumPy-vectorized, or per point).
    x : float or array_like
        Point(s); the result has ``x``'s shape (broadcast with ``h``).
    order : int, optional
        Derivative order, 1 to 4.
    accuracy : int, optional
        Formal accuracy ``p`` of the stencil (even for ``"centered"``), at
        most ``fastfd.stencils.max_accuracy(order, scheme, x.dtype)`` (40
        for a centered first derivative in float64): ValueError beyond.
    scheme : {"centered", "forward", "backward"}, optional
    h : float or array_like, optional
        Step(s), positive and finite, broadcastable with ``x``. ``None``:
        ``optimal_step(x, scheme, order=order, accuracy=accuracy)`` (about
        ``eps**(1/(accuracy + order)) * max(1, |x|)``) and division by the
        realized step. For Richardson the first (largest) step, by default
        ``max(1, |x|) / 8`` rounded down to a power of two (``sqrt(|x|)``
        instead of ``|x|/8`` above ``|x| = 64``, at least ``|x| / 2**29``:
        ``sin`` at ``1e4`` varies on the scale 1, not ``1e4``). A given step
        (for Richardson the smallest, ``h / 2**15``) must be above the
        resolution of ``x`` (``x + h != x``) and ``h**order`` must not
        underflow: ValueError otherwise, before ``f`` is called. Not checked
        for ``"complex"``, whose point ``x + i h`` always differs from ``x``.
    method : {"fd", "richardson", "complex"}, optional
    full_output : bool, optional
        Return a :class:`DerivativeResult` (value, error estimate, step,
        evaluations per point, non-finite points) instead of the value.
    vectorized : bool, optional
        Whether a Python ``f`` accepts arrays (default True).

    Returns
    -------
    float, ndarray or DerivativeResult

    Notes
    -----
    What the error estimate (``full_output=True``) covers: truncation (from
    the changes between steps and between windows) and the rounding of the
    values of ``f``: for ``"fd"`` a bound of 2 ulps of each value, for
    ``"richardson"`` also the rounding actually measured in the changes
    between windows at the smallest steps, which sees values noisier than
    ``|f|`` suggests (cancellation inside ``f``, a less accurate libm).

    What it cannot see: an error that every evaluation of ``f`` shares. An
    ``f`` that rounds a scaled or shifted argument, such as ``np.sin(1e3 *
    x)``, evaluates ``f`` at ``x (1 + delta)`` with ``|delta| <= eps / 2``,
    an error of the value of size ``|x f'(x)| eps`` (the condition number of
    ``f``, not ``eps |f|``). With Richardson's power-of-two steps every
    point of the stencil gets the same ``delta`` (``1e3 (x + h) = 1e3 x + 1e3
    h`` exactly), so the values are those of ``f`` shifted by ``x delta``,
    agree with each other, and give the derivative at the shifted point: off
    by up to ``|x f^(order + 1)(x)| eps / 2``, which no difference of the
    values shows (``np.sin(1e3 * x)`` on ``[0.3, 3]``: about 10x the
    Richardson estimate, up to ``2e-10``). Where ``f`` rounds its argument,
    add ``|x f^(order + 1)(x)| eps`` to the estimate; only a more accurate
    ``f`` does better.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import derivative
    >>> round(float(derivative(np.exp, 0.0, accuracy=4)), 12)
    1.0
    >>> err = derivative(np.exp, 1.0, scheme="forward", accuracy=3) - np.e
    >>> bool(abs(err) < 1e-10)      # roundoff eps*|f|/h ~ 1e-11 dominates
    True
    >>> x = np.array([0.0, np.pi / 2])
    >>> d2 = derivative(np.sin, x, order=2, accuracy=4)
    >>> bool(np.all(np.abs(d2 + np.sin(x)) < 1e-10))
    True
    >>> r = derivative(lambda x: np.exp(x) * np.sin(x), 1.0, method="complex",
    ...                full_output=True)
    >>> bool(abs(r.value - np.exp(1) * (np.sin(1) + np.cos(1))) < 1e-15 * 3.756)
    True
    >>> r = derivative(np.exp, 1.0, method="richardson", full_output=True)
    >>> bool(abs(r.value - np.e) < 1e-13), bool(r.error < 1e-13), r.nfev
    (True, True, 33)
    """
    _check_f(f, "derivative")
    order, accuracy, scheme, method = _check_derivative_args(order, accuracy, scheme, method)
    full_output = check_bool("full_output", full_output)
    if method == "complex":
        return _complex_step(f, x, h, vectorized, full_output)
    return _stencil_derivative(f, x, h, order, accuracy, scheme, vectorized, full_output,
                               method)


# -------------------------------------------------- gradient, Jacobian, Hessian

def _prepare_vector(f, x, h, accuracy, scheme, parallel, orders=(1,), power=1,
                    caller=None):
    jitted = _check_f(f, caller)
    scheme = check_scheme(scheme)
    accuracy = check_accuracy(accuracy, scheme)
    parallel = check_bool("parallel", parallel, allow_none=True)
    if parallel and not jitted:
        raise ValueError(
            "parallel=True needs a Numba-jitted f (a Python f holds the GIL); got "
            f"{short_repr(f)}")
    xa, xdt = as_real_array(x)
    if xa.ndim != 1 or xa.size == 0:
        raise ValueError(
            f"x must be a non-empty 1-D array, got shape {xa.shape}: {short_repr(x)}")
    for order in orders:
        check_accuracy_limit(accuracy, order, scheme, xdt)
    ha = None
    if h is not None:
        ha = check_h(h, xdt)
        if ha.shape not in ((), (1,), xa.shape):
            raise ValueError(
                f"h must be a scalar or have x's shape {xa.shape}, got shape {ha.shape}")
        for order in orders:
            offsets = stencil_offsets(order, accuracy, scheme)
            _check_resolution(xa, ha, offsets[0], offsets[-1], xdt, power)
    # the private copy every evaluation works on: the caller's x is never touched
    xc = np.array(xa, dtype=xdt, order="C", copy=True)
    return jitted, xc, xdt, ha, accuracy, scheme, parallel


# parallel=None: the choice made on the first call for a jitted f, per
# (kind, n, dtype), so later calls of the same shape reuse the kernel that
# call compiled (the serial and the parallel path compile different
# specializations of the chunk kernel, each a fraction of a second).
_PARALLEL_CHOICE = weakref.WeakKeyDictionary()


def _decide_parallel(parallel, jitted, t_f0, nevals, f=None, key=None):
    if parallel is not None:
        return parallel
    if not jitted:
        return False
    try:
        choices = _PARALLEL_CHOICE.setdefault(f, {})
    except TypeError:           # f not weak-referenceable: decide every call
        choices = {}
    if key not in choices:
        choices[key] = t_f0 * nevals > PARALLEL_MIN_SECONDS
    return choices[key]


def _eval_f0(f, xc, jitted):
    """``f(x)`` on a copy, and how long it took. A jitted ``f`` is compiled
    for ``x``'s type first, so the time is that of one evaluation, not of
    the compiler. A Python ``f`` sees a read-only view; the copy is compared
    with ``x`` after."""
    work = xc.reshape(1, -1).copy()
    call = f if jitted else _ReadOnlyArg(f, work[0])
    try:
        if jitted:
            f.compile((numba.typeof(work[0]),))
        t = time.perf_counter()
        v = call(work[0])
        t = time.perf_counter() - t
    except NumbaError as exc:
        raise TypeError(
            f"f (a jitted function) could not be compiled for a 1-D {xc.dtype} array "
            f"argument: {str(exc).splitlines()[0]}") from None
    _check_untouched(xc, work, np.full(1, -1, dtype=np.int64))
    return v, t


def _steps_args(ha, dt):
    if ha is None:
        return np.zeros(1, dtype=dt), 0
    if ha.size == 1:
        return ha.reshape(1).astype(dt), 0
    return np.ascontiguousarray(ha, dtype=dt), 1


def _scalar_f0(f0, what):
    if np.ndim(f0) != 0:
        raise ValueError(
            f"f must return a scalar for {what}, got shape {np.shape(f0)}: {short_repr(f0)}")
    fdt = _value_dtype(f0)
    if fdt.kind == "c":
        raise TypeError(f"f must return real numbers, got {short_repr(f0)}")
    return fdt


def gradient(f: Callable[..., Any], x: ArrayLike, *, scheme: str = "centered",
             accuracy: int = 2, h: ArrayLike | None = None,
             parallel: bool | None = None) -> np.ndarray:
    """Gradient of a scalar function of a vector, one coordinate at a time.

    ``g[i] = sum(w[k] * f(x + offsets[k]*h[i]*e_i)) / hr[i]`` with the first-
    derivative stencil of ``(accuracy, scheme)``, where ``hr[i]`` is the
    realized step ``((x[i] + hi*h[i]) - (x[i] + lo*h[i])) / (hi - lo)``.
    ``f(x)`` itself is evaluated once (forward/backward stencils use it).

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for a 1-D array ``x``. A Numba-jitted ``f`` runs in
        a parallel kernel: the coordinates are split into one chunk per
        thread, each thread perturbs one entry of its private copy of ``x``
        in place, evaluates, and restores the entry by assignment. A Python
        ``f`` is called on one private copy, perturbed and restored the same
        way (no O(n) copy per coordinate). ``f`` must not keep a reference to
        its argument, nor write to it: a Python ``f`` gets a read-only view,
        and the private copies are compared with ``x`` afterwards (and the
        perturbed entry after every call); a write raises ValueError.
    x : array_like, 1-D, non-empty
        The point. Never modified (also not if ``f`` raises).
    scheme : {"centered", "forward", "backward"}, optional
    accuracy : int, optional
        Formal accuracy of the stencil (even for ``"centered"``), at most
        ``fastfd.stencils.max_accuracy`` for ``x``'s dtype (as for
        :func:`derivative`).
    h : float or array_like, optional
        Step, or one step per coordinate. ``None``: ``optimal_step(x,
        scheme, accuracy=accuracy)``. A given step must be above the resolution
        of its coordinate (``x[i] + h[i] != x[i]``; for :func:`hessian`
        also ``h[i]**2`` must not underflow): ValueError otherwise, before
        ``f`` is called.
    parallel : bool or None, optional
        Use all Numba threads (jitted ``f`` only). ``None``: when the
        evaluations are estimated (from timing the ``f(x)`` call, after
        compiling ``f``) to take over 1 ms; decided on the first call for
        this ``f`` and ``x``'s size and dtype and kept for later calls, so
        each call shape compiles one kernel. Each entry is computed by the
        same operations either way, so the result is bitwise the same.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import gradient
    >>> f = lambda v: np.sin(v[0] - v[1]) + v[1] * np.exp(v[0])
    >>> gradient(f, [1.0, 1.0], accuracy=4)     # exact: [1 + e, e - 1]
    array([3.71828183, 1.71828183])
    """
    jitted, xc, xdt, ha, accuracy, scheme, parallel = _prepare_vector(
        f, x, h, accuracy, scheme, parallel, caller="gradient")
    f0, t_f0 = _eval_f0(f, xc, jitted)
    fdt = _scalar_f0(f0, "gradient (f: R^n -> R; use jacobian for vector-valued f)")
    dt = _out_dtype(xdt, fdt)
    offs, nums, den = _stencil_arrays(1, accuracy, scheme, xdt.str)
    parallel = _decide_parallel(parallel, jitted, t_f0, xc.size * offs.size,
                                f, ("grad", xc.size, xdt))
    base = step_base(_eps(xdt, fdt), 1, accuracy) if ha is None else 0.0
    hf, hstride = _steps_args(ha, xdt)
    out = np.empty(xc.size, dtype=dt)
    f0 = dt.type(f0)
    n = xc.size
    return _per_coordinate("grad", f, jitted, xc, (hf, hstride, base, offs, nums, den, f0), n,
                           _nchunks(n, parallel), out)


def jacobian(f: Callable[..., Any], x: ArrayLike, *, scheme: str = "centered",
             accuracy: int = 2, h: ArrayLike | None = None,
             parallel: bool | None = None) -> np.ndarray:
    """Jacobian ``J[i, j] = d f_i / d x_j`` of a vector function of a vector.

    Column ``j`` is the stencil of :func:`gradient` applied to the whole
    vector ``f``; see there for the evaluation (jitted: parallel over
    columns, private copies; Python: one private copy).

    Parameters
    ----------
    f : callable
        ``f(x) -> 1-D array`` of the same length ``m`` at every point.
    x : array_like, 1-D, non-empty
    scheme, accuracy, h, parallel
        As for :func:`gradient`.

    Returns
    -------
    ndarray, shape (m, n)

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import jacobian
    >>> f = lambda v: np.array([v[0] * v[1], np.sin(v[0])])
    >>> jacobian(f, [0.0, 2.0])
    array([[2., 0.],
           [1., 0.]])
    """
    jitted, xc, xdt, ha, accuracy, scheme, parallel = _prepare_vector(
        f, x, h, accuracy, scheme, parallel)
    f0, t_f0 = _eval_f0(f, xc, jitted)
    f0a = np.asarray(f0)
    if f0a.ndim != 1:
        raise ValueError(
            f"f must return a 1-D array for jacobian, got shape {f0a.shape}: "
            f"{short_repr(f0)}")
    fdt = _value_dtype(f0a)
    if fdt.kind == "c":
        raise TypeError(f"f must return real numbers, got dtype {fdt}")
    dt = _out_dtype(xdt, fdt)
    offs, nums, den = _stencil_arrays(1, accuracy, scheme, xdt.str)
    parallel = _decide_parallel(parallel, jitted, t_f0, xc.size * offs.size,
                                f, ("jac", xc.size, xdt))
    base = step_base(_eps(xdt, fdt), 1, accuracy) if ha is None else 0.0
    hf, hstride = _steps_args(ha, xdt)
    m, n = f0a.size, xc.size
    out = np.empty((m, n), dtype=dt)
    f0a = np.ascontiguousarray(f0a, dtype=dt)
    def checked(z):
        v = np.asarray(f(z))
        if v.shape != (m,):
            raise ValueError(
                f"f must return arrays of one shape {(m,)}, got shape {v.shape}")
        return v

    return _per_coordinate("jac", f if jitted else checked, jitted, xc,
                           (hf, hstride, base, offs, nums, den, f0a), n,
                           _nchunks(n, parallel), out)


def hessian(f: Callable[..., Any], x: ArrayLike, *, scheme: str = "centered",
            accuracy: int = 2, h: ArrayLike | None = None,
            parallel: bool | None = None) -> np.ndarray:
    """Hessian of a scalar function of a vector; exactly symmetric.

    Diagonal: the second-derivative stencil of ``(accuracy, scheme)`` along
    each coordinate. Off-diagonal: the tensor product of the first-derivative
    stencil with itself, ``H[i, j] = sum_k sum_l w_k w_l f(x + o_k h_i e_i +
    o_l h_j e_j) / (hr_i hr_j)`` (for centered accuracy 2 the classical
    four-point formula), computed once for ``i < j`` and mirrored. Steps
    follow the second-derivative rule ``eps**(1/(accuracy + 2)) * max(1,
    |x|)``, divided by their realized values.

    Parameters
    ----------
    f : callable
        ``f(x) -> float`` for a 1-D array ``x``. Evaluation as for
        :func:`gradient` (jitted: rows dealt out to threads round-robin so
        each gets an equal share of the triangle).
    x : array_like, 1-D, non-empty
    scheme, accuracy, h, parallel
        As for :func:`gradient`.

    Returns
    -------
    ndarray, shape (n, n)

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import hessian
    >>> H = hessian(lambda v: v[0]**2 * v[1] + v[1]**3, [1.0, 2.0])
    >>> np.round(H, 4)                            # exact: [[4, 2], [2, 12]]
    array([[ 4.,  2.],
           [ 2., 12.]])
    >>> bool((H == H.T).all())
    True
    """
    jitted, xc, xdt, ha, accuracy, scheme, parallel = _prepare_vector(
        f, x, h, accuracy, scheme, parallel, orders=(1, 2), power=2)
    f0, t_f0 = _eval_f0(f, xc, jitted)
    fdt = _scalar_f0(f0, "hessian (f: R^n -> R)")
    dt = _out_dtype(xdt, fdt)
    offs1, nums1, den1 = _stencil_arrays(1, accuracy, scheme, xdt.str)
    offs2, nums2, den2 = _stencil_arrays(2, accuracy, scheme, xdt.str)
    n = xc.size
    parallel = _decide_parallel(parallel, jitted, t_f0,
                                n * offs2.size + n * (n - 1) // 2 * offs1.size ** 2,
                                f, ("hess", n, xdt))
    base = step_base(_eps(xdt, fdt), 2, accuracy) if ha is None else 0.0
    hf, hstride = _steps_args(ha, xdt)
    n = xc.size
    out = np.empty((n, n), dtype=dt)
    f0 = dt.type(f0)
    args = (hf, hstride, base, offs1, nums1, den1, offs2, nums2, den2, f0)
    return _per_coordinate("hess", f, jitted, xc, args, n, _nchunks(n, parallel), out)

"""How ``f`` is called: a jitted ``f`` in the kernels of ``fastfd._kernels.fd``
(chunks, serial rerun of a failed chunk), a Python ``f`` through wrappers
(read-only argument, shape and kind of its values, its dtype learned from the
first value), writes to the argument detected, the dtype of ``f``'s values, the
serial/parallel choice and its cache, and the timed ``f(x)``."""

import time
import weakref

import numba
import numba.np.numpy_support
import numpy as np
from numba.core.errors import NumbaError
from numba.extending import is_jitted

from ..gradcheck._params import jit_return_type as _jit_return_type
from .._kernels.fd import JIT, PY
from .._kernels.schedule import launch
from ..steps import _eps
from .._validation import check_callable, real_dtype, short_repr


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


def _value_dtype(v, name="f"):
    dt = np.asarray(v).dtype
    # a bool has no derivative: its differences are 0 and say nothing
    if dt == object or dt.kind not in "iufc":
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
        launch(par, 1, f, x, *((work,) if per_coordinate else ()), *args, nch, out, status,
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


def _seen_dtype(f, fdt):
    """``f``'s dtype as its values showed it (Python ``f``), else ``fdt``."""
    seen = getattr(f, "seen", None)
    return fdt if seen is None or seen.kind == "c" else seen


# parallel=None: per-coordinate kernels use the thread pool when the
# evaluations are estimated (from the timed f(x) call) to take longer than
# this. Waking the pool costs ~10-20 µs on idle cores and 4-12 ms on 2 cores
# busy with other processes.
PARALLEL_MIN_SECONDS = 1e-3


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

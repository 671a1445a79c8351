"""The complex step ``Im f(x + ih) / h`` and its checks that ``f`` keeps the
imaginary part."""

import numpy as np
from numba.core.errors import NumbaError

from .. import _config as config
from .._kernels.fd import PY
from ..steps import _eps
from .._validation import short_repr
from ._evaluate import (
    CHUNKS_PER_THREAD, _jit_return_dtype, _nchunks, _run, _ShapeChecked, _value_dtype,
)
from ._result import DerivativeResult
from ._stencil import _auto_steps, _prepare_points


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

"""Gradient, Jacobian and Hessian of functions of a vector, one coordinate (or
pair of coordinates) at a time, on private copies of ``x``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..steps import _eps, step_base
from .._validation import (
    as_real_array, check_accuracy, check_bool, check_h, check_scheme, short_repr,
)
from ..stencils import check_accuracy_limit, stencil_offsets
from ._evaluate import (
    _check_f, _decide_parallel, _eval_f0, _nchunks, _out_dtype, _per_coordinate,
    _value_dtype,
)
from ._stencil import _check_resolution, _stencil_arrays

__all__ = ["gradient", "jacobian", "hessian"]

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
        ha = check_h(h, xdt, shape=xa.shape)
        for order in orders:
            offsets = stencil_offsets(order, accuracy, scheme)
            _check_resolution(xa, ha, offsets[0], offsets[-1], xdt, power)
    # the private copy every evaluation works on: the caller's x is never touched
    xc = np.array(xa, dtype=xdt, order="C", copy=True)
    return jitted, xc, xdt, ha, accuracy, scheme, parallel


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

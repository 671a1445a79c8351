"""Step sizes for finite differences of functions, in one place.

Error analysis
--------------
A stencil for the ``d``-th derivative with formal accuracy ``p`` evaluated
with step ``h`` has two errors:

* truncation ``C * h**p`` (``C`` involves the ``(p + d)``-th derivative of
  ``f``), which shrinks with ``h``;
* roundoff: each ``f`` value carries a relative error of about ``eps``, and the
  weighted sum is divided by ``h**d``, so the result carries about
  ``eps * |f| / h**d``, which grows as ``h`` shrinks.

The sum ``C h**p + eps |f| / h**d`` is smallest at ``h ~ eps**(1/(p + d))``
(up to a factor that depends on ``f``, which is unknown and taken as 1). The
achievable error is then ``~ eps**(p/(p + d))``:

==========================  ===  ===  ===============  ================
stencil                      d    p    step             best error
==========================  ===  ===  ===============  ================
forward / backward first     1    1    eps**(1/2)       eps**(1/2)
centered first               1    2    eps**(1/3)       eps**(2/3)
centered second              2    2    eps**(1/4)       eps**(1/2)
==========================  ===  ===  ===============  ================

The seed chapter's summary says the optimal second-derivative step is about
``eps**(1/3) ~ 1e-5``. That is the centered *first*-derivative rule: for the
second difference the roundoff term is ``eps |f| / h**2`` (one more power of
``h`` in the denominator), which moves the balance to ``eps**(1/4) ~ 1e-4``.
At ``h = 1e-5`` the roundoff part alone is already ``~ 2e-6 |f|``, about a
hundred times worse than at ``1e-4`` (``tests/test_steps.py`` sweeps ``h``
and finds the minimum near ``eps**(1/4)``).

The step is scaled by ``max(1, |x|)``: relative to ``x``, so that ``x + h``
differs from ``x`` by many ulps for large ``|x|``, and absolute near zero.

Power-of-two steps
------------------
The rule rounds the step *down* to a power of two (at most a factor 2, which
changes the error by at most a constant factor). A power-of-two ``h`` that is
not below ``ulp(x)`` makes ``x + k*h`` exact for small integers ``k`` unless it
crosses a binade boundary, and ``h**d`` and ``den * h**d`` exact; so the
points really sit at the nominal offsets. The derivative code still divides
by the realized step ``(x + hi*h) - (x + lo*h)`` (see :func:`realized_step`),
which is exact whichever way the additions rounded.

Precision
---------
``eps`` is that of the lower precision of ``x`` and ``f(x)``: a float32 ``x``
(or a float32 ``f``) gets float32-sized steps (``eps**(1/3) ~ 5e-3``), since
float64 steps would be lost entirely in float32 roundoff.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._validation import (
    SCHEMES, check_accuracy, check_order, check_scheme, real_array, real_dtype, result_dtype,
)

__all__ = ["optimal_step", "step_base", "step_rule", "realized_step", "check_precision",
           "check_steps"]


def _eps(*dtypes):
    """Machine epsilon of the lowest-precision real floating dtype given."""
    eps = 0.0
    for dt in dtypes:
        if dt is None:
            continue
        eps = max(eps, float(np.finfo(real_dtype(dt, "dtype")).eps))
    return eps


def check_precision(param_dtype, loss_dtype=None):
    """``(eps, check_dtype)`` of a gradient check: the one precision rule of
    every mode (per coordinate, directions, executors).

    ``eps`` is that of the lower of the parameters' and the loss values'
    precisions (`loss_dtype` None or not a float: the parameters' alone);
    the check runs in float32 when that is coarser than float64. Unlike
    :func:`_eps`, a float16 loss keeps float16's eps: its values carry
    11 bits, and the noise model must see that.

    >>> import numpy as np
    >>> check_precision(np.float64, np.float32)
    (1.1920928955078125e-07, dtype('float32'))
    >>> check_precision(np.float64)
    (2.220446049250313e-16, dtype('float64'))
    """
    eps = float(np.finfo(param_dtype).eps)
    if loss_dtype is not None and np.dtype(loss_dtype).kind == "f":
        eps = max(eps, float(np.finfo(loss_dtype).eps))
    return eps, np.dtype(np.float32 if eps > float(np.finfo(np.float64).eps) else np.float64)


def check_steps(x, eps, check_dtype):
    """Default steps of a gradient check at points `x`, float64 (0-d for a
    scalar `x`): ``optimal_step(x, dtype=check_dtype)``, times
    ``(eps / eps32)**(1/3)`` when `eps` (from :func:`check_precision`) is
    coarser than float32's.

    A float16 loss at a float32 step leaves a roundoff bound of about 1 in
    the slope, wide enough to pass a gradient off by several units;
    ``eps**(1/3)`` of the loss's own precision restores the balance.

    >>> import numpy as np
    >>> check_steps(np.array([0.5, 4.0]), *check_precision(np.float64))
    array([3.81469727e-06, 1.52587891e-05])
    """
    steps = np.asarray(optimal_step(x, dtype=check_dtype), dtype=np.float64)
    eps32 = float(np.finfo(np.float32).eps)
    if eps > eps32:
        steps *= (eps / eps32) ** (1.0 / 3.0)
    return steps


def step_base(eps, order=1, accuracy=2):
    """``eps**(1/(accuracy + order))``: the step at ``|x| <= 1`` before rounding."""
    return eps ** (1.0 / (accuracy + order))


_EXPONENT_BITS = np.int64(0x7FF0000000000000)


def step_rule(x, base):
    """The steps for points ``x``: ``base * max(1, |x|)`` rounded down to a
    power of two, in float64 (exact for float32 ``x``), as an array of
    ``x``'s shape (a float for a scalar).

    ``base`` comes from :func:`step_base`. Infinite ``x`` gives an infinite
    step (the derivative there is then non-finite too); NaN ``x`` gives
    ``base``, the step of ``|x| <= 1`` (``f(NaN + h)`` is NaN anyway). In
    NumPy, so a Python path never starts Numba; the compiled kernels use
    ``fastfd._kernels.steps.step_rule``, the same arithmetic per point.

    >>> step_rule(np.array([0.5, 3.0, np.inf]), 2.0 ** -18)
    array([3.81469727e-06, 7.62939453e-06,            inf])
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    s = np.where(ax > 1.0, base * ax, base)
    # the exponent bits alone: the largest power of two <= s (s >= base >=
    # eps is normal)
    fin = np.isfinite(s)
    out = s.copy()
    out[fin] = (s[fin].view(np.int64) & _EXPONENT_BITS).view(np.float64)
    return float(out) if out.ndim == 0 else out


def realized_step(x, h, lo, hi):
    """``((x + hi*h) - (x + lo*h)) / (hi - lo)``: the step the points really have.

    ``lo < hi`` are the outermost stencil offsets. Works on scalars and
    arrays (the compiled kernels use ``fastfd._kernels.steps``' copy). With
    a power-of-two ``h`` this is ``h`` exactly in almost every case; when an
    addition rounded it is the spacing of the points actually evaluated.
    """
    return ((x + hi * h) - (x + lo * h)) / (hi - lo)


def optimal_step(x: ArrayLike, scheme: str = "centered", *, order: int = 1,
                 accuracy: int = 2, dtype: DTypeLike = None) -> Any:
    """Step used by fastfd's derivatives of functions when ``h=None``.

    ``h = eps**(1/(accuracy + order)) * max(1, |x|)``, rounded down to a power
    of two. The exponent balances truncation error ``C h**accuracy`` against
    roundoff ``eps |f| / h**order``:

    * forward / backward first derivative (accuracy 1): ``eps**(1/2)``
    * centered first derivative (accuracy 2): ``eps**(1/3)``
    * centered second derivative (accuracy 2): ``eps**(1/4)``; not
      ``eps**(1/3)`` as the seed chapter's summary says: the second
      difference divides roundoff by ``h**2``, not ``h``.

    Parameters
    ----------
    x : float or array_like
        Point(s) of evaluation. Real numbers.
    scheme : {"centered", "forward", "backward"}, optional
        Stencil shape (only used to validate ``accuracy``: centered stencils
        need an even accuracy).
    order : int, optional
        Derivative order ``d`` >= 1.
    accuracy : int, optional
        Formal accuracy ``p`` of the stencil >= 1 (even for centered).
    dtype : dtype, optional
        dtype of ``f(x)``. ``eps`` is that of the lower precision of ``x`` and
        ``dtype`` (float32 gives float32-sized steps).

    Returns
    -------
    h : float or ndarray
        Same shape as ``x``, in the lower of the two precisions. Python float
        (or NumPy scalar for float32) for scalar ``x``.

    Notes
    -----
    The achievable error at this step is about ``eps**(p/(p + d))`` relative:
    ``1.5e-8`` for forward, ``3.7e-11`` for centered first, ``1.5e-8`` for
    centered second derivatives in float64. See the module docstring of
    ``fastfd.steps`` for the full analysis. Power-of-two steps make
    ``x + h`` exact in almost every case.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.steps import optimal_step
    >>> optimal_step(1.0)                    # eps**(1/3) = 6.06e-06
    3.814697265625e-06
    >>> optimal_step(1.0, order=2)           # eps**(1/4) = 2**-13 exactly
    0.0001220703125
    >>> optimal_step(1.0, "forward", accuracy=1)   # eps**(1/2) = 2**-26 exactly
    1.4901161193847656e-08
    >>> optimal_step(np.float32(3.0))        # float32: 3 * 4.9e-03, rounded down
    np.float32(0.0078125)
    >>> optimal_step([0.0, 1e3])
    array([3.81469727e-06, 3.90625000e-03])
    """
    if isinstance(x, str) and x in SCHEMES:
        raise TypeError(
            f"x must be real numbers, got {x!r}: x comes first, optimal_step(x, {x!r})")
    scheme = check_scheme(scheme)
    order = check_order(order)
    accuracy = check_accuracy(accuracy, scheme)
    xa = real_array(x)
    scalar = xa.ndim == 0
    xdt = result_dtype(xa.dtype, "x")
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind not in "iufc" or (dt.kind == "f" and dt.itemsize not in (2, 4, 8)):
            raise TypeError(f"dtype must be a numeric dtype, got {dtype!r}")
        out_dt = np.dtype(np.float32) if _eps(xdt, dt) > _eps(np.float64) else np.dtype(np.float64)
    else:
        out_dt = xdt
    base = step_base(_eps(xdt, dtype), order, accuracy)
    if scalar:
        h = step_rule(float(xa), base)
        return h if out_dt == np.float64 else out_dt.type(h)
    return step_rule(xa, base).astype(out_dt, copy=False)

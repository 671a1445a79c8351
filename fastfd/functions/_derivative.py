"""Derivatives of a scalar function at points: the seed functions
(forward_diff, backward_diff, centered_diff, second_derivative) and
derivative, which validates its options and runs the "fd" method here,
"richardson" in ``_richardson`` and "complex" in ``_complex``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..steps import _eps, step_base
from .._validation import (
    check_accuracy, check_bool, check_choice, check_order, check_scheme,
)
from ..stencils import check_accuracy_limit, stencil_offsets
from ._complex import _complex_step
from ._evaluate import _check_f, _jit_fdtype, _out_dtype, _Restart, _seen_dtype, _Watched
from ._result import DerivativeResult
from ._richardson import RICHARDSON_STEPS, _richardson
from ._stencil import (
    _auto_steps, _check_resolution, _fd_eval, _prepare_points, _stencil_arrays,
)

__all__ = ["forward_diff", "backward_diff", "centered_diff", "second_derivative", "derivative"]

METHODS = ("fd", "richardson", "complex")
MAX_ORDER = 4


# The "fd" error estimate's roundoff term allows each f value an error of
# this many eps |f|. Measured with 1 (2001 points each of ndtr, exp, sin, log,
# x**99 - 1, orders 1-3, centered/forward/backward, accuracy 1-4):
# estimate/true error never below 0.33 (scipy.special.ndtr near -1.39, whose
# own error is ~1.3 ulp: it rounds -x/sqrt(2) internally) and >= 1.0 for the
# others, median 3-10. 2 keeps every case >= 0.57, medians 5-21.
FD_ROUNDOFF_ULPS = 2.0


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

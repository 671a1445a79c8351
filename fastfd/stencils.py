"""Exact finite-difference stencil weights.

Every weight fastfd uses comes from here. Weights are computed with
Fornberg's recurrence (B. Fornberg, "Generation of finite difference formulas
on arbitrarily spaced grids", Math. Comp. 51, 1988) in exact rational
arithmetic (:class:`fractions.Fraction`), so they are rounded exactly once,
when they are turned into float64. Symmetric stencils therefore come out
exactly symmetric (even derivatives) or antisymmetric (odd derivatives).

A stencil of ``N`` points for the ``d``-th derivative is exact on polynomials
of degree ``N - 1`` and has truncation error ``O(h**(N - d))``; a centered
stencil gains one more order from symmetry, which is why a centered stencil of
accuracy ``p`` needs only ``2*floor((d + 1)/2) - 1 + p`` points.
"""

from __future__ import annotations

import functools
import math
import numbers
from fractions import Fraction

import numpy as np

from ._validation import check_accuracy, check_order, check_scheme, real_dtype

__all__ = ["stencil", "stencil_weights", "stencil_offsets", "exact_weights", "integer_form",
           "max_accuracy", "check_accuracy_limit"]

# Orders above this have no usable stencil in float32 or float64: the minimal
# stencil's sum|w| grows about 2x per order and fails the rule below from order
# 28 on in float64 (measured up to order 64), so the Fornberg work is skipped.
# stencil_weights takes the same limit.
MAX_ORDER = _MAX_ORDER_ANY = 32

# Most offsets stencil_weights takes. The limit is on time and size, not on
# float usability (exact weights rounded once are the point of it): rational
# Fornberg is O(points**2 * order) operations on growing fractions. Measured
# (one AMD EPYC core): 64 integer offsets 0.01 s at order 1, 0.27 s at order 32;
# 64 arbitrary float offsets 0.06 s / 1.3 s; 100 float offsets 5 s at order
# 32; 3000 integer offsets 52 s. The largest standard stencil (fastfd.stencil,
# centered first derivative of accuracy 40) has 41 points.
MAX_STENCIL_POINTS = 64


def _limit_dtype(dtype):
    """The real float type whose precision the weights must fit."""
    return real_dtype(dtype, "dtype")


@functools.lru_cache(maxsize=512)
def _usable(order, accuracy, scheme, dtype):
    """Whether the stencil's weights are representable usefully in ``dtype``.

    Two conditions, both about the working precision ``eps``:

    * the integer numerators and the common denominator (what the kernels
      multiply and divide by, see :func:`integer_form`) are exact integers
      in ``dtype`` (``<= 2**(nmant + 1)``), so the only rounding is the one
      final division;
    * the rounding amplification ``sum|w|`` (unit step) costs at most half
      the working digits: ``eps * sum|w| <= sqrt(eps)``. Centered stencils
      have ``sum|w|`` growing like ``log(accuracy)``; one-sided ones about
      2x per point: the forward first derivative at accuracy 80 has
      ``sum|w| ~ 1e22``, and on ``np.ones(84)`` it returned 5e5.
    """
    w = _fornberg(order, Fraction(0), [Fraction(o) for o in _raw_offsets(order, accuracy, scheme)])
    nums, den = integer_form(tuple(w))
    fi = np.finfo(dtype)
    exact = 2 ** (fi.nmant + 1)
    if den > exact or max(abs(n) for n in nums) > exact:
        return False
    return float(Fraction(sum(abs(n) for n in nums), den)) * math.sqrt(float(fi.eps)) <= 1.0


@functools.lru_cache(maxsize=128)
def _max_accuracy(order, scheme, dtype):
    if order > _MAX_ORDER_ANY:
        return 0
    step = 2 if scheme == "centered" else 1
    accuracy = step
    # the first refusal ends the scan: every accepted accuracy is below it
    while _usable(order, accuracy, scheme, dtype):
        accuracy += step
    return accuracy - step


def _within_limit(accuracy, order, scheme, dtype):
    """``accuracy <= _max_accuracy(order, scheme, dtype)``, scanning only the
    accuracies up to ``accuracy`` (one Fornberg run for the default
    accuracy 2; the full scan to the centered limit 40 takes about 50 ms)."""
    if order > _MAX_ORDER_ANY:
        return False
    step = 2 if scheme == "centered" else 1
    return all(_usable(order, a, scheme, dtype) for a in range(step, accuracy + step, step))


def max_accuracy(order: int, scheme: str = "centered", dtype=np.float64) -> int:
    """Largest accuracy whose stencil is usable in ``dtype``; 0 if none is.

    The weights of a stencil are usable when their integer numerators and
    common denominator are exact in ``dtype`` and their rounding
    amplification ``sum|w|`` costs at most half the working digits
    (``eps * sum|w| <= sqrt(eps)``). The bound is computed once per
    ``(order, scheme, dtype)`` and cached. Measured limits (orders 1-4):

    ========  =================  ================
    dtype     centered           forward/backward
    ========  =================  ================
    float64   40, 28, 22, 18     24, 18, 16, 14
    float32   18, 12, 12, 10     12, 10, 7, 5
    ========  =================  ================

    ``dtype`` is the working dtype (complex and float16 map to the float they
    are computed in, bool and integers to float64; anything else is a
    TypeError).

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.stencils import max_accuracy
    >>> max_accuracy(1, "centered", np.float64), max_accuracy(1, "forward", np.float32)
    (40, 12)
    """
    order = check_order(order)
    scheme = check_scheme(scheme)
    return _max_accuracy(order, "forward" if scheme == "backward" else scheme,
                         _limit_dtype(dtype))


def check_accuracy_limit(accuracy, order, scheme="centered", dtype=np.float64,
                         edges=False):
    """Raise ValueError, with the limit, if ``accuracy`` exceeds
    :func:`max_accuracy` (validated ``accuracy``, ``order``, ``scheme``).

    ``edges=True`` also applies the one-sided limit: the edge rows of a grid
    with ``boundary="one-sided"`` use ``order + accuracy`` points on one side.
    """
    dt = _limit_dtype(dtype)
    kind = "forward" if scheme == "backward" else scheme
    if _within_limit(accuracy, order, kind, dt) and not (
            edges and scheme == "centered"
            and not _within_limit(accuracy, order, "forward", dt)):
        return accuracy
    limit = max_accuracy(order, scheme, dt)
    where = f"scheme={scheme!r}"
    if edges and scheme == "centered":
        edge = max_accuracy(order, "forward", dt)
        if edge < limit:
            limit, where = edge, f"scheme={scheme!r} with one-sided edges"
    if accuracy <= limit:
        return accuracy
    if limit < 1:
        raise ValueError(
            f"order={order} has no usable stencil in {dt} ({where}): even the "
            f"lowest accuracy has weights beyond the working precision (limit 0)")
    raise ValueError(
        f"accuracy={accuracy} is too high for order={order}, {where} in {dt}: "
        f"the limit is {limit} (beyond it the stencil weights are not exact "
        f"integers over one denominator in {dt}, or amplify rounding by more "
        f"than 1/sqrt(eps))")


def stencil_offsets(order: int, accuracy: int = 2, scheme: str = "centered") -> tuple:
    """Integer offsets of the standard stencil (validated arguments).

    centered: ``-m..m`` with ``m = (order - 1)//2 + accuracy//2``;
    forward: ``0..order + accuracy - 1``; backward: the negation of forward.
    An accuracy above :func:`max_accuracy` in float64 is a ValueError that
    gives the limit, before any weights are computed.
    """
    scheme = check_scheme(scheme)
    order = check_order(order)
    accuracy = check_accuracy_limit(check_accuracy(accuracy, scheme), order, scheme)
    return _raw_offsets(order, accuracy, scheme)


def _raw_offsets(order, accuracy, scheme):
    if scheme == "centered":
        m = (order - 1) // 2 + accuracy // 2
        return tuple(range(-m, m + 1))
    n = order + accuracy
    if scheme == "forward":
        return tuple(range(n))
    return tuple(range(-(n - 1), 1))


def _fornberg(order: int, x0, nodes) -> list:
    """Fornberg's recurrence; exact when the inputs are Fractions.

    Returns the weights of the ``order``-th derivative at ``x0`` on ``nodes``.
    """
    n = len(nodes) - 1
    zero = x0 - x0
    c = [[zero] * (order + 1) for _ in range(n + 1)]
    c[0][0] = zero + 1
    c1 = zero + 1
    c4 = nodes[0] - x0
    for i in range(1, n + 1):
        mn = min(i, order)
        c2 = zero + 1
        c5 = c4
        c4 = nodes[i] - x0
        for j in range(i):
            c3 = nodes[i] - nodes[j]
            c2 = c2 * c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i][k] = c1 * (k * c[i - 1][k - 1] - c5 * c[i - 1][k]) / c2
                c[i][0] = -c1 * c5 * c[i - 1][0] / c2
            for k in range(mn, 0, -1):
                c[j][k] = (c4 * c[j][k] - k * c[j][k - 1]) / c3
            c[j][0] = c4 * c[j][0] / c3
        c1 = c2
    return [row[order] for row in c]


@functools.lru_cache(maxsize=512)
def exact_weights(order: int, offsets: tuple) -> tuple:
    """Exact weights (tuple of Fractions) of the ``order``-th derivative at 0.

    ``offsets`` is a tuple of distinct Fractions (or ints). Cached.
    """
    nodes = [Fraction(o) for o in offsets]
    return tuple(_fornberg(order, Fraction(0), nodes))


def integer_form(weights: tuple) -> tuple:
    """Split exact weights into integer numerators and one common denominator.

    Returns ``(numerators, denominator)`` with ``weights[k] == numerators[k] /
    denominator`` exactly. The kernels sum ``numerator * u`` and divide once by
    ``denominator * h**order``: the numerators are small integers (exact in
    float32 and float64), so the only rounding in the weights is gone and the
    centered first difference is bit-for-bit ``(u[i+1] - u[i-1]) / (2*h)``,
    the same expression ``np.gradient`` evaluates.
    """
    den = 1
    for w in weights:
        den = den * w.denominator // math.gcd(den, w.denominator)
    nums = tuple(int(w * den) for w in weights)
    return nums, den


def _readonly(a):
    a = np.asarray(a)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=256)
def _stencil_cached(order, accuracy, scheme):
    offs = stencil_offsets(order, accuracy, scheme)
    w = exact_weights(order, offs)
    return (_readonly(np.array(offs, dtype=np.int64)),
            _readonly(np.array([float(x) for x in w], dtype=np.float64)))


def stencil(order: int, accuracy: int = 2, scheme: str = "centered"):
    """Offsets and weights of a finite-difference stencil on a unit grid.

    The ``order``-th derivative of ``u`` at grid point ``i`` is approximated by
    ``sum(weights[k] * u[i + offsets[k]]) / h**order`` with truncation error
    ``O(h**accuracy)``.

    Parameters
    ----------
    order : int
        Derivative order, >= 1.
    accuracy : int, optional
        Formal order of accuracy, >= 1; must be even for ``"centered"``, and
        at most :func:`max_accuracy` in float64 (40 for a centered first
        derivative, 24 for a one-sided one): beyond it the weights are not
        usable in float64.
    scheme : {"centered", "forward", "backward"}, optional
        Which side the stencil reaches.

    Returns
    -------
    offsets : ndarray of int64, read-only
    weights : ndarray of float64, read-only
        Computed exactly in rational arithmetic and rounded once. Centered
        weights are exactly symmetric (even order) or antisymmetric (odd).

    Raises
    ------
    ValueError
        ``accuracy`` above the limit (the message gives it), or an ``order``
        with no usable stencil in float64 (orders above about 27).

    Examples
    --------
    >>> import fastfd
    >>> offsets, weights = fastfd.stencil(3, accuracy=4)
    >>> offsets.tolist()
    [-3, -2, -1, 0, 1, 2, 3]
    >>> weights.tolist()
    [0.125, -1.0, 1.625, 0.0, -1.625, 1.0, -0.125]
    """
    # Validate before the cache: lru_cache would treat True as the key 1.
    stencil_offsets(order, accuracy, scheme)
    return _stencil_cached(int(order), int(accuracy), scheme)


def _as_offset(o, name="offsets"):
    if isinstance(o, (bool, np.bool_)):
        raise TypeError(f"{name} must be real numbers, got {o!r}")
    if isinstance(o, numbers.Integral):
        return Fraction(int(o))
    if isinstance(o, numbers.Real):
        f = float(o)
        if not math.isfinite(f):
            raise ValueError(f"{name} must be finite, got {o!r}")
        return Fraction(f)  # exact binary value of the float
    raise TypeError(f"{name} must be real numbers, got {o!r}")


def _short_offsets(arr, limit=80):
    r = repr(arr.tolist())
    return r if len(r) <= limit else r[: limit - 3] + "..."


def stencil_weights(order: int, offsets):
    """Weights of the ``order``-th derivative at 0 on arbitrary ``offsets``.

    Parameters
    ----------
    order : int
        Derivative order, >= 1.
    offsets : sequence of real numbers
        Distinct sample positions relative to the evaluation point, in units of
        the grid step. Integers give the classical stencils; real values
        (non-uniform grids) are converted to fractions exactly, so the weights
        are still the exact weights of those float positions, rounded once.
        At least ``order + 1`` of them are needed, at most 64
        (``MAX_STENCIL_POINTS``: the exact rational recurrence takes about a
        second at 64 arbitrary float offsets and order 32, and grows as
        ``points**2 * order`` on ever longer fractions).

    Returns
    -------
    ndarray of float64, read-only
        The exact weights, each rounded once. Nothing here judges whether
        they are usable in floating point: evaluating the stencil on data
        amplifies rounding by ``sum(abs(weights))`` (about ``2**points``
        for one-sided integer offsets), which :func:`fastfd.stencil` bounds
        through its accuracy limit and this function does not.

    Raises
    ------
    ValueError
        ``order`` above 32 (``MAX_ORDER``, the limit of
        :func:`fastfd.stencil`), more than 64 offsets, repeated or too few
        offsets, or weights beyond float64.

    Examples
    --------
    >>> import fastfd
    >>> fastfd.stencil_weights(1, [0, 1, 2]).tolist()
    [-1.5, 2.0, -0.5]
    >>> fastfd.stencil_weights(2, [-1, 0, 1]).tolist()
    [1.0, -2.0, 1.0]
    """
    order = check_order(order)
    if order > MAX_ORDER:
        raise ValueError(
            f"order={order} is above the limit of {MAX_ORDER} for stencil weights (the "
            f"limit of fastfd.stencil: no stencil of a higher order is usable in float64)")
    arr = np.asarray(offsets)
    if arr.ndim != 1:
        raise ValueError(f"offsets must be a 1-D sequence, got shape {arr.shape}")
    if arr.shape[0] > MAX_STENCIL_POINTS:  # before any Fraction is formed
        raise ValueError(
            f"offsets has {arr.shape[0]} points; stencil_weights takes at most "
            f"{MAX_STENCIL_POINTS} (exact rational weights cost points**2 * order "
            f"operations on ever longer fractions: about 1 s at 64 points)")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"offsets must be real numbers, got dtype {arr.dtype}")
    offs = tuple(_as_offset(o) for o in arr.tolist())
    if len(set(offs)) != len(offs):
        raise ValueError(f"offsets must be distinct, got {arr.tolist()!r}")
    if len(offs) < order + 1:
        raise ValueError(
            f"offsets must have at least order + 1 = {order + 1} points for "
            f"order={order}, got {len(offs)}")
    w = exact_weights(order, offs)
    try:
        return _readonly(np.array([float(x) for x in w], dtype=np.float64))
    except OverflowError:  # exact weights beyond 1.8e308: offsets ~1e-160 apart
        raise ValueError(
            f"offsets are too close together for order={order}: the weights "
            f"overflow float64, got {_short_offsets(arr)}") from None

"""Finite-difference stencils to call from your own ``@numba.njit`` code.

Every function here is a Numba ``@njit`` function with a stable signature.
Call it from Python or, more usefully, from inside your own jitted function
(a time-stepping loop, say), where it runs in nopython mode with no Python
overhead:

>>> import numba
>>> import numpy as np
>>> from fastfd import kernels
>>> @numba.njit
... def heat_steps(u, dx, dt, nsteps):
...     lap = np.empty_like(u)
...     for _ in range(nsteps):
...         kernels.second_diff(u, dx, lap)
...         u += dt * lap
...     return u
>>> x = np.linspace(0.0, 1.0, 11)
>>> u = heat_steps(x**2, 0.1, 1e-3, 10)
>>> bool(np.allclose(u, x**2 + 10 * 1e-3 * 2.0))
True

N-d arrays: :func:`derivative` differentiates along any axis of a 1-, 2-
or 3-D array (order 1 or 2, accuracy 2, 4 or 6), :func:`mixed_derivative`
gives ``d2u / (dx_a dx_b)``, and :func:`laplacian_2d` / :func:`laplacian_3d`
take ``accuracy=2, 4 or 6``. Spacings of N-d kernels are given in axis
order, as the array is indexed: ``(dy, dx)`` for ``u[y, x]``, ``(dz, dy,
dx)`` for ``u[z, y, x]``; the first spacing is always axis 0's.

One name, three kinds of input: ``fastfd.centered_diff(f, x, h)``
differentiates a callable ``f`` at ``x``, ``fastfd.grid.centered_diff(u, dx,
axis=...)`` a sampled array (validated, allocating), and
``fastfd.kernels.centered_diff(u, dx, out)`` is the ``@njit`` kernel that
fills ``out``; the second derivative of a callable is
``fastfd.second_derivative``, of samples ``second_diff`` (in ``grid`` and
``kernels``).

The contract:

* **Nothing is allocated** (except the small scratch documented in
  :func:`apply_stencil`'s one-sided mode): results go into ``out``, which you
  supply and may reuse across calls. Functions return ``None``.
* **Preconditions are checked inside the kernel**, so they hold when your
  own ``@njit`` code calls it (Numba does not bounds-check): ``out`` of
  ``u``'s length or shape, the minimum length of ``u``, a known ``mode``
  (and ``order``, ``accuracy``, ``axis`` where a kernel takes them),
  and ``out`` not overlapping ``u`` in memory (address ranges; the one
  exception recognized is two 1-D views with the same stride that interleave
  without sharing a byte, such as ``z.real`` and ``z.imag``). A violation
  raises ``ValueError`` naming the function and the argument, before
  anything is written. Each check is O(1) next to the O(n) loop (measured
  within noise of the unchecked kernels, ``bench/bench_kernels.py``).
  Values are not checked (``dx > 0``, finite data), nor dtypes: ``out``
  should have ``u``'s dtype. The validated, allocating, NumPy-style API is
  :mod:`fastfd.grid`.
* ``u`` and ``out`` are float32, float64, complex64 or complex128 arrays of
  the same dtype and any layout; ``dx`` (and ``dy``, ``dz``) are cast to
  ``u``'s real dtype first, so float32 data is computed in float32, exactly as
  NumPy evaluates the same expression.
* These kernels are serial, so they can be called from inside your own
  ``prange`` loop. (:func:`fastfd.grid.laplacian` is the parallel version.)
* Boundary handling is chosen with the module constants :data:`ONE_SIDED`
  (same accuracy, one-sided stencils at the edges), :data:`PERIODIC` (``u``
  wraps around) and :data:`INTERIOR` (only points whose stencil fits are
  written, the rest of ``out`` is left untouched: for callers that manage
  their own ghost cells).

Formulas (``h`` the spacing): forward ``(u[i+1] - u[i])/h``, backward
``(u[i] - u[i-1])/h``, centered ``(u[i+1] - u[i-1])/(2h)``, second
``(u[i+1] - 2u[i] + u[i-1])/h**2``, the same expressions as the NumPy slicing
versions and ``np.gradient``.
"""

from numba import njit, types
from numba.extending import overload
import numpy as np

from ._config import CACHE, FASTMATH
from ._kernels import laplacian as _lap
from ._kernels import nd as _nd
from ._kernels import simple as _simple
from .stencils import exact_weights
from ._kernels.simple import INTERIOR, ONE_SIDED, PERIODIC, real_like as _real_like

__all__ = [
    "ONE_SIDED", "PERIODIC", "INTERIOR", "forward_diff", "backward_diff",
    "centered_diff", "second_diff", "apply_stencil", "laplacian_2d", "laplacian_3d",
    "derivative", "mixed_derivative",
]


def _tables():
    """Unit-spacing weights of the centered first and second derivatives of
    accuracy 2, 4 and 6 (exact rationals rounded once to float64).

    ``CENT[order - 1, accuracy // 2 - 1, s]``: the weight at offset ``s >= 0``
    (``-s`` has the same weight for order 2, its negation for order 1);
    ``EDGE[order - 1, accuracy // 2 - 1, r, j]``: the one-sided weights of
    point ``r < accuracy // 2`` on ``u[0:order + accuracy]`` (same accuracy).
    """
    cent = np.zeros((2, 3, 4))
    edge = np.zeros((2, 3, 3, 8))
    for order in (1, 2):
        for a, acc in enumerate((2, 4, 6)):
            m = acc // 2
            w = exact_weights(order, tuple(range(-m, m + 1)))
            cent[order - 1, a, :m + 1] = [float(x) for x in w[m:]]
            width = order + acc
            for r in range(m):
                e = exact_weights(order, tuple(j - r for j in range(width)))
                edge[order - 1, a, r, :width] = [float(x) for x in e]
    cent.flags.writeable = False
    edge.flags.writeable = False
    return cent, edge


_CENT, _EDGE = _tables()


@njit(cache=CACHE)
def _weights(order, accuracy):
    """The (cent, edge) tables of one order and accuracy (views of the
    constant tables: nothing is allocated)."""
    m = accuracy // 2
    a = m - 1
    return _CENT[order - 1, a, :m + 1], _EDGE[order - 1, a, :m, :order + accuracy]



@njit(cache=CACHE, fastmath=FASTMATH)
def forward_diff(u, dx, out, mode=ONE_SIDED):
    """First derivative by forward differences: ``O(dx)``.

    ``out[i] = (u[i+1] - u[i]) / dx`` for ``i < n - 1``; the last point uses
    the backward difference ``(u[n-1] - u[n-2]) / dx``.

    With ``mode`` (optional, default ``ONE_SIDED``, the rule above):
    ``PERIODIC``: the last point is ``(u[0] - u[n-1]) / dx``; ``INTERIOR``: it is
    not written.

    Parameters
    ----------
    u : 1-D array, length ``n >= 2``
    dx : float, > 0
    out : 1-D array, length ``n``, same dtype as ``u``, not overlapping ``u``
    mode : int, optional
        ``ONE_SIDED`` (default), ``PERIODIC`` or ``INTERIOR``.

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype (integer ``u`` is
        refused: the kernels would truncate ``1/dx``), ``dx`` not positive
        and finite; ``out`` not of ``u``'s length, ``u`` shorter than 2, ``u`` or ``out``
        not 1-D, ``out`` overlapping ``u`` in memory, or ``mode`` not one of the
        three.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> u = np.array([0.0, 1.0, 4.0, 9.0])
    >>> out = np.empty_like(u)
    >>> kernels.forward_diff(u, 1.0, out)
    >>> out
    array([1., 3., 5., 5.])
    """
    _simple.check_dtype(_simple.FORWARD, u, out)
    _simple.check_spacing(_simple.FORWARD, "dx", dx)
    if _simple.bad_mode(mode):
        _simple.fail_mode(_simple.FORWARD, mode)
    err = _simple.check_1d(u, out, 2)
    if err:
        _simple.fail_1d(_simple.FORWARD, err, u.shape[0], out.shape[0], 2)
    _simple.forward_diff(u, dx, out, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def backward_diff(u, dx, out, mode=ONE_SIDED):
    """First derivative by backward differences: ``O(dx)``.

    ``out[i] = (u[i] - u[i-1]) / dx`` for ``i >= 1``; the first point uses
    the forward difference ``(u[1] - u[0]) / dx``.

    With ``mode`` (optional, default ``ONE_SIDED``, the rule above):
    ``PERIODIC``: the first point is ``(u[0] - u[n-1]) / dx``; ``INTERIOR``: it is
    not written.

    Parameters
    ----------
    u : 1-D array, length ``n >= 2``
    dx : float, > 0
    out : 1-D array, length ``n``, same dtype as ``u``, not overlapping ``u``
    mode : int, optional
        ``ONE_SIDED`` (default), ``PERIODIC`` or ``INTERIOR``.

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype (integer ``u`` is
        refused: the kernels would truncate ``1/dx``), ``dx`` not positive
        and finite; ``out`` not of ``u``'s length, ``u`` shorter than 2, ``u`` or ``out``
        not 1-D, ``out`` overlapping ``u`` in memory, or ``mode`` not one of the
        three.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> u = np.array([0.0, 1.0, 4.0, 9.0])
    >>> out = np.empty_like(u)
    >>> kernels.backward_diff(u, 1.0, out)
    >>> out
    array([1., 1., 3., 5.])
    """
    _simple.check_dtype(_simple.BACKWARD, u, out)
    _simple.check_spacing(_simple.BACKWARD, "dx", dx)
    if _simple.bad_mode(mode):
        _simple.fail_mode(_simple.BACKWARD, mode)
    err = _simple.check_1d(u, out, 2)
    if err:
        _simple.fail_1d(_simple.BACKWARD, err, u.shape[0], out.shape[0], 2)
    _simple.backward_diff(u, dx, out, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def centered_diff(u, dx, out, mode=ONE_SIDED):
    """First derivative by centered differences: ``O(dx**2)`` everywhere.

    ``out[i] = (u[i+1] - u[i-1]) / (2 dx)`` inside; the end points use the
    3-point one-sided ``(-3 u[0] + 4 u[1] - u[2]) / (2 dx)`` (and its mirror
    image), as ``np.gradient(u, dx, edge_order=2)`` does. Exact for
    quadratics.

    With ``mode`` (optional, default ``ONE_SIDED``, the rule above):
    ``PERIODIC``: the end points wrap, ``(u[1] - u[n-1]) / (2 dx)`` and
    ``(u[0] - u[n-2]) / (2 dx)``; ``INTERIOR``: they are not written.

    Parameters
    ----------
    u : 1-D array, length ``n >= 3``
    dx : float, > 0
    out : 1-D array, length ``n``, same dtype as ``u``, not overlapping ``u``
    mode : int, optional
        ``ONE_SIDED`` (default), ``PERIODIC`` or ``INTERIOR``.

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype (integer ``u`` is
        refused: the kernels would truncate ``1/dx``), ``dx`` not positive
        and finite; ``out`` not of ``u``'s length, ``u`` shorter than 3, ``u`` or ``out``
        not 1-D, ``out`` overlapping ``u`` in memory, or ``mode`` not one of the
        three.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> u = np.arange(5.0) ** 2
    >>> out = np.empty_like(u)
    >>> kernels.centered_diff(u, 1.0, out)
    >>> out
    array([0., 2., 4., 6., 8.])
    """
    _simple.check_dtype(_simple.CENTERED, u, out)
    _simple.check_spacing(_simple.CENTERED, "dx", dx)
    if _simple.bad_mode(mode):
        _simple.fail_mode(_simple.CENTERED, mode)
    err = _simple.check_1d(u, out, 3)
    if err:
        _simple.fail_1d(_simple.CENTERED, err, u.shape[0], out.shape[0], 3)
    _simple.centered_diff(u, dx, out, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def second_diff(u, dx, out, mode=ONE_SIDED):
    """Second derivative by the 3-point centered difference: ``O(dx**2)``.

    ``out[i] = (u[i+1] - 2 u[i] + u[i-1]) / dx**2`` inside; the end points
    use the 4-point one-sided ``(2 u[0] - 5 u[1] + 4 u[2] - u[3]) / dx**2``
    (and its mirror image), also ``O(dx**2)``. Exact for cubics.

    With ``mode`` (optional, default ``ONE_SIDED``, the rule above):
    ``PERIODIC``: the end points wrap (then ``n >= 3`` suffices);
    ``INTERIOR``: they are not written (``n >= 3``).

    Parameters
    ----------
    u : 1-D array, length ``n >= 4``
    dx : float, > 0
    out : 1-D array, length ``n``, same dtype as ``u``, not overlapping ``u``
    mode : int, optional
        ``ONE_SIDED`` (default), ``PERIODIC`` or ``INTERIOR``.

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype (integer ``u`` is
        refused: the kernels would truncate ``1/dx``), ``dx`` not positive
        and finite; ``out`` not of ``u``'s length, ``u`` shorter than 4, ``u`` or ``out``
        not 1-D, ``out`` overlapping ``u`` in memory, or ``mode`` not one of the
        three.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> u = np.arange(5.0) ** 3
    >>> out = np.empty_like(u)
    >>> kernels.second_diff(u, 1.0, out)
    >>> out
    array([ 0.,  6., 12., 18., 24.])
    """
    _simple.check_dtype(_simple.SECOND, u, out)
    _simple.check_spacing(_simple.SECOND, "dx", dx)
    if _simple.bad_mode(mode):
        _simple.fail_mode(_simple.SECOND, mode)
    need = 4 if mode == ONE_SIDED else 3
    err = _simple.check_1d(u, out, need)
    if err:
        _simple.fail_1d(_simple.SECOND, err, u.shape[0], out.shape[0], need)
    _simple.second_diff(u, dx, out, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def apply_stencil(u, offsets, weights, out, mode):
    """Apply a general stencil: ``out[i] = sum_k weights[k] * u[i + offsets[k]]``.

    ``weights`` are the stencil's weights already divided by ``h**d`` (for
    instance ``fastfd.stencil(d, accuracy)[1] / h**d``); the products are
    formed in the promoted dtype of ``weights`` and ``u`` and stored in
    ``out``.

    Points ``i`` whose stencil fits inside ``u`` are always computed; the
    others depend on ``mode``:

    * ``ONE_SIDED``: the stencil's derivative order ``d``, accuracy ``p`` and
      scale ``1/h**d`` are read off its moments ``M_q = sum_k weights[k] *
      offsets[k]**q`` (zero below ``q = d``, ``d! / h**d`` at ``q = d``,
      zero again up to ``q = d + p - 1``), and the point gets the ``d``-th
      derivative weights on the ``d + p`` points at the nearer end of ``u``,
      computed by Fornberg's recurrence in float64 on integer positions
      relative to the point (small integers, well conditioned). For the
      standard stencils these are the usual one-sided formulas of the same
      accuracy, e.g. ``(-3, 4, -1)/2`` for the centered first difference.
      This mode allocates a scratch of ``(d + p) * (d + 2)`` float64 per call.
    * ``PERIODIC``: indices wrap around, ``u[(i + offsets[k]) % n]``.
    * ``INTERIOR``: those points of ``out`` are left untouched.

    Parameters
    ----------
    u : 1-D array, length ``n``
        ``ONE_SIDED`` needs ``n >= d + p`` and ``n`` larger than the stencil's
        span ``max(offsets) - min(offsets)``; ``PERIODIC`` and ``INTERIOR``
        accept any ``n`` (with ``INTERIOR`` points whose stencil does not fit
        are not written).
    offsets : 1-D integer array
        Distinct offsets, any order, any integer dtype; each is read as int64
        (unsigned values above ``2**63 - 1`` wrap), and the span is compared
        with ``n`` without overflow, so offsets up to +-2**63 are safe.
    weights : 1-D float array
        Same length as ``offsets``. float64 weights are recommended for
        ``ONE_SIDED`` (the moment test treats anything below ``1e-9`` of
        the moment's scale as zero; narrower weights use ``1e-5``, and
        when that finds no moment below ``q = len(offsets)``, as for float32
        weights of high-order one-sided stencils, the largest relative moment
        there gives ``d``). float32 weights of such stencils are themselves
        off by up to a few percent, in the interior as at the edges.
    out : 1-D array, length ``n``, same dtype as ``u``, not overlapping ``u``
    mode : int
        ``ONE_SIDED``, ``PERIODIC`` or ``INTERIOR`` (any integer type).

    Raises
    ------
    ValueError
        ``mode`` not one of the three (a bool or a float is refused by its
        type, although ``True == PERIODIC``); ``out`` not of ``u``'s length;
        ``weights`` not of ``offsets``' length, or no offsets; an argument
        not 1-D; ``out`` overlapping ``u`` in memory; with ``ONE_SIDED``,
        ``u`` shorter than ``max(span + 1, d + p)`` (span
        ``max(offsets) - min(offsets)``, ``d`` and ``p`` read off the
        moments). Checked before anything is written.

    Examples
    --------
    >>> import numpy as np
    >>> import fastfd
    >>> from fastfd import kernels
    >>> offsets, weights = fastfd.stencil(1, accuracy=4)
    >>> x = np.linspace(0.0, 1.0, 11)
    >>> out = np.empty_like(x)
    >>> kernels.apply_stencil(x**4, offsets, weights / 0.1, out, kernels.ONE_SIDED)
    >>> bool(np.allclose(out, 4 * x**3))
    True
    """
    _simple.apply_stencil(u, offsets, weights, out, mode)


@njit(cache=CACHE, fastmath=FASTMATH)
def laplacian_2d(u, dy, dx, out, mode, accuracy=None):
    """Laplacian of a 2-D array, accuracy 2 (5-point), 4 or 6.

    Spacings are in axis order: ``u[y, x]`` samples a field at
    ``(y0 + i*dy, x0 + j*dx)``, so the first spacing ``dy`` is axis 0's and
    ``dx`` axis 1's. Accuracy 2 computes ::

        out[i, j] = (u[i, j+1] - 2 u[i, j] + u[i, j-1]) / dx**2
                  + (u[i+1, j] - 2 u[i, j] + u[i-1, j]) / dy**2

    (each ``1/h**2`` is computed once and multiplied); accuracy 4 and 6 sum
    the centered second differences on ``accuracy + 1`` points per axis.
    ``mode``: ``ONE_SIDED`` uses one-sided second differences of the same
    accuracy on ``accuracy + 2`` points along an axis at its edges (exact
    for polynomials of degree ``accuracy + 1``), ``PERIODIC`` wraps both
    axes, ``INTERIOR`` writes only ``out[m:-m, m:-m]``, ``m = accuracy // 2``.

    Parameters
    ----------
    u : 2-D array (another ndim is a ValueError)
        Each axis at least ``accuracy + 2`` long for ``ONE_SIDED``,
        ``accuracy + 1`` otherwise.
    dy, dx : float, > 0
        Spacings along axes 0 and 1 (renamed from ``dx, dy``; the positional
        order is unchanged: the first spacing is axis 0's).
    out : 2-D array, ``u``'s shape and dtype, not overlapping ``u``
    mode : int
        ``ONE_SIDED``, ``PERIODIC`` or ``INTERIOR`` (any integer type).
    accuracy : int or None, optional
        2, 4 or 6. ``None`` (the default) is 2, and then only the accuracy-2
        kernel is compiled (a cold first call took 8 s instead of 19 s).

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype, a spacing not
        positive and finite; ``u`` or ``out`` not 2-D; ``mode`` not one of the three (a bool or a
        float is refused by its type); ``accuracy`` not 2, 4 or 6; ``out``
        not of ``u``'s shape, an axis shorter than the mode needs, or ``out``
        overlapping ``u`` in memory. Checked before anything is written.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> y = np.linspace(0.0, 1.0, 6)
    >>> x = np.linspace(0.0, 1.0, 11)
    >>> u = y[:, None] ** 2 + 3 * x[None, :] ** 2
    >>> out = np.empty_like(u)
    >>> kernels.laplacian_2d(u, 0.2, 0.1, out, kernels.ONE_SIDED)
    >>> bool(np.allclose(out, 8.0))
    True
    >>> kernels.laplacian_2d(u ** 2, 0.2, 0.1, out, kernels.ONE_SIDED, accuracy=4)
    >>> exact = 24 * y[:, None] ** 2 + 120 * x[None, :] ** 2
    >>> bool(np.allclose(out, exact))
    True
    """
    _simple.check_dtype(_simple.LAP2, u, out)
    _simple.check_spacing(_simple.LAP2, "dy", dy)
    _simple.check_spacing(_simple.LAP2, "dx", dx)
    _lap2(u, dy, dx, out, mode, accuracy)


@njit(cache=CACHE, fastmath=FASTMATH)
def laplacian_3d(u, dz, dy, dx, out, mode, accuracy=None):
    """Laplacian of a 3-D array, accuracy 2 (7-point), 4 or 6.

    Spacings are in axis order: ``u[z, y, x]`` samples a field at
    ``(z0 + i*dz, y0 + j*dy, x0 + k*dx)``, so the first spacing ``dz`` is
    axis 0's. ``out`` receives the sum of the centered second differences
    along the three axes (accuracy 2: ``(u[+1] - 2 u + u[-1]) / h**2``).
    ``mode``: ``ONE_SIDED`` uses one-sided second differences of the same
    accuracy on ``accuracy + 2`` points along an axis at its edges (exact
    for polynomials of degree ``accuracy + 1``), ``PERIODIC`` wraps all
    axes, ``INTERIOR`` writes only ``out[m:-m, m:-m, m:-m]``,
    ``m = accuracy // 2``. Accuracy 2 with C-contiguous ``u`` and ``out``
    runs each plane as one flat vectorized loop (serial, measured 2.4x the
    time of ``np.copyto`` at 256**3; :func:`fastfd.grid.laplacian` runs the
    same loop on all cores); other layouts go row by row. Accuracy 4 and 6
    finish each output row from whole input rows while they are in cache.

    Parameters
    ----------
    u : 3-D array (another ndim is a ValueError)
        Each axis at least ``accuracy + 2`` long for ``ONE_SIDED``,
        ``accuracy + 1`` otherwise.
    dz, dy, dx : float, > 0
        Spacings along axes 0, 1, 2 (renamed from ``dx, dy, dz``; the
        positional order is unchanged).
    out : 3-D array, ``u``'s shape and dtype, not overlapping ``u``
    mode : int
        ``ONE_SIDED``, ``PERIODIC`` or ``INTERIOR`` (any integer type).
    accuracy : int or None, optional
        2, 4 or 6. ``None`` (the default) is 2, and then only the accuracy-2
        kernel is compiled (a cold first call took 8 s instead of 19 s).

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype, a spacing not
        positive and finite; ``u`` or ``out`` not 3-D; ``mode`` not one of the three (a bool or a
        float is refused by its type); ``accuracy`` not 2, 4 or 6; ``out``
        not of ``u``'s shape, an axis shorter than the mode needs, or ``out``
        overlapping ``u`` in memory. Checked before anything is written.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> x = np.arange(5.0)
    >>> u = x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2
    >>> out = np.zeros_like(u)
    >>> kernels.laplacian_3d(u, 1.0, 1.0, 1.0, out, kernels.ONE_SIDED)
    >>> bool((out == 6.0).all())
    True
    """
    _simple.check_dtype(_simple.LAP3, u, out)
    _simple.check_spacing(_simple.LAP3, "dz", dz)
    _simple.check_spacing(_simple.LAP3, "dy", dy)
    _simple.check_spacing(_simple.LAP3, "dx", dx)
    _lap3(u, dz, dy, dx, out, mode, accuracy)


# The Laplacian bodies are chosen by the number of dimensions at compile
# time: a u or out of another ndim gets a body that raises ValueError (the
# real body would not type: a raw Numba TypingError from deep in the loop).

def _wrong_ndim(name, nd, u, out):
    """The message for arguments of the wrong ndim, or None if they fit."""
    def describe(a):
        return f"{a.ndim}-d" if isinstance(a, types.Array) else f"{a}"
    if isinstance(u, types.Array) and isinstance(out, types.Array) and (
            u.ndim == nd and out.ndim == nd):
        return None
    return (f"{name}: u and out must be {nd}-D arrays, got a {describe(u)} u and a "
            f"{describe(out)} out")


def _lap2(u, dy, dx, out, mode, accuracy):
    """Body of :func:`laplacian_2d` (compiled through the overload below)."""


def _lap3(u, dz, dy, dx, out, mode, accuracy):
    """Body of :func:`laplacian_3d` (compiled through the overload below)."""


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap2_acc2(u, dy, dx, out, mode):
    err = _simple.check_grid(u, out, mode)
    if err:
        _simple.fail_grid(_simple.LAP2, err, u.shape, out.shape, mode)
    a1 = _real_like(1.0 / (dy * dy), u)
    a2 = _real_like(1.0 / (dx * dx), u)
    _lap.lap2_serial(u, out, a1, a2, mode, 0)


@njit(cache=CACHE, fastmath=FASTMATH)
def _lap3_acc2(u, dz, dy, dx, out, mode):
    err = _simple.check_grid(u, out, mode)
    if err:
        _simple.fail_grid(_simple.LAP3, err, u.shape, out.shape, mode)
    a0 = _real_like(1.0 / (dz * dz), u)
    a1 = _real_like(1.0 / (dy * dy), u)
    a2 = _real_like(1.0 / (dx * dx), u)
    _lap.lap3_serial(u, out, a0, a1, a2, mode, 0)


@njit(cache=CACHE)
def _check_high_accuracy(k, u, out, mode, accuracy):
    """The checks of a Laplacian of accuracy 4 or 6: the mode, and every
    axis long enough for its edge stencils (one point more one-sided)."""
    _nd.check_mode(k, mode)
    _nd.check_grid_need(k, u, out, accuracy + 2 if mode == ONE_SIDED else accuracy + 1)


@njit(cache=CACHE, fastmath=FASTMATH)
def _inv_square(h, u):
    """``1 / h**2`` in the real dtype of `u`, rounded there."""
    h = _real_like(h, u)
    return _real_like(1.0, u) / (h * h)


@overload(_lap2, jit_options={"fastmath": FASTMATH})
def _lap2_impl(u, dy, dx, out, mode, accuracy):
    msg = _wrong_ndim("laplacian_2d", 2, u, out) or _nd.wrong_int(
        "laplacian_2d", accuracy=(accuracy, "2, 4 or 6"))
    if msg is not None:
        def bad(u, dy, dx, out, mode, accuracy):
            raise ValueError(msg)
        return bad

    if isinstance(accuracy, (types.NoneType, types.Omitted)):
        # None (the default) is accuracy 2 and compiles without the accuracy
        # 4/6 code: a cold first call took 7.8 s instead of 18.9 s
        return lambda u, dy, dx, out, mode, accuracy: _lap2_acc2(u, dy, dx, out, mode)

    def impl(u, dy, dx, out, mode, accuracy):
        _nd.check_accuracy(_simple.LAP2, accuracy)
        if accuracy == 2:
            _lap2_acc2(u, dy, dx, out, mode)
            return
        _check_high_accuracy(_simple.LAP2, u, out, mode, accuracy)
        cent, edge = _weights(2, accuracy)
        _nd.lap2(u, out, cent, edge, _inv_square(dy, u), _inv_square(dx, u), mode)
    return impl


@overload(_lap3, jit_options={"fastmath": FASTMATH})
def _lap3_impl(u, dz, dy, dx, out, mode, accuracy):
    msg = _wrong_ndim("laplacian_3d", 3, u, out) or _nd.wrong_int(
        "laplacian_3d", accuracy=(accuracy, "2, 4 or 6"))
    if msg is not None:
        def bad(u, dz, dy, dx, out, mode, accuracy):
            raise ValueError(msg)
        return bad

    if isinstance(accuracy, (types.NoneType, types.Omitted)):
        return lambda u, dz, dy, dx, out, mode, accuracy: _lap3_acc2(u, dz, dy, dx, out, mode)

    def impl(u, dz, dy, dx, out, mode, accuracy):
        _nd.check_accuracy(_simple.LAP3, accuracy)
        if accuracy == 2:
            _lap3_acc2(u, dz, dy, dx, out, mode)
            return
        _check_high_accuracy(_simple.LAP3, u, out, mode, accuracy)
        cent, edge = _weights(2, accuracy)
        _nd.lap3(u, out, cent, edge, _inv_square(dz, u), _inv_square(dy, u),
                 _inv_square(dx, u), mode)
    return impl


# ---------------------------------------------------------------------------
# Derivatives along one axis of an N-d array, and mixed derivatives


@njit(cache=CACHE, fastmath=FASTMATH)
def derivative(u, dx, axis, out, mode, order=1, accuracy=2):
    """Centered derivative of order 1 or 2 along one axis of a 1-, 2- or 3-D array.

    ``out = d^order u / dx^order`` along ``axis``, with the centered stencil
    of the given accuracy on offsets ``-m..m`` (``m = accuracy // 2``; for
    order 1 and accuracy 2, ``(u[i+1] - u[i-1]) / (2 dx)``). ``mode``:

    * ``ONE_SIDED``: the ``m`` points at each end of the axis use one-sided
      stencils of the same accuracy on ``order + accuracy`` points;
    * ``PERIODIC``: the axis wraps around;
    * ``INTERIOR``: only points ``m <= i < n - m`` along ``axis`` are
      written (all points along the other axes); the rest of ``out`` is
      left untouched.

    Exact on polynomials of degree ``order + accuracy - 1`` (along the
    axis), the edges included. Every loop runs over contiguous rows: along
    the last axis each row is one pass, along another axis each output row
    is a weighted sum of whole input rows, so an axis-0 derivative of a C
    array streams memory like a copy (no strided columns): order 1,
    accuracy 2 on 4000**2 float64 from user njit code took 1.04x the time
    of ``np.copyto`` (the 1-D kernel on each column: 11.5x).

    Parameters
    ----------
    u : 1-, 2- or 3-D array, any layout
        Its length along ``axis`` at least ``2m + 1``, and at least
        ``order + accuracy`` with ``ONE_SIDED``.
    dx : float, > 0
        The spacing along ``axis``.
    axis : int
        Negative values count from the end.
    out : array of ``u``'s shape and dtype, not overlapping ``u``
    mode : int
        ``ONE_SIDED``, ``PERIODIC`` or ``INTERIOR`` (any integer type).
    order : int, optional
        1 or 2 (default 1).
    accuracy : int, optional
        2, 4 or 6 (default 2): the truncation error is ``O(dx**accuracy)``.

    Raises
    ------
    ValueError
        ``u`` and ``out`` not float arrays of one dtype, or not 1-, 2- or
        3-D of one ndim; ``dx`` not positive and finite; ``mode``, ``order``
        or ``accuracy`` not one of the values above (or not integers);
        ``axis`` out of bounds; ``out`` not of ``u``'s shape; ``u`` too short
        along ``axis``; ``out`` overlapping ``u``. Checked before anything
        is written.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> y = np.linspace(0.0, 1.0, 11)
    >>> x = np.linspace(0.0, 2.0, 21)
    >>> u = y[:, None] ** 3 + x[None, :]      # u[y, x]
    >>> out = np.empty_like(u)
    >>> kernels.derivative(u, 0.1, 0, out, kernels.ONE_SIDED, accuracy=4)
    >>> bool(np.allclose(out, 3 * y[:, None] ** 2 + 0 * x))
    True
    """
    _simple.check_dtype(_simple.DERIV, u, out)
    _simple.check_spacing(_simple.DERIV, "dx", dx)
    _deriv(u, dx, axis, out, mode, order, accuracy)


def _deriv(u, dx, axis, out, mode, order, accuracy):
    """Body of :func:`derivative`, chosen by ndim (overload below)."""


@overload(_deriv, jit_options={"fastmath": FASTMATH})
def _deriv_impl(u, dx, axis, out, mode, order, accuracy):
    msg = _nd.wrong_ndim("derivative", (1, 2, 3), u, out) or _nd.wrong_int(
        "derivative", axis=(axis, "an integer"), order=(order, "1 or 2"),
        accuracy=(accuracy, "2, 4 or 6"))
    if msg is not None:
        def bad(u, dx, axis, out, mode, order, accuracy):
            raise ValueError(msg)
        return bad
    nd = u.ndim

    def impl(u, dx, axis, out, mode, order, accuracy):
        k = _simple.DERIV
        _nd.check_mode(k, mode)
        _nd.check_order(k, order)
        _nd.check_accuracy(k, accuracy)
        ax = _nd.normalize_axis(k, "axis", axis, nd)
        m = accuracy // 2
        need = max(2 * m + 1, order + accuracy) if mode == ONE_SIDED else 2 * m + 1
        _nd.check_arrays(k, u, out, ax, need, "this order, accuracy and mode")
        cent, edge = _weights(order, accuracy)
        h = _real_like(dx, u)
        sc = _real_like(1.0, u) / (h if order == 1 else h * h)
        odd = order == 1
        if nd == 1:
            _nd.deriv1(u, out, cent, edge, sc, odd, mode)
        elif nd == 2:
            _nd.deriv2(u, out, ax, cent, edge, sc, odd, mode)
        else:
            _nd.deriv3(u, out, ax, cent, edge, sc, odd, mode)
    return impl


@njit(cache=CACHE, fastmath=FASTMATH)
def mixed_derivative(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy=2):
    """Mixed second derivative ``d2u / (dx_a dx_b)`` of a 2-D or 3-D array.

    The product of the centered first-derivative stencils of the given
    accuracy along ``axis_a`` and ``axis_b`` (accuracy 2 inside:
    ``(u[+1,+1] - u[+1,-1] - u[-1,+1] + u[-1,-1]) / (4 dx_a dx_b)``), with
    the ``mode`` of :func:`derivative` applied on each of the two axes:
    ``ONE_SIDED`` edge rows use the one-sided first-derivative stencils of
    the same accuracy along the axis where the centered one does not fit
    (the same as composing two :func:`derivative` calls), ``PERIODIC``
    wraps, ``INTERIOR`` writes only points whose stencil fits along both
    axes. Exact on ``x_a**p x_b**q`` for ``p, q <= accuracy``.

    Parameters
    ----------
    u : 2-D or 3-D array, any layout
        At least ``accuracy + 1`` long along both axes.
    dx_a, dx_b : float, > 0
        The spacings of ``axis_a`` and ``axis_b``. Spacings are in axis
        order when ``axis_a < axis_b``: ``(u, dy, dx, 0, 1, ...)`` for
        ``u[y, x]``.
    axis_a, axis_b : int
        Two different axes (negative values count from the end).
    out : array of ``u``'s shape and dtype, not overlapping ``u``
    mode : int
        ``ONE_SIDED``, ``PERIODIC`` or ``INTERIOR``.
    accuracy : int, optional
        2, 4 or 6 (default 2).

    Raises
    ------
    ValueError
        As :func:`derivative`, and ``axis_a == axis_b``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import kernels
    >>> y = np.linspace(0.0, 1.0, 11)
    >>> x = np.linspace(0.0, 2.0, 21)
    >>> u = y[:, None] ** 2 * x[None, :] ** 2     # u[y, x]
    >>> out = np.empty_like(u)
    >>> kernels.mixed_derivative(u, 0.1, 0.1, 0, 1, out, kernels.ONE_SIDED)
    >>> bool(np.allclose(out, 4 * y[:, None] * x[None, :]))
    True
    """
    _simple.check_dtype(_simple.MIXED, u, out)
    _simple.check_spacing(_simple.MIXED, "dx_a", dx_a)
    _simple.check_spacing(_simple.MIXED, "dx_b", dx_b)
    _mixed(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy)


@njit(cache=CACHE)
def _fail_same_axis(a, b):
    raise ValueError("mixed_derivative: axis_a and axis_b must differ, got " + str(a)
                     + " and " + str(b))


def _mixed(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy):
    """Body of :func:`mixed_derivative`, chosen by ndim (overload below)."""


@overload(_mixed, jit_options={"fastmath": FASTMATH})
def _mixed_impl(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy):
    msg = _nd.wrong_ndim("mixed_derivative", (2, 3), u, out) or _nd.wrong_int(
        "mixed_derivative", axis_a=(axis_a, "an integer"), axis_b=(axis_b, "an integer"),
        accuracy=(accuracy, "2, 4 or 6"))
    if msg is not None:
        def bad(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy):
            raise ValueError(msg)
        return bad
    nd = u.ndim

    def impl(u, dx_a, dx_b, axis_a, axis_b, out, mode, accuracy):
        k = _simple.MIXED
        _nd.check_mode(k, mode)
        _nd.check_accuracy(k, accuracy)
        a = _nd.normalize_axis(k, "axis_a", axis_a, nd)
        b = _nd.normalize_axis(k, "axis_b", axis_b, nd)
        if a == b:
            _fail_same_axis(axis_a, axis_b)
        what = "this accuracy"
        _nd.check_arrays(k, u, out, a, accuracy + 1, what)
        _nd.check_arrays(k, u, out, b, accuracy + 1, what)
        cent, edge = _weights(1, accuracy)
        one = _real_like(1.0, u)
        sa = one / _real_like(dx_a, u)
        sb = one / _real_like(dx_b, u)
        if a > b:
            a, b = b, a
            sa, sb = sb, sa
        if nd == 2:
            _nd.mixed2(u, out, cent, edge, sa, sb, mode)
        else:
            _nd.mixed3(u, out, a, b, cent, edge, sa, sb, mode)
    return impl

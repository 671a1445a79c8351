"""The public derivatives of sampled arrays (fastfd.grid): derivative, the
named differences and gradient."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

from .._validation import (
    as_float_array, check_accuracy, check_choice, check_int, is_dask_array, normalize_axis,
    short_repr,
)
from . import _dask
from ._plan import check, check_samples, diff, make_job, run_job

__all__ = [
    "derivative", "forward_diff", "backward_diff", "centered_diff",
    "second_diff", "gradient",
]


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
    u : array_like or dask.array.Array
        Samples, at least 1-D, any memory layout. Never modified. A dask
        array gives a dask array, computed chunk by chunk and equal to the
        NumPy result bit for bit (see the README, "Fields larger than
        memory"); every function of ``fastfd.grid`` takes one.
    order : int, optional
        Derivative order, >= 1. A float or an array here is a TypeError
        asking whether ``dx=`` was meant: the spacing is keyword-only in this
        function (the second positional argument of the others).
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
        overlapping ``u``. Not with a dask ``u`` (a TypeError): store the
        dask result with ``dask.array.store(result, out)``.

    Returns
    -------
    ndarray or dask.array.Array
        float32 for float16/float32 input, complex64/complex128 kept,
        float64 otherwise. Fortran-ordered input gives a Fortran-ordered
        result; a dask ``u`` gives a dask array (its chunks C-ordered).

    Raises
    ------
    TypeError
        Non-numeric ``u``, a masked ``u`` (``numpy.ma.MaskedArray``: pass
        ``u.filled(value)`` or ``np.asarray(u)``; the same in every function
        of this module, and for a masked coordinate array ``dx`` or a masked
        ``out``), a callable ``u`` (use :func:`fastfd.derivative`),
        non-integer ``order``/``accuracy``/``axis`` (a 0-d integer array is an
        integer, as in NumPy).
    numpy.exceptions.AxisError
        ``axis`` out of range (a ValueError and an IndexError, as in NumPy).
    ValueError
        Bad ``dx``, ``scheme``, ``boundary``, ``order``, ``accuracy`` (above
        the limit of the working precision, see ``accuracy``) or ``out``, or
        fewer points along ``axis`` than the stencil needs (the message says
        which lower accuracy or scheme fits).

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
    return _diff(u, order, dx, axis, accuracy, scheme, boundary, out, "derivative")


def forward_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Forward difference ``(u[i+1] - u[i]) / dx``, first order accurate.

    The last point, which has no right neighbour, uses the backward
    difference. Same shape as ``u``; see :func:`derivative` for ``dx``,
    ``axis``, ``out``, dtypes and dask arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.forward_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([1., 3., 5., 5.])
    """
    return _diff(u, 1, dx, axis, 1, "forward", "one-sided", out, "forward_diff")


def backward_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Backward difference ``(u[i] - u[i-1]) / dx``, first order accurate.

    The first point uses the forward difference. Same shape as ``u``; see
    :func:`derivative` (for dask arrays too).

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.backward_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([1., 1., 3., 5.])
    """
    return _diff(u, 1, dx, axis, 1, "backward", "one-sided", out, "backward_diff")


def centered_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Centered difference ``(u[i+1] - u[i-1]) / (2*dx)``, second order.

    Interior values are bit for bit those of ``np.gradient``; the two edge
    points use the one-sided second-order stencils ``(-3u[0] + 4u[1] -
    u[2]) / (2*dx)`` and its mirror, as ``np.gradient(edge_order=2)`` does.
    Same shape as ``u``; see :func:`derivative` (for dask arrays too).

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.centered_diff(np.array([0.0, 1.0, 4.0, 9.0]))
    array([0., 2., 4., 6.])
    """
    return _diff(u, 1, dx, axis, 2, "centered", "one-sided", out, "centered_diff")


def second_diff(u: ArrayLike, dx: float | ArrayLike = 1.0, *, axis: int = -1,
                out: np.ndarray | None = None) -> np.ndarray:
    """Second difference ``(u[i+1] - 2u[i] + u[i-1]) / dx**2``, second order.

    The edge points use the one-sided second-order stencil ``(2u[0] - 5u[1]
    + 4u[2] - u[3]) / dx**2`` and its mirror, so at least 4 points are
    needed. Same shape as ``u``; see :func:`derivative` (for dask arrays
    too).

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> grid.second_diff(np.array([0.0, 1.0, 4.0, 9.0, 16.0]), dx=1.0)
    array([2., 2., 2., 2., 2.])
    """
    return _diff(u, 2, dx, axis, 2, "centered", "one-sided", out, "second_diff")


def _diff(u, order, dx, axis, accuracy, scheme, boundary, out, caller):
    """:func:`_plan.diff`, or its chunked form for a dask array."""
    if type(u) is not np.ndarray and is_dask_array(u):
        _dask.refuse_out(out)
        return _dask.derivative(u, check(_dask.stand_in(u, caller), order, dx, axis,
                                         accuracy, scheme, boundary, None, caller=caller))
    return diff(u, order, dx, axis, accuracy, scheme, boundary, out, caller)


def gradient(u: ArrayLike, *spacing: float | ArrayLike,
             axis: int | tuple[int, ...] | None = None, edge_order: int | None = None,
             accuracy: int = 2,
             boundary: str = "one-sided") -> np.ndarray | tuple[np.ndarray, ...]:
    """First derivatives along several axes, with ``np.gradient``'s call shape.

    ``np.gradient(u, *spacing, axis=axis, edge_order=k)`` and
    ``grid.gradient(u, *spacing, axis=axis, edge_order=k)`` agree to rounding
    (the interior bit for bit on uniform grids), arrays of 2 points included
    at ``edge_order=1``. ``accuracy`` goes beyond NumPy: centered interior
    stencils of any even order.

    Parameters
    ----------
    u : array_like or dask.array.Array
        Samples, at least 1-D; a dask array gives dask arrays (see
        :func:`derivative`).
    *spacing : scalars or 1-D arrays, optional
        None (unit spacing), one positive scalar for every axis, or one value
        per differentiated axis, each a positive scalar or a coordinate array
        of that axis's length (see ``dx`` in :func:`derivative`).
    axis : None, int or tuple of ints, optional
        Axes to differentiate along; all of them by default.
    edge_order : {1, 2}, optional
        Accuracy of the one-sided differences at the two ends of each axis,
        as in ``np.gradient``: 1 is ``(u[1] - u[0]) / dx`` (2 points needed),
        2 is ``(-3u[0] + 4u[1] - u[2]) / (2dx)`` (3 points). Defaults to 1,
        NumPy's default, at ``accuracy=2``. It applies to ``accuracy=2``
        only: with a higher accuracy the edges are one-sided stencils of that
        accuracy and ``edge_order`` must be omitted; with
        ``boundary="periodic"`` there are no edges and it must be omitted too.
    accuracy : int, optional
        Even formal order of accuracy of the centered interior stencil (and,
        above 2, of the edges). 2 is ``np.gradient``'s ``(u[i+1] -
        u[i-1]) / (2dx)``.
    boundary : {"one-sided", "periodic"}, optional
        Edge handling; see :func:`derivative`.

    Returns
    -------
    ndarray or tuple of ndarray
        One array when a single axis is differentiated, else a tuple in the
        order of the axes.

    Raises
    ------
    ValueError
        ``edge_order`` not 1 or 2, given with ``accuracy`` above 2 or with
        ``boundary="periodic"``; an axis shorter than the stencil (2 points
        at ``edge_order=1``, 3 at ``edge_order=2``, ``accuracy + 1`` above);
        and the errors of :func:`derivative`.
    TypeError
        ``edge_order`` not an integer; the wrong number of spacings.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> y, x = np.mgrid[0:4, 0:5].astype(float)
    >>> dy, dx = grid.gradient(x * y, 1.0, 0.5)
    >>> dx[1]
    array([2., 2., 2., 2., 2.])
    >>> grid.gradient(x**2, axis=1)[0]
    array([1., 2., 4., 6., 7.])
    >>> grid.gradient(x**2, axis=1, edge_order=2)[0]
    array([0., 2., 4., 6., 8.])
    >>> grid.gradient(np.array([1.0, 3.0]), 0.5)
    array([4., 4.])
    """
    check_samples(u, "gradient")
    chunked = is_dask_array(u)
    arr = _dask.stand_in(u, "gradient") if chunked else as_float_array(u, "u")[0]
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
    accuracy = check_accuracy(accuracy, "centered")
    edge_accuracy = _edge_accuracy(edge_order, accuracy, boundary)
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
    checked = [check(arr, 1, h, a, accuracy, "centered", boundary, None,
                     f"spacing[{i}]" if len(spacing) > 1 else "spacing", edge_accuracy,
                     "gradient")
               for i, (h, a) in enumerate(zip(dxs, axes))]
    if chunked:
        return _dask.gradient(u, checked)
    results = tuple(run_job(make_job(arr, spec.axis, plan, spec.uniform, spec.shape,
                                     spec.dtype))
                    for arr, spec, plan in checked)
    return results[0] if len(results) == 1 else results


def _edge_accuracy(edge_order, accuracy, boundary):
    """The accuracy of gradient's one-sided edge rows (None: no edges)."""
    if edge_order is None:
        if boundary == "periodic":
            return None
        return 1 if accuracy == 2 else accuracy
    edge_order = check_int("edge_order", edge_order)
    if edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, as in np.gradient, got {edge_order}")
    if boundary == "periodic":
        raise ValueError(
            f"edge_order={edge_order} has no meaning with boundary='periodic' (a periodic "
            f"axis has no edges): omit edge_order")
    if accuracy != 2:
        raise ValueError(
            f"edge_order={edge_order} contradicts accuracy={accuracy}: edge_order is "
            f"np.gradient's option for accuracy=2; at accuracy={accuracy} the edges are "
            f"one-sided stencils of accuracy {accuracy}. Omit edge_order, or pass "
            f"accuracy=2")
    return edge_order

"""``grid.laplacian``: the sum of second derivatives over every axis."""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from ._validation import (
    as_float_array, check_accuracy, check_choice, check_out,
    check_positive_scalar, short_repr,
)
from ._weights import exact_weights

__all__ = ["laplacian"]

BOUNDARIES = ("one-sided", "periodic", "valid")


def _is_scalar(value):
    return np.ndim(value) == 0 and not isinstance(value, (str, bytes))


def _split_dx(dx, u):
    """One spacing per axis: a float, or a 1-D coordinate array."""
    ndim = u.ndim
    if _is_scalar(dx):
        h = check_positive_scalar("dx", dx)
        return [h] * ndim
    if ndim == 1 and isinstance(dx, np.ndarray) and dx.ndim == 1 and dx.shape[0] != 1:
        entries = [dx]
    else:
        try:
            entries = list(dx)
        except TypeError:
            raise TypeError(
                f"dx must be a positive number or a sequence with one spacing per "
                f"axis, got {short_repr(dx)}") from None
        if ndim == 1 and len(entries) == u.shape[0] and len(entries) != 1 and all(
                _is_scalar(e) for e in entries):
            entries = [np.asarray(dx)]
    if len(entries) != ndim:
        raise ValueError(
            f"dx must be a scalar or have one entry per axis of u ({ndim}), got "
            f"{len(entries)} entries: {short_repr(dx)}")
    out = []
    for a, e in enumerate(entries):
        if _is_scalar(e):
            out.append(check_positive_scalar(f"dx[{a}]", e))
        else:
            out.append(np.asarray(e))  # coordinate array, checked by grid.derivative
    return out


def _min_length(accuracy, boundary):
    # Interior stencil: 2m + 1 = accuracy + 1 points; one-sided edge stencils
    # of the second derivative need order + accuracy = accuracy + 2 points.
    return accuracy + 2 if boundary == "one-sided" else accuracy + 1


def _laplacian_iv(u, dx, accuracy, boundary, out):
    u_in = u
    u, dtype = as_float_array(u, "u")
    boundary = check_choice("boundary", boundary, BOUNDARIES)
    accuracy = check_accuracy(accuracy, "centered")
    spacing = _split_dx(dx, u)
    need = _min_length(accuracy, boundary)
    for a, n in enumerate(u.shape):
        if n < need:
            raise ValueError(
                f"u has length {n} along axis {a}, but accuracy={accuracy} with "
                f"boundary={boundary!r} needs at least {need} points")
    if boundary == "valid":
        shape = tuple(n - accuracy for n in u.shape)
    else:
        shape = u.shape
    if out is not None:
        check_out(out, shape, dtype, inputs=(u_in, u))
    return u, dtype, spacing, accuracy, boundary, shape


def _weights_1d(accuracy, h):
    """Interior and left-edge second-derivative weights for spacing ``h``.

    Returns ``(center, edges)``: ``center`` the ``accuracy + 1`` centered
    weights, ``edges[r]`` the ``accuracy + 2`` weights for point ``r`` on the
    window ``u[0:accuracy + 2]``. Right edges are the mirror image (an even
    derivative keeps its sign under reflection). Each weight is the exact
    rational weight divided by ``h**2`` and rounded once.
    """
    m = accuracy // 2
    h2 = Fraction(h) ** 2
    center = [float(w / h2) for w in exact_weights(2, tuple(range(-m, m + 1)))]
    n = accuracy + 2
    edges = [[float(w / h2) for w in exact_weights(2, tuple(j - r for j in range(n)))]
             for r in range(m)]
    return np.array(center), np.array(edges).reshape(m, n)


def _axis_second_numpy(u, a, h, accuracy, boundary, res):
    """Add the second derivative along axis ``a`` into ``res`` (slicing)."""
    m = accuracy // 2
    center, edges = _weights_1d(accuracy, h)
    ua = np.moveaxis(u, a, 0)
    n = ua.shape[0]
    if boundary == "periodic":
        acc = sum(w * np.roll(ua, -s, axis=0) for s, w in zip(range(-m, m + 1), center))
        res += np.moveaxis(acc, 0, a)
        return
    inner = sum(w * ua[m + s:n - m + s] for s, w in zip(range(-m, m + 1), center))
    if boundary == "valid":
        sl = [slice(m, -m)] * u.ndim
        sl[a] = slice(None)
        res += np.moveaxis(inner, 0, a)[tuple(sl)]
        return
    full = np.empty_like(ua)
    full[m:n - m] = inner
    for r in range(m):
        full[r] = sum(w * ua[j] for j, w in enumerate(edges[r]))
        full[n - 1 - r] = sum(w * ua[n - 1 - j] for j, w in enumerate(edges[r]))
    res += np.moveaxis(full, 0, a)


def laplacian(u, dx=1.0, *, accuracy=2, boundary="one-sided", out=None):
    """Laplacian of a sampled field: the sum of second derivatives over all axes.

    Parameters
    ----------
    u : array_like
        Samples, at least 1-D.
    dx : float or sequence, optional
        Grid spacing: one positive number for every axis, or one entry per axis.
    accuracy : int, optional
        Even order of accuracy of the centered stencil (2 gives the classic
        3-point second difference along each axis).
    boundary : {"one-sided", "periodic", "valid"}, optional
        Edge handling.
    out : ndarray, optional
        Result buffer of exactly the result shape and dtype.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import grid
    >>> x = np.arange(5.0)
    >>> grid.laplacian(x[:, None] ** 2 + x[None, :] ** 2)[2, 2]
    4.0
    """
    u, dtype, spacing, accuracy, boundary, shape = _laplacian_iv(
        u, dx, accuracy, boundary, out)
    m = accuracy // 2
    res = np.zeros(shape, dtype=dtype)
    for a, h in enumerate(spacing):
        _axis_second_numpy(u, a, h, accuracy, boundary, res)
    if out is None:
        return res
    out[...] = res
    return out

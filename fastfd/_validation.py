"""Shared argument checks for the public layer.

Every message names the argument and echoes the offending value. These checks
run before any kernel: Numba does not bounds-check, so this is what keeps a bad
call from reading out of bounds.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

__all__ = [
    "SCHEMES", "check_order", "check_accuracy", "check_scheme", "check_callable",
    "check_choice", "check_bool", "check_int", "result_dtype", "real_dtype",
    "as_float_array", "as_real_array", "real_array", "check_h", "normalize_axis", "check_out",
    "check_positive_scalar", "check_spacing", "short_repr", "check_not_masked",
]

SCHEMES = ("centered", "forward", "backward")


def short_repr(value, limit=80):
    """``repr`` cut to ``limit`` characters, for error messages."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def check_callable(name, value, hint=None):
    """TypeError unless ``value`` is callable; ``hint`` (what to use
    instead) is added when ``value`` is an array or a list, the sampled
    data of a ``fastfd.grid`` call."""
    if not callable(value):
        extra = f"; {hint}" if hint and isinstance(value, (np.ndarray, list, tuple)) else ""
        raise TypeError(f"{name} must be callable, got {short_repr(value)}{extra}")
    return value


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {short_repr(value)}")
    return value


def check_scheme(scheme):
    """``scheme`` one of :data:`SCHEMES`."""
    return check_choice("scheme", scheme, SCHEMES)


def check_order(order):
    """A derivative order: an integer >= 1, by the rule of :func:`check_int`."""
    return check_int("order", order, 1)


def check_accuracy(accuracy, scheme):
    """A stencil's ``accuracy``: an integer >= 1 (:func:`check_int`), even
    for ``scheme='centered'`` (validated ``scheme``). Whether the stencil is
    usable in a dtype is ``fastfd.stencils.check_accuracy_limit``."""
    accuracy = check_int("accuracy", accuracy, 1)
    if scheme == "centered" and accuracy % 2:
        raise ValueError(
            f"accuracy must be even for scheme='centered' (a centered stencil's "
            f"error has only even powers of h), got {accuracy!r}")
    return accuracy


def check_bool(name, value, allow_none=False):
    """``True`` or ``False`` (NumPy bools too), or ``None`` if allowed."""
    if allow_none and value is None:
        return value
    if not isinstance(value, (bool, np.bool_)):
        what = "None, True or False" if allow_none else "True or False"
        raise TypeError(f"{name} must be {what}, got {short_repr(value)}")
    return bool(value)


def check_int(name, value, minimum=None):
    """``value`` as an int: a Python or NumPy integer, or a 0-d integer
    array (as NumPy takes it for an axis); bools are refused. The one
    integer rule: TypeError "``name`` must be an integer, got ...", and
    ValueError "``name`` must be >= ``minimum``, got ..."."""
    if (isinstance(value, (bool, np.bool_))
            or (isinstance(value, np.ndarray) and value.dtype.kind == "b")):
        raise TypeError(f"{name} must be an integer, got {short_repr(value)}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {short_repr(value)}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def result_dtype(dtype, name="u"):
    """The dtype a derivative of data of ``dtype`` is computed and returned in.

    float32/float64/complex64/complex128 are kept; integers and bools become
    float64; float16 becomes float32 (Numba has no float16 arithmetic, and
    float32 is the smallest type that holds every float16 exactly). Anything
    else is a TypeError.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        if dtype.itemsize == 2:
            return np.dtype(np.float32)
        if dtype.itemsize in (4, 8):
            return np.dtype(dtype.type)  # native byte order
    elif dtype.kind == "c" and dtype.itemsize in (8, 16):
        return np.dtype(dtype.type)
    elif dtype.kind in "iub":
        return np.dtype(np.float64)
    raise TypeError(
        f"{name} must have a numeric dtype (bool, integer, float16/32/64 or "
        f"complex64/128), got dtype {dtype}")


def real_dtype(dtype, name="f(x)"):
    """The real float dtype values of ``dtype`` are computed in: complex64
    and complex128 give their component type, everything else
    :func:`result_dtype`."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c" and dtype.itemsize in (8, 16):
        return np.dtype(np.float32 if dtype.itemsize == 8 else np.float64)
    return result_dtype(dtype, name)


def real_array(value, name="x"):
    """`value` as an array of real numbers (integer or float), not cast: an
    array is returned as is. Text, bools, complex and object arrays are a
    TypeError; so is a framework tensor NumPy cannot read (a PyTorch tensor
    that requires grad), with how to pass it. A masked array is refused:
    its mask would be dropped without a word."""
    check_not_masked(value, name, "finite differences would use the masked values")
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be real numbers, got {short_repr(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nesting, tensors that refuse NumPy
        if hasattr(value, "detach"):
            _needs_detach(value, name, exc)
        raise TypeError(f"{name} must be real numbers, got {short_repr(value)}") from exc
    if arr.dtype.kind == "O" and hasattr(value, "detach"):
        _needs_detach(value, name, None)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be real numbers, got dtype {arr.dtype}: {short_repr(value)}")
    return arr


def _needs_detach(value, name, exc):
    why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    raise TypeError(
        f"{name} must be real numbers; it is a "
        f"{type(value).__module__.split('.')[0]}.{type(value).__name__} that NumPy cannot "
        f"read{why}. Pass {name}.detach() (for a PyTorch tensor on a GPU, "
        f".detach().cpu()): finite differences need plain values, not a graph") from exc


def as_real_array(x, name="x"):
    """``(array, dtype)``: :func:`real_array` cast to :func:`result_dtype`
    (a cast copies; an array of that dtype is returned as is)."""
    xa = real_array(x, name)
    dt = result_dtype(xa.dtype, name)
    return xa.astype(dt, copy=False), dt


def check_h(h, dtype, name="h", shape=None, per="element of x"):
    """Explicit steps: a positive, finite real number or array, cast to
    ``dtype``. With `shape`, a scalar, a 1-element array or an array of
    that shape (one step per `per`)."""
    what = f"{name} must be a positive real number or array"
    if isinstance(h, (bool, np.bool_)):
        raise TypeError(f"{what}, got {h!r}")
    try:
        ha = np.asarray(h)
    except Exception as exc:
        raise TypeError(f"{what}, got {short_repr(h)}") from exc
    # np.asarray(["1e-3"]).astype(float) parses text; steps are numbers
    if ha.dtype == object or ha.dtype.kind not in "iuf":
        raise TypeError(f"{what}, got {short_repr(h)}")
    if ha.size == 0:
        raise ValueError(f"{name} must not be empty, got {short_repr(h)}")
    if shape is not None and ha.shape not in ((), (1,), tuple(shape)):
        raise ValueError(
            f"{name} must be a scalar or an array of shape {tuple(shape)} (one step per "
            f"{per}), got shape {ha.shape}")
    ha = ha.astype(dtype)
    bad = ~(np.isfinite(ha) & (ha > 0))
    if bad.any():
        raise ValueError(
            f"{name} must be positive and finite, got {short_repr(h)} "
            f"(first bad value {ha[bad].flat[0]!r})")
    return ha


def as_float_array(u, name="u", min_ndim=1):
    """Return ``(array, dtype)`` with ``array`` of the result dtype.

    A ``numpy.ma.MaskedArray`` is a TypeError naming ``name`` (Numba would
    refuse it or ignore the mask, depending on what had been compiled).

    Never modifies or aliases-for-writing the caller's array: a cast makes a
    copy, and an array already of the right dtype is returned as is (read
    only use).
    """
    # A masked result would need each stencil's footprint (interior, edge
    # windows, periodic wrap) to propagate the mask; the kernels take plain
    # arrays. The caller decides what a masked sample means.
    check_not_masked(u, name, "a stencil would mix masked samples into their "
                              "neighbours' derivatives")
    if wraps_dask_array(u):
        # np.asarray would compute the whole array and drop its coordinates
        raise TypeError(
            f"{name} is a dask-backed {type(u).__module__.split('.')[0]}."
            f"{type(u).__name__}: pass it through "
            f"xarray.apply_ufunc(..., dask='allowed') (the README shows how, with its "
            f"coordinates), or pass {name}.data, the dask array")
    if isinstance(u, np.ndarray):
        arr = u
    else:
        try:
            arr = np.asarray(u)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be array_like, got {short_repr(u)}") from exc
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise TypeError(
            f"{name} must have a numeric dtype (bool, integer, float16/32/64 or "
            f"complex64/128), got dtype {arr.dtype}")
    dtype = result_dtype(arr.dtype, name)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got a "
            f"{arr.ndim}-d array {short_repr(arr)}")
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr, dtype


def is_dask_array(x):
    """True for a ``dask.array.Array``, without importing dask."""
    return (type(x).__module__ or "").startswith("dask.array") and hasattr(x, "__dask_graph__")


def wraps_dask_array(x):
    """True for an object that holds a dask array as ``.data`` (an xarray
    ``DataArray`` or ``Variable``)."""
    return not isinstance(x, np.ndarray) and is_dask_array(getattr(x, "data", None))


def check_not_masked(value, name, reason):
    """TypeError if ``value`` is a ``numpy.ma.MaskedArray`` (or the masked
    constant): ``np.asarray`` would drop the mask without a word, and Numba
    refuses or accepts one depending on what was compiled before."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array (numpy.ma.MaskedArray), which fastfd does not "
            f"support: {reason}. Pass {name}.filled(value) to choose the masked values, "
            f"or np.asarray({name}) to ignore the mask")


def normalize_axis(axis, ndim, name="axis"):
    """``axis`` in ``[0, ndim)``. Out of range is ``numpy.exceptions.AxisError``,
    as in NumPy: a subclass of both ValueError and IndexError. A 0-d integer
    array is an integer, as in NumPy (``operator.index`` accepts it)."""
    axis = check_int(name, axis)
    if not -ndim <= axis < ndim:
        raise _AxisError(
            f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return axis % ndim


def check_positive_scalar(name, value, dtype=np.float64):
    """A finite, strictly positive real scalar, returned as a Python float."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {short_repr(value)}")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float64, e.g. 10**400
        v = math.inf
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be positive and finite, got {short_repr(value)}")
    return v


def check_spacing(dx, n, axis, name="dx"):
    """Grid spacing along an axis of ``n`` points: a positive finite number
    (uniform grid, returned as a float) or ``n`` strictly monotonic finite
    coordinates (returned as a C-contiguous float64 array)."""
    check_not_masked(dx, name, "a masked coordinate or spacing would be used as a value")
    if isinstance(dx, (numbers.Number, np.generic)) or (
            isinstance(dx, np.ndarray) and dx.ndim == 0):
        return check_positive_scalar(name, dx)
    what = f"{name} must be a positive number or a 1-D coordinate array"
    if isinstance(dx, (str, bytes)):
        raise TypeError(f"{what}, got {short_repr(dx)}")
    try:
        x = np.asarray(dx)
    except Exception as exc:
        raise TypeError(f"{what}, got {short_repr(dx)}") from exc
    if x.ndim == 0 and x.dtype.kind in "iuf":  # a 0-d array-like: xarray's x[1] - x[0]
        return check_positive_scalar(name, x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real coordinates, got dtype {x.dtype}: "
                        f"{short_repr(dx)}")
    if x.ndim != 1:
        raise ValueError(f"{what}, got an array of shape {x.shape}")
    if x.shape[0] != n:
        raise ValueError(f"{name} has {x.shape[0]} coordinates but u has {n} points "
                         f"along axis {axis}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} coordinates must be finite, got {short_repr(dx)}")
    d = np.diff(x)
    if not ((d > 0).all() or (d < 0).all()):
        raise ValueError(f"{name} coordinates must be strictly monotonic, got "
                         f"{short_repr(dx)}")
    return x


def check_out(out, shape, dtype, inputs=(), name="out"):
    """``out`` must be an ndarray of exactly ``shape``/``dtype``, writeable,
    and share no memory with any of ``inputs``. A masked array is refused:
    the kernels would write its data and leave its mask as it was."""
    if isinstance(out, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array (numpy.ma.MaskedArray); pass a plain "
            f"numpy.ndarray (the result has no mask)")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writeable array")
    for arr in inputs:
        if isinstance(arr, np.ndarray) and _overlap(out, arr):
            raise ValueError(
                f"{name} overlaps the input array; pass a separate buffer")
    return out


def _overlap(a, b):
    """Whether ``a`` and ``b`` share an element. ``np.may_share_memory`` only
    compares address ranges, which rejected disjoint interleaved views such
    as ``z.real`` / ``z.imag``; the exact test is bounded and counts as an
    overlap when it gives up."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return np.shares_memory(a, b, max_work=1000)
    except _TOO_HARD:
        return True


_TOO_HARD = getattr(np, "exceptions", np).TooHardError  # np.TooHardError before 1.25
_AxisError = getattr(np, "exceptions", np).AxisError

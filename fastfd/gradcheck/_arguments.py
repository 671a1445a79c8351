"""Validation of check_gradient's arguments (loss, params, grad, h, tol,
coords, seed, parallel, raise_on_fail, progress), before anything is evaluated."""

from __future__ import annotations

import numbers

import numpy as np

from ._params import FlatProblem
from ._progress import check_progress
from .._validation import check_bool, check_positive_scalar, short_repr

def _iv(loss, params, grad, h, tol, coords, seed, parallel, raise_on_fail, progress):
    if not callable(loss):
        raise TypeError(f"loss must be callable, got {short_repr(loss)}")
    prob = FlatProblem(params, grad, loss)
    bad = np.flatnonzero(~np.isfinite(prob.x0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"params must be finite; {prob.name(i)} is {prob.x0[i]!r}")
    idx = _check_coords(coords, seed, prob)
    if h is not None:
        h = _check_h(h, prob)
    if tol is not None:
        tol = check_positive_scalar("tol", tol)
    check_bool("parallel", parallel, allow_none=True)
    if parallel and not prob.jitted:
        raise ValueError(
            "parallel=True needs a Numba-jitted loss of one 1-D float array "
            f"(got loss={short_repr(loss, 60)} with {prob.kind} params); leave "
            "parallel=None to choose automatically")
    check_bool("raise_on_fail", raise_on_fail)
    check_progress(progress)
    return prob, idx, h, tol


def _check_coords(coords, seed, prob):
    n = prob.n
    if seed is not None and not isinstance(seed, np.random.Generator) and (
            isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral)):
        raise TypeError(
            f"seed must be None, an integer or a numpy.random.Generator, got {short_repr(seed)}")
    if isinstance(coords, str):
        if coords != "all":
            raise ValueError(
                f"coords must be 'auto', 'all', a number of coordinates or flat indices, got {coords!r}")
        return np.arange(n, dtype=np.intp)
    if isinstance(coords, (bool, np.bool_)):
        raise TypeError(
            f"coords must be 'auto', 'all', a number of coordinates or flat indices, got {coords!r}")
    if isinstance(coords, numbers.Integral):
        k = int(coords)
        if not 1 <= k <= n:
            raise ValueError(
                f"coords={k} must be between 1 and the number of parameters ({n})")
        if k == n:
            return np.arange(n, dtype=np.intp)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.intp)
    return _index_array(coords, n)


def _index_array(coords, n):
    """Explicit flat indices `coords` (any sequence or array) as intp: the one
    check of every mode."""
    try:
        arr = np.asarray(coords)
    except Exception as exc:
        raise TypeError(
            f"coords must be 'auto', 'all', a number of coordinates or flat indices, "
            f"got {short_repr(coords)}") from exc
    # empty before the dtype: np.asarray([]) is float64
    if arr.size == 0:
        raise ValueError(
            f"coords is empty ({short_repr(coords)}); pass 'auto', 'all', a count or at "
            "least one flat index")
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(
            f"coords must be 'auto', 'all', an integer count or a 1-D sequence of integer flat "
            f"indices, got {short_repr(coords)}")
    out = (arr < 0) | (arr >= n)
    if out.any():
        raise ValueError(
            f"coords has indices out of range for {n} parameters: "
            f"{short_repr(arr[out].tolist())}")
    arr = arr.astype(np.intp)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"coords has repeated indices: {short_repr(coords)}")
    return arr


def _check_h(h, prob):
    what = f"h must be a positive number or an array of {prob.n} positive steps"
    if isinstance(h, (str, bytes)):
        raise TypeError(f"{what}, got {h!r} (text is not read as a number)")
    if isinstance(h, (numbers.Real, np.generic)) or (isinstance(h, np.ndarray) and h.ndim == 0):
        return check_positive_scalar("h", h)
    try:
        raw = np.asarray(h)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}, got {short_repr(h)}") from exc
    # np.asarray(["1e-3"], dtype=float) parses text; steps are numbers
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"{what}, got an array of dtype {str(raw.dtype)!r}: {short_repr(h)}")
    arr = raw.astype(np.float64)
    if arr.shape != (prob.n,):
        raise ValueError(
            f"h must be a positive number or an array of {prob.n} positive steps (one "
            f"per flat parameter), got an array of shape {arr.shape}")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError(f"h must be positive and finite, got {short_repr(h)}")
    return arr

"""Validation of check_gradient's arguments, before anything is evaluated:
one check and one message per mistake, whatever options the call combines."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._executor import check_executor, one_point
from ._params import FlatProblem, _split
from ._progress import check_progress
from .._validation import check_bool, check_h, check_int, check_positive_scalar, short_repr

# directional checks asked for in one call, at most
MAX_DIRECTIONS_ASKED = 10_000

_COORDS = "coords must be 'auto', 'all', a number of coordinates or a 1-D sequence of flat indices"


class Arguments:
    """check_gradient's arguments, validated and normalized.

    ``loss`` is the user's loss; ``point_loss`` the loss of one point in the
    user's structure (the user's loss, or one row of a vectorized one);
    ``problem`` the flat view of params and grad. ``coords`` is "auto",
    "all", a count (int) or an intp array of flat indices; ``budget`` a
    float or None; ``directions`` an int or None. A vector check
    (``fastfd.gradcheck._vector``) adds ``default_budget``, its share of the
    default budget for one projection.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


def check_arguments(loss, params, grad, *, h=None, tol=None, coords="all", seed=None,
                    parallel=None, raise_on_fail=False, progress=None, directions=None,
                    budget=None, vectorized=False, executor=None):
    """Every argument of ``check_gradient`` checked: an :class:`Arguments`."""
    if not callable(loss):
        raise TypeError(f"loss must be callable, got {short_repr(loss)}")
    vectorized = check_bool("vectorized", vectorized)
    point_loss = one_point(loss, _split(params, "params")[0]) if vectorized else loss
    prob = FlatProblem(params, grad, point_loss)
    check_finite_point(prob)
    check_seed(seed)
    directions = check_directions(directions)
    h, tol, coords, budget = check_options(prob, h=h, tol=tol, coords=coords,
                                           directions=directions, progress=progress,
                                           budget=budget)
    check_bool("parallel", parallel, allow_none=True)
    if parallel and not prob.jitted:
        raise ValueError(
            "parallel=True needs a Numba-jitted loss of one 1-D float array "
            f"(got loss={short_repr(loss, 60)} with {prob.kind} params); leave "
            "parallel=None to choose automatically")
    raise_on_fail = check_bool("raise_on_fail", raise_on_fail)
    check_executor(executor)
    return Arguments(loss=loss, point_loss=point_loss, problem=prob, h=h, tol=tol,
                     coords=coords, seed=seed, parallel=parallel,
                     raise_on_fail=raise_on_fail, progress=progress, directions=directions,
                     budget=budget, vectorized=vectorized, executor=executor)


def check_finite_point(prob):
    """The point of a check must be finite: ValueError naming the first entry
    that is not."""
    bad = np.flatnonzero(~np.isfinite(prob.x0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{prob.name_} must be finite; {prob.name(i)} is {prob.x0[i]!r}")


def check_seed(seed):
    """``seed`` must be None, a non-negative integer or a Generator."""
    if seed is not None and not isinstance(seed, np.random.Generator) and (
            isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral)):
        raise TypeError(
            f"seed must be None, an integer or a numpy.random.Generator, got {short_repr(seed)}")
    if isinstance(seed, numbers.Integral) and seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")


def check_directions(directions):
    """``directions``: None or an int from 0 to :data:`MAX_DIRECTIONS_ASKED`."""
    if directions is not None:
        directions = check_int("directions", directions, minimum=0)
        if directions > MAX_DIRECTIONS_ASKED:
            raise ValueError(
                f"directions must be at most {MAX_DIRECTIONS_ASKED}, got {directions}")
    return directions


def check_options(prob, *, h, tol, coords, directions, progress, budget):
    """The options every check shares, for the flat problem `prob`:
    ``(h, tol, coords, budget)`` normalized (``directions`` already is)."""
    coords = _check_coords(coords, directions, prob.n, len(prob.blocks))
    if h is not None:
        h = _check_h(h, prob.n)
    if tol is not None:
        tol = check_positive_scalar("tol", tol)
    check_progress(progress)
    return h, tol, coords, check_budget(budget)


def _check_coords(coords, directions, n, n_blocks):
    """"auto", "all", a count (int) or flat indices (intp array)."""
    if isinstance(coords, str):
        if coords not in ("auto", "all"):
            raise ValueError(f"{_COORDS}, got {coords!r}")
        return coords
    if coords is None or isinstance(coords, (bool, np.bool_)):
        raise TypeError(f"{_COORDS}, got {coords!r}")
    if isinstance(coords, numbers.Integral) or (
            isinstance(coords, (np.ndarray, np.generic)) and np.ndim(coords) == 0
            and np.asarray(coords).dtype.kind in "iu"):
        k = int(coords)
        if not (1 <= k <= n or (k == 0 and directions)):
            raise ValueError(
                f"coords={k} must be between 1 and the number of parameters ({n}), "
                f"or 0 with directions > 0 for a check by directions alone")
        if 0 < k < n_blocks and k < n:
            raise ValueError(
                f"coords={k} is fewer than the {n_blocks} tensors; a stratified "
                f"sample needs at least one coordinate per tensor")
        return k
    return _index_array(coords, n)


def check_budget(budget):
    """``budget`` must be None or a positive finite number of seconds."""
    if budget is None:
        return None
    if isinstance(budget, (bool, np.bool_)) or not isinstance(
            budget, (int, float, np.integer, np.floating)):
        raise TypeError(f"budget must be a positive number of seconds, got {short_repr(budget)}")
    try:
        b = float(budget)
    except OverflowError:           # an int beyond float range
        b = math.inf
    if not math.isfinite(b) or b <= 0:
        raise ValueError(
            f"budget must be a positive, finite number of seconds, got {short_repr(budget)}")
    return b


def _index_array(coords, n):
    """Explicit flat indices `coords` (any sequence or array) as intp: the one
    check of every mode."""
    try:
        arr = np.asarray(coords)
    except Exception as exc:
        raise TypeError(
            f"{_COORDS}, got {short_repr(coords)}") from exc
    # empty before the dtype: np.asarray([]) is float64
    if arr.size == 0:
        raise ValueError(
            f"coords is empty ({short_repr(coords)}); pass 'auto', 'all', a count or at "
            "least one flat index")
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"{_COORDS}, got {short_repr(coords)}")
    out = (arr < 0) | (arr >= n)
    if out.any():
        raise ValueError(
            f"coords has indices out of range for {n} parameters: "
            f"{short_repr(arr[out].tolist())}")
    arr = arr.astype(np.intp)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"coords has repeated indices: {short_repr(coords)}")
    return arr


def _check_h(h, n):
    """A float (one step for every coordinate) or a float64 array of `n` steps."""
    ha = check_h(h, np.float64, shape=(n,), per="flat parameter")
    return float(ha.reshape(-1)[0]) if ha.size == 1 else ha

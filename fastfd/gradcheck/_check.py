"""The gradient-check engine, its report and the seed's gradient_check (fastfd.gradcheck)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
import contextlib
import math
import numbers
import time
from typing import Any
import warnings

import numpy as np
from numpy.typing import ArrayLike

from ._params import (FlatProblem, LossEvaluationError, LossReturnError, call_loss,
                    input_error, input_write_error, loss_precision, loss_value,
                    return_error)
from ._progress import Progress, check_progress, progress_enabled
from ..steps import check_precision, check_steps
from .._validation import check_positive_scalar, short_repr

__all__ = [
    "gradient_check", "check_gradient", "GradCheckResult", "GradientCheckError",
    "LossEvaluationError", "CoordinateCheck", "TensorCheck",
]

# Default tol (relative discrepancy per coordinate) by the precision of the
# check. Centered differences at the default step resolve about eps**(2/3)
# relative (3.7e-11 in float64, 2.4e-5 in float32), so these leave a margin of
# ~1e4 and ~40 for losses whose roundoff is a few ulps; the noise bound below
# covers losses that are noisier than that.
DEFAULT_TOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}

# Roundoff bound of f(x+h) - f(x-h): ROUNDOFF_ULPS * eps * (|f+| + |f-|).
# A loss that is a sum of many terms carries a few ulps of |f|, not half of
# one; 8 leaves room for pairwise and BLAS summation. Coordinates past this
# bound still get the two-step estimate (the float32 MLP in the tests passes
# even with 0.5 ulps here: that estimate absorbs its noise).
ROUNDOFF_ULPS = 8.0

# Diagnosis: the discrepancy at h and at 2h agree within STABLE of it ->
# "gradient wrong". At a kink one side of the stencil is smooth, so one of
# the one-sided differences at h and 2h agree to within curvature * h,
# orders of magnitude below the jump; noise makes both sides move by about
# the jump. KINK_STABLE = 0.01 misreads about 2% of pure-noise coordinates as
# kinks (measured on sin(1e9 x) * 1e-10 noise; 0.25 misread 40%).
STABLE = 0.25
KINK_STABLE = 0.01

# Parallel path: chunks per Numba thread (each chunk copies x once).
CHUNKS_PER_THREAD = 8

# A coordinate whose noise bound exceeds tol * scale passes at its noise
# level (the report states it per tensor) only while that level is at most
# RESOLUTION_LIMIT of the scale; beyond it the check cannot see a wrong sign
# of a 5% term and the coordinate is inconclusive. Measured: a float32
# conv net (3,818 parameters, cross-entropy ~2.4) resolves 0.5% to 2.6% of
# its tensors' gradient scale; a float16 loss of the same size 24% to 70%.
RESOLUTION_LIMIT = 0.05

# A failing coordinate whose evidence is ambiguous (a kink or noise, or a
# bent second difference) is re-checked at h / SMALL_STEP_FACTOR: a kink
# farther than 2h/16 is no longer inside the stencil, while a wrong gradient
# keeps its discrepancy (within STABLE_SMALL of it) at any step.
SMALL_STEP_FACTOR = 16.0
# A loss whose values all end in at least this many zero bits of a 53-bit
# mantissa (about sqrt(eps) of |f|) is tested for quantization (see
# _loss_quantum).
QUANTUM_BITS = 26
# Values on a grid of any other spacing q lie within GRID_ULPS ulps (of the
# largest value) of it, and q must exceed GRID_COARSE times that slack.
GRID_ULPS = 4.0
GRID_COARSE = 16.0
# ... fitted to at most this many of the smallest differences of the values.
GRID_DIFFERENCES = 64
# A grid fitted within more than q / 16 must be this unlikely by chance.
GRID_EVIDENCE = 1e-4
# Rounds of fitting a grid and probing off it (_find_grid).
GRID_ROUNDS = 4
# A bitwise flat loss is followed with steps 2h, 4h, ... up to 2**FLAT_DOUBLINGS h
# (64 |x| in float64: a gradient of 2e-5 on a loss rounded to 7e-5 moves it
# only 3.5 away).
FLAT_DOUBLINGS = 24
# The probe off the grid sits at this fraction of a step: 1/pi is at least
# 0.045 from every k/m with m <= 16, so a linear loss (whose differences are
# multiples of its change over the step) leaves every grid _quantum_of tries.
GRID_PROBE = 1.0 / math.pi
STABLE_SMALL = 0.5
LARGE_STEP_FACTOR = 16.0
NEAR_STEPS = (0.5, 0.25, 0.125)
# Deeper steps for a candidate with a kink suspected inside its stencil.
DEEP_STEPS = (1.0 / 32.0, 1.0 / 256.0)
MAX_CONFIRM = 256
# Roundoff of one loss value in the near confirmation's fit, in ulps of |f|:
# a float32 loss computed through many layers carries several (measured: 7
# ulps between the float32 and float64 values of the 21,734-parameter conv
# net of the tests at h/4), and a 1-ulp sigma made the fit "clear" of zero
# for conv1.weight[15, 0, 0, 2] of its seed 2 (kinks between h/4 and h,
# 1.3% off at h: "gradient wrong" on the correct gradient).
NEAR_ULPS = 2.0
# ... and each of the four discrepancies must lie within NEAR_RESIDUAL
# sigmas of the fitted line.
NEAR_RESIDUAL = 4.0
# Confirmed "gradient wrong" coordinates per tensor after which the rest of
# a dense failure is not re-checked (each confirmation costs 14 evaluations:
# 16h, 32h, three near and two deep steps), once as many more, spread
# through the ranking, are confirmed too, with at most one in DENSE_MISS missed.
CONFIRM_ENOUGH = 4
DENSE_MISS = 4

VERDICTS = ("ok", "gradient wrong", "finite-difference noise", "non-smooth point",
            "non-finite loss", "non-finite gradient", "loss resolution",
            "non-deterministic loss", "not confirmed in time")
(OK, WRONG, NOISE, NONSMOOTH, NONFINITE_LOSS, NONFINITE_GRADIENT, RESOLUTION,
 NONDETERMINISTIC, UNCONFIRMED) = range(len(VERDICTS))

# Status of a coordinate by verdict: only a wrong or non-finite analytic
# value proves the gradient wrong; a non-finite loss at x +- h, a kink, noise,
# a loss without digits for the change or a non-deterministic loss leave the
# coordinate undecided.
STATUSES = ("passed", "failed", "inconclusive")
STATUS_OF = np.array([0, 1, 2, 2, 2, 1, 2, 2, 2], dtype=np.int8)

# What would help, by inconclusive verdict.
ADVICE = {
    "finite-difference noise": "a larger h, or the loss in float64",
    "non-smooth point": "a point away from kinks (ReLU, max, abs), or a smaller h",
    "non-finite loss": "a smaller h (the loss is not finite at x +- h)",
    "loss resolution": "the loss in float64, a larger h, or a smaller loss offset",
    "non-deterministic loss": "a deterministic loss (fixed seeds, no dropout)",
    "not confirmed in time": "a larger budget (a suspected wrong value was not re-checked "
                             "before the budget ran out)",
}

CoordinateCheck = namedtuple(
    "CoordinateCheck",
    "name index numerical analytical abs_error rel_error step verdict status",
    defaults=(None,))
CoordinateCheck.__doc__ = ("One checked coordinate of a :class:`GradCheckResult`; "
                           "``status`` is \"passed\", \"failed\" or \"inconclusive\".")

TensorCheck = namedtuple("TensorCheck",
                         "name size checked worst_rel_error passed status noise resolution",
                         defaults=(None, None, None))
TensorCheck.__doc__ = (
    "One tensor of a :class:`GradCheckResult`: how many of its coordinates were "
    "checked, the worst relative error among them, whether all passed (None when "
    "none was checked), its status, the relative noise bound at its worst "
    "coordinate, and its resolution: the smallest relative error (of the "
    "tensor's gradient scale) that the check could detect in every coordinate "
    "of it that it decided (inconclusive ones say why instead).")


class GradientCheckError(AssertionError):
    """A gradient check failed (``raise_on_fail=True``).

    ``.result`` is the :class:`GradCheckResult`; the message is its report.
    """

    def __init__(self, result):
        self.result = result
        super().__init__(str(result))


class _Context:
    """What one check needs while it evaluates: problem, buffer, counters."""

    def __init__(self, prob, loss):
        self.prob = prob
        self.loss = loss
        self.x = prob.x0.copy()          # the only vector ever perturbed
        # Python losses see read-only views: a write to the input fails at the
        # write, naming the coordinate. A jitted loss gets writeable arrays (a
        # read-only argument would compile a second specialization of it);
        # its writes are caught by comparing with x0.
        self.readonly = not prob.jitted
        self.views = prob.views(self.x, self.readonly)
        # what fastfd.gradcheck._params.input_error needs to find a write to read-only
        # views: the writeable vector, and the loss on a flat copy of it
        self.writeable = self.x if self.readonly else None
        self.probe = lambda s: loss(prob.views(s))
        self.n_evals = 0
        self.eps = None         # the loss precision's, once the baseline is evaluated

    def call(self, where, raw=False):
        """The loss at the current contents of ``x``: a float (with `raw`,
        also the value as returned), through ``fastfd.gradcheck._params.call_loss``."""
        self.n_evals += 1
        return call_loss(self.loss, self.views, where, self.writeable, self.prob.name, raw,
                         probe=self.probe)

    def error(self, exc, where):
        """The error :meth:`call` raises for `exc`, raised by the loss at the
        current point of ``x``."""
        if isinstance(exc, LossReturnError):
            return return_error(exc, where)
        return input_error(self.probe, self.writeable, exc, where, self.prob.name)


# --------------------------------------------------------------- validation
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
    if parallel is not None and not isinstance(parallel, (bool, np.bool_)):
        raise TypeError(f"parallel must be None, True or False, got {short_repr(parallel)}")
    if parallel and not prob.jitted:
        raise ValueError(
            "parallel=True needs a Numba-jitted loss of one 1-D float array "
            f"(got loss={short_repr(loss, 60)} with {prob.kind} params); leave "
            "parallel=None to choose automatically")
    if not isinstance(raise_on_fail, (bool, np.bool_)):
        raise TypeError(f"raise_on_fail must be True or False, got {short_repr(raise_on_fail)}")
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


# --------------------------------------------------------------- evaluation
def _perturbed(x0, idx, steps):
    """Perturbed values rounded to the dtype of x, and the realized one-sided steps."""
    xi = x0[idx].astype(np.float64)
    xp = (xi + steps).astype(x0.dtype)
    xm = (xi - steps).astype(x0.dtype)
    hp = xp.astype(np.float64) - xi
    hm = xi - xm.astype(np.float64)
    return xp, xm, hp, hm


def _python_values(ctx, idx, xp, xm, bar, label):
    """fp, fm by perturbing ctx.x in place; one coordinate at a time."""
    # memoryview item assignment costs half of ndarray's (measured 33 vs 70
    # ns); x is the contiguous private vector the views look into
    x = memoryview(ctx.x)
    fn = ctx.loss
    views = ctx.views
    m = idx.size
    fp = [0.0] * m
    fm = [0.0] * m
    ii = idx.tolist()
    ps = xp.tolist()
    ms = xm.tolist()
    xs = ctx.prob.x0[idx].tolist()
    step = max(1, m // 100) if bar.enabled else m
    k = 0
    side = "+"
    try:
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            # the loss call and the float check of fastfd.gradcheck._params.call_loss
            # inlined (errors go through the same functions, ctx.error):
            # 145 vs 185 ns per call of a trivial loss, measured
            for k in range(lo, hi):
                i = ii[k]
                side = "+"
                x[i] = ps[k]
                v = fn(views)
                fp[k] = float(v) if isinstance(v, float) else loss_value(v)
                side = "-"
                x[i] = ms[k]
                v = fn(views)
                fm[k] = float(v) if isinstance(v, float) else loss_value(v)
                x[i] = xs[k]
            bar.update(2 * (hi - lo))
    except (KeyboardInterrupt, SystemExit):
        x[ii[k]] = xs[k]
        raise
    except Exception as exc:
        # diagnosed at the perturbed point, then restored
        err = ctx.error(exc, f"at {ctx.prob.name(ii[k])} {side} {label}")
        x[ii[k]] = xs[k]
        ctx.n_evals += 2 * k + (side == "-") + 1
        if isinstance(exc, LossReturnError):
            raise err from None
        raise err from exc
    ctx.n_evals += 2 * m
    return np.array(fp), np.array(fm)


def _blas_one_thread():
    """Limit BLAS to one thread while Numba's threads run (no oversubscription)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _jit_values(ctx, idx, xp, xm, parallel, bar):
    """fp, fm from the compiled drivers (private copy of x per chunk)."""
    import numba

    from .._kernels.gradcheck import central_values_parallel, central_values_serial

    m = idx.size
    fp = np.empty(m)
    fm = np.empty(m)
    x0 = ctx.prob.x0
    if parallel:
        # CHUNKS_PER_THREAD chunks handed out one at a time (chunksize 1):
        # on a shared machine a thread that loses its core to another process
        # would otherwise hold up the whole check with its static half.
        nchunks = max(1, min(CHUNKS_PER_THREAD * numba.get_num_threads(), m))
        driver = central_values_parallel
    else:
        nchunks = 1
        driver = central_values_serial
    # With progress on, run in ~50 pieces and report between them.
    piece = max(nchunks, -(-m // 50)) if bar.enabled else m
    # The drivers are not disk-cached (they take the user's function), so
    # Numba has no "cannot cache" warning to give and no warning filter is
    # touched here: filters are process-wide and not thread-safe.
    with (_blas_one_thread() if parallel else contextlib.nullcontext()):
        for lo in range(0, m, piece):
            hi = min(m, lo + piece)
            changed = np.full(min(nchunks, hi - lo), -1, dtype=np.intp)
            with numba.parallel_chunksize(1):
                driver(ctx.loss, x0, idx[lo:hi], xp[lo:hi], xm[lo:hi],
                       fp[lo:hi], fm[lo:hi], changed)
            ctx.n_evals += 2 * (hi - lo)
            bar.update(2 * (hi - lo))
            hit = changed[changed >= 0]
            if hit.size:
                _raise_modified(ctx.prob, int(hit[0]), None)
    return fp, fm


def _compile_drivers(loss, x0, parallel):
    """Compile the drivers for a jitted `loss` and the arguments
    :func:`_jit_values` passes (nothing is evaluated), so that compilation
    is not timed as part of a check."""
    import numba

    from .._kernels import gradcheck as K

    drivers = (K.central_values_serial, K.central_values_parallel) if parallel else (
        K.central_values_serial,)
    vec = numba.typeof(np.empty(1, dtype=x0.dtype))
    f64 = numba.typeof(np.empty(1))
    ints = numba.typeof(np.empty(1, dtype=np.intp))
    sig = (numba.typeof(loss), numba.typeof(x0), ints, vec, vec, f64, f64, ints)
    for driver in drivers:
        if hasattr(driver, "compile"):
            driver.compile(sig)


def _values(ctx, idx, xp, xm, use_jit, parallel, bar, label):
    if use_jit:
        try:
            return _jit_values(ctx, idx, xp, xm, parallel, bar)
        except (KeyboardInterrupt, SystemExit, ValueError):
            raise
        except Exception:
            # A jitted loss that raises inside the kernel: rerun in Python to
            # name the coordinate (the Python path re-raises with its name).
            _python_values(ctx, idx, xp, xm, _off(), label)
            raise
    return _python_values(ctx, idx, xp, xm, bar, label)


def _off():
    return Progress(0, enabled=False)


def _raise_modified(prob, i, value):
    raise input_write_error("", prob.name(i), prob.x0[i], value)


def _check_unmodified(ctx):
    x, x0 = ctx.x, ctx.prob.x0
    same = (x == x0) | (np.isnan(x) & np.isnan(x0))
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        _raise_modified(ctx.prob, i, x[i].item())


# ----------------------------------------------------------------- the check
def check_gradient(loss: Callable[..., Any], params: Any, grad: Any, *,
                   h: ArrayLike | None = None, tol: float | None = None,
                   coords: str | int | ArrayLike = "auto", seed: Any = None,
                   parallel: bool | None = None, raise_on_fail: bool = False,
                   progress: bool | None = None, directions: int | None = None,
                   budget: float | None = None, vectorized: bool = False,
                   executor: Any = None) -> GradCheckResult:
    """Check an analytic gradient coordinate by coordinate with centered differences.

    For each checked flat coordinate ``i`` with step ``h_i`` the numerical
    derivative is ``(f(x + h_i e_i) - f(x - h_i e_i)) / ((x_i + h_i) - (x_i -
    h_i))``: the denominator is the realized step, exact whatever the
    additions rounded to. The coordinate is perturbed in place in one private
    flat copy of the parameters and restored by assignment; the loss sees the
    user's structure through views of that copy. The user's arrays are never
    modified, also when the loss raises or the check is interrupted.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> float``, receiving parameters in the structure of
        `params` as read-only views. A Numba-jitted loss of one 1-D float
        array runs in a compiled (and by default parallel) per-coordinate
        kernel. The value may be a float, a NumPy real scalar, a 0-d real
        array or a 0-d framework scalar (anything with ``__float__`` and an
        empty shape, such as a PyTorch or JAX scalar); bool, str, complex,
        ``decimal.Decimal`` and arrays or tensors of any other shape,
        ``(1,)`` included, are a TypeError in every mode.
    params : ndarray, dict of str -> ndarray, or list/tuple of ndarrays
        Point to check at. Integer arrays are checked as float64; the check
        runs in float32 only when every array is float32.
    grad : same structure as `params`, or callable
        The analytic gradient at `params`, or ``grad(params)`` returning it.
    h : float or ndarray, optional
        Absolute step for every coordinate, or one per flat parameter. By
        default ``optimal_step("centered", x_i)``: ``eps**(1/3) * max(1,
        |x_i|)`` rounded down to a power of two, with ``eps`` of the lower of
        the parameter and loss precisions.
    tol : float, optional
        Relative discrepancy allowed per coordinate (see Notes). Default
        1e-6 for float64 checks, 1e-3 for float32.
    coords : "auto", "all", int or sequence of int, optional
        "auto" (the default): every coordinate when a full check (``2n``
        evaluations) fits the `budget`, otherwise directional checks, a
        stratified sample and bisection (see "Large models" below). "all":
        every coordinate. An integer: that many coordinates stratified over
        tensors (each tensor gets ``min(size, 16)``, the rest in proportion
        to size, and its largest-``|grad|`` coordinates are always
        included); 0 together with ``directions > 0`` checks by directions
        alone. Or explicit flat indices (C order within each tensor, tensors
        in the order of `params`).
    seed : int or numpy.random.Generator, optional
        Seed for the sample, the random directions and their splits.
    parallel : bool, optional
        Run a jitted loss on all Numba threads (default: when the loss is
        jitted). True with a Python loss is an error.
    raise_on_fail : bool, optional
        Raise :class:`GradientCheckError` (carrying the result) on failure.
    progress : bool, optional
        Show progress (tqdm when installed). Default: only on a terminal and
        for checks expected to take over ~2 s.
    directions : int, optional
        Number of random Rademacher (+-1) directions ``v``; along each,
        ``grad . v`` is compared with the centered difference of the loss,
        over all coordinates and within each tensor, and a failing tensor is
        bisected down to its wrong coordinates. Default: planned from the
        budget when a full check does not fit, none otherwise.
    budget : float, optional
        Seconds to spend. The loss is timed and the check planned to fit,
        with the clock read between chunks of work: a target, not a hard
        stop. Default 10 s with ``coords="auto"``; a budget smaller than one
        loss evaluation is an error that says how long one takes. The clock
        starts once the gradient is computed and Numba's kernels are
        compiled (reported apart as ``compile_seconds``). Bisection and the
        confirmation of suspects stop at the end of the budget (a suspect
        left is inconclusive, "not confirmed in time"); the stratified
        minimum (every tensor ``min(size, 16)`` coordinates) always runs, so
        a loss whose minimum alone takes most of the budget overruns it, and
        one engine chunk is never interrupted, so a loss that slows down
        sharply inside a chunk finishes that chunk.
    vectorized : bool, optional
        `loss` accepts every tensor with a leading batch axis (a ``(k, n)``
        array for a flat `params`) and returns ``k`` losses; perturbations
        are evaluated in batches of 128 rows (at most 64 MiB per batch).
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Spread the per-coordinate evaluations over workers, in chunks of
        coordinates each evaluated on the worker's own copy of the
        parameters; results are gathered in order and equal a local run bit
        for bit. Processes and Dask need a picklable loss (a module-level
        function); a failed chunk raises an error naming its coordinates.

    Returns
    -------
    GradCheckResult
        ``passed``, errors, the per-coordinate and per-tensor tables and the
        diagnosis of every failing coordinate; ``str()`` is a compact report.
        With the large-model options, a subclass that adds ``coverage``
        ("checked 3,072 of 1,002,570 coordinates in 6 tensors and 64
        directions"), ``mode``, ``n_directions``, ``localized`` (wrong
        coordinates found by bisection, with their numerical and analytical
        values), ``direction_failures``, ``unresolved``, ``nonsmooth`` and
        ``full_check_seconds`` (measured per-call time x 2n).

    Raises
    ------
    TypeError, ValueError
        Bad arguments, structure or shape mismatch between `params` and
        `grad`, empty or non-numeric params, a loss returning a non-scalar,
        a loss that modifies its input.
    LossEvaluationError
        The loss raised; the message names the coordinate being perturbed.
    GradientCheckError
        With ``raise_on_fail=True``, when a coordinate fails.

    Notes
    -----
    **Verdicts.** Every checked coordinate, and the check as a whole, has a
    status: "passed" (verified to the tolerance below), "failed" (the
    gradient is wrong there: verdict "gradient wrong" or "non-finite
    gradient") or "inconclusive" (the check could not decide; the verdict
    says why: "loss resolution", "finite-difference noise", "non-smooth
    point", "non-deterministic loss" or "non-finite loss" at ``x +- h``, and
    the report says what would help). The check fails if any coordinate
    fails (or, with directions, a directional failure survives a 16x
    smaller step), is inconclusive if anything it needed could not be
    decided, and passes otherwise; ``passed`` is True only for "passed".

    **Tolerance model.** With analytic ``a_i``, numerical ``n_i`` and
    discrepancy ``d_i = |n_i - a_i|``, the scale of coordinate ``i`` is
    ``s_i = max(|a_i|, |n_i|, rms_T)``, where ``rms_T`` is the RMS of the
    analytic gradient of its tensor: an entry far smaller than its tensor's
    typical entry is a sum of terms of the typical size (a conv weight's
    gradient sums over every pixel of the batch), so in float32 its own
    rounding, about ``eps * sum|terms|``, is an error relative to ``rms_T``,
    not to ``|a_i|``. The noise bound ``noise_i`` is the roundoff ``8 eps
    (|f(x+h)| + |f(x-h)|) / 2h`` plus, for coordinates past the first test,
    the truncation estimate ``|n_i(h) - n_i(2h)|``. Coordinate ``i`` passes
    when ``d_i <= max(tol s_i, noise_i)`` and ``noise_i <= max(tol, 0.05)
    s_i``: it is then verified to ``max(tol, noise_i / s_i)`` of its scale,
    the "resolution" shown per tensor in the report. A coordinate whose
    noise exceeds 5% of its scale cannot be verified: it is re-checked at
    ``16h`` and ``32h`` (roundoff 16x smaller, truncation estimated from the
    two steps) and is inconclusive ("loss resolution") if that does not
    help either; ``1e12 + sum(p**2)`` leaves no digits for the change. A
    quantized loss adds the spacing ``q`` of its values to the roundoff,
    ``q / 2h``. Its values lie on a grid: a power of two above ``2**-26
    |f|`` (integers, float16/float32 values returned as Python floats) or
    any other spacing their differences and second differences are whole
    multiples of (a loss rounded to 9 decimals, to 0.05, or printed by a
    program with 10 significant digits), confirmed by evaluations off the
    grid. A loss that does not move at all at the steps tried, while the
    gradient says it should, is followed with doubling steps until it
    moves: by a whole step of a grid (quantized), or not at all (the
    gradient should be zero there). ``int(round(1000 * sum(p**2)))`` is
    inconclusive at the default step and checked to ~1% at ``h=0.01``.
    The directional checks apply the same rules along each direction
    (noise above 5% of ``|grad . v|``: "loss resolution").

    **What float32 resolves.** The roundoff bound at the default step
    ``h = 2**-8`` (for ``|x| <= 1``) is about ``2.4e-4 |f| / s_i``, set by
    the loss value and the tensor's gradient scale, not by `tol`. Measured
    on the float32 test models (a 21,734-parameter conv net, an MLP and an
    LSTM-like recurrence, cross-entropy near 2.4): resolutions from 0.1% (a
    head bias) through 1.7-2.3% (conv weights) to 5% (recurrent weights).
    A 1% error is found in a tensor whose resolution is below 1% and is
    invisible in one above it; the report says so ("float32: errors below
    ~5e-02 of a tensor's gradient scale are invisible here"). A float64
    loss resolves about ``1e-10 |f| / s_i``.

    **Diagnosis** of a coordinate with ``d_i > max(tol s_i, noise_i)``,
    from ``f(x)``, ``f(x +- h)`` and ``f(x +- 2h)``: "non-smooth point" when
    the one-sided differences disagree by an amount that does not scale like
    ``h`` while one side is stable; "gradient wrong" when the discrepancy is
    the same at ``h`` and ``2h`` (within 25%); otherwise "finite-difference
    noise". A "gradient wrong" verdict must then hold from far and near:
    Richardson's extrapolation of the differences at ``16h`` and ``32h``
    must agree with ``n_i(h)`` within the noise, and the discrepancies at
    ``h, h/2, h/4, h/8`` extrapolated to step 0 (weighted least squares,
    line in the step, 2 ulps of roundoff per loss value) must stay within
    25% of ``d_i``, each of the four within 4 sigma of the line, at least
    half of it left at ``h/8`` (resolved there alone when the second
    difference at ``h`` is bent), with no kink jump between the one-sided
    slopes at ``h/8``. Kinks (ReLU, max-pool) inside
    the stencil fail one of these (at the float32 step a kink at ``|s| <
    0.3h`` changes the discrepancy by less than 25% between ``h`` and
    ``2h``; a conv weight's step crosses hundreds of them); so does a loss
    varying on a scale below the step. Coordinates that do not hold, and
    the noisy or kinked ones, are re-checked at ``h/16``: passed there when
    the smaller stencil verifies them, inconclusive otherwise.

    **Cost**: ``2m + 3`` loss evaluations for ``m`` checked coordinates (two
    at `params` before, one after), plus two per coordinate past the first
    test, four per roundoff-limited coordinate, 14 per coordinate
    diagnosed "gradient wrong" and two per other re-checked coordinate. A
    dense failure needs only a few confirmed coordinates: candidates are
    confirmed in order of relative discrepancy, per tensor, until 4 of a
    tensor are confirmed, and then 4 more spread through the ranking of its
    other candidates, the weakest included (at most 256 tried in all). When at most one of those is not confirmed, the failure
    is dense and the other candidates of the tensor follow; otherwise every
    candidate is confirmed on its own (a few wrong entries among candidates
    that kinks made), and the unconfirmed are inconclusive. With a
    `budget`, re-checks stop at its end: a suspect not confirmed by then is
    inconclusive ("not confirmed in time"), never failed or passed.

    The loss is evaluated twice at `params` before and once after the
    coordinates: different values give a ``RuntimeWarning`` (the loss is not
    deterministic), are reported, and widen every noise bound; a coordinate
    whose discrepancy still exceeds `tol` then cannot be decided
    ("non-deterministic loss"). The unperturbed parameters are compared
    before and after: a loss that writes to its input is an error.

    **Large models.** A full check costs ``2n`` evaluations: hours for a
    million parameters. With ``coords="auto"`` and a full check that does
    not fit the budget, fastfd spends about half of it on directional checks
    (up to 64 directions, ``4 (1 + tensors)`` evaluations each), then a
    stratified sample of coordinates sized by the time left, keeping a
    quarter for confirming and localizing failures. A full check that fits
    still stops at the budget (above 512 coordinates it runs in chunks
    sized from the time left and the rate measured on the one before),
    leaving a stratified partial check if the loss slows down mid-run. A directional check's
    tolerance comes from the finite-difference noise measured along that
    direction (steps ``h`` and ``2h``), about 1e-8 of ``|grad . v|`` on
    float64 models, far tighter than per coordinate. If any coordinate's
    error exceeds it, each direction detects the error with probability at
    least 1/2 (flipping that coordinate's sign moves ``grad . v`` by more
    than twice the tolerance), so ``k`` directions miss it with probability
    at most ``2**-k``; a single wrong coordinate is detected by every
    direction. A failing tensor is bisected (halves checked along the
    restricted direction, every failing half followed) down to single
    coordinates: about ``8 log2(n)`` evaluations per wrong coordinate, at
    most 32 coordinates per tensor; a failure no single coordinate explains
    is reported as a failing range, never dropped. Directions whose steps
    cross a kink (ReLU, abs) are reported as non-smooth points, re-checked
    with a 16x smaller step, and are not gradient errors. See
    ``fastfd.gradcheck._directions`` and ``fastfd.gradcheck._sampling`` for the derivations.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck import check_gradient
    >>> params = {"w": np.array([1.0, -2.0, 0.5]), "b": np.array([0.3])}
    >>> def loss(p):
    ...     return float(np.sum(p["w"] ** 2) + 3.0 * p["b"][0])
    >>> grad = {"w": 2 * params["w"], "b": np.array([3.0])}
    >>> result = check_gradient(loss, params, grad)
    >>> result.passed
    True
    >>> bad = {"w": 2 * params["w"], "b": np.array([1.0])}
    >>> result = check_gradient(loss, params, bad)
    >>> result.passed, [(t.name, t.passed) for t in result.tensors]
    (False, [('w', True), ('b', False)])
    >>> result.failures()[0].name, result.failures()[0].verdict
    ('b[0]', 'gradient wrong')

    One wrong entry among 60,000, found by directions and bisection:

    >>> rng = np.random.default_rng(0)
    >>> big = {"W": rng.standard_normal((300, 200))}
    >>> g = {"W": 2 * big["W"]}
    >>> g["W"][41, 7] += 1.0
    >>> r = check_gradient(lambda p: float(np.sum(p["W"] ** 2)), big, g,
    ...                    coords=0, directions=4, seed=0)
    >>> [c.name for c in r.failures()], r.coverage
    (['W[41, 7]'], 'checked 0 of 60,000 coordinates in 1 tensor and 4 directions')
    """
    if _large_model_options(coords, directions, budget, vectorized, executor):
        from ._sampling import check_gradient_scale
        return check_gradient_scale(
            loss, params, grad, h=h, tol=tol, coords=coords, seed=seed, parallel=parallel,
            raise_on_fail=raise_on_fail, progress=progress, directions=directions,
            budget=budget, vectorized=vectorized, executor=executor)
    prob, idx, h, tol = _iv(loss, params, grad, h, tol, coords, seed, parallel,
                            raise_on_fail, progress)
    result = _run(prob, loss, idx, h, tol, parallel, progress)
    if raise_on_fail and not result.passed:
        raise GradientCheckError(result)
    return result


def _large_model_options(coords, directions, budget, vectorized, executor):
    """Whether a call needs the large-model layer (fastfd.gradcheck._sampling):
    coords="auto" (the default) or a count (stratified sample), directions,
    a budget, a batched loss or an executor. Explicit "all" and explicit
    indices without those options run the engine alone."""
    if isinstance(coords, str):
        auto = coords == "auto"
    else:
        auto = isinstance(coords, numbers.Integral) and not isinstance(coords, (bool, np.bool_))
    return (auto or directions is not None or budget is not None
            or vectorized is not False or executor is not None)


def _run(prob, loss, idx, h, tol, parallel, progress, nominal=False, values=None,
         on_timed=None):
    # values: an (fp, fm) evaluator replacing _values (batched losses, executors);
    # on_timed(t_call, first=False): called with the first call's time
    # (first=True: one call slower than the budget is enough to refuse; a
    # jitted loss is compiled before, see fastfd.gradcheck._sampling.compile_kernels),
    # then with the second's; may raise to replan
    t0 = time.perf_counter()
    ctx = _Context(prob, loss)
    # Baseline: two evaluations at the unperturbed point.
    f0, raw = ctx.call("at the unperturbed params", raw=True)
    if on_timed is not None:
        on_timed(time.perf_counter() - t0, first=True)
    _check_unmodified(ctx)
    t_call = time.perf_counter()
    f0b = ctx.call("at the unperturbed params")
    t_call = time.perf_counter() - t_call
    if on_timed is not None:
        on_timed(t_call)
    if not math.isfinite(f0):
        raise ValueError(f"loss is not finite at the unperturbed params: {f0!r}")
    raw_dtype = loss_precision(raw, ctx.loss, ctx.views)
    eps, check_dtype = check_precision(prob.dtype, raw_dtype)
    ctx.eps = eps           # for evaluators that compare loss values (executors)
    if tol is None:
        tol = DEFAULT_TOL[check_dtype]

    m = idx.size
    xi = prob.x0[idx]
    if h is None:
        steps = check_steps(xi, eps, check_dtype)
    elif isinstance(h, np.ndarray):
        steps = h[idx]
    else:
        steps = np.full(m, h)
    xp, xm, hp, hm = _perturbed(prob.x0, idx, steps)
    zero = (hp <= 0) | (hm <= 0)
    if zero.any():
        k = int(np.flatnonzero(zero)[0])
        raise ValueError(
            f"h={float(steps[k])!r} is too small for {prob.name(idx[k])} = {xi[k]!r}: "
            f"x + h or x - h rounds to x in {prob.dtype}")

    use_jit = prob.jitted
    if parallel is None:
        parallel = use_jit and m >= 16
    # a jitted loss timed from Python includes dispatch; good enough for a bar
    expected = t_call * 2 * m / (2 if parallel else 1)
    enabled = progress_enabled(progress, expected)
    with Progress(2 * m, enabled=enabled) as bar:
        fp, fm = (values or _values)(ctx, idx, xp, xm, use_jit, parallel, bar, "h")
    if not use_jit:
        _check_unmodified(ctx)
    f0c = ctx.call("at the unperturbed params (after the check)")
    if not (math.isfinite(f0b) and math.isfinite(f0c)):
        raise ValueError(
            f"loss is not deterministic and not finite: three evaluations at the same "
            f"params gave {f0!r}, {f0b!r}, {f0c!r}")
    spread = max(abs(f0 - f0b), abs(f0 - f0c))
    if spread > 0:
        warnings.warn(
            f"loss is not deterministic: three evaluations at the same params gave "
            f"{f0!r}, {f0b!r}, {f0c!r}; noise bounds widened by {spread:.3g}",
            RuntimeWarning, stacklevel=3)

    den = 2.0 * steps if nominal else hp + hm
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        numerical = (fp - fm) / den
    analytical = prob.g[idx]
    quantum = _loss_quantum(ctx, idx, steps, f0, fp, fm, eps, analytical)
    verdict, noise, vscale = _verdicts(
        prob, ctx, idx, steps, hp, hm, den, fp, fm, f0, numerical, analytical, eps, spread,
        tol, nominal, use_jit, parallel, values, quantum)
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.abs(numerical - analytical)
        scale = np.maximum(np.abs(analytical), np.abs(numerical))
        rel_err = np.where(scale > 0, abs_err / np.where(scale > 0, scale, 1.0), 0.0)
        seed_rel = _norm(analytical - numerical) / (
            _norm(analytical) + _norm(numerical) + 1e-15)
    elapsed = time.perf_counter() - t0
    return GradCheckResult(
        prob, idx=idx, numerical=numerical, analytical=analytical, abs_errors=abs_err,
        rel_errors=rel_err, noise=noise, steps=steps, verdict_codes=verdict,
        rel_error=seed_rel, tol=tol, dtype=check_dtype, n_evals=ctx.n_evals,
        elapsed=elapsed, f0=f0, nondeterminism=spread,
        method=("parallel kernel" if parallel else "compiled kernel") if use_jit
        else "python", scales=vscale, eps=eps, quantum=quantum)


def _tensor_scales(prob, idx):
    """Per checked coordinate: the RMS of the finite analytic gradient of its tensor."""
    blk = prob.block_of(idx)
    out = np.empty(idx.size)
    for b in np.unique(blk):
        _, start, stop, _ = prob.blocks[b]
        g = prob.g[start:stop].astype(np.float64)
        g = g[np.isfinite(g)]
        out[blk == b] = math.sqrt(float(np.mean(g * g))) if g.size else 0.0
    return out


def _dyadic_spacing(values, eps):
    """The largest power of two dividing every finite nonzero value, when it
    is coarse against their precision ``eps`` (integers, float32 or float16
    values returned as floats), else 0.0."""
    v = np.abs(np.asarray(values, dtype=np.float64).ravel())
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return 0.0
    mant, expo = np.frexp(v)
    ints = (mant * 2.0 ** 53).astype(np.int64)      # exact: 53-bit mantissas
    low = ints & -ints                               # lowest set bit
    q = float(np.min(np.ldexp(low.astype(np.float64), expo - 53)))
    return q if q > max(16.0 * eps, 2.0 ** -QUANTUM_BITS) * float(np.max(v)) else 0.0


def _quantum_of(values, eps=2.0 ** -52, combos=()):
    """``(q, slack, dyadic)``: the spacing ``q`` of the coarsest grid every
    finite value lies on (0.0 when there is none), the rounding ``slack`` of
    one value, and whether ``q`` is a power of two.

    Values rounded to a power of two (integers, float32 or float16 values
    returned as floats) share trailing zero bits: the largest power of two
    dividing them all is exact, and half of it is the slack of each value.
    Values rounded to any other spacing ``q`` (``round(f, 9)``, ``0.05 *
    round(f / 0.05)``, and those returned in float32) are the nearest
    representable values to ``k q``, so their differences are integer
    multiples of ``q`` within the slack of two values (``combos``: integer
    combinations of values, within the slack of four); ``q`` is their
    common spacing (_common_spacing), refined and tested by _fit_grid.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 0.0, False
    fmax = float(np.max(np.abs(v)))
    q2 = _dyadic_spacing(v, eps)
    slack = max(GRID_ULPS * eps * fmax, 0.5 * q2)
    # differences from the first value, between neighbouring values, and
    # the second differences ``combos`` (fp + fm - 2 f0: curvature times
    # h**2, a few multiples of a grid's spacing where there is one)
    u = np.unique(v)
    d = np.abs(np.concatenate((u - v[0], np.diff(u), np.ravel(combos))))
    # (two values within the slack are one point of a grid, computed twice)
    d = np.unique(d[np.isfinite(d) & (d > 2.0 * slack)])[:GRID_DIFFERENCES].tolist()
    if d and d[0] > GRID_COARSE * slack:
        g = _common_spacing(d, slack)
        if g > GRID_COARSE * slack:
            q = _fit_grid(d, max(1, round(d[0] / g)), slack)
            if q:
                return q, slack, False
    return q2, slack, q2 > 0


def _common_spacing(d, slack):
    """The largest spacing the differences ``d`` (each within ``2 slack``)
    are all integer multiples of, by Euclid's algorithm with nearest-integer
    remainders, carrying each remainder's rounding bound: a remainder
    within 8 times its bound is zero. 0.0 when none is coarser than the
    bounds (random reals: the remainders reach the noise first)."""
    g, eg = d[0], 2.0 * slack
    for x in d[1:]:
        a, ea, b, eb = x, 2.0 * slack, g, eg
        while b > 8.0 * eb:
            k = round(a / b)
            a, ea, b, eb = b, eb, abs(a - k * b), ea + k * eb
        g, eg = a, ea
        if not g > GRID_COARSE * slack:
            return 0.0
    return g


def _fit_grid(d, m, slack):
    """The spacing q of a grid the sorted differences ``d`` are integer
    multiples of, with ``d[0] = m q``, or 0.0.

    Each difference carries up to ``2 slack`` of rounding; q is refined by
    least squares as the larger ones are assigned their multiples, and a
    difference whose multiple the current q cannot tell (allowed misfit
    above q / 4) ends the fit, as does the first one off the grid. A grid
    is accepted when its allowed misfits are all below q / 16 (a grid far
    coarser than the values' rounding: decimals of a float64 loss), or
    when the chance that random differences fit as well, the product of
    ``2 allowed / q`` over the fitted ones, is below GRID_EVIDENCE (a grid
    a few roundings wide: a loss rounded to 1e-5 and returned in float32,
    whose ulp is 1.9e-6 near 20)."""
    sk2, skd = float(m * m), m * d[0]
    q = skd / sk2
    fitted, strict, log_chance = 1, True, 0.0
    for di in d[1:]:
        sq = 2.0 * slack / math.sqrt(sk2)
        k = round(di / q)
        allowed = k * sq + 2.0 * slack
        if allowed > q / 4.0:
            break
        if abs(di - k * q) > allowed:
            return 0.0
        strict &= allowed <= q / 16.0
        log_chance += math.log(2.0 * allowed / q)
        sk2 += k * k
        skd += k * di
        q = skd / sk2
        fitted += 1
    if strict and fitted >= min(2, len(d)) or log_chance <= math.log(GRID_EVIDENCE):
        return q
    return 0.0


def _on_grid(value, base, q, slack):
    """Whether ``value`` lies on the grid of spacing ``q`` through ``base``
    (q known to a relative GRID_ULPS * slack / q or better)."""
    r = abs(value - base) / q
    allowed = slack * (2.0 + r * GRID_ULPS * slack / q)
    return bool(abs(r - round(r)) * q <= allowed <= q / 4.0)


def _loss_quantum(ctx, idx, steps, f0, fp, fm, eps, analytical=None):
    """The resolution of a quantized loss (values rounded to integers, to
    decimals, to float32 or float16 and returned as floats), or 0.0.

    Every value a float64 loss computes carries about 53 significant bits;
    the chance that all of ``f0``, ``f(x +- h)`` lie on one grid much coarser
    than their ulp is negligible once there are a few of them, but dyadic
    parameters and power-of-two steps give short values (``(1 + 2**-4)**2``)
    and a linear loss gives equal differences, so the grid is confirmed by
    evaluations off it (see _probe_grid): a smooth loss leaves the grid
    there, a quantized one does not. ``int(round(1000 *
    sum(p**2)))`` has quantum 1: a change of the loss below 1 is invisible,
    as in float16.

    A coordinate along which the loss is bitwise flat at +-h while the
    analytic gradient says it should move by more than that resolution is
    followed with doubling steps until the loss moves (_follow_flat): a
    loss rounded to a grid moves by whole steps of it, confirmed as above;
    a locally constant loss (an unused parameter) never moves, and one flat
    up to a kink moves off every grid.
    """
    vals = np.concatenate(([f0], fp, fm))
    fin = vals[np.isfinite(vals)]
    fmax = float(np.max(np.abs(fin), initial=0.0))
    if not (idx.size and fmax > 0):
        return 0.0
    q = 0.0
    if not np.all(fin == f0):
        with np.errstate(invalid="ignore", over="ignore"):
            moves = np.abs(np.where(np.isfinite(fp), fp, f0)
                           - np.where(np.isfinite(fm), fm, f0))
            combos = fp + fm - 2.0 * f0
        k = int(np.argmax(moves))       # a coordinate the loss moves along
        t = float(steps[k])
        q = _grid_along(ctx, int(idx[k]), t, f0, vals, combos, eps,
                        float(fp[k] - fm[k]) / (2.0 * t) if t > 0 else 0.0)
    if analytical is None:
        return q
    with np.errstate(invalid="ignore", over="ignore"):
        change = np.abs(analytical) * steps
        flat = (fp == f0) & (fm == f0) & np.isfinite(change)
    floor = max(q, GRID_COARSE * GRID_ULPS * eps * fmax)
    if not np.any(flat & (change > floor)):
        return q
    k = int(np.argmax(np.where(flat, change, 0.0)))
    return max(q, _flat_grid(ctx, int(idx[k]), float(steps[k]), f0, eps))


def _flat_grid(ctx, i, t, f0, eps):
    """The confirmed grid of a loss flat at +-``t`` along coordinate ``i``,
    seen where it first moves (_follow_flat), or 0.0: a loss flat up to a
    kink (a hinge or penalty switched off) moves off every grid there."""
    i, t, fvals = _follow_flat(ctx, i, t, f0)
    if not t:
        return 0.0
    return _grid_along(ctx, i, t, f0, fvals, (), eps,
                       float(fvals[1] - fvals[2]) / (2.0 * t))


def _grid_along(ctx, i, t, f0, vals, combos, eps, slope):
    """The spacing of a grid the loss values ``vals`` lie on, confirmed by
    probes along coordinate ``i`` (a step ``t`` along which the loss moves,
    ``slope`` its derivative there), or 0.0."""
    x0 = ctx.prob.x0

    def at(s):
        moved = (np.float64(x0[i]) + s).astype(x0.dtype)
        if moved == x0[i]:
            return None
        ctx.x[i] = moved
        try:
            return ctx.call(f"at {ctx.prob.name(i)} {s:+.3g} (is the loss quantized?)")
        except LossEvaluationError:
            return math.nan             # no evidence there
        finally:
            ctx.x[i] = x0[i]

    return _find_grid(at, f0, vals, combos, t, eps, slope)


def _probe_grid(at, f0, grid, t, eps, slope=0.0):
    """The spacing of ``grid`` (from _quantum_of) if probes off it confirm
    it (see _loss_quantum), else 0.0; and the values the probes saw.

    ``at(s)``: the loss at a displacement ``s`` along the probed coordinate
    or direction (None where it rounds to no displacement), ``t`` a step
    along which the loss moves, ``slope`` its derivative there. A
    power-of-two grid is confirmed by values with short mantissas, up to
    the first that differs from ``f0`` (the smallest spacing is kept). Any
    other grid of spacing q is probed where the loss should move by 2.58 q
    and by -1.58 q (2.5 and 1.5 plus 1/(4 pi), off the grid a dyadic slope
    and step can make): a quantized loss moves by whole multiples of q, a
    smooth one 0.42 of a step off the grid (and close enough to ``f0`` for
    q's own uncertainty not to matter). Where one of them did not move (a
    kink: the slope there is not the slope measured), a third at
    (1 + 1/pi) t, off any grid the checked steps make (a piecewise-linear
    loss with kinks at multiples of h/8 has values on the grid of h/8 at
    every such step), must lie on the grid as well. Without a usable slope
    the probes are at +-t/pi and +-(1 + 1/pi) t. Every value must lie on
    the grid and one must differ from ``f0``: a loss with a kink there is
    flat on one side, and a flat value lies on every grid.
    """
    q, slack, dyadic = grid
    offsets = (GRID_PROBE * t, -GRID_PROBE * t, (1.0 + GRID_PROBE) * t,
               -(1.0 + GRID_PROBE) * t)
    if not dyadic and math.isfinite(slope) and slope != 0.0:
        unit = q / abs(slope)
        shift = 0.25 * GRID_PROBE
        if (2.5 + shift) * unit <= 4.0 * abs(t):
            offsets = ((2.5 + shift) * unit, -(1.5 + shift) * unit)
    moved = flat = False
    seen = []
    offsets = list(offsets)
    for s in offsets:
        v = at(s)
        if v is None:
            continue
        seen.append(v)
        if v == f0 and not flat and len(offsets) == 2:
            flat = True
            offsets.append((1.0 + GRID_PROBE) * t)
        if not math.isfinite(v):
            return 0.0, seen
        if dyadic:
            qv = _dyadic_spacing([v], eps)
            if not qv:
                return 0.0, seen
            q = min(q, qv)
        elif not _on_grid(v, f0, q, slack):
            return 0.0, seen
        moved |= v != f0
        if moved and dyadic:
            break
    return (q if moved else 0.0), seen


def _find_grid(at, f0, vals, combos, t, eps, slope):
    """The spacing of a grid the loss values ``vals`` lie on, confirmed by
    probes (_probe_grid), or 0.0. A candidate the probes reject may be a
    multiple of the loss's grid (a direction along which every value moved
    by whole multiples of 89 steps): the probe values join the others and
    the fit is tried again, up to GRID_ROUNDS times (candidates of 8 and 4
    steps of a grid, then 2 and 1: each probe value is a multiple of the
    true spacing)."""
    vals = list(np.ravel(vals))
    for _ in range(GRID_ROUNDS):
        grid = _quantum_of(vals, eps, combos)
        if not grid[0]:
            return 0.0
        q, seen = _probe_grid(at, f0, grid, t, eps, slope)
        if q or grid[2] or not seen or not all(math.isfinite(v) for v in seen):
            return q
        vals.extend(seen)
    return 0.0


def _follow_flat(ctx, i, t, f0):
    """Along coordinate ``i``, where the loss is flat at +-``t``: the first
    step 2t, 4t, ... (up to FLAT_DOUBLINGS doublings) at which it moves, and
    its values at 0, +-that step and 1.5 times it; ``(i, 0.0, None)`` if it
    never moves, stops being finite or raises."""
    x0 = ctx.prob.x0
    xi = np.float64(x0[i])

    def at(s):
        ctx.x[i] = (xi + s).astype(x0.dtype)
        try:
            return ctx.call(f"at {ctx.prob.name(i)} {s:+.3g} (is the loss quantized?)")
        finally:
            ctx.x[i] = x0[i]

    try:
        for _ in range(FLAT_DOUBLINGS):
            t *= 2.0
            f1 = at(t)
            if not math.isfinite(f1):
                break
            if f1 != f0:
                return i, t, np.array([f0, f1, at(-t), at(1.5 * t)])
    except LossEvaluationError:
        # outside the loss's domain (log(1 - p) at p >= 1): no evidence
        pass
    return i, 0.0, None


def _verdicts(prob, ctx, idx, steps, hp, hm, den, fp, fm, f0, numerical, analytical, eps,
              spread, tol, nominal, use_jit, parallel, values, quantum=0.0):
    """Verdict codes (into VERDICTS), noise bounds and verdict scales (see
    check_gradient's Notes, "Tolerance model"). ``quantum``: the spacing of
    a quantized loss's values (0.0 otherwise); two values differ from the
    exact difference by less than it."""
    m = idx.size
    # the end of the budget (a time.perf_counter() value) set by the
    # large-model layer: re-checks beyond the first test stop there
    deadline = getattr(prob, "confirm_deadline", None)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(numerical - analytical)
        vscale = np.maximum(np.maximum(np.abs(analytical), np.abs(numerical)),
                            _tensor_scales(prob, idx))
        jitter = 2.0 * spread / den
        roundoff = (ROUNDOFF_ULPS * eps * (np.abs(fp) + np.abs(fm)) + quantum) / den + jitter
        if nominal:
            # the seed divides by 2h, not by the realized step: x +- h rounds
            # (in float32, h = 1e-5 next to |x| ~ 1 is off by up to 0.6%)
            roundoff += np.abs(hp + hm - den) / den * np.abs(numerical)
    finite_f = np.isfinite(fp) & np.isfinite(fm)
    finite_a = np.isfinite(analytical)
    ok = finite_f & finite_a
    allowed = tol * vscale
    suspicious = ok & (abs_err > allowed) & (abs_err > roundoff)
    noise = roundoff.copy()
    verdict = np.zeros(m, dtype=np.int8)
    verdict[~finite_a] = NONFINITE_GRADIENT
    verdict[~finite_f] = NONFINITE_LOSS
    sus = np.flatnonzero(suspicious)
    evaluate = values or _values

    def again(where, factor, label):
        s_idx = idx[where]
        xp2, xm2, hp2, hm2 = _perturbed(prob.x0, s_idx, factor * steps[where])
        fp2, fm2 = evaluate(ctx, s_idx, xp2, xm2, use_jit, parallel and where.size >= 16,
                            _off(), label)
        if not use_jit:
            _check_unmodified(ctx)
        # the seed's nominal 2h only for its own 2h estimate; re-checks
        # divide by the realized step
        den2 = 2.0 * factor * steps[where] if nominal and factor == 2.0 else hp2 + hm2
        return fp2, fm2, hp2, hm2, den2

    def holds_deeper(where, e, j1):
        """Whether the signed discrepancies ``e`` of ``where`` hold at
        DEEP_STEPS wherever their roundoff leaves them visible. A wrong
        gradient's discrepancy stays at any step, in the centered and in
        both one-sided differences; a kink's vanishes once the step is inside
        its distance, and while it is inside, one one-sided slope keeps the
        analytic value and the other is off by twice the discrepancy (5 ReLU
        kinks at -2.0, -1.06, -0.033, 0.20 and 0.34 h kept the centered
        discrepancy at every step down to h/16). ``j1``: the jump between
        the one-sided slopes at h, whose smooth part (curvature) shrinks
        with the step and is removed from the sides."""
        ok_ = np.ones(where.size, dtype=bool)
        cand = np.arange(where.size)
        for t in DEEP_STEPS:
            if not cand.size:
                break
            fpd, fmd, hpd, hmd, dend = again(where[cand], t, f"h*{t:g}")
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                a_d = analytical[where[cand]]
                ec = e[cand]
                dd = (fpd - fmd) / dend - a_d
                sgd = (NEAR_ULPS * eps * (np.abs(fpd) + np.abs(fmd)) + 2.0 * spread
                       + quantum) / dend
                half = 0.5 * t * j1[cand]
                rd = (fpd - f0) / hpd - a_d - half
                ld = (f0 - fmd) / hmd - a_d + half
                sgs = (NEAR_ULPS * eps * (np.abs(f0) + np.maximum(np.abs(fpd), np.abs(fmd)))
                       + 2.0 * spread + quantum) / np.minimum(hpd, hmd)
                real = (hpd > 0) & (hmd > 0) & np.isfinite(dd)
                visible = real & (sgd <= 0.25 * np.abs(ec))
                visible_sides = real & (sgs <= 0.25 * np.abs(ec))

                def keeps(v):
                    return (np.sign(v) == np.sign(ec)) & (np.abs(v) >= 0.5 * np.abs(ec))

                lost = (visible & ~keeps(dd)) | (visible_sides & ~(keeps(rd) & keeps(ld)))
            ok_[cand[lost]] = False
            cand = cand[~lost]
        return ok_

    if sus.size and deadline is not None and time.perf_counter() > deadline:
        # no time left for the diagnosis at 2h and the confirmation: a
        # suspect is neither failed nor passed
        verdict[sus] = UNCONFIRMED
    elif sus.size:
        fp2, fm2, hp2, hm2, den2 = again(sus, 2.0, "2h")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            num2 = (fp2 - fm2) / den2
            trunc = np.abs(numerical[sus] - num2)
            noise[sus] = roundoff[sus] + trunc
            d = abs_err[sus]
            fails = ~(d <= noise[sus])           # NaN (non-finite 2h values) fails
            # one-sided differences at h and 2h
            r1 = (fp[sus] - f0) / hp[sus]
            l1 = (f0 - fm[sus]) / hm[sus]
            r2 = (fp2 - f0) / hp2
            l2 = (f0 - fm2) / hm2
            j1 = r1 - l1
            j2 = r2 - l2
            ro1 = (ROUNDOFF_ULPS * eps * (2 * abs(f0) + np.abs(fp[sus]) + np.abs(fm[sus]))
                   + 4.0 * spread + 2.0 * quantum) / np.minimum(hp[sus], hm[sus])
            thr = np.maximum(tol * vscale[sus], 4.0 * ro1)
            # smooth: j2 = 2 j1 + O(h**3); a kink inside the stencil breaks it.
            # This only asks for a re-check, so it compares with the typical
            # roundoff (one ulp per value), not the bound: in float32 the
            # bound hid kinks at |s| < 0.3h that then read as "gradient wrong"
            suspect = np.maximum(tol * vscale[sus], 4.0 * ro1 / ROUNDOFF_ULPS)
            bent = np.abs(j2 - 2.0 * j1) > suspect
            side_stable = (np.minimum(np.abs(r1 - r2), np.abs(l1 - l2))
                           <= KINK_STABLE * np.abs(j1))
            kink = (np.abs(j1) > thr) & bent & side_stable
            stable = trunc <= STABLE * d
        code = np.where(kink, NONSMOOTH, np.where(stable, WRONG, NOISE))
        nonfinite2 = ~(np.isfinite(fp2) & np.isfinite(fm2))
        code = np.where(nonfinite2, NONFINITE_LOSS, code)
        # A stable discrepancy on what looks smooth must also be seen from
        # far: Richardson's extrapolation R of the differences at 16h and
        # 32h (roundoff 16x smaller, truncation O(h**4)) must agree with the
        # value at h within their noise, and differ from the analytic value.
        # Kinks within the larger stencil (ReLU, max-pool: many of them in a
        # conv layer, each too small to bend the second difference at h)
        # move R away from the value at h: inconclusive, never "wrong".
        candidates = np.flatnonzero(fails & (code == WRONG))
        confirmed = np.zeros(sus.size, dtype=bool)
        nonfinite_far = np.zeros(sus.size, dtype=bool)

        def confirm(far):
            """Far and near confirmation of the candidates ``far`` (into sus)."""
            where = sus[far]
            fpa, fma, _, _, dena = again(where, LARGE_STEP_FACTOR, "16h")
            fpb, fmb, _, _, denb = again(where, 2.0 * LARGE_STEP_FACTOR, "32h")
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                numa = (fpa - fma) / dena
                rich = numa + (numa - (fpb - fmb) / denb) / 3.0
                roa = (ROUNDOFF_ULPS * eps * (np.abs(fpa) + np.abs(fma)) + 2.0 * spread
                       + quantum) / dena
                apart = np.abs(rich - numerical[where])
                limit = roundoff[where] + trunc[far] + 2.0 * roa
                consistent = apart <= limit
                away = np.abs(rich - analytical[where]) > np.maximum(tol * vscale[where],
                                                                     2.0 * roa)
            finite_far = np.isfinite(rich)
            nonfinite_far[far[~finite_far]] = True
            code[far] = np.where(~finite_far, NONFINITE_LOSS, np.where(
                consistent & away, WRONG, np.where(
                    consistent | (apart <= 4.0 * limit) & ~bent[far], NOISE, NONSMOOTH)))
            # ... and near: the discrepancy of a wrong gradient does not
            # depend on the step, while many small kinks inside the stencil
            # (a conv weight's step moves hundreds of ReLU and max-pool
            # inputs) give one that shrinks about linearly with it, and
            # truncation one that shrinks as its square. Fit d(t) = e + b t
            # to the signed discrepancies at t = h, h/2, h/4, h/8 (weights
            # 1/sigma**2, sigma the typical roundoff of one ulp per value,
            # ~1/t): a wrong gradient extrapolates to e within STABLE of d(h)
            # and clear of its noise.
            near = far[code[far] == WRONG]
            if not near.size:
                return
            where = sus[near]
            a_w = analytical[where]
            ys = [numerical[where] - a_w]
            sig = [(NEAR_ULPS * eps * (np.abs(fp[where]) + np.abs(fm[where])) + quantum)
                   / den[where]
                   + np.abs(hp[where] + hm[where] - den[where]) / den[where]
                   * np.abs(numerical[where])]
            ts = [1.0]
            finite_near = np.ones(where.size, dtype=bool)
            for t in NEAR_STEPS:
                fpt, fmt, hpt, hmt, dent = again(where, t, f"h*{t:g}")
                finite_near &= np.isfinite(fpt) & np.isfinite(fmt)
                with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                    ys.append((fpt - fmt) / dent - a_w)
                    sig.append((NEAR_ULPS * eps * (np.abs(fpt) + np.abs(fmt)) + 2.0 * spread
                                + quantum)
                               / dent)
                ts.append(t)
            # a kink closer than the smallest of these steps keeps d(t) flat;
            # it shows as a jump between the one-sided slopes that does not
            # shrink with t (smooth: j(t) = t j1), the far side keeping its slope
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                kinked_t = _kept_jump(fpt, fmt, hpt, hmt, f0, r1[near], l1[near], eps,
                                      quantum, tol * vscale[where])
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                w = [1.0 / np.maximum(q, 1e-300) ** 2 for q in sig]
                S = sum(w)
                Sx = sum(wk * tk for wk, tk in zip(w, ts))
                Sxx = sum(wk * tk * tk for wk, tk in zip(w, ts))
                Sy = sum(wk * yk for wk, yk in zip(w, ys))
                Sxy = sum(wk * tk * yk for wk, tk, yk in zip(w, ts, ys))
                det = S * Sxx - Sx * Sx
                e0 = (Sxx * Sy - Sx * Sxy) / det
                slope = (S * Sxy - Sx * Sy) / det
                sd_e = np.sqrt(Sxx / det)
                # every step on the line: the weights (~t**2) let h and h/2
                # decide the fit, and a discrepancy that vanishes at h/8
                # (kinks between h/8 and h: conv2.weight[4, 1, 4, 4] of the
                # float32 ReLU conv, seed 1, 0.011 at h and h/2, 3e-4 at h/8)
                # is off the line by ~10 sigma
                worst_res = np.max([np.abs(yk - e0 - slope * tk) / np.maximum(q, 1e-300)
                                    for yk, tk, q in zip(ys, ts, sig)], axis=0)
                on_line = worst_res <= NEAR_RESIDUAL
                # ... and the discrepancy is still there at h/8, with its
                # sign and at least half its size: kinks between h/8 and h
                # (conv2.weight[11, 8, 4, 2] of seed 2: -2.5e-3 at h and h/2,
                # -8e-5 at h/8, 2 sigma from the line) leave none. Where the
                # roundoff at h/8 is as large as the error, a real error can
                # miss this too: inconclusive, never "wrong" on noise.
                held = (np.sign(ys[-1]) == np.sign(e0)) & (np.abs(ys[-1]) >= 0.5 * np.abs(e0))
                # A kink inside the stencil at h (bent second difference)
                # closer than h/8 keeps the discrepancy at every near step;
                # its jump at h/8 hides in float32 roundoff there
                # (conv2.weight[26, 9, 1, 0] of seed 1: a kink near h/16,
                # discrepancy -1.6e-3 at h, -1.0e-3 at h/8): then the error
                # must also be resolved by h/8 alone (3 of its sigmas).
                resolved = ~bent[near] | (np.abs(e0) > 3.0 * sig[-1])
                stays = np.abs(e0 - ys[0]) <= STABLE * np.abs(ys[0])
                clear = np.abs(e0) > np.maximum(tol * vscale[where], 3.0 * sd_e)
            # a kink closer than h/8 keeps the discrepancy at every near
            # step, and a cluster of them need not bend the second
            # difference at h (float32, 10 kinks within +-h, two at 0.012h
            # and 0.013h: flat from h to h/8, gone at h/256)
            deep_ok = np.ones(near.size, dtype=bool)
            cand = np.flatnonzero(stays & clear & on_line & held & resolved
                                  & finite_near & ~kinked_t)
            if cand.size:
                deep_ok[cand] = holds_deeper(where[cand], e0[cand], (r1 - l1)[near][cand])
            confirmed[near] = (stays & clear & on_line & held & resolved & finite_near
                               & ~kinked_t & deep_ok)
            # not confirmed: a kink when the step dependence is systematic
            systematic = (kinked_t | bent[near] | (np.abs(e0 - ys[0]) > 3.0 * sd_e)
                          | ~on_line | ~held | ~deep_ok)
            code[near] = np.where(confirmed[near], WRONG, np.where(
                ~finite_near, NONFINITE_LOSS, np.where(systematic, NONSMOOTH, NOISE)))

        # A dense failure (a whole tensor wrong) needs only a few confirmed
        # coordinates: candidates are confirmed in rounds, in order of their
        # discrepancy relative to their scale within each tensor, until
        # CONFIRM_ENOUGH of a tensor are confirmed; then CONFIRM_ENOUGH more,
        # spread evenly through the ranking of those left, the weakest
        # included. If at most one of those fails, the failure is dense and
        # the rest of the tensor's candidates keep "gradient wrong" on their
        # discrepancy at h and 2h; if more do, a few wrong entries stand
        # among candidates that kinks or noise made (8 planted entries of a
        # float32 ReLU layer named 1-10 correct ones with them; kinked
        # correct coordinates ranked between strong and weak errors), and
        # every candidate left is confirmed in order. At
        # most MAX_CONFIRM in all, and only while the check's deadline has
        # not passed (confirming costs 14 evaluations, outside the sample's
        # plan). Unconfirmed candidates are inconclusive: "finite-difference
        # noise" when confirmation was tried and failed, "not confirmed in
        # time" when time ran out.
        blk = prob.block_of(idx[sus])
        order = candidates[np.lexsort((-(d[candidates] / vscale[sus[candidates]]),
                                       blk[candidates]))]
        queue = {int(t): list(order[blk[order] == t]) for t in np.unique(blk[order])}
        # per tensor, kept on the problem across the engine runs of one check
        # (a sample run in chunks confirms CONFIRM_ENOUGH in all): confirmed,
        # tried, and whether the failure is dense (None: not decided yet)
        state = prob.__dict__.setdefault("confirmed_per_tensor", {})
        tried_state = prob.__dict__.setdefault("tried_per_tensor", {})
        dense_state = prob.__dict__.setdefault("dense_per_tensor", {})
        conf_in = {t: state.get(t, 0) for t in queue}
        tried_in = {t: tried_state.get(t, 0) for t in queue}
        dense = {t: dense_state.get(t) for t in queue}
        tried = []
        out_of_time = False
        while True:
            batch, weakest = [], {}
            for t, q in queue.items():
                room = MAX_CONFIRM - len(tried) - len(batch)
                if conf_in[t] < CONFIRM_ENOUGH:
                    take = min(max(1, CONFIRM_ENOUGH - conf_in[t]), len(q), room)
                    batch.extend(q[:take])
                    del q[:take]
                elif dense[t] is None and q:
                    take = min(CONFIRM_ENOUGH, len(q), room)
                    pos = sorted({int(round(v)) for v in np.linspace(0, len(q) - 1, take)})
                    weakest[t] = [q[j] for j in pos]
                    batch.extend(weakest[t])
                    for j in reversed(pos):
                        del q[j]
                elif dense[t] is False:
                    take = min(len(q), room)
                    batch.extend(q[:take])
                    del q[:take]
            if not batch:
                break
            if deadline is not None and time.perf_counter() > deadline:
                out_of_time = True
                break
            batch = np.sort(np.array(batch, dtype=np.intp))
            confirm(batch)
            tried.extend(batch.tolist())
            for t, c in zip(blk[batch].tolist(), (code[batch] == WRONG).tolist()):
                conf_in[t] += c
                tried_in[t] += 1
            for t, w in weakest.items():
                missed = int(np.sum(code[np.array(w, dtype=np.intp)] != WRONG))
                dense[t] = DENSE_MISS * missed <= len(w)
        state.update(conf_in)
        tried_state.update(tried_in)
        dense_state.update(dense)
        tried = np.array(sorted(tried), dtype=np.intp)
        rest = np.setdiff1d(candidates, tried)
        if rest.size:
            sure = np.array([t for t in conf_in if dense[t]], dtype=np.intp)
            code[rest] = np.where(np.isin(blk[rest], sure), WRONG,
                                  UNCONFIRMED if out_of_time else NOISE)
        verdict[sus[fails]] = code[fails]
        # Re-check at h / SMALL_STEP_FACTOR what a step of h cannot decide:
        # a discrepancy that is unstable between h and 2h, a kink, or a stable
        # discrepancy next to a bent second difference (a kink at |s| < ~0.3 h
        # moves the discrepancy by less than STABLE between h and 2h). The
        # smaller stencil no longer reaches a kink farther than 2h/16.
        retry = fails & ~nonfinite2 & ~confirmed & ((code == NOISE) | (code == NONSMOOTH))
        retry &= ~nonfinite_far
        xi = prob.x0[idx[sus]].astype(np.float64)
        small = steps[sus] / SMALL_STEP_FACTOR
        retry &= ((xi + small).astype(prob.dtype) != xi) & ((xi - small).astype(prob.dtype) != xi)
        if deadline is not None and time.perf_counter() > deadline:
            retry[:] = False            # inconclusive as they are
        r = np.flatnonzero(retry)
        if r.size:
            where = sus[r]
            fp3, fm3, hp3, hm3, den3 = again(where, 1.0 / SMALL_STEP_FACTOR, "h/16")
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                num3 = (fp3 - fm3) / den3
                d3 = np.abs(num3 - analytical[where])
                ro3 = (ROUNDOFF_ULPS * eps * (np.abs(fp3) + np.abs(fm3)) + 2.0 * spread
                       + quantum) / den3
                # the jump between one-sided slopes: smooth -> j1 / 16; a kink
                # still inside the smaller stencil keeps it, and the side
                # without the kink keeps its slope (noise moves both sides)
                kinked3 = _kept_jump(fp3, fm3, hp3, hm3, f0, r1[r], l1[r], eps, quantum,
                                     tol * vscale[where])
                # truncation shrinks as h**2; trunc / SMALL_STEP_FACTOR keeps a margin
                bound3 = np.maximum(tol * vscale[where], ro3 + trunc[r] / SMALL_STEP_FACTOR)
                moved = np.abs(num3 - numerical[where])
                same = moved <= STABLE_SMALL * d[r]
                wrong3 = (d3 > bound3) & same & ~kinked3
            c3 = np.flatnonzero(wrong3)
            if c3.size:
                wrong3[c3] = holds_deeper(where[c3], (num3 - analytical[where])[c3],
                                            (r1 - l1)[r][c3])
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                fine3 = ((d3 <= np.maximum(tol * vscale[where], ro3))
                         & (ro3 <= max(tol, RESOLUTION_LIMIT) * vscale[where]))
            code3 = np.where(wrong3, WRONG, np.where(
                fine3, OK, np.where(kinked3 | kink[r], NONSMOOTH, NOISE)))
            code3 = np.where(np.isfinite(fp3) & np.isfinite(fm3), code3, verdict[where])
            verdict[where] = code3
            noise[where] = np.where(fine3, ro3, noise[where])
            if not nominal:
                numerical[where] = np.where(fine3, num3, numerical[where])
                steps[where] = np.where(fine3, steps[where] / SMALL_STEP_FACTOR, steps[where])
    with np.errstate(invalid="ignore", divide="ignore"):
        res = noise / vscale
    undecided = (verdict == OK) & ok & ~(res <= max(tol, RESOLUTION_LIMIT))
    if spread > 0:
        # A non-deterministic loss widens every noise bound until any
        # discrepancy fits inside it (a loss with 1e-3 noise passed a zero
        # gradient): a discrepancy above tol cannot be confirmed either way.
        undecided |= (verdict == OK) & ok & (abs_err > allowed)
    why = np.where(jitter >= 0.5 * noise, NONDETERMINISTIC,
                   np.where(roundoff >= 0.5 * noise, RESOLUTION, NOISE))
    verdict[undecided] = why[undecided]
    # A coordinate whose roundoff hides the tolerance is re-checked at
    # LARGE_STEP_FACTOR * h and twice that: roundoff shrinks by the factor;
    # the truncation there is estimated from the two steps, as at h, and is
    # part of the noise bound (a curved or kinked loss keeps it inconclusive).
    big = np.flatnonzero(verdict == RESOLUTION) if spread == 0 else np.empty(0, np.intp)
    if deadline is not None and time.perf_counter() > deadline:
        big = big[:0]
    if big.size:
        fpa, fma, _, _, dena = again(big, LARGE_STEP_FACTOR, "16h")
        fpb, fmb, _, _, denb = again(big, 2.0 * LARGE_STEP_FACTOR, "32h")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            numa = (fpa - fma) / dena
            numb = (fpb - fmb) / denb
            trunc_a = np.abs(numa - numb)
            noise_a = ((ROUNDOFF_ULPS * eps * (np.abs(fpa) + np.abs(fma)) + quantum) / dena
                       + trunc_a)
            d_a = np.abs(numa - analytical[big])
            vs = vscale[big]
            decided = noise_a <= max(tol, RESOLUTION_LIMIT) * vs
            bound = np.maximum(tol * vs, noise_a)
            fine = decided & (d_a <= bound)
            # wrong: stable between the two large steps, and the value at h
            # agrees with them within its own noise bound
            wrong = (decided & (d_a > bound) & (trunc_a <= STABLE * d_a)
                     & (np.abs(numerical[big] - numa) <= noise[big] + noise_a))
            # flat at every step up to 32h where the gradient says the loss
            # moves by more than its known resolution: a grid coarser than
            # the one recognised (float32 values of a loss rounded to 1e-5,
            # 5 float32 ulps) or a loss that does not depend on the
            # coordinate. One is followed until the loss moves (_follow_flat).
            flat_w = np.flatnonzero(wrong & (fpa == f0) & (fma == f0) & (fpb == f0)
                                    & (fmb == f0) & (fp[big] == f0) & (fm[big] == f0))
            if flat_w.size:
                k = flat_w[np.argmax(np.abs(analytical[big[flat_w]]))]
                if _flat_grid(ctx, int(idx[big[k]]),
                              2.0 * LARGE_STEP_FACTOR * float(steps[big[k]]), f0, eps):
                    wrong[flat_w] = False
        verdict[big[fine]] = OK
        verdict[big[wrong]] = WRONG
        # report what decided: the value, step and noise at the large step
        done = fine | wrong
        noise[big[done]] = noise_a[done]
        if not nominal:             # the seed's printout keeps its own numbers
            numerical[big[done]] = numa[done]
            steps[big[done]] *= LARGE_STEP_FACTOR
    return verdict, noise, vscale


def _kept_jump(fp, fm, hp, hm, f0, r1, l1, eps, quantum, floor):
    """Whether the jump between the one-sided slopes at a smaller step (values
    ``fp``, ``fm`` at realized steps ``hp``, ``hm``) shows a kink still inside
    it. Smooth, the jump shrinks with the step (``j(t) = t j(h)``); a kink
    keeps it, and the side without the kink keeps its slope ``r1`` or ``l1``
    (noise moves both sides). The jump must clear ``floor`` and its typical
    roundoff, one ulp of each value: a false kink only makes a coordinate
    inconclusive."""
    rt = (fp - f0) / hp
    lt = (f0 - fm) / hm
    jt = np.abs(rt - lt)
    aj = np.abs(r1 - l1)
    ro = (eps * (2 * abs(f0) + np.abs(fp) + np.abs(fm)) + 2.0 * quantum) / np.minimum(hp, hm)
    return ((jt > np.maximum(floor, ro)) & (jt >= 0.25 * aj)
            & (np.minimum(np.abs(r1 - rt), np.abs(l1 - lt)) <= 0.25 * aj))


def _norm(v):
    # sqrt of a pairwise sum rather than np.linalg.norm's BLAS dot: with two
    # BLAS threads on a loaded 2-core machine one dot of 1e5 took 16 ms
    return math.sqrt(float(np.sum(v * v)))


# -------------------------------------------------------------- the report
class GradCheckResult:
    """The outcome of a gradient check.

    Attributes
    ----------
    status : str
        "passed", "failed" or "inconclusive" (see :func:`check_gradient`,
        Notes, "Verdicts"); for :func:`gradient_check`, "passed" when the
        seed's rule passes.
    passed : bool
        ``status == "passed"`` (for :func:`gradient_check`: the seed's rule
        ``rel_error < tol``). ``bool(result)`` is ``passed``.
    rel_error : float
        The seed's relative error over the checked coordinates,
        ``||a - n|| / (||a|| + ||n|| + 1e-15)``.
    max_abs_error, max_rel_error : float
        Largest per-coordinate absolute and relative discrepancy.
    n_checked, n_evals : int
        Coordinates checked; loss evaluations made.
    elapsed : float
        Seconds.
    index : ndarray of intp
        Flat indices of the checked coordinates, in check order.
    numerical, analytical, abs_errors, rel_errors, steps, noise : ndarray
        Per checked coordinate: the centered difference, the analytic
        gradient, ``|n - a|``, ``|n - a| / max(|a|, |n|)``, the step and the
        finite-difference noise bound.
    verdicts : ndarray of str
        Per checked coordinate: "ok", "gradient wrong", "finite-difference
        noise", "non-smooth point", "non-finite loss", "non-finite
        gradient", "loss resolution" or "non-deterministic loss".
    statuses : ndarray of str
        Per checked coordinate: "passed", "failed" or "inconclusive".
    scales, resolution : ndarray
        Per checked coordinate: the verdict scale ``max(|a|, |n|, RMS of the
        tensor's gradient)`` and the smallest relative error of it the check
        could detect there, ``max(tol, noise / scale)``.
    tensors : list of TensorCheck
        One row per tensor: name, size, checked, worst relative error,
        passed, status, the relative noise bound at the worst coordinate and
        the tensor's resolution (worst over its passed coordinates).
    tol : float
    nondeterminism : float
        Largest difference between repeated evaluations at the unperturbed
        point (0.0 for a deterministic loss).
    compile_seconds : float
        Seconds spent compiling (or loading) Numba kernels before a budgeted
        check's clock started; not part of `elapsed` (0.0 when nothing was
        compiled on the clock's behalf, e.g. without a budget).

    A result unpacks and indexes as the seed's pair: ``rel_error, numerical =
    result``, ``result[0]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck import check_gradient
    >>> W = np.arange(6.0).reshape(2, 3)
    >>> grad = 2 * W
    >>> grad[1, 2] = 0.0                      # a planted bug
    >>> r = check_gradient(lambda p: float(np.sum(p["W"] ** 2)), {"W": W}, {"W": grad})
    >>> r.status, r.passed, r.n_checked
    ('failed', False, 6)
    >>> bad = r.failures()[0]
    >>> bad.name, round(bad.numerical, 6), bad.analytical, bad.verdict
    ('W[1, 2]', 10.0, 0.0, 'gradient wrong')
    >>> [c.name for c in r.worst(2)]
    ['W[1, 2]', 'W[0, 0]']
    >>> rel_error, numerical = r               # the seed's pair
    >>> numerical.shape
    (6,)
    """

    def __init__(self, prob, *, idx, numerical, analytical, abs_errors, rel_errors,
                 noise, steps, verdict_codes, rel_error, tol, dtype, n_evals, elapsed,
                 f0, nondeterminism, method, scales=None, eps=None, quantum=0.0):
        self.problem = prob
        # eps of the lower of the loss and parameter precisions, and the
        # quantum of the loss values (0: not quantized); they say what
        # would help a check without digits for the change
        self.eps = eps
        self.quantum = float(quantum)
        self.index = idx
        self.numerical = numerical
        self.analytical = analytical
        self.abs_errors = abs_errors
        self.rel_errors = rel_errors
        self.noise = noise
        self.steps = steps
        self._codes = verdict_codes
        self.rel_error = np.float64(rel_error)   # the seed returns np.float64
        self.tol = float(tol)
        self.dtype = dtype
        self.n_checked = int(idx.size)
        self.n_evals = int(n_evals)
        self.elapsed = float(elapsed)
        self.loss_value = f0
        self.nondeterminism = float(nondeterminism)
        self.compile_seconds = 0.0
        self.method = method
        # the verdict scale of each coordinate: max(|a|, |n|, RMS of its tensor's gradient)
        self.scales = (np.maximum(np.abs(analytical), np.abs(numerical)) if scales is None
                       else scales)
        self.status = self._overall_of()
        self.passed = self.status == "passed"
        with np.errstate(invalid="ignore"):
            self.max_abs_error = float(np.max(np.where(np.isnan(abs_errors), np.inf, abs_errors)))
            self.max_rel_error = float(np.max(np.where(np.isnan(rel_errors), np.inf, rel_errors)))
        self.criterion = "per-coordinate"

    @property
    def verdicts(self):
        return np.array(VERDICTS, dtype=object)[self._codes].astype(str)

    def _overall_of(self):
        return _overall(STATUS_OF[self._codes])

    @property
    def statuses(self):
        """Per checked coordinate: "passed", "failed" or "inconclusive"."""
        return np.array(STATUSES, dtype=object)[STATUS_OF[self._codes]].astype(str)

    @property
    def failed(self):
        """Boolean mask of failing checked coordinates (the gradient is wrong there)."""
        return STATUS_OF[self._codes] == 1

    @property
    def inconclusive(self):
        """Boolean mask of checked coordinates the check could not decide."""
        return STATUS_OF[self._codes] == 2

    @property
    def resolution(self):
        """Per checked coordinate: the smallest relative error (of its verdict
        scale) the check could detect there, ``max(tol, noise / scale)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.maximum(self.tol, self.noise / self.scales)

    # ------------------------------------------------------------ access
    def __iter__(self):
        """Unpack as the seed's ``(rel_error, numerical)``."""
        return iter((self.rel_error, self.numerical))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        """``result[0]`` is ``rel_error``, ``result[1]`` ``numerical`` (the seed's tuple)."""
        return (self.rel_error, self.numerical)[i]

    def __bool__(self):
        return self.passed

    def _record(self, k):
        i = int(self.index[k])
        return CoordinateCheck(
            self.problem.name(i), i, float(self.numerical[k]), float(self.analytical[k]),
            float(self.abs_errors[k]), float(self.rel_errors[k]), float(self.steps[k]),
            VERDICTS[self._codes[k]], STATUSES[STATUS_OF[self._codes[k]]])

    def _order(self):
        # failing first, then inconclusive, then by relative error (NaN as worst)
        rel = np.where(np.isnan(self.rel_errors), np.inf, self.rel_errors)
        return np.lexsort((-rel, ~self.inconclusive, ~self.failed))

    def worst(self, k=10):
        """The `k` worst checked coordinates (failing first, then inconclusive,
        then by relative error).

        Returns a list of :class:`CoordinateCheck` with readable names.
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {short_repr(k)}")
        return [self._record(j) for j in self._order()[:int(k)]]

    def failures(self):
        """Every failing coordinate (status "failed"), worst first, as
        :class:`CoordinateCheck`."""
        return [self._record(j) for j in self._order() if STATUS_OF[self._codes[j]] == 1]

    def undecided(self):
        """Every inconclusive coordinate, worst first; ``verdict`` says why."""
        return [self._record(j) for j in self._order() if STATUS_OF[self._codes[j]] == 2]

    @property
    def tensors(self):
        prob = self.problem
        blk = prob.block_of(self.index)
        status = STATUS_OF[self._codes]
        res = self.resolution
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_noise = self.noise / np.maximum(np.abs(self.analytical), np.abs(self.numerical))
        rows = []
        for b, (name, start, stop, shape) in enumerate(prob.blocks):
            mine = np.flatnonzero(blk == b)
            checked = int(mine.size)
            if checked:
                rel = np.where(np.isnan(self.rel_errors[mine]), np.inf, self.rel_errors[mine])
                w = int(mine[np.argmax(rel)])
                worst = float(rel.max())
                st = _overall(status[mine])
                ok = st == "passed"
                noise = float(rel_noise[w])
                good = mine[status[mine] == 0]
                resolution = float(np.max(res[good])) if good.size else None
            else:
                worst, ok, st, noise, resolution = None, None, None, None, None
            rows.append(TensorCheck(name, stop - start, checked, worst, ok, st, noise,
                                    resolution))
        return rows

    # ------------------------------------------------------------ report
    def __repr__(self):
        return (f"<GradCheckResult {self.status}: "
                f"{int(self.failed.sum())} of {self.n_checked} coordinates fail, "
                f"{int(self.inconclusive.sum())} inconclusive, "
                f"rel_error={self.rel_error:.2e}>")

    def __str__(self):
        return self.report()

    def _header(self):
        n = self.problem.n
        checked = (f"{self.n_checked:,} coordinates" if self.n_checked == n else
                   f"{self.n_checked:,} of {n:,} coordinates")
        tensors = self.tensors
        head = f"(tol={self.tol:g}, {self.dtype})"
        nfail, nund = int(self.failed.sum()), int(self.inconclusive.sum())
        bad_t = [t.name for t in tensors if t.status == "failed"]
        und_t = [t.name for t in tensors if t.status == "inconclusive"]
        if self.n_checked != n:
            checked_of = f"{self.n_checked:,} checked coordinates ({n:,} in all)"
        else:
            checked_of = checked
        if self.criterion == "seed":
            rule = "<" if self.passed else ">="
            lines = [f"Gradient check {'passed' if self.passed else 'FAILED'} by the seed "
                     f"rule: relative error {self.rel_error:.2e} {rule} tol={self.tol:g} "
                     f"({checked}, {self.dtype})"]
            if not self.passed:
                verdict = (f"{nfail:,} of {checked_of} fail" if nfail else
                           "no coordinate fails")
                lines.append(f"  per coordinate (tolerance model): {verdict}, {nund:,} "
                             f"inconclusive; status {self.status}")
            return lines
        if self.status == "passed":
            return [f"Gradient check passed: {checked} {head}"]
        if self.status == "failed":
            line = (f"Gradient check FAILED: {nfail:,} of {checked_of} in {len(bad_t)} of "
                    f"{len(tensors)} tensors ({', '.join(bad_t)}) {head}")
            if nund:
                line += f"; {nund:,} inconclusive"
            return [line]
        return [f"Gradient check inconclusive: {nund:,} of {checked_of} could not be "
                f"decided, in {len(und_t)} of {len(tensors)} tensors ({', '.join(und_t)}); "
                f"none found wrong {head}"]

    def _resolution_advice(self):
        """What would help a loss without digits for the change: depends on
        the precision its values carry."""
        quantum = getattr(self, "quantum", 0.0) or 0.0
        if quantum > 0:
            return (f"a loss that is not rounded (its values are multiples of {quantum:.3g}), "
                    "or a larger h")
        if self._in_float64():
            # already float64: only the digits left for the change can help
            return ("a smaller loss offset (subtract a large constant from the loss), "
                    "or a larger h")
        return ADVICE["loss resolution"]

    def _in_float64(self):
        eps = getattr(self, "eps", None)
        return eps is not None and eps <= float(np.finfo(np.float64).eps)

    def _advice(self):
        """One line per inconclusive reason: how many, and what would help."""
        lines = []
        verdicts = self.verdicts[self.inconclusive]
        for v in VERDICTS:
            count = int(np.sum(verdicts == v))
            if count:
                helps = self._resolution_advice() if v == "loss resolution" else ADVICE[v]
                if v == "finite-difference noise" and self._in_float64():
                    helps = "a larger h"
                lines.append(f"  inconclusive ({v}): {count:,} coordinate"
                             f"{'s' if count != 1 else ''}; would help: {helps}")
        return lines

    def _table(self, extra=None, sampled=False):
        tensors = self.tensors
        namew = max(6, max(len(t.name) for t in tensors))
        head = (f"  {'tensor':<{namew}}  {'size':>9}  {'checked':>9}  {'worst rel err':>13}"
                f"  {'noise there':>11}  {'resolution':>10}")
        extra = [] if extra is None else extra
        for title, _ in extra:
            head += f"  {title:>17}"
        lines = [head + "  status"]
        for t in tensors:
            worst = "-" if t.worst_rel_error is None else f"{t.worst_rel_error:.2e}"
            noise = "-" if t.noise is None or not np.isfinite(t.noise) else f"{t.noise:.1e}"
            res = "-" if t.resolution is None else f"{t.resolution:.1e}"
            status = {None: "pass" if sampled else "not checked", "passed": "pass",
                      "failed": "FAIL", "inconclusive": "inconclusive"}[t.status]
            row = (f"  {t.name:<{namew}}  {t.size:>9,}  {t.checked:>9,}  {worst:>13}"
                   f"  {noise:>11}  {res:>10}")
            for _, cell in extra:
                row += f"  {cell(t):>17}"
            lines.append(row + f"  {status}")
        return lines

    def _confirmed_line(self):
        """How many failing coordinates were confirmed from far and near
        when the others of their tensor follow them (a dense failure)."""
        done = getattr(self.problem, "confirmed_per_tensor", {})
        n = int(sum(done.values()))
        nfail = int(self.failed.sum())
        if not n or nfail <= n:
            return []
        names = ", ".join(f"{self.problem.blocks[b][0]} ({c})" for b, c in sorted(done.items())
                          if c)
        return [f"  dense failure: {n:,} coordinates confirmed from far and near, in "
                f"{names}; the other {nfail - n:,} failing coordinates of those tensors "
                f"are failed by their discrepancy at h and 2h (not re-checked)"]

    def _resolution_line(self):
        res = [t.resolution for t in self.tensors if t.resolution is not None]
        if not res or max(res) <= self.tol:
            return []
        helps = ("a larger h or a less noisy loss resolves smaller ones"
                 if np.dtype(self.dtype) == np.float64 else
                 "params and loss in float64 resolve far smaller ones")
        return [f"  {self.dtype}: errors below ~{max(res):.0e} of the gradient scale (the "
                f"larger of |g_i| and its tensor's RMS gradient) are invisible here (noise "
                f"of the finite differences; per tensor: 'resolution'); {helps}"]

    def report(self, k=5):
        """The compact report: header, per-tensor table, `k` worst coordinates."""
        lines = self._header()
        lines.append(
            f"  relative error {self.rel_error:.2e} (seed definition), max abs error "
            f"{self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}; "
            f"{self.n_evals:,} loss evaluations in {_fmt_time(self.elapsed)} ({self.method})")
        if self.nondeterminism:
            lines.append(f"  warning: loss is not deterministic (repeated evaluations "
                         f"differ by {self.nondeterminism:.3g}); noise bounds widened")
        lines.extend(self._confirmed_line())
        lines.extend(self._resolution_line())
        lines.extend(self._advice())
        lines.extend(self._table())
        rows = self.worst(k)
        if rows:
            lines.append("  worst coordinates:" if self.status == "passed" else
                         "  worst coordinates (failing first, then inconclusive):")
            cw = max(10, max(len(r.name) for r in rows))
            lines.append(f"  {'coordinate':<{cw}}  {'numerical':>13}  {'analytical':>13}  "
                         f"{'abs err':>9}  {'rel err':>9}  verdict")
            for r in rows:
                lines.append(f"  {r.name:<{cw}}  {r.numerical:>13.6g}  {r.analytical:>13.6g}  "
                             f"{r.abs_error:>9.2e}  {r.rel_error:>9.2e}  {r.verdict}")
        return "\n".join(lines)


def _overall(statuses):
    """failed if any coordinate failed, else inconclusive if any could not be
    decided, else passed (also for no coordinates)."""
    statuses = np.asarray(statuses)
    if statuses.dtype.kind in "iu":
        statuses = np.array(STATUSES, dtype=object)[statuses]
    if np.any(statuses == "failed"):
        return "failed"
    if np.any(statuses == "inconclusive"):
        return "inconclusive"
    return "passed"


def _fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


# -------------------------------------------------------- seed-compatible
def gradient_check(loss_fn: Callable[..., Any], params: ArrayLike, analytical_grad: ArrayLike,
                   h: float = 1e-5, tol: float = 1e-4, verbose: bool = True) -> GradCheckResult:
    """Check an analytical gradient against a centered difference (the seed's call).

    Accepts the seed chapter's call unchanged and prints its block when
    `verbose`. The numerical gradient is the seed's ``(f(x + h e_i) - f(x -
    h e_i)) / (2h)`` with the absolute step `h`, evaluated by fastfd's engine
    (in place, no copies, compiled and parallel for a jitted loss); dividing
    by the nominal ``2h`` rather than the realized step keeps the seed's
    printed numbers bit for bit. For per-coordinate steps, the tolerance
    model and the diagnosis use :func:`check_gradient`.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params) -> float``.
    params : ndarray (or a dict / list of ndarrays)
        Point to check at.
    analytical_grad : same structure as `params`, or callable
        The analytic gradient at `params`.
    h : float, optional
        Absolute step (seed: 1e-5).
    tol : float, optional
        Pass when the relative error is below `tol` (seed: 1e-4).
    verbose : bool, optional
        Print the seed's block.

    Returns
    -------
    GradCheckResult
        Unpacks as the seed's ``rel_error, numerical_grad``; ``passed`` is
        ``rel_error < tol``; the per-coordinate report is ``str(result)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck import gradient_check
    >>> w = np.array([1.0, 2.0])
    >>> rel, num = gradient_check(lambda v: float(v @ v), w, 2 * w)
    Gradient check:
     Analytical grad: [2. 4.]
     Numerical grad: [2. 4.]
     Relative error: 3.28e-12
     Status: PASS (tol=0.0001)
    >>> bool(rel < 1e-4)
    True
    """
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be True or False, got {short_repr(verbose)}")
    h = check_positive_scalar("h", h)
    tol = check_positive_scalar("tol", tol)
    prob, idx, h, tol = _iv(loss_fn, params, analytical_grad, h, tol, "all", None, None,
                            False, False)
    # The seed divides by the nominal 2h: x +- h rounds to the parameters'
    # grid, and the step it really takes is off by up to half an ulp of x on
    # each side. Warn when that alone moves the numerical gradient by tol.
    x = np.abs(prob.x0.astype(np.float64))
    step_error = float(np.max(np.spacing(x.astype(prob.dtype)).astype(np.float64))) / (2.0 * h)
    if step_error > tol:
        warnings.warn(
            f"h={h:g} is below the resolution of the {prob.dtype} parameters: x + h rounds "
            f"by up to {step_error:.1e} of the step, which moves the seed's numerical "
            f"gradient by that much (tol={tol:g}); use float64 parameters or a larger h, "
            f"or check_gradient, which divides by the realized step",
            RuntimeWarning, stacklevel=2)
    result = _run(prob, loss_fn, idx, h, tol, None, False, nominal=True)
    result.passed = bool(result.rel_error < tol)
    # status by the seed's rule when it passes; when it fails, the tolerance
    # model says whether the gradient is wrong or the check undecided
    if result.passed:
        result.status = "passed"
    elif result.status == "passed":
        result.status = "inconclusive"
    result.criterion = "seed"
    if verbose:
        shown = analytical_grad if isinstance(analytical_grad, np.ndarray) else prob.g
        print('Gradient check:')
        print(f' Analytical grad: {shown}')
        print(f' Numerical grad: {result.numerical}')
        print(f' Relative error: {result.rel_error:.2e}')
        print(f' Status: {"PASS" if result.passed else "FAIL"} (tol={tol})')
    return result

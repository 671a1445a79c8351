"""The per-coordinate engine of check_gradient: evaluate the loss at
``x +- h`` for each checked coordinate (in Python, or in compiled drivers for
a jitted loss), then give every coordinate a verdict with the tolerance model
and the diagnosis (kinks, noise, quantized losses, confirmation at other
steps)."""

from __future__ import annotations

import contextlib
import math
import time
import warnings

import numba
import numpy as np

from ._executor import blas_one_thread
from ._scale import rms
from ._params import (LossEvaluationError, LossReturnError, call_loss, input_error,
                      input_write_error, loss_precision, loss_value, return_error)
from ._progress import Progress, progress_enabled
from ._quantize import GRID_COARSE, GRID_ULPS, _find_grid, _follow_flat
from ._result import GradCheckResult, Verdict
from ..steps import check_precision, check_steps
from .._kernels import gradcheck as K
from .._kernels.schedule import launch

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
STABLE_SMALL = 0.5
LARGE_STEP_FACTOR = 16.0
NEAR_STEPS = (0.5, 0.25, 0.125)
# A tensor whose gradient RMS is at most this many ulps of the whole
# gradient's is zero to roundoff: its coordinates are scaled by the whole's
ZERO_ULPS = 64
# Deeper steps for a candidate with a kink suspected inside its stencil.
DEEP_STEPS = (1.0 / 32.0, 1.0 / 256.0)
# a discrepancy decided at LARGE_STEP_FACTOR * h (the roundoff at h hid it)
# must hold at these nearer multiples of h before it fails (see _verdicts)
NEARER_FACTORS = (8.0, 4.0)
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
        # what copies the container of the views per call (see args)
        self.fresh = {dict: dict, list: list}.get(type(self.views))
        # what fastfd.gradcheck._params.input_error needs to find a write to read-only
        # views: the writeable vector, and the loss on a flat copy of it
        self.writeable = self.x if self.readonly else None
        self.probe = lambda s: loss(prob.views(s))
        self.n_evals = 0
        self.eps = None         # the loss precision's, once the baseline is evaluated

    def args(self):
        """The views the loss gets, in a container of its own per call: a loss
        that rebinds a key of its dict (``p["W"] = p["W"] * 2``) or an entry
        of its list would otherwise change what every later call sees."""
        return self.views if self.fresh is None else self.fresh(self.views)

    def call(self, where, raw=False):
        """The loss at the current contents of ``x``: a float (with `raw`,
        also the value as returned), through ``fastfd.gradcheck._params.call_loss``."""
        self.n_evals += 1
        return call_loss(self.loss, self.args(), where, self.writeable, self.prob.name, raw,
                         probe=self.probe)

    def error(self, exc, where):
        """The error :meth:`call` raises for `exc`, raised by the loss at the
        current point of ``x``."""
        if isinstance(exc, LossReturnError):
            return return_error(exc, where)
        return input_error(self.probe, self.writeable, exc, where, self.prob.name)

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
    views, fresh = ctx.views, ctx.fresh
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
            # 145 vs 185 ns per call of a trivial loss, measured; a dict or list
            # of views is copied per call (see _Context.args)
            for k in range(lo, hi):
                i = ii[k]
                side = "+"
                x[i] = ps[k]
                v = fn(views if fresh is None else fresh(views))
                fp[k] = float(v) if isinstance(v, float) else loss_value(v)
                side = "-"
                x[i] = ms[k]
                v = fn(views if fresh is None else fresh(views))
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


def _jit_values(ctx, idx, xp, xm, parallel, bar):
    """fp, fm from the compiled drivers (private copy of x per chunk)."""
    m = idx.size
    fp = np.empty(m)
    fm = np.empty(m)
    x0 = ctx.prob.x0
    if parallel:
        # CHUNKS_PER_THREAD chunks handed out one at a time (chunksize 1): a
        # thread that loses its core to another process would otherwise hold
        # up the whole check with its static half.
        nchunks = max(1, min(CHUNKS_PER_THREAD * numba.get_num_threads(), m))
        driver = K.central_values_parallel
    else:
        nchunks = 1
        driver = K.central_values_serial
    # With progress on, run in ~50 pieces and report between them.
    piece = max(nchunks, -(-m // 50)) if bar.enabled else m
    # The drivers are not disk-cached (they take the user's function), so
    # Numba has no "cannot cache" warning to give and no warning filter is
    # touched here: filters are process-wide and not thread-safe.
    with (blas_one_thread() if parallel else contextlib.nullcontext()):
        for lo in range(0, m, piece):
            hi = min(m, lo + piece)
            changed = np.full(min(nchunks, hi - lo), -1, dtype=np.intp)
            launch(driver, 1, ctx.loss, x0, idx[lo:hi], xp[lo:hi], xm[lo:hi],
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
    raise input_write_error("", prob.name(i), prob.x0[i].item(), value)


def _check_unmodified(ctx):
    x, x0 = ctx.x, ctx.prob.x0
    same = (x == x0) | (np.isnan(x) & np.isnan(x0))
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        _raise_modified(ctx.prob, i, x[i].item())


def start(prob, loss, limit=None, calls=2):
    """The first stage of a check: two timed evaluations of `loss` at the
    unperturbed params, on a new evaluation context (what
    :func:`check_coordinates` continues from).

    The context holds ``f0`` (and ``raw``, the value as returned), ``f0b``,
    ``t_first`` and ``t_call`` (the seconds of the first and of the second
    call) and ``t0``. With `limit`, a first call slower than `limit` seconds
    ends the stage there (``f0b`` is None): each further call would cost as
    much again. With ``calls=1`` (a check by directions alone, which needs
    only the value) there is no second call and ``t_call`` is the first's. A jitted loss is compiled before (see
    ``fastfd.gradcheck._planner.compile_kernels``), so its first call is not
    a compilation.
    """
    ctx = _Context(prob, loss)
    ctx.t0 = time.perf_counter()
    ctx.f0, ctx.raw = ctx.call("at the unperturbed params", raw=True)
    ctx.t_first = time.perf_counter() - ctx.t0
    ctx.f0b = ctx.t_call = None
    if limit is not None and ctx.t_first > limit:
        return ctx
    _check_unmodified(ctx)
    if not math.isfinite(ctx.f0):
        raise ValueError(f"loss is not finite at the unperturbed params: {ctx.f0!r}")
    if calls == 1:
        ctx.f0b, ctx.t_call = ctx.f0, ctx.t_first
        return ctx
    t = time.perf_counter()
    ctx.f0b = ctx.call("at the unperturbed params")
    ctx.t_call = time.perf_counter() - t
    return ctx


def check_coordinates(prob, loss, idx, h, tol, parallel, progress, nominal=False,
                      values=None, ctx=None):
    """The per-coordinate check of flat coordinates `idx` of `prob`: a
    :class:`GradCheckResult` with a verdict for each.

    `values`: an (fp, fm) evaluator replacing :func:`_values` (batched
    losses, executors). `ctx`: the context :func:`start` returned, when the
    planner has already timed the loss at params (a new one otherwise).
    `nominal` divides by ``2h`` rather than the realized step (the seed's
    gradient_check).
    """
    if ctx is None:
        ctx = start(prob, loss)
    t0, f0, raw, f0b, t_call = ctx.t0, ctx.f0, ctx.raw, ctx.f0b, ctx.t_call
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
        # a nan error (a nan analytic or numerical value) stays nan: 0 would
        # read as agreement in the report
        rel_err = np.where(scale > 0, abs_err / np.where(scale > 0, scale, 1.0),
                           np.where(np.isnan(abs_err), np.nan, 0.0))
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


def tensor_scale(g, start, stop, eps):
    """The RMS of the finite analytic gradient ``g[start:stop]`` of one
    tensor, or of the whole of ``g`` when the tensor's is zero to roundoff
    (at most ZERO_ULPS * eps of the whole's: a bias before a normalization,
    an unused parameter, a projection that cancels). With no scale of its
    own, a zero gradient could never be verified: the floor decides
    whether the noise leaves it decidable, never how large a discrepancy
    may be (an analytic zero next to a numerical 1 still fails)."""
    scale = rms(g[start:stop])
    if g.size > stop - start:
        whole = rms(g)
        if scale <= ZERO_ULPS * eps * whole:
            return whole
    return scale


def _tensor_scales(prob, idx, eps):
    """Per checked coordinate: the RMS of its tensor's gradient, and the
    scale its resolution is judged by (:func:`tensor_scale`)."""
    blk = prob.block_of(idx)
    own = np.empty(idx.size)
    floor = np.empty(idx.size)
    for b in np.unique(blk):
        _, start, stop, _ = prob.blocks[b]
        own[blk == b] = rms(prob.g[start:stop])
        floor[blk == b] = tensor_scale(prob.g, start, stop, eps)
    return own, floor


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
    followed with doubling steps until the loss moves (_quantize._follow_flat): a
    loss rounded to a grid moves by whole steps of it, confirmed as above;
    a locally constant loss (an unused parameter) never moves, and one flat
    up to a kink moves off every grid.
    """
    vals = np.concatenate(([f0], fp, fm))
    fin = vals[np.isfinite(vals)]
    fmax = float(np.max(_magnitude(ctx.prob)(fin), initial=0.0))
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
    seen where it first moves (_quantize._follow_flat), or 0.0: a loss flat
    up to a kink (a hinge or penalty switched off) moves off every grid
    there."""
    at = _along(ctx, i)
    s, fvals = _follow_flat(at, t, f0)
    if not s:
        return 0.0
    return _find_grid(at, f0, fvals, (), s, eps, float(fvals[1] - fvals[2]) / (2.0 * s))


def _grid_along(ctx, i, t, f0, vals, combos, eps, slope):
    """The spacing of a grid the loss values ``vals`` lie on, confirmed by
    probes along coordinate ``i`` (a step ``t`` along which the loss moves,
    ``slope`` its derivative there), or 0.0."""
    return _find_grid(_along(ctx, i), f0, vals, combos, t, eps, slope)


def _along(ctx, i):
    """``at(s)``: the loss with coordinate ``i`` moved by ``s`` (None where
    that rounds to no move, NaN where the loss raises: no evidence), the
    coordinate restored after each call."""
    x0 = ctx.prob.x0

    def at(s):
        moved = (np.float64(x0[i]) + s).astype(x0.dtype)
        if moved == x0[i]:
            return None
        ctx.x[i] = moved
        try:
            return ctx.call(f"at {ctx.prob.name(i)} {s:+.3g} (is the loss quantized?)")
        except LossEvaluationError:
            return math.nan
        finally:
            ctx.x[i] = x0[i]

    return at


def _verdicts(prob, ctx, idx, steps, hp, hm, den, fp, fm, f0, numerical, analytical, eps,
              spread, tol, nominal, use_jit, parallel, values, quantum=0.0):
    """Verdict codes (:class:`Verdict`), noise bounds and verdict scales (see
    check_gradient's Notes, "Tolerance model"). ``quantum``: the spacing of
    a quantized loss's values (0.0 otherwise); two values differ from the
    exact difference by less than it."""
    m = idx.size
    mag = _magnitude(prob)
    # the end of the budget (a time.perf_counter() value) set by the
    # large-model layer: re-checks beyond the first test stop there
    deadline = getattr(prob, "confirm_deadline", None)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(numerical - analytical)
        own, floor = _tensor_scales(prob, idx, eps)
        vscale = np.maximum(np.maximum(np.abs(analytical), np.abs(numerical)), own)
        # the scale the noise is judged by (decidable or not): vscale, or
        # the whole gradient's for a tensor whose own is zero to roundoff
        rscale = np.maximum(vscale, floor)
        jitter = 2.0 * spread / den
        roundoff = (ROUNDOFF_ULPS * eps * (mag(fp) + mag(fm)) + quantum) / den + jitter
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
    verdict[~finite_a] = Verdict.NONFINITE_GRADIENT
    verdict[~finite_f] = Verdict.NONFINITE_LOSS
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
                sgd = (NEAR_ULPS * eps * (mag(fpd) + mag(fmd)) + 2.0 * spread
                       + quantum) / dend
                half = 0.5 * t * j1[cand]
                rd = (fpd - f0) / hpd - a_d - half
                ld = (f0 - fmd) / hmd - a_d + half
                sgs = (NEAR_ULPS * eps * (mag(f0) + np.maximum(mag(fpd), mag(fmd)))
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
        verdict[sus] = Verdict.UNCONFIRMED
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
            ro1 = (ROUNDOFF_ULPS * eps * (2 * mag(f0) + mag(fp[sus]) + mag(fm[sus]))
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
        code = np.where(kink, Verdict.NONSMOOTH, np.where(stable, Verdict.WRONG, Verdict.NOISE))
        nonfinite2 = ~(np.isfinite(fp2) & np.isfinite(fm2))
        code = np.where(nonfinite2, Verdict.NONFINITE_LOSS, code)
        # A stable discrepancy on what looks smooth must also be seen from
        # far: Richardson's extrapolation R of the differences at 16h and
        # 32h (roundoff 16x smaller, truncation O(h**4)) must agree with the
        # value at h within their noise, and differ from the analytic value.
        # Kinks within the larger stencil (ReLU, max-pool: many of them in a
        # conv layer, each too small to bend the second difference at h)
        # move R away from the value at h: inconclusive, never "wrong".
        candidates = np.flatnonzero(fails & (code == Verdict.WRONG))
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
                roa = (ROUNDOFF_ULPS * eps * (mag(fpa) + mag(fma)) + 2.0 * spread
                       + quantum) / dena
                apart = np.abs(rich - numerical[where])
                limit = roundoff[where] + trunc[far] + 2.0 * roa
                consistent = apart <= limit
                away = np.abs(rich - analytical[where]) > np.maximum(tol * vscale[where],
                                                                     2.0 * roa)
            finite_far = np.isfinite(rich)
            nonfinite_far[far[~finite_far]] = True
            code[far] = np.where(~finite_far, Verdict.NONFINITE_LOSS, np.where(
                consistent & away, Verdict.WRONG, np.where(
                    consistent | (apart <= 4.0 * limit) & ~bent[far], Verdict.NOISE,
                    Verdict.NONSMOOTH)))
            # ... and near: the discrepancy of a wrong gradient does not
            # depend on the step, while many small kinks inside the stencil
            # (a conv weight's step moves hundreds of ReLU and max-pool
            # inputs) give one that shrinks about linearly with it, and
            # truncation one that shrinks as its square. Fit d(t) = e + b t
            # to the signed discrepancies at t = h, h/2, h/4, h/8 (weights
            # 1/sigma**2, sigma the typical roundoff of one ulp per value,
            # ~1/t): a wrong gradient extrapolates to e within STABLE of d(h)
            # and clear of its noise.
            near = far[code[far] == Verdict.WRONG]
            if not near.size:
                return
            where = sus[near]
            a_w = analytical[where]
            ys = [numerical[where] - a_w]
            sig = [(NEAR_ULPS * eps * (mag(fp[where]) + mag(fm[where])) + quantum)
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
                    sig.append((NEAR_ULPS * eps * (mag(fpt) + mag(fmt)) + 2.0 * spread
                                + quantum)
                               / dent)
                ts.append(t)
            # a kink closer than the smallest of these steps keeps d(t) flat;
            # it shows as a jump between the one-sided slopes that does not
            # shrink with t (smooth: j(t) = t j1), the far side keeping its slope
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                kinked_t = _kept_jump(fpt, fmt, hpt, hmt, f0, r1[near], l1[near], eps,
                                      quantum, tol * vscale[where], mag)
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
            code[near] = np.where(confirmed[near], Verdict.WRONG, np.where(
                ~finite_near, Verdict.NONFINITE_LOSS,
                np.where(systematic, Verdict.NONSMOOTH, Verdict.NOISE)))

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
            for t, c in zip(blk[batch].tolist(), (code[batch] == Verdict.WRONG).tolist()):
                conf_in[t] += c
                tried_in[t] += 1
            for t, w in weakest.items():
                missed = int(np.sum(code[np.array(w, dtype=np.intp)] != Verdict.WRONG))
                dense[t] = DENSE_MISS * missed <= len(w)
        state.update(conf_in)
        tried_state.update(tried_in)
        dense_state.update(dense)
        tried = np.array(sorted(tried), dtype=np.intp)
        rest = np.setdiff1d(candidates, tried)
        if rest.size:
            sure = np.array([t for t in conf_in if dense[t]], dtype=np.intp)
            code[rest] = np.where(np.isin(blk[rest], sure), Verdict.WRONG,
                                  Verdict.UNCONFIRMED if out_of_time else Verdict.NOISE)
        verdict[sus[fails]] = code[fails]
        # Re-check at h / SMALL_STEP_FACTOR what a step of h cannot decide:
        # a discrepancy that is unstable between h and 2h, a kink, or a stable
        # discrepancy next to a bent second difference (a kink at |s| < ~0.3 h
        # moves the discrepancy by less than STABLE between h and 2h). The
        # smaller stencil no longer reaches a kink farther than 2h/16.
        retry = fails & ~nonfinite2 & ~confirmed & (
            (code == Verdict.NOISE) | (code == Verdict.NONSMOOTH))
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
                ro3 = (ROUNDOFF_ULPS * eps * (mag(fp3) + mag(fm3)) + 2.0 * spread
                       + quantum) / den3
                # the jump between one-sided slopes: smooth -> j1 / 16; a kink
                # still inside the smaller stencil keeps it, and the side
                # without the kink keeps its slope (noise moves both sides)
                kinked3 = _kept_jump(fp3, fm3, hp3, hm3, f0, r1[r], l1[r], eps, quantum,
                                     tol * vscale[where], mag)
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
                         & (ro3 <= max(tol, RESOLUTION_LIMIT) * rscale[where]))
            code3 = np.where(wrong3, Verdict.WRONG, np.where(
                fine3, Verdict.OK, np.where(kinked3 | kink[r], Verdict.NONSMOOTH, Verdict.NOISE)))
            code3 = np.where(np.isfinite(fp3) & np.isfinite(fm3), code3, verdict[where])
            verdict[where] = code3
            noise[where] = np.where(fine3, ro3, noise[where])
            if not nominal:
                numerical[where] = np.where(fine3, num3, numerical[where])
                steps[where] = np.where(fine3, steps[where] / SMALL_STEP_FACTOR, steps[where])
    with np.errstate(invalid="ignore", divide="ignore"):
        # no noise at all (the loss is exactly 0 at +-h, a zero gradient
        # of a constant loss): decided, whatever the scale
        res = np.where(noise == 0.0, 0.0, noise / rscale)
    undecided = (verdict == Verdict.OK) & ok & ~(res <= max(tol, RESOLUTION_LIMIT))
    if spread > 0:
        # A non-deterministic loss widens every noise bound until any
        # discrepancy fits inside it (with a loss with 1e-3 noise, a zero
        # gradient would pass): a discrepancy above tol cannot be confirmed
        # either way.
        undecided |= (verdict == Verdict.OK) & ok & (abs_err > allowed)
    why = np.where((jitter > 0) & (jitter >= 0.5 * noise), Verdict.NONDETERMINISTIC,
                   np.where(roundoff >= 0.5 * noise, Verdict.RESOLUTION, Verdict.NOISE))
    verdict[undecided] = why[undecided]
    # A coordinate whose roundoff hides the tolerance is re-checked at
    # LARGE_STEP_FACTOR * h and twice that: roundoff shrinks by the factor;
    # the truncation there is estimated from the two steps, as at h, and is
    # part of the noise bound (a curved or kinked loss keeps it inconclusive).
    big = np.flatnonzero(verdict == Verdict.RESOLUTION) if spread == 0 else np.empty(0, np.intp)
    if deadline is not None and time.perf_counter() > deadline:
        big = big[:0]
    if big.size:
        fpa, fma, hpa, hma, dena = again(big, LARGE_STEP_FACTOR, "16h")
        fpb, fmb, hpb, hmb, denb = again(big, 2.0 * LARGE_STEP_FACTOR, "32h")
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            numa = (fpa - fma) / dena
            numb = (fpb - fmb) / denb
            # A kink inside the large stencil (a ReLU whose input is within
            # 32h of its switch: a bias feeding a batch of them) keeps the
            # jump between the one-sided slopes at both steps, where a
            # smooth loss doubles it (its curvature times the step); the
            # centered differences at 16h and 32h then agree with each
            # other and not with the gradient (measured: a correct float32
            # ReLU Transformer layer's linear1.bias[7], input 0.0019 from
            # the switch, read "gradient wrong" at 16h).
            ja = (fpa - f0) / hpa - (f0 - fma) / hma
            jb = (fpb - f0) / hpb - (f0 - fmb) / hmb
            # typical roundoff (NEAR_ULPS per value), not the bound: a false
            # bend only makes the coordinate inconclusive
            ro_a = NEAR_ULPS * eps * (2 * mag(f0) + mag(fpa) + mag(fma)) / np.minimum(hpa, hma)
            ro_b = NEAR_ULPS * eps * (2 * mag(f0) + mag(fpb) + mag(fmb)) / np.minimum(hpb, hmb)
            bend_noise = 2.0 * ro_a + ro_b + 2.0 * quantum / np.minimum(hpa, hma)
            bent_a = np.abs(jb - 2.0 * ja) > np.maximum(tol * vscale[big], bend_noise)
            trunc_a = np.abs(numa - numb)
            # A kink inside 16h shifts the centered differences at 16h and
            # 32h alike (their truncation estimate misses it): a bent pair
            # of slopes decides nothing, "ok" included (measured: a float32
            # loss with a kink 2h away passed a gradient 4.4% off as "ok"
            # at 16h). A kink bending them by less than bend_noise shifts
            # them by less than about bend_noise.
            noise_a = ((ROUNDOFF_ULPS * eps * (mag(fpa) + mag(fma)) + quantum) / dena
                       + trunc_a)
            d_a = np.abs(numa - analytical[big])
            vs = vscale[big]
            decided = noise_a <= max(tol, RESOLUTION_LIMIT) * rscale[big]
            bound = np.maximum(tol * vs, noise_a)
            fine = decided & (d_a <= bound) & ~bent_a
            # wrong: stable between the two large steps, and the value at h
            # agrees with them within its own noise bound
            wrong = (decided & (d_a > bound) & (trunc_a <= STABLE * d_a)
                     & (np.abs(numerical[big] - numa) <= noise[big] + noise_a) & ~bent_a)
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
            kinked = decided & bent_a
        # What only the large steps see must also hold nearer: at 8h and 4h
        # the discrepancy must be visible (typical roundoff, NEAR_ULPS per
        # value, at most a quarter of it) and the same within STABLE. A kink
        # within about h of the point keeps the discrepancy from 4h to 32h,
        # but then bends the slopes by more than 2.5 times that noise at 4h
        # (``bent_a``) whenever the discrepancy is visible there; a kink
        # farther out changes the discrepancy between 4h and 32h. Measured:
        # a correct float32 ReLU Transformer layer, a kink 5h from the
        # point, read "gradient wrong" by 1.06% of its tensor's scale at 16h
        # and 32h (0.7% at 8h, 0.2% at 4h); of 300 random float32 losses
        # with up to 11 kinks within 40h and a loss offset leaving only the
        # large steps, 16 correct gradients read "gradient wrong" with 16h
        # and 32h alone, 1 with 8h added (kinks at -3.4h and 2.2h), none
        # with 4h. Not visible: inconclusive ("loss resolution"), never
        # failed.
        for factor in NEARER_FACTORS:
            wn = np.flatnonzero(wrong)
            if not wn.size:
                break
            fpn, fmn, _, _, denn = again(big[wn], factor, f"{factor:g}h")
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                noisen = (NEAR_ULPS * eps * (mag(fpn) + mag(fmn)) + quantum) / denn
                e_a = (numa - analytical[big])[wn]
                en = (fpn - fmn) / denn - analytical[big[wn]]
                visible = noisen <= 0.25 * np.abs(e_a)
                holds = visible & (np.abs(en - e_a) <= STABLE * np.abs(e_a))
            wrong[wn[~holds]] = False
            kinked[wn[visible & ~holds]] = True
        verdict[big[fine]] = Verdict.OK
        verdict[big[wrong]] = Verdict.WRONG
        verdict[big[kinked]] = Verdict.NONSMOOTH
        # report what decided: the value, step and noise at the large step
        done = fine | wrong
        noise[big[done]] = noise_a[done]
        if not nominal:             # the seed's printout keeps its own numbers
            numerical[big[done]] = numa[done]
            steps[big[done]] *= LARGE_STEP_FACTOR
    return verdict, noise, vscale


def _kept_jump(fp, fm, hp, hm, f0, r1, l1, eps, quantum, floor, mag):
    """Whether the jump between the one-sided slopes at a smaller step (values
    ``fp``, ``fm`` at realized steps ``hp``, ``hm``) shows a kink still inside
    it. Smooth, the jump shrinks with the step (``j(t) = t j(h)``); a kink
    keeps it, and the side without the kink keeps its slope ``r1`` or ``l1``
    (noise moves both sides). The jump must clear ``floor`` and its typical
    roundoff, one ulp of each value: a false kink only makes a coordinate
    inconclusive. ``mag``: the magnitude of loss values (see :func:`_magnitude`)."""
    rt = (fp - f0) / hp
    lt = (f0 - fm) / hm
    jt = np.abs(rt - lt)
    aj = np.abs(r1 - l1)
    ro = (eps * (2 * mag(f0) + mag(fp) + mag(fm)) + 2.0 * quantum) / np.minimum(hp, hm)
    return ((jt > np.maximum(floor, ro)) & (jt >= 0.25 * aj)
            & (np.minimum(np.abs(r1 - rt), np.abs(l1 - lt)) <= 0.25 * aj))


def _magnitude(prob):
    """``mag(values)``: the size of loss values that their roundoff scales
    with. ``|f|`` for a scalar loss; a projected vector function
    (fastfd.gradcheck._vector) counts only the outputs a step changed, since
    the others cancel exactly between two evaluations."""
    return prob.magnitude if prob.magnitude is not None else np.abs


def _norm(v):
    # sqrt of a pairwise sum rather than np.linalg.norm's BLAS dot: a dot of
    # 1e5 whose two BLAS threads contend with other processes for 2 cores
    # took 16 ms
    return math.sqrt(float(np.sum(v * v)))

"""Which coordinates and directions a large gradient check spends its time on.

Stratified sampling
-------------------
``coords=m`` draws ``m`` coordinates stratified over tensors: every tensor
gets ``min(size, 16)``, the rest is shared in proportion to size (largest
remainders first), and within each tensor a quarter of its share (at least
one) goes to its largest-``|g|`` coordinates, the rest drawn uniformly from
the others. So a 10-element bias is never skipped, the large matrices get
most of the sample, and the coordinates that matter most to training are
always checked. Reproducible: everything comes from the generator passed in.

Budgets
-------
``coords="auto"`` times the loss (:func:`time_loss` re-times a few calls
when one looks inflated) and runs a full check (``2n`` evaluations) when it
fits the budget (10 s by default); above 512 coordinates it runs in
interleaved chunks (16 coordinates first, then each sized from the time
left and the rate measured on the chunk before) and stops at the budget,
so a loss that slows down mid-run gives a stratified partial check, not an
overrun (so does ``coords=m`` with a ``budget``, and ``directions=k`` stop
starting new directions at it). Otherwise: directional checks (with
bisection of failing tensors) until 45% of the budget is spent, at most 64
directions of ``4 (1 + tensors)`` evaluations each; then a stratified
sample sized to end at 75%, from what a loss call costs at that moment; the
last 25% is the reserve for confirming failing coordinates. The budget is a
target, not a hard stop: confirming and localizing a failure found late may
go over it, because a failure is never dropped to save time.

Deadlines, not counts computed from the first timing: the first calls of a
process, or another process on the cores (a 0.05 ms call whose BLAS threads
contend with it for 2 cores averaged 7.7 ms), can make a timed call 10-100x
slower than the calls that follow.

Running the check
-----------------
:func:`check_gradient_scale` is what ``fastfd.check_gradient`` calls for
``coords="auto"`` or a count, ``directions=``, ``budget=``,
``vectorized=`` and ``executor=``: the per-coordinate stage is the engine of
``fastfd.gradcheck._engine`` (its tolerance model and diagnosis), fed by the batched
or distributed evaluators of ``fastfd.gradcheck._executor``; the directional stage
and bisection are ``fastfd.gradcheck._directions``. The result is a
:class:`GradCheckResult` with its large-model fields filled in.
"""

from __future__ import annotations

import math
import time

import numba
from numba.core.errors import NumbaError
import numpy as np

from ._arguments import _check_coords, _index_array, _iv
from ._directions import Counter, check_directions, check_segment, rademacher
from ._engine import DEFAULT_TOL, _compile_drivers, _norm, check_coordinates
from ._executor import (SPOT_CHECKS, _executor_workers, batch_rows, batched_losses,
                        check_executor, coordinate_values, cross_check)
from ._params import FlatProblem, _index_suffix, _is_jitted, _split
from ._progress import Progress, check_progress, progress_enabled
from ._result import GradCheckResult, GradientCheckError, _fmt_seconds
from .._validation import check_bool, check_int, short_repr

__all__ = [
    "DEFAULT_BUDGET", "MIN_PER_TENSOR", "MAX_DIRECTIONS",
    "stratified_sample", "time_loss", "check_budget",
    "check_scale_options", "check_gradient_scale",
]

DEFAULT_BUDGET = 10.0
MIN_PER_TENSOR = 16
MAX_DIRECTIONS = 64
TOP_FRACTION = 0.25
DIRECTION_SHARE = 0.45
RESERVE_SHARE = 0.25
# A full check of more than SINGLE_RUN coordinates runs in chunks against
# the budget, starting at MIN_CHUNK coordinates and growing at most
# CHUNK_GROWTH times per chunk (see _check_in_chunks). Up to 512 coordinates
# (1,024 calls) it is one engine run.
SINGLE_RUN = 512
MIN_CHUNK = 64
CHUNK_GROWTH = 4
LEFT_SHARE = 0.5


def _allocate(sizes, count, minimum):
    """Per-tensor counts: ``min(size, minimum)`` each, the rest by size."""
    sizes = np.asarray(sizes, dtype=np.int64)
    base = np.minimum(sizes, minimum)
    if base.sum() > count:
        # fewer than the minimums: fill evenly up to them (water-filling)
        cap, base, left = base, np.zeros_like(base), count
        while left > 0:
            room = np.flatnonzero(base < cap)
            add = max(1, left // room.size)
            for k in room:
                step = min(add, cap[k] - base[k], left)
                base[k] += step
                left -= step
                if left == 0:
                    break
        return base
    rest = count - int(base.sum())
    room = sizes - base
    if rest <= 0 or room.sum() == 0:
        return base
    share = room / room.sum() * rest
    extra = np.minimum(np.floor(share).astype(np.int64), room)
    left = rest - int(extra.sum())
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for k in order:
        if left <= 0:
            break
        if extra[k] < room[k]:
            extra[k] += 1
            left -= 1
    return base + extra


def stratified_sample(blocks, g, count, rng, *, minimum=MIN_PER_TENSOR):
    """Sorted flat indices of a stratified sample of ``count`` coordinates.

    Parameters
    ----------
    blocks : sequence of (name, start, stop, shape)
        The tensors, as contiguous ranges of the flat vector.
    g : ndarray
        Flat analytic gradient (its largest ``|g|`` per tensor are included).
    count : int
        Coordinates wanted (all of them when ``count`` >= the total).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of intp

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck._sampling import stratified_sample
    >>> blocks = [("W", 0, 1000, (1000,)), ("b", 1000, 1010, (10,))]
    >>> g = np.linspace(-1, 1, 1010)
    >>> idx = stratified_sample(blocks, g, 100, np.random.default_rng(0))
    >>> idx.size, int((idx >= 1000).sum())   # the bias gets all of its 10
    (100, 10)
    """
    sizes = [b - a for _, a, b, _ in blocks]
    total = sum(sizes)
    if count >= total:
        return np.arange(total, dtype=np.intp)
    counts = _allocate(sizes, count, minimum)
    parts = []
    for (_, a, b, _), c in zip(blocks, counts):
        c = int(c)
        size = b - a
        if c <= 0:
            continue
        if c >= size:
            parts.append(np.arange(a, b, dtype=np.intp))
            continue
        n_top = max(1, int(c * TOP_FRACTION))
        # A NaN gradient entry ranks first: argpartition would put -NaN last.
        mag = np.abs(g[a:b])
        mag[np.isnan(mag)] = np.inf
        top = np.argpartition(-mag, n_top - 1)[:n_top]
        mask = np.ones(size, dtype=bool)
        mask[top] = False
        others = np.flatnonzero(mask)
        drawn = rng.choice(others, size=c - n_top, replace=False)
        parts.append(a + np.concatenate([top, drawn]).astype(np.intp))
    idx = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    idx.sort()
    return idx


def time_loss(f, x, *, repeats=3):
    """``(seconds per call, f(x))``: the fastest of three calls, or of
    ``repeats`` more when the first looks inflated.

    The first call often pays for imports, caches, thread-pool start-up or
    JIT compilation; when it took more than 1.5x the fastest of the next two,
    ``repeats`` more calls are timed. The minimum is the cost of a call
    undisturbed by other processes; a loaded machine makes the check slower
    than timed, which the deadlines of :func:`check_gradient_scale` absorb.
    """
    times = []
    t0 = time.perf_counter()
    f0 = f(x)
    times.append(time.perf_counter() - t0)
    for _ in range(2):
        t0 = time.perf_counter()
        f(x)
        times.append(time.perf_counter() - t0)
    if times[0] > 1.5 * min(times[1:]):
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(x)
            times.append(time.perf_counter() - t0)
    return max(min(times[1:]), 1e-9), f0


def check_budget(budget):
    """``budget`` must be None or a positive finite number of seconds."""
    if budget is None:
        return None
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, float, np.integer, np.floating)):
        raise TypeError(f"budget must be a positive number of seconds, got {short_repr(budget)}")
    try:
        b = float(budget)
    except OverflowError:           # an int beyond float range
        b = math.inf
    if not math.isfinite(b) or b <= 0:
        raise ValueError(
            f"budget must be a positive, finite number of seconds, got {short_repr(budget)}")
    return b


def _batched_flat(loss):
    """A flat scalar loss from a vectorized one (a batch of one row)."""

    def f(x):
        # the NumPy scalar: its dtype is the loss precision
        return batched_losses(loss, x[None, :], native=True)[0]
    return f


def check_scale_options(coords, directions, budget, vectorized, executor, progress,
                        n, n_blocks):
    """Validate the large-model options before anything is evaluated.

    Returns ``(coords, directions, budget)`` normalized.
    """

    if directions is not None:
        directions = check_int("directions", directions, minimum=0)
        if directions > 10_000:
            raise ValueError(f"directions must be at most 10000, got {directions}")
    if isinstance(coords, str):
        if coords not in ("auto", "all"):
            raise ValueError(
                f"coords must be 'auto', 'all', an integer or an array of flat indices, "
                f"got {coords!r}")
    elif isinstance(coords, (bool, np.bool_)) or coords is None:
        raise TypeError(
            f"coords must be 'auto', 'all', an integer or an array of flat indices, "
            f"got {coords!r}")
    elif np.ndim(coords) == 0:
        coords = check_int("coords", coords)
        if not (1 <= coords <= n or (coords == 0 and directions)):
            raise ValueError(
                f"coords={coords} must be between 1 and the number of parameters ({n}), "
                f"or 0 with directions > 0 for a check by directions alone")
        if 0 < coords < n_blocks and coords < n:
            raise ValueError(
                f"coords={coords} is fewer than the {n_blocks} tensors; a stratified "
                f"sample needs at least one coordinate per tensor")
    else:
        coords = _index_array(coords, n)
    budget = check_budget(budget)
    check_bool("vectorized", vectorized)
    check_executor(executor)
    check_progress(progress)
    return coords, directions, budget


class StructuredLoss:
    """The user's loss on a flat vector (or a ``(k, n)`` batch of them).

    Holds only the loss and the layout, so it pickles as cheaply as the loss
    itself when sent to worker processes.
    """

    def __init__(self, loss, blocks, kind, keys, batched=False):
        self.loss = loss
        self.blocks = tuple(blocks)
        self.kind = kind
        self.keys = keys
        self.batched = batched

    def name(self, i):
        """Readable name of flat coordinate `i` (as ``FlatProblem.name``)."""
        i = int(i)
        for label, a, b, shape in self.blocks:
            if a <= i < b:
                return label + _index_suffix(np.unravel_index(i - a, shape) if shape else (),
                                             shape)
        raise IndexError(f"coordinate {i} is out of range")

    def __call__(self, x):
        lead = x.shape[:1] if self.batched else ()
        parts = [x[..., a:b].reshape(lead + tuple(shape)) for _, a, b, shape in self.blocks]
        if self.kind == "array":
            return self.loss(parts[0])
        if self.kind == "dict":
            return self.loss(dict(zip(self.keys, parts)))
        return self.loss(tuple(parts) if self.kind == "tuple" else parts)


# --------------------------------------------------------------------------
# The large-model options of fastfd.check_gradient (directions=, budget=,
# coords="auto", vectorized=, executor=), on top of the per-coordinate
# engine of fastfd.gradcheck._engine.
# --------------------------------------------------------------------------

class _Replan(Exception):
    """Raised from the engine's timing hook: a full check does not fit."""

    def __init__(self, t_call):
        super().__init__(t_call)
        self.t_call = t_call


class _Plan:
    """What a budgeted check knows of its loss between stages.

    ``budget`` as given, ``eff_budget`` the one in force (the default with
    ``coords="auto"``), ``t_row`` the seconds per row of a batched call (None
    unbatched), ``workers`` the executor's. ``t_call`` is the time of a loss
    call at params once the engine has timed it (None before).
    :meth:`on_timed` is the engine's timing hook.
    """

    def __init__(self, *, n, n_blocks, budget, eff_budget, auto, directions, t_row,
                 workers, loss, x):
        self.n = n
        self.per_dir = 4 * (1 + n_blocks) if n_blocks > 1 else 4
        self.budget = budget
        self.eff_budget = eff_budget
        self.auto = auto
        self.directions = directions
        self.t_row = t_row
        self.workers = workers
        self.loss = loss            # the counting flat loss, for a re-timing at x
        self.x = x
        self.t_call = None

    def fits(self, t):
        """Whether a full check (and the directions asked for) fits the
        budget at ``t`` seconds per call."""
        t_coord = (self.t_row if self.t_row is not None else t) / self.workers
        directional = self.per_dir * (self.directions or 0) * t
        return 2 * self.n * t_coord + directional <= self.eff_budget

    def on_timed(self, t, first=False):
        """The engine's hook for the time ``t`` of its first (``first``) and
        second call at params: raises :class:`_Replan` when a full check of
        ``coords="auto"`` does not fit."""
        # A call slower than the whole budget is an error at once, from the
        # first call (a jitted loss is compiled before the clock starts):
        # each further call costs as much again, a re-timing 3 to 6 calls
        # (measured: 5 s for budget=0.5 s and a 1 s loss). Otherwise one call
        # can be inflated (first-call costs, other processes on the cores):
        # re-time before deciding against a full check.
        budget, eff_budget = self.budget, self.eff_budget
        if eff_budget is not None and eff_budget < t:
            raise ValueError(
                f"budget={budget if budget is not None else eff_budget!r} s is too small "
                f"for even one loss evaluation, which takes {_fmt_seconds(t)} (measured "
                f"once, on the {'first' if first else 'second'} call at params)")
        if first:
            return
        self.t_call = t
        if self.auto and not self.fits(t):
            t = min(t, time_loss(self.loss, self.x)[0])
            self.t_call = t
        if self.auto and not self.fits(t):
            raise _Replan(t)

    def call_seconds(self, default):
        """:attr:`t_call`, or `default` when the engine has not timed the loss."""
        return default if self.t_call is None else self.t_call


def _single_from_batched(loss, kind):
    """A scalar loss on the user's structure from a vectorized one (one row)."""
    def single(params):
        if kind == "array":
            batch = params[None]
        elif kind == "dict":
            batch = {k: v[None] for k, v in params.items()}
        else:
            seq = [v[None] for v in params]
            batch = tuple(seq) if kind == "tuple" else seq
        values = np.asarray(loss(batch))
        if values.shape != (1,):
            raise ValueError(
                f"vectorized=True: loss must return 1 value for a batch of 1 (shape "
                f"(1,)), got shape {values.shape}")
        # the NumPy scalar, not float(): its dtype is the loss precision
        return values[0]
    return single


def _engine_values(flat, x0, vectorized, executor):
    """The engine's (fp, fm) evaluator, batched and/or on an executor.

    On an executor, :data:`~fastfd.gradcheck._executor.SPOT_CHECKS` coordinates of
    every run (drawn at random) are re-evaluated in this process and must
    give the workers' values; ``values.recheck(prob, index)`` does the same
    for chosen coordinates (the failing ones) after the run.
    """

    seen = {}

    def values(ctx, idx, xp, xm, use_jit, parallel, bar, label):
        x = np.array(x0, copy=True)
        local = executor is None
        fp, fm = coordinate_values(flat, x, idx, xp, xm, vectorized=vectorized,
                                   executor=executor,
                                   tick=bar.update, name=ctx.prob.name if local else None)
        ctx.n_evals += 2 * idx.size
        if not local:
            rng = np.random.default_rng(np.random.SeedSequence(
                [int(idx.size), int(idx[0]), int(idx[-1])]))
            pick = np.sort(rng.choice(idx.size, size=min(SPOT_CHECKS, idx.size),
                                      replace=False))
            seen["eps"] = ctx.eps
            ctx.n_evals += cross_check(flat, x0, idx, xp, xm, fp, fm, pick,
                                       vectorized=vectorized, name=ctx.prob.name,
                                       eps=ctx.eps)
            if label == "h":
                seen.update(zip(idx.tolist(), zip(xp.tolist(), xm.tolist(),
                                                  fp.tolist(), fm.tolist())))
        return fp, fm

    def recheck(prob, index, limit=32):
        """Re-evaluate `index` (at most `limit` of them) here; evaluations made."""
        eps = seen.get("eps")
        index = [i for i in np.asarray(index).tolist() if i in seen][:limit]
        if executor is None or not index:
            return 0
        xp, xm, fp, fm = (np.array(c) for c in zip(*(seen[i] for i in index)))
        sub = np.array(index, dtype=np.intp)
        return cross_check(flat, x0, sub, xp.astype(x0.dtype), xm.astype(x0.dtype), fp, fm,
                           np.arange(sub.size), vectorized=vectorized, name=prob.name,
                           eps=eps)

    values.recheck = recheck
    return values


def _interleaved(index, starts):
    """An order of ``index`` visiting tensors in proportion to their share,
    so that a sample cut short stays stratified."""
    tensor = np.searchsorted(starts, index, side="right") - 1
    rank = np.empty(index.size)
    for t in np.unique(tensor):
        where = np.flatnonzero(tensor == t)
        rank[where] = (np.arange(where.size) + 0.5) / where.size
    return np.argsort(rank, kind="stable")


def _merge(prob, parts, elapsed):
    """One engine result from the results of consecutive chunks."""
    order = np.argsort(np.concatenate([r.index for r in parts]), kind="stable")
    cat = lambda name: np.concatenate([getattr(r, name) for r in parts])[order]  # noqa: E731
    num, ana = cat("numerical"), cat("analytical")
    with np.errstate(invalid="ignore", over="ignore"):
        rel = _norm(ana - num) / (_norm(ana) + _norm(num) + 1e-15)
    first = parts[0]
    return GradCheckResult(
        prob, idx=cat("index"), numerical=num, analytical=ana, abs_errors=cat("abs_errors"),
        rel_errors=cat("rel_errors"), noise=cat("noise"), steps=cat("steps"),
        verdict_codes=cat("_codes"), rel_error=rel, tol=first.tol, dtype=first.dtype,
        n_evals=sum(r.n_evals for r in parts), elapsed=elapsed, f0=first.loss_value,
        nondeterminism=max(r.nondeterminism for r in parts), method=first.method,
        scales=cat("scales"))


def _split_minimum(idx, prob, minimum=MIN_PER_TENSOR):
    """``(must, rest)`` of a sample: per tensor, its ``min(count, minimum)``
    sampled coordinates of largest ``|g|`` (the stratified minimum), and the
    others."""
    blk = prob.block_of(idx)
    mag = np.abs(prob.g[idx])
    mag[np.isnan(mag)] = np.inf
    must = np.zeros(idx.size, dtype=bool)
    for b in np.unique(blk):
        where = np.flatnonzero(blk == b)
        must[where[np.argsort(-mag[where], kind="stable")[:minimum]]] = True
    return idx[must], idx[~must]


def _check_sample(prob, loss, idx, h, tol, parallel, progress, values, deadline, *,
                  chunk=None, on_timed=None, chunk_seconds=None, per_coord=None):
    """:func:`_check_in_chunks`, after the stratified minimum of the sample
    (every tensor ``min(size, 16)``), which runs whatever the clock says: a
    sample cut at the deadline after its first interleaved chunk can leave a
    small tensor (a bias) with none of its coordinates."""
    t0 = _clock()
    must, rest = _split_minimum(idx, prob)
    first_chunk = max(MIN_CHUNK, idx.size // 16) if chunk is None else chunk
    order = _interleaved(idx, np.array([b[1] for b in prob.blocks], dtype=np.intp))
    nb = len(prob.blocks)
    have = np.bincount(prob.block_of(idx[order[:first_chunk]]), minlength=nb)
    if (have >= np.bincount(prob.block_of(must), minlength=nb)).all():
        # the first interleaved chunk holds the minimum already
        done = _check_in_chunks(prob, loss, idx, h, tol, parallel, progress, values,
                                deadline, chunk=chunk, on_timed=on_timed,
                                chunk_seconds=chunk_seconds, per_coord=per_coord)
        if done is None:
            return check_coordinates(prob, loss, must, h, tol, parallel, progress,
                                     values=values)
        # a deadline passed before the first chunk finished can leave a
        # tensor below its minimum: complete it from `must`
        got = np.bincount(prob.block_of(done.index), minlength=nb)
        short = got < np.bincount(prob.block_of(must), minlength=nb)
        if not short.any():
            return done
        missing = must[short[prob.block_of(must)] & ~np.isin(must, done.index)]
        extra = check_coordinates(prob, loss, missing, h, tol, parallel, progress,
                                  values=values)
        return _merge(prob, [done, extra], _clock() - t0)
    t_must = time.perf_counter()
    first = check_coordinates(prob, loss, must, h, tol, parallel, progress, values=values,
                              on_timed=on_timed)
    t_must = time.perf_counter() - t_must
    more = (_check_in_chunks(prob, loss, rest, h, tol, parallel, progress, values, deadline,
                             chunk=chunk, chunk_seconds=chunk_seconds,
                             per_coord=t_must / max(must.size, 1)) if rest.size else None)
    if more is None:
        return first
    return _merge(prob, [first, more], _clock() - t0)


def _check_in_chunks(prob, loss, idx, h, tol, parallel, progress, values, deadline, *,
                     chunk=None, on_timed=None, chunk_seconds=None, per_coord=None):
    """The engine on a sample, in chunks, until ``deadline``.

    The loss can slow down during the run (another process takes the
    cores, a cache fills, a data loader stalls): the clock is read between
    chunks, and each chunk is sized from the time left and the seconds per
    coordinate measured on the chunk before it (``per_coord`` for the first
    one, when known) to use at most half of the time left, so the check
    ends near the deadline even when the loss is now 1000x slower than when
    it was timed. Chunks start at ``chunk``
    coordinates (default ``max(64, size / 16)``) and grow at most
    ``CHUNK_GROWTH`` times per chunk, and, with ``chunk_seconds``, to about
    that many seconds: every engine run costs three evaluations at the
    unperturbed point and re-enters the thread pool and BLAS's thread limit
    (a jitted MSE check, n = 1e4, in 5 chunks of 2048 took 1.25x the time of
    one run; measured). Chunks in interleaved order keep a sample cut short
    stratified. Returns None when the deadline has passed before the first
    chunk.
    """
    t0 = time.perf_counter()
    order = _interleaved(idx, np.array([b[1] for b in prob.blocks], dtype=np.intp))
    size = float(max(MIN_CHUNK, idx.size // 16) if chunk is None else chunk)
    parts = []
    lo = 0
    now = t0
    while lo < idx.size:
        left = deadline - now
        if not left > 0:
            break
        # in floats, clamped before int(): a budget of 1e308 s over a
        # per-coordinate time of 1e-9 s is no count
        k = min(size, float(idx.size - lo))
        if per_coord is not None and per_coord > 0:
            # half of the time left: a rate measured on the chunk before can
            # be wrong for this one (stalls, a slowdown); re-measured, the
            # chunks close in on the deadline
            k = min(k, max(1.0, LEFT_SHARE * left / per_coord))
        k = int(k)
        part = np.sort(idx[order[lo:lo + k]])
        parts.append(check_coordinates(prob, loss, part, h, tol, parallel, progress,
                                       values=values,
                                       on_timed=on_timed if lo == 0 else None))
        lo += part.size
        after = time.perf_counter()
        t_part = after - now
        now = after
        if t_part > 0:
            per_coord = t_part / part.size
        size = CHUNK_GROWTH * part.size
        if chunk_seconds is not None and per_coord:
            size = min(size, max(float(MIN_CHUNK), chunk_seconds / per_coord))
    if len(parts) <= 1:
        return parts[0] if parts else None
    return _merge(prob, parts, time.perf_counter() - t0)


# compile time is measured apart from the budget's clock (``time.perf_counter``
# through the module, which tests replace with scripted clocks)
_clock = time.perf_counter


def _square_sum(y):
    return float(np.sum(np.asarray(y, dtype=np.float64) ** 2))


def compile_kernels(prob, loss, parallel):
    """Compile (or load from Numba's disk cache) the kernels a check of
    `prob` runs for its jitted loss, before the budget clock starts; returns
    the seconds spent.

    For a jitted loss the per-coordinate drivers are compiled for each loss
    (seconds on a cold cache: counted in the budget, they can leave a first
    check no time for any coordinate). The loss is compiled, not run. A Python loss needs
    nothing here; the directional stage loads its kernels when it runs
    (:func:`compile_direction_kernels`).
    """
    t0 = _clock()
    if prob.jitted:
        # (this compiles the loss for the writeable flat array the calls
        # from Python pass too: the first timed call is not a compilation)
        _compile_drivers(loss, prob.x0, parallel is not False)
    elif prob.kind == "array" and _is_jitted(loss):
        # a jitted loss of an n-d array gets read-only views (as in the
        # engine and the directional checks): compiled here, not in the
        # first timed call
        try:
            loss.compile((numba.typeof(prob.views(np.empty_like(prob.x0), True)),))
        except NumbaError:
            pass            # the first call raises it, wrapped and named
    return _clock() - t0


def compile_direction_kernels(dtype):
    """Compile (or load from Numba's disk cache) the directional stage's
    kernels for parameters of `dtype`, on a check of two coordinates of a
    quadratic (no user code runs): ``(seconds, seconds on the budget
    clock)``. Loading them from the cache takes about 0.2 s, so they are
    loaded only for a check that runs directions."""
    t0, b0 = _clock(), time.perf_counter()
    tiny = np.array([1.0, 2.0], dtype=dtype)
    small = FlatProblem(tiny, 2 * tiny, _square_sum)
    x = small.x0.copy()
    check_segment(Counter(_square_sum, base=small.x0), x, small.g,
                  rademacher(np.random.default_rng(0), 2, dtype), 0, 2, _square_sum(x))
    return _clock() - t0, time.perf_counter() - b0


def _pause_for_direction_kernels(prob, t_start):
    """:func:`compile_direction_kernels` while the budget clock runs, with the
    clock paused: ``(t_start moved by the time spent, seconds spent)``."""
    spent, paused = compile_direction_kernels(prob.dtype)
    if prob.confirm_deadline is not None:
        prob.confirm_deadline += paused
    return t_start + paused, spent


def _directions_with_progress(f, x, prob, f0, k, rng, deadline, progress, t_call,
                              localize_deadline=None):
    T = len(prob.blocks)
    total = k * (4 * (1 + T) if T > 1 else 4)
    show = progress_enabled(progress, total * (t_call or 0.0))
    with Progress(total, desc="gradient check (directions)", enabled=show) as bar:
        f.tick = bar.update
        try:
            return check_directions(f, x, prob.g, prob.blocks, f0, k, rng, deadline=deadline,
                                    localize_deadline=localize_deadline)
        finally:
            f.tick = None


def check_gradient_scale(loss, params, grad, *, h=None, tol=None, coords="auto", seed=None,
                         parallel=None, raise_on_fail=False, progress=None, directions=None,
                         budget=None, vectorized=False, executor=None):
    """``fastfd.check_gradient`` with the large-model options (see its docstring)."""

    probe_kind = None
    if vectorized:
        probe_kind = _split(params, "params")[0]
    c_loss = _single_from_batched(loss, probe_kind) if vectorized else loss
    prob, _, h, tol = _iv(c_loss, params, grad, h, tol, "all", seed, parallel,
                            raise_on_fail, progress)
    n, T = prob.n, len(prob.blocks)
    coords, directions, budget = check_scale_options(
        coords, directions, budget, vectorized, executor, progress, n, T)
    # the budget is for the check: it starts once the gradient (a callable
    # may take longer than the budget) and the arguments are ready, and the
    # kernels are compiled (reported apart, as compile_seconds)
    compile_seconds = compile_kernels(prob, c_loss, parallel)
    if directions:
        compile_seconds += compile_direction_kernels(prob.dtype)[0]
    t_start = time.perf_counter()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    flat = StructuredLoss(loss, prob.blocks, prob.kind, prob.keys, batched=vectorized)
    workers = _executor_workers(executor) if executor is not None else 1
    extra_evals = 0
    t_row = None
    if vectorized:
        rows = batch_rows(n, prob.x0.dtype.itemsize)
        probe = np.repeat(prob.x0[None, :], rows, axis=0)
        t0 = time.perf_counter()
        batched_losses(flat, probe)          # also checks the returned shape
        t_row = (time.perf_counter() - t0) / rows
        extra_evals += rows
        del probe
    values = (_engine_values(flat, prob.x0, vectorized, executor)
              if vectorized or executor is not None else None)
    auto = isinstance(coords, str) and coords == "auto"
    eff_budget = DEFAULT_BUDGET if (budget is None and auto) else budget
    # re-checks of suspect coordinates (fastfd.gradcheck._engine._verdicts) stop
    # at the end of the budget
    prob.confirm_deadline = None if eff_budget is None else t_start + eff_budget

    x = np.array(prob.x0, copy=True)
    f = Counter(_batched_flat(flat) if vectorized else flat, base=prob.x0,
                jitted=loss if prob.jitted else None, name=prob.name)
    plan = _Plan(n=n, n_blocks=T, budget=budget, eff_budget=eff_budget, auto=auto,
                 directions=directions, t_row=t_row, workers=workers, loss=f, x=x)

    if auto or (isinstance(coords, str) and coords == "all"):
        idx = np.arange(n, dtype=np.intp)
    elif np.ndim(coords) == 0:
        idx = (np.arange(n, dtype=np.intp) if coords >= n
               else stratified_sample(prob.blocks, prob.g, coords, rng))
    else:
        idx = _check_coords(coords, seed, prob)
    if idx.size < n:
        # a non-finite analytic entry proves the gradient wrong; directions
        # cannot see it (an inf overflows their tolerance and passed), so
        # the first few are checked per coordinate in every mode
        bad = np.flatnonzero(~np.isfinite(prob.g))[:32]
        if bad.size and not np.isin(bad, idx).all():
            idx = np.union1d(idx, bad).astype(np.intp)

    base = None
    rep = None
    mode = "all" if idx.size == n else "sampled"
    try:
        count = not isinstance(coords, str) and np.ndim(coords) == 0
        if ((auto and idx.size > SINGLE_RUN)
                or (count and budget is not None and idx.size > MIN_PER_TENSOR)):
            # a full check that fit when timed still runs against the
            # budget: the loss can slow down 10-100x mid-run when other
            # processes take the cores (measured: a 51k-parameter check planned at 5 s took
            # 300 s; a loss fast for 20 calls and then 5 ms, n = 3000 and
            # budget=1.0, took 21.9 s in a first chunk of 2,048). Chunks in
            # interleaved order, so a check cut short is a stratified sample,
            # the first of 16 coordinates (32 calls: the timing said nothing
            # about the calls after it), the others sized from the time left.
            # A stratified count with a budget likewise.
            base = _check_sample(prob, c_loss, idx, h, tol, parallel, progress, values,
                                 t_start + eff_budget, chunk=MIN_PER_TENSOR,
                                 on_timed=plan.on_timed, chunk_seconds=eff_budget / 8)
            if base.n_checked < idx.size:
                mode = "sampled"
                idx = base.index
        elif idx.size:
            base = check_coordinates(prob, c_loss, idx, h, tol, parallel, progress,
                                     values=values, on_timed=plan.on_timed)
    except _Replan as replan:
        # a full check does not fit the budget: directions (with bisection)
        # first, then a stratified sample sized by the time left
        extra_evals += 2
        mode = "sampled"
        t_call = replan.t_call
        t_coord = (t_row if t_row is not None else t_call) / workers
        f0 = f(x)
        if not directions:
            t_start, spent = _pause_for_direction_kernels(prob, t_start)
            compile_seconds += spent
        # Directions until DIRECTION_SHARE of the budget is spent (all of
        # them when `directions` is given), then a sample until 1 -
        # RESERVE_SHARE. Deadlines rather than counts from the timing: the
        # first calls of a process, or other processes on the cores, can make
        # one timed call 10-100x slower than the calls that follow.
        if directions is None:
            k, deadline = MAX_DIRECTIONS, t_start + eff_budget * DIRECTION_SHARE
        else:
            k, deadline = directions, None
        # bisection of a dense bug stops at the end of the budget (what is
        # left is reported as failing ranges): without that deadline it
        # measured 16 s for a 10 s budget
        rep = _directions_with_progress(f, x, prob, f0, k, rng, deadline,
                                        progress, t_call, t_start + eff_budget)
        # the sample is sized from what a loss call costs now, and is never
        # below the stratified minimum (every tensor min(size, 16))
        slow = (f.seconds / max(f.n, 1)) / max(t_call, 1e-12)
        left = t_start + eff_budget * (1.0 - RESERVE_SHARE) - time.perf_counter()
        minimum = int(sum(min(b - a, MIN_PER_TENSOR) for _, a, b, _ in prob.blocks))
        per_coord = max(2 * t_coord * slow, 1e-12)
        m = max(minimum, int(min(n, max(0.0, left) / per_coord)))
        idx = stratified_sample(prob.blocks, prob.g, m, rng)
        base = _check_sample(prob, c_loss, idx, h, tol, parallel, progress, values,
                             t_start + eff_budget * (1.0 - RESERVE_SHARE), per_coord=per_coord)
        idx = base.index
    if executor is not None and base is not None:
        # every coordinate the workers' values fail (or leave undecided) is
        # re-evaluated in this process: they must agree before it is reported
        extra_evals += values.recheck(prob, base.index[base._codes != 0])
    if rep is None:
        if directions is None and budget is not None and base is not None:
            spare = budget - (time.perf_counter() - t_start)
            t_dir = plan.per_dir * max(plan.call_seconds(base.elapsed), 1e-12)
            k = int(min(MAX_DIRECTIONS, max(0.0, spare * DIRECTION_SHARE / t_dir)))
        else:
            k = directions or 0
        if k:
            f0 = base.loss_value if base is not None else f(x)
            if not directions:
                t_start, spent = _pause_for_direction_kernels(prob, t_start)
                compile_seconds += spent
            # with a budget, no direction starts after it (at least one runs)
            end = None if eff_budget is None else t_start + eff_budget
            rep = _directions_with_progress(
                f, x, prob, f0, k, rng, end if budget is not None else None,
                progress, plan.call_seconds(0.0), end)
    if tol is None:
        tol = DEFAULT_TOL[np.dtype(prob.dtype)]
    result = GradCheckResult._of_stages(
        prob, base, rep, mode=mode, tol=tol,
        n_evals=extra_evals + f.n + (base.n_evals if base is not None else 0),
        elapsed=time.perf_counter() - t_start, t_call=plan.t_call)
    # seconds spent compiling (or loading) kernels with the budget clock
    # stopped; not part of `elapsed`
    result.compile_seconds = compile_seconds
    if raise_on_fail and not result.passed:
        raise GradientCheckError(result)
    return result

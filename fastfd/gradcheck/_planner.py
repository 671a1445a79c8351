"""The one pipeline of ``check_gradient``: compile, time the loss, plan, and
run the stages the plan calls for.

Budgets
-------
Every check runs the same stages. The kernels a check needs are compiled
(or loaded from Numba's disk cache) before the budget clock starts; then
the loss is timed at params (:func:`fastfd.gradcheck._engine.start`, the
first two evaluations of every engine run), and :class:`Plan` decides:

* explicit coordinates, "all", or a count: those coordinates (a count
  with a `budget` in interleaved chunks against it);
* ``coords="auto"``: a full check (``2n`` evaluations) when it fits the
  budget (10 s by default); above 512 coordinates it runs in interleaved
  chunks (16 coordinates first, then each sized from the time left and the
  rate measured on the chunk before) and stops at the budget, so a loss
  that slows down mid-run gives a stratified partial check, not an overrun.
  When it does not fit: directional checks (with bisection of failing
  tensors) until 45% of the budget is spent, at most 64 directions of
  ``4 (1 + tensors)`` evaluations each; then a stratified sample sized to
  end at 75%, from what a loss call costs at that moment; the last 25% is
  the reserve for confirming failing coordinates;
* then directions: the number asked for, or with a `budget` and no
  `directions`, as many as the time left allows.

The budget is a target, not a hard stop: confirming and localizing a
failure found late may go over it, because a failure is never dropped to
save time. Deadlines, not counts computed from the first timing: the first
calls of a process, or another process on the cores (a 0.05 ms call whose
BLAS threads contend with it for 2 cores averaged 7.7 ms), can make a
timed call 10-100x slower than the calls that follow.

The per-coordinate stage is the engine of ``fastfd.gradcheck._engine`` (its
tolerance model and diagnosis), fed by the batched or distributed
evaluators of ``fastfd.gradcheck._executor``; samples and chunked runs are
``fastfd.gradcheck._sampling``; directions and bisection
``fastfd.gradcheck._directions``.
"""

from __future__ import annotations

import time

import numba
from numba.core.errors import NumbaError
import numpy as np

from ._directions import Counter, check_directions, check_segment, rademacher
from ._engine import DEFAULT_TOL, _compile_drivers, check_coordinates, start
from ._executor import (StructuredLoss, _executor_workers, batch_rows, batched_losses,
                        engine_values)
from ._params import FlatProblem, LossReturnError, _is_jitted, jit_return_type
from ._progress import Progress, progress_enabled
from ._result import GradCheckResult, _fmt_seconds
from ._sampling import MIN_PER_TENSOR, check_sample, merge_results, stratified_sample

__all__ = ["DEFAULT_BUDGET", "MAX_DIRECTIONS", "Plan", "run", "time_loss"]

DEFAULT_BUDGET = 10.0
MAX_DIRECTIONS = 64
# directions run after a full check the budget cut short (see run)
CUT_DIRECTIONS = 4
# non-finite analytic entries checked per coordinate when directions run
NONFINITE_CHECKED = 32
DIRECTION_SHARE = 0.45
RESERVE_SHARE = 0.25
# A full check of more than SINGLE_RUN coordinates runs in chunks against
# the budget (see fastfd.gradcheck._sampling.check_in_chunks). Up to 512
# coordinates (1,024 calls) it is one engine run.
SINGLE_RUN = 512
# An explicit check of fewer coordinates than this runs the serial kernel
# of a jitted loss (fastfd.gradcheck._engine.check_coordinates).
PARALLEL_MIN_COORDS = 16


def time_loss(f, x, *, repeats=3):
    """``(seconds per call, f(x))``: the fastest of three calls, or of
    ``repeats`` more when the first looks inflated.

    The first call often pays for imports, caches, thread-pool start-up or
    JIT compilation; when it took more than 1.5x the fastest of the next two,
    ``repeats`` more calls are timed. The minimum is the cost of a call
    undisturbed by other processes; a loaded machine makes the check slower
    than timed, which the deadlines of :func:`run` absorb.
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


def evaluations_per_direction(n_blocks):
    """Loss evaluations of one direction: +-h and +-2h over all coordinates,
    and within each tensor when there are several."""
    return 4 * (1 + n_blocks) if n_blocks > 1 else 4


class Plan:
    """What a check knows of its loss between stages, and what it decides.

    ``budget`` as given, ``eff_budget`` the one in force (the default with
    ``coords="auto"``), ``t_row`` the seconds per row of a batched call
    (None unbatched), ``workers`` the executor's. :meth:`timed` takes the
    engine's first stage and sets ``t_call`` (the time of a loss call at
    params) and ``full`` (whether the coordinates asked for run, or
    ``coords="auto"`` turns to directions and a sample).
    """

    def __init__(self, *, n, n_blocks, budget, eff_budget, auto, directions, t_row,
                 workers, loss, x):
        self.n = n
        self.per_dir = evaluations_per_direction(n_blocks)
        self.budget = budget
        self.eff_budget = eff_budget
        self.auto = auto
        self.directions = directions
        self.t_row = t_row
        self.workers = workers
        self.loss = loss            # the counting flat loss, for a re-timing at x
        self.x = x
        self.t_call = None
        self.full = True

    def fits(self, t):
        """Whether a full check (and the directions asked for) fits the
        budget at ``t`` seconds per call."""
        t_coord = (self.t_row if self.t_row is not None else t) / self.workers
        directional = self.per_dir * (self.directions or 0) * t
        return 2 * self.n * t_coord + directional <= self.eff_budget

    def timed(self, ctx):
        """Plan from the engine's first stage `ctx` (its timed calls at params)."""
        # A call slower than the whole budget is an error at once, from the
        # first call (a jitted loss is compiled before the clock starts):
        # each further call costs as much again, a re-timing 3 to 6 calls
        # (measured: 5 s for budget=0.5 s and a 1 s loss). Otherwise one call
        # can be inflated (first-call costs, other processes on the cores):
        # re-time before deciding against a full check.
        first = ctx.f0b is None
        t = ctx.t_first if first else ctx.t_call
        if self.eff_budget is not None and (first or self.eff_budget < t):
            what = (f"budget={self.budget!r} s" if self.budget is not None else
                    f"the default budget of {self.eff_budget!r} s (coords='auto')")
            raise ValueError(
                f"{what} is too small for even one loss evaluation, which "
                f"takes {_fmt_seconds(t)} (measured once, on the "
                f"{'first' if first else 'second'} call at params)")
        self.t_call = t
        if self.auto and not self.fits(t):
            t = min(t, time_loss(self.loss, self.x)[0])
            self.t_call = t
        self.full = not (self.auto and not self.fits(t))

    def call_seconds(self, default):
        """:attr:`t_call`, or `default` when the loss has not been timed."""
        return default if self.t_call is None else self.t_call


# compile time is measured apart from the budget's clock (``time.perf_counter``
# through the module, which tests replace with scripted clocks)
_clock = time.perf_counter


def _square_sum(y):
    return float(np.sum(np.asarray(y, dtype=np.float64) ** 2))


def compile_kernels(prob, loss, parallel):
    """Compile (or load from Numba's disk cache) the kernels a check of
    `prob` runs for its jitted loss, before the budget clock starts; returns
    the seconds spent. `parallel`: whether the parallel driver may run.

    For a jitted loss the per-coordinate drivers are compiled for each loss
    (seconds on a cold cache: counted in the budget, they can leave a first
    check no time for any coordinate). The loss is compiled, not run. A
    Python loss needs nothing here; the directional stage loads its kernels
    when it runs (:func:`compile_direction_kernels`).
    """
    t0 = _clock()
    if prob.jitted:
        # the loss alone first: one that returns an array would otherwise
        # surface as Numba's typing error inside the drivers
        try:
            loss.compile((numba.typeof(prob.x0),))
        except NumbaError:
            pass            # the first call raises it, wrapped and named
        rt = jit_return_type(loss, prob.x0)
        if rt is not None and not isinstance(rt, (numba.types.Float, numba.types.Integer)):
            raise LossReturnError(
                f"loss must return a real scalar, got a value of Numba type {rt} for a "
                f"{prob.x0.dtype} array of {prob.n} parameters")
        # (this compiles the loss for the writeable flat array the calls
        # from Python pass too: the first timed call is not a compilation)
        _compile_drivers(loss, prob.x0, parallel)
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
    total = k * evaluations_per_direction(len(prob.blocks))
    show = progress_enabled(progress, total * (t_call or 0.0))
    with Progress(total, desc="gradient check (directions)", enabled=show) as bar:
        f.tick = bar.update
        try:
            return check_directions(f, x, prob.g, prob.blocks, f0, k, rng, deadline=deadline,
                                    localize_deadline=localize_deadline)
        finally:
            f.tick = None


def _check_nonfinite(prob, loss, base, h, tol, parallel, values):
    """`base` joined by a per-coordinate check of the first
    :data:`NONFINITE_CHECKED` non-finite analytic entries it lacks: they
    prove the gradient wrong, and directions cannot see them (an inf or nan
    in ``grad . v`` leaves no tolerance to exceed)."""
    bad = np.flatnonzero(~np.isfinite(prob.g))
    if base is not None:
        bad = bad[~np.isin(bad, base.index)]
    bad = bad[:NONFINITE_CHECKED]
    if not bad.size:
        return base
    extra = check_coordinates(prob, loss, bad.astype(np.intp), h, tol, parallel, False,
                              values=values)
    if base is None:
        return extra
    return merge_results(prob, [base, extra], base.elapsed + extra.elapsed)


def _first_index(args, rng):
    """The coordinates the call asks for: every one ("auto", "all"), a
    stratified sample (a count) or the explicit indices. A sample is joined
    by the first few non-finite analytic entries, which prove the gradient
    wrong and which directions cannot see (an inf overflows their
    tolerance)."""
    prob, coords = args.problem, args.coords
    n = prob.n
    if isinstance(coords, str) or (isinstance(coords, int) and coords >= n):
        return np.arange(n, dtype=np.intp)
    if isinstance(coords, np.ndarray):
        return coords
    idx = stratified_sample(prob.blocks, prob.g, coords, rng)
    bad = np.flatnonzero(~np.isfinite(prob.g))[:NONFINITE_CHECKED]
    if bad.size and not np.isin(bad, idx).all():
        idx = np.union1d(idx, bad).astype(np.intp)
    return idx


def run(args):
    """Check the gradient of validated arguments `args`
    (``fastfd.gradcheck._arguments.Arguments``): a :class:`GradCheckResult`."""
    prob, loss, h, tol = args.problem, args.point_loss, args.h, args.tol
    parallel, progress, directions, budget = (args.parallel, args.progress, args.directions,
                                              args.budget)
    vectorized, executor = args.vectorized, args.executor
    n, T = prob.n, len(prob.blocks)
    auto = isinstance(args.coords, str) and args.coords == "auto"
    count = isinstance(args.coords, int)
    rng = args.seed if isinstance(args.seed, np.random.Generator) else (
        np.random.default_rng(args.seed))
    idx = _first_index(args, rng)
    # a vector check shares its default budget among its projections
    default = getattr(args, "default_budget", DEFAULT_BUDGET)
    eff_budget = default if (budget is None and auto) else budget
    chunked = (auto and idx.size > SINGLE_RUN) or (
        count and budget is not None and idx.size > MIN_PER_TENSOR)

    # the budget is for the check: it starts once the gradient (a callable
    # may take longer than the budget) and the arguments are ready, and the
    # kernels are compiled (reported apart, as compile_seconds)
    may_run_parallel = parallel is not False and (
        parallel or auto or chunked or idx.size >= PARALLEL_MIN_COORDS)
    compile_seconds = compile_kernels(prob, loss, may_run_parallel)
    if directions:
        compile_seconds += compile_direction_kernels(prob.dtype)[0]
    t_start = time.perf_counter()
    flat = StructuredLoss(args.loss, prob.blocks, prob.kind, prob.keys, batched=vectorized)
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
    values = (engine_values(flat, prob.x0, vectorized, executor)
              if vectorized or executor is not None else None)
    # re-checks of suspect coordinates (fastfd.gradcheck._engine._verdicts) stop
    # at the end of the budget
    prob.confirm_deadline = None if eff_budget is None else t_start + eff_budget

    x = np.array(prob.x0, copy=True)
    f = Counter(StructuredLoss(loss, prob.blocks, prob.kind, prob.keys), base=prob.x0,
                jitted=loss if prob.jitted else None, name=prob.name,
                magnitude=prob.magnitude)
    plan = Plan(n=n, n_blocks=T, budget=budget, eff_budget=eff_budget, auto=auto,
                directions=directions, t_row=t_row, workers=workers, loss=f, x=x)

    base = rep = None
    cut = False
    mode = "all" if idx.size == n else "sampled"
    # every check starts with the loss timed at params (errors for a loss
    # slower than the budget or not finite there come from here)
    ctx = start(prob, loss, limit=eff_budget, calls=2 if idx.size else 1)
    plan.timed(ctx)
    if not idx.size:
        extra_evals += ctx.n_evals
    if plan.full and chunked:
        # a full check that fit when timed still runs against the budget:
        # the loss can slow down 10-100x mid-run when other processes take
        # the cores (measured: a 51k-parameter check planned at 5 s took
        # 300 s; a loss fast for 20 calls and then 5 ms, n = 3000 and
        # budget=1.0, took 21.9 s in a first chunk of 2,048). Chunks in
        # interleaved order, so a check cut short is a stratified sample,
        # the first of 16 coordinates (32 calls: the timing said nothing
        # about the calls after it), the others sized from the time left.
        # A stratified count with a budget likewise.
        base = check_sample(prob, loss, idx, h, tol, parallel, progress, values,
                            t_start + eff_budget, chunk=MIN_PER_TENSOR, ctx=ctx,
                            chunk_seconds=eff_budget / 8)
        if base.n_checked < idx.size:
            mode = "sampled"
            idx = base.index
            cut = True
    elif plan.full and idx.size:
        base = check_coordinates(prob, loss, idx, h, tol, parallel, progress,
                                 values=values, ctx=ctx)
    elif not plan.full:
        # a full check does not fit the budget: directions (with bisection)
        # first, then a stratified sample sized by the time left
        extra_evals += ctx.n_evals
        mode = "sampled"
        t_call = plan.t_call
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
        base = check_sample(prob, loss, idx, h, tol, parallel, progress, values,
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
        # a full check cut short by the budget has sampled the coordinates:
        # a few directions, past the budget, still see every one of them
        floor = CUT_DIRECTIONS if cut and directions is None and not count else 0
        k = max(k, floor)
        if k:
            f0 = base.loss_value if base is not None else ctx.f0
            if not directions:
                t_start, spent = _pause_for_direction_kernels(prob, t_start)
                compile_seconds += spent
            # with a budget, no direction starts after it (at least one runs)
            end = None if eff_budget is None else t_start + eff_budget
            rep = _directions_with_progress(
                f, x, prob, f0, k, rng, end if budget is not None and not floor else None,
                progress, plan.call_seconds(0.0), None if floor else end)
    if rep is not None:
        base = _check_nonfinite(prob, loss, base, h, tol, parallel, values)
    if tol is None:
        tol = DEFAULT_TOL[np.dtype(prob.dtype)]
    result = GradCheckResult._of_stages(
        prob, base, rep, mode=mode, tol=tol,
        n_evals=extra_evals + f.n + (base.n_evals if base is not None else 0),
        elapsed=time.perf_counter() - t_start, t_call=plan.t_call)
    # seconds spent compiling (or loading) kernels with the budget clock
    # stopped; not part of `elapsed`
    result.compile_seconds = compile_seconds
    return result

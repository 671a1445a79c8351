"""check_gradient: validate the arguments (fastfd.gradcheck._arguments), then
run the one pipeline of stages (fastfd.gradcheck._planner)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike

from ._arguments import check_arguments
from ._planner import run
from ._result import GradCheckResult, GradientCheckError

__all__ = ["check_gradient"]


def check_gradient(loss: Callable[..., Any], params: Any, grad: Any, *,
                   h: ArrayLike | None = None, tol: float | None = None,
                   coords: str | int | ArrayLike = "auto", seed: Any = None,
                   parallel: bool | None = None, raise_on_fail: bool = False,
                   progress: bool | None = None, directions: int | None = None,
                   budget: float | None = None, vectorized: bool = False,
                   executor: Any = None) -> GradCheckResult:
    """Check an analytic gradient against centered differences, coordinate by coordinate.

    The common call is ``result = check_gradient(loss, params, grad)``, with
    `params` an array or a dict/list of arrays and `grad` the same structure.
    ``result.status`` is "passed" (every checked coordinate agrees with the
    finite differences to `tol` of its scale, or within their noise),
    "failed" (the gradient is wrong: ``result.failures()`` names the
    coordinates, each confirmed at several steps) or "inconclusive" (the
    check could not decide, and ``result.undecided()`` and the report say
    why and what would help). ``print(result)`` is the report; ``bool(result)``
    is True only for "passed". Large models are checked within `budget`
    seconds by directions, a stratified sample and bisection (Notes).

    >>> import numpy as np
    >>> import fastfd
    >>> w = np.array([1.0, -2.0, 0.5])
    >>> fastfd.check_gradient(lambda p: float(np.sum(p ** 3)), w, 3 * w ** 2).status
    'passed'

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
        default ``optimal_step(x_i)``: ``eps**(1/3) * max(1,
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
        Raise :class:`GradientCheckError` (carrying the result) unless the
        check passed: when it failed, and when it was inconclusive.
    progress : bool, optional
        Show progress (tqdm when installed). Default: only on a terminal and
        for checks expected to take over ~2 s.
    directions : int, optional
        Number of random Rademacher (+-1) directions ``v``; along each,
        ``grad . v`` is compared with the centered difference of the loss,
        over all coordinates and within each tensor, and a failing tensor is
        bisected down to its wrong coordinates. Default: planned from the
        budget when a full check does not fit; with an explicit `budget`,
        also as many as the time left after the coordinates allows (up to
        64: their tolerance, set by the noise along each direction, is far
        tighter than per coordinate); and 4 when a full check is cut short
        at the budget (they see every coordinate the sample missed). None
        otherwise.
    budget : float, optional
        Seconds to spend. The loss is timed and the check planned to fit,
        with the clock read between chunks of work: a target, not a hard
        stop. Default 10 s with ``coords="auto"``; a budget smaller than one
        loss evaluation is an error that says how long one takes. The clock
        starts once the gradient is computed and Numba's kernels are
        compiled, and stops while the directional kernels load (both
        reported apart as ``compile_seconds``). Bisection and the
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
        ``status``, ``passed``, errors, the per-coordinate and per-tensor
        tables and the diagnosis of every failing coordinate; ``str()`` is a
        compact report. Also ``coverage`` ("checked 3,072 of 1,002,570
        coordinates in 6 tensors and 64 directions"), ``mode``,
        ``n_directions``, ``localized`` (wrong coordinates found by
        bisection, with their numerical and analytical values),
        ``direction_failures``, ``unresolved``, ``nonsmooth`` and
        ``full_check_seconds`` (measured per-call time x 2n), present on
        every result.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, structure or shape mismatch between `params` and
        `grad`, empty or non-numeric params, a loss returning a non-scalar,
        a loss that modifies its input.
    LossEvaluationError
        The loss raised; the message names the coordinate being perturbed.
    GradientCheckError
        With ``raise_on_fail=True``, when the check did not pass.

    Notes
    -----
    **The differences.** For each checked flat coordinate ``i`` with step
    ``h_i`` the numerical derivative is ``(f(x + h_i e_i) - f(x - h_i e_i)) /
    ((x_i + h_i) - (x_i - h_i))``: the denominator is the realized step,
    exact whatever the additions rounded to. The coordinate is perturbed in
    place in one private flat copy of the parameters and restored by
    assignment; the loss sees the user's structure through views of that
    copy. The user's arrays are never modified, also when the loss raises
    or the check is interrupted.

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
    s_i`` (for a tensor whose gradient is zero to roundoff, 64 ulps of the
    whole gradient's RMS or less, that second test uses the whole
    gradient's RMS: an unused parameter's zero gradient passes, while an
    analytic zero next to a numerical 1 still fails the first): it is then verified to ``max(tol, noise_i / s_i)`` of its scale,
    the "resolution" shown per tensor in the report. A coordinate whose
    noise exceeds 5% of its scale cannot be verified: it is re-checked at
    ``16h`` and ``32h`` (roundoff 16x smaller, truncation estimated from the
    two steps) and is inconclusive ("loss resolution") if that does not
    help either; a discrepancy only those steps resolve fails only if it
    holds at ``8h`` and ``4h`` too, visible above their noise, and the
    one-sided slopes do not bend as at a kink (a ReLU within ``32h`` of the
    point gives a discrepancy the two large steps agree on); ``1e12 + sum(p**2)`` leaves no digits for the change. A
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
    A grid only a few of the values' own ulps wide is not recognised (a
    loss rounded to 1e-5 and returned in float32 near 20, where float32's
    ulp is 1.9e-6: 3 false failures in 2,400 random rounded losses); return
    the loss unrounded, or in float64, when its gradient is checked.
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
    other candidates, the weakest included (at most 256 tried in all). When
    at most one of those is not confirmed, the failure is dense and the
    other candidates of the tensor follow; otherwise every
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
    ``fastfd.gradcheck._directions``, ``fastfd.gradcheck._planner`` and
    ``fastfd.gradcheck._sampling`` for the derivations.

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
    args = check_arguments(loss, params, grad, h=h, tol=tol, coords=coords, seed=seed,
                           parallel=parallel, raise_on_fail=raise_on_fail, progress=progress,
                           directions=directions, budget=budget, vectorized=vectorized,
                           executor=executor)
    result = run(args)
    if raise_on_fail and not result.passed:
        raise GradientCheckError(result)
    return result

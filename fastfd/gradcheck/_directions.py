"""Directional gradient checks, and bisection that localizes a wrong coordinate.

Directional check
-----------------
For a Rademacher direction ``v`` (entries +1/-1 with equal probability) and a
block ``S`` of coordinates (all of them, or one tensor, or part of one), the
loss along the line ``x + t v_S`` has derivative ``g_S . v_S`` at ``t = 0``.
The check evaluates the loss at ``t = +-h`` and ``t = +-2h`` (four
evaluations, plus ``f(x)`` shared by all checks) and compares

* ``D(h) = (f(+h) - f(-h)) / 2h`` with ``a(h) = g . (x_+ - x_-) / 2h``, the
  analytic slope over the *realized* displacement (so rounding of ``x + h v``
  cannot show up as a gradient error);
* the same at ``2h``.

Tolerance. With a correct gradient the discrepancy ``d(h) = D(h) - a(h)`` is
truncation ``c h**2`` plus roundoff; ``d(2h) = 4 c h**2 + ...``, so
``|d(2h) - d(h)| / 3`` estimates the truncation part along *this* direction,
whatever the model. Roundoff of ``D(h)`` is about ``eps |f| / h``; the
analytic slope carries about ``eps ||g_S||`` from the rounding of ``g``
itself. A block fails when ``|d(h)|`` exceeds ``SAFETY = 8`` times the sum.
This is far tighter than a per-coordinate tolerance: on the float64 MLP of
``examples/mlp_1m.py`` (51k and 1M parameters) the tolerance of a
whole-tensor direction is 1e-8 to 1e-7 of ``|g_S . v_S|``, while one
coordinate of W1 off by the median gradient magnitude moves ``g_S . v_S`` by
about 2e-3 of it (measured: discrepancy over tolerance about 2e5).

Detection power. Let ``e`` be the error of the analytic gradient in block
``S`` and ``tau`` the block's directional tolerance. The discrepancy along
``v`` is ``e . v``. If any single coordinate has ``|e_i| > tau``, then for
every sign pattern of the other coordinates, flipping ``v_i`` moves ``e . v``
by ``2|e_i| > 2 tau``, so at most one of the two patterns lands inside
``(-tau, tau)``: each direction detects the error with probability at least
1/2, and ``k`` independent directions miss it with probability at most
``2**-k`` (1/256 for k = 8, 1.5e-5 for k = 16, 5e-20 for k = 64). This holds
whatever the fraction of wrong coordinates: one wrong entry among a million,
or every entry scaled by ``1 + r`` (then ``e . v = r g . v`` and the bound
applies with ``|e_i| = r |g_i|``). For a single wrong coordinate ``e . v`` is
``+-e_i`` in every direction, so each direction detects it with probability 1.

Non-smooth points. When the segment ``[-2h, 2h]`` crosses a kink (ReLU,
abs, max), the centered difference is not the derivative. With
``R - L = (f(+h) + f(-h) - 2 f(0)) / h`` (right minus left slope), a smooth
loss has ``(R - L)(h) = (R - L)(2h) / 2`` up to ``O(h**3)``; a kink crossed at
distance ``s < h`` gives a difference of ``|2h - 3s| / 4h`` times the slope
jump, while the discrepancy it causes is ``(h - s) / 2h`` times the jump. A
kink that makes a block fail (``s < 3h/7`` at ``SAFETY = 8``) therefore
always shows ``|(R - L)(h) - (R - L)(2h)/2| > |d(h)| / 4``: such blocks are
reported as "non-smooth point", re-checked once with ``h/16`` (which steps
over kinks farther than ``h/8``), and never as "gradient wrong".

Confirmation. A failing whole-block check and a failing single coordinate are
re-checked with a 4x larger step: a wrong gradient gives the same
discrepancy (within half of it), finite-difference trouble does not
("finite-difference noise", reported, not a failure).

Bisection. A failing block is split in halves; each half is checked along
the same direction restricted to it (four evaluations per half) and every
failing half is followed, depth first, down to single coordinates. A wrong
coordinate in a block of ``n`` costs about ``8 log2(n)`` evaluations (about
160 for ``n = 1e6``). At most ``max_coords`` (32) coordinates are localized
per block; a failing block whose halves both pass (errors spread too thin to
show in either half) is reported as an unlocalized failing range, so a
failing direction never passes silently.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._result import Verdict
from ._scale import norm, rms
from ._engine import RESOLUTION_LIMIT, tensor_scale
from ._executor import evaluate_loss
from ._params import (LossEvaluationError, input_write_error, loss_precision, readonly_alias,
                    same_values)
from ._quantize import (GRID_COARSE, GRID_PROBE, GRID_ULPS, _find_grid, _follow_flat,
                        _quantum_of)
from .._kernels.directions import realized_dots as _realized_dots
from .._kernels.directions import shift as _shift
from .._kernels.directions import sum_squares as _sum_squares
from ..steps import check_precision, check_steps

__all__ = [
    "SAFETY", "SegmentCheck", "Localization", "DirectionReport", "Counter",
    "rademacher", "check_segment", "localize", "check_directions", "confirm_small",
]

SAFETY = 8.0
KINK_FRACTION = 0.25
STABLE_FRACTION = 0.5
CONFIRM_SCALE = 4.0
KINK_RETRY_SCALE = 1.0 / 16.0

# the verdicts of a directional check, named as the per-coordinate ones
OK, WRONG, NOISE, NONSMOOTH, NONFINITE, RESOLUTION = (
    v.label for v in (Verdict.OK, Verdict.WRONG, Verdict.NOISE, Verdict.NONSMOOTH,
                      Verdict.NONFINITE_LOSS, Verdict.RESOLUTION))

# As per coordinate (RESOLUTION_LIMIT, fastfd.gradcheck._engine): a direction
# whose noise bound exceeds this fraction of the scale of g . v cannot verify it.


class Counter:
    """A flat loss that counts its evaluations and reports progress.

    ``base``, when given, is the unperturbed point (read only): checks then
    restore blocks from it instead of copying them first. ``jitted``, when
    given, is the user's Numba-jitted loss behind `loss` (a flat loss of one
    1-D array), ``name(i)`` names flat coordinate ``i`` in errors. After the
    first call, ``dtype`` is the precision of the loss values
    (``fastfd.gradcheck._params.loss_precision``; None when they do not say).
    """

    where = "in the directional checks"

    def __init__(self, loss, tick=None, base=None, *, jitted=None, name=None,
                 magnitude=None):
        self.loss = loss
        # the size of a loss value its roundoff scales with (None: |f|; see
        # fastfd.gradcheck._engine._magnitude)
        self.magnitude = magnitude
        self.tick = tick
        self.base = base
        self.jitted = jitted
        self.name = name
        self.n = 0
        self.seconds = 0.0      # spent inside the loss
        self.dtype = None
        self._first = True
        self._scratch = self._arg = None

    def __call__(self, x):
        # The loss gets its own copy of x, compared with x after the call:
        # a write through a raw pointer (ctypes, a C extension) or from
        # compiled code is caught at the call, before the check restores the
        # block it perturbed (which would erase it). A Python loss sees a
        # read-only alias of the copy (a write fails at the write); a jitted
        # loss a writeable array, as on the per-coordinate path (a read-only
        # one compiles a second specialization, and one that writes fails
        # Numba's typing). Copy and comparison cost two passes over x
        # (measured at n = 1e6: 0.17 ms + 0.46 ms, sum(x * x) 0.42 ms).
        s = self._scratch
        if s is None or s.shape != x.shape or s.dtype != x.dtype:
            s = self._scratch = np.empty_like(x)
            self._arg = s if self.jitted is not None else readonly_alias(s)
        np.copyto(s, x)
        self.n += 1
        t0 = time.perf_counter()
        if self._first:
            value, raw = evaluate_loss(self.loss, self._arg, self.where, s, self.name,
                                       raw=True)
            self.dtype = loss_precision(raw, self.jitted, self._arg)
            self._first = False
        else:
            value = evaluate_loss(self.loss, self._arg, self.where, s, self.name)
        self.seconds += time.perf_counter() - t0
        # bitwise first (one pass, NaN-safe): 0.46 ms at n = 1e6 against
        # 1.26 ms for the NaN-aware comparison, which only names the entry
        bits = np.dtype(f"u{x.dtype.itemsize}")
        i = -1 if np.array_equal(s.view(bits), x.view(bits)) else same_values(s, x)
        if i >= 0:
            what = self.name(i) if self.name is not None else f"flat coordinate {i}"
            raise input_write_error(self.where, what, x[i].item(), s[i].item())
        if self.tick is not None:
            self.tick(1)
        return value


@dataclass
class SegmentCheck:
    """One directional check of the coordinates ``start:stop``."""

    start: int
    stop: int
    direction: int
    step: float
    numerical: float
    analytical: float
    discrepancy: float
    tolerance: float
    kink: float
    verdict: str
    n_evals: int
    sign: float = 1.0
    scale: float = 1.0
    confirmed: bool = False     # the failure survived a step 16x smaller
    gscale: float = None        # RMS of the gradient over the segment's tensor
    # (displacement along v, loss there minus the loss at x) at +-h, +-2h
    samples: tuple = ()

    @property
    def failed(self):
        return self.verdict in (WRONG, NONFINITE)


@dataclass
class Localization:
    """Outcome of bisecting one failing block."""

    coordinates: list = field(default_factory=list)   # SegmentCheck of size 1
    unresolved: list = field(default_factory=list)    # SegmentCheck of failing blocks
    nonsmooth: list = field(default_factory=list)
    undecided: list = field(default_factory=list)     # single coordinates not confirmed
    truncated: bool = False
    n_evals: int = 0


def rademacher(rng, n, dtype=np.float64):
    """``n`` independent +1/-1 entries with equal probability."""
    v = rng.integers(0, 2, size=n, dtype=np.int8)
    out = np.empty(n, dtype=dtype)
    np.multiply(v, 2, out=out)
    out -= 1
    return out


def _precision(f, dtype):
    """``(eps, check_dtype)`` of the lower of the parameters' and the loss's
    precision (the counting loss learns the latter from its first value)."""
    return check_precision(dtype, getattr(f, "dtype", None))


def _loss_eps(f, dtype):
    """The eps of :func:`_precision`."""
    return _precision(f, dtype)[0]


def _segment_step(seg, dtype, scale, precision=None):
    # the per-coordinate rule (fastfd.steps.check_steps) at the RMS of the
    # segment; precision: check_precision's (eps, check_dtype), default
    # that of dtype alone
    rms = norm(seg, _sum_squares) / math.sqrt(max(seg.size, 1))
    eps, check = check_precision(dtype) if precision is None else precision
    h = float(check_steps(np.asarray(rms, dtype=dtype), eps, check))
    return h * scale


def check_segment(f, x, g, v, start, stop, f0, *, direction=-1, scale=1.0, base=None,
                  gscale=None):
    """Check ``g[start:stop] . v[start:stop]`` against the loss along it.

    ``x`` is a private flat vector: the block is perturbed in place and
    restored by assignment from ``base`` (the unperturbed point; a copy of
    the block is taken when it is not given). ``f`` is the (counting) flat
    loss, ``f0 = f(x)``. ``gscale`` is the RMS of the analytic gradient
    over the segment's tensor (default: over all of ``g``, computed only
    when needed): ``gscale * sqrt(stop - start)`` is the floor of the scale
    of ``g . v`` the noise bound is compared with, as the tensor's RMS is
    per coordinate. Returns a :class:`SegmentCheck`; ``verdict`` is "ok",
    "gradient wrong", "non-smooth point", "non-finite loss" or "loss
    resolution" (one check, no confirmation).
    """
    dtype = x.dtype
    if base is None:
        base = getattr(f, "base", None)
    seg = x[start:stop].copy() if base is None else base[start:stop]
    vs = v[start:stop]
    gs = g[start:stop]
    out = x[start:stop]
    h = _segment_step(seg, dtype, scale, _precision(f, dtype))
    t1, t2 = dtype.type(h), dtype.type(2.0 * h)
    values = []
    try:
        for t in (t1, t2):
            _shift(out, seg, vs, t)
            fp = f(x)
            _shift(out, seg, vs, -t)
            fm = f(x)
            values.append((fp, fm))
    finally:
        out[...] = seg
    dot1, dot2 = _realized_dots(gs, seg, vs, t1, t2)
    (fp1, fm1), (fp2, fm2) = values
    d1 = (fp1 - fm1) / (2.0 * h)
    d2 = (fp2 - fm2) / (4.0 * h)
    a1 = dot1 / (2.0 * h)
    a2 = dot2 / (4.0 * h)
    disc1 = d1 - a1
    disc2 = d2 - a2
    # eps of the loss values as well as of the parameters (after the calls:
    # the counting loss learns the loss precision from its first value)
    eps = _loss_eps(f, dtype)
    mag = getattr(f, "magnitude", None) or abs
    fscale = float(max(mag(f0), mag(fp1), mag(fm1), mag(fp2), mag(fm2)))
    trunc = abs(disc2 - disc1) / 3.0
    gnorm = norm(gs, _sum_squares)
    quantum = 0.0
    for recheck in (False, True):
        quantum = _quantum(f, x, out, seg, vs, t1, (f0, fp1, fm1, fp2, fm2), fscale, eps,
                           abs(dot1) / 2.0, recheck)
        roundoff = (eps * fscale + quantum) / h
        tol = SAFETY * (trunc + roundoff + eps * (gnorm + abs(a1)))
        # a grid rejected along an earlier segment is looked for again
        # before this one fails
        if quantum or not abs(disc1) > tol or not getattr(f, "grid_rejected", False):
            break
    # the roundoff part of the noise bound (8 ulps, as per coordinate),
    # against the scale of g . v: |g_S . v| is about ||g_S|| for a
    # Rademacher v. (A large truncation estimate is a kink or a loss
    # varying on a scale below the step: handled as before, by the kink
    # statistic and the tolerance.)
    noise = SAFETY * (roundoff + eps * (gnorm + abs(a1)))
    vscale = max(abs(a1), abs(d1), gnorm)
    if not noise <= RESOLUTION_LIMIT * vscale:
        # a segment of zero gradient (a dead ReLU unit) is verified to the
        # scale of its tensor, as a coordinate is (per-coordinate floor)
        if gscale is None:
            gscale = rms(g)
        vscale = max(vscale, gscale * math.sqrt(stop - start))
    kink = abs((fp1 + fm1 - 2.0 * f0) / h - (fp2 + fm2 - 2.0 * f0) / (4.0 * h))
    finite = all(math.isfinite(q) for q in (fp1, fm1, fp2, fm2, f0))
    if not finite:
        verdict = NONFINITE
    elif not abs(disc1) > tol and not noise <= RESOLUTION_LIMIT * vscale:
        # within a noise bound above RESOLUTION_LIMIT of |g . v|: the loss
        # has no digits for the change (1e12 + sum(p**2), a float16 loss),
        # so this direction verified nothing
        verdict = RESOLUTION
    elif not abs(disc1) > tol:
        # a kink also inflates the truncation estimate, and with it the
        # tolerance: a kink signal well above it marks the check non-smooth
        # (re-checked with a smaller step by _confirm), so a kink cannot
        # hide a wrong gradient along this direction
        verdict = NONSMOOTH if kink > 2.0 * trunc + 16.0 * roundoff else OK
    elif kink > KINK_FRACTION * abs(disc1) + 6.0 * roundoff:
        verdict = NONSMOOTH
    else:
        verdict = WRONG
    samples = ((h, fp1 - f0), (-h, fm1 - f0), (2.0 * h, fp2 - f0), (-2.0 * h, fm2 - f0))
    return SegmentCheck(start, stop, direction, h, d1, a1, disc1, tol, kink, verdict, 4,
                        float(vs[0]) if stop - start == 1 else 1.0, scale, gscale=gscale,
                        samples=samples)


def _quantum(f, x, out, seg, vs, t, values, fscale, eps, change, recheck=False):
    """The spacing of a quantized loss's values (integers, decimals, float16
    values returned as floats), or 0.0; see fastfd.gradcheck._loss_quantum.
    ``values[0]`` is the loss at ``x``; ``change`` the change over ``t``
    the analytic gradient predicts. A grid confirmed by probes off it (past
    the step where a bitwise flat loss first moves) is kept on ``f``
    (``f.quantized``, ``f.quantum``); ``f.quantized = False`` says the loss
    is known to be smooth. After one candidate was rejected
    (``f.grid_rejected``) probes are made only with ``recheck``: a segment
    about to fail looks again, as a grid may show along one segment and
    not along another."""

    step_type = type(t)

    def at(s):
        _shift(out, seg, vs, step_type(s))
        try:
            return f(x)
        except LossEvaluationError:
            return math.nan             # outside the loss's domain: no evidence
        finally:
            out[...] = seg

    f0 = values[0]
    t = float(t)
    followed = False
    if (getattr(f, "quantized", None) is None and not getattr(f, "flat_followed", False)
            and all(v == f0 for v in values)
            and change > GRID_COARSE * GRID_ULPS * eps * fscale):
        # once per loss: a dead tensor is flat along every segment of a
        # bisection, and following it each time cost 24 evaluations a node
        try:
            f.flat_followed = True
        except AttributeError:
            pass
        s, moved = _follow_flat(at, t, f0)
        if s:
            values = tuple(moved)
            fscale = float(np.max(np.abs(moved[np.isfinite(moved)])))
            t, followed = s, True
    # the second difference at t (not also at 2t: a smooth loss makes that
    # 4 times the first, a grid of two points)
    combos = (values[1] + values[2] - 2.0 * f0,) if len(values) == 5 else ()
    grid = _quantum_of(values, eps, combos)
    q = grid[0]
    known = getattr(f, "quantized", None)
    if known is False:          # the caller knows the loss is smooth
        return 0.0
    if known:
        # the loss's confirmed grid, where this segment's values show only
        # a finer one (float32 values of a loss rounded to decimals) or none
        q = max(q, getattr(f, "quantum", 0.0))
    if not (fscale > 0 and q > 0):
        return 0.0
    if not known:
        if getattr(f, "grid_rejected", False) and not (recheck or followed):
            return 0.0
        q = _find_grid(at, f0, values, combos, t, eps, (values[1] - values[2]) / (2.0 * t))
        if not q:
            try:
                f.grid_rejected = True
            except AttributeError:
                pass
            return 0.0
        try:
            f.quantized = True
        except AttributeError:
            pass
    try:
        f.quantum = min(q, getattr(f, "quantum", q))
    except AttributeError:
        pass
    return q


def _recheck(f, x, g, v, node, f0, factor, base=None):
    return check_segment(f, x, g, v, node.start, node.stop, f0, direction=node.direction,
                         scale=node.scale * factor, base=base, gscale=node.gscale)


def _stable(f, x, g, v, first, f0):
    """Confirm a failing check: the discrepancy must fail again, within half
    of itself, at a 4x larger step (or, when that step crosses a kink, at a
    4x smaller one)."""
    second = _recheck(f, x, g, v, first, f0, CONFIRM_SCALE)
    first.n_evals += second.n_evals
    if second.verdict == NONSMOOTH:
        second = _recheck(f, x, g, v, first, f0, 1.0 / CONFIRM_SCALE)
        first.n_evals += second.n_evals
    stable = (abs(second.discrepancy - first.discrepancy)
              <= STABLE_FRACTION * abs(first.discrepancy))
    if second.verdict == NONFINITE:
        first.verdict = NONFINITE
    elif second.verdict == NONSMOOTH:
        first.verdict = NONSMOOTH
    elif not (second.verdict == WRONG and stable):
        first.verdict = NOISE
    elif not _smooth_enough(f, x, v, f0, first, second):
        first.verdict = RESOLUTION
    return first


def _smooth_enough(f, x, v, f0, *checks):
    """Whether the loss's values along one segment and direction, at the
    steps of ``checks`` and at one step off them, fit a smooth curve closely
    enough for the first check's discrepancy.

    Over a few steps a smooth loss is a quartic to within a few ulps. A loss
    on a grid its values did not show (along a direction every value moved
    by some hundred thousand grid steps) misses it by up to half a grid
    step, ``R``, and a discrepancy below ``2 R / h`` can be that rounding.
    The steps checked are powers of two times each other, and at those a
    rounded loss can repeat one rounding error exactly (change 28070 grid
    steps at h/16 and 449120 at h: a discrepancy 0.001 of a step at
    both), so one more value, at (1 + 1/pi) h, is compared with the fit.
    (Per coordinate the grid shows in the values of many coordinates, and
    kinks, which leave residuals too, must still let a wrong entry next to
    them fail.)"""

    first = checks[0]
    probe = (1.0 + GRID_PROBE) * first.step
    y_probe = _value_at(f, x, v, first, probe) - f0
    pts = [p for c in checks for p in c.samples] + [(probe, y_probe)]
    s, y = np.array([(0.0, 0.0)] + pts, dtype=np.float64).T
    ok = np.isfinite(y)
    s, y = s[ok], y[ok]
    scale = np.max(np.abs(s))
    if s.size < 7 or not scale > 0:
        return True
    V = np.vander(s / scale, 5)
    resid = np.max(np.abs(V @ np.linalg.lstsq(V, y, rcond=None)[0] - y))
    return bool(abs(first.discrepancy) > 2.0 * resid / first.step)


def _value_at(f, x, v, node, s):
    """The loss with the segment of ``node`` moved by ``s`` along ``v`` (NaN
    where the loss raises)."""
    base = getattr(f, "base", None)
    a, b = node.start, node.stop
    seg = x[a:b].copy() if base is None else base[a:b]
    out = x[a:b]
    try:
        _shift(out, seg, v[a:b], x.dtype.type(s))
        return f(x)
    except LossEvaluationError:
        return math.nan
    finally:
        out[...] = seg


def confirm_small(f, x, g, v, node, f0):
    """Whether a failing check fails again, with the same discrepancy (within
    STABLE_FRACTION of it), at a step KINK_RETRY_SCALE (1/16) as large.

    A direction whose steps cross several kinks can fail with a kink
    statistic that the kinks cancel between them, so no threshold on it
    separates kinks from errors; the number of kinks crossed, and the
    discrepancy they cause, shrink with the step, while a wrong gradient's
    discrepancy does not depend on it; at the smaller step the loss must
    also be smooth enough for it (_smooth_enough). Sets and returns
    ``node.confirmed``.
    """
    second = _recheck(f, x, g, v, node, f0, KINK_RETRY_SCALE)
    node.n_evals += second.n_evals
    node.confirmed = bool(
        second.verdict in (WRONG, NONFINITE)
        and abs(second.discrepancy - node.discrepancy) <= STABLE_FRACTION * abs(node.discrepancy)
        and (second.verdict == NONFINITE or _smooth_enough(f, x, v, f0, second, node)))
    return node.confirmed


def _confirm(f, x, g, v, first, f0):
    """Re-check a failing or non-smooth block; returns the final SegmentCheck.

    "gradient wrong" must survive a 4x larger step with a stable discrepancy;
    "non-smooth point" gets one retry with h/16, where a kink farther than
    h/8 is no longer crossed: if that fails it is confirmed like any other
    failure, if it passes the block is reported non-smooth (not a failure).
    """
    if first.verdict == NONSMOOTH:
        second = _recheck(f, x, g, v, first, f0, KINK_RETRY_SCALE)
        second.n_evals += first.n_evals
        if second.verdict == WRONG:
            return _stable(f, x, g, v, second, f0)
        if second.verdict == OK:
            second.verdict = NONSMOOTH
        return second
    if first.verdict != WRONG:
        return first
    return _stable(f, x, g, v, first, f0)


def localize(f, x, g, v, root, f0, *, max_coords=32, max_evals=None, deadline=None):
    """Bisect the failing block ``root`` (a SegmentCheck) down to coordinates.

    Depth first, left half first; every half whose check fails is followed.
    When neither half fails (an error just above the tolerance can leave
    both halves just under theirs, since their discrepancies add up to the
    parent's), the half closer to failing is followed if it carries at least
    half of its tolerance; if that path ends without a confirmed coordinate,
    the block where it started is reported. Stops after ``max_coords`` wrong
    coordinates (``truncated``), when ``max_evals`` evaluations are spent or
    at ``deadline`` (a ``time.perf_counter()`` value: the end of a budget).
    Failing blocks no single coordinate explains are kept in ``unresolved``.
    """
    out = Localization()
    start_evals = f.n

    def unresolved(block):
        if not any(u is block for u in out.unresolved):
            out.unresolved.append(block)

    stack = [(root, None)]          # (block, failing ancestor if followed weakly)
    while stack:
        node, origin = stack.pop()
        a, b = node.start, node.stop
        if b - a == 1:
            checked = _confirm(f, x, g, v, node, f0)
            if checked.failed and not confirm_small(f, x, g, v, checked, f0):
                out.undecided.append(checked)
            elif checked.failed:
                out.coordinates.append(checked)
                if len(out.coordinates) >= max_coords:
                    out.truncated = bool(stack)
                    break
            elif checked.verdict == NONSMOOTH:
                out.nonsmooth.append(checked)
            elif origin is not None:
                unresolved(origin)
            continue
        if ((max_evals is not None and f.n - start_evals >= max_evals)
                or (deadline is not None and time.perf_counter() > deadline)):
            unresolved(origin or node)
            out.truncated = True
            for block, anc in stack:
                unresolved(anc or block)
            break
        m = (a + b) // 2
        halves = [check_segment(f, x, g, v, a, m, f0, direction=node.direction,
                                gscale=node.gscale),
                  check_segment(f, x, g, v, m, b, f0, direction=node.direction,
                                gscale=node.gscale)]
        # a half whose step crosses a kink is re-checked once with h/16
        halves = [_recheck(f, x, g, v, c, f0, KINK_RETRY_SCALE)
                  if c.verdict == NONSMOOTH else c for c in halves]
        failing = [c for c in halves if c.failed]
        out.nonsmooth.extend(c for c in halves if c.verdict == NONSMOOTH)
        if failing:
            stack.extend((c, origin) for c in reversed(failing))
            continue
        near = max(halves, key=lambda c: abs(c.discrepancy) / c.tolerance
                   if c.tolerance > 0 else 0.0)
        if near.verdict == OK and abs(near.discrepancy) >= 0.5 * near.tolerance > 0:
            stack.append((near, origin or node))
        else:
            unresolved(origin or node)
    if not out.coordinates and not out.unresolved and root.failed:
        out.unresolved.append(root)
    for block in out.unresolved:
        # a failing range no coordinate explains is a failure only when it
        # survives a much smaller step (kinks do not: see confirm_small);
        # past the deadline it stays unconfirmed (inconclusive)
        if deadline is not None and time.perf_counter() > deadline:
            break
        if block.failed and not block.confirmed:
            confirm_small(f, x, g, v, block, f0)
    out.n_evals = f.n - start_evals
    return out


@dataclass
class DirectionReport:
    """Everything the directional stage found."""

    n_directions: int = 0
    checks: list = field(default_factory=list)        # every top-level SegmentCheck
    failing: list = field(default_factory=list)       # confirmed failing top-level checks
    localized: dict = field(default_factory=dict)     # block name -> Localization
    nonsmooth: list = field(default_factory=list)
    resolution: list = field(default_factory=list)    # checks the loss could not resolve
    eps: float = None                                 # of the loss and parameter precisions
    quantum: float = 0.0                              # spacing of a quantized loss's values
    n_evals: int = 0

    @property
    def passed(self):
        return not self.failing


def check_directions(f, x, g, blocks, f0, k, rng, *, max_coords=32,
                     localize_evals=None, check_global=True, deadline=None,
                     localize_deadline=None):
    """Check ``k`` Rademacher directions globally and within each tensor.

    ``blocks`` are ``(name, start, stop, shape)``. A tensor whose restricted
    check fails (and is confirmed) is bisected once, with the first direction
    that fails there. With a ``deadline`` (a ``time.perf_counter()`` value),
    no new direction starts after it (at least one always runs);
    ``n_directions`` is then the number done. Bisection stops at
    ``localize_deadline`` (what is left is reported unresolved). Returns a
    :class:`DirectionReport`.
    """
    report = DirectionReport(n_directions=k)
    start_evals = f.n
    n = x.size
    if getattr(f, "_first", False):
        # the counting loss learns the loss precision (which sets the steps
        # and the roundoff) from its first value
        f(x)
    # a tensor whose analytic gradient is zero to roundoff takes the whole
    # gradient's scale (as per coordinate, fastfd.gradcheck._engine.tensor_scale)
    eps = float(np.finfo(x.dtype).eps)
    segments = [(name, a, b, tensor_scale(g, a, b, eps)) for name, a, b, _ in blocks]
    if check_global and len(blocks) > 1:
        segments = [("all", 0, n, rms(g))] + segments
    for j in range(k):
        if j and deadline is not None and time.perf_counter() > deadline:
            report.n_directions = j
            break
        v = rademacher(rng, n, x.dtype)
        for name, a, b, gscale in segments:
            first = check_segment(f, x, g, v, a, b, f0, direction=j, gscale=gscale)
            final = _confirm(f, x, g, v, first, f0)
            report.checks.append((name, final))
            if final.verdict == NONSMOOTH:
                report.nonsmooth.append((name, final))
            elif final.verdict == RESOLUTION:
                report.resolution.append((name, final))
            elif final.failed and final.verdict != NOISE:
                report.failing.append((name, final))
                # confirmed (h/16, 4 evaluations) before bisection, which
                # can spend the rest of the budget on a dense failure
                in_time = localize_deadline is None or time.perf_counter() <= localize_deadline
                localized_before = bool(report.localized.get(name)
                                        and report.localized[name].coordinates)
                if in_time and not localized_before:
                    confirm_small(f, x, g, v, final, f0)
                if name != "all" and name not in report.localized:
                    report.localized[name] = localize(
                        f, x, g, v, final, f0, max_coords=max_coords,
                        max_evals=localize_evals, deadline=localize_deadline)
    report.n_evals = f.n - start_evals
    report.eps = _loss_eps(f, x.dtype)
    report.quantum = float(getattr(f, "quantum", 0.0))
    return report

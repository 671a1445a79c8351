"""Grids of quantized losses: is a loss rounded to a spacing, and which one.

A loss rounded to a grid (decimals, float32 values of a rounded value, a
power of two) moves by whole grid steps, so its finite differences are
multiples of the spacing over the step. :func:`_quantum_of` fits a spacing
to loss values, :func:`_probe_grid` confirms it with probes off the grid,
and :func:`_find_grid` refines a rejected candidate. Used by the
per-coordinate engine (``_engine``) and the directional checks
(``_directions``); the probes are callables, so nothing here evaluates a
loss by itself.
"""

from __future__ import annotations

import math

import numpy as np

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


def _follow_flat(at, t, f0):
    """Where a loss flat at +-``t`` first moves: the step ``s`` of 2t, 4t,
    ... (up to FLAT_DOUBLINGS doublings) at which ``at(s)`` differs from
    ``f0``, and the values at 0, +-s and 1.5 s there; ``(0.0, None)`` if it
    never moves or stops being finite (``at`` gives NaN where the loss
    raises: outside its domain, ``log(1 - p)`` at ``p >= 1``, is no
    evidence). ``at(s)`` is None where ``s`` rounds to no displacement."""
    s = t
    for _ in range(FLAT_DOUBLINGS):
        s *= 2.0
        f1 = at(s)
        if f1 is None:
            continue
        if not math.isfinite(f1):
            break
        if f1 != f0:
            more = (at(-s), at(1.5 * s))
            return s, np.array([f0, f1] + [math.nan if v is None else v for v in more])
    return 0.0, None


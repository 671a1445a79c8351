"""Finite-difference stencils at points: the weights in the compute dtype, the
automatic steps, the stencil evaluated at every point (jitted kernel, per
point or vectorized), and the check that explicit steps move the points."""

import functools

import numpy as np

from .. import _config as config
from .._kernels.fd import PY
from ..steps import realized_step, step_rule
from .._validation import as_real_array, check_bool, check_h
from ..stencils import exact_weights, integer_form, stencil_offsets
from ._evaluate import CHUNKS_PER_THREAD, _ShapeChecked, _check_f, _nchunks, _run


@functools.lru_cache(maxsize=128)
def _stencil_arrays(order, accuracy, scheme, dtype_str):
    """Offsets, integer numerators and denominator, in the compute dtype.

    Integer numerators are exact in float32 and float64, so the only
    rounding is the one division by ``den * h**order``.
    """
    dt = np.dtype(dtype_str)
    offsets = stencil_offsets(order, accuracy, scheme)
    nums, den = integer_form(exact_weights(order, offsets))
    # zero weights (the centre of odd centered stencils) are dropped; the
    # outermost weights never vanish, so offs[0] and offs[-1] stay the ends
    assert nums[0] != 0 and nums[-1] != 0
    keep = [k for k, w in enumerate(nums) if w != 0]
    offs = np.array([offsets[k] for k in keep], dtype=dt)
    numa = np.array([nums[k] for k in keep], dtype=dt)
    offs.flags.writeable = False
    numa.flags.writeable = False
    return offs, numa, dt.type(den)


def _auto_steps(x, base, dt):
    return np.asarray(step_rule(x, base)).astype(dt, copy=False)


def _fd_eval(f, jitted, x, h, offs, nums, den, order, realize, base, dt, vectorized,
             mags=False):
    """Stencil derivative at every point of ``x`` (an array of the compute dtype).

    ``h``: array broadcast to ``x``'s shape or a one-element array, ignored
    when ``base > 0`` (automatic steps computed per point). ``mags=True``
    also returns ``sum|w_k f_k| / h**order`` per point (the scale of the
    result's roundoff).
    """
    shape = x.shape
    if jitted or not vectorized:
        xf = np.ascontiguousarray(x).reshape(-1)
        if base > 0 or h.size == 1:
            hf, hstride = np.ascontiguousarray(h, dtype=dt).reshape(-1)[:1], 0
        else:
            hf, hstride = np.ascontiguousarray(np.broadcast_to(h, shape), dtype=dt).reshape(-1), 1
        out = np.empty(xf.size, dtype=dt)
        mag = np.empty(xf.size if mags else 0, dtype=dt)
        n = xf.size
        if jitted:
            # the stencil as tuples: their length is part of the compiled type,
            # so the loop over stencil points unrolls (measured: 17% faster
            # than arrays for the centered difference, one compile per size)
            args = (hf, hstride, base, realize, tuple(offs), tuple(nums), den, order,
                    offs[0], offs[-1], mag)
            nch = _nchunks(n, n >= config.PARALLEL_MIN, CHUNKS_PER_THREAD)
            _run("points", f, xf, args, n, nch, out)
        else:
            PY.points_chunk(_ShapeChecked(f, True), xf, hf, hstride, base, realize,
                            offs, nums, den, order, offs[0], offs[-1], mag, 0, n, out)
        if mags:
            return out.reshape(shape), mag.reshape(shape)
        return out.reshape(shape)
    if base > 0:
        h = _auto_steps(x, base, dt)
    fw = _ShapeChecked(f, False)
    zero = nums[0] - nums[0]
    if mags:
        acc, mag = PY.point_sum_mag(fw, x, h, offs, nums, zero)
    else:
        acc = PY.point_sum(fw, x, h, offs, nums, zero)
    step = realized_step(x, h, offs[0], offs[-1]) if realize else h
    value = np.asarray(PY.finish(acc, den, step, order))
    if mags:
        return value, np.broadcast_to(np.asarray(PY.finish(mag, den, step, order)), shape)
    return value


def _prepare_points(f, x, h, vectorized):
    jitted = _check_f(f)
    vectorized = check_bool("vectorized", vectorized)
    xa, xdt = as_real_array(x)
    ha = None if h is None else check_h(h, xdt)
    if ha is not None and ha.shape != xa.shape:
        try:
            shape = np.broadcast_shapes(xa.shape, ha.shape)
        except ValueError:
            raise ValueError(
                f"h with shape {ha.shape} does not broadcast with x of shape {xa.shape}"
            ) from None
        xa = np.broadcast_to(xa, shape)
    return jitted, vectorized, xa, xdt, ha


def _check_resolution(x, h, lo, hi, dt, power=1, divisor=1):
    """Explicit steps must move the stencil's points, before ``f`` runs.

    The realized step ``r = ((x + hi*s) - (x + lo*s)) / (hi - lo)``, with
    ``s = h / divisor`` the smallest step used, is what the formulas divide
    by (as ``r**power``): it is 0 where ``s`` is below the spacing of floats
    at ``x`` (0/0 or a silent 0 otherwise), and ``r**power`` (repeated
    products, as the kernels form it) underflows to 0 for tiny ``s`` at
    small ``|x|``. A non-finite ``x`` gives a nan ``r``, not 0, and keeps
    its non-finite result at that point only.
    """
    if h is None:
        return
    xb, hb = np.broadcast_arrays(np.asarray(x, dtype=dt), np.asarray(h, dtype=dt))
    with np.errstate(all="ignore"):
        r = realized_step(xb, hb / dt.type(divisor), dt.type(lo), dt.type(hi))
        rp = r
        for _ in range(power - 1):
            rp = rp * r
    zero, under = r == 0, (rp == 0) & (r != 0)
    bad = zero if zero.any() else under     # unresolved steps reported first
    if not bad.any():
        return
    k = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), bad.shape)
    xshow, hshow = np.broadcast_arrays(np.asarray(x), np.asarray(h))   # the caller's dtypes
    where = "" if xb.ndim == 0 else f"[{', '.join(str(int(i)) for i in k)}]"
    hname = "h" if np.ndim(h) == 0 or np.size(h) == 1 else f"h{where}"
    step = "h" if divisor == 1 else f"h/{divisor}"
    what = "" if divisor == 1 else f" (method='richardson' goes down to the step {step})"
    head = f"{hname}={str(hshow[k])} "
    at = f"x{where}={str(xshow[k])}"
    if zero[k]:
        moved = f"x - {step}" if hi == 0 else f"x + {step}"
        raise ValueError(
            f"{head}is below the resolution of {at}{what}: {moved} == x in {dt}; "
            f"use a larger h or h=None")
    raise ValueError(
        f"{head}is too small at {at}{what}: the formula divides by {step}**{power}, "
        f"which underflows to 0 in {dt}; use a larger h or h=None")

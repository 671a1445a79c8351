"""Kernels for derivatives of functions (``fastfd.derivative``).

Every formula is written once, here, inside :func:`_build`, which is run
twice: with ``njit`` (``JIT``: the kernels a user's jitted ``f`` runs in, ``f``
being a first-class function argument) and with the identity (``PY``: the same
code as plain Python for a Python ``f``: ``PY.point_sum`` on whole arrays for
a NumPy-vectorized ``f``, the ``PY.*_chunk`` loops for a scalar-only ``f`` and
for per-coordinate derivatives).

Kernels taking ``f`` cannot be disk-cached (Numba refuses functions as
"dynamic globals"), so they have no ``cache=``; each distinct ``f`` compiles
them once per process.

Stencils arrive as ``offs`` (integer offsets as floats of the compute dtype,
ascending, only those with a nonzero weight; the outermost weights of a
stencil are never zero), ``nums`` (integer numerators, same dtype, exact),
arrays or (for the point kernels, so the stencil loop unrolls) tuples, and
``den`` (the common denominator): the ``d``-th derivative is
``sum(nums[k] * f(x + offs[k]*h)) / (den * h**d)``. Terms are summed from
the largest offset down, which makes the classical stencils evaluate in the
textbook order: ``f(x+h) - f(x)``, ``f(x+h) - f(x-h)``,
``f(x+h) - 2 f(x) + f(x-h)``. Zero weights are dropped (no evaluation, and a
non-finite ``f(x)`` does not leak into a centered first difference).

``base > 0`` selects automatic steps: ``h = step_rule(x, base)`` per point,
and the sum is divided by the realized step (``realize``); otherwise ``h`` is
read from an array with stride 0 (one step for all points) or 1.
"""

from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from .steps import realized_step as _realized_step
from .steps import step_rule as _step_rule


def _identity(func):
    return func


def _build(jit, pjit, prange, step_rule, realized_step):
    @jit
    def point_sum(f, xi, hh, offs, nums, zero):
        """``sum(nums[k] * f(xi + offs[k]*hh))`` from the largest offset down."""
        acc = zero
        for k in range(len(offs) - 1, -1, -1):
            acc = acc + nums[k] * f(xi + offs[k] * hh)
        return acc

    @jit
    def point_sum_mag(f, xi, hh, offs, nums, zero):
        """:func:`point_sum` (the same operations in the same order) and
        ``sum|nums[k] * f(...)|``, the scale of its roundoff. A separate
        function: accumulating both always cost the jitted centered
        difference 33% (12 -> 16 ms for 2e6 points)."""
        acc = zero
        mag = zero
        for k in range(len(offs) - 1, -1, -1):
            term = nums[k] * f(xi + offs[k] * hh)
            acc = acc + term
            mag = mag + abs(term)
        return acc, mag

    @jit
    def finish(acc, den, step, order):
        """``acc / (den * step**order)``; ``step**order`` by repeated products."""
        sd = step
        for _ in range(order - 1):
            sd = sd * step
        return acc / (den * sd)

    @jit
    def _step_at(x_i, h, hstride, i, base, hbuf):
        # hbuf (one element of x's dtype) casts the float64 rule to x's dtype
        if base > 0:
            hbuf[0] = step_rule(x_i, base)
            return hbuf[0]
        return h[i * hstride]

    @jit
    def points_chunk(f, x, h, hstride, base, realize, offs, nums, den, order, lo, hi,
                     mags, start, stop, out):
        """Stencil derivative of scalar ``f`` at ``x[start:stop]`` into ``out``.

        ``offs``/``nums``: the nonzero-weight points only (measured: dropping
        the zero test from the inner loop took the kernel from 1.18x to 1.03x
        of a hand-written centered difference); ``lo``/``hi``: the outermost
        offsets of the full stencil, for the realized step. ``mags``, unless
        empty, receives ``sum|w_k f_k| / h**order`` (for the roundoff bound).
        """
        hbuf = np.empty_like(x[:1])
        zero = nums[0] - nums[0]
        if mags.shape[0] > 0:
            for i in range(start, stop):
                xi = x[i]
                hh = _step_at(xi, h, hstride, i, base, hbuf)
                acc, mag = point_sum_mag(f, xi, hh, offs, nums, zero)
                step = realized_step(xi, hh, lo, hi) if realize else hh
                out[i] = finish(acc, den, step, order)
                mags[i] = finish(mag, den, step, order)
            return out
        for i in range(start, stop):
            xi = x[i]
            hh = _step_at(xi, h, hstride, i, base, hbuf)
            acc = point_sum(f, xi, hh, offs, nums, zero)
            step = realized_step(xi, hh, lo, hi) if realize else hh
            out[i] = finish(acc, den, step, order)
        return out

    @jit
    def points_guarded(f, x, h, hstride, base, realize, offs, nums, den, order, lo, hi,
                       mags, start, stop, out):
        try:
            points_chunk(f, x, h, hstride, base, realize, offs, nums, den, order, lo, hi,
                         mags, start, stop, out)
        except Exception:
            return 1
        return 0

    @pjit
    def points(f, x, h, hstride, base, realize, offs, nums, den, order, lo, hi, mags, nchunks,
               out, status):
        """``points_chunk`` over ``nchunks`` contiguous chunks.

        The prange body is a call to the chunk helper: a prange loop body
        with the arithmetic inline did not vectorize. The caller launches
        every parallel driver here with chunk size 1
        (:func:`fastfd._kernels.schedule.launch`), so chunks are handed to
        threads one at a time, several per thread: with one of two cores running
        another process, dynamic sixteenths took 0.54x the time of static
        halves at 1e7 points (the time of static halves on idle cores).

        An exception inside a prange body is not reliably propagated by Numba
        (lost, or a SystemError), so each chunk runs guarded and reports into
        ``status``; the caller reruns a failed chunk serially to raise ``f``'s
        own exception.
        """
        n = x.shape[0]
        for c in prange(nchunks):
            status[c] = points_guarded(f, x, h, hstride, base, realize, offs, nums, den, order,
                                       lo, hi, mags, c * n // nchunks, (c + 1) * n // nchunks,
                                       out)
        return out

    @jit
    def complex_chunk(f, x, h, hstride, base, ctype, start, stop, out):
        """Complex step ``Im f(x + i h) / h``: no subtraction, so no cancellation.

        ``ctype`` is a one-element array of the complex dtype to evaluate in.
        """
        hbuf = np.empty_like(x[:1])
        zbuf = np.empty_like(ctype)
        for i in range(start, stop):
            xi = x[i]
            hh = _step_at(xi, h, hstride, i, base, hbuf)
            zbuf[0] = complex(xi, hh)
            out[i] = f(zbuf[0]).imag / hh
        return out

    @jit
    def complex_guarded(f, x, h, hstride, base, ctype, start, stop, out):
        try:
            complex_chunk(f, x, h, hstride, base, ctype, start, stop, out)
        except Exception:
            return 1
        return 0

    @pjit
    def complex_points(f, x, h, hstride, base, ctype, nchunks, out, status):
        n = x.shape[0]
        for c in prange(nchunks):
            status[c] = complex_guarded(f, x, h, hstride, base, ctype,
                                        c * n // nchunks, (c + 1) * n // nchunks, out)
        return out

    # Per-coordinate derivatives of f: R^n -> R (or R^m). Each chunk owns a
    # private copy ``xp`` of x (a row of the caller's work array, so the caller
    # can compare it with x afterwards), perturbs one entry in place,
    # evaluates, and restores the entry by assignment (``(x + h) - h`` is not
    # ``x`` in floating point). The offset-0 value ``f0 = f(x)`` is computed
    # once by the caller.
    #
    # An f that writes to its argument would corrupt every later evaluation.
    # Writes to other entries stay in ``xp`` (the caller compares it with x);
    # a write to the perturbed entry itself would be undone by the restore, so
    # each evaluation checks that entry (O(1)): on a change the chunk stores
    # the coordinate in ``bad[0]`` and stops.

    @jit
    def _moved(xp, i, p):
        """Whether ``xp[i]`` no longer holds ``p`` (NaN equals NaN)."""
        v = xp[i]
        return v != p and not (v != v and p != p)

    @jit
    def grad_chunk(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                   bad):
        """Gradient entries ``i = start, start + stride, ... < stop``."""
        hbuf = np.empty_like(x[:1])
        zero = nums[0] - nums[0]
        lo = offs[0]
        hi = offs[offs.shape[0] - 1]
        for i in range(start, stop, stride):
            xi = x[i]
            hh = _step_at(xi, h, hstride, i, base, hbuf)
            acc = zero
            for k in range(offs.shape[0] - 1, -1, -1):
                if offs[k] == 0:
                    acc = acc + nums[k] * f0
                else:
                    xp[i] = xi + offs[k] * hh
                    p = xp[i]
                    acc = acc + nums[k] * f(xp)
                    if _moved(xp, i, p):
                        bad[0] = i
                        return out
                    xp[i] = xi
            out[i] = finish(acc, den, realized_step(xi, hh, lo, hi), 1)
        return out

    @jit
    def grad_guarded(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                     bad):
        try:
            grad_chunk(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                       bad)
        except Exception:
            return 1
        return 0

    @pjit
    def grad(f, x, work, h, hstride, base, offs, nums, den, f0, nchunks, out, status, bad):
        n = x.shape[0]
        for c in prange(nchunks):
            status[c] = grad_guarded(f, x, work[c], h, hstride, base, offs, nums, den, f0,
                                     c * n // nchunks, (c + 1) * n // nchunks, 1, out,
                                     bad[c:c + 1])
        return out

    @jit
    def jac_chunk(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                  bad):
        """Jacobian columns ``out[:, i]`` for ``i = start, start + stride, ... < stop``."""
        hbuf = np.empty_like(x[:1])
        acc = np.empty_like(out[:, 0])
        lo = offs[0]
        hi = offs[offs.shape[0] - 1]
        m = out.shape[0]
        for i in range(start, stop, stride):
            xi = x[i]
            hh = _step_at(xi, h, hstride, i, base, hbuf)
            acc[:] = 0
            for k in range(offs.shape[0] - 1, -1, -1):
                w = nums[k]
                if offs[k] == 0:
                    for r in range(m):
                        acc[r] = acc[r] + w * f0[r]
                else:
                    xp[i] = xi + offs[k] * hh
                    p = xp[i]
                    v = f(xp)
                    if _moved(xp, i, p):
                        bad[0] = i
                        return out
                    xp[i] = xi
                    if v.shape[0] != m:
                        raise ValueError("f returned arrays of different lengths")
                    for r in range(m):
                        acc[r] = acc[r] + w * v[r]
            step = realized_step(xi, hh, lo, hi)
            for r in range(m):
                out[r, i] = finish(acc[r], den, step, 1)
        return out

    @jit
    def jac_guarded(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                    bad):
        try:
            jac_chunk(f, x, xp, h, hstride, base, offs, nums, den, f0, start, stop, stride, out,
                      bad)
        except Exception:
            return 1
        return 0

    @pjit
    def jac(f, x, work, h, hstride, base, offs, nums, den, f0, nchunks, out, status, bad):
        n = x.shape[0]
        for c in prange(nchunks):
            status[c] = jac_guarded(f, x, work[c], h, hstride, base, offs, nums, den, f0,
                                    c * n // nchunks, (c + 1) * n // nchunks, 1, out,
                                    bad[c:c + 1])
        return out

    @jit
    def hess_chunk(f, x, xp, h, hstride, base, offs1, nums1, den1, offs2, nums2, den2,
                   f0, start, stride, out, bad):
        """Hessian rows ``i = start, start + stride, ...``: ``out[i, i]`` from the
        second-derivative stencil, ``out[i, j] = out[j, i]`` (``j > i``) from the
        tensor product of the first-derivative stencil with itself. Each entry is
        computed once and mirrored, so the result is exactly symmetric. Rows are
        dealt out with a stride so the threads get equal shares of the triangle.
        """
        n = x.shape[0]
        hs = np.empty_like(x)
        for i in range(n):
            hs[i] = _step_at(x[i], h, hstride, i, base, hs[i:i + 1])
        zero = nums1[0] - nums1[0]
        lo1 = offs1[0]
        hi1 = offs1[offs1.shape[0] - 1]
        lo2 = offs2[0]
        hi2 = offs2[offs2.shape[0] - 1]
        for i in range(start, n, stride):
            xi = x[i]
            hi_ = hs[i]
            acc = zero
            for k in range(offs2.shape[0] - 1, -1, -1):
                if offs2[k] == 0:
                    acc = acc + nums2[k] * f0
                else:
                    xp[i] = xi + offs2[k] * hi_
                    p = xp[i]
                    acc = acc + nums2[k] * f(xp)
                    if _moved(xp, i, p):
                        bad[0] = i
                        return out
                    xp[i] = xi
            out[i, i] = finish(acc, den2, realized_step(xi, hi_, lo2, hi2), 2)
            ri = realized_step(xi, hi_, lo1, hi1)
            for j in range(i + 1, n):
                xj = x[j]
                hj = hs[j]
                acc = zero
                for k in range(offs1.shape[0] - 1, -1, -1):
                    xp[i] = xi + offs1[k] * hi_
                    p = xp[i]
                    for m in range(offs1.shape[0] - 1, -1, -1):
                        xp[j] = xj + offs1[m] * hj
                        q = xp[j]
                        acc = acc + (nums1[k] * nums1[m]) * f(xp)
                        if _moved(xp, j, q):
                            bad[0] = j
                            return out
                        if _moved(xp, i, p):
                            bad[0] = i
                            return out
                    xp[j] = xj
                xp[i] = xi
                rj = realized_step(xj, hj, lo1, hi1)
                v = acc / ((den1 * den1) * (ri * rj))
                out[i, j] = v
                out[j, i] = v
        return out

    @jit
    def hess_guarded(f, x, xp, h, hstride, base, offs1, nums1, den1, offs2, nums2, den2,
                     f0, start, stride, out, bad):
        try:
            hess_chunk(f, x, xp, h, hstride, base, offs1, nums1, den1, offs2, nums2, den2,
                       f0, start, stride, out, bad)
        except Exception:
            return 1
        return 0

    @pjit
    def hess(f, x, work, h, hstride, base, offs1, nums1, den1, offs2, nums2, den2, f0, nchunks,
             out, status, bad):
        for c in prange(nchunks):
            status[c] = hess_guarded(f, x, work[c], h, hstride, base, offs1, nums1, den1, offs2,
                                     nums2, den2, f0, c, nchunks, out, bad[c:c + 1])
        return out

    return SimpleNamespace(**{k: v for k, v in locals().items() if not k.startswith("_")
                              and callable(v) and k not in ("jit", "pjit", "prange",
                                                            "step_rule", "realized_step")})


JIT = _build(njit, njit(parallel=True), prange, _step_rule, njit(_realized_step))
PY = _build(_identity, _identity, range, _step_rule.py_func, _realized_step)

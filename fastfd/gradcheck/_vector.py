"""Checks of vector-valued functions: ``check_vjp``, ``check_jvp`` and
``check_jacobian``, on the one engine of ``check_gradient``.

Projections
-----------
For ``f: x -> y`` with Jacobian ``J`` (``m`` outputs, ``n`` inputs) and an
output weight ``w``, the scalar function ``phi_w(x) = w . (y(x) - y(x0))``
has the gradient ``J^T w``: what ``vjp(x, w)`` returns, what ``w . jvp(x,
e_j)`` gives column by column, and ``w @ J`` for a given matrix. So a
vector check is a gradient check of ``phi_w`` (per coordinate, by
directions, with bisection, the budget, the faults and the report of
``check_gradient``), run for each of a few independent projections: the
first with Rademacher weights (+-1 per flat output), the others with
standard normal ones.

*Detection.* With ``E = J_analytic - J``, projection ``w`` sees input ``j``
wrong when ``(E^T w)_j != 0``. A column with one wrong entry is seen by every
``w`` (by a +-1 weight at its full size). A column with several is seen by a
Rademacher ``w`` with probability at least 1/2 (flipping the sign of one of
its wrong outputs moves ``(E^T w)_j`` by twice that entry, so at most one of
the two signs cancels), and by a normal ``w`` with probability 1: ``(E^T
w)_j`` is normal with standard deviation ``||E_:j||``, within ``t ||E_:j||``
of zero with probability below ``0.8 t``. A normal ``w`` also exposes a VJP
that is not linear in ``w`` (one that clips or takes the sign of its
cotangent passes every +-1 weight). A check that ends with every input
checked and fits the budget compares every entry too (below).

*Roundoff.* Outputs that a step of ``x`` leaves bitwise unchanged cancel
exactly in ``phi_w``; the others carry their own rounding. The roundoff
bounds of the engine, ``8 eps |f|`` for a scalar loss, therefore scale with
``M(x') = sum over changed i of max(|y_i(x')|, |y_i(x0)|)``, not with
``|phi_w|`` (which can cancel to nothing while each changed output rounds)
nor with ``sum |y_i|`` over all outputs (which grows with ``m``, measured:
a float32 elementwise op's resolution went from 1.0e-3 at 16 outputs to
5.0e-2, the end of what is decidable, at 10,000). ``phi_w`` is evaluated
in float64 from differences ``y_i(x') - y_i(x0)``, exact for float32
outputs and for nearby float64 ones; the precision of the outputs sets
``eps``.

Lost changes
------------
An output that a step leaves bitwise unchanged may still depend on the
input: its change rounded away (``1e4 + 0.01 x`` in float32 moves by less
than its ulp at the default step). Its centered difference is 0, with no
roundoff to show for it. A failing input therefore stays failed only when
it is pinned to a Jacobian entry wrong beyond that entry's own noise; an
unchanged output's entry is followed to larger steps (4h to 1024h), and
its derivative is bounded by two steps of its grid (its ulp, or its first
move when larger) over the largest step at which it still did not move.
An analytic entry beyond that bound is wrong (an output that never moves
is independent of the input); within it, the entry and the input are
inconclusive ("loss resolution").

Localizing entries
------------------
An input coordinate ``j`` found wrong is followed to its outputs: the
numerical column ``(y(x0 + h e_j) - y(x0 - h e_j)) / den`` (and at ``2h``,
for the truncation estimate) costs four evaluations of ``f``. With a
Jacobian or JVP the analytic column is known and the entries are compared
one by one. With a VJP the outputs are bisected: a block ``S`` of outputs
is checked as ``sum_{i in S} w_i column_i`` against ``vjp(x0, w_S)[j]``
(``w`` restricted to ``S``: one VJP per block), every failing half is
followed, so a single wrong entry among ``m`` outputs costs about ``2
log2(m)`` VJP calls and no further evaluation of ``f``. An entry is wrong
when its discrepancy exceeds the tolerance (``tol`` of the coordinate's
scale) and its noise (roundoff of the outputs involved plus the
truncation estimate), and is the same at ``h`` and ``2h`` within 25%.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np

from ._arguments import (Arguments, check_directions, check_finite_point, check_options,
                         check_seed)
from ._engine import DEFAULT_TOL, ROUNDOFF_ULPS, STABLE
from ._params import (FlatProblem, InputWriteError, LossEvaluationError, LossReturnError,
                      _split, input_error, readonly_alias)
from ._planner import DEFAULT_BUDGET, run
from ._result import EntryCheck, GradientCheckError, _fmt_seconds, _range_expr
from ._sampling import stratified_sample
from ._scale import rms
from .._kernels.vector import projection
from .._validation import check_bool, check_int, real_array, short_repr

__all__ = ["check_vector", "check_vjp", "check_jvp", "check_jacobian"]

MODES = {"vjp": "VJP", "jvp": "JVP", "jacobian": "Jacobian"}
DEFAULT_PROJECTIONS = 2
# input coordinates whose wrong outputs are localized, and entries per input
MAX_LOCALIZED_INPUTS = 8
MAX_ENTRIES = 32
# share of the budget the JVP columns may take before the check samples them
JVP_COLUMN_SHARE = 0.25
# step multiples at which outputs a step left unchanged are followed (see
# _Unmoved): the larger the step at which one still does not move, the
# tighter the bound on its derivative
UNMOVED_STEPS = (4.0, 16.0, 64.0, 256.0, 1024.0)
# Relative mismatch of a (co)tangent's linearity test. Loose on purpose: the
# analytic side may compute in a precision below its outputs' (a float32
# output computed in float16 or bfloat16 was 0.12% and 0.3% off between
# vjp(w1 + w2) and vjp(w1) + vjp(w2)), and the test is for derivatives that
# clip, take signs or cube their (co)tangent, off by tens of percent.
LINEARITY_TOL = 0.05
# Jacobian entries held at once (32 MiB of float64): the entry-by-entry
# check, and the JVP columns kept for it, run below this
ENTRY_CAP = 2 ** 22


class _Value(float):
    """A projection's value: a float that says the precision of the outputs
    it came from (``dtype``), as a framework scalar does, so the engine's
    roundoff model uses the outputs' ``eps``."""

    __slots__ = ("dtype",)


def _complex_error(what, value):
    return TypeError(
        f"{what} has dtype {value.dtype}: complex values are not supported; pass "
        "the real and imaginary parts as separate real arrays")


def _leaves(structure, what):
    """``(label, value)`` of each array of a structure, labelled as its
    tensors are named (``y["logits"]``, ``y[0]``, ``y``)."""
    return _split(structure, what, rooted=True)[1]


def _map_leaves(structure, fn):
    """`structure` with `fn` applied to each of its arrays."""
    if isinstance(structure, dict):
        return {k: fn(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(fn(v) for v in structure)
    return fn(structure)


def _refuse_complex(structure, what):
    for label, v in _leaves(structure, what):
        if np.iscomplexobj(v):
            raise _complex_error(label, np.asarray(v))


def _refuse_integer(structure, what):
    for label, v in _leaves(structure, what):
        dt = getattr(v, "dtype", None)
        if dt is not None and np.dtype(dt).kind in "iub":
            raise TypeError(
                f"{label} has dtype {np.dtype(dt)}: f must return floating-point outputs "
                "(integer and boolean outputs have no derivative)")


class _Projected:
    """``phi_w(x) = w . (y(x) - y(x0))`` in float64, and the magnitude of
    each value it returned (module docstring, "Roundoff")."""

    def __init__(self, f, outputs, y0, w, dtype):
        self.f = f
        self.outputs = outputs
        self.y0 = y0
        self.w = w
        self.dtype = dtype.name
        self._mags = {}

    def vector(self, xs):
        """``f(xs)`` as a flat float64 vector, checked against the outputs' layout."""
        y = self.f(xs)
        try:
            return self.outputs.flatten(y, "f(x)")
        except (TypeError, ValueError) as exc:
            raise LossReturnError(f"f returned a different output: {exc}") from None

    def __call__(self, xs):
        v, mag = projection(self.vector(xs), self.y0, self.w)
        value = _Value(v)
        value.dtype = self.dtype
        if not math.isnan(v) and mag > self._mags.get(v, -1.0):
            self._mags[v] = mag
        return value

    def magnitude(self, values):
        """The magnitude of values this projection returned (``|v|`` for others)."""
        if np.ndim(values) == 0:
            v = float(values)
            return max(abs(v), self._mags.get(v, 0.0))
        a = np.asarray(values, dtype=np.float64)
        out = np.abs(a)
        get = self._mags.get
        for k, v in enumerate(a.tolist()):
            m = get(v)
            if m is not None and m > out[k]:
                out[k] = m
        return out


def _about(exc, who="f"):
    """An error about "the loss" (the engine's, or fastfd.gradcheck._params'
    for any call it wraps), reworded for `who`: `f`, whose projection is the
    loss the engine evaluates, or the analytic side."""
    text = str(exc)
    for old, new in (("loss raised", f"{who} raised"),
                     ("loss modified its input", f"{who} modified its input"),
                     ("A loss must not", f"{who} must not")):
        text = text.replace(old, new)
    return type(exc)(text)


def _weights(rng, m, k):
    """The output weights of projection `k`: Rademacher (+-1) first, then
    standard normal (module docstring, "Projections")."""
    if k == 0:
        return rng.integers(0, 2, size=m).astype(np.float64) * 2.0 - 1.0
    return rng.standard_normal(m)


class _Problem:
    """The layouts, the unperturbed output and the analytic side of one check."""

    def __init__(self, mode, f, x, analytic, names, rooted):
        self.mode = mode
        self.f = f
        xname, yname = names
        _refuse_complex(x, xname)
        self.inputs = FlatProblem(x, None, name=xname, rooted=rooted)
        check_finite_point(self.inputs)
        self.n = self.inputs.n
        x0 = self.inputs.x0.copy()
        where = f"at the unperturbed {xname}"
        try:
            y0 = f(self.inputs.views(x0, readonly=True))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            err = input_error(lambda s: f(self.inputs.views(s)), x0, exc, where,
                              self.inputs.name)
            raise _about(err) from exc
        _refuse_complex(y0, yname)
        _refuse_integer(y0, yname)
        try:
            self.outputs = FlatProblem(y0, None, name=yname, rooted=rooted)
        except ValueError as exc:
            raise ValueError(f"f(x) has no outputs to check: {exc}") from None
        except TypeError as exc:
            raise TypeError(f"f(x) must return real floating arrays: {exc}") from None
        self.m = self.outputs.n
        self.y0 = self.outputs.flatten(y0, "f(x)")
        # one ulp of each output in its own precision: the most a change
        # that rounded away can be (an output a step leaves bitwise
        # unchanged still depends on the input by up to that much)
        self.ulp = self.outputs.flatten(_map_leaves(y0, lambda a: np.spacing(np.abs(
            np.asarray(a)))), "ulp")
        bad = np.flatnonzero(~np.isfinite(self.y0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"f(x) must be finite at the unperturbed {xname}; "
                f"{self.outputs.name(i)} is {self.y0[i]!r}")
        # the precision of the check: the lowest of the inputs' and of every
        # output array's (a float32 output next to a float64 one rounds as
        # float32; float16 outputs are checked with float32's eps, as in
        # check_gradient)
        low = [np.asarray(v).dtype for _, v in _leaves(y0, yname)]
        self.dtype = (np.dtype(np.float32) if self.inputs.dtype == np.float32 or any(
            d.kind == "f" and d.itemsize <= 4 for d in low) else np.dtype(np.float64))
        # the precision the outputs round in, which sets the roundoff (a
        # float16 output rounds at float16's eps)
        self.rounding = min([d for d in low if d.kind == "f"] + [self.dtype],
                            key=lambda d: d.itemsize)
        self.analytic = analytic
        self.n_analytic = 0
        self.n_f_evals = 0          # evaluations of f outside the engine (localizing)
        self.J = None
        self.C = None               # the JVP columns, (m, n), when they were all kept
        self.t_vjp = math.inf       # the fastest VJP call timed
        if mode == "jacobian":
            self.J = self._jacobian(analytic)

    def _call(self, fn, extra, who):
        """``fn(x, *extra)`` on read-only views of a private copy of the point;
        an exception is named for `who`, a write to the point is an
        InputWriteError (fastfd.gradcheck._params.input_error, as for `f`)."""
        x = self.inputs.x0.copy()
        try:
            return fn(self.inputs.views(x, readonly=True), *extra)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            err = input_error(lambda s: fn(self.inputs.views(s), *extra), x, exc,
                              f"at the unperturbed {self.inputs.name_}", self.inputs.name)
            raise _about(err, who) from exc

    def _jacobian(self, jac):
        if callable(jac):
            jac = self._call(jac, (), "jac")
            what = "jac(x)"
        else:
            what = "jac"
        if isinstance(jac, (dict, list, tuple)):
            raise TypeError(
                f"{what} must be one array of shape (outputs, inputs), got a "
                f"{type(jac).__name__}")
        if np.iscomplexobj(jac):
            raise _complex_error(what, np.asarray(jac))
        J = np.asarray(real_array(jac, what), dtype=np.float64)
        one = (self.inputs.kind == "array" and self.outputs.kind == "array")
        full = (self.outputs.blocks[0][3] + self.inputs.blocks[0][3]) if one else None
        if J.shape == (self.m, self.n):
            return J
        if one and J.shape == full:
            return J.reshape(self.m, self.n)
        want = (f"{full} or {(self.m, self.n)}" if one and full != (self.m, self.n)
                else f"{(self.m, self.n)}")
        raise ValueError(
            f"{what} has shape {J.shape}; expected {want} (outputs x inputs, in the flat "
            f"order of y and x)")

    def vjp(self, w):
        """``vjp(x0, w)`` flat (w flat over the outputs)."""
        self.n_analytic += 1
        if self.J is not None:
            return w @ self.J
        ws = self.outputs.unflatten(w.astype(self.outputs.dtype))
        t0 = time.perf_counter()
        value = self._call(self.analytic, (ws,), "vjp")
        self.t_vjp = min(self.t_vjp, time.perf_counter() - t0)
        return self.inputs.flatten(value, "vjp(x, w)")

    def column(self, j):
        """The analytic column ``dy/dx_j`` flat (from the Jacobian or a JVP)."""
        if self.J is not None:
            return self.J[:, j]
        if self.C is not None:
            return self.C[:, j]
        e = np.zeros(self.n, dtype=self.inputs.dtype)
        e[j] = 1
        self.n_analytic += 1
        value = self._call(self.analytic, (self.inputs.unflatten(e),), "jvp")
        return self.outputs.flatten(value, "jvp(x, v)")


def _jvp_gradients(prob, ws, coords, budget, rng):
    """``J^T w`` for every projection from JVP columns: all ``n`` of them
    when they fit :data:`JVP_COLUMN_SHARE` of the budget (or were asked
    for), else a stratified sample of inputs (the others NaN, never
    checked). Returns ``(gradients, indices or None for all)``."""
    n = prob.n
    G = np.full((len(ws), n), np.nan)
    W = np.array(ws)
    t0 = time.perf_counter()
    c0 = prob.column(0)
    t_col = time.perf_counter() - t0
    G[:, 0] = W @ c0
    if isinstance(coords, np.ndarray):
        idx = coords
    elif isinstance(coords, int) and coords < n:
        idx = stratified_sample(prob.inputs.blocks, np.zeros(n), coords, rng)
    elif coords == "auto" and n * t_col > JVP_COLUMN_SHARE * budget:
        count = max(len(prob.inputs.blocks),
                    int(JVP_COLUMN_SHARE * budget / max(t_col, 1e-9)))
        idx = stratified_sample(prob.inputs.blocks, np.zeros(n), min(count, n), rng)
    else:
        idx = None
    keep = idx is None and prob.m * n <= ENTRY_CAP
    C = np.empty((prob.m, n)) if keep else None
    for j in (range(n) if idx is None else idx.tolist()):
        c = c0 if j == 0 else prob.column(j)
        G[:, j] = W @ c
        if keep:
            C[:, j] = c
    if idx is not None and 0 not in idx:
        G[:, 0] = np.nan
    prob.C = C
    return G, idx


def _columns(prob, j, t):
    """``(y(x0 + t e_j), y(x0 - t e_j), realized step sum)`` as flat vectors."""
    xs = prob.inputs.x0.copy()
    xj = float(xs[j])
    p, m = prob.inputs.dtype.type(xj + t), prob.inputs.dtype.type(xj - t)
    out = []
    for v in (p, m):
        xs[j] = v
        view = prob.inputs.views(readonly_alias(xs.copy()))
        prob.n_f_evals += 1
        try:
            out.append(prob.projected.vector(view))
        except (LossReturnError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise LossEvaluationError(
                f"f raised {type(exc).__name__} at {prob.inputs.name(j)} "
                f"{'+' if v is p else '-'} h while its outputs were localized: {exc}") from exc
    return out[0], out[1], float(p) - float(m)


def _numerical_column(prob, j, t, eps):
    """The centered differences of every output along input `j` at steps `t`
    and `2t` (four evaluations of `f`), the roundoff bound of each output
    that moved, the truncation estimate, and which outputs did not move at
    ``+-t`` (their difference is 0 whatever their derivative below one ulp
    per step: see :class:`_Unmoved`)."""
    yp, ym, den = _columns(prob, j, t)
    yp2, ym2, den2 = _columns(prob, j, 2.0 * t)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        num = (yp - ym) / den
        num2 = (yp2 - ym2) / den2
        unmoved = (yp == prob.y0) & (ym == prob.y0)
        ro = np.where(unmoved, 0.0, ROUNDOFF_ULPS * eps * (np.abs(yp) + np.abs(ym))) / den
        trunc = np.abs(num - num2)
    return num, num2, ro, trunc, unmoved


def _entry_suspects(num, num2, ro, trunc, a, floor):
    """Outputs whose entry of this column exceeds its tolerance (`floor`,
    per entry or one for all) and its noise: ``(stable, unstable)`` index
    arrays, by whether the discrepancy is the same at h and 2h within
    STABLE."""
    with np.errstate(invalid="ignore"):
        d = np.abs(num - a)
        out = ~(d <= np.maximum(floor, ro + trunc))
        stable = np.abs(num - num2) <= STABLE * d
    return np.flatnonzero(out & stable), np.flatnonzero(out & ~stable)


class _Unmoved:
    """Outputs a step ``t`` of input `j` left bitwise unchanged, followed to
    larger steps (module docstring, "Lost changes"). An output unchanged on
    both sides at a step ``s`` changed by less than about one step of its
    grid over it (its ulp, or the first move seen when larger), so its
    derivative is at most ``2 grid / s`` (a factor 2 for rounding on both
    sides); the largest such step among :data:`UNMOVED_STEPS` times ``t``
    gives the bound."""

    def __init__(self, prob, j, t):
        self.prob, self.j, self.t = prob, j, t
        self.still = None

    def _follow(self):
        prob = self.prob
        still = np.full(prob.m, float(self.t))
        # the grid an output moves on: its ulp, or its first move when larger
        # (a float32 output computed in bfloat16 moves by bfloat16's ulp)
        grid = prob.ulp.copy()
        alive = np.ones(prob.m, dtype=bool)
        for k in UNMOVED_STEPS:
            yp, ym, den = _columns(prob, self.j, k * self.t)
            with np.errstate(invalid="ignore"):
                now = (yp == prob.y0) & (ym == prob.y0)
                first = alive & ~now
                grid[first] = np.maximum(grid[first], np.maximum(
                    np.abs(yp - prob.y0), np.abs(ym - prob.y0))[first])
            alive &= now
            still[alive] = 0.5 * den
            if not alive.any():
                break
        self.still, self.grid = still, grid

    def bound(self, i):
        """The largest ``|dy_i/dx_j|`` consistent with output `i` not moving."""
        if self.still is None:
            self._follow()
        return 2.0 * float(self.grid[i]) / float(self.still[i])


def _localize(prob, result, w, tol, eps, deadline):
    """Follow the wrong input coordinates of `result` to their outputs
    (module docstring, "Localizing entries"): ``(entries, undecided,
    unresolved)``."""
    entries, undecided, unresolved = [], [], []
    wrong = [c for c in result.failures() if c.verdict == "gradient wrong"]
    scale_of = dict(zip(result.index.tolist(), np.asarray(result.scales).tolist()))
    out = prob.outputs
    for c in wrong[:MAX_LOCALIZED_INPUTS]:
        if time.perf_counter() > deadline:
            break
        j = int(c.index)
        num, num2, ro, trunc, unmoved = _numerical_column(prob, j, float(c.step), eps)
        follow = _Unmoved(prob, j, float(c.step))
        scale = scale_of.get(j, max(abs(c.numerical), abs(c.analytical)))
        floor = tol * scale
        xname = prob.inputs.name(j)

        def entry(i, a):
            d = abs(num[i] - a)
            rec = EntryCheck(f"{out.name(i)} / {xname}", i, j, float(num[i]), float(a),
                             float(d), "gradient wrong", "failed")
            if not d > max(floor, ro[i] + trunc[i]):
                return None
            if unmoved[i]:
                # the output did not move: its derivative is only bounded
                bound = follow.bound(i)
                if d > floor + bound:
                    return rec
                return rec._replace(verdict="loss resolution", status="inconclusive")
            if abs(num[i] - num2[i]) <= STABLE * d:
                return rec
            return rec._replace(verdict="finite-difference noise", status="inconclusive")

        found = []
        if prob.mode != "vjp":
            a = prob.column(j)
            with np.errstate(invalid="ignore"):
                d = np.abs(num - a)
                bad = np.flatnonzero(~(d <= np.maximum(floor, ro + trunc)))
            for i in bad[np.argsort(-d[bad], kind="stable")][:MAX_ENTRIES].tolist():
                rec = entry(i, a[i])
                if rec is not None:
                    found.append(rec)
        else:
            stack = [(start, stop) for _, start, stop, _ in reversed(out.blocks)]
            while stack and len(found) < MAX_ENTRIES and time.perf_counter() <= deadline:
                a0, b0 = stack.pop()
                ws = np.zeros_like(w)
                ws[a0:b0] = w[a0:b0]
                ana = prob.vjp(ws)[j]
                part = slice(a0, b0)
                with np.errstate(invalid="ignore", over="ignore"):
                    n_s = float(np.sum(w[part] * num[part]))
                    n2_s = float(np.sum(w[part] * num2[part]))
                    noise = float(np.sum(np.abs(w[part]) * ro[part])) + abs(n_s - n2_s)
                d = abs(n_s - ana)
                if not d > max(floor, noise):
                    continue
                if b0 - a0 == 1:
                    rec = entry(a0, ana / w[a0])
                    if rec is not None:
                        found.append(rec)
                    continue
                mid = (a0 + b0) // 2
                stack.extend([(mid, b0), (a0, mid)])
        if not found:
            unresolved.append((f"{_outputs_name(out)} / {xname}",
                               abs(float(c.numerical) - float(c.analytical)), floor))
        for rec in found:
            (entries if rec.status == "failed" else undecided).append(rec)
    return entries, undecided, unresolved


def _confirm_by_entries(prob, result, found):
    """A failing input stays failed only when it was pinned to a Jacobian
    entry wrong beyond that entry's own noise, or (past the inputs
    localized) when another input was: an input whose discrepancy no single
    entry explains (outputs a step leaves unchanged, whose change rounds
    away) becomes inconclusive."""
    entries, undecided, unresolved = found
    localized = [c.index for c in result.failures()
                 if c.verdict == "gradient wrong"][:MAX_LOCALIZED_INPUTS]
    pinned = {e.input for e in entries}
    loose = [j for j in localized if j not in pinned]
    if not loose:
        return
    others = [c.index for c in result.failures() if c.index not in set(localized)]
    keep = list(pinned) + (others if pinned else [])
    result._undecide(keep, (
        f"{len(loose)} failing input(s) ({prob.inputs.name(loose[0])}, ...) could not be "
        f"pinned to a Jacobian entry wrong beyond its own noise (outputs the step leaves "
        f"unchanged, or a discrepancy spread over many outputs): inconclusive"
        + ("" if pinned else "; would help: outputs in float64, or a larger h")))


def _analytic_matrix(prob):
    """The analytic Jacobian, ``(m, n)``: given, from the JVP columns, or
    from one VJP per output."""
    if prob.J is not None:
        return prob.J
    if prob.C is not None:
        return prob.C
    A = np.empty((prob.m, prob.n))
    e = np.zeros(prob.m)
    for i in range(prob.m):
        e[i] = 1.0
        A[i] = prob.vjp(e)
        e[i] = 0.0
    return A


def _block_rms(A, outputs, inputs):
    """Per entry of `A`: the RMS of the finite entries of its block (output
    tensor by input tensor), the floor of its verdict scale (as a tensor's
    RMS gradient is per coordinate in check_gradient)."""
    out = np.empty_like(A)
    for _, a, b, _ in outputs.blocks:
        for _, c, d, _ in inputs.blocks:
            out[a:b, c:d] = rms(A[a:b, c:d])
    return out


def _entry_check(prob, result, tol, eps):
    """Every entry of the Jacobian, column by column (4 evaluations of `f`
    each, at the steps the per-coordinate check used); suspects are
    re-checked by the engine on the projection onto their output alone
    (``w = e_i``, the confirmation of check_gradient). Returns ``(suspects
    by output, A)``."""
    A = _analytic_matrix(prob)
    floor = tol * _block_rms(A, prob.outputs, prob.inputs)
    step = dict(zip(result.index.tolist(), np.asarray(result.steps).tolist()))
    suspects = {}
    for j in range(prob.n):
        num, num2, ro, trunc, _ = _numerical_column(prob, j, step[j], eps)
        a = A[:, j]
        scale = np.maximum(np.maximum(np.abs(a), np.abs(num)), floor[:, j] / tol)
        wrong, unstable = _entry_suspects(num, num2, ro, trunc, a, tol * scale)
        for i in np.concatenate((wrong, unstable)).tolist():
            suspects.setdefault(i, []).append(j)
    return suspects, A


def _outputs_name(out):
    if len(out.blocks) == 1:
        name, a, b, shape = out.blocks[0]
        return _range_expr(name, shape, 0, b - a) if shape else name
    return out.name_


def check_vector(mode, f, x, analytic, *, h=None, tol=None, coords="auto", seed=None,
                 raise_on_fail=False, progress=None, directions=None, budget=None,
                 projections=None, names=("x", "y"), rooted=True):
    """The vector checks behind :func:`check_vjp`, :func:`check_jvp` and
    :func:`check_jacobian` (`mode` "vjp", "jvp" or "jacobian").

    `names` are what the inputs and outputs are called; with `rooted` a
    dict's tensors are named ``x["W"]``, without it by their bare keys (an
    adapter passes dicts keyed by its own labels, such as pytree paths).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if not callable(f):
        raise TypeError(f"f must be callable, got {short_repr(f)}")
    what = {"vjp": "vjp", "jvp": "jvp", "jacobian": "jac"}[mode]
    if mode != "jacobian" and not callable(analytic):
        raise TypeError(f"{what} must be callable, got {short_repr(analytic)}")
    check_seed(seed)
    directions = check_directions(directions)
    raise_on_fail = check_bool("raise_on_fail", raise_on_fail)
    if projections is None:
        projections = DEFAULT_PROJECTIONS
    projections = check_int("projections", projections, minimum=1)
    prob = _Problem(mode, f, x, analytic, names, rooted)
    h, tol, coords, budget = check_options(prob.inputs, h=h, tol=tol, coords=coords,
                                           directions=directions, progress=progress,
                                           budget=budget)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    auto = isinstance(coords, str) and coords == "auto"
    eff_budget = budget if budget is not None else (DEFAULT_BUDGET if auto else None)
    t_start = time.perf_counter()
    ws = [_weights(rng, prob.m, k) for k in range(projections)]
    notes_jvp = []
    if mode == "jvp":
        G, idx = _jvp_gradients(prob, ws, coords, eff_budget or math.inf, rng)
        if idx is not None:
            notes_jvp = [f"JVP columns of {idx.size:,} of {prob.n:,} inputs only (one JVP "
                         f"per input); check_vjp covers every input by directions and "
                         f"bisection"]
            if directions:
                raise ValueError(
                    f"directions={directions} needs every JVP column; with coords="
                    f"{short_repr(coords)} check_jvp checks {idx.size:,} of {prob.n:,} "
                    "inputs (use check_vjp, or coords='all')")
            coords, directions = idx, 0
        gradients = list(G)
    else:
        gradients = [prob.vjp(w) for w in ws]
    eps = float(np.finfo(prob.rounding).eps)
    if tol is None:
        tol = DEFAULT_TOL[np.dtype(prob.dtype)]
    nonlinear = _linearity(prob, ws, gradients, rng)
    results = []
    for k, w in enumerate(ws):
        left = None
        if eff_budget is not None:
            spent = time.perf_counter() - t_start
            left = max((eff_budget - spent) / (projections - k), 1e-3)
        result = _run_projection(prob, w, gradients[k], h=h, tol=tol, coords=coords, rng=rng,
                                 progress=progress, directions=directions,
                                 budget=left if budget is not None else None,
                                 default_budget=left)
        found = ([], [], [])
        if result.status == "failed":
            deadline = time.perf_counter() + (left or 10.0)
            found = _localize(prob, result, w, result.tol, eps, deadline)
            _confirm_by_entries(prob, result, found)
        results.append((result, w, prob.projected, found))
        if result.status == "failed":
            break
    result, w, prob.projected, found = next(
        (r for r in results if r[0].status == "failed"), None) or next(
        (r for r in results if r[0].status == "inconclusive"), results[-1])
    entries, undecided, unresolved = found
    notes = []
    if result.status == "passed" and result.mode == "all":
        spent = time.perf_counter() - t_start
        cost = 4 * prob.n * (result.t_call or 0.0)
        if prob.J is None and prob.C is None:
            cost += prob.m * prob.t_vjp
        if prob.m * prob.n > ENTRY_CAP:
            notes.append(f"entries not checked one by one ({prob.m:,} x {prob.n:,} is more "
                         f"than {ENTRY_CAP:,})")
        elif eff_budget is not None and cost > eff_budget - spent:
            notes.append(f"entries not checked one by one (about {_fmt_seconds(cost)}, more "
                         f"than the budget left)")
        else:
            found = _confirm_entries(prob, result, tol, eps, h=h, rng=rng, progress=progress)
            if found is None:
                notes.append(f"all {prob.m * prob.n:,} Jacobian entries checked one by one")
            else:
                result, entries, undecided, names = found
                notes.append(f"the projections passed; the entry-by-entry check found entries "
                             f"of {names} off, each output re-checked on its own (this "
                             f"report: the first that failed)")
    if nonlinear is not None:
        result._fail_analytic(nonlinear)
    result.check = MODES[mode]
    result.outputs = prob.outputs
    result.n_projections = len(results)
    result.n_analytic = prob.n_analytic
    result.entries, result.undecided_entries = entries, undecided
    result.unresolved_entries = unresolved
    result.notes = list(getattr(result, "notes", [])) + notes_jvp + notes
    result.n_evals = sum(r[0].n_evals for r in results) + prob.n_f_evals
    result.elapsed = time.perf_counter() - t_start
    if raise_on_fail and not result.passed:
        raise GradientCheckError(result)
    return result


def _linearity(prob, ws, gradients, rng):
    """None, or what shows the analytic side is not linear: a VJP is called
    at ``c w`` (c = 3.7) and at the sum of the first two weights, a JVP
    (when every column was kept) at a normal tangent ``v`` against ``C v``.
    A derivative is linear in its (co)tangent; one that clips or takes the
    sign of it agrees at every +-1 weight and unit tangent."""
    if prob.mode == "jacobian":
        return None
    if prob.mode == "jvp":
        if prob.C is None:
            return None
        v = rng.standard_normal(prob.n)
        e = np.zeros(prob.n, dtype=prob.inputs.dtype)
        e[:] = v
        prob.n_analytic += 1
        got = prob.outputs.flatten(prob._call(prob.analytic, (prob.inputs.unflatten(e),),
                                              "jvp"), "jvp(x, v)")
        want = prob.C @ e.astype(np.float64)
        bad = _worst_mismatch(got, want, LINEARITY_TOL)
        if bad is None:
            return None
        return (f"jvp is not linear in v: at a random normal v, {prob.outputs.name(bad)} of "
                f"jvp(x, v) is {got[bad]:.6g}, but sum_j v_j jvp(x, e_j) gives {want[bad]:.6g}")
    c = 3.7
    pairs = [(c * ws[0], c * gradients[0], f"vjp(x, {c} w)", f"{c} vjp(x, w)")]
    if len(ws) > 1:
        pairs.append((ws[0] + ws[1], gradients[0] + gradients[1], "vjp(x, w1 + w2)",
                      "vjp(x, w1) + vjp(x, w2)"))
    for w, want, lhs, rhs in pairs:
        got = prob.vjp(w)
        bad = _worst_mismatch(got, want, LINEARITY_TOL)
        if bad is not None:
            return (f"vjp is not linear in w: {lhs} is {got[bad]:.6g} at "
                    f"{prob.inputs.name(bad)}, {rhs} is {want[bad]:.6g}")
    return None


def _worst_mismatch(got, want, tol):
    """Index of the worst entry of `got` off `want` by more than `tol` of its
    scale (``max(|want_i|, RMS of want)``), or None."""
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(want), rms(want))
        off = np.abs(got - want)
        bad = ~(off <= tol * scale)
    if not bad.any():
        return None
    return int(np.argmax(np.where(bad, off / np.maximum(scale, 1e-300), -1.0)))


def _run_projection(prob, w, g, **options):
    """The engine (``fastfd.gradcheck._planner.run``) on ``phi_w`` with gradient
    `g`, on a flat problem of its own (its result keeps it)."""
    inputs = copy.copy(prob.inputs)
    inputs.g = g
    prob.projected = _Projected(prob.f, prob.outputs, prob.y0, w, prob.rounding)
    inputs.magnitude = prob.projected.magnitude
    args = Arguments(loss=prob.projected, point_loss=prob.projected, problem=inputs,
                     seed=options.pop("rng"), parallel=False, raise_on_fail=False,
                     vectorized=False, executor=None, **options)
    try:
        return run(args)
    except (LossEvaluationError, InputWriteError) as exc:
        raise _about(exc) from exc.__cause__


def _confirm_entries(prob, result, tol, eps, **options):
    """The entry-by-entry check of a passed full check: None when no entry
    is suspect or every suspect passes its re-check, else ``(the re-check
    to report (the first that failed, else the first inconclusive), wrong
    entries, undecided entries, names of the outputs)``."""
    suspects, A = _entry_check(prob, result, result.tol, eps)
    report, wrong, undecided, names = None, [], [], []
    for i in sorted(suspects)[:MAX_LOCALIZED_INPUTS]:
        w = np.zeros(prob.m)
        w[i] = 1.0
        idx = np.array(sorted(suspects[i]), dtype=np.intp)
        r = _run_projection(prob, w, A[i].copy(), tol=tol, coords=idx, directions=0,
                            budget=None, **options)
        if r.status == "passed":
            continue
        out = prob.outputs.name(i)
        names.append(out)
        for c in r.failures() + r.undecided():
            e = EntryCheck(f"{out} / {c.name}", i, c.index, c.numerical, c.analytical,
                           c.abs_error, c.verdict, c.status)
            (wrong if e.status == "failed" else undecided).append(e)
        if report is None or (r.status == "failed" and report.status != "failed"):
            report = r
    if report is None:
        return None
    return report, wrong, undecided, ", ".join(names)


_OPTIONS = """h : float or ndarray, optional
        Step per input coordinate, as in :func:`check_gradient`.
    tol : float, optional
        Relative discrepancy allowed (default 1e-6 in float64, 1e-3 when
        the inputs or the outputs are float32).
    coords : "auto", "all", int or sequence of int, optional
        Input coordinates, as in :func:`check_gradient`: every one when a
        full check fits the `budget`, else directions, a stratified sample
        and bisection.
    seed : int or numpy.random.Generator, optional
        Seed for the output projections, the sample and the directions.
    raise_on_fail : bool, optional
        Raise :class:`GradientCheckError` unless the check passed.
    progress : bool, optional
        Show progress (see :func:`check_gradient`).
    directions : int, optional
        Random directions per projection (see :func:`check_gradient`).
    budget : float, optional
        Seconds for the whole check, shared by the projections (default
        10 s with ``coords="auto"``).
    projections : int, optional
        Independent output weights ``w`` (default 2; see Notes). The check
        stops at the first projection that fails."""

_NOTES = """A vector check is a gradient check of ``phi_w(x) = w . (f(x) -
    f(x0))`` for a few random output weights ``w`` (+-1 per flat output for
    the first, standard normal for the others), whose gradient is ``J^T w``;
    every rule of :func:`check_gradient` (tolerance model, diagnosis,
    confirmation, budget, directions, bisection, faults) applies to it. A
    Jacobian column with one wrong entry is seen by every projection; one
    with several by the +-1 projection with probability at least 1/2 and by
    a normal one with probability 1 (errors that cancel exactly for some
    signs do not cancel for normal weights); a normal projection also
    exposes a VJP that is not linear in ``w``. Roundoff is bounded from the
    outputs a step changes (the others cancel exactly), so wide outputs
    keep float32's per-coordinate resolution; an output whose change
    rounded away (less than one ulp) makes a discrepancy within that ulp
    inconclusive, never failed. A full check within the budget ends by
    comparing every Jacobian entry (four evaluations of ``f`` per input; the
    analytic entries from the matrix, the JVP columns, or one VJP per
    output), its suspects re-checked by the engine on their output alone.
    A wrong input coordinate is followed to its outputs (at most 8 inputs,
    32 entries each): ``result.entries`` names them ``y[i] / x[j]`` with
    the centered difference and the analytic ``dy_i/dx_j``. See
    ``fastfd.gradcheck._vector`` for the derivations.

    Complex inputs or outputs are refused (TypeError): pass real and
    imaginary parts as separate real arrays. Inputs must be finite, as must
    ``f(x)``; ``f`` must not modify its input, and ``f(x +- h)`` that is not
    finite is reported per coordinate ("non-finite loss")."""


def check_vjp(f, x, vjp, *, h=None, tol=None, coords="auto", seed=None, raise_on_fail=False,
              progress=None, directions=None, budget=None, projections=None):
    """Check a vector-Jacobian product against centered differences of `f`.

    Parameters
    ----------
    f : callable
        ``f(x) -> y``, `y` an array or a dict/list/tuple of real floating
        arrays. Receives `x` in its structure as read-only views.
    x : ndarray, or dict/list/tuple of ndarrays
        The point.
    vjp : callable
        ``vjp(x, w) -> x``-shaped: ``w^T J`` for an output cotangent `w`
        given in the structure of `y` (the dtype of `y`).
    {options}

    Returns
    -------
    GradCheckResult
        As :func:`check_gradient`'s, with input coordinates named
        ``x["W"][2, 7]`` and, when the check fails, ``entries``: the wrong
        Jacobian entries found, named ``y["logits"][3, 1] / x["W"][2, 7]``;
        also ``n_projections``, ``n_analytic`` (calls of `vjp`) and
        ``outputs``.

    Notes
    -----
    {notes}

    Examples
    --------
    >>> import numpy as np
    >>> import fastfd
    >>> x = np.linspace(-1.0, 1.0, 5)
    >>> fastfd.check_vjp(np.sin, x, lambda x, w: w * np.cos(x)).status
    'passed'
    >>> def vjp(x, w):
    ...     g = w * np.cos(x)
    ...     g[3] *= 1.01                     # one wrong entry
    ...     return g
    >>> r = fastfd.check_vjp(np.sin, x, vjp)
    >>> r.status, [e.name for e in r.entries]
    ('failed', ['y[3] / x[3]'])
    """
    return check_vector("vjp", f, x, vjp, h=h, tol=tol, coords=coords, seed=seed,
                        raise_on_fail=raise_on_fail, progress=progress,
                        directions=directions, budget=budget, projections=projections)


def check_jvp(f, x, jvp, *, h=None, tol=None, coords="auto", seed=None, raise_on_fail=False,
              progress=None, directions=None, budget=None, projections=None):
    """Check a Jacobian-vector product against centered differences of `f`.

    Parameters
    ----------
    f : callable
        ``f(x) -> y``, as for :func:`check_vjp`.
    x : ndarray, or dict/list/tuple of ndarrays
        The point.
    jvp : callable
        ``jvp(x, v) -> y``-shaped: ``J v`` for a tangent `v` given in the
        structure of `x`.
    {options}

    Returns
    -------
    GradCheckResult
        As for :func:`check_vjp`; ``entries`` compare whole columns entry by
        entry, and ``n_analytic`` counts calls of `jvp`.

    Notes
    -----
    ``J^T w`` is assembled from one JVP per input coordinate (``jvp(x,
    e_j)``). When ``n`` of them would take more than a quarter of the
    budget, a stratified sample of input coordinates is checked (no
    directions: they need every column); :func:`check_vjp` covers large
    inputs by directions and bisection.

    {notes}

    Examples
    --------
    >>> import numpy as np
    >>> import fastfd
    >>> A = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    >>> x = np.array([0.3, -0.2])
    >>> r = fastfd.check_jvp(lambda x: np.tanh(A @ x), x,
    ...                      lambda x, v: (1 - np.tanh(A @ x) ** 2) * (A @ v))
    >>> r.status
    'passed'
    """
    return check_vector("jvp", f, x, jvp, h=h, tol=tol, coords=coords, seed=seed,
                        raise_on_fail=raise_on_fail, progress=progress,
                        directions=directions, budget=budget, projections=projections)


def check_jacobian(f, x, jac, *, h=None, tol=None, coords="auto", seed=None,
                   raise_on_fail=False, progress=None, directions=None, budget=None,
                   projections=None):
    """Check a Jacobian against centered differences of `f`.

    Parameters
    ----------
    f : callable
        ``f(x) -> y``, as for :func:`check_vjp`.
    x : ndarray, or dict/list/tuple of ndarrays
        The point.
    jac : ndarray or callable
        The Jacobian at `x`: shape ``y.shape + x.shape`` for single arrays,
        or ``(m, n)`` (flat outputs by flat inputs, in the order of the
        structures) for any; or ``jac(x)`` returning it.
    {options}

    Returns
    -------
    GradCheckResult
        As for :func:`check_vjp`; ``entries`` compare whole columns entry by
        entry.

    Notes
    -----
    {notes}

    Examples
    --------
    >>> import numpy as np
    >>> import fastfd
    >>> A = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    >>> x = np.array([0.3, -0.2])
    >>> J = np.cos(A @ x)[:, None] * A
    >>> J[2, 1] = 0.1                      # should be 0
    >>> r = fastfd.check_jacobian(lambda x: np.sin(A @ x), x, J)
    >>> r.status, [e.name for e in r.entries]
    ('failed', ['y[2] / x[1]'])
    """
    return check_vector("jacobian", f, x, jac, h=h, tol=tol, coords=coords, seed=seed,
                        raise_on_fail=raise_on_fail, progress=progress,
                        directions=directions, budget=budget, projections=projections)


for _fn in (check_vjp, check_jvp, check_jacobian):
    _fn.__doc__ = _fn.__doc__.format(options=_OPTIONS, notes=_NOTES)
del _fn

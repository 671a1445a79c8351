"""The result of a gradient check: verdicts, statuses, per-coordinate and
per-tensor records, and the printed report."""

from __future__ import annotations

from collections import namedtuple
import enum
import numbers

import numpy as np

from ._scale import rms
from .._validation import short_repr

class Verdict(enum.IntEnum):
    """The verdict on one checked coordinate: the code the engine stores in
    its int8 arrays, with the :attr:`label` the reports and
    ``GradCheckResult.verdicts`` show and the :attr:`status` it gives.

    Only a wrong or non-finite analytic value proves the gradient wrong; a
    non-finite loss at x +- h, a kink, noise, a loss without digits for the
    change, a non-deterministic loss or a suspect not re-checked in time
    leave the coordinate undecided.
    """

    OK = 0
    WRONG = 1
    NOISE = 2
    NONSMOOTH = 3
    NONFINITE_LOSS = 4
    NONFINITE_GRADIENT = 5
    RESOLUTION = 6
    NONDETERMINISTIC = 7
    UNCONFIRMED = 8

    @property
    def label(self):
        return _LABELS[self]

    @property
    def status(self):
        return STATUSES[STATUS_OF[self]]


_LABELS = ("ok", "gradient wrong", "finite-difference noise", "non-smooth point",
           "non-finite loss", "non-finite gradient", "loss resolution",
           "non-deterministic loss", "not confirmed in time")
VERDICTS = tuple(v.label for v in Verdict)

STATUSES = ("passed", "failed", "inconclusive")
# STATUSES index of each verdict, indexed by code
STATUS_OF = np.array([2] * len(Verdict), dtype=np.int8)
STATUS_OF[Verdict.OK] = 0
STATUS_OF[[Verdict.WRONG, Verdict.NONFINITE_GRADIENT]] = 1

# What would help, by inconclusive verdict.
ADVICE = {
    Verdict.NOISE.label: "a larger h, or the loss in float64",
    Verdict.NONSMOOTH.label: "a point away from kinks (ReLU, max, abs), or a smaller h",
    Verdict.NONFINITE_LOSS.label: "a smaller h (the loss is not finite at x +- h)",
    Verdict.RESOLUTION.label: "the loss in float64, a larger h, or a smaller loss offset",
    Verdict.NONDETERMINISTIC.label: "a deterministic loss (fixed seeds, no dropout)",
    Verdict.UNCONFIRMED.label: "a larger budget (a suspected wrong value was not re-checked "
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

EntryCheck = namedtuple(
    "EntryCheck", "name output input numerical analytical abs_error verdict status")
EntryCheck.__doc__ = (
    "One Jacobian entry a vector check (:func:`fastfd.check_vjp`, ``check_jvp``, "
    "``check_jacobian``) localized: ``name`` like ``y[\"logits\"][3, 1] / x[\"W\"][2, 7]``, "
    "the flat output and input indices, the centered difference and the analytic "
    "value of ``dy_output / dx_input``, their difference, the verdict and the status.")


class GradientCheckError(AssertionError):
    """A gradient check failed (``raise_on_fail=True``).

    ``.result`` is the :class:`GradCheckResult`; the message is its report.
    """

    def __init__(self, result):
        self.result = result
        super().__init__(str(result))

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
        Seconds spent compiling (or loading) Numba kernels with a budgeted
        check's clock stopped; not part of `elapsed` (0.0 when nothing was
        compiled on the clock's behalf, e.g. without a budget).
    mode : str
        "all" when every coordinate was checked, else "sampled".
    coverage : str
        E.g. "checked 3,072 of 1,002,570 coordinates in 6 tensors and 64
        directions".
    n_directions : int
        Directional checks run (0 without the directional stage; the lists
        below are then empty).
    localized, undecided_localized : list of CoordinateCheck
        Wrong coordinates found by bisection; coordinates bisection pointed
        at whose failure did not survive a smaller step.
    direction_failures : list of tuple
        (tensor, direction, discrepancy, tolerance, verdict, confirmed).
    unresolved : list of tuple
        Failing ranges no single coordinate explains: (tensor, start, stop,
        direction, discrepancy, tolerance, confirmed).
    nonsmooth, unresolvable : list of tuple
        (tensor, direction) of directional checks whose steps crossed a kink,
        and of those whose noise bound exceeded 5% of ``|g . v|``.
    unverified : list of str
        Tensors whose every directional check crossed a kink and none of
        whose coordinates was checked.
    direction_resolution : dict
        Tensor -> the error of one coordinate, relative to the tensor's
        gradient RMS, that fails each direction (the median directional
        tolerance; in float32 often near 1, so a single wrong entry is left
        to the sampled coordinates).
    t_call, full_check_seconds : float or None
        Seconds per loss call as timed at params, and per-call time x 2n
        (None when the loss was not timed: a check by directions alone, or
        the seed's ``gradient_check``).

    With the directional stage, ``status`` combines the stages: "failed"
    when a checked coordinate failed, bisection localized a wrong
    coordinate, or a directional failure (of a tensor, of all tensors, or
    of a range no coordinate explains) survived a re-check at a 16x smaller
    step with the same discrepancy; otherwise "inconclusive" when a checked
    coordinate could not be decided or a directional failure did not
    survive that re-check (kinks do not); otherwise "passed".

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
        # the large-model stages (directions, bisection; fastfd.gradcheck._sampling),
        # empty for a check of coordinates alone
        self.mode = "all" if self.n_checked == prob.n else "sampled"
        self.t_call = None
        self.n_directions = 0
        self.localized, self.unresolved, self.nonsmooth = [], [], []
        self.direction_failures, self.truncated, self.undecided_localized = [], [], []
        self.direction_resolution = {}
        self.unresolvable = []
        self.unverified = []
        self.n_localize_evals = 0
        self._no_outputs()

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

    def _coordinate_worst(self, k=10):
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {short_repr(k)}")
        return [self._record(j) for j in self._order()[:int(k)]]

    def _coordinate_failures(self):
        return [self._record(j) for j in self._order() if STATUS_OF[self._codes[j]] == 1]

    def _coordinate_undecided(self):
        return [self._record(j) for j in self._order() if STATUS_OF[self._codes[j]] == 2]

    @property
    def _coordinate_tensors(self):
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
    def _coordinate_repr(self):
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
        quantum = self.quantum or 0.0
        if quantum > 0:
            return (f"a loss that is not rounded (its values are multiples of {quantum:.3g}), "
                    "or a larger h")
        if self._in_float64():
            # already float64: only the digits left for the change can help
            return ("a smaller loss offset (subtract a large constant from the loss), "
                    "or a larger h")
        return ADVICE[Verdict.RESOLUTION.label]

    def _in_float64(self):
        eps = self.eps
        return eps is not None and eps <= float(np.finfo(np.float64).eps)

    def _advice(self):
        """One line per inconclusive reason: how many, and what would help."""
        lines = []
        verdicts = self.verdicts[self.inconclusive]
        for v in VERDICTS:
            count = int(np.sum(verdicts == v))
            if count:
                helps = (self._resolution_advice() if v == Verdict.RESOLUTION.label
                         else ADVICE[v])
                if v == Verdict.NOISE.label and self._in_float64():
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

    def _coordinate_report(self, k=5):
        """The compact report: header, per-tensor table, `k` worst coordinates."""
        lines = self._header()
        lines.append(
            f"  relative error {self.rel_error:.2e} (seed definition), max abs error "
            f"{self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}; "
            f"{self.n_evals:,} loss evaluations in {_fmt_seconds(self.elapsed)} ({self.method})")
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

    # ------------------------------------------------------ large-model stages
    @classmethod
    def _of_stages(cls, prob, base, rep, *, mode, tol, n_evals, elapsed, t_call):
        """The result of a large-model check: the per-coordinate result `base`
        (None when no coordinate was checked) with the directional report `rep`
        (None without directions)."""
        self = cls.__new__(cls)
        if base is not None:
            self.__dict__.update(base.__dict__)
        else:
            empty = np.empty(0)
            self.problem = prob
            self.index = np.empty(0, dtype=np.intp)
            self.numerical = self.analytical = self.abs_errors = empty
            self.rel_errors = self.noise = self.steps = self.scales = empty
            self._codes = np.empty(0, dtype=np.int8)
            self.rel_error = np.float64(0.0)
            self.tol = float(tol) if tol is not None else 0.0
            self.dtype = prob.dtype
            self.n_checked = 0
            self.loss_value = None
            self.nondeterminism = 0.0
            self.method = "directions"
            self.max_abs_error = self.max_rel_error = 0.0
            self.criterion = "per-coordinate"
            self.eps = None
            self.quantum = 0.0
            self.compile_seconds = 0.0
        self.mode = mode
        self.n_evals = int(n_evals)
        self.elapsed = float(elapsed)
        self.t_call = t_call
        self.n_directions = rep.n_directions if rep is not None else 0
        self.localized, self.unresolved, self.nonsmooth = [], [], []
        self.direction_failures, self.truncated, self.undecided_localized = [], [], []
        self.direction_resolution = {}
        # directional checks whose noise bound exceeded 5% of |g . v| (the
        # loss has no digits for the change): (tensor, direction)
        self.unresolvable = []
        self.unverified = []
        self.n_localize_evals = 0
        self._no_outputs()
        if rep is not None:
            self._absorb(rep)
            if self.eps is None:
                self.eps = rep.eps
            if not self.quantum:
                self.quantum = rep.quantum
        self.status = self._combine()
        self.passed = self.status == "passed"
        return self

    def _fail_analytic(self, why):
        """The analytic side is wrong as a whole (a VJP not linear in its
        cotangent): the check fails, and the report says `why` first."""
        self.analytic_error = why
        self.status = "failed"
        self.passed = False

    def _combine(self):
        if self.analytic_error is not None:
            return "failed"
        coords = self._overall_of()
        confirmed = (any(d[5] for d in self.direction_failures)
                     or any(u[6] for u in self.unresolved))
        if coords == "failed" or self.localized or confirmed:
            return "failed"
        if (coords == "inconclusive" or self.direction_failures or self.unresolved
                or self.undecided_localized or self.unresolvable
                or self.unverified):
            return "inconclusive"
        return "passed"

    def _absorb(self, rep):
        prob = self.problem
        seen = set()
        located = {t for t, loc in rep.localized.items() if loc.coordinates}
        for tname, c in rep.failing:
            self.direction_failures.append((tname, c.direction, c.discrepancy,
                                            c.tolerance, c.verdict,
                                            bool(c.confirmed or tname in located)))
        for tname, loc in rep.localized.items():
            for c in loc.coordinates + loc.undecided:
                i = c.start
                if i in seen:
                    continue
                seen.add(i)
                num, ana = c.numerical * c.sign, float(prob.g[i])
                err = abs(num - ana)
                scale = max(abs(num), abs(ana))
                verdict = c.verdict
                if not c.confirmed and verdict == Verdict.WRONG.label:
                    verdict = (Verdict.NONSMOOTH if c.kink > 0.25 * abs(c.discrepancy)
                               else Verdict.NOISE).label
                record = CoordinateCheck(prob.name(i), i, num, ana, err,
                                         err / scale if scale else 0.0, c.step, verdict,
                                         "failed" if c.confirmed else "inconclusive")
                (self.localized if c.confirmed else self.undecided_localized).append(record)
            for c in loc.unresolved:
                self.unresolved.append((tname, c.start, c.stop, c.direction,
                                        c.discrepancy, c.tolerance, bool(c.confirmed)))
            if loc.truncated:
                self.truncated.append(tname)
            self.nonsmooth.extend((tname, c.direction) for c in loc.nonsmooth)
        explained = {t for t, *_ in self.direction_failures if t != "all"}
        for tname, c in rep.failing:
            if tname == "all" and not explained:
                self.unresolved.append(("all tensors", c.start, c.stop, c.direction,
                                        c.discrepancy, c.tolerance, bool(c.confirmed)))
                break
        self.nonsmooth.extend((t, c.direction) for t, c in rep.nonsmooth)
        # a direction without digits for the change verifies nothing, and
        # leaves nothing undecided in a tensor whose every coordinate was
        # checked on its own
        full = self._fully_checked()
        everything = len(full) == len(prob.blocks)
        self.unresolvable.extend((t, c.direction) for t, c in rep.resolution
                                 if not (t in full or (t == "all" and everything)))
        # A tensor whose every directional check crossed a kink (or noise)
        # even at h/16, and none of whose coordinates was checked, verified
        # nothing (with a kink 0.01 h from the point, a gradient off by 10%
        # would pass)
        decided = {}
        for tname, c in rep.checks:
            if tname != "all":
                decided[tname] = decided.get(tname, 0) + (
                    c.verdict not in (Verdict.NONSMOOTH.label, Verdict.NOISE.label,
                                      Verdict.RESOLUTION.label))
        sampled = ({prob.blocks[b][0] for b in np.unique(prob.block_of(self.index))}
                   if self.index.size else set())
        self.unverified = [t for t, k in decided.items() if k == 0 and t not in sampled]
        self.n_localize_evals = sum(loc.n_evals for loc in rep.localized.values())
        # a coordinate off by more than a direction's tolerance fails it
        # (module fastfd.gradcheck._directions, "Detection power")
        tols = {}
        for tname, c in rep.checks:
            if tname != "all" and c.tolerance > 0 and np.isfinite(c.tolerance):
                tols.setdefault(tname, []).append(c.tolerance)
        for tname, a, b, _ in prob.blocks:
            scale = rms(prob.g[a:b])
            if tname in tols and scale > 0:
                self.direction_resolution[tname] = float(np.median(tols[tname])) / scale

    def _no_outputs(self):
        # the vector checks' fields (fastfd.gradcheck._vector sets them)
        self.check = "Gradient"
        self.outputs = None
        self.n_projections = 0
        self.n_analytic = 0
        self.entries, self.undecided_entries, self.unresolved_entries = [], [], []
        self.notes = []
        self.analytic_error = None

    @property
    def coverage(self):
        """E.g. "checked 3,072 of 1,002,570 coordinates in 6 tensors and 64
        directions"; a vector check adds its output projections ("checked
        785 of 785 coordinates in 2 tensors, 2 projections of 1,000
        outputs")."""
        line = coverage_line(self.n_checked, self.problem.n, len(self.problem.blocks),
                             self.n_directions)
        if self.outputs is None:
            return line
        k, m = self.n_projections, self.outputs.n
        return (f"{line}, {k} projection{'s' if k != 1 else ''} of {m:,} "
                f"output{'s' if m != 1 else ''}")

    @property
    def full_check_seconds(self):
        """What a full per-coordinate check would cost: per-call time x 2n."""
        return None if self.t_call is None else 2 * self.problem.n * self.t_call

    @property
    def tensors(self):
        rows = self._coordinate_tensors
        failed = ({t for t, *rest in self.direction_failures if rest[4]}
                  | {self._tensor_of(c.index) for c in self.localized}
                  | {u[0] for u in self.unresolved if u[6]})
        unsure = ({t for t, *_ in self.direction_failures}
                  | {t for t, _ in self.unresolvable if t != "all"}
                  | {self._tensor_of(c.index) for c in self.undecided_localized}
                  | {u[0] for u in self.unresolved})
        out = []
        for t in rows:
            status = t.status
            if t.name in failed:
                status = "failed"
            elif t.name in unsure and status != "failed":
                status = "inconclusive"
            out.append(t._replace(status=status, passed=(
                None if status is None else status == "passed")))
        return out

    def _fully_checked(self):
        """Names of the tensors every coordinate of which was checked."""
        if not self.index.size:
            return set()
        counts = np.bincount(self.problem.block_of(self.index),
                             minlength=len(self.problem.blocks))
        return {name for (name, a, b, _), k in zip(self.problem.blocks, counts)
                if k == b - a}

    def _undecide(self, keep, note):
        """Make every failing coordinate not in `keep` (flat indices)
        inconclusive ("loss resolution"), with the directional failures and
        ranges behind them, and recompute the status; `note` says why."""
        keep = set(int(i) for i in keep)
        wrong = (self._codes == Verdict.WRONG) & ~np.isin(self.index, list(keep))
        self._codes = self._codes.copy()
        self._codes[wrong] = Verdict.RESOLUTION
        moved = [c for c in self.localized if c.index not in keep]
        self.localized = [c for c in self.localized if c.index in keep]
        self.undecided_localized = self.undecided_localized + [
            c._replace(verdict=Verdict.RESOLUTION.label, status="inconclusive") for c in moved]
        if not self.localized:
            self.direction_failures = [d[:5] + (False,) for d in self.direction_failures]
            self.unresolved = [u[:6] + (False,) for u in self.unresolved]
        self.status = self._combine()
        self.passed = self.status == "passed"
        self.notes = list(self.notes) + [note]

    def _tensor_of(self, i):
        return self.problem.blocks[int(self.problem.block_of(np.array([i]))[0])][0]

    def failures(self):
        """Every failing coordinate (status "failed"), worst first, as
        :class:`CoordinateCheck`: the checked ones, then those found by
        bisection."""
        mine = self._coordinate_failures()
        have = {c.index for c in mine}
        return mine + [c for c in self.localized if c.index not in have]

    def undecided(self):
        """Every inconclusive coordinate, worst first (``verdict`` says why):
        the checked ones, then those bisection pointed at without confirming
        them."""
        mine = self._coordinate_undecided()
        have = {c.index for c in mine}
        return mine + [c for c in self.undecided_localized if c.index not in have]

    def worst(self, k=10):
        """The `k` worst coordinates: those localized by bisection, then the
        checked ones (failing first, then inconclusive, then by relative
        error).

        Returns a list of :class:`CoordinateCheck` with readable names.
        """
        rows = self._coordinate_worst(k)
        have = {c.index for c in rows}
        extra = [c for c in self.localized if c.index not in have]
        return (extra + rows)[:int(k)]

    def __repr__(self):
        if not self.n_directions:
            return self._coordinate_repr()
        return (f"<GradCheckResult {self.status}: "
                f"{self.coverage}, {len(self.failures())} wrong coordinates found>")

    def range_name(self, tname, start, stop):
        """A flat range ``start:stop`` as an index expression of its tensor,
        e.g. ``head.weight[174:183, :]``."""
        for name, a, b, shape in self.problem.blocks:
            if name == tname and a <= start and stop <= b:
                return _range_expr(name, shape, start - a, stop - a)
        return f"{tname}: flat coordinates {start}..{stop - 1}"

    def report(self, k=5, max_ranges=8):
        """The compact report; for sampled checks with a coverage line, the
        directional checks and the coordinates localized by bisection;
        failing ranges are named by tensor index and capped at `max_ranges`.
        A vector check's report names the check ("VJP check ...") and adds
        the Jacobian entries it localized."""
        text = self._stage_report(k, max_ranges)
        if self.outputs is None:
            return text
        lines = [line.replace("loss evaluations", "evaluations of f")
                 for line in text.split("\n")]
        lines[0] = lines[0].replace("Gradient check", f"{self.check} check", 1)
        if self.analytic_error is not None:
            lines.insert(0, f"{self.check} check FAILED: {self.analytic_error}")
        calls = "" if self.check == "Jacobian" else (
            f"; {self.n_analytic:,} {self.check.lower()} call"
            f"{'s' if self.n_analytic != 1 else ''}")
        lines.append(f"  {self.coverage}{calls}")
        lines.append("  (per coordinate, 'numerical' and 'analytical' are projections "
                     "w . J[:, j] onto the check's output weights; entries are J[i, j])")
        lines.extend(f"  {note}" for note in self.notes)
        _listing(lines, "wrong Jacobian entries (output / input)", self.entries)
        _listing(lines, "entries whose discrepancy did not hold at 2h (inconclusive)",
                 self.undecided_entries)
        for name, disc, tol in self.unresolved_entries[:max_ranges]:
            lines.append(f"  {name}: |discrepancy| {disc:.3e} > tolerance {tol:.3e}, no "
                         f"single output isolated")
        return "\n".join(lines)

    def _stage_report(self, k, max_ranges):
        if not self.n_directions:
            return self._coordinate_report(k)
        lines = []
        if self.mode == "all":
            lines.extend(self._coordinate_report(k).split("\n"))
        else:
            status = {"passed": "passed", "failed": "FAILED",
                      "inconclusive": "inconclusive"}[self.status]
            lines.append(f"Gradient check {status} (sampled): {self.coverage}")
            full = ("" if self.full_check_seconds is None else
                    f" (a full check: {2 * self.problem.n:,} evaluations, about "
                    f"{_fmt_seconds(self.full_check_seconds)})")
            lines.append(f"  {self.n_evals:,} loss evaluations in "
                         f"{_fmt_seconds(self.elapsed)}{full}; tol={self.tol:g}, {self.dtype}")
            if self.n_checked:
                lines.append(
                    f"  sampled coordinates: relative error {self.rel_error:.2e} (seed "
                    f"definition), max abs error {self.max_abs_error:.2e}, max rel error "
                    f"{self.max_rel_error:.2e}")
                lines.extend(self._confirmed_line())
                lines.extend(self._resolution_line())
                lines.extend(self._advice())
            dfail = {}
            for t, *_ in self.direction_failures:
                dfail[t] = dfail.get(t, 0) + 1
            dres = self.direction_resolution
            lines.extend(self._table([
                ("directions failed", lambda t: (
                    f"{dfail.get(t.name, 0):>8} of {self.n_directions:<6}")),
                ("dir. resolution", lambda t: (
                    "-" if dres.get(t.name) is None else f"{dres[t.name]:.1e}"))],
                sampled=True))
            if dres:
                lines.append("  dir. resolution: the error of one coordinate, relative to its "
                             "tensor's gradient RMS, that fails each direction (median "
                             "tolerance); smaller errors are invisible to the directions")
            rows = [r for r in self._coordinate_worst(k) if r.verdict != Verdict.OK.label]
            if rows:
                lines.append("  failing or inconclusive sampled coordinates:")
                cw = max(10, max(len(r.name) for r in rows))
                for r in rows:
                    lines.append(f"  {r.name:<{cw}}  numerical {r.numerical:>13.6g}  "
                                 f"analytical {r.analytical:>13.6g}  {r.verdict}")
        _listing(lines, "wrong coordinates localized by bisection "
                        f"({self.n_localize_evals:,} evaluations)", self.localized)
        _listing(lines, "coordinates bisection pointed at whose discrepancy changed at a 16x "
                        "smaller step (inconclusive)", self.undecided_localized)
        for t in self.truncated:
            lines.append(f"  {t}: stopped after localizing the first coordinates; it is "
                         f"wrong in more places")
        for t, a, b, j, disc, tol, confirmed in self.unresolved[:max_ranges]:
            where = ("all tensors" if t == "all tensors" else self.range_name(t, a, b))
            what = ("confirmed at a 16x smaller step" if confirmed else
                    "not confirmed at a 16x smaller step (a kink, or no time left to "
                    "re-check): inconclusive")
            lines.append(f"  {where}: direction {j} fails (|discrepancy| {abs(disc):.3e} > "
                         f"tolerance {tol:.3e}), no single coordinate isolated; {what}")
        if len(self.unresolved) > max_ranges:
            lines.append(f"  ... and {len(self.unresolved) - max_ranges} more failing ranges")
        unconfirmed = [d for d in self.direction_failures if not d[5]]
        if unconfirmed and not self.unresolved:
            lines.append(f"  {len(unconfirmed)} directional failure(s) did not survive a "
                         f"16x smaller step (a kink, or no time left to re-check): "
                         f"inconclusive; would help: a larger budget, coords=\"all\" or a "
                         f"point away from kinks")
        if self.unresolvable:
            lines.append(f"  inconclusive (loss resolution): {len(self.unresolvable)} "
                         f"directional check(s) could not resolve the change of the loss "
                         f"(noise above 5% of |grad . v|); would help: "
                         f"{self._resolution_advice()}")
        if self.nonsmooth:
            lines.append(f"  non-smooth points: {len(self.nonsmooth)} directional "
                         f"check(s) crossed a kink (reported, not counted as errors)")
        if self.unverified:
            lines.append(f"  inconclusive (non-smooth point): every directional check of "
                         f"{', '.join(self.unverified)} crossed a kink even at a 16x smaller "
                         f"step, and none of its coordinates was checked: nothing verified "
                         f"there; would help: {ADVICE['non-smooth point']}, or coords > 0")
        return "\n".join(lines)


def _listing(lines, title, items, k=20):
    """Append `title` and the first `k` of `items` (named records with a
    numerical and an analytical value and a verdict) to the report `lines`."""
    if not items:
        return
    lines.append(f"  {title}:")
    cw = max(10, max(len(c.name) for c in items[:k]))
    for c in items[:k]:
        lines.append(f"  {c.name:<{cw}}  numerical {c.numerical:>13.6g}  "
                     f"analytical {c.analytical:>13.6g}  {c.verdict}")
    if len(items) > k:
        lines.append(f"  ... and {len(items) - k} more")


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


def _fmt_seconds(t):
    """``t`` seconds, three significant digits in the unit that reads best:
    "649 µs", "12.3 ms", "4.56 s", "16.7 min", "82.5 h"."""
    t = float(f"{t:.3g}")       # 999.7 µs is "1 ms", not "1e+03 µs"
    for unit, size, below in (("µs", 1e-6, 1e-3), ("ms", 1e-3, 1.0), ("s", 1.0, 100.0),
                              ("min", 60.0, 6000.0)):
        if t < below:
            return f"{t / size:.3g} {unit}"
    h = t / 3600.0
    return f"{h:.3g} h" if h < 1000 else f"{h:,.0f} h"


def coverage_line(n_checked, n, n_blocks, n_directions):
    """``"checked 3,072 of 1,002,570 coordinates in 6 tensors and 64 directions"``."""
    tensors = f"{n_blocks} tensor{'s' if n_blocks != 1 else ''}"
    line = f"checked {n_checked:,} of {n:,} coordinates in {tensors}"
    if n_directions:
        line += f" and {n_directions} direction{'s' if n_directions != 1 else ''}"
    return line


def _range_expr(name, shape, a, b):
    """``name[...]`` for the flat range ``a:b`` (C order) of a tensor of ``shape``."""
    if len(shape) <= 1:
        return f"{name}[{a}:{b}]" if b - a > 1 else f"{name}[{a}]"
    inner = int(np.prod(shape[1:]))
    rest = ", ".join([":"] * (len(shape) - 1))
    if a % inner == 0 and b % inner == 0:
        r0, r1 = a // inner, b // inner
        return f"{name}[{r0}:{r1}, {rest}]" if r1 - r0 > 1 else f"{name}[{r0}, {rest}]"
    if a // inner == (b - 1) // inner:
        r = a // inner
        sub = _range_expr("", shape[1:], a - r * inner, b - r * inner)
        return f"{name}[{r}, {sub[1:-1]}]"
    first = np.unravel_index(a, shape)
    last = np.unravel_index(b - 1, shape)
    fmt = lambda ix: ", ".join(str(int(i)) for i in ix)  # noqa: E731
    return f"{name}[{fmt(first)}] .. {name}[{fmt(last)}]"

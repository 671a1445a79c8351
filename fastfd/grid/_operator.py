"""Linear stencil operators: build them by algebra, apply them in one pass,
get their sparse matrix.

An :class:`Operator` is a sum of terms; a term is a coefficient (a number,
or a field of the grid's shape), times a product of derivatives along
distinct axes (several along one axis are composed into one 1-D operator,
edge rows included), applied to one input field. ``+``, ``-``, numbers and
arrays as coefficients (``k * Diff(0)``) and composition with ``@``
(``Diff(0) @ Diff(1)`` is the mixed partial) keep that form, so such an
operator is applied by one compiled kernel (``fastfd._kernels.operator``)
in one pass over memory, and its matrix is a sum of Kronecker products of
1-D matrices (``fastfd.grid._axis``).

The one composition that leaves that form is a coefficient field between
two derivatives (``Diff(0) @ (k * Diff(0))``): its weights change from
point to point. It is kept as a chain ``(outer, inner)``, applied as
``outer(inner(u))`` through a temporary, its matrix the product of the
two; the one-pass paths (``op.kernel``, ``fuse``, ``op.stencil``) refuse it.
"""

from __future__ import annotations

import itertools
import numbers

import numba
import numpy as np

from .. import _config
from .._kernels import operator as _k
from .._kernels.schedule import launch
from .._validation import (
    as_float_array, check_accuracy, check_choice, check_int, check_out, check_scheme,
    check_spacing, is_dask_array, short_repr, wraps_dask_array,
)
from .._validation import check_order as _check_order
from ..stencils import check_accuracy_limit, stencil_offsets
from . import _axis, _codegen, _dask

__all__ = ["Operator", "VectorOperator", "Diff", "Identity", "Laplacian", "Gradient",
           "Divergence", "Curl", "DivKGrad"]

BOUNDARIES = ("one-sided", "periodic", "valid")
MAX_NDIM = 3
# Outputs smaller than this go through the table kernel alone (compiled once
# and cached for every operator): generating and compiling an operator's
# own kernel takes about 0.5-1 s, which a small grid does not win back.
GENERATED_MIN = 4096
# Outputs of at least this many points also get generated code for the edge
# rows of axis 1 (see _codegen._flat_source); it doubles the compile time
# of an operator's kernels (measured: the cold grid operator tests went
# from 55 s to 184 s), which only a large grid wins back.
ROWS_MIN = 1 << 18
# Rows per block of a generated flat pass: about this many points per plane
# (128 KiB of float64), so the 3 planes of an accuracy-2 3-D stencil, or the
# 5 of accuracy 4, stay in the 1 MiB L2 as a block is swept through the
# planes. Measured on a 256^3 7-point Laplacian, 2 threads, against
# np.copyto: 1.19x unblocked, 1.11x at 4096 points, 1.04x at 16384.
BLOCK_POINTS = 16384


class _D:
    """One derivative along an axis: order, accuracy, scheme and spacing
    (a float, or a read-only float64 coordinate array)."""

    __slots__ = ("order", "accuracy", "scheme", "dx")

    def __init__(self, order, accuracy, scheme, dx):
        self.order, self.accuracy, self.scheme, self.dx = order, accuracy, scheme, dx

    def key(self):
        dx = self.dx if not isinstance(self.dx, np.ndarray) else ("coords", id(self.dx))
        return (self.order, self.accuracy, self.scheme, dx)

    def __repr__(self):
        parts = [f"order={self.order}"] if self.order != 1 else []
        if self.accuracy != 2:
            parts.append(f"accuracy={self.accuracy}")
        if self.scheme != "centered":
            parts.append(f"scheme={self.scheme!r}")
        if isinstance(self.dx, np.ndarray):
            parts.append(f"dx=<{self.dx.size} coordinates>")
        elif self.dx != 1.0:
            parts.append(f"dx={self.dx!r}")
        return ", ".join(parts)


class _Term:
    """``coef * cfield * prod_axis (chain along axis) u[field]``."""

    __slots__ = ("coef", "cfield", "axes", "field")

    def __init__(self, coef, cfield, axes, field):
        self.coef = coef            # a Python float or complex
        self.cfield = cfield        # None or a read-only ndarray
        self.axes = axes            # {axis: (_D, ...)} in matrix order (last applied first)
        self.field = field

    def key(self):
        return (id(self.cfield), self.field,
                tuple(sorted((a, tuple(d.key() for d in c)) for a, c in self.axes.items())))


def _merge(terms):
    """Like terms (same derivatives, field and coefficient field) summed; zeros dropped."""
    out = {}
    for t in terms:
        k = t.key()
        if k in out:
            s = out[k]
            out[k] = _Term(s.coef + t.coef, s.cfield, s.axes, s.field)
        else:
            out[k] = t
    return tuple(t for t in out.values() if t.coef != 0)


def _coefficient(value):
    """A number (Python float or complex) or a read-only copy of an array."""
    if isinstance(value, (numbers.Number, np.number)) and not isinstance(value, (bool, np.bool_)):
        return complex(value) if np.iscomplexobj(value) else float(value), None
    if is_dask_array(value) or wraps_dask_array(value):
        raise TypeError(
            "a coefficient field must be an in-memory array (the operator keeps a copy): "
            "compute it first with k.compute() (u itself may be a dask array)")
    if isinstance(value, (np.ndarray, list, tuple)) or hasattr(value, "__array__"):
        arr = np.array(value)
        if arr.dtype.kind not in "iufc":
            raise TypeError(f"a coefficient field must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 0:
            return _coefficient(arr.item())
        arr.flags.writeable = False
        return 1.0, arr
    return None, None


class Operator:
    """A linear stencil operator on sampled fields (see :func:`Diff`).

    Apply it with ``op(u, boundary=..., out=...)``; combine it with ``+``,
    ``-``, numbers and arrays (``k * op``) and ``@`` (composition);
    ``op.matrix(shape)`` is its scipy.sparse matrix and ``op.stencil`` its
    interior weights.
    """

    # k * op, k + op with an ndarray k reach __rmul__ / __radd__ (NumPy would
    # otherwise apply the operation per element, making an object array)
    __array_ufunc__ = None

    def __init__(self, terms, nfields=1, chains=()):
        self._terms = _merge(terms)
        # (outer, inner) pairs, each applied as outer(inner(u)): a
        # coefficient field between two derivatives (Diff(0) @ (k * Diff(0)))
        # makes a stencil that changes from point to point, applied in two
        # passes through a temporary
        chains = [(o, i) for o, i in chains if o._terms or o._chains]
        self._nfields = max([nfields] + [1 + t.field for t in self._terms]
                            + [inner.nfields for _, inner in chains])
        # every inner operator takes the whole stack of fields this one does
        self._chains = tuple((o, _widen(i, self._nfields)) for o, i in chains)
        # per grid: plans, and for chains their parts, ranges and cut operators
        self._cache = {}

    # ------------------------------------------------------------ algebra
    def __add__(self, other):
        other = _as_operator(other)
        if other is NotImplemented:
            return NotImplemented
        return Operator(self._terms + other._terms, max(self.nfields, other.nfields),
                        self._chains + other._chains)

    __radd__ = __add__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        other = _as_operator(other)
        if other is NotImplemented:
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, (Operator, VectorOperator)):
            raise TypeError("use @ to compose operators (Diff(0) @ Diff(1) is the mixed "
                            "partial); * multiplies by a number or a coefficient field")
        coef, field = _coefficient(other)
        if coef is None:
            return NotImplemented
        terms = [_Term(t.coef * coef, _product(t.cfield, field), t.axes, t.field)
                 for t in self._terms]
        return Operator(terms, self.nfields,
                        [(outer * other, inner) for outer, inner in self._chains])

    __rmul__ = __mul__

    def __matmul__(self, other):
        if not isinstance(other, Operator):
            return NotImplemented
        if self.nfields > 1:
            raise ValueError("the left operand of @ must act on one field")
        terms, chains = [], []
        for a in self._terms:
            for b in other._terms:
                if b.cfield is not None and a.axes:
                    chains.append((Operator([a]), Operator([b], other.nfields)))
                    continue
                axes = dict(b.axes)
                for ax, chain in a.axes.items():
                    axes[ax] = chain + axes.get(ax, ())
                terms.append(_Term(a.coef * b.coef, _product(a.cfield, b.cfield), axes,
                                   b.field))
            chains += [(Operator([a]) @ outer, inner) for outer, inner in other._chains]
        chains += [(outer, inner @ other) for outer, inner in self._chains]
        return Operator(terms, other.nfields, chains)

    def on(self, field, nfields=None):
        """This operator applied to field `field` of a stack of fields
        (``nfields`` of them, default ``field + 1``): ``Laplacian(2).on(1)``
        in :func:`fastfd.grid.fuse` or a sum such as ``Diff(0).on(0) +
        Diff(1).on(1)`` (a divergence)."""
        field = check_int("field", field, minimum=0)
        if self.nfields > 1:
            raise ValueError("on() takes an operator of one field")
        n = field + 1 if nfields is None else check_int("nfields", nfields, minimum=field + 1)
        return _on_field(self, field, n)

    # ------------------------------------------------------------ description
    @property
    def nfields(self):
        """Number of input fields (1 except for operators such as :func:`Divergence`)."""
        return self._nfields

    @property
    def min_ndim(self):
        """The fewest dimensions a field needs (one more than the highest axis used)."""
        return max([1 + max((a for t in self._terms for a in t.axes), default=-1)]
                   + [max(o.min_ndim, i.min_ndim) for o, i in self._chains])

    def _reach(self, ndim):
        """Per axis of a field of `ndim` dimensions, ``(back, ahead)``: how
        far the interior stencil of a point reaches (the most over the
        terms; a chain's outer and inner reaches added). Every path of
        ``op(u)`` computes a point from the samples its stencil reads, in
        one order, so for a box of the grid widened by the reach (clipped
        at the grid's edges), ``op(u[widened], boundary="one-sided")`` on
        the box equals ``op(u, boundary="one-sided")`` there bit for bit,
        with the operator's coefficient fields and coordinates cut to the
        widened box (:meth:`_crop`); ``boundary="valid"`` drops this many
        points at each end, and ``op(u, boundary="periodic")`` equals
        ``boundary="valid"`` on ``u`` wrap-padded by it."""
        ndim = _check_ndim(ndim)
        if ndim < self.min_ndim:
            raise ValueError(f"this operator differentiates along axis {self.min_ndim - 1}, "
                             f"but ndim is {ndim}")
        out = [[0, 0] for _ in range(ndim)]
        for t in self._terms:
            for a, chain in t.axes.items():
                back, ahead = _chain_reach(chain, a)
                out[a] = [max(out[a][0], back), max(out[a][1], ahead)]
        for outer, inner in self._chains:
            for a, ((b0, a0), (b1, a1)) in enumerate(zip(outer._reach(ndim),
                                                         inner._reach(ndim))):
                out[a] = [max(out[a][0], b0 + b1), max(out[a][1], a0 + a1)]
        return tuple((int(b), int(a)) for b, a in out)

    def _min_points(self, ndim, boundary):
        """Per axis of a field of `ndim` dimensions, the fewest points
        ``op(u, boundary=boundary)`` takes there (fewer raise ValueError):
        a widened box of :meth:`_reach` needs as many."""
        boundary = check_choice("boundary", boundary, BOUNDARIES)
        reach = self._reach(ndim)
        out = [1] * ndim
        for t in self._terms:
            for a, chain in t.axes.items():
                if boundary == "periodic":
                    need = max(_axis.stencil_width(d.order, d.accuracy, d.scheme)
                               for d in chain)
                else:
                    need = sum(_axis.min_points(d.order, d.accuracy, d.scheme)
                               for d in chain) - len(chain) + 1
                out[a] = max(out[a], need)
        for outer, inner in self._chains:
            shrink = inner._reach(ndim) if boundary == "valid" else ((0, 0),) * ndim
            for a, (o, i, (b0, b1)) in enumerate(zip(outer._min_points(ndim, boundary),
                                                     inner._min_points(ndim, boundary), shrink)):
                out[a] = max(out[a], i, o + b0 + b1)
        if boundary == "valid":
            out = [max(n, b + c + 1) for n, (b, c) in zip(out, reach)]
        return tuple(int(n) for n in out)

    def __repr__(self):
        return f"Operator({self._describe()})"

    def _describe(self):
        if not self._terms and not self._chains:
            return "0"
        parts = []
        for t in self._terms:
            factors = [f"Diff({a}{', ' + repr(d) if repr(d) else ''})"
                       for a in sorted(t.axes) for d in t.axes[a]]
            coef = "" if t.coef == 1 else f"{t.coef!r} * "
            if t.cfield is not None:
                coef += f"<field {t.cfield.shape}> * "
            body = " @ ".join(factors) if factors else "Identity()"
            field = f" on field {t.field}" if self.nfields > 1 else ""
            parts.append(f"{coef}{body}{field}")
        parts += [f"({outer._describe()}) @ ({inner._describe()})"
                  for outer, inner in self._chains]
        return " + ".join(parts)

    @property
    def stencil(self):
        """Interior stencil: ``{offsets: weight}`` with one offset per axis
        (axes ``0 .. min_ndim - 1``; a leading field index for operators of
        several fields). Only for uniform spacings and number coefficients:
        a coefficient field or coordinates change the weights from point to
        point."""
        self._one_pass("has no constant stencil; see op.matrix(shape)")
        nd = max(self.min_ndim, 1)
        out = {}
        for t in self._terms:
            if t.cfield is not None:
                raise ValueError("an operator with a coefficient field has no constant "
                                 "stencil; see op.matrix(shape)")
            parts = [({0: 1.0}) for _ in range(nd)]
            for a, chain in t.axes.items():
                if any(isinstance(d.dx, np.ndarray) for d in chain):
                    raise ValueError("an operator on coordinates has no constant stencil; "
                                     "see op.matrix(shape)")
                n = sum(_axis.min_points(d.order, d.accuracy, d.scheme) for d in chain) + 2
                tab = _chain_table(chain, n, "periodic")
                parts[a] = {int(o): float(w) for o, w in zip(tab.off, tab.iw)}
            grid = [{(): t.coef}]
            for p in parts:
                grid = [{k + (o,): v * w for k, v in g.items() for o, w in p.items()}
                        for g in grid]
            for k, v in grid[0].items():
                key = (t.field,) + k if self.nfields > 1 else k
                out[key] = out.get(key, 0.0) + v
        return {k: v for k, v in sorted(out.items()) if v != 0}

    # ------------------------------------------------------------ application
    def __call__(self, u, *, boundary="one-sided", out=None):
        """Apply the operator to `u` in one pass: ``out`` (allocated when
        None) of `u`'s dtype, the grid's shape (smaller with
        ``boundary="valid"``). A coefficient field between two derivatives
        (``Diff(0) @ (k * Diff(0))``) takes a second pass, through a
        temporary. A ``dask.array.Array`` `u` gives a dask array, chunk by
        chunk, equal to the in-memory result bit for bit."""
        if is_dask_array(u):
            return _on_dask(u, boundary, out, (self,))
        dtype, shape, ready = self._output(u, boundary)
        if out is None:
            out = np.empty(shape, dtype=dtype)
        else:
            check_out(out, shape, dtype, inputs=(u,))
        self._fill(u, boundary, out, ready)
        return out

    def _output(self, u, boundary):
        """The dtype and shape of ``op(u)``, `u` and `boundary` checked, and
        what :meth:`_fill` needs: ``(plan, u3)``, or the input's shape for
        an operator with chains."""
        if not self._chains:
            plan, u3, dtype, _ = self._prepare(u, boundary)
            return dtype, plan.out_shape, (plan, u3)
        _, _, dtype, shape = self._prepare(u, boundary, plan=False)
        box = _common(self._ranges(shape, check_choice("boundary", boundary, BOUNDARIES)))
        return dtype, tuple(b - a for a, b in box), shape

    def _fill(self, u, boundary, out, ready):
        """``out[...] = op(u)``, for an `out` of :meth:`_output`."""
        if not self._chains:
            _launch_into(*ready, out)
            return
        shape = ready
        boundary = check_choice("boundary", boundary, BOUNDARIES)
        ranges = self._ranges(shape, boundary)
        box = _common(ranges)
        for n, ((outer, inner), r) in enumerate(zip(self._parts(), ranges)):
            part = inner(u, boundary=boundary)
            if outer is not None:
                part = outer._crop(shape, _out_box(inner, shape, boundary))(
                    part, boundary=boundary)
            part = part[tuple(slice(a - c, b - c) for (a, b), (c, _) in zip(box, r))]
            if n == 0:
                out[...] = part
            else:
                out += part

    def _one_pass(self, what):
        if self._chains:
            raise NotImplementedError(
                f"an operator with a coefficient field between two derivatives "
                f"(A @ (k * B)) {what}: it is applied in two passes, A(k * B(u)), by op(u) "
                f"and op.matrix(shape); DivKGrad is the one-pass conservative form of "
                f"div(k grad u)")

    def _parts(self):
        """The operator as ``[(outer, inner)]``, summed: the one-pass terms
        as ``(None, op)``, then every chain. Built once: the parts keep
        their plans from call to call."""
        if "parts" not in self._cache:
            self._cache["parts"] = ([(None, Operator(self._terms, self.nfields))]
                                    if self._terms or not self._chains else []
                                    ) + list(self._chains)
        return self._cache["parts"]

    def _ranges(self, shape, boundary):
        """Per part of :meth:`_parts`, the output range along each axis of
        `shape` (the whole axis except with ``boundary="valid"``), computed
        once per shape and boundary."""
        key = ("ranges", tuple(shape), boundary)
        if key not in self._cache:
            self._cache[key] = self._part_ranges(shape, boundary)
        return self._cache[key]

    def _part_ranges(self, shape, boundary):
        out = []
        for outer, inner in self._parts():
            r = _out_box(inner, shape, boundary)
            if outer is not None:
                between = tuple(b - a for a, b in r)
                try:
                    rel = _out_box(outer._crop(shape, r), between, boundary)
                except ValueError as exc:
                    raise ValueError(
                        f"a grid of shape {tuple(shape)} is too small for {self!r} with "
                        f"boundary={boundary!r}: its inner part leaves {between} points, "
                        f"and then {exc}") from None
                r = [(a + c, a + d) for (a, _), (c, d) in zip(r, rel)]
            out.append(r)
        return out

    def _all_terms(self):
        """The terms, and those of each chain's outer and inner operator."""
        out = list(self._terms)
        for o, i in self._chains:
            out += o._all_terms() + i._all_terms()
        return out

    def _fields(self):
        """The coefficient fields, terms first and then each chain's outer
        and inner operator: the order :meth:`_crop` takes ``fields`` in."""
        return [t.cfield for t in self._all_terms() if t.cfield is not None]

    def _without_fields(self):
        """A copy with empty caches whose coefficient fields are empty
        stand-ins (one each, so no two terms merge): what a dask graph
        carries to its workers, the fields travelling as dask arrays."""
        return self._crop(None, None, fields=iter([np.empty(0) for _ in self._fields()]),
                          cut_axes=False)

    def _crop(self, shape, box, fields=None, cut_axes=True):
        """This operator on the part `box` of a grid of `shape` (the outer
        operator of a chain, applied to the inner one's output; a block of
        a chunked grid): its coefficient fields and coordinates cut to
        `box`, ``[(start, stop)]`` per axis. A box reaching past the grid
        wraps its coefficient fields around (a periodic grid padded by
        wrapping), which coordinates cannot.

        ``fields``: an iterator over the coefficient fields already cut, in
        the order of :meth:`_fields`, used instead of cutting this
        operator's (not cached); ``cut_axes=False`` keeps the coordinates.
        """
        if fields is None:
            box = tuple((int(a), int(b)) for a, b in box)
            if all(a == 0 and b == n for (a, b), n in zip(box, shape)):
                return self
            key = ("crop", tuple(shape), box)
            if key in self._cache:
                return self._cache[key]
        if cut_axes and any(a < 0 or b > n for (a, b), n in zip(box, shape)):
            if any(isinstance(d.dx, np.ndarray) for t in self._terms
                   for chain in t.axes.values() for d in chain):
                raise ValueError(f"a box {box} past the edges of a grid of shape "
                                 f"{tuple(shape)} cannot wrap coordinates")
            cut = np.ix_(*[np.arange(a, b) % n for (a, b), n in zip(box, shape)])
        elif cut_axes:
            cut = tuple(slice(a, b) for a, b in box)

        def field(f):
            if f is None:
                return None
            if fields is not None:
                return _readonly(next(fields))
            return _readonly(_broadcast(f, shape)[cut])

        def axes(t):
            if not cut_axes:
                return t.axes
            return {a: tuple(d if not isinstance(d.dx, np.ndarray) else _D(
                d.order, d.accuracy, d.scheme, _readonly(d.dx[box[a][0]:box[a][1]]))
                for d in chain) for a, chain in t.axes.items()}
        cropped = Operator(
            [_Term(t.coef, field(t.cfield), axes(t), t.field) for t in self._terms],
            self.nfields,
            [(o._crop(shape, box, fields, cut_axes), i._crop(shape, box, fields, cut_axes))
             for o, i in self._chains])
        if fields is None:
            self._cache[key] = cropped
        return cropped

    def _prepare(self, u, boundary, plan=True):
        m = self.nfields
        u, dtype = as_float_array(u, "u")
        ndim = u.ndim - (1 if m > 1 else 0)
        if m > 1 and (u.ndim < 2 or u.shape[0] != m):
            raise ValueError(f"u must hold the {m} fields this operator takes along its "
                             f"first axis, got shape {u.shape}")
        if not 1 <= ndim <= MAX_NDIM:
            raise ValueError(f"operators apply to fields of 1 to {MAX_NDIM} dimensions, got "
                             f"a {ndim}-d field of shape {u.shape}")
        if self.min_ndim > ndim:
            raise ValueError(f"this operator differentiates along axis {self.min_ndim - 1}, "
                             f"but u has {ndim} dimension(s) (shape {u.shape})")
        boundary = check_choice("boundary", boundary, BOUNDARIES)
        shape = u.shape[1:] if m > 1 else u.shape
        if not plan:
            return None, None, dtype, shape
        plan = self._plan(shape, boundary, dtype)
        u3 = np.ascontiguousarray(u).reshape((m,) + (1,) * (MAX_NDIM - ndim) + shape)
        return plan, u3, dtype, shape

    def _plan(self, shape, boundary, dtype):
        key = (shape, boundary, np.dtype(dtype))
        plan = self._cache.get(key)
        if plan is None:
            plan = self._cache[key] = _Plan(self._terms, shape, boundary, dtype)
        return plan

    def kernel(self, shape, boundary="one-sided", *, dtype=np.float64, parallel=None):
        """An ``@njit`` function ``k(u, out, alpha=1.0, beta=0.0)`` that sets
        ``out = alpha * op(u) + beta * out`` for fields of `shape`, callable
        from your own jitted code (a time loop: ``k(u, u_new, dt, 1.0)`` is an
        explicit Euler step with no extra pass).

        `u` has `shape` (``(m,) + shape`` for an operator of ``m`` fields),
        is C-contiguous and of `dtype`; `out` has the output shape (smaller
        with ``boundary="valid"``: the caller keeps the edges, as ghost
        cells) and must not overlap `u`. These O(1) preconditions are checked
        on every call and raise ValueError. `parallel` (default: when the
        output has at least ``fastfd._config.PARALLEL_MIN`` points) runs the
        rows on Numba's threads. The tables are built once, here; the kernel
        compiles on its first call (a closure over them: once per process).

        >>> import numba
        >>> import numpy as np
        >>> from fastfd import Laplacian
        >>> lap = Laplacian(1, dx=0.1).kernel((11,))
        >>> @numba.njit
        ... def heat(u, dt, steps):
        ...     new = np.empty_like(u)
        ...     for _ in range(steps):
        ...         new[:] = u
        ...         lap(u, new, dt, 1.0)
        ...         u, new = new, u
        ...     return u
        >>> x = np.linspace(0.0, 1.0, 11)
        >>> bool(np.allclose(heat(x ** 2, 1e-3, 10), x ** 2 + 10 * 1e-3 * 2))
        True
        """
        from numba import njit

        self._one_pass("has no one-pass kernel")
        shape = _check_shape(shape, self.min_ndim)
        boundary = check_choice("boundary", boundary, BOUNDARIES)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64, np.complex64, np.complex128):
            raise TypeError(f"dtype must be float32, float64, complex64 or complex128, got "
                            f"{dtype}")
        plan = self._plan(shape, boundary, dtype)
        m = self.nfields
        in_shape = ((m,) if m > 1 else ()) + shape
        in3 = (m,) + (1,) * (MAX_NDIM - len(shape)) + shape
        out_shape, out3 = plan.out_shape, plan.out3
        if parallel is None:
            parallel = int(np.prod(out_shape)) >= _config.PARALLEL_MIN
        parallel = bool(parallel)
        kernels = plan.interior_kernels()
        interior = None if kernels is None else kernels[1 if parallel else 0]
        has_interior = interior is not None
        weights = kernels[2] if has_interior else np.zeros(1, dtype)
        flat = kernels[4 if parallel else 3] if has_interior else None
        use_flat = has_interior and plan.flat
        pieces = plan.pieces(parallel)
        if not has_interior:
            interior = flat = _k.apply_serial   # never called; keeps the closure typed
        region = plan.region or (0, 0, 0, 0, 0, 0)
        i0, i1, j0, j1, k0, k1 = region
        coef, lo = plan.coef, plan.lo
        seg, seg_flat = plan.seg, plan.seg_flat
        serial, par, shell = plan.table_kernels()
        segments = par if parallel else serial
        coefficient = _k.coefficient
        # the kernel was built for one shape and dtype (op.kernel(shape, dtype=))
        built = f"; this kernel was built with op.kernel({shape}, dtype={dtype.name})"
        bad_u = (f"operator kernel: u must be a C-contiguous {dtype} array of shape "
                 f"{in_shape}{built}")
        bad_out = (f"operator kernel: out must be a C-contiguous {dtype} array of shape "
                   f"{out_shape}{built}")
        overlap = "operator kernel: out overlaps u in memory"
        overlaps, same_dtype = _simple_checks()
        kernel_u, kernel_out = _k.kernel_u, _k.kernel_out
        proto = np.empty(0, dtype)

        if parallel:
            @njit
            def run_segments(u3, o3, a, b, s):
                if s.shape[0]:
                    segments(u3, o3, a, b, *shell, s, min(s.shape[0], 64))
        else:
            @njit
            def run_segments(u3, o3, a, b, s):
                if s.shape[0]:
                    segments(u3, o3, a, b, *shell, s)

        @njit
        def k(u, out, alpha=1.0, beta=0.0):
            if u.shape != in_shape or not u.flags.c_contiguous or not same_dtype(u, proto):
                raise ValueError(bad_u)
            if out.shape != out_shape or not out.flags.c_contiguous or not same_dtype(out, proto):
                raise ValueError(bad_out)
            if overlaps(u, out):
                raise ValueError(overlap)
            u3 = kernel_u(u, in3)
            o3 = kernel_out(out, out3)
            a = coefficient(alpha, proto)
            b = coefficient(beta, proto)
            if use_flat and b == 0:
                flat(u3, o3, weights, coef, lo, a, i0, i1, j0, j1, k0, k1, pieces)
                run_segments(u3, o3, a, b, seg_flat)
            else:
                if has_interior:
                    interior(u3, o3, weights, coef, lo, a, b, i0, i1, j0, j1, k0, k1)
                run_segments(u3, o3, a, b, seg)

        return k

    def matrix(self, shape, boundary="one-sided"):
        """The operator on fields of `shape` as a ``scipy.sparse`` CSR matrix:
        ``op.matrix(u.shape) @ u.ravel()`` equals ``op(u).ravel()`` to
        rounding (fields stacked, ``u.reshape(m, -1).ravel()``, for an
        operator of ``m`` fields). Built from Kronecker products of 1-D
        matrices, vectorized."""
        import scipy.sparse as sp

        shape = _check_shape(shape, self.min_ndim)
        boundary = check_choice("boundary", boundary, BOUNDARIES)
        if self._chains:
            return self._chain_matrix(shape, boundary)
        tables, ranges = _tables(self._terms, shape, boundary)
        out_shape = tuple(b - a for a, b in ranges)
        n_in = int(np.prod(shape))
        blocks = [None] * self.nfields
        for t, tabs in zip(self._terms, tables):
            m = None
            for tab in tabs:
                s = _axis.sparse(tab)
                m = s if m is None else sp.kron(m, s, format="csr")
            if m is None:  # a 0-d grid cannot happen: shapes have >= 1 axis
                raise ValueError("empty shape")
            c = t.coef
            if t.cfield is not None:
                cf = _broadcast(t.cfield, shape)[tuple(slice(a, b) for a, b in ranges)]
                m = sp.diags(np.ravel(cf) * c, format="csr") @ m
            else:
                m = m * c
            blocks[t.field] = m if blocks[t.field] is None else blocks[t.field] + m
        n_out = int(np.prod(out_shape))
        blocks = [b if b is not None else sp.csr_matrix((n_out, n_in)) for b in blocks]
        mat = sp.hstack(blocks, format="csr") if len(blocks) > 1 else blocks[0].tocsr()
        mat.eliminate_zeros()
        mat.sum_duplicates()
        return mat

    def _chain_matrix(self, shape, boundary):
        """The matrix of each part, the rows of the common output kept:
        ``outer.matrix @ inner.matrix`` for a chain."""
        ranges = self._ranges(shape, boundary)
        box = _common(ranges)
        mat = None
        for (outer, inner), r in zip(self._parts(), ranges):
            m = inner.matrix(shape, boundary)
            if outer is not None:
                box_in = _out_box(inner, shape, boundary)
                m = outer._crop(shape, box_in).matrix(tuple(b - a for a, b in box_in),
                                                      boundary) @ m
            rows = np.ix_(*[np.arange(a - c, b - c) for (a, b), (c, _) in zip(box, r)])
            keep = np.ravel_multi_index(rows, tuple(d - c for c, d in r)).ravel()
            m = m[keep]
            mat = m if mat is None else mat + m
        mat = mat.tocsr()
        mat.eliminate_zeros()
        mat.sum_duplicates()
        return mat


def _widen(op, nfields):
    """`op` taking a stack of `nfields` fields (its terms read the same ones)."""
    if op.nfields == nfields:
        return op
    return Operator(op._terms, nfields, op._chains)


def _readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def _out_box(op, shape, boundary):
    """The output range of `op` along each axis of `shape`."""
    if not op._chains:
        return _tables(op._terms, shape, boundary)[1]
    return _common(op._ranges(shape, boundary))


def _common(ranges):
    """The intersection of per-part output ranges."""
    box = [(max(r[a][0] for r in ranges), min(r[a][1] for r in ranges))
           for a in range(len(ranges[0]))]
    for a, (lo, hi) in enumerate(box):
        if hi <= lo:
            raise ValueError(f"boundary='valid' leaves no point along axis {a}")
    return box


def _simple_checks():
    from .._kernels.simple import overlaps, same_float_dtype
    return overlaps, same_float_dtype


def _broadcast(field, shape):
    try:
        return np.broadcast_to(field, tuple(shape))
    except ValueError:
        raise ValueError(f"a coefficient field of shape {field.shape} does not broadcast to "
                         f"the grid's shape {tuple(shape)}") from None


def _product(f, g):
    """The product of two coefficient fields (None: none), read-only."""
    if f is None or g is None:
        return g if f is None else f
    p = f * g
    p.flags.writeable = False
    return p


def _as_operator(other):
    """An operator from a number or a coefficient field (``L + V``: a
    potential term), NotImplemented otherwise."""
    if isinstance(other, Operator):
        return other
    if isinstance(other, (numbers.Number, np.number, np.ndarray)) and not isinstance(
            other, (bool, np.bool_)):
        return Identity() * other
    return NotImplemented


def _check_shape(shape, min_ndim):
    try:
        shape = tuple(check_int("shape", s, minimum=1) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of positive integers, got "
                        f"{short_repr(shape)}") from None
    if not min_ndim <= len(shape) <= MAX_NDIM or not shape:
        raise ValueError(f"shape must have {max(min_ndim, 1)} to {MAX_NDIM} dimensions for "
                         f"this operator, got {shape}")
    return shape


def _chain_table(chain, n, boundary, axis=None):
    """The 1-D table of a chain of derivatives (matrix order) on `n` points,
    with one-sided or periodic rows ("valid" restricts later)."""
    need = sum(_axis.min_points(d.order, d.accuracy, d.scheme) for d in chain) - len(chain) + 1
    if boundary == "periodic":
        # the stencil must not wrap onto itself
        need = max(_axis.stencil_width(d.order, d.accuracy, d.scheme) for d in chain)
    if n < need:
        raise ValueError(
            f"{_name(chain, axis)} needs at least {need} points along axis {axis} with "
            f"boundary={boundary!r}, got {n}")
    tab = None
    for d in reversed(chain):
        if isinstance(d.dx, np.ndarray) and d.dx.size != n:
            raise ValueError(f"dx has {d.dx.size} coordinates but the field has {n} points "
                             f"along axis {axis}")
        if boundary == "periodic" and isinstance(d.dx, np.ndarray):
            raise ValueError("boundary='periodic' needs a uniform spacing dx, not coordinates")
        nxt = _axis.derivative_table(d.order, d.accuracy, d.scheme, n,
                                     boundary, d.dx)
        tab = nxt if tab is None else _axis.compose(nxt, tab)
    return tab


def _chain_reach(chain, axis):
    """``(back, ahead)`` of a chain's interior stencil: the edge rows it
    has at each end (on coordinates, the rows without a full window)."""
    coords = [d.dx for d in chain if isinstance(d.dx, np.ndarray)]
    if not coords:
        offsets = [stencil_offsets(d.order, d.accuracy, d.scheme) for d in chain]
        return sum(-o[0] for o in offsets), sum(o[-1] for o in offsets)
    n = coords[0].size
    tab = _chain_table(chain, n, "one-sided", axis)
    return tab.v0, n - tab.v1


def _name(chain, axis):
    return " @ ".join(f"Diff({axis}{', ' + repr(d) if repr(d) else ''})" for d in chain)


def _tables(terms, shape, boundary):
    """Per term, one table per axis of `shape`; and the output range per
    axis (all of it, or with "valid" the points where every term's interior
    stencil fits)."""
    full = []
    for t in terms:
        full.append([_chain_table(t.axes[a], n, boundary, a) if a in t.axes
                     else _axis.identity(n) for a, n in enumerate(shape)])
    ranges = []
    for a, n in enumerate(shape):
        if boundary == "valid":
            lo = max([0] + [tabs[a].v0 for t, tabs in zip(terms, full) if a in t.axes])
            hi = min([n] + [tabs[a].v1 for t, tabs in zip(terms, full) if a in t.axes])
            if hi <= lo:
                raise ValueError(f"boundary='valid' leaves no point along axis {a} "
                                 f"({n} points)")
            ranges.append((lo, hi))
        else:
            ranges.append((0, n))
    if boundary == "valid":
        full = [[_axis.restrict(tab, a, b) for tab, (a, b) in zip(tabs, ranges)]
                for tabs in full]
    return full, ranges


class _Plan:
    """The kernel arguments of an operator on one grid shape, boundary and dtype."""

    def __init__(self, terms, shape, boundary, dtype):
        rdtype = np.empty(0, dtype).real.dtype
        tables, ranges = _tables(terms, shape, boundary)
        self.out_shape = tuple(b - a for a, b in ranges)
        pad = MAX_NDIM - len(shape)
        self.out3 = (1,) * pad + self.out_shape
        nt = max(len(terms), 1)
        one = _axis.identity(1)
        tabs3 = [[one] * pad + tabs for tabs in tables] or [[one] * MAX_NDIM]
        stacked = []
        for a in range(MAX_NDIM):
            width = max(tabs[a].idx.shape[1] for tabs in tabs3)
            n = self.out3[a]
            idx = np.zeros((nt, n, width), dtype=np.int64)
            w = np.zeros((nt, n, width), dtype=rdtype)
            cnt = np.zeros((nt, n), dtype=np.int64)
            for k, tabs in enumerate(tabs3):
                tab = tabs[a]
                idx[k, :, :tab.idx.shape[1]] = tab.idx
                w[k, :, :tab.w.shape[1]] = tab.w
                cnt[k] = tab.count
            stacked += [idx, w, cnt]
        width = max(tabs[2].off.size for tabs in tabs3)
        self.J0 = np.array([tabs[2].j0 for tabs in tabs3], dtype=np.int64)
        self.J1 = np.array([tabs[2].j1 for tabs in tabs3], dtype=np.int64)
        self.OFF = np.zeros((nt, width), dtype=np.int64)
        self.IW = np.zeros((nt, width), dtype=rdtype)
        self.NC = np.zeros(nt, dtype=np.int64)
        for k, tabs in enumerate(tabs3):
            tab = tabs[2]
            if tab.j1 > tab.j0:
                self.OFF[k, :tab.off.size] = tab.off
                self.IW[k, :tab.iw.size] = tab.iw
                self.NC[k] = tab.off.size
        self.tables = stacked
        _check_complex(terms, dtype)
        self.field = np.array([t.field for t in terms] or [0], dtype=np.int64)
        self.scale = np.array([t.coef for t in terms] or [0.0], dtype=dtype)
        fields = [t.cfield for t in terms if t.cfield is not None]
        self.cidx = np.full(nt, -1, dtype=np.int64)
        shape3 = self.shape3 = (1,) * pad + tuple(shape)
        self.coef = np.zeros((max(len(fields), 1),) + ((1,) * MAX_NDIM if not fields
                                                        else shape3), dtype=dtype)
        j = 0
        for k, t in enumerate(terms):
            if t.cfield is not None:
                self.coef[j] = _broadcast(t.cfield, tuple(shape)).reshape(shape3)
                self.cidx[k] = j
                j += 1
        self.lo = np.array([0] * pad + [a for a, _ in ranges], dtype=np.int64)
        if not terms:
            self.scale[:] = 0
        self._ndim = len(shape)
        self._interior(terms, tabs3, dtype)
        self._setup_rows(boundary)

    def _interior(self, terms, tabs3, dtype):
        """The rows where every term applies its interior stencil along axes
        0 and 1 (a generated kernel's: interior columns in one loop, edge
        columns one by one), and the segments left to the table kernel."""
        n0, n1, n2 = self.out3
        region = []
        for a in range(MAX_NDIM):
            lo = max(tabs[a].j0 for tabs in tabs3)
            hi = min(tabs[a].j1 for tabs in tabs3)
            region.append((lo, max(lo, hi)))
        (i0, i1), (j0, j1), (k0, k1) = region
        # the edge columns are written relative to the row's two ends: the
        # same source serves every length with this stencil structure
        if not (terms and i1 > i0 and j1 > j0 and k1 > k0 and n2 >= 4 * (k0 + n2 - k1) + 4
                and n0 * n1 * n2 >= GENERATED_MIN):
            i0 = i1 = j0 = j1 = k0 = k1 = 0
        self.region = (i0, i1, j0, j1, k0, k1) if i1 > i0 else None
        self.terms, self.tabs3 = terms, tabs3
        self._kernels = None
        self.seg = edge_rows(self.out3, self.region)
        # the flat pass writes the edge rows of the planes i0:i1 itself
        # (generated, as for the edge columns), the table kernel the rest
        self.seg_flat = self.seg
        self.rows = (self.region is not None and self.flat
                     and n0 * n1 * n2 >= ROWS_MIN and (j0 > 0 or j1 < n1))
        if self.rows:
            planes = self.seg[:, 0]
            self.seg_flat = np.ascontiguousarray(self.seg[(planes < i0) | (planes >= i1)])

    @property
    def shell(self):
        """The table kernel's arguments between ``alpha, beta`` and the
        segments."""
        return (self.field, self.scale, self.cidx, self.coef, self.lo, *self.tables, self.J0,
                self.J1, self.OFF, self.IW, self.NC)

    def _setup_rows(self, boundary):
        """Per term and axis, the interior stencil ``[(d, w)]`` (read at
        ``i + lo + d``; None without one) and whether every term is on a
        uniform grid (the program kernel's, see :meth:`table_kernels`)."""
        self.periodic = boundary == "periodic"
        self.uniform = all(not isinstance(d.dx, np.ndarray) for t in self.terms
                           for chain in t.axes.values() for d in chain)
        pad = MAX_NDIM - self._ndim
        inner = []
        for t, tabs in zip(self.terms, self.tabs3):
            rows = []
            for a in range(MAX_NDIM):
                ax = a - pad
                if self.periodic and ax in t.axes:
                    # every row of a periodic axis has the interior
                    # stencil, wrapped: taken from a table long enough to
                    # have an interior whatever the grid's length
                    chain = t.axes[ax]
                    n = 2 * sum(_axis.min_points(d.order, d.accuracy, d.scheme)
                                for d in chain) + 2
                    tab = _chain_table(chain, n, "periodic", ax)
                    rows.append([(int(o), w) for o, w in zip(tab.off, tab.iw)])
                elif tabs[a].j1 > tabs[a].j0:
                    rows.append([(int(o) - int(self.lo[a]), w)
                                 for o, w in zip(tabs[a].off, tabs[a].iw)])
                else:
                    rows.append(None)
            inner.append(rows)
        self._inner = inner
        self._table = None

    def _axis_rows(self, k, a, i):
        """Term `k`'s stencil along axis `a` at output row `i`: ``[(d, w)]``,
        read at ``i + lo[a] + d`` (modulo the axis' length when periodic)."""
        tab = self.tabs3[k][a]
        if self.periodic or tab.j0 <= i < tab.j1:
            return self._inner[k][a]
        base = i + int(self.lo[a])
        return [(int(tab.idx[i, e]) - base, tab.w[i, e]) for e in range(tab.count[i])]

    def groups(self, k0, k1, row=None):
        """``((interior_terms, edges), interior_weights, edge_weights)`` of
        this operator for :func:`fastfd.grid._codegen.row_source`, with
        columns ``k0:k1`` interior (every term's interior stencil must cover
        them), each point's expression :func:`_canonical`. The source reads
        every operator's interior weights first, then every operator's edge
        weights. With `row`, the same for that edge row of axis 1 (its
        one-sided stencil, as offsets from the row)."""
        n1, n2 = self.out3[1], self.out3[2]
        lo = [int(x) for x in self.lo]
        cidx = [int(c) for c in self.cidx]
        periodic = self.periodic

        def col(idx):
            return (0, int(idx)) if idx < n2 // 2 else (n2, int(idx) - n2)

        def rows(c=None):
            return [(self._inner[k][0],
                     self._inner[k][1] if row is None else self._axis_rows(k, 1, row),
                     self._inner[k][2] if c is None else self._axis_rows(k, 2, c))
                    for k in range(len(self.terms))]

        def q_at(q):
            if row is None:
                return q + lo[1]
            return (row + q) % n1 - row if periodic else q

        def build(c, weights):
            out = []
            for field, ci, grps in _canonical(self.terms, cidx, rows(c)):
                pts = []
                for w, keys in grps:
                    weights.append(w)
                    if c is None:
                        pts.append([(p + lo[0], q_at(q), r + lo[2]) for p, q, r in keys])
                    else:
                        pts.append([(p + lo[0], q_at(q), col((c + r) % n2 if periodic
                                                              else c + r))
                                    for p, q, r in keys])
                out.append((field, ci, pts))
            return out

        weights, edge_weights = [], []
        interior = build(None, weights)
        edges = [(col(c), build(c, edge_weights))
                 for c in [*range(k0), *range(k1, n2)]]
        return (interior, edges), weights, edge_weights

    def table_kernels(self):
        """``(serial, parallel, args)``: the kernels that fill segments of
        rows, called as ``serial(u3, out3, alpha, beta, *args, seg)`` and
        ``parallel(..., seg, nblocks)``. On uniform grids, the program
        kernel: every point evaluates the expression the generated kernels
        write for it (:func:`_canonical`), so an output is the same bits
        whichever path computes it, and a point's value depends only on
        the samples its stencil reads (``op(u[box])`` equals ``op(u)`` on
        the part of the box at least the reach from its cut sides). On
        coordinates, which have no generated code, the row tables, term by
        term."""
        if not self.uniform:
            return (_k.apply_serial, _k.apply_parallel, self.shell)
        if self._table is None:
            self._table = (_k.apply_program_serial, _k.apply_program_parallel,
                           self._programs())
        return self._table

    def _programs(self):
        """The program kernel's arguments (see
        :func:`fastfd._kernels.operator.apply_program_serial`): a class per
        row of each axis (0: the rows where every term has its interior
        stencil; every other row its own), a program per class triple."""
        nt = len(self.terms)
        reps, cls = [], []
        for a in range(MAX_NDIM):
            n = self.out3[a]
            c = np.zeros(n, dtype=np.int64)
            if self.periodic or not nt:
                reps.append([0])
            else:
                j0 = max(tabs[a].j0 for tabs in self.tabs3)
                j1 = min(tabs[a].j1 for tabs in self.tabs3)
                band = [j0] if j1 > j0 else []
                edge = [i for i in range(n) if not j0 <= i < j1]
                c[edge] = np.arange(len(band), len(band) + len(edge))
                reps.append(band + edge)
            cls.append(c)
        cidx = [int(c) for c in self.cidx]
        TP, TF, TC, GP, GW, PP, D = [0], [], [], [0], [], [0], []
        for i in reps[0]:
            for j in reps[1]:
                for k in reps[2]:
                    rows = [tuple(self._axis_rows(t, a, x) for a, x in enumerate((i, j, k)))
                            for t in range(nt)]
                    for field, ci, grps in (_canonical(self.terms, cidx, rows) if nt else ()):
                        for w, keys in grps:
                            D += keys
                            PP.append(len(D))
                            GW.append(w)
                        TF.append(field)
                        TC.append(ci)
                        GP.append(len(GW))
                    TP.append(len(TF))
        n2 = self.out3[2]
        if self.periodic:
            d2 = [d for rows in self._inner for d, _ in rows[2]] or [0]
            a, b = max(0, -min(d2)), max(0, min(n2, n2 - max(d2)))
            runs = [(0, a, 0), (a, b, 1), (b, n2, 0)] if b > a else [(0, n2, 0)]
        else:
            c2 = cls[2]
            cuts = [0] + [int(x) for x in np.flatnonzero(np.diff(c2)) + 1] + [n2]
            runs = [(x, y, 1) for x, y in itertools.pairwise(cuts)]
        dtype = self.scale.dtype

        def ints(x, shape=(-1,)):
            return np.array(x, dtype=np.int64).reshape(shape)
        return (cls[0], cls[1], cls[2], len(reps[1]), len(reps[2]),
                ints([r for r in runs if r[1] > r[0]], (-1, 3)), ints(TP), ints(TF),
                ints(TC), ints(GP), np.array(GW or [0], dtype=dtype), ints(PP),
                ints(D or [(0, 0, 0)], (-1, 3)), self.coef, self.lo,
                ints([int(x) for x in self.shape3]), self.periodic)

    def interior_kernels(self):
        """``(serial, parallel, weights)``: the generated kernels of the
        interior rows and their weights (None without an interior)."""
        if self.region is None:
            return None
        if self._kernels is None:
            _, _, j0, j1, k0, k1 = self.region
            group, inner, edge = self.groups(k0, k1)
            weights = inner + edge
            rows = []
            if self.rows:
                n1 = self.out3[1]
                for j in [*range(j0), *range(j1, n1)]:
                    g, wi, we = self.groups(k0, k1, row=j)
                    rows.append(((0, j) if j < n1 // 2 else (n1, j - n1), g))
                    weights += wi + we
            ncoef = self.coef.shape[0] if (self.cidx >= 0).any() else 0
            mod = _codegen.load(_codegen.row_source([group], ncoef, rows=rows))
            self._kernels = (mod.interior_serial, mod.interior_parallel,
                             np.array(weights, dtype=self.scale.dtype),
                             mod.flat_serial, mod.flat_parallel)
        return self._kernels

    @property
    def flat(self):
        """Whether the flat pass applies: the output has the input's shape."""
        return not self.lo.any() and self.out3 == self.shape3

    def pieces(self, parallel):
        """Work units of the flat pass (:func:`flat_pieces`)."""
        return flat_pieces(self.region, self.out3[2], parallel)


def _canonical(terms, cidx, rows):
    """The expression of an operator at one point, in the one order every
    kernel follows (generated interior, generated edge rows and columns,
    program kernel): ``[(field, cidx, [(weight, points), ...])]``, summed
    term by term left to right, a term ``coef * (w0 * (a + b + ...) + w1 *
    (...) + ...)`` with its samples added left to right. `rows[k]` is term
    `k`'s ``([(d, w)] per axis)`` at the point; a point's weight is
    ``coef * (w0 * w1 * w2)`` in float64, cast to the field's dtype once.
    Terms with a coefficient field come first, one each; the others are
    summed per field into one stencil (a point several terms read, the
    centre of a Laplacian, is loaded and weighted once), and the points of
    a stencil are grouped by equal weight (:func:`_by_weight`)."""
    out, merged = [], {}
    for k, t in enumerate(terms):
        r0, r1, r2 = rows[k]
        pts = {}
        for p, wp in r0:
            for q, wq in r1:
                for r, wr in r2:
                    key = (int(p), int(q), int(r))
                    pts[key] = pts.get(key, 0.0) + t.coef * (wp * wq * wr)
        if cidx[k] < 0:
            shared = merged.setdefault(t.field, {})
            for key, w in pts.items():
                shared[key] = shared.get(key, 0.0) + w
        else:
            out.append((t.field, cidx[k], _by_weight(pts)))
    for field, pts in merged.items():
        out.append((field, -1, _by_weight(pts)))
    return out


def _by_weight(pts):
    """The points of ``pts`` (point: weight) in groups of equal weight,
    ``[(weight, points)]``: a kernel adds a group's samples and multiplies
    once (a 7-point Laplacian: 2 multiplications a point, not 7; measured
    on 2048^2, 2 threads: the flat pass of d2/dx0^2 + d2/dx1^2 +
    d2/dx0dx1 went from 1.80x to 1.40x of np.copyto)."""
    groups = {}
    for key, w in pts.items():
        groups.setdefault(w, []).append(key)
    return list(groups.items())


def edge_rows(out3, region):
    """Segments ``(i, j, 0, n2)`` of the output rows outside the rows
    ``i0:i1, j0:j1`` of `region` (all rows when it is None): the rows the
    table kernel writes."""
    n0, n1, n2 = out3
    i0, i1, j0, j1 = (region or (0, 0, 0, 0))[:4]
    ii, jj = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    outside = ~((ii >= i0) & (ii < i1) & (jj >= j0) & (jj < j1))
    count = int(outside.sum())
    return np.ascontiguousarray(np.stack(
        [ii[outside], jj[outside], np.zeros(count, np.int64), np.full(count, n2)],
        axis=1).astype(np.int64))


def flat_pieces(region, n2, parallel):
    """Work units of a generated flat pass (see
    :func:`fastfd.grid._codegen._flat_source`): blocks of about
    ``BLOCK_POINTS`` points per plane, as many as a multiple of the threads
    when parallel; when there are fewer rows than threads, more units than
    rows: the rows are then cut by points, about 8192 each."""
    if region is None:
        return 1
    i0, i1, j0, j1, k0, k1 = region
    nj = j1 - j0
    threads = numba.get_num_threads() if parallel else 1
    if nj < threads:
        span = (nj - 1) * n2 + k1 - k0
        return int(max(nj + 1, min(64, span // 8192)))
    blocks = -(-nj // max(1, BLOCK_POINTS // n2))
    return int(min(nj, -(-blocks // threads) * threads))


def _launch_into(plan, u3, out):
    """``out[...] = op(u)`` for an `out` of any layout (the kernels write a
    C-contiguous block: another layout is filled through one)."""
    if out.size == 0:
        return
    if out.flags.c_contiguous:
        _launch(plan, u3, out.reshape(plan.out3), 1.0, 0.0)
    else:
        block = np.empty(plan.out3, dtype=out.dtype)
        _launch(plan, u3, block, 1.0, 0.0)
        out[...] = block.reshape(out.shape)


def _launch(plan, u3, out3, alpha, beta):
    if out3.size == 0:
        return
    alpha, beta = out3.dtype.type(alpha), out3.dtype.type(beta)
    parallel = out3.size >= _config.PARALLEL_MIN and out3.shape[0] * out3.shape[1] > 1
    kernels = plan.interior_kernels()
    seg = plan.seg
    if kernels is not None and beta == 0 and plan.flat:
        kernel = kernels[4] if parallel else kernels[3]
        launch(kernel, 0, u3, out3, kernels[2], plan.coef, plan.lo, alpha, *plan.region,
               plan.pieces(parallel))
        seg = plan.seg_flat
    elif kernels is not None:
        kernel = kernels[1] if parallel else kernels[0]
        launch(kernel, 0, u3, out3, kernels[2], plan.coef, plan.lo, alpha, beta,
               *plan.region)
    if seg.shape[0]:
        serial, par, targs = plan.table_kernels()
        args = (u3, out3, alpha, beta, *targs, seg)
        if parallel and seg.shape[0] > 1:
            launch(par, 0, *args, min(seg.shape[0], 64))
        else:
            serial(*args)


# ---------------------------------------------------------------- builders

def _derivative(axis, order, accuracy, dx, scheme):
    axis = check_int("axis", axis, minimum=0)
    if axis >= MAX_NDIM:
        raise ValueError(f"axis must be < {MAX_NDIM} (operators apply to fields of 1 to "
                         f"{MAX_NDIM} dimensions), got {axis}")
    scheme = check_scheme(scheme)
    order = _check_order(order)
    accuracy = check_accuracy(accuracy, scheme)
    check_accuracy_limit(accuracy, order, scheme, np.float64, edges=True)
    if isinstance(dx, (numbers.Number, np.generic)) or (
            isinstance(dx, np.ndarray) and dx.ndim == 0):
        dx = check_spacing(dx, 1, axis)
    else:
        x = np.asarray(dx) if not isinstance(dx, (str, bytes)) else dx
        dx = check_spacing(dx, np.shape(x)[0] if np.ndim(x) == 1 else -1, axis)
        dx = np.array(dx, dtype=np.float64)
        dx.flags.writeable = False
    return _Term(1.0, None, {axis: (_D(order, accuracy, scheme, dx),)}, 0)


def Diff(axis, order=1, *, accuracy=2, dx=1.0, scheme="centered"):
    """The ``order``-th derivative along `axis`, as an :class:`Operator`.

    Parameters
    ----------
    axis : int
        Axis of the field (0, 1 or 2; axis order, so ``u[y, x]`` has ``x``
        along axis 1).
    order : int, optional
        Derivative order.
    accuracy : int, optional
        Order of accuracy of the interior stencil and of the one-sided edge
        rows.
    dx : float or 1-D array, optional
        Uniform spacing, or the coordinates along the axis.
    scheme : {"centered", "forward", "backward"}, optional

    Returns
    -------
    Operator
        Combine with ``+``, ``-``, numbers and coefficient arrays
        (``k * Diff(0)``) and ``@`` (``Diff(0) @ Diff(1)``, the mixed
        partial); apply with ``op(u, boundary=..., out=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd import Diff
    >>> y, x = np.meshgrid(np.linspace(0, 1, 6), np.linspace(0, 1, 7), indexing="ij")
    >>> mixed = Diff(0, dx=0.2) @ Diff(1, dx=1 / 6)
    >>> bool(np.allclose(mixed(3 * x ** 2 * y ** 2), 12 * x * y))
    True
    >>> (Diff(0, 2) + Diff(1, 2)).stencil
    {(-1, 0): 1.0, (0, -1): 1.0, (0, 0): -4.0, (0, 1): 1.0, (1, 0): 1.0}
    """
    return Operator([_derivative(axis, order, accuracy, dx, scheme)])


def Identity():
    """The identity operator (``Laplacian(2) - 4 * Identity()``, or just ``- 4``)."""
    return Operator([_Term(1.0, None, {}, 0)])


def _per_axis(dx, ndim):
    # a list, a tuple, or (with several axes) a 1-D array of one number per
    # axis; otherwise one spacing or one coordinate array for every axis
    if isinstance(dx, np.ndarray) and dx.ndim == 1 and ndim > 1 and dx.size == ndim:
        dx = list(dx)
    if isinstance(dx, (list, tuple)):
        if len(dx) != ndim:
            raise ValueError(f"dx must be one spacing or {ndim} (one per axis, in axis order), "
                             f"got {len(dx)}")
        return list(dx)
    return [dx] * ndim


def _check_ndim(ndim, low=1):
    ndim = check_int("ndim", ndim)
    if not low <= ndim <= MAX_NDIM:
        raise ValueError(f"ndim must be between {low} and {MAX_NDIM}, got {ndim}")
    return ndim


def Laplacian(ndim, *, accuracy=2, dx=1.0):
    """The sum of second derivatives over axes ``0 .. ndim-1``; `dx` one
    spacing or one per axis in axis order (``(dy, dx)`` for ``u[y, x]``).

    >>> import numpy as np
    >>> from fastfd import Laplacian
    >>> u = np.add.outer(np.arange(5.0) ** 2, np.arange(6.0) ** 2)
    >>> Laplacian(2)(u)[2, 3]
    np.float64(4.0)
    """
    ndim = _check_ndim(ndim)
    return sum((Diff(a, 2, accuracy=accuracy, dx=h) for a, h in
                enumerate(_per_axis(dx, ndim))), Operator(()))


class VectorOperator:
    """Several operators applied to the same field(s), results stacked along
    a new first axis (:func:`Gradient`, 3-D :func:`Curl`)."""

    def __init__(self, components):
        self.components = tuple(components)

    def __len__(self):
        return len(self.components)

    def __getitem__(self, k):
        return self.components[k]

    def __repr__(self):
        return "VectorOperator([" + ", ".join(map(repr, self.components)) + "])"

    def __call__(self, u, *, boundary="one-sided", out=None):
        """The components applied to `u`, stacked along a new first axis (a
        dask array for a dask `u`, as :meth:`Operator.__call__`)."""
        if is_dask_array(u):
            return _on_dask(u, boundary, out, self.components, vector=True)
        outputs = [c._output(u, boundary) for c in self.components]
        _same_shapes([s for _, s, _ in outputs], boundary)
        shape = (len(self.components),) + outputs[0][1]
        dtype = outputs[0][0]
        if out is None:
            out = np.empty(shape, dtype=dtype)
        else:
            check_out(out, shape, dtype, inputs=(u,))
        for k, (c, (_, _, ready)) in enumerate(zip(self.components, outputs)):
            c._fill(u, boundary, out[k], ready)
        return out

    @property
    def stencil(self):
        """The components' stencils, in order (see :attr:`Operator.stencil`)."""
        return tuple(c.stencil for c in self.components)

    def kernel(self, shape, boundary="one-sided", *, dtype=np.float64, parallel=None):
        """An ``@njit`` ``k(u, out, alpha=1.0, beta=0.0)`` that sets ``out[c] =
        alpha * component_c(u) + beta * out[c]`` for every component: each
        component's :meth:`Operator.kernel` in turn, so `out` has shape
        ``(len(self),) + output shape``, C-contiguous.

        >>> import numpy as np
        >>> from fastfd import Gradient
        >>> u = np.random.default_rng(0).random((6, 7))
        >>> out = np.empty((2, 6, 7))
        >>> Gradient(2, dx=0.5).kernel(u.shape)(u, out)
        >>> bool(np.allclose(out, Gradient(2, dx=0.5)(u)))
        True
        """
        from numba import njit

        kernels = [c.kernel(shape, boundary, dtype=dtype, parallel=parallel)
                   for c in self.components]
        _same_shapes([c._plan(tuple(shape), boundary, np.dtype(dtype)).out_shape
                      for c in self.components], boundary)
        ncomp = len(kernels)
        bad = (f"vector operator kernel: out must have {ncomp} components along its first "
               f"axis")

        def chain(ks):
            first = ks[0]
            if len(ks) == 1:
                @njit
                def run(u, out, a, b, c):
                    first(u, out[c], a, b)
                return run
            rest = chain(ks[1:])

            @njit
            def run(u, out, a, b, c):
                first(u, out[c], a, b)
                rest(u, out, a, b, c + 1)
            return run

        run = chain(kernels)

        @njit
        def k(u, out, alpha=1.0, beta=0.0):
            if out.ndim < 1 or out.shape[0] != ncomp:
                raise ValueError(bad)
            run(u, out, alpha, beta, 0)

        return k

    def matrix(self, shape, boundary="one-sided"):
        """The stacked matrices of the components (rows of component 0 first)."""
        import scipy.sparse as sp

        blocks = [c.matrix(shape, boundary) for c in self.components]
        _same_shapes([b.shape for b in blocks], boundary)
        return sp.vstack(blocks, format="csr")


def _check_complex(terms, dtype):
    if np.dtype(dtype).kind != "c" and any(
            isinstance(t.coef, complex) or (t.cfield is not None and t.cfield.dtype.kind == "c")
            for t in terms):
        raise TypeError("a complex coefficient needs a complex field u")


def _on_dask(u, boundary, out, parts, vector=False):
    """``op(u)`` of a dask array ``u`` (``parts``: the operator, or the
    components of a vector operator): validated here on a stand-in of ``u``
    as in memory, then one chunked layer (:func:`_dask.operator`)."""
    _dask.refuse_out(out)
    stand = _dask.stand_in(u, "operator")
    for c in parts:  # each part checks u as in memory; they agree on the dtype
        dtype = c._prepare(stand, boundary, plan=False)[2]
    boundary = check_choice("boundary", boundary, BOUNDARIES)
    lead = 1 if parts[0].nfields > 1 else 0
    shape = stand.shape[lead:]
    boxes = [_out_box(c, shape, boundary) for c in parts]
    for c in parts:
        for f in c._fields():
            _broadcast(f, shape)
        _check_complex(c._all_terms(), dtype)
    if vector:
        _same_shapes([tuple(b - a for a, b in box) for box in boxes], boundary)
    if any(box != boxes[0] for box in boxes):
        raise ValueError(
            f"the components of this vector operator cover different parts of the grid "
            f"with boundary={boundary!r}: apply them one by one to a dask array")
    return _dask.operator(parts, u, boundary, dtype, boxes[0], lead, vector)


def _same_shapes(shapes, boundary):
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            f"the components' outputs have different shapes with boundary={boundary!r} "
            f"({', '.join(map(str, shapes))}): apply the components one by one")


def _on_field(op, field, nfields):
    return Operator([_Term(t.coef, t.cfield, t.axes, field) for t in op._terms], nfields,
                    [(outer, _on_field(inner, field, nfields)) for outer, inner in op._chains])


def Gradient(ndim, *, accuracy=2, dx=1.0, scheme="centered"):
    """``(d/dx0, d/dx1, ...)``: applied to ``u`` of shape ``s``, an array of
    shape ``(ndim,) + s``."""
    ndim = _check_ndim(ndim)
    return VectorOperator([Diff(a, accuracy=accuracy, dx=h, scheme=scheme)
                           for a, h in enumerate(_per_axis(dx, ndim))])


def Divergence(ndim, *, accuracy=2, dx=1.0, scheme="centered"):
    """``sum_a dF[a]/dx_a`` of a vector field ``F`` of shape ``(ndim,) + s``
    (component ``a`` along axis ``a``)."""
    ndim = _check_ndim(ndim)
    return sum((_on_field(Diff(a, accuracy=accuracy, dx=h, scheme=scheme), a, ndim)
                for a, h in enumerate(_per_axis(dx, ndim))), Operator(()))


def Curl(ndim, *, accuracy=2, dx=1.0):
    """The curl of a vector field ``F`` of shape ``(ndim,) + s`` whose
    component ``a`` lies along axis ``a``, the axes taken as right-handed
    coordinates ``(x0, x1, x2)``.

    2-D: the scalar ``dF1/dx0 - dF0/dx1`` (an :class:`Operator`). 3-D: the
    vector ``(dF2/dx1 - dF1/dx2, dF0/dx2 - dF2/dx0, dF1/dx0 - dF0/dx1)`` (a
    :class:`VectorOperator`). For arrays indexed ``u[y, x]`` (axis 0 is y),
    the usual ``dFy/dx - dFx/dy`` with ``F = (Fy, Fx)`` is ``-Curl(2)(F)``.
    """
    ndim = _check_ndim(ndim, low=2)
    h = _per_axis(dx, ndim)

    def d(axis, field):
        return _on_field(Diff(axis, accuracy=accuracy, dx=h[axis]), field, ndim)

    if ndim == 2:
        return d(0, 1) - d(1, 0)
    return VectorOperator([d(1, 2) - d(2, 1), d(2, 0) - d(0, 2), d(0, 1) - d(1, 0)])


def DivKGrad(k, *, dx=1.0, periodic=False):
    """``div(k grad u)`` in conservative form, for a coefficient field `k`
    of the grid's shape (1 to 3 dimensions), second order everywhere.

    Along each axis, ``(k[i+1/2] (u[i+1] - u[i]) - k[i-1/2] (u[i] - u[i-1]))
    / h**2`` with ``k[i+1/2] = (k[i] + k[i+1]) / 2``: the flux between two
    points is the same seen from either side, so the discrete operator
    conserves ``sum(u)`` where the flux vanishes at the walls. It is built
    from the algebra as ``A * Diff(a, 2) + C * Diff(a)`` with ``A = (k[i+1/2]
    + k[i-1/2]) / 2`` and ``C = (k[i+1/2] - k[i-1/2]) / h``, the same
    weights on the same three points (to rounding), so it runs in one pass
    and has a kernel.

    `periodic` wraps the half points at the ends: use it with
    ``boundary="periodic"``. Otherwise the end points along each axis, which
    have no half point beyond them, take ``k u'' + k' u'`` with ``k'`` the
    one-sided second-order difference of `k`: with ``boundary="one-sided"``
    the one-sided second-order stencils make them second order too (not in
    flux form), and with ``boundary="periodic"`` the points next to the
    seam are second order but the sum is not conserved across it.

    >>> import numpy as np
    >>> from fastfd.grid import DivKGrad
    >>> x = np.linspace(0.0, 1.0, 11)
    >>> op = DivKGrad(1 + x, dx=x[1] - x[0])
    >>> bool(np.allclose(op(x ** 2), 2 + 4 * x))   # (k u')' for k = 1 + x, u = x^2
    True
    """
    kk = np.asarray(k)
    if kk.dtype.kind not in "iuf" or not 1 <= kk.ndim <= MAX_NDIM:
        raise ValueError(f"k must be a real field of 1 to {MAX_NDIM} dimensions, got dtype "
                         f"{kk.dtype} and shape {kk.shape}")
    kk = kk.astype(np.float64)
    spacing = _per_axis(dx, kk.ndim)
    op = Operator(())
    for a, h in enumerate(spacing):
        if isinstance(h, (list, tuple, np.ndarray)):
            raise ValueError("DivKGrad needs a uniform spacing per axis")
        h = check_spacing(h, 1, a)
        kp = (kk + np.roll(kk, -1, axis=a)) / 2
        km = (kk + np.roll(kk, 1, axis=a)) / 2
        A, C = (kp + km) / 2, (kp - km) / h
        n = kk.shape[a]
        if not periodic and n >= 3:
            ends = (slice(None),) * a + ([0, n - 1],)
            A[ends] = kk[ends]
            C[ends] = Diff(a, dx=h)(kk)[ends]
        op = op + A * Diff(a, 2, dx=h) + C * Diff(a, dx=h)
    return op

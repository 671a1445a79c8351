"""The flat view of a gradient-check problem.

A model's parameters arrive as one ndarray of any shape, a dict of name ->
ndarray, or a list/tuple of ndarrays, and its analytic gradient in the same
structure (or as a callable ``grad(params)``). :class:`FlatProblem` validates
both once and lays every coordinate out in one private flat vector, so a
check can perturb coordinate ``i`` in place: ``x[i] = xi + h``, evaluate,
``x[i] = xi`` (restore by assignment). The loss still receives the user's
structure, built from views into that flat vector, so no per-coordinate copy
of the parameters is ever made and the user's own arrays are never touched.

Layout: tensors in structure order (dict insertion order, sequence order),
each flattened in C order. ``blocks[k] = (name, start, stop, shape)``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import short_repr

__all__ = ["FlatProblem", "loss_value"]


def _is_jitted(fn):
    try:
        from numba.extending import is_jitted
    except ImportError:  # pragma: no cover - numba is a hard dependency
        return False
    return is_jitted(fn)


def _structure_desc(params):
    if isinstance(params, dict):
        return f"a dict with keys {list(params.keys())!r}"
    if isinstance(params, (list, tuple)):
        shapes = [getattr(p, "shape", type(p).__name__) for p in params]
        return f"a {type(params).__name__} of {len(params)} arrays with shapes {shapes}"
    if isinstance(params, np.ndarray):
        return f"an array of shape {params.shape}"
    return f"a {type(params).__name__}"


def _split(params, name):
    """``(kind, [(label, array_like), ...])`` of a parameter structure."""
    if isinstance(params, dict):
        return "dict", [(k, v) for k, v in params.items()]
    if isinstance(params, (list, tuple)):
        return type(params).__name__, [(f"{name}[{i}]", v) for i, v in enumerate(params)]
    return "array", [(name, params)]


def _as_real_array(value, label, argname):
    """The array behind one tensor; TypeError for anything but bool-free real numbers."""
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (numbers.Real, np.generic)) and not isinstance(value, (bool, np.bool_)):
        arr = np.asarray(value)
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged nesting and the like
            raise TypeError(
                f"{argname} must hold real numeric arrays; {label} is {short_repr(value)}"
            ) from exc
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{argname} must hold real numeric arrays (integer or float); {label} has "
            f"dtype {arr.dtype}: {short_repr(value)}")
    return arr


def _index_suffix(idx, shape):
    if len(shape) == 0:
        return ""
    if len(shape) == 1:
        return f"[{idx[0]}]"
    return "[" + ", ".join(str(int(j)) for j in idx) + "]"


def loss_value(value, what="loss"):
    """A loss result as a Python float; TypeError for anything that is not a real scalar."""
    if type(value) is float:
        return value
    if isinstance(value, float):            # np.float64 and other float subclasses
        return float(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must return a real scalar, got {value!r} of type bool")
    if isinstance(value, (numbers.Real, np.floating, np.integer)):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(
                f"{what} must return a real scalar, got an array of shape {value.shape}: "
                f"{short_repr(value)}")
        if value.dtype.kind in "iuf":
            return float(value[()])
        raise TypeError(
            f"{what} must return a real scalar, got a 0-d array of dtype {value.dtype}: "
            f"{short_repr(value)}")
    raise TypeError(
        f"{what} must return a real scalar, got {type(value).__name__}: {short_repr(value)}")


class FlatProblem:
    """A parameter structure and its analytic gradient, flattened.

    Parameters
    ----------
    params : ndarray, dict of str -> ndarray, or list/tuple of ndarrays
        Model parameters. Integer tensors are checked as float64. The flat
        copy is float32 only when every tensor is float32 (float16 counts as
        float32), float64 otherwise.
    grad : same structure as `params`, or callable
        The analytic gradient, or ``grad(params)`` returning it. A callable
        receives a private copy of the parameters.
    loss : callable or None
        ``loss(params) -> float``; called by :meth:`loss`.
    name : str
        What the parameters are called in names and messages (``"params"``).

    Attributes
    ----------
    x0 : ndarray, 1-D, read-only
        Private flat copy of the parameters.
    g : ndarray, 1-D float64
        Flat analytic gradient, in the same order as `x0`.
    blocks : tuple of (name, start, stop, shape)
        One entry per tensor, in flat order.
    kind : {"array", "dict", "list", "tuple"}
        The structure of `params`.
    jitted : bool
        True when `loss` is a Numba-jitted function and `params` is one 1-D
        float array, so that a compiled kernel can call ``loss(x)`` on the
        flat vector directly.
    """

    def __init__(self, params, grad, loss=None, *, name="params", grad_name="grad"):
        self.name_ = name
        self.kind, items = _split(params, name)
        if not items:
            raise ValueError(f"{name} is empty: {_structure_desc(params)}; nothing to check")
        arrays = [(label, _as_real_array(v, f"{name}[{label!r}]" if self.kind == "dict"
                                         else label, name)) for label, v in items]
        self._params = params
        self.keys = [k for k, _ in items] if self.kind == "dict" else None
        sizes = [a.size for _, a in arrays]
        n = int(sum(sizes))
        if n == 0:
            shapes = {str(label): a.shape for label, a in arrays}
            raise ValueError(f"{name} is empty (no coordinates to check): shapes {shapes}")
        all32 = all(a.dtype.kind == "f" and a.dtype.itemsize <= 4 for _, a in arrays)
        self.dtype = np.dtype(np.float32 if all32 else np.float64)
        x0 = np.empty(n, dtype=self.dtype)
        blocks = []
        start = 0
        for label, a in arrays:
            stop = start + a.size
            x0[start:stop] = a.reshape(-1)
            blocks.append((str(label), start, stop, tuple(a.shape)))
            start = stop
        x0.flags.writeable = False
        self.x0 = x0
        self.n = n
        self.blocks = tuple(blocks)
        self._starts = np.array([b[1] for b in blocks], dtype=np.intp)
        self._loss = loss
        self.jitted = (
            loss is not None and self.kind == "array" and len(self.blocks[0][3]) == 1
            and _is_jitted(loss))
        self.g = self._flat_grad(grad, grad_name)

    # ----------------------------------------------------------------- layout
    def views(self, x, readonly=False):
        """The user's structure, as views into the flat vector `x`.

        With `readonly`, the views are marked read-only (`x` itself stays
        writeable), so a loss that writes to its input fails at the write.
        """
        if self.kind == "array":
            shape = self.blocks[0][3]
            v = x if len(shape) == 1 and not readonly else x.reshape(shape)
            if readonly:
                v.flags.writeable = False
            return v
        vs = [x[start:stop].reshape(shape) for _, start, stop, shape in self.blocks]
        if readonly:
            for v in vs:
                v.flags.writeable = False
        if self.kind == "dict":
            return dict(zip(self.keys, vs))
        return tuple(vs) if self.kind == "tuple" else vs

    def unflatten(self, flat):
        """Copy a flat vector of length ``n`` into a new structure like `params`."""
        flat = np.array(flat, copy=True)
        return self.views(flat)

    def name(self, i):
        """Readable name of flat coordinate `i`, e.g. ``W1[3, 7]`` or ``params[12]``."""
        i = int(i)
        if not 0 <= i < self.n:
            raise IndexError(f"coordinate {i} is out of range for {self.n} parameters")
        k = int(np.searchsorted(self._starts, i, side="right")) - 1
        label, start, _, shape = self.blocks[k]
        idx = np.unravel_index(i - start, shape) if shape else ()
        return label + _index_suffix(idx, shape)

    def block_of(self, indices):
        """Tensor number of each flat index in `indices` (an integer array)."""
        return np.searchsorted(self._starts, indices, side="right") - 1

    # ------------------------------------------------------------ evaluation
    def loss(self, x):
        """Evaluate the loss at flat vector `x` (through views); a Python float."""
        return loss_value(self._loss(self.views(x)))

    def bind(self, x, readonly=False):
        """A zero-argument callable evaluating the loss at the current contents of `x`.

        The views are built once, so perturbing ``x`` in place and calling the
        result costs one loss call plus the scalar check.
        """
        views = self.views(x, readonly)
        fn = self._loss

        def evaluate():
            return loss_value(fn(views))

        return evaluate

    # -------------------------------------------------------------- gradient
    def _flat_grad(self, grad, grad_name):
        if callable(grad):
            value = grad(self.unflatten(self.x0))
            grad_name = f"{grad_name}(params)"
        else:
            value = grad
        kind, items = _split(value, grad_name)
        pdesc = _structure_desc(self._params)
        if kind != self.kind and not {kind, self.kind} <= {"list", "tuple"}:
            raise ValueError(
                f"{grad_name} must have the same structure as {self.name_}: "
                f"{self.name_} is {pdesc}, {grad_name} is {_structure_desc(value)}")
        if kind == "dict":
            if set(value.keys()) != set(self.keys):
                raise ValueError(
                    f"{grad_name} must have the same keys as {self.name_}: {self.name_} has "
                    f"keys {list(self.keys)!r}, {grad_name} has keys {list(value.keys())!r}")
            items = [(f"{grad_name}[{k!r}]", value[k]) for k in self.keys]
        elif len(items) != len(self.blocks):
            raise ValueError(
                f"{grad_name} must have the same structure as {self.name_}: "
                f"{self.name_} is {pdesc}, {grad_name} is {_structure_desc(value)}")
        g = np.empty(self.n, dtype=np.float64)
        for (label, v), (pname, start, stop, shape) in zip(items, self.blocks):
            if kind == "array":
                label = grad_name
            a = _as_real_array(v, label, grad_name)
            if a.shape != shape:
                where = pname if kind != "dict" else f"{self.name_}[{pname!r}]"
                raise ValueError(
                    f"{label} has shape {a.shape} but {where} has shape {shape}")
            g[start:stop] = a.reshape(-1)
        return g

    def __repr__(self):
        return (f"FlatProblem(n={self.n}, dtype={self.dtype}, kind={self.kind!r}, "
                f"blocks={[(b[0], b[3]) for b in self.blocks]})")

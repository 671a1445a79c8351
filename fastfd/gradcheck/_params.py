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

import decimal
import numbers

import numba
from numba.core.errors import NumbaError
from numba.extending import is_jitted
import numba.np.numpy_support
import numpy as np

from .._validation import real_array, short_repr

__all__ = ["FlatProblem", "LossEvaluationError", "loss_value", "loss_dtype", "loss_precision",
           "jit_return_type", "call_loss", "return_error",
           "input_error", "input_write_error", "loss_error", "readonly_alias", "same_values",
           "write_probe"]


class LossEvaluationError(RuntimeError):
    """The loss raised while it was evaluated at a perturbed coordinate.

    The message names the coordinate; ``__cause__`` is the original exception.
    """


LossEvaluationError.__module__ = "fastfd.gradcheck"


class LossReturnError(TypeError):
    """The loss returned something that is not a real scalar (see :func:`loss_value`)."""


class InputWriteError(ValueError):
    """The loss wrote to the parameters it was given."""


def _is_jitted(fn):
    return is_jitted(fn)


def _structure_desc(params):
    if isinstance(params, dict):
        return f"a dict with keys {list(params.keys())!r}"
    if isinstance(params, (list, tuple)):
        shapes = [getattr(p, "shape", type(p).__name__) for p in params]
        arrays = "array" if len(params) == 1 else "arrays"
        return f"a {type(params).__name__} of {len(params)} {arrays} with shapes {shapes}"
    if isinstance(params, np.ndarray):
        return f"an array of shape {params.shape}"
    return f"a {type(params).__name__}"


def _key_label(name, key):
    """``name["key"]`` for a str key, ``name[key!r]`` otherwise."""
    return f'{name}["{key}"]' if isinstance(key, str) else f"{name}[{key!r}]"


def _split(params, name, rooted=False):
    """``(kind, [(label, array_like), ...])`` of a parameter structure. A
    dict's entries are labelled by their bare keys (``W``), or with `rooted`
    by ``name["W"]``."""
    if isinstance(params, dict):
        if rooted:
            return "dict", [(_key_label(name, k), v) for k, v in params.items()]
        return "dict", [(k, v) for k, v in params.items()]
    if isinstance(params, (list, tuple)):
        return type(params).__name__, [(f"{name}[{i}]", v) for i, v in enumerate(params)]
    return "array", [(name, params)]


def _index_suffix(idx, shape):
    if len(shape) == 0:
        return ""
    if len(shape) == 1:
        return f"[{idx[0]}]"
    return "[" + ", ".join(str(int(j)) for j in idx) + "]"


def loss_value(value, what="loss"):
    """A loss result as a Python float; :class:`LossReturnError` (a TypeError)
    for anything that is not a real scalar.

    Every path that calls a loss (per coordinate, directions, batches,
    executors) converts its return value here. Accepted: Python and NumPy
    real numbers, 0-d real arrays, and 0-d framework scalars (an object with
    ``__float__`` whose ``shape``, when it has one, is empty: a PyTorch or
    JAX scalar). Refused: bool, str, complex, ``decimal.Decimal`` (decimal
    arithmetic has its own precision, which the finite-difference noise
    model, written for binary floats, does not know: return ``float(v)``),
    object arrays, and arrays or tensors of any other shape, ``(1,)``
    included (a batch of one is not a scalar).
    """
    if type(value) is float:
        return value
    if isinstance(value, float):            # np.float64 and other float subclasses
        return float(value)
    if isinstance(value, (bool, np.bool_)):
        raise LossReturnError(f"{what} must return a real scalar, got {value!r} of type bool")
    if isinstance(value, (numbers.Real, np.floating, np.integer)):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise LossReturnError(
                f"{what} must return a real scalar, got an array of shape {value.shape}: "
                f"{short_repr(value)}")
        if value.dtype.kind in "iuf":
            return float(value[()])
        raise LossReturnError(
            f"{what} must return a real scalar, got a 0-d array of dtype {value.dtype}: "
            f"{short_repr(value)}")
    if isinstance(value, decimal.Decimal):
        raise LossReturnError(
            f"{what} must return a real scalar, got Decimal: {short_repr(value)}; return "
            "float(value) (the noise model is for binary floating point)")
    if (hasattr(type(value), "__float__") and not isinstance(value, (numbers.Number, str))):
        return _framework_scalar(value, what)
    raise LossReturnError(
        f"{what} must return a real scalar, got {type(value).__name__}: {short_repr(value)}")


def _framework_scalar(value, what):
    kind = type(value).__name__
    shape = getattr(value, "shape", ())
    try:
        shape = tuple(shape)
    except TypeError:
        shape = ()
    if shape != ():
        raise LossReturnError(
            f"{what} must return a real scalar, got a {kind} of shape {shape}: "
            f"{short_repr(value)}")
    dtype = str(getattr(value, "dtype", ""))
    if "bool" in dtype or "complex" in dtype:
        raise LossReturnError(
            f"{what} must return a real scalar, got a {kind} of dtype {dtype}: "
            f"{short_repr(value)}")
    try:
        return float(value)
    except Exception as exc:
        raise LossReturnError(
            f"{what} must return a real scalar, got a {kind} that float() refuses "
            f"({type(exc).__name__}: {exc})") from exc


def loss_dtype(value):
    """The floating-point type of a loss value (None when it is not a float):
    NumPy scalars and arrays, and framework scalars whose ``dtype`` names one
    (``torch.float32``, a JAX array's NumPy dtype)."""
    if isinstance(value, (np.generic, np.ndarray)):
        dt = np.result_type(value)
    else:
        name = str(getattr(value, "dtype", "")).rsplit(".", 1)[-1]
        if name not in ("float16", "bfloat16", "float32", "float64"):
            return None
        # bfloat16 has 8 significant bits, like float16's 11 it is coarser
        # than float32: resolve it as float16
        dt = np.dtype("float16" if name == "bfloat16" else name)
    return dt if dt.kind == "f" else None


def jit_return_type(f, arg):
    """The Numba type a jitted `f` returns for one argument of ``arg``'s type,
    read from its compiled signatures (None when it has none for that type).

    Numba boxes a float32 result as a Python float, so the value alone
    cannot tell a float32 function from a float64 one.
    """
    argtype = numba.typeof(arg)
    for sig in f.nopython_signatures:
        if tuple(sig.args) == (argtype,):
            return sig.return_type
    return None


def loss_precision(value, loss=None, arg=None):
    """The floating-point type a loss computes in (None when its value does
    not say): for a Numba-jitted `loss` called on `arg`, the return type of
    its compiled signature; otherwise :func:`loss_dtype` of `value`. Every
    mode of a gradient check learns the loss precision here."""
    if loss is not None and _is_jitted(loss):
        rt = jit_return_type(loss, arg)
        if rt is not None:
            try:
                dt = numba.np.numpy_support.as_dtype(rt)
            except NumbaError:
                dt = None
            if dt is not None and dt.kind == "f":
                return dt
    return loss_dtype(value)


def loss_error(exc, where):
    """The one wrapper of an exception raised by the loss, naming where."""
    return LossEvaluationError(f"loss raised {type(exc).__name__} {where}: {exc}")


def call_loss(fn, arg, where, writeable=None, name=None, raw=False, probe=None):
    """``loss_value(fn(arg))``; an exception from the loss becomes a
    :class:`LossEvaluationError` naming `where` (or an :class:`InputWriteError`,
    see :func:`input_error`), a bad return value a TypeError naming it
    (:func:`return_error`). Every mode of a gradient check calls its loss
    here, or converts and wraps as this does.

    `writeable`, when given, is the writeable flat array `arg` is a
    read-only alias of (or views of), and ``probe(flat)`` evaluates the loss
    on such a flat array (default `fn`). With `raw`, returns ``(float,
    value as returned)``.
    """
    try:
        value = fn(arg)
    except (KeyboardInterrupt, SystemExit):
        raise
    except LossReturnError as exc:
        # from an adapter around the loss (one point of a vectorized loss)
        raise return_error(exc, where) from None
    except Exception as exc:
        raise input_error(fn if probe is None else probe, writeable, exc, where,
                          name) from exc
    try:
        f = loss_value(value)
    except LossReturnError as exc:
        raise return_error(exc, where) from None
    return (f, value) if raw else f


def return_error(exc, where):
    """The :class:`LossReturnError` `exc` (from :func:`loss_value`), naming where."""
    return LossReturnError(f"{exc} ({where})")


def input_error(call, x, exc, where, name=None):
    """The error for `exc`, raised by a loss given read-only views of flat `x`.

    A write to read-only memory is a ValueError that NumPy gives no type of
    its own: the loss is run once on a writeable copy of the point
    (``call(copy)``). It wrote to its input if it changes the copy, or if it
    runs there without error (the read-only memory made the difference: a
    write of an unchanged value, or a write it does not repeat). Anything
    else, a ValueError it raises on writeable memory too included, is a
    :class:`LossEvaluationError`.
    """
    if x is not None and isinstance(exc, ValueError):
        i, raised = write_probe(call, x)
        if i >= 0 or not raised:
            label = None
            if i >= 0:
                label = name(i) if name is not None else f"flat coordinate {i}"
            return input_write_error(where, label, exc=exc)
    return loss_error(exc, where)


def input_write_error(where, label=None, old=None, new=None, exc=None):
    """The one :class:`InputWriteError` of every path: the loss wrote to the
    parameters it was given.

    `where` says when ("at params[0] + h", "in the directional checks", or
    "" after a run); `label` names the entry that changed (the parameter's
    name, e.g. ``params[3]``). Found by comparing the parameters: `old` and,
    when known, `new` are its values, formatted with ``repr``. Found by the
    write failing on read-only memory: `exc` is that error.
    """
    at = f" {where}" if where else ""
    if exc is not None:
        changed = f" ({label} changed)" if label is not None else ""
        return InputWriteError(
            f"loss modified its input{at} ({exc}). A loss must not write to the parameters "
            f"it is given{changed}; copy them first")
    now = "" if new is None else f" to {new!r}"
    return InputWriteError(
        f"loss modified its input{at}: {label} changed from {old!r}{now}. A loss must not "
        "write to the parameters it is given; copy them first")


def readonly_alias(x):
    """A read-only array on the memory of the contiguous array `x`.

    Its base is a read-only buffer, so neither it nor any view of it can be
    made writeable again (``flags.writeable = True`` raises): a loss cannot
    undo the protection and write to the vector being perturbed.
    """
    alias = np.frombuffer(memoryview(x).toreadonly(), dtype=x.dtype)
    return alias.reshape(x.shape)


def same_values(a, b):
    """Flat index of the first entry where `a` and `b` differ (NaN equals
    NaN), or -1."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return -1
    return int(np.flatnonzero(~same)[0])


def write_probe(call, x):
    """Whether ``call(scratch)`` writes to `scratch`, a writeable copy of `x`.

    Run after a loss given read-only views raised a ValueError: NumPy's
    refusal to write to a read-only array has no exception type of its own,
    so the loss is run once more on memory it may write to, and the memory
    is compared. Returns ``(the first flat index it changed or -1, whether
    the call raised)``.
    """
    scratch = np.array(x, copy=True)
    raised = False
    try:
        call(scratch)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        raised = True
    return same_values(scratch.reshape(-1), np.asarray(x).reshape(-1)), raised


class FlatProblem:
    """A parameter structure and its analytic gradient, flattened.

    Parameters
    ----------
    params : ndarray, dict of str -> ndarray, or list/tuple of ndarrays
        Model parameters. Integer tensors are checked as float64. The flat
        copy is float32 only when every tensor is float32 (float16 counts as
        float32), float64 otherwise.
    grad : same structure as `params`, callable or None
        The analytic gradient, or ``grad(params)`` returning it. A callable
        receives a private copy of the parameters. None leaves ``g`` unset
        (a vector check sets it per output projection, and an output layout
        has none).
    loss : callable or None
        ``loss(params) -> float``; called by :meth:`loss`.
    name : str
        What the parameters are called in names and messages (``"params"``).
    rooted : bool
        Name a dict's tensors ``name["W"]`` instead of by their bare keys
        (``W``): the vector checks' ``x["W"][2, 7]`` and ``y["logits"][3]``.

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

    def __init__(self, params, grad, loss=None, *, name="params", grad_name="grad",
                 rooted=False):
        self.name_ = name
        self.kind, items = _split(params, name, rooted)
        if not items:
            raise ValueError(f"{name} is empty: {_structure_desc(params)}; nothing to check")
        # what each tensor is called in messages: name['W'] for a bare dict key
        self._wheres = [f"{name}[{label!r}]" if self.kind == "dict" and not rooted
                        else str(label) for label, _ in items]
        arrays = [(label, real_array(v, where))
                  for (label, v), where in zip(items, self._wheres)]
        self._params = params
        self.keys = list(params.keys()) if self.kind == "dict" else None
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
        # ``magnitude(values)``: the size of the loss values the roundoff
        # bounds of the engine and the directions scale with; |f| for a
        # scalar loss (None), the changed outputs' size for a projected one
        # (fastfd.gradcheck._vector)
        self.magnitude = None
        self.g = None if grad is None else self._flat_grad(grad, grad_name)

    # ----------------------------------------------------------------- layout
    def views(self, x, readonly=False):
        """The user's structure, as views into the flat vector `x`.

        With `readonly`, the views are marked read-only (`x` itself stays
        writeable), so a loss that writes to its input fails at the write.
        """
        if readonly:
            # views of a read-only buffer: clearing the flag on a view of a
            # writeable array could be undone by the loss (flags.writeable =
            # True is allowed there) and its writes erased by the restore
            x = readonly_alias(x)
        if self.kind == "array":
            shape = self.blocks[0][3]
            return x if len(shape) == 1 else x.reshape(shape)
        vs = [x[start:stop].reshape(shape) for _, start, stop, shape in self.blocks]
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

    # -------------------------------------------------------------- gradient
    def _flat_grad(self, grad, grad_name):
        if callable(grad):
            value = grad(self.unflatten(self.x0))
            grad_name = f"{grad_name}({self.name_})"
        else:
            value = grad
        return self.flatten(value, grad_name)

    def flatten(self, value, what):
        """`value`, a structure like the parameters (a gradient, a VJP, a
        function's output at another point), as one flat float64 vector;
        ValueError or TypeError naming `what` when its structure, keys or
        shapes differ."""
        kind, items = _split(value, what)
        pdesc = _structure_desc(self._params)
        if kind != self.kind and not {kind, self.kind} <= {"list", "tuple"}:
            raise ValueError(
                f"{what} must have the same structure as {self.name_}: "
                f"{self.name_} is {pdesc}, {what} is {_structure_desc(value)}")
        if kind == "dict":
            if set(value.keys()) != set(self.keys):
                raise ValueError(
                    f"{what} must have the same keys as {self.name_}: {self.name_} has "
                    f"keys {list(self.keys)!r}, {what} has keys {list(value.keys())!r}")
            items = [(f"{what}[{k!r}]", value[k]) for k in self.keys]
        elif len(items) != len(self.blocks):
            raise ValueError(
                f"{what} must have the same structure as {self.name_}: "
                f"{self.name_} is {pdesc}, {what} is {_structure_desc(value)}")
        g = np.empty(self.n, dtype=np.float64)
        for (label, v), (_, start, stop, shape), own in zip(items, self.blocks,
                                                             self._wheres):
            if kind == "array":
                label = what
            a = real_array(v, label)
            if a.shape != shape:
                raise ValueError(
                    f"{label} has shape {a.shape} but {own} has shape {shape}")
            g[start:stop] = a.reshape(-1)
        return g

    def __repr__(self):
        return (f"FlatProblem(n={self.n}, dtype={self.dtype}, kind={self.kind!r}, "
                f"blocks={[(b[0], b[3]) for b in self.blocks]})")

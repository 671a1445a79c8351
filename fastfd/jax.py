"""Gradient checks for JAX code: ``jax.grad``, ``jax.vjp`` and ``jax.jvp``,
custom rules included, against centered differences.

* :func:`check_grad` checks ``jax.grad(loss)`` for a scalar loss of a pytree
  of parameters (a Flax/Haiku/Equinox parameter dict, a list of arrays, one
  array);
* :func:`check_vjp` checks ``jax.vjp(f, *args)`` for a function with array
  or pytree outputs, including the backward of a ``jax.custom_vjp`` rule;
* :func:`check_jvp` checks ``jax.jvp(f, args, tangents)``, including a
  ``jax.custom_jvp`` rule.

All three run fastfd's checks (:func:`fastfd.check_gradient` and the
vector checks) and return the same :class:`fastfd.GradCheckResult`, whose
entries are named by their pytree paths: ``params["dense"]["kernel"][3, 1]``
(double quotes for string keys, ``[i]`` for sequence indices, ``.name``
for attributes of namedtuples and dataclasses).

Precision follows JAX. Without ``jax_enable_x64`` (JAX's default) every
float64 leaf is converted to float32 before the check, as ``jnp.asarray``
would, and the check runs in float32 with fastfd's float32 tolerance model.
Enable x64 yourself (``jax.config.update("jax_enable_x64", True)``, or the
``jax.enable_x64`` context manager) for a float64 check; fastfd never
changes the flag. Float32 and float64 leaves together are checked in
float32. JAX is imported when a function is called, not when
:mod:`fastfd` or this module is imported; install it with
``pip install "fastfd[jax]"``.
"""

from __future__ import annotations

import inspect

import numpy as np

from ._adapters import (CHECK_OPTIONS, VECTOR_OPTIONS, check_adapter_options, require,
                        skip_examples_without)
from ._validation import short_repr

__all__ = ["check_grad", "check_vjp", "check_jvp"]

def _import_jax():
    return require("jax", "fastfd.jax needs JAX: pip install \"fastfd[jax]\" (or \"jax[cpu]\")")


# ---------------------------------------------------------------- pytree names
def _key_label(key, tu):
    """``["dense"]``, ``[3]`` or ``.name`` for one entry of a pytree key path."""
    if isinstance(key, tu.DictKey):
        k = key.key
        if isinstance(k, str) and '"' not in k and "\\" not in k:
            return f'["{k}"]'
        return f"[{k!r}]"
    if isinstance(key, tu.SequenceKey):
        return f"[{key.idx}]"
    if isinstance(key, tu.GetAttrKey):
        return f".{key.name}"
    if isinstance(key, tu.FlattenedIndexKey):
        return f"[{key.key}]"
    return tu.keystr((key,))


def _flatten(tree, root):
    """``(labels, leaves, treedef)`` of a pytree; labels are ``root`` + path."""
    jax = _import_jax()
    tu = jax.tree_util
    pairs, treedef = tu.tree_flatten_with_path(tree)
    labels = [root + "".join(_key_label(k, tu) for k in path) for path, _ in pairs]
    return labels, [leaf for _, leaf in pairs], treedef


def _leaf_array(leaf, label, what):
    """A leaf as a NumPy array of JAX's canonical dtype (float64 -> float32
    without x64): the values the function will see, so that fastfd perturbs
    in the precision JAX computes in."""
    jax = _import_jax()
    try:
        a = np.asarray(leaf)
    except Exception as exc:
        raise TypeError(f"{label} must be an array, got {short_repr(leaf)}") from exc
    if a.dtype.kind == "c":
        raise TypeError(
            f"{label} is complex ({a.dtype}); fastfd.jax checks real {what} only: split it "
            "into real and imaginary parts (jnp.real, jnp.imag) outside the function")
    # bfloat16 and the float8 types are ml_dtypes extension types (kind "V")
    small = a.dtype.kind in "fV" and a.dtype.itemsize < 4 and "float" in a.dtype.name
    if small:
        raise TypeError(
            f"{label} has dtype {a.dtype}; finite differences need float32 or float64 (at "
            f"{a.dtype} the rounding of x +- h swamps the difference): check a float32 copy")
    if a.dtype.kind != "f":
        raise TypeError(
            f"{label} has dtype {a.dtype}; fastfd.jax differentiates floating-point {what} "
            f"only: {short_repr(leaf)}")
    dt = np.dtype(jax.dtypes.canonicalize_dtype(a.dtype))
    return np.array(a, dtype=dt, copy=True)


def _check_precision(arrays):
    """The arrays the check perturbs: all float32 when any leaf is float32.

    A float32 leaf next to float64 ones (x64 on) makes the function's value
    float32-accurate at best; fastfd then checks in float32 (its steps and
    tolerances), with the float64 leaves rounded to float32 for the check
    point and handed to the function as float64 again: a perturbed float64
    leaf stays exactly representable, and a float32 leaf never receives a
    float64 step it would round away.
    """
    if len({a.dtype for a in arrays}) > 1:
        return [a.astype(np.float32) for a in arrays]
    return arrays


def _unique(labels, what):
    seen = set()
    for label in labels:
        if label in seen:
            raise ValueError(f"two leaves of {what} have the same name {label!r}")
        seen.add(label)


def _rebuild(treedef, labels, dtypes, values):
    """The pytree of ``treedef`` from a dict label -> array, cast to `dtypes`
    (``jnp.asarray`` copies: the check perturbs its arrays in place)."""
    jax = _import_jax()
    jnp = jax.numpy
    leaves = [jnp.asarray(values[label], dtype=dt) for label, dt in zip(labels, dtypes)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


# ------------------------------------------------------------------ check_grad
def check_grad(loss, params, *, jit=True, **check_options):
    """Check ``jax.grad(loss)`` at `params` against centered differences.

    `loss` maps a pytree of parameters to a scalar. Its gradient from
    ``jax.grad`` (custom rules included) is compared with centered
    differences of `loss` by :func:`fastfd.check_gradient`, coordinate by
    coordinate or, for large models, by random directions, a stratified
    sample and bisection down to the wrong entries. Entries are named by
    their pytree path: ``params["dense"]["kernel"][3, 1]``.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> scalar`` (a 0-d floating JAX array or float).
    params : pytree of arrays
        Point to check at: a dict (nested dicts, lists, tuples, namedtuples
        and registered dataclasses included), a list, or one array. Every
        leaf must be floating point (float32, or float64 with x64 enabled);
        without ``jax_enable_x64`` float64 leaves are checked as float32,
        the precision JAX computes them in. A pytree mixing float32 and
        float64 leaves (x64 on) is checked in float32, its float64 leaves
        at values rounded to float32.
    jit : bool, optional
        Compile `loss` and its gradient once with ``jax.jit`` (default).
        False calls `loss` as it is: for a loss with Python control flow on
        values, which ``jax.grad`` differentiates eagerly but ``jax.jit``
        cannot compile.
    **check_options
        ``h``, ``tol``, ``coords``, ``seed``, ``raise_on_fail``,
        ``progress``, ``directions`` and ``budget``, as in
        :func:`fastfd.check_gradient` (``h`` and ``coords`` index the
        flattened leaves in the order of ``jax.tree_util.tree_leaves``:
        dict keys sorted).

    Returns
    -------
    GradCheckResult
        ``status`` ("passed", "failed" or "inconclusive"), ``failures()``
        with entries named ``params["dense"]["kernel"][3, 1]``; ``str()`` is
        the report.

    Raises
    ------
    TypeError
        `loss` not callable, a leaf that is not floating point (integer,
        complex) or narrower than float32 (float16, bfloat16), a loss that is not a floating scalar, a loss
        ``jax.jit`` cannot compile (the message suggests ``jit=False``), an
        unknown option.
    ValueError
        `params` without leaves; the errors of :func:`fastfd.check_gradient`.

    Notes
    -----
    Names: ``params`` followed by the leaf's path, ``["key"]`` for a dict
    key, ``[i]`` for a list or tuple index and ``.name`` for an attribute;
    one array is ``params`` and its entries ``params[3]``. Leaves are
    checked in ``tree_flatten`` order (dict keys sorted), each as its own
    tensor of the report.

    The loss is evaluated on copies of the perturbed parameters of JAX's
    canonical dtype. Without x64 the check runs in float32, whose resolution
    is set by the loss value and each tensor's gradient scale (about 0.1% for
    a bias, a few percent for large weights on the float32 models measured
    in :func:`fastfd.check_gradient`); errors below it are invisible, and the
    report gives each tensor's resolution. Enable x64 for a float64 check.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> import fastfd.jax
    >>> params = {"dense": {"kernel": jnp.ones((3, 2)) / 4, "bias": jnp.zeros(2)}}
    >>> x = jnp.arange(6.0).reshape(2, 3) / 6
    >>> def loss(p):
    ...     y = jnp.tanh(x @ p["dense"]["kernel"] + p["dense"]["bias"])
    ...     return jnp.sum(y ** 2)
    >>> fastfd.jax.check_grad(loss, params, coords="all").status
    'passed'

    A custom rule with its bias gradient doubled is found and named:

    >>> @jax.custom_vjp
    ... def affine(x, w, b):
    ...     return x @ w + b
    >>> def affine_fwd(x, w, b):
    ...     return affine(x, w, b), (x, w)
    >>> def affine_bwd(res, g):
    ...     x, w = res
    ...     return g @ w.T, x.T @ g, 2.0 * g.sum(0)
    >>> affine.defvjp(affine_fwd, affine_bwd)
    >>> def bad_loss(p):
    ...     y = jnp.tanh(affine(x, p["dense"]["kernel"], p["dense"]["bias"]))
    ...     return jnp.sum(y ** 2)
    >>> result = fastfd.jax.check_grad(bad_loss, params, coords="all")
    >>> result.status, sorted({c.name for c in result.failures()})
    ('failed', ['params["dense"]["bias"][0]', 'params["dense"]["bias"][1]'])
    """
    from .gradcheck import check_gradient

    jax = _import_jax()
    if not callable(loss):
        raise TypeError(f"loss must be callable, got {short_repr(loss)}")
    if not isinstance(jit, (bool, np.bool_)):
        raise TypeError(f"jit must be True or False, got {short_repr(jit)}")
    check_adapter_options("check_grad", check_options, CHECK_OPTIONS)
    labels, leaves, treedef = _flatten(params, "params")
    if not leaves:
        raise ValueError(f"params has no array leaves: {short_repr(params)}")
    _unique(labels, "params")
    arrays = [_leaf_array(leaf, label, "parameters") for label, leaf in zip(labels, leaves)]
    dtypes = [a.dtype for a in arrays]
    point = dict(zip(labels, _check_precision(arrays)))
    fn = jax.jit(loss) if jit else loss
    value = _first_call(fn, (_rebuild(treedef, labels, dtypes, point),), "loss", jit)
    _check_scalar(value)
    grad_fn = jax.grad(loss)
    grads = (jax.jit(grad_fn) if jit else grad_fn)(_rebuild(treedef, labels, dtypes, point))
    grad = {label: np.asarray(g) for label, g in zip(labels, jax.tree_util.tree_leaves(grads))}

    def flat_loss(p):
        return fn(_rebuild(treedef, labels, dtypes, p))

    return check_gradient(flat_loss, point, grad, **check_options)


def _first_call(fn, args, what, jit):
    """``fn(*args)``, with a hint when ``jax.jit`` cannot trace `fn`."""
    errors = _import_jax().errors
    untraceable = (errors.ConcretizationTypeError, errors.TracerBoolConversionError,
                   errors.TracerIntegerConversionError, errors.TracerArrayConversionError)
    try:
        return fn(*args)
    except untraceable as exc:
        if not jit:
            raise
        raise TypeError(
            f"{what} cannot be compiled by jax.jit ({type(exc).__name__}); pass jit=False to "
            f"call it as it is (JAX's autodiff still traces it): {exc}") from exc


def _check_scalar(value):
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            return
        raise TypeError(f"loss must return a floating scalar, got {short_repr(value)}")
    if tuple(shape) != ():
        raise TypeError(
            f"loss must return a scalar, got an array of shape {tuple(shape)}; reduce it "
            "(jnp.sum, jnp.mean), or check the function with fastfd.jax.check_vjp")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"loss must return a floating scalar, got dtype {dtype}: "
                        f"{short_repr(value)}")


# --------------------------------------------------------- check_vjp and _jvp
def _arg_names(f, n):
    """Names of `f`'s first `n` positional parameters, or ``args[i]``."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return [f"args[{i}]" for i in range(n)]
    names = []
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        else:
            break
    if len(names) < n or len(set(names[:n])) < n:
        return [f"args[{i}]" for i in range(n)]
    return names[:n]


class _Vector:
    """A JAX function of ``*args`` as fastfd's vector-check callables on
    dicts of named floating leaves; non-floating leaves are held fixed."""

    def __init__(self, fname, f, args, jit):
        jax = _import_jax()
        if not callable(f):
            raise TypeError(f"f must be callable, got {short_repr(f)}")
        if not isinstance(jit, (bool, np.bool_)):
            raise TypeError(f"jit must be True or False, got {short_repr(jit)}")
        if not args:
            raise TypeError(f"{fname}() needs the arguments of f: {fname}(f, *args)")
        roots = _arg_names(f, len(args))
        labels, leaves, self.treedef = _flatten(tuple(args), "")
        # "" + "[i]..." -> root name of argument i + the rest of the path
        full = []
        for label, leaf in zip(labels, leaves):
            i, rest = label[1:].split("]", 1)
            full.append(roots[int(i)] + rest)
        _unique(full, "args")
        self.is_x = []
        self.fixed = []
        x = {}
        for label, leaf in zip(full, leaves):
            dt = np.asarray(leaf).dtype
            if dt.kind in "fc" or (dt.kind == "V" and "float" in dt.name):
                x[label] = _leaf_array(leaf, label, "inputs")
                self.is_x.append(True)
            else:
                self.is_x.append(False)
                self.fixed.append(leaf)
        if not x:
            raise TypeError(
                f"{fname}: no floating-point input to differentiate among the leaves "
                f"{full} of args")
        self.x_labels = list(x)
        self.x_dtypes = [a.dtype for a in x.values()]
        self.x = dict(zip(self.x_labels, _check_precision(list(x.values()))))

        def g(*xs):
            return f(*self._args(xs))

        self.g = g
        self.fn = jax.jit(g) if jit else g
        y = _first_call(self.fn, self._xs(self.x), "f", jit)
        ylabels, yleaves, self.ytreedef = _flatten(y, "y")
        if not yleaves:
            raise TypeError(f"f returned no arrays: {short_repr(y)}")
        self.y_labels = ylabels
        self.y_dtypes = []
        for label, leaf in zip(ylabels, yleaves):
            a = np.asarray(leaf)
            if a.dtype.kind == "c":
                raise TypeError(
                    f"f's output {label} is complex ({a.dtype}); fastfd.jax checks real "
                    "outputs only: return jnp.real and jnp.imag as two outputs")
            if a.dtype.kind != "f":
                raise TypeError(
                    f"f's output {label} has dtype {a.dtype}; fastfd.jax checks float16, "
                    "float32 and float64 outputs only: check a wrapper of f that leaves it "
                    "out or casts it")
            self.y_dtypes.append(a.dtype)
        self._jit = jax.jit if jit else (lambda h: h)

    def _args(self, xs):
        it_x, it_fixed = iter(xs), iter(self.fixed)
        leaves = [next(it_x) if is_x else next(it_fixed) for is_x in self.is_x]
        return _import_jax().tree_util.tree_unflatten(self.treedef, leaves)

    def _xs(self, values):
        jnp = _import_jax().numpy
        return [jnp.asarray(values[label], dtype=dt)
                for label, dt in zip(self.x_labels, self.x_dtypes)]

    def _ys(self, values):
        jax = _import_jax()
        leaves = [jax.numpy.asarray(values[label], dtype=dt)
                  for label, dt in zip(self.y_labels, self.y_dtypes)]
        return jax.tree_util.tree_unflatten(self.ytreedef, leaves)

    def _y_dict(self, y):
        leaves = _import_jax().tree_util.tree_leaves(y)
        return {label: np.asarray(v) for label, v in zip(self.y_labels, leaves)}

    def f(self, x):
        return self._y_dict(self.fn(*self._xs(x)))

    def vjp(self):
        jax = _import_jax()

        def pullback(xs, ct):
            return jax.vjp(self.g, *xs)[1](ct)

        run = self._jit(pullback)

        def vjp(x, w):
            cts = run(self._xs(x), self._ys(w))
            return {label: np.asarray(c) for label, c in zip(self.x_labels, cts)}

        return vjp

    def jvp(self):
        jax = _import_jax()

        def push(xs, ts):
            return jax.jvp(self.g, tuple(xs), tuple(ts))[1]

        run = self._jit(push)

        def jvp(x, v):
            return self._y_dict(run(self._xs(x), self._xs(v)))

        try:
            jvp(self.x, {k: np.zeros_like(a) for k, a in self.x.items()})
        except TypeError as exc:
            if "custom_vjp" not in str(exc):
                raise
            raise TypeError(
                "check_jvp: f (or a function it calls) defines its derivative with "
                "jax.custom_vjp, which has no forward mode (jax.jvp raised: "
                f"{exc}); check its backward rule with fastfd.jax.check_vjp") from exc
        return jvp


def _vector_check(kind, fname, f, args, jit, check_options):
    from .gradcheck._vector import check_vector

    check_adapter_options(fname, check_options, VECTOR_OPTIONS)
    vec = _Vector(fname, f, args, jit)
    analytic = vec.vjp() if kind == "vjp" else vec.jvp()
    return check_vector(kind, vec.f, vec.x, analytic, names=("x", "y"), rooted=False,
                        **check_options)


def check_vjp(f, *args, jit=True, **check_options):
    """Check ``jax.vjp(f, *args)`` against centered differences of `f`.

    For output weights ``w`` (random projections, then the entries that
    fail), the vector-Jacobian product ``jax.vjp(f, *args)[1](w)`` is
    compared with finite differences of ``w . f(args)``; wrong entries of
    the Jacobian are localized by bisection over inputs and outputs and
    named ``y["logits"][3, 1] / W[2, 7]``. Use it to check the backward rule
    of a ``jax.custom_vjp`` (or the transposed ``jax.custom_jvp``) function.

    Parameters
    ----------
    f : callable
        ``f(*args) -> pytree of arrays`` (an array, a tuple, a dict, ...).
        Outputs must be floating point.
    *args : pytrees of arrays
        The point to check at. Floating leaves are differentiated (cast to
        JAX's canonical dtype: float32 without ``jax_enable_x64``); other
        leaves (integer indices, ...) are passed through unchanged.
    jit : bool, optional
        Compile `f` and its VJP once with ``jax.jit`` (default).
    **check_options
        ``h``, ``tol``, ``coords``, ``seed``, ``raise_on_fail``,
        ``progress``, ``directions``, ``budget`` and ``projections``, as in
        :func:`fastfd.check_vjp`.

    Returns
    -------
    GradCheckResult
        ``status``, ``failures()`` (inputs) and ``entries`` (Jacobian
        entries named ``output / input``).

    Raises
    ------
    TypeError
        `f` not callable, no floating input, a complex or non-floating
        output, an unknown option.

    Notes
    -----
    Names. An input is named after `f`'s parameter (``W[2, 7]`` for
    ``def f(x, W)``), followed by its pytree path (``params["w"][2, 7]``);
    when the parameter names cannot be read (``*args``), ``args[1][2, 7]``.
    Outputs are ``y`` followed by their path: ``y[3]`` for one array,
    ``y[0][5]`` for a tuple, ``y["logits"][3, 1]`` for a dict.

    Examples
    --------
    An exact GELU whose backward uses the derivative of the tanh
    approximation, checked in float64 (the error, at most 8.7e-4, is at the
    limit of what float32 resolves):

    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> import fastfd.jax
    >>> from jax.scipy.special import erf
    >>> @jax.custom_vjp
    ... def gelu(x):
    ...     return 0.5 * x * (1 + erf(x / jnp.sqrt(2.0)))
    >>> def gelu_fwd(x):
    ...     return gelu(x), x
    >>> def gelu_bwd(x, g):
    ...     c = jnp.sqrt(2 / jnp.pi)
    ...     t = jnp.tanh(c * (x + 0.044715 * x ** 3))
    ...     d = 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * c * (1 + 3 * 0.044715 * x ** 2)
    ...     return (g * d,)
    >>> gelu.defvjp(gelu_fwd, gelu_bwd)
    >>> with jax.enable_x64(True):
    ...     x = jnp.asarray(np.linspace(-3, 3, 7))
    ...     result = fastfd.jax.check_vjp(gelu, x, coords="all", seed=0)
    >>> result.status, result.failures()[0].name
    ('failed', 'x[0]')
    """
    return _vector_check("vjp", "check_vjp", f, args, jit, check_options)


def check_jvp(f, *args, jit=True, **check_options):
    """Check ``jax.jvp(f, args, tangents)`` against centered differences of `f`.

    For input directions ``v`` (random, then bisected), the Jacobian-vector
    product from ``jax.jvp`` is compared with finite differences of `f`
    along ``v``; wrong entries are named ``y[0][5] / x[5]``. Use it to check
    a ``jax.custom_jvp`` rule. A ``jax.custom_vjp`` function has no forward
    mode: check it with :func:`check_vjp`.

    Parameters
    ----------
    f : callable
        ``f(*args) -> pytree of floating arrays``.
    *args : pytrees of arrays
        The point; floating leaves are differentiated (JAX's canonical
        dtype), the others held fixed.
    jit : bool, optional
        Compile `f` and its JVP once with ``jax.jit`` (default).
    **check_options
        As for :func:`check_vjp`.

    Returns
    -------
    GradCheckResult

    Raises
    ------
    TypeError
        As :func:`check_vjp`, and when `f` uses a ``jax.custom_vjp`` rule
        (``jax.jvp`` cannot differentiate it: the message says to use
        :func:`check_vjp`).

    Notes
    -----
    Names as in :func:`check_vjp`.

    Examples
    --------
    A ``custom_jvp`` softplus whose tangent rule is twice too large:

    >>> import jax, jax.numpy as jnp
    >>> import fastfd.jax
    >>> @jax.custom_jvp
    ... def softplus(x):
    ...     return jnp.logaddexp(x, 0.0)
    >>> @softplus.defjvp
    ... def softplus_jvp(primals, tangents):
    ...     (x,), (x_dot,) = primals, tangents
    ...     return softplus(x), 2.0 * jax.nn.sigmoid(x) * x_dot
    >>> x = jnp.linspace(-2.0, 2.0, 5)
    >>> result = fastfd.jax.check_jvp(softplus, x, coords="all", seed=0)
    >>> result.status
    'failed'
    """
    return _vector_check("jvp", "check_jvp", f, args, jit, check_options)


skip_examples_without("jax", check_grad, check_vjp, check_jvp)

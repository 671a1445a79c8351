"""Gradient checks of PyTorch code: modules and differentiable functions.

:func:`check_module` checks the gradient that ``loss_fn(module(*inputs))
.backward()`` leaves in a module's parameters; :func:`check_function` checks
the backward (and, when defined, the forward-mode derivative) of a
function of tensors, such as a custom ``torch.autograd.Function``: the
``torch.autograd.gradcheck`` use case, at the scale of millions of entries
and naming the wrong ones.

PyTorch is an optional dependency (``pip install "fastfd[torch]"``, CPU
tensors only). It is imported when a function of this module is called,
never at ``import fastfd.torch``.

Every check runs with ``torch.set_num_threads(1)`` (restored afterwards):
with two intra-op threads, the timings a budgeted check plans from varied
from call to call on a 2-core machine. The setting is process-wide, like
NumPy's BLAS threads during a parallel check.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from .gradcheck._check import check_gradient as _check_gradient
from .gradcheck._params import InputWriteError, LossReturnError
from ._adapters import (CHECK_OPTIONS, VECTOR_OPTIONS, check_adapter_options, require,
                        skip_examples_without)
from ._validation import short_repr

__all__ = ["check_module", "check_function", "FunctionCheckResult"]

# Seed of torch's CPU generator at every evaluation, finite-difference and
# analytic alike: dropout draws the same mask in each, so a module in train
# mode has one deterministic loss. Set with the generator's own manual_seed
# inside fork_rng: torch.manual_seed also seeds every other backend and cost
# 76 us per call here, against 1 us (and 2.6 us for fork_rng's save/restore).
TORCH_SEED = 0



def _torch():
    return require("torch", "fastfd.torch needs PyTorch: pip install \"fastfd[torch]\" (or a "
                            "CPU build of torch)")


@contextlib.contextmanager
def _one_thread(torch):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@contextlib.contextmanager
def _seeded(torch):
    """Torch's CPU generator at TORCH_SEED inside, its state restored after."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(TORCH_SEED)
        yield


def _check_device(t, what):
    if t.device.type != "cpu":
        raise ValueError(
            f"{what} is on device {str(t.device)!r}; fastfd checks gradients on CPU "
            "tensors and does not move them: move the module and the tensors to the CPU "
            "first (.cpu())")


def _check_dtype(torch, t, what):
    if t.is_complex():
        raise TypeError(
            f"{what} is complex ({t.dtype}); complex tensors are not supported: check "
            "the real and imaginary parts as real tensors (torch.view_as_real)")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{what} has dtype {t.dtype}; fastfd checks float32 and float64 tensors "
            "(cast with .double() or .float() first)")


def _tensors_in(obj, what):
    """(label, tensor) of every tensor in `obj` (nested lists, tuples, dicts)."""
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        yield what, obj
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors_in(v, f"{what}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors_in(v, f"{what}[{k!r}]")


def _detached(obj):
    """`obj` with every tensor in it (nested lists, tuples, dicts) detached."""
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (list, tuple)):
        items = [_detached(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return type(obj)((k, _detached(v)) for k, v in obj.items())
    return obj


def _scalar_loss(torch, loss):
    """`loss` if it is a real 0-d tensor; LossReturnError (a TypeError) otherwise."""
    if not isinstance(loss, torch.Tensor):
        raise LossReturnError(
            f"loss_fn must return a 0-d tensor (the scalar loss), got "
            f"{type(loss).__name__}: {short_repr(loss)}")
    if loss.dim() != 0:
        raise LossReturnError(
            f"loss_fn must return a 0-d tensor (the scalar loss), got a tensor of shape "
            f"{tuple(loss.shape)}; reduce it first (e.g. .sum() or .mean())")
    if not loss.is_floating_point():
        raise LossReturnError(
            f"loss_fn must return a real floating-point 0-d tensor, got dtype {loss.dtype}")
    return loss


def _select(module, params):
    """{name: parameter} of the parameters to check, in the module's order."""
    named = dict(module.named_parameters())
    if params is None:
        chosen = {n: p for n, p in named.items() if p.requires_grad}
        if not chosen:
            raise ValueError(
                f"module has no trainable parameters: none of its {len(named)} parameters "
                "requires grad")
        return chosen
    if isinstance(params, str) or not hasattr(params, "__iter__"):
        raise TypeError(
            f"params must be a list of parameter names, got {short_repr(params)}"
            + (f"; use [{params!r}]" if isinstance(params, str) else ""))
    names = list(params)
    if not names:
        raise ValueError("params is empty; name at least one parameter or pass params=None")
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"params must be a list of parameter names, got {short_repr(n)}")
    unknown = [n for n in names if n not in named]
    if unknown:
        known = list(named)
        shown = ", ".join(map(repr, known[:12])) + (", ..." if len(known) > 12 else "")
        raise ValueError(
            f"params names unknown parameter {unknown[0]!r}; the module's parameters are "
            f"{shown}")
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise ValueError(f"params names {dup!r} twice")
    frozen = [n for n in names if not named[n].requires_grad]
    if frozen:
        raise ValueError(
            f"params names {frozen[0]!r}, which does not require grad: backward() gives it "
            "no gradient to check")
    return {n: named[n] for n in named if n in set(names)}


def check_module(module: Any, loss_fn: Any, *inputs: Any, params: Any = None,
                 **check_options: Any):
    """Check the gradient ``loss_fn(module(*inputs)).backward()`` computes.

    Compares, for every trainable parameter of `module` (or those named in
    `params`), the gradient a real backward pass leaves in ``.grad`` with
    centered differences of the loss, through :func:`fastfd.check_gradient`.
    Coordinates are named by parameter name, e.g.
    ``self_attn.in_proj_weight[71, 60]``. The module is left exactly as it
    was found: parameters, buffers, ``.grad`` fields, ``requires_grad``,
    train/eval mode, and torch's random number generator.

    >>> import torch
    >>> import fastfd.torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
    ...                             torch.nn.Linear(8, 1)).double()
    >>> x = torch.randn(16, 4, dtype=torch.float64)
    >>> result = fastfd.torch.check_module(model, lambda y: y.square().mean(), x)
    >>> result.status
    'passed'
    >>> result.coverage
    'checked 49 of 49 coordinates in 4 tensors'

    Parameters
    ----------
    module : torch.nn.Module
        The model, on the CPU, with float32 or float64 parameters (one dtype
        for the checked ones). A float32 module is checked in float32
        (tolerance 1e-3, see :func:`fastfd.check_gradient` for what float32
        resolves).
    loss_fn : callable
        ``loss_fn(module(*inputs))`` must return a 0-d tensor.
    *inputs
        Positional arguments of ``module``: tensors (any nesting in lists,
        tuples and dicts) and other objects, passed as they are. Tensors are
        detached: a check never writes to an input's ``.grad``.
    params : list of str, optional
        Names (as in ``module.named_parameters()``) of the parameters to
        check; default every parameter with ``requires_grad``. The others
        are held fixed at their values.
    **check_options
        ``h``, ``tol``, ``coords``, ``seed``, ``raise_on_fail``,
        ``progress``, ``directions``, ``budget``: as in
        :func:`fastfd.check_gradient` (default: everything in 10 s; large
        models by directions, a sample and bisection). Flat coordinates
        (``coords`` indices, ``h`` arrays) run over the checked parameters
        in the module's order, each in C order.

    Returns
    -------
    GradCheckResult
        As :func:`fastfd.check_gradient`; ``str(result)`` is the report.

    Raises
    ------
    TypeError
        `module` is not a ``torch.nn.Module``; a checked parameter is
        complex or not float32/float64, or they mix dtypes; `loss_fn` does
        not return a real 0-d tensor (the message gives the shape); an
        unknown check option.
    ValueError
        No trainable parameter; `params` names an unknown parameter or one
        without ``requires_grad``; a parameter, buffer or input tensor not
        on the CPU ("call module.cpu() first"); a loss that does not depend
        on the checked parameters; the module modified a parameter in place
        during the analytic pass (it is restored).
    LossEvaluationError
        The forward pass raised at a perturbed point (named).

    Notes
    -----
    **The analytic side** is a real ``loss_fn(module(*inputs)).backward()``
    on the module's own parameters, so parameter hooks
    (``register_hook``, ``register_post_accumulate_grad_hook``) and
    anything else backward does to ``.grad`` take part in the gradient
    checked. Every parameter's ``.grad`` is set to None before, read
    after, and the original ``.grad`` objects are put back. The forward
    pass gets clones of the buffers (through
    ``torch.func.functional_call``), so BatchNorm's running statistics and
    ``num_batches_tracked`` are not updated. (``torch.autograd.grad`` through
    ``functional_call`` would touch no ``.grad`` either, but would skip hooks
    registered on the parameters.)

    **The finite differences** call ``loss_fn(functional_call(module,
    tensors, inputs))`` under ``torch.no_grad()``, with the buffers restored
    from their clones before each call. The perturbed parameters are
    copied into tensors the adapter owns (0.12 ms per 793k float64
    parameters, 9% of one forward pass of the 1M MLP in ``bench/``) rather
    than wrapped with ``torch.from_numpy``: fastfd hands the loss
    read-only NumPy views of its private vector, and torch would write
    through them on an in-place operation (and warn about non-writable
    arrays). A forward pass that modifies a parameter in place is an
    error naming it.

    **Randomness.** Every evaluation, analytic and numerical, runs with
    torch's CPU generator seeded to the same value (``TORCH_SEED``) inside
    ``torch.random.fork_rng``: dropout in train mode draws one mask, so the
    loss is deterministic, and the generator's state is restored after
    each call. Train or eval mode is never changed: the check runs in the
    mode it finds.
    """
    torch = _torch()
    check_adapter_options("check_module", check_options, CHECK_OPTIONS)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {short_repr(module)}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {short_repr(loss_fn)}")
    chosen = _select(module, params)
    for name, p in module.named_parameters():
        _check_device(p, f"parameter {name!r}")
    for name, b in module.named_buffers():
        _check_device(b, f"buffer {name!r}")
    for label, t in _tensors_in(list(inputs), "inputs"):
        _check_device(t, label)
    for name, p in chosen.items():
        _check_dtype(torch, p, f"parameter {name!r}")
    dtypes = {p.dtype for p in chosen.values()}
    if len(dtypes) > 1:
        first = {}
        for name, p in chosen.items():
            first.setdefault(p.dtype, name)
        a, b = list(first.items())[:2]
        raise TypeError(
            f"the checked parameters mix dtypes: {a[1]!r} is {a[0]}, {b[1]!r} is {b[0]}; "
            "cast the module to one dtype (module.double()) or check them separately "
            "with params=")
    inputs = _detached(inputs)

    with _one_thread(torch):
        grads = _module_gradient(torch, module, loss_fn, inputs, chosen)
        loss = _module_loss(torch, module, loss_fn, inputs, chosen)
        point = {name: p.detach().numpy() for name, p in chosen.items()}
        return _check_gradient(loss, point, grads, **check_options)


def _buffer_clones(module):
    return {name: b.detach().clone() for name, b in module.named_buffers()}


def _module_gradient(torch, module, loss_fn, inputs, chosen):
    """{name: ndarray}: the gradient a real backward leaves in ``p.grad``
    (zeros where it leaves None), with every parameter's ``.grad``,
    version and value as before."""
    from torch.func import functional_call

    everything = dict(module.named_parameters())
    saved_grads = {name: p.grad for name, p in everything.items()}
    versions = {name: p._version for name, p in everything.items()}
    saved_values = {name: p.detach().clone() for name, p in everything.items()}
    try:
        for p in everything.values():
            p.grad = None
        with _seeded(torch):
            out = functional_call(module, _buffer_clones(module), args=tuple(inputs),
                                  strict=False)
            loss = _scalar_loss(torch, loss_fn(out))
            if not loss.requires_grad:
                raise ValueError(
                    "the loss does not depend on the checked parameters (loss.requires_grad "
                    "is False): was it computed under torch.no_grad() or from detached "
                    "tensors?")
            loss.backward()
        grads = {}
        for name, p in chosen.items():
            g = p.grad
            if g is None:
                grads[name] = np.zeros(tuple(p.shape), dtype=_np_dtype(p.dtype))
                continue
            if g.is_sparse:
                g = g.to_dense()
            grads[name] = g.detach().numpy().copy()
    finally:
        changed = [name for name, p in everything.items() if p._version != versions[name]]
        with torch.no_grad():
            for name in changed:
                everything[name].copy_(saved_values[name])
        for name, p in everything.items():
            p.grad = saved_grads[name]
    if changed:
        raise ValueError(
            f"parameter {changed[0]!r} was modified in place during the forward or backward "
            "pass (an in-place operation or a hook); it was restored. The gradient of a "
            "loss that changes its parameters cannot be checked")
    return grads


def _np_dtype(dtype):
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def _module_loss(torch, module, loss_fn, inputs, chosen):
    """``loss(arrays) -> 0-d tensor`` for fastfd: the module through
    ``functional_call`` at the parameters in `arrays` (a dict of NumPy
    arrays keyed like `chosen`), the other parameters fixed, buffers
    restored before each call."""
    from torch.func import functional_call

    work = {name: torch.empty(tuple(p.shape), dtype=p.dtype) for name, p in chosen.items()}
    targets = [(name, t.numpy()) for name, t in work.items()]
    fixed = {name: p.detach().clone() for name, p in module.named_parameters()
             if name not in chosen}
    buffers0 = _buffer_clones(module)
    buffers = {name: b.clone() for name, b in buffers0.items()}
    tensors = {**buffers, **fixed, **work}
    owned = {**fixed, **work}
    args = tuple(inputs)

    def loss(arrays):
        for name, target in targets:
            np.copyto(target, arrays[name])
        versions = [t._version for t in owned.values()]
        with torch.no_grad(), _seeded(torch):
            for name, b in buffers.items():
                b.copy_(buffers0[name])
            value = _scalar_loss(torch, loss_fn(functional_call(module, tensors, args=args)))
        for (name, t), v in zip(owned.items(), versions):
            if t._version != v:
                raise RuntimeError(
                    f"the forward pass modified parameter {name!r} in place; a loss must not "
                    "change the parameters it is evaluated at")
        return value

    return loss


# ------------------------------------------------------------- check_function


class FunctionCheckResult:
    """The outcome of :func:`check_function`: the backward (VJP) check and,
    when it ran, the forward-mode (JVP) check.

    Attributes
    ----------
    status : str
        "failed" if either check failed, else "inconclusive" if either was,
        else "passed". A JVP check that was skipped does not count.
    passed : bool
        ``status == "passed"``; ``bool(result)`` is ``passed``.
    vjp : GradCheckResult
        The check of ``torch.autograd.grad`` (the backward) against centered
        differences: ``vjp.failures()`` names inputs, ``vjp.entries`` the
        wrong Jacobian entries (``output[1][3] / weight[2, 7]``).
    jvp : GradCheckResult or None
        The check of ``torch.autograd.forward_ad``; None when it did not run.
    jvp_skipped : str or None
        Why the JVP check did not run (the function has no forward-mode
        derivative, or ``forward_ad=False``); None when it ran.
    """

    def __init__(self, vjp, jvp, jvp_skipped):
        self.vjp = vjp
        self.jvp = jvp
        self.jvp_skipped = jvp_skipped
        statuses = [r.status for r in (vjp, jvp) if r is not None]
        self.status = ("failed" if "failed" in statuses else
                       "inconclusive" if "inconclusive" in statuses else "passed")

    @property
    def passed(self):
        return self.status == "passed"

    def __bool__(self):
        return self.passed

    @property
    def entries(self):
        """Wrong Jacobian entries found by either check (VJP's first)."""
        return list(self.vjp.entries) + (list(self.jvp.entries) if self.jvp is not None else [])

    def failures(self):
        """Failing input coordinates of either check (VJP's first)."""
        return self.vjp.failures() + (self.jvp.failures() if self.jvp is not None else [])

    def __str__(self):
        jvp = (str(self.jvp) if self.jvp is not None else f"not checked: {self.jvp_skipped}")
        return (f"check_function: {self.status}\n"
                f"backward (VJP, torch.autograd.grad):\n{self.vjp}\n"
                f"forward mode (JVP, torch.autograd.forward_ad):\n{jvp}")

    def __repr__(self):
        jvp = self.jvp.status if self.jvp is not None else "skipped"
        return f"<FunctionCheckResult {self.status}: vjp {self.vjp.status}, jvp {jvp}>"


def _function_names(torch, fn, n):
    """(callable, names of its first `n` positional parameters or
    ``input[i]``); an ``autograd.Function`` subclass or its ``apply`` gives
    its ``forward``'s names (after ``ctx`` unless it has ``setup_context``)."""
    from torch.autograd.function import _SingleLevelFunction

    cls = fn if isinstance(fn, type) else getattr(fn, "__self__", None)
    if isinstance(cls, type) and issubclass(cls, torch.autograd.Function):
        fn = cls.apply
        sig_of = cls.forward
        skip = 1 if cls.setup_context is _SingleLevelFunction.setup_context else 0
    else:
        sig_of, skip = fn, 0
    fallback = [f"input[{i}]" for i in range(n)]
    try:
        params = list(inspect.signature(sig_of).parameters.values())[skip:]
    except (TypeError, ValueError):
        return fn, fallback
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    if len(names) < n:
        return fn, fallback
    return fn, names[:n]


def _outputs(torch, out):
    """[(label, tensor)] of the floating outputs of `fn`: one tensor is
    ``output``, a tuple or list ``output[i]``, a dict ``output['key']``."""
    if isinstance(out, torch.Tensor):
        items = [("output", out)]
    elif isinstance(out, (list, tuple)):
        items = [(f"output[{i}]", v) for i, v in enumerate(out)]
    elif isinstance(out, dict):
        items = [(f"output[{k!r}]", v) for k, v in out.items()]
    else:
        raise TypeError(
            f"fn must return a tensor or a tuple, list or dict of tensors, got "
            f"{short_repr(out)}")
    chosen = []
    for label, t in items:
        if not isinstance(t, torch.Tensor):
            continue
        if t.is_complex():
            raise TypeError(
                f"fn's {label} is complex ({t.dtype}); complex outputs are not supported: "
                "return torch.view_as_real of it")
        if t.is_floating_point():
            _check_device(t, f"fn's {label}")
            if t.dtype == torch.bfloat16:
                raise TypeError(
                    f"fn's {label} has dtype torch.bfloat16, which NumPy cannot hold; "
                    "check a wrapper of fn that returns it as float32 (.float())")
            chosen.append((label, t))
    if not chosen:
        raise TypeError(f"fn returned no floating-point tensor to check: {short_repr(out)}")
    return chosen


class _Function:
    """A function of tensors as the callables of fastfd's vector checks, on
    dicts {input name: ndarray} and {output label: ndarray}."""

    def __init__(self, torch, fn, tensors):
        self.torch = torch
        self.fn, names = _function_names(torch, fn, len(tensors))
        if len(set(names)) < len(names):
            names = [f"input[{i}]" for i in range(len(tensors))]
        self.args = list(tensors)
        self.diff = []        # (position, name) of the differentiated inputs
        for i, (name, t) in enumerate(zip(names, tensors)):
            if not isinstance(t, torch.Tensor):
                continue
            _check_device(t, f"input {name!r}")
            if t.requires_grad:
                _check_dtype(torch, t, f"input {name!r}")
                self.diff.append((i, name))
        if not self.diff:
            floating = [n for n, t in zip(names, tensors)
                        if isinstance(t, torch.Tensor) and t.is_floating_point()]
            hint = (f" (floating inputs: {', '.join(floating)})" if floating else "")
            raise ValueError(
                "no input requires grad: mark the tensors to differentiate with "
                f"requires_grad=True, as for torch.autograd.gradcheck{hint}")
        dtypes = {}
        for i, name in self.diff:
            dtypes.setdefault(tensors[i].dtype, name)
        if len(dtypes) > 1:
            (da, na), (db, nb) = list(dtypes.items())[:2]
            raise TypeError(
                f"the inputs that require grad mix dtypes: {na!r} is {da}, {nb!r} is {db}; "
                "cast them to one dtype")
        self.x = {name: tensors[i].detach().numpy() for i, name in self.diff}
        self.work = {name: torch.empty(tuple(tensors[i].shape), dtype=tensors[i].dtype)
                     for i, name in self.diff}
        self.targets = [(name, t.numpy()) for name, t in self.work.items()]
        self.out_labels = None
        y = self.f(self.x)
        self.out_labels = list(y)

    def _call(self, values):
        args = list(self.args)
        for (i, name), v in zip(self.diff, values):
            args[i] = v
        return self.fn(*args)

    def _select(self, out):
        chosen = _outputs(self.torch, out)
        if self.out_labels is not None:
            labels = [label for label, _ in chosen]
            if labels != self.out_labels:
                raise LossReturnError(
                    f"fn returned outputs {labels}, at the unperturbed inputs {self.out_labels}")
        return chosen

    def f(self, x):
        torch = self.torch
        for name, target in self.targets:
            np.copyto(target, x[name])
        versions = [t._version for t in self.work.values()]
        with torch.no_grad(), _seeded(torch):
            out = self._call([self.work[name] for _, name in self.diff])
        for (name, t), v in zip(self.work.items(), versions):
            if t._version != v:
                raise InputWriteError(
                    f"fn modified its input {name!r} in place; a function whose derivatives "
                    "are checked must not write to its inputs (clone them first)")
        # copies: an output may be (a view of) an input tensor the next call overwrites
        return {label: t.detach().numpy().copy() for label, t in self._select(out)}

    def _fresh(self, x, requires_grad):
        return [self.torch.from_numpy(np.array(x[name], dtype=self.x[name].dtype))
                .requires_grad_(requires_grad) for _, name in self.diff]

    def vjp(self, x, w):
        torch = self.torch
        xs = self._fresh(x, True)
        with torch.enable_grad(), _seeded(torch):
            chosen = self._select(self._call(xs))
            outs, cts = [], []
            for label, t in chosen:
                if t.requires_grad:
                    outs.append(t)
                    cts.append(torch.from_numpy(np.asarray(w[label], dtype=_np_dtype(t.dtype))))
            if outs:
                grads = torch.autograd.grad(outs, xs, grad_outputs=cts, allow_unused=True,
                                            materialize_grads=True)
            else:
                grads = [torch.zeros_like(t) for t in xs]
        return {name: g.detach().numpy() for (_, name), g in zip(self.diff, grads)}

    def jvp(self, x, v):
        torch = self.torch
        import torch.autograd.forward_ad as fwAD

        primals = self._fresh(x, False)
        tangents = self._fresh(v, False)
        with fwAD.dual_level(), _seeded(torch):
            duals = [fwAD.make_dual(p, t) for p, t in zip(primals, tangents)]
            chosen = self._select(self._call(duals))
            out = {}
            for label, t in chosen:
                tangent = fwAD.unpack_dual(t).tangent
                out[label] = (np.zeros(tuple(t.shape), dtype=_np_dtype(t.dtype))
                              if tangent is None else tangent.detach().numpy().copy())
        return out

    def jvp_support(self):
        """None when forward-mode AD runs on the function, else why not."""
        try:
            self.jvp(self.x, {k: np.zeros_like(a) for k, a in self.x.items()})
        except NotImplementedError as exc:
            return f"the function has no forward-mode derivative (NotImplementedError: {exc})"
        return None


def check_function(fn: Any, *tensors: Any, forward_ad: Any = "auto", **check_options: Any):
    """Check the derivatives torch computes for ``fn(*tensors)``.

    The :func:`torch.autograd.gradcheck` use case, at scale: the backward
    of ``fn`` (vector-Jacobian products from ``torch.autograd.grad``) is
    compared with centered differences of its outputs by
    :func:`fastfd.check_vjp`, and, when ``fn`` supports forward-mode AD, its
    Jacobian-vector products (``torch.autograd.forward_ad``) by
    :func:`fastfd.check_jvp`. Wrong Jacobian entries are named
    ``output[1][3] / weight[2, 7]``. `fn` may be any differentiable function
    of tensors, a custom ``torch.autograd.Function``'s ``apply`` or the
    Function class itself.

    >>> import torch
    >>> import fastfd.torch
    >>> class Cube(torch.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         x, = ctx.saved_tensors
    ...         return 3 * x * g           # wrong: should be 3 * x ** 2 * g
    >>> x = torch.linspace(-1, 2, 5, dtype=torch.float64, requires_grad=True)
    >>> result = fastfd.torch.check_function(Cube, x)
    >>> result.status
    'failed'
    >>> sorted(entry.name for entry in result.entries)[:3]
    ['output[0] / x[0]', 'output[1] / x[1]', 'output[2] / x[2]']
    >>> result.jvp is None             # Cube has no jvp: forward mode not checked
    True

    Parameters
    ----------
    fn : callable or torch.autograd.Function subclass
        ``fn(*tensors)`` returning a tensor, or a tuple, list or dict of
        tensors. Its floating-point outputs are checked (others ignored).
    *tensors
        The point to check at, CPU tensors and other arguments. Tensors with
        ``requires_grad=True`` (float32 or float64, one dtype) are
        differentiated, as :func:`torch.autograd.gradcheck` does; everything
        else is passed through unchanged.
    forward_ad : {"auto", True, False}, optional
        Check the forward-mode derivative too: "auto" (default) when `fn`
        has one (a Function without a ``jvp`` staticmethod has none: the
        JVP check is skipped and ``result.jvp_skipped`` says so); True
        requires it (an error if `fn` has none); False skips it.
    **check_options
        ``h``, ``tol``, ``coords``, ``seed``, ``raise_on_fail``,
        ``progress``, ``directions``, ``budget``, ``projections``: as in
        :func:`fastfd.check_vjp`. With both checks, `budget` (default 10 s
        with ``coords="auto"``) is shared, half each.

    Returns
    -------
    FunctionCheckResult
        ``status`` (the worse of the two checks), ``passed``, ``vjp`` and
        ``jvp`` (each a :class:`fastfd.gradcheck.GradCheckResult`, ``jvp``
        None when skipped), ``jvp_skipped``, ``entries``, ``failures()``;
        ``str(result)`` is both reports.

    Raises
    ------
    TypeError
        `fn` not callable; no tensor argument; a differentiated input
        complex, not float32/float64 or of mixed dtypes; `fn` returning no
        floating tensor or a complex one; an unknown option.
    ValueError
        No input requires grad; a tensor not on the CPU ("call .cpu()
        first"); ``forward_ad=True`` for a function without forward mode.
    GradientCheckError
        With ``raise_on_fail=True``, unless the result passed.

    Notes
    -----
    Names: the differentiated inputs are named after `fn`'s parameters
    (``forward``'s, after ``ctx``, for an ``autograd.Function``), or
    ``input[i]`` when those cannot be read; outputs are ``output`` (one
    tensor), ``output[i]`` (tuple or list) or ``output['key']`` (dict).

    Every evaluation runs under ``torch.random.fork_rng`` with the CPU
    generator seeded alike (``TORCH_SEED``), so a random op draws the same
    numbers each time, and torch's generator is left as found; torch runs
    on one thread during the check. The differences evaluate ``fn`` under
    ``torch.no_grad()`` on tensors the adapter owns, into which fastfd's
    perturbed values are copied; the VJP and the JVP get fresh copies of
    the unperturbed inputs. ``torch.func.vjp`` is not used: it refuses a
    classic ``autograd.Function`` (one without ``setup_context``).
    """
    torch = _torch()
    check_adapter_options("check_function", check_options, VECTOR_OPTIONS)
    if isinstance(forward_ad, np.bool_):
        forward_ad = bool(forward_ad)
    if not (isinstance(forward_ad, bool) or (isinstance(forward_ad, str) and forward_ad == "auto")):
        raise ValueError(f"forward_ad must be 'auto', True or False, got {short_repr(forward_ad)}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {short_repr(fn)}")
    if not any(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError(
            "check_function needs the tensors to differentiate: check_function(fn, *tensors), "
            f"got {len(tensors)} argument(s) and no tensor")
    from .gradcheck._result import GradientCheckError
    from .gradcheck._vector import check_vector

    raise_on_fail = check_options.pop("raise_on_fail", False)
    with _one_thread(torch):
        func = _Function(torch, fn, tensors)
        skipped = None
        if forward_ad is False:
            skipped = "forward_ad=False"
        else:
            skipped = func.jvp_support()
            if skipped is not None and forward_ad is True:
                raise ValueError(f"forward_ad=True, but {skipped}")
        options = dict(check_options)
        if skipped is None and (options.get("budget") is not None
                                or options.get("coords", "auto") == "auto"):
            from .gradcheck._planner import DEFAULT_BUDGET

            budget = options.get("budget")
            options["budget"] = (DEFAULT_BUDGET if budget is None else budget) / 2
        vjp = check_vector("vjp", func.f, func.x, func.vjp, names=("input", "output"),
                           rooted=False, **options)
        jvp = None
        if skipped is None:
            jvp = check_vector("jvp", func.f, func.x, func.jvp, names=("input", "output"),
                               rooted=False, **options)
    result = FunctionCheckResult(vjp, jvp, skipped)
    if raise_on_fail and not result.passed:
        raise GradientCheckError(result)
    return result


skip_examples_without("torch", check_module, check_function)

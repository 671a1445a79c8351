"""Fused pointwise updates: operators and a user's jitted pointwise function
evaluated together, in one pass over memory.

``fuse(fn, L.on(0), L.on(1), shape=...)`` returns ``step(F, G)``: for every
grid point, ``G[:, p] = fn(F[0, p], ..., F[m-1, p], op_0(F)[p], ...,
op_q(F)[p])``. In the interior (every operator on its interior stencil) a
generated kernel computes the operator values as local sums and calls
`fn` inline, so each point reads its neighbourhood of `F` once and writes
`G` once; LLVM inlines `fn` (measured: the same time and bits as the loop
written by hand). On the edge shell the operator values come from the table
kernel (the same expression per point) into a scratch array, then `fn` is
applied there.

Compared with pystencils and devito, which generate C from a symbolic
update and need a C compiler at run time: the update here is plain Python
(a Numba function of numbers), the operators are fastfd objects, and the
compiler is Numba's, already present. A kernel taking a user's function
cannot be cached on disk (its type is the function's identity in this
process), so a fused step compiles once per process.
"""

from __future__ import annotations

import numpy as np

from .. import _config
from .._kernels import operator as _k
from .._validation import check_choice, check_int, short_repr
from . import _codegen
from ._operator import (BOUNDARIES, MAX_NDIM, Operator, _check_shape, _simple_checks,
                        edge_rows, flat_pieces)

__all__ = ["fuse"]


def _shell_source(nfields, nops, nout):
    """Source of ``shell(F, G, S, seg, fn)``: `fn` on the segments ``seg``,
    with the operator values from the scratch ``S``."""
    here = ", ".join([f"F[{f}, i, j, k]" for f in range(nfields)]
                     + [f"S[{o}, i, j, k]" for o in range(nops)])
    lines = ["from numba import njit", "", "",
             f"@njit(fastmath={_config.FASTMATH}, nogil=True)",
             "def shell(F, G, S, seg, fn):",
             "    for s in range(seg.shape[0]):",
             "        i, j = seg[s, 0], seg[s, 1]",
             "        for k in range(seg[s, 2], seg[s, 3]):"]
    lines += _codegen._store(f"fn({here})", nout, "            ",
                             lambda r: f"G[{r}, i, j, k]")
    return "\n".join(lines) + "\n"


def fuse(fn, *ops, shape, nout=None, boundary="one-sided", dtype=np.float64, parallel=None):
    """One kernel for a pointwise update of fields and operators on them.

    Parameters
    ----------
    fn : Numba-jitted function
        ``fn(f_0, ..., f_{m-1}, o_0, ..., o_{q-1})`` of the ``m`` field
        values at a point and the ``q`` operator values there, returning
        the `nout` new values (a tuple, or a number when ``nout == 1``).
    *ops : Operator
        Operators on the stacked fields: ``L.on(1)`` is ``L`` applied to
        field 1. ``m`` is the largest ``nfields`` among them.
    shape : tuple of int
        Grid shape (1 to 3 dimensions).
    nout : int, optional
        Number of values `fn` returns (default ``m``).
    boundary : {"one-sided", "periodic"}, optional
        Edges of every operator.
    dtype : dtype, optional
        float32 or float64.
    parallel : bool, optional
        Run rows on Numba's threads (default: at least
        ``fastfd._config.PARALLEL_MIN`` points).

    Returns
    -------
    step : Numba-jitted function
        ``step(F, G)`` with ``F`` of shape ``(m,) + shape`` and ``G`` of
        shape ``(nout,) + shape``, both C-contiguous of `dtype`, not
        overlapping (callable from Python and from your own jitted code).

    Examples
    --------
    Gray-Scott reaction-diffusion, both fields in one pass:

    >>> import numba
    >>> import numpy as np
    >>> from fastfd import Laplacian, fuse
    >>> Du, Dv, F_, k_, dt = 0.16, 0.08, 0.035, 0.065, 1.0
    >>> @numba.njit
    ... def gray_scott(u, v, lu, lv):
    ...     uvv = u * v * v
    ...     return (u + dt * (Du * lu - uvv + F_ * (1 - u)),
    ...             v + dt * (Dv * lv + uvv - (F_ + k_) * v))
    >>> L = Laplacian(2)
    >>> step = fuse(gray_scott, L.on(0), L.on(1), shape=(64, 64), boundary="periodic")
    >>> UV = np.stack([np.ones((64, 64)), np.zeros((64, 64))])
    >>> UV[0, 28:36, 28:36], UV[1, 28:36, 28:36] = 0.5, 0.25
    >>> new = np.empty_like(UV)
    >>> step(UV, new)
    >>> bool(np.allclose(new[1], UV[1] + dt * (Dv * L(UV[1], boundary="periodic")
    ...                  + UV[0] * UV[1] ** 2 - (F_ + k_) * UV[1])))
    True
    """
    from numba import njit
    from numba.extending import is_jitted

    if not is_jitted(fn):
        raise TypeError(f"fn must be a Numba-jitted function (@numba.njit), got "
                        f"{short_repr(fn)}")
    if not ops or not all(isinstance(op, Operator) for op in ops):
        raise TypeError("fuse needs at least one Operator after fn, e.g. "
                        "fuse(fn, L.on(0), L.on(1), shape=...)")
    for op in ops:
        op._one_pass("cannot be fused")
    shape = _check_shape(shape, max(op.min_ndim for op in ops))
    boundary = check_choice("boundary", boundary, BOUNDARIES[:2])
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    m = max(op.nfields for op in ops)
    nout = m if nout is None else check_int("nout", nout, minimum=1)
    # what fn returns, from one call on numbers of the dtype (it compiles fn
    # for them, as the kernel would)
    try:
        probe = fn(*([dtype.type(0.5)] * (m + len(ops))))
    except TypeError as exc:
        raise TypeError(f"fn is called with the {m} field value(s) at a point, then the "
                        f"{len(ops)} operator value(s) there ({m + len(ops)} arguments): "
                        f"{exc}") from None
    got = len(probe) if isinstance(probe, tuple) else 1
    if got != nout or (nout == 1 and isinstance(probe, tuple)):
        raise ValueError(f"fn returns {got} value(s) for {m} field(s) and {len(ops)} "
                         f"operator value(s), but nout={nout}")
    plans = [op._plan(shape, boundary, dtype) for op in ops]
    if any((p.cidx >= 0).any() for p in plans):
        raise NotImplementedError("coefficient fields in a fused update are not supported; "
                                  "apply that operator with op(u) or op.kernel()")
    if parallel is None:
        parallel = int(np.prod(shape)) >= _config.PARALLEL_MIN
    parallel = bool(parallel)
    pad = MAX_NDIM - len(shape)
    shape3 = (1,) * pad + tuple(shape)
    in3, out3 = (m,) + shape3, (nout,) + shape3

    # the rows where every operator is interior along axes 0 and 1, with
    # the columns where every one is; the other rows are the shell
    regions = [p.region for p in plans]
    region = None
    if all(r is not None for r in regions):
        lo = [max(r[2 * a] for r in regions) for a in range(3)]
        hi = [min(r[2 * a + 1] for r in regions) for a in range(3)]
        if all(h > l for l, h in zip(lo, hi)):
            region = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
    n2 = shape3[2]
    i0, i1, j0, j1, k0, k1 = region or (0, 0, 0, 0, 0, 0)
    if region is not None:
        built = [p.groups(k0, k1) for p in plans]
        weights = np.array([w for _, ws, _ in built for w in ws]
                           + [w for _, _, ws in built for w in ws], dtype=dtype)
        mod = _codegen.load(_codegen.row_source([g for g, _, _ in built], 0, nfields=m,
                                                nout=nout, fused=True))
        interior = mod.flat_parallel if parallel else mod.flat_serial
        pieces = flat_pieces(region, n2, parallel)
    else:
        weights, interior, pieces = np.zeros(1, dtype), None, 1
    shell_fn = _codegen.load(_shell_source(m, len(plans), nout)).shell
    seg = edge_rows(shape3, region)
    has_interior = region is not None
    nops = len(plans)
    runners = [_segment_runner(p, seg) for p in plans]
    overlaps, same_dtype = _simple_checks()
    proto = np.empty(0, dtype)
    f_shape, g_shape = in3[:1] + tuple(shape), out3[:1] + tuple(shape)
    built = f"; this step was built with shape={tuple(shape)}, dtype={dtype.name}"
    bad_f = f"fused step: F must be a C-contiguous {dtype} array of shape {f_shape}{built}"
    bad_g = f"fused step: G must be a C-contiguous {dtype} array of shape {g_shape}{built}"
    env = {"njit": njit, "np": np, "interior": interior, "shell_fn": shell_fn, "fn": fn,
           "overlaps": overlaps, "same_dtype": same_dtype, "proto": proto, "seg": seg,
           "W": weights, "bad_f": bad_f, "bad_g": bad_g, "f_shape": f_shape,
           "g_shape": g_shape, "in3": in3, "out3": out3, "dtype": dtype,
           "scratch_shape": (nops,) + shape3, "fused_f": _k.fused_f, "fused_g": _k.fused_g}
    env.update({f"run{o}": r for o, r in enumerate(runners)})
    body = [
        "def make():",
        "    @njit",
        "    def step(F, G):",
        "        if F.shape != f_shape or not F.flags.c_contiguous or not same_dtype(F, proto):",
        "            raise ValueError(bad_f)",
        "        if G.shape != g_shape or not G.flags.c_contiguous or not same_dtype(G, proto):",
        "            raise ValueError(bad_g)",
        "        if overlaps(F, G):",
        "            raise ValueError('fused step: G overlaps F in memory')",
        "        F3 = fused_f(F, in3)",
        "        G3 = fused_g(G, out3)",
    ]
    if has_interior:
        body.append(f"        interior(F3, G3, W, fn, {i0}, {i1}, {j0}, {j1}, {k0}, {k1}, "
                    f"{pieces})")
    if seg.shape[0]:
        body.append("        S = np.empty(scratch_shape, dtype=G.dtype)")
        body += [f"        run{o}(F3, S[{o}])" for o in range(nops)]
        body.append("        shell_fn(F3, G3, S, seg, fn)")
    body += ["    return step"]
    exec("\n".join(body), env)  # a closure over this call's arrays: not cached
    return env["make"]()


def _segment_runner(plan, seg):
    """An njit ``run(F3, S3)`` filling the `seg` segments of ``S3`` with the
    operator of `plan` through its table kernel (on uniform grids, the
    generated kernels' expression at every point)."""
    from numba import njit

    apply, _, args = plan.table_kernels()

    @njit
    def run(F3, S3):
        one = S3.dtype.type(1.0)
        zero = S3.dtype.type(0.0)
        apply(F3, S3, one, zero, *args, seg)

    return run

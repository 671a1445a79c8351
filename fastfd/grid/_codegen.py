"""Generated interior kernels of stencil operators, cached on disk.

The interior of an operator (the points where every term's stencil is its
interior stencil) is one expression per point: the weighted sum of the
shifted samples. Written out as source, LLVM keeps every sample of a point
in registers and vectorizes along the contiguous axis, which a table-driven
loop cannot do (measured on a 4096 x 4096 float64 five-point Laplacian, one
thread: 10 ms written out against 40 ms through the row tables, and 7 ms for
``np.copyto``). The source depends only on the stencil's shape (offsets, the
field each term reads, whether it has a coefficient field); the weights are
an argument, so a new spacing needs no new kernel.

Numba caches a function on disk only when its source is a real file it can
locate: each generated module is written once to the cache directory, named
by the hash of its source, and imported from there (registered in
``sys.modules`` before it runs, as Numba's cache loader imports it by name).
The directory is ``$NUMBA_CACHE_DIR/fastfd`` when that is set, else
``$XDG_CACHE_HOME/fastfd`` or ``~/.cache/fastfd``; when it cannot be written,
a temporary directory of this process is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading

from .. import _config

_LOCK = threading.Lock()
_MODULES = {}
_DIR = []


def _cache_dir():
    if _DIR:
        return _DIR[0]
    base = os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache"))
    path = os.path.join(base, "fastfd", "generated")
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, delete=True)
        probe.close()
    except OSError:
        path = tempfile.mkdtemp(prefix="fastfd-generated-")
    _DIR.append(path)
    return path


def _holds(path, source):
    try:
        with open(path) as fh:
            return fh.read() == source
    except OSError:
        return False


def load(source):
    """The module of `source`, written to the cache directory once and
    imported (one module per distinct source in a process)."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    with _LOCK:
        mod = _MODULES.get(digest)
        if mod is not None:
            return mod
        name = f"fastfd_generated_{digest}"
        path = os.path.join(_cache_dir(), name + ".py")
        # a file changed or cut short since it was written is written again
        if not _holds(path, source):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _MODULES[digest] = mod
        return mod


def _index(base, off):
    """Source of a column index: ``off`` from the row start, or from its end."""
    if base == 0:
        return str(off)
    return f"n2 - {-off}" if off < 0 else f"n2 + {off}"


class _Names:
    """Names of the row views, slices and weights a generated row reads
    (weights named ``{prefix}w{n}``)."""

    def __init__(self, src, prefix=""):
        self.src, self.prefix = src, prefix
        self.slices, self.weights = {}, []

    def slice(self, field, a, b, c):
        key = (field, a, b, c)
        return self.slices.setdefault(key, f"s{len(self.slices)}")

    def weight(self):
        self.weights.append(f"{self.prefix}w{len(self.weights)}")
        return self.weights[-1]


def _sum(names, terms, edge=None):
    """The expression of one operator: ``terms`` is ``[(field, cidx,
    groups)]``, a group being the points that share one weight (read
    once: ``w * (a + b + ...)``); interior points are ``(a, b, c)`` (at
    ``k + c`` of the interior slices), edge points ``(a, b, (base, off))``
    (at an absolute column of the full rows)."""
    out = []
    for field, cidx, groups in terms:
        parts = []
        for group in groups:
            w = names.weight()
            if edge is None:
                refs = [f"{names.slice(field, a, b, c)}[k]" for a, b, c in group]
            else:
                refs = [f"{names.src}[{field}, i + {a}, j + {b}, {_index(*c)}]"
                        for a, b, c in group]
            parts.append(f"{w} * {refs[0]}" if len(refs) == 1 else
                         f"{w} * ({' + '.join(refs)})")
        body = "(" + (" + ".join(parts) if parts else "0.0") + ")"
        if cidx >= 0:
            where = (f"c{cidx}[k]" if edge is None else
                     f"coef[{cidx}, i + lo[0], j + lo[1], lo[2] + {_index(*edge)}]")
            body = f"{where} * {body}"
        out.append(body)
    return " + ".join(out) if out else "0.0"


def _store(call, nout, indent, target):
    """Lines writing the `nout` results of `call` to ``target(r)``."""
    if nout == 1:
        return [f"{indent}{target(0)} = {call}"]
    return [f"{indent}v = {call}"] + [f"{indent}{target(r)} = v[{r}]" for r in range(nout)]


def row_source(groups, ncoef, nfields=0, nout=1, fused=False, rows=()):
    """Source of the generated module of an operator (``fused`` False: one
    group; ``out = alpha * op(u) + beta * out``) or of a fused update
    (``fused``: the operators' values at a point and the `nfields` field
    values there go to ``fn``, whose `nout` results are written to ``G``).

    `groups` has one entry per operator: ``(interior_terms, edges)`` with
    ``edges`` a list of ``((base, off), terms)`` per edge column (see
    :func:`_sum`); the weights ``W`` are every operator's interior weights,
    then every operator's edge weights, in the order listed. The module has
    ``flat_serial`` / ``flat_parallel`` (:func:`_flat_source`) and, for an
    operator, ``interior_serial`` / ``interior_parallel``: rows ``i0:i1,
    j0:j1``, the interior columns ``k0:k1`` in one vectorized loop per row
    and the edge columns one by one (for accumulation and smaller outputs).

    `rows` (an operator's): ``((base, off), group)`` per edge row of axis 1
    (``j = base + off``), written by the flat pass (:func:`_flat_source`);
    their weights follow the operator's in ``W``, row by row.
    """
    names = _Names("F" if fused else "u")
    inner = [_sum(names, terms) for terms, _ in groups]
    columns = sorted({col for _, edges in groups for col, _ in edges})
    edge_exprs = {}
    for g, (_, edges) in enumerate(groups):
        for col, terms in edges:
            edge_exprs[(g, col)] = _sum(names, terms, col)
    lines = ["import numpy as np", "from numba import njit, prange", "", ""]
    opts = f"fastmath={_config.FASTMATH}, nogil=True"
    # a kernel taking the user's function cannot be cached (its type is
    # that function in this process)
    cache = "" if fused else f"cache={_config.CACHE}, "
    wargs = "".join(f", {w}" for w in names.weights)
    loads = "".join(f"    {w} = W[{m}]\n" for m, w in enumerate(names.weights)).rstrip("\n")
    if not fused:
        lines += _row_source(names, inner[0], columns, edge_exprs, ncoef, cache, opts, wargs,
                             loads)
    row_fns = []
    for m, ((base, off), (terms, edges)) in enumerate(rows):
        rn = _Names("u", prefix=f"r{m}")
        expr = _sum(rn, terms)
        exprs = {col: _sum(rn, t, col) for col, t in edges}
        lines += _op_functions(rn, expr, [c for c, _ in edges], exprs, ncoef, f"_r{m}", cache,
                               opts)
        row_fns.append((f"_r{m}", "j = " + ("n1 - " + str(-off) if base else str(off)), base,
                        "".join(f", {w}" for w in rn.weights), rn.weights))
    lines += _flat_source(names, inner, columns, edge_exprs, len(groups), ncoef, nfields,
                          nout, fused, cache, opts, wargs, loads, row_fns)
    return "\n".join(lines)


def _run_slices(names, flat):
    """The lines of a ``_run`` that view its `n` samples at each stencil
    point, as slices of the flattened input `flat` from the run's `start`
    (``V``, ``S0``, ``S1``: the strides of a field, a plane and a row)."""
    lines = []
    for (f, a, b, c), sname in names.slices.items():
        d = f"{f} * V + {a} * S0 + {b} * S1 + {c}"
        lines.append(f"    {sname} = {flat}[start + {d}:start + {d} + n]")
    return lines


def _op_functions(names, inner, columns, exprs, ncoef, suffix, cache, opts):
    """An operator's ``_run{suffix}`` (a contiguous run of points whose
    stencil is `inner`) and ``_edges{suffix}`` (the edge columns of a row,
    ``exprs[column]``)."""
    wargs = "".join(f", {w}" for w in names.weights)
    lines = [f"@njit({cache}{opts})",
             f"def _run{suffix}(uf, outf, cf, start, n, V, S0, S1{wargs}):"]
    lines += _run_slices(names, "uf")
    for c in range(ncoef):
        lines.append(f"    c{c} = cf[{c} * V + start:{c} * V + start + n]")
    lines += ["    os = outf[start:start + n]", "    for k in range(n):",
              f"        os[k] = {inner}", "", ""]
    lines += [f"@njit({cache}{opts})", f"def _edges{suffix}(u, out, coef, lo, i, j{wargs}):",
              "    n2 = out.shape[2]"]
    lines += [f"    out[i, j, {_index(*col)}] = {exprs[col]}" for col in columns]
    return lines + (["    pass"] if not columns else []) + ["", ""]


def _row_source(names, inner, columns, edge_exprs, ncoef, cache, opts, wargs, loads):
    head = "u, out, coef, lo, alpha, beta"
    lines = [f"@njit({cache}{opts})", f"def _row({head}, i, j, k0, k1{wargs}):",
             "    n2 = out.shape[2]", "    n = k1 - k0"]
    for (f, a, b, c), s in names.slices.items():
        lines.append(f"    {s} = u[{f}, i + {a}, j + {b}, k0 + {c}:k0 + {c} + n]")
    for c in range(ncoef):
        lines.append(f"    c{c} = coef[{c}, i + lo[0], j + lo[1], lo[2] + k0:lo[2] + k1]")
    lines += ["    os = out[i, j, k0:k1]", "    if beta == 0:",
              "        for k in range(n):", f"            os[k] = alpha * ({inner})"]
    for col in columns:
        lines.append(f"        out[i, j, {_index(*col)}] = alpha * ({edge_exprs[(0, col)]})")
    lines += ["    else:", "        for k in range(n):",
              f"            os[k] = alpha * ({inner}) + beta * os[k]"]
    for col in columns:
        k = _index(*col)
        lines.append(f"        out[i, j, {k}] = alpha * ({edge_exprs[(0, col)]}) "
                     f"+ beta * out[i, j, {k}]")
    lines += ["", ""]
    args = "u, out, W, coef, lo, alpha, beta"
    call = f"_row({head}, i0 + q // nj, j0 + q % nj, k0, k1{wargs})"
    for par in (False, True):
        lines += [f"@njit({'parallel=True, ' if par else ''}{cache}{opts})",
                  f"def interior_{'parallel' if par else 'serial'}({args}, i0, i1, j0, j1, k0, "
                  "k1):",
                  loads or "    pass",
                  "    nj = j1 - j0",
                  f"    for q in {'prange' if par else 'range'}((i1 - i0) * nj):",
                  f"        {call}", "", ""]
    return lines


def _flat_source(names, inner, columns, edge_exprs, nops, ncoef, nfields, nout, fused,
                 cache, opts, wargs, loads, row_fns=()):
    """``flat_serial`` / ``flat_parallel``: the interior rows ``j0:j1`` of
    each plane as contiguous runs of the flattened arrays, from column
    ``k0`` of a run's first row to ``k1`` of its last, so a C array of short
    rows is still one long vectorized loop (a call per 256-point row cost
    more than its arithmetic). A run also covers the edge columns of its
    inner rows, with values of no meaning, which ``_edges`` then writes.

    ``pieces <= j1 - j0``: the rows are cut into `pieces` blocks, and each
    block is swept through every plane in turn, its edge columns written
    right after its run, so the planes a 3-D stencil reads stay in cache
    from one plane to the next. Otherwise (fewer rows than work units: one
    long row per plane) each plane's run is cut into `pieces` by points and
    the edge columns follow in a second loop. Only for outputs of the
    input's shape written, not accumulated (``beta == 0``).

    An operator's edge rows of axis 1 in the planes ``i0:i1`` (`row_fns`:
    their own ``_run`` and ``_edges``) are written by the first and the last
    block as they pass each plane, or in a third loop: the table kernel
    wrote them 10 times slower per point than the interior (a 256^3
    Laplacian: 0.08x of np.copyto for 1.6% of the points)."""
    if fused:
        lines = [f"@njit({cache}{opts})",
                 f"def _run(Ff, Gf, fn, start, n, V, S0, S1{wargs}):"]
        lines += _run_slices(names, "Ff")
        for r in range(nout):
            lines.append(f"    gs{r} = Gf[{r} * V + start:{r} * V + start + n]")
        here = [f"{names.slice(f, 0, 0, 0)}[k]" for f in range(nfields)]
        lines.append("    for k in range(n):")
        lines += _store("fn(" + ", ".join(here + inner) + ")", nout, "        ",
                        lambda r: f"gs{r}[k]")
        # the edge columns of one row, as in _row
        lines += ["", "", f"@njit({cache}{opts})", f"def _edges(F, G, fn, i, j{wargs}):",
                  "    n2 = G.shape[3]"]
        for col in columns:
            k = _index(*col)
            at = [f"F[{f}, i, j, {k}]" for f in range(nfields)]
            call = "fn(" + ", ".join(at + [edge_exprs[(g, col)] for g in range(nops)]) + ")"
            lines += _store(call, nout, "    ", lambda r, k=k: f"G[{r}, i, j, {k}]")
        lines += (["    pass"] if not columns else []) + ["", ""]
        head, args, flat = "F, G, fn", "F, G, W, fn", "Ff, Gf, fn"
        prep = ["    Ff = F.ravel()", "    Gf = G.ravel()", "    n0, n1, n2 = G.shape[1:]"]
    else:
        lines = _op_functions(names, inner[0], columns, {c: edge_exprs[(0, c)] for c in columns},
                              ncoef, "", cache, opts)
        head, args, flat = "u, out, coef, lo", "u, out, W, coef, lo, alpha", "uf, outf, cf"
        prep = ["    uf = u.ravel()", "    outf = out.ravel()", "    cf = coef.ravel()",
                "    n0, n1, n2 = out.shape"]
        # alpha is folded into the weights (``out = alpha * op(u)``, one
        # multiplication less per point)
        every = list(names.weights) + [w for *_, ws in row_fns for w in ws]
        loads = "".join(f"    {w} = alpha * W[{m}]\n" for m, w in enumerate(every)).rstrip("\n")
    edges_call = f"_edges({head}, i, j{wargs})"
    run_call = f"_run({flat}, start, n, V, S0, S1{wargs})"

    def row(fn, indent):
        """The lines writing edge row `fn` of plane ``i``."""
        suffix, j, _, rargs, _ = fn
        return [f"{indent}{j}", f"{indent}start = (i * n1 + j) * n2 + k0",
                f"{indent}_run{suffix}({flat}, start, k1 - k0, V, S0, S1{rargs})",
                f"{indent}_edges{suffix}({head}, i, j{rargs})"]

    top = [ln for fn in row_fns if fn[2] == 0 for ln in row(fn, " " * 20)]
    bottom = [ln for fn in row_fns if fn[2] != 0 for ln in row(fn, " " * 20)]
    third = []
    for r, fn in enumerate(row_fns):
        third += [f"            {'if' if r == 0 else 'elif'} r == {r}:"] + row(fn, " " * 16)
    for par in (False, True):
        rng = "prange" if par else "range"
        lines += [f"@njit({'parallel=True, ' if par else ''}{cache}{opts})",
                  f"def flat_{'parallel' if par else 'serial'}({args}, i0, i1, j0, j1, k0, k1, "
                  "pieces):",
                  loads or "    pass"] + prep + [
                  "    V = n0 * n1 * n2",
                  "    S0 = n1 * n2",
                  "    S1 = n2",
                  "    nj = j1 - j0",
                  "    if pieces <= nj:",
                  f"        for p in {rng}(pieces):",
                  "            ja = j0 + p * nj // pieces",
                  "            jb = j0 + (p + 1) * nj // pieces",
                  "            n = (jb - 1 - ja) * n2 + k1 - k0",
                  "            for i in range(i0, i1):",
                  "                start = (i * n1 + ja) * n2 + k0",
                  f"                {run_call}",
                  "                for j in range(ja, jb):",
                  f"                    {edges_call}"] + (
                  ["                if p == 0:"] + top if top else []) + (
                  ["                if p == pieces - 1:"] + bottom if bottom else []) + [
                  "    else:",
                  "        span = (nj - 1) * n2 + k1 - k0",
                  f"        for q in {rng}((i1 - i0) * pieces):",
                  "            i = i0 + q // pieces",
                  "            p = q % pieces",
                  "            a = p * span // pieces",
                  "            b = (p + 1) * span // pieces",
                  "            start = (i * n1 + j0) * n2 + k0 + a",
                  "            n = b - a",
                  f"            {run_call}",
                  f"        for q in {rng}((i1 - i0) * nj):",
                  "            i = i0 + q // nj",
                  "            j = j0 + q % nj",
                  f"            {edges_call}"] + ([
                  f"        for q in {rng}((i1 - i0) * {len(row_fns)}):",
                  f"            i = i0 + q // {len(row_fns)}",
                  f"            r = q % {len(row_fns)}"] + third if row_fns else []) + [
                  "", ""]
    return lines

"""Centered differences of a flat loss at many coordinates: serial, batched,
or spread over an executor (threads, processes, or a Dask cluster).

Every path computes, for coordinate ``i`` with step ``h``::

    xp = x[i] + h;  xm = x[i] - h          # in the dtype of x
    d  = (loss(x with x[i] = xp) - loss(x with x[i] = xm)) / (xp - xm)

perturbing a private copy in place and restoring ``x[i]`` by assignment, so
no coordinate ever sees another's perturbation and the division is by the
realized step. The arithmetic is the same on every path, so a chunk computed
by a worker process is bit-for-bit the chunk computed locally (given a loss
that is itself deterministic).

Batched losses (``vectorized=True``) take a ``(k, n)`` array, one perturbed
point per row, and return ``k`` losses. One ``(rows, n)`` buffer is filled
with ``x`` once; each batch writes its perturbed entries, evaluates, and
writes ``x`` back into just those entries, so a batch costs O(rows) besides
the loss itself, not O(rows * n). Measured on the seed's MSE problem
(m = 64, n = 1e4): 128 rows per call gives about 3x the speed of one call
per point (see bench/bench_scale.py); the buffer is also capped at
``BATCH_BYTES``.

Executors: a ``concurrent.futures.Executor`` or a ``dask.distributed.Client``.
Coordinates are split into contiguous chunks; each task receives the loss, a
copy of ``x`` and its chunk, and returns that chunk's derivatives; results are
placed by chunk number, so the order never depends on completion order. A
failed task raises an error naming the chunk and its coordinate range.

On a real cluster (``pip install fastfd[dask]``; the loss must be importable
on the workers, e.g. a function in a module they have installed)::

    from dask.distributed import Client
    client = Client("tcp://scheduler-host:8786")
    result = check_gradient(mymodel.loss, params, grad, coords="all",
                            executor=client)

Only the per-coordinate stage is distributed; directional checks and
bisection are sequential by nature and run locally.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import pickle

import numpy as np

from ._params import (InputWriteError, LossEvaluationError, LossReturnError, _index_suffix,
                      call_loss, input_write_error, loss_error, readonly_alias, same_values)
from ..steps import check_precision
from .._validation import check_int, short_repr

__all__ = [
    "BATCH_BYTES", "BATCH_ROWS", "ChunkError", "WorkerMismatchError", "check_executor",
    "cross_check",
    "coordinate_differences", "coordinate_values", "evaluate_loss", "batched_losses",
    "StructuredLoss", "engine_values", "one_point",
]

BATCH_ROWS = 128
BATCH_BYTES = 64 * 2**20


class ChunkError(RuntimeError):
    """A task of a distributed check failed; names the chunk and its range."""


class WorkerMismatchError(RuntimeError):
    """The workers' losses differ from the loss evaluated in the calling process."""


# Coordinates of every executor run re-evaluated in the calling process
# (2 loss evaluations each, plus 2 more when one differs): a loss that reads
# state the workers lack (a module global set at run time) returns other
# values there, and a zero gradient would pass on the workers' zeros.
SPOT_CHECKS = 4

# A worker's loss value may differ from this process's by this many ulps of
# the loss precision times |f| (BLAS with another thread count sums in
# another order; the engine's roundoff bound allows the same 8 ulps).
CROSS_ULPS = 8.0


def _apart(a, b):
    """``|a - b|``, 0 where they are equal (also both infinite), inf where
    only one is NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a - b)
    d[a == b] = 0.0
    d[np.isnan(a) & np.isnan(b)] = 0.0
    d[np.isnan(a) != np.isnan(b)] = np.inf
    return d


def cross_check(loss, x0, index, xp, xm, fp, fm, pick, *, vectorized=False, name=None,
                batch_size=None, eps=None):
    """Re-evaluate coordinates ``index[pick]`` here and compare with the
    workers' ``fp``, ``fm``; returns the number of evaluations made.

    The same loss may round differently on a worker: Dask's nanny sets
    OMP/MKL/OPENBLAS_NUM_THREADS=1 there, and a BLAS reduction split over
    another number of threads adds in another order. A value is accepted
    within ``CROSS_ULPS * eps * |f|`` (`eps` of the loss precision, default
    that of ``x0``); a larger difference is re-measured with a second local
    evaluation and is an error (:class:`WorkerMismatchError`) unless it is
    also within 4x the local run-to-run difference (a non-deterministic
    loss). A loss the workers compute without some state (0 for ``f``, a
    missing term) differs by far more.
    """
    pick = np.asarray(pick, dtype=np.intp)
    if pick.size == 0:
        return 0
    sub = index[pick]
    if eps is None:
        eps, _ = check_precision(np.asarray(x0).dtype)

    def here():
        return coordinate_values(loss, np.array(x0, copy=True), sub, xp[pick], xm[pick],
                                 vectorized=vectorized, batch_size=batch_size, name=name)

    lp, lm = here()
    wp, wm = fp[pick], fm[pick]
    with np.errstate(invalid="ignore", over="ignore"):
        dp, dm = _apart(lp, wp), _apart(lm, wm)
        ap = CROSS_ULPS * eps * np.maximum(np.abs(lp), np.abs(wp))
        am = CROSS_ULPS * eps * np.maximum(np.abs(lm), np.abs(wm))
        nan = np.isinf(dp) | np.isinf(dm)
        if not (nan | (dp > ap) | (dm > am)).any():
            return 2 * sub.size
        lp2, lm2 = here()
        bad = nan | (dp > ap + 4.0 * _apart(lp2, lp)) | (dm > am + 4.0 * _apart(lm2, lm))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        i = int(sub[j])
        label = name(i) if name is not None else f"flat coordinate {i}"
        plus = bool(dp[j] - ap[j] >= dm[j] - am[j])
        worker, local = (float(wp[j]), float(lp[j])) if plus else (float(wm[j]), float(lm[j]))
        raise WorkerMismatchError(
            f"the workers compute a different loss than this process: at {label} "
            f"{'+' if plus else '-'} h a worker returned {worker!r}, this process "
            f"{local!r} ({int(bad.sum())} of {sub.size} coordinates re-evaluated here "
            "differ). The loss depends on state the workers do not have (a global set "
            "at run time, data loaded in this process only); make it self-contained, "
            "e.g. an instance of a module-level class that holds its data")
    return 4 * sub.size


def evaluate_loss(loss, x, where="at the given point", writeable=None, name=None, raw=False):
    """``loss(x)`` as a float, through the one conversion of every path
    (``fastfd.gradcheck._params.call_loss``): a TypeError when the loss returns anything
    but a real scalar, a LossEvaluationError naming `where` when it raises.
    With `raw`, ``(float, value as returned)``."""
    return call_loss(loss, x, where, writeable, name, raw)


def batched_losses(loss, points, native=False):
    """``loss(points)`` for a ``(k, n)`` batch, checked to be ``k`` reals
    (float64; with `native`, in the dtype the loss returned)."""
    k = points.shape[0]
    try:
        values = loss(points)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        raise loss_error(exc, f"on a batch of {k} points") from exc
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        raise TypeError(
            f"vectorized=True: loss must return real numbers, got dtype {arr.dtype}")
    if arr.shape != (k,):
        raise LossReturnError(
            f"vectorized=True: loss must return {k} values (one per row of its "
            f"{points.shape[0]}x{points.shape[1]} input, shape ({k},)), got "
            f"shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"vectorized=True: loss must return real numbers, got dtype {arr.dtype}")
    return arr if native else arr.astype(np.float64, copy=False)


def batch_rows(n, itemsize, batch_size=None):
    """Rows per batched call: ``batch_size`` (even, >= 2) or the default,
    capped so the buffer stays under ``BATCH_BYTES``."""
    rows = BATCH_ROWS if batch_size is None else batch_size
    cap = max(2, BATCH_BYTES // max(1, n * itemsize))
    rows = max(2, min(rows, cap))
    return rows - rows % 2


def _serial(loss, x, index, xp, xm, fp, fm, tick, name=None):
    # the loss sees a read-only alias of x: a write fails at the write
    ro = readonly_alias(x)
    if name is None:
        name = getattr(loss, "name", None)     # StructuredLoss
    label = name if name is not None else (lambda i: f"flat coordinate {i}")
    for j in range(index.size):
        i = index[j]
        xi = x[i]
        try:
            x[i] = xp[j]
            fp[j] = call_loss(loss, ro, f"at {label(i)} + h", x, name)
            x[i] = xm[j]
            fm[j] = call_loss(loss, ro, f"at {label(i)} - h", x, name)
        finally:
            x[i] = xi
        if tick is not None:
            tick(2)


def _batched(loss, x, index, xp, xm, fp, fm, rows, tick):
    half = rows // 2
    buf = np.empty((2 * min(half, index.size), x.size), dtype=x.dtype)
    buf[...] = x
    ro = readonly_alias(buf)
    for s in range(0, index.size, half):
        idx = index[s:s + half]
        m = idx.size
        r = np.arange(m)
        xi = x[idx]
        buf[r, idx] = xp[s:s + m]
        buf[m + r, idx] = xm[s:s + m]
        try:
            values = batched_losses(loss, ro[:2 * m])
        finally:
            buf[r, idx] = xi
            buf[m + r, idx] = xi
        fp[s:s + m] = values[:m]
        fm[s:s + m] = values[m:]
        if tick is not None:
            tick(2 * m)


def evaluate_chunk(loss, x, index, xp, xm, vectorized=False, rows=BATCH_ROWS):
    """``(f(x with x[i] = xp), f(x with x[i] = xm))`` for each ``i`` in
    ``index``, on a private copy of ``x`` (the body of one task)."""
    x0 = np.asarray(x)
    x = np.array(x0, copy=True)
    fp = np.empty(index.size, dtype=np.float64)
    fm = np.empty(index.size, dtype=np.float64)
    if vectorized:
        _batched(loss, x, index, xp, xm, fp, fm, rows, None)
    else:
        _serial(loss, x, index, xp, xm, fp, fm, None)
    _check_same(x, x0, getattr(loss, "name", None))
    return fp, fm


def _check_same(x, x0, name=None):
    """The worker's copy must equal the parameters it received (as the
    local engine compares its private copy); ``name(i)`` names flat
    coordinate ``i`` (``StructuredLoss.name``)."""
    i = same_values(x, x0)
    if i >= 0:
        label = name(i) if name is not None else f"flat coordinate {i}"
        raise input_write_error("", label, x0[i].item(), x[i].item())


def _is_dask_client(executor):
    mod = type(executor).__module__ or ""
    return mod.split(".")[0] == "distributed" and hasattr(executor, "scatter")


def check_executor(executor):
    """``executor`` must be None, a concurrent.futures.Executor or a Dask Client."""
    if executor is None or isinstance(executor, cf.Executor) or _is_dask_client(executor):
        return executor
    raise TypeError(
        "executor must be a concurrent.futures.Executor or a "
        f"dask.distributed.Client, got {type(executor).__name__}")


def _executor_workers(executor):
    if _is_dask_client(executor):
        try:
            return max(1, sum(w.get("nthreads", 1) for w in
                              executor.scheduler_info()["workers"].values()))
        except Exception:
            return 1
    return max(1, int(getattr(executor, "_max_workers", 1) or 1))


def _check_picklable(loss, executor):
    """Processes and Dask workers receive the loss pickled: fail early and
    say what to do, rather than deep inside the executor."""
    if isinstance(executor, cf.ThreadPoolExecutor):
        return
    if _is_dask_client(executor):
        import cloudpickle
        dumps = cloudpickle.dumps
    else:
        dumps = pickle.dumps
    try:
        dumps(loss)
    except Exception as exc:
        raise TypeError(
            f"loss cannot be pickled to send it to the executor "
            f"({type(executor).__name__}): {type(exc).__name__}: {exc}. Define "
            f"the loss as a module-level function (or an instance of a "
            f"module-level class) so worker processes can import it") from exc


def _chunks(n, executor, chunk_size):
    if chunk_size is None:
        # four chunks per worker balance uneven chunks without paying the
        # per-task transfer of x too often
        per = 4 * _executor_workers(executor)
        chunk_size = max(1, math.ceil(n / per))
    return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def blas_one_thread():
    """A context limiting BLAS to one thread while threads of our own (a
    thread pool running the loss, Numba's threads) run: a BLAS pool per
    thread oversubscribes the cores (with two threads on 2 cores a
    32x784 @ 784x64 product went from 55 µs median to 7.7 ms mean, measured
    under load). A null context without threadpoolctl (optional)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _dask_workers(client):
    try:
        return set(client.scheduler_info()["workers"])
    except Exception:
        return None


def _dask_deaths(client, before, exc):
    """Why a Dask task failed, when it is because workers died; else None.

    A worker that dies takes the broadcast copy of the parameters with it;
    tasks that needed it are then cancelled as "already forgotten", which
    says nothing about the cause: compare the workers with those at the
    start (a restarted worker has a new address).
    """
    try:
        from distributed import KilledWorker
    except ImportError:  # pragma: no cover - dask is optional
        KilledWorker = ()
    if isinstance(exc, KilledWorker):
        return "the Dask workers running it died, each time it was retried"
    now = _dask_workers(client)
    if before is None or now is None:
        return None
    gone = before - now
    if gone:
        return (f"{len(gone)} of the {len(before)} Dask workers died during the check "
                f"({', '.join(sorted(gone)[:4])})")
    return None


def _evaluate_on_executor(loss, x, index, xp, xm, vectorized, rows, executor, chunk_size,
                          tick):
    _check_picklable(loss, executor)
    threads = isinstance(executor, cf.ThreadPoolExecutor)
    with (blas_one_thread() if threads else contextlib.nullcontext()):
        return _gather(loss, x, index, xp, xm, vectorized, rows, executor, chunk_size, tick)


def _gather(loss, x, index, xp, xm, vectorized, rows, executor, chunk_size, tick):
    chunks = _chunks(index.size, executor, chunk_size)
    fp = np.empty(index.size, dtype=np.float64)
    fm = np.empty(index.size, dtype=np.float64)
    dask = _is_dask_client(executor)
    if dask:
        from distributed import as_completed
        before = _dask_workers(executor)
        x_remote = executor.scatter(x, broadcast=True, hash=False)
        futures = [executor.submit(evaluate_chunk, loss, x_remote, index[a:b], xp[a:b],
                                   xm[a:b], vectorized, rows, pure=False)
                   for a, b in chunks]
        waiter = as_completed(futures)
    else:
        futures = [executor.submit(evaluate_chunk, loss, x, index[a:b], xp[a:b], xm[a:b],
                                   vectorized, rows)
                   for a, b in chunks]
        waiter = cf.as_completed(futures)
    number = {id(f): k for k, f in enumerate(futures)}
    try:
        for fut in waiter:
            k = number[id(fut)]
            a, b = chunks[k]
            try:
                part = fut.result()
            except (LossEvaluationError, LossReturnError, InputWriteError) as exc:
                # the loss's own failure: the same error as on every other path
                raise type(exc)(
                    f"{exc} (chunk {k} of {len(chunks)} on the executor)") from exc.__cause__
            except Exception as exc:
                first, last = int(index[a]), int(index[b - 1])
                died = _dask_deaths(executor, before, exc) if dask else None
                if died:
                    raise ChunkError(
                        f"chunk {k} of {len(chunks)} (coordinates {first}..{last}) was lost: "
                        f"{died}. A worker process ended while it evaluated the loss (out "
                        f"of memory, a crash in compiled code, or an exit in the loss); "
                        f"Dask reported {type(exc).__name__}: {exc}") from exc
                raise ChunkError(
                    f"chunk {k} of {len(chunks)} (coordinates {first}..{last}, "
                    f"{b - a} of them) failed on the executor: "
                    f"{type(exc).__name__}: {exc}") from exc
            try:
                part_p, part_m = (np.asarray(q, dtype=np.float64) for q in part)
            except (TypeError, ValueError):
                part_p = part_m = np.empty(0)
            if part_p.shape != (b - a,) or part_m.shape != (b - a,):
                raise ChunkError(
                    f"chunk {k} of {len(chunks)} (coordinates {int(index[a])}.."
                    f"{int(index[b - 1])}) returned {short_repr(part, 60)}, expected two "
                    f"arrays of {b - a} losses")
            fp[a:b] = part_p
            fm[a:b] = part_m
            if tick is not None:
                tick(2 * (b - a))
    finally:
        for fut in futures:
            fut.cancel()
    return fp, fm


def coordinate_values(loss, x, index, xp, xm, *, vectorized=False, batch_size=None,
                      executor=None, chunk_size=None, tick=None, name=None):
    """Losses with coordinate ``index[j]`` set to ``xp[j]`` and to ``xm[j]``.

    The building block of :func:`coordinate_differences` (same parameters,
    with the perturbed values ``xp``, ``xm`` in the dtype of ``x`` instead of
    steps). Returns ``(fp, fm)``, float64 arrays. ``name(i)`` names flat
    coordinate ``i`` in errors of the local paths.
    """
    index = np.asarray(index, dtype=np.intp)
    xp = np.asarray(xp, dtype=x.dtype)
    xm = np.asarray(xm, dtype=x.dtype)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=2)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    rows = batch_rows(x.size, x.dtype.itemsize, batch_size)
    if index.size == 0:
        return np.empty(0), np.empty(0)
    if executor is not None:
        return _evaluate_on_executor(loss, x, index, xp, xm, vectorized, rows, executor,
                                     chunk_size, tick)
    fp = np.empty(index.size, dtype=np.float64)
    fm = np.empty(index.size, dtype=np.float64)
    if vectorized:
        _batched(loss, x, index, xp, xm, fp, fm, rows, tick)
    else:
        _serial(loss, x, index, xp, xm, fp, fm, tick, name)
    return fp, fm


def coordinate_differences(loss, x, index, steps, *, vectorized=False, batch_size=None,
                           executor=None, chunk_size=None, tick=None):
    """Centered differences of ``loss`` at coordinates ``index`` of flat ``x``.

    Parameters
    ----------
    loss : callable
        ``loss(x) -> float`` for a flat ``x``; with ``vectorized=True``,
        ``loss(P) -> (k,)`` for a ``(k, n)`` array of points.
    x : ndarray, 1-D
        The point. Used as scratch (perturbed and restored) on the serial
        path; pass a private copy.
    index : ndarray of intp
        Flat coordinates to differentiate.
    steps : ndarray
        One step per coordinate, in the dtype of ``x``.
    vectorized : bool
        Evaluate perturbations in batches of ``batch_size`` rows.
    executor : Executor or dask.distributed.Client, optional
        Spread chunks of coordinates over workers.
    chunk_size : int, optional
        Coordinates per task (default: four tasks per worker).
    tick : callable, optional
        Called with the number of loss evaluations done, for progress.

    Returns
    -------
    ndarray of float64
        ``(loss(x + h e_i) - loss(x - h e_i)) / ((x_i + h) - (x_i - h))``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck._executor import coordinate_differences
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> d = coordinate_differences(lambda p: float(np.sum(p**2)), x.copy(),
    ...                            np.arange(3), np.full(3, 1e-5))
    >>> np.allclose(d, 2 * x)
    True
    """
    index = np.asarray(index, dtype=np.intp)
    steps = np.asarray(steps, dtype=x.dtype)
    xi = x[index]
    xp = xi + steps
    xm = xi - steps
    fp, fm = coordinate_values(loss, x, index, xp, xm, vectorized=vectorized,
                               batch_size=batch_size, executor=executor,
                               chunk_size=chunk_size, tick=tick)
    return (fp - fm) / (xp - xm).astype(np.float64)


class StructuredLoss:
    """The user's loss on a flat vector (or a ``(k, n)`` batch of them).

    Holds only the loss and the layout, so it pickles as cheaply as the loss
    itself when sent to worker processes.
    """

    def __init__(self, loss, blocks, kind, keys, batched=False):
        self.loss = loss
        self.blocks = tuple(blocks)
        self.kind = kind
        self.keys = keys
        self.batched = batched

    def name(self, i):
        """Readable name of flat coordinate `i` (as ``FlatProblem.name``)."""
        i = int(i)
        for label, a, b, shape in self.blocks:
            if a <= i < b:
                return label + _index_suffix(np.unravel_index(i - a, shape) if shape else (),
                                             shape)
        raise IndexError(f"coordinate {i} is out of range")

    def __call__(self, x):
        lead = x.shape[:1] if self.batched else ()
        parts = [x[..., a:b].reshape(lead + tuple(shape)) for _, a, b, shape in self.blocks]
        if self.kind == "array":
            return self.loss(parts[0])
        if self.kind == "dict":
            return self.loss(dict(zip(self.keys, parts)))
        return self.loss(tuple(parts) if self.kind == "tuple" else parts)


def one_point(loss, kind):
    """The loss of one point in the user's structure (`kind` "array", "dict",
    "list" or "tuple") from a vectorized `loss`: a batch of one row."""
    def single(params):
        if kind == "array":
            batch = params[None]
        elif kind == "dict":
            batch = {k: v[None] for k, v in params.items()}
        else:
            seq = [v[None] for v in params]
            batch = tuple(seq) if kind == "tuple" else seq
        values = np.asarray(loss(batch))
        if values.shape != (1,):
            raise LossReturnError(
                f"vectorized=True: loss must return 1 value for a batch of 1 (shape "
                f"(1,)), got shape {values.shape}")
        # the NumPy scalar, not float(): its dtype is the loss precision
        return values[0]
    return single


def engine_values(flat, x0, vectorized, executor):
    """The per-coordinate engine's (fp, fm) evaluator
    (``fastfd.gradcheck._engine.check_coordinates(values=...)``), batched
    and/or on an executor.

    On an executor, :data:`SPOT_CHECKS` coordinates of every run (drawn at
    random) are re-evaluated in this process and must give the workers'
    values; ``values.recheck(prob, index)`` does the same for chosen
    coordinates (the failing ones) after the run.
    """

    seen = {}

    def values(ctx, idx, xp, xm, use_jit, parallel, bar, label):
        x = np.array(x0, copy=True)
        local = executor is None
        fp, fm = coordinate_values(flat, x, idx, xp, xm, vectorized=vectorized,
                                   executor=executor,
                                   tick=bar.update, name=ctx.prob.name if local else None)
        ctx.n_evals += 2 * idx.size
        if not local:
            rng = np.random.default_rng(np.random.SeedSequence(
                [int(idx.size), int(idx[0]), int(idx[-1])]))
            pick = np.sort(rng.choice(idx.size, size=min(SPOT_CHECKS, idx.size),
                                      replace=False))
            seen["eps"] = ctx.eps
            ctx.n_evals += cross_check(flat, x0, idx, xp, xm, fp, fm, pick,
                                       vectorized=vectorized, name=ctx.prob.name,
                                       eps=ctx.eps)
            if label == "h":
                seen.update(zip(idx.tolist(), zip(xp.tolist(), xm.tolist(),
                                                  fp.tolist(), fm.tolist())))
        return fp, fm

    def recheck(prob, index, limit=32):
        """Re-evaluate `index` (at most `limit` of them) here; evaluations made."""
        eps = seen.get("eps")
        index = [i for i in np.asarray(index).tolist() if i in seen][:limit]
        if executor is None or not index:
            return 0
        xp, xm, fp, fm = (np.array(c) for c in zip(*(seen[i] for i in index)))
        sub = np.array(index, dtype=np.intp)
        return cross_check(flat, x0, sub, xp.astype(x0.dtype), xm.astype(x0.dtype), fp, fm,
                           np.arange(sub.size), vectorized=vectorized, name=prob.name,
                           eps=eps)

    values.recheck = recheck
    return values

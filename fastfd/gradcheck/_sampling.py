"""Which coordinates a large gradient check samples, and engine runs in
chunks against a deadline.

Stratified sampling
-------------------
``coords=m`` draws ``m`` coordinates stratified over tensors: every tensor
gets ``min(size, 16)``, the rest is shared in proportion to size (largest
remainders first), and within each tensor a quarter of its share (at least
one) goes to its largest-``|g|`` coordinates, the rest drawn uniformly from
the others. So a 10-element bias is never skipped, the large matrices get
most of the sample, and the coordinates that matter most to training are
always checked. Reproducible: everything comes from the generator passed in.

Chunked runs
------------
:func:`check_in_chunks` runs the engine on a sample in interleaved chunks
until a deadline, each chunk sized from the time left and the rate measured
on the one before, so a check cut short is still a stratified sample;
:func:`check_sample` first runs the stratified minimum, whatever the clock
says. The planner (``fastfd.gradcheck._planner``) decides what to sample and
when to stop.
"""

from __future__ import annotations

import time

import numpy as np

from ._engine import _norm, check_coordinates
from ._result import GradCheckResult

__all__ = ["MIN_PER_TENSOR", "stratified_sample", "check_sample", "check_in_chunks",
           "merge_results"]

MIN_PER_TENSOR = 16
TOP_FRACTION = 0.25
# Chunked runs start at MIN_CHUNK coordinates and grow at most CHUNK_GROWTH
# times per chunk, each using at most LEFT_SHARE of the time left (see
# check_in_chunks).
MIN_CHUNK = 64
CHUNK_GROWTH = 4
LEFT_SHARE = 0.5


def _allocate(sizes, count, minimum):
    """Per-tensor counts: ``min(size, minimum)`` each, the rest by size."""
    sizes = np.asarray(sizes, dtype=np.int64)
    base = np.minimum(sizes, minimum)
    if base.sum() > count:
        # fewer than the minimums: fill evenly up to them (water-filling)
        cap, base, left = base, np.zeros_like(base), count
        while left > 0:
            room = np.flatnonzero(base < cap)
            add = max(1, left // room.size)
            for k in room:
                step = min(add, cap[k] - base[k], left)
                base[k] += step
                left -= step
                if left == 0:
                    break
        return base
    rest = count - int(base.sum())
    room = sizes - base
    if rest <= 0 or room.sum() == 0:
        return base
    share = room / room.sum() * rest
    extra = np.minimum(np.floor(share).astype(np.int64), room)
    left = rest - int(extra.sum())
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for k in order:
        if left <= 0:
            break
        if extra[k] < room[k]:
            extra[k] += 1
            left -= 1
    return base + extra


def stratified_sample(blocks, g, count, rng, *, minimum=MIN_PER_TENSOR):
    """Sorted flat indices of a stratified sample of ``count`` coordinates.

    Parameters
    ----------
    blocks : sequence of (name, start, stop, shape)
        The tensors, as contiguous ranges of the flat vector.
    g : ndarray
        Flat analytic gradient (its largest ``|g|`` per tensor are included).
    count : int
        Coordinates wanted (all of them when ``count`` >= the total).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of intp

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck._sampling import stratified_sample
    >>> blocks = [("W", 0, 1000, (1000,)), ("b", 1000, 1010, (10,))]
    >>> g = np.linspace(-1, 1, 1010)
    >>> idx = stratified_sample(blocks, g, 100, np.random.default_rng(0))
    >>> idx.size, int((idx >= 1000).sum())   # the bias gets all of its 10
    (100, 10)
    """
    sizes = [b - a for _, a, b, _ in blocks]
    total = sum(sizes)
    if count >= total:
        return np.arange(total, dtype=np.intp)
    counts = _allocate(sizes, count, minimum)
    parts = []
    for (_, a, b, _), c in zip(blocks, counts):
        c = int(c)
        size = b - a
        if c <= 0:
            continue
        if c >= size:
            parts.append(np.arange(a, b, dtype=np.intp))
            continue
        n_top = max(1, int(c * TOP_FRACTION))
        # A NaN gradient entry ranks first: argpartition would put -NaN last.
        mag = np.abs(g[a:b])
        mag[np.isnan(mag)] = np.inf
        top = np.argpartition(-mag, n_top - 1)[:n_top]
        mask = np.ones(size, dtype=bool)
        mask[top] = False
        others = np.flatnonzero(mask)
        drawn = rng.choice(others, size=c - n_top, replace=False)
        parts.append(a + np.concatenate([top, drawn]).astype(np.intp))
    idx = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    idx.sort()
    return idx


def _interleaved(index, starts):
    """An order of ``index`` visiting tensors in proportion to their share,
    so that a sample cut short stays stratified."""
    tensor = np.searchsorted(starts, index, side="right") - 1
    rank = np.empty(index.size)
    for t in np.unique(tensor):
        where = np.flatnonzero(tensor == t)
        rank[where] = (np.arange(where.size) + 0.5) / where.size
    return np.argsort(rank, kind="stable")


def merge_results(prob, parts, elapsed):
    """One engine result from the results of consecutive chunks."""
    order = np.argsort(np.concatenate([r.index for r in parts]), kind="stable")
    cat = lambda name: np.concatenate([getattr(r, name) for r in parts])[order]  # noqa: E731
    num, ana = cat("numerical"), cat("analytical")
    with np.errstate(invalid="ignore", over="ignore"):
        rel = _norm(ana - num) / (_norm(ana) + _norm(num) + 1e-15)
    first = parts[0]
    return GradCheckResult(
        prob, idx=cat("index"), numerical=num, analytical=ana, abs_errors=cat("abs_errors"),
        rel_errors=cat("rel_errors"), noise=cat("noise"), steps=cat("steps"),
        verdict_codes=cat("_codes"), rel_error=rel, tol=first.tol, dtype=first.dtype,
        n_evals=sum(r.n_evals for r in parts), elapsed=elapsed, f0=first.loss_value,
        nondeterminism=max(r.nondeterminism for r in parts), method=first.method,
        scales=cat("scales"))


def _split_minimum(idx, prob, minimum=MIN_PER_TENSOR):
    """``(must, rest)`` of a sample: per tensor, its ``min(count, minimum)``
    sampled coordinates of largest ``|g|`` (the stratified minimum), and the
    others."""
    blk = prob.block_of(idx)
    mag = np.abs(prob.g[idx])
    mag[np.isnan(mag)] = np.inf
    must = np.zeros(idx.size, dtype=bool)
    for b in np.unique(blk):
        where = np.flatnonzero(blk == b)
        must[where[np.argsort(-mag[where], kind="stable")[:minimum]]] = True
    return idx[must], idx[~must]


def check_sample(prob, loss, idx, h, tol, parallel, progress, values, deadline, *,
                 chunk=None, ctx=None, chunk_seconds=None, per_coord=None):
    """:func:`check_in_chunks`, after the stratified minimum of the sample
    (every tensor ``min(size, 16)``), which runs whatever the clock says: a
    sample cut at the deadline after its first interleaved chunk can leave a
    small tensor (a bias) with none of its coordinates."""
    t0 = time.perf_counter()
    must, rest = _split_minimum(idx, prob)
    first_chunk = max(MIN_CHUNK, idx.size // 16) if chunk is None else chunk
    order = _interleaved(idx, np.array([b[1] for b in prob.blocks], dtype=np.intp))
    nb = len(prob.blocks)
    have = np.bincount(prob.block_of(idx[order[:first_chunk]]), minlength=nb)
    if (have >= np.bincount(prob.block_of(must), minlength=nb)).all():
        # the first interleaved chunk holds the minimum already
        done = check_in_chunks(prob, loss, idx, h, tol, parallel, progress, values,
                               deadline, chunk=chunk, ctx=ctx,
                               chunk_seconds=chunk_seconds, per_coord=per_coord)
        if done is None:
            return check_coordinates(prob, loss, must, h, tol, parallel, progress,
                                     values=values, ctx=ctx)
        # a deadline passed before the first chunk finished can leave a
        # tensor below its minimum: complete it from `must`
        got = np.bincount(prob.block_of(done.index), minlength=nb)
        short = got < np.bincount(prob.block_of(must), minlength=nb)
        if not short.any():
            return done
        missing = must[short[prob.block_of(must)] & ~np.isin(must, done.index)]
        extra = check_coordinates(prob, loss, missing, h, tol, parallel, progress,
                                  values=values)
        return merge_results(prob, [done, extra], time.perf_counter() - t0)
    t_must = time.perf_counter()
    first = check_coordinates(prob, loss, must, h, tol, parallel, progress, values=values,
                              ctx=ctx)
    t_must = time.perf_counter() - t_must
    more = (check_in_chunks(prob, loss, rest, h, tol, parallel, progress, values, deadline,
                            chunk=chunk, chunk_seconds=chunk_seconds,
                            per_coord=t_must / max(must.size, 1)) if rest.size else None)
    if more is None:
        return first
    return merge_results(prob, [first, more], time.perf_counter() - t0)


def check_in_chunks(prob, loss, idx, h, tol, parallel, progress, values, deadline, *,
                    chunk=None, ctx=None, chunk_seconds=None, per_coord=None):
    """The engine on a sample, in chunks, until ``deadline``.

    The loss can slow down during the run (another process takes the
    cores, a cache fills, a data loader stalls): the clock is read between
    chunks, and each chunk is sized from the time left and the seconds per
    coordinate measured on the chunk before it (``per_coord`` for the first
    one, when known) to use at most half of the time left, so the check
    ends near the deadline even when the loss is now 1000x slower than when
    it was timed. Chunks start at ``chunk``
    coordinates (default ``max(64, size / 16)``) and grow at most
    ``CHUNK_GROWTH`` times per chunk, and, with ``chunk_seconds``, to about
    that many seconds: every engine run costs three evaluations at the
    unperturbed point and re-enters the thread pool and BLAS's thread limit
    (a jitted MSE check, n = 1e4, in 5 chunks of 2048 took 1.25x the time of
    one run; measured). Chunks in interleaved order keep a sample cut short
    stratified. Returns None when the deadline has passed before the first
    chunk.
    """
    t0 = time.perf_counter()
    order = _interleaved(idx, np.array([b[1] for b in prob.blocks], dtype=np.intp))
    size = float(max(MIN_CHUNK, idx.size // 16) if chunk is None else chunk)
    parts = []
    lo = 0
    now = t0
    while lo < idx.size:
        left = deadline - now
        if not left > 0:
            break
        # in floats, clamped before int(): a budget of 1e308 s over a
        # per-coordinate time of 1e-9 s is no count
        k = min(size, float(idx.size - lo))
        if per_coord is not None and per_coord > 0:
            # half of the time left: a rate measured on the chunk before can
            # be wrong for this one (stalls, a slowdown); re-measured, the
            # chunks close in on the deadline
            k = min(k, max(1.0, LEFT_SHARE * left / per_coord))
        k = int(k)
        part = np.sort(idx[order[lo:lo + k]])
        parts.append(check_coordinates(prob, loss, part, h, tol, parallel, progress,
                                       values=values,
                                       ctx=ctx if lo == 0 else None))
        lo += part.size
        after = time.perf_counter()
        t_part = after - now
        now = after
        if t_part > 0:
            per_coord = t_part / part.size
        size = CHUNK_GROWTH * part.size
        if chunk_seconds is not None and per_coord:
            size = min(size, max(float(MIN_CHUNK), chunk_seconds / per_coord))
    if len(parts) <= 1:
        return parts[0] if parts else None
    return merge_results(prob, parts, time.perf_counter() - t0)

"""Per-coordinate central values of a jitted loss: perturb in place, evaluate, restore.

For each checked coordinate ``k`` (flat index ``idx[k]``) the drivers store
``fp[k] = f(x with x[idx[k]] = xp[k])`` and ``fm[k] = f(x with x[idx[k]] =
xm[k])``. The perturbed values ``xp``/``xm`` are rounded to the dtype of ``x``
by the caller, so the realized steps are known exactly before the kernel runs.
The coordinate is restored by assigning the saved value, never by subtracting
the step (``(x + h) - h`` is not ``x`` in floating point).

These kernels take the user's jitted loss as an argument, so they are not
disk-cached (Numba cannot cache a function with a dynamic global): each new
loss compiles them once per process.
"""

from numba import njit, prange

from .. import _config as config


@njit(fastmath=config.FASTMATH)
def central_chunk(f, x0, idx, xp, xm, fp, fm, lo, hi):
    """Fill ``fp[lo:hi]``, ``fm[lo:hi]`` on a private copy of ``x0``.

    Returns -1, or the first flat index where the copy differs from ``x0``
    (the loss modified its input; NaN equals NaN here). Besides the
    comparison after the chunk, each coordinate is compared before it is
    perturbed and after each evaluation (O(1) each): the restore by
    assignment would otherwise erase a write to a coordinate perturbed later.
    """
    x = x0.copy()
    for k in range(lo, hi):
        i = idx[k]
        if x[i] != x0[i] and not (x[i] != x[i] and x0[i] != x0[i]):
            return i
        x[i] = xp[k]
        fp[k] = f(x)
        if x[i] != xp[k]:
            return i
        x[i] = xm[k]
        fm[k] = f(x)
        if x[i] != xm[k]:
            return i
        x[i] = x0[i]
    for j in range(x.size):
        a = x[j]
        b = x0[j]
        if a != b and not (a != a and b != b):
            return j
    return -1


@njit(parallel=True, fastmath=config.FASTMATH)
def central_values_parallel(f, x0, idx, xp, xm, fp, fm, changed):
    """One chunk of coordinates per entry of ``changed``.

    Each chunk works on its own copy of ``x0``: threads never share the
    vector they perturb, so results equal the serial driver bit for bit
    whatever the chunking and scheduling.
    """
    m = idx.size
    nchunks = changed.size
    for c in prange(nchunks):
        lo = c * m // nchunks
        hi = (c + 1) * m // nchunks
        changed[c] = central_chunk(f, x0, idx, xp, xm, fp, fm, lo, hi)


@njit(fastmath=config.FASTMATH)
def central_values_serial(f, x0, idx, xp, xm, fp, fm, changed):
    """Serial twin of :func:`central_values_parallel` (same chunking, same results)."""
    m = idx.size
    nchunks = changed.size
    for c in range(nchunks):
        lo = c * m // nchunks
        hi = (c + 1) * m // nchunks
        changed[c] = central_chunk(f, x0, idx, xp, xm, fp, fm, lo, hi)

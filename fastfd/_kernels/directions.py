"""Single-pass loops of the directional checks (see fastfd/gradcheck/_directions.py)."""

from numba import njit

from .. import _config as config


# A block of a million coordinates is perturbed four times per
# check: NumPy temporaries (seg + t*v, xp - xm, astype, dot) cost 45-85 ms
# per check at n = 1e6 here, more than the loss of the 1M-parameter MLP;
# these single-pass loops read the unperturbed point from ``base`` (the
# caller's read-only copy), so nothing is copied or allocated.

@njit(cache=config.CACHE)
def sum_squares(a):
    acc = 0.0
    for i in range(a.size):
        acc += float(a[i]) * float(a[i])
    return acc


@njit(cache=config.CACHE)
def shift(out, base, v, t):
    """out = base + t*v (t has the dtype of base: float32 stays float32)."""
    for i in range(out.size):
        out[i] = base[i] + t * v[i]


@njit(cache=config.CACHE)
def realized_dots(g, base, v, t1, t2):
    """g . ((base + t v) - (base - t v)) for t1 and t2: the analytic change
    over the displacement really evaluated."""
    acc1 = 0.0
    acc2 = 0.0
    for i in range(g.size):
        b = base[i]
        w = v[i]
        acc1 += g[i] * float((b + t1 * w) - (b - t1 * w))
        acc2 += g[i] * float((b + t2 * w) - (b - t2 * w))
    return acc1, acc2

"""The projection loop of the vector checks (see fastfd/gradcheck/_vector.py)."""

from numba import njit

from .. import _config as config


# One pass instead of NumPy's six (difference, product, sum, mask, masked
# maximum, sum): 19.5 ms against 9.4 ms per evaluation of sin on 1e6 outputs,
# of which 8.5 ms is the sin itself (measured here).
@njit(cache=config.CACHE)
def projection(y, y0, w):
    """``(w . (y - y0), sum of |w_i| max(|y_i|, |y0_i|) over the i where y_i != y0_i)``.

    Outputs equal to their unperturbed value add nothing to either sum: they
    cancel exactly in every difference of two projections. A NaN output
    makes the value NaN.
    """
    value = 0.0
    mag = 0.0
    for i in range(y.size):
        d = y[i] - y0[i]
        if d != 0.0:
            value += w[i] * d
            mag += abs(w[i]) * max(abs(y[i]), abs(y0[i]))
    return value, mag

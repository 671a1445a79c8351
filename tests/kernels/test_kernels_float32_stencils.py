"""kernels.apply_stencil with float32 weights of high-order one-sided
stencils: the edges are as accurate as the interior."""

import math

import numpy as np
import pytest


@pytest.mark.parametrize("order, accuracy, scheme", [
    (4, 7, "forward"), (5, 5, "backward"), (6, 4, "forward"), (4, 8, "backward")])
def test_apply_stencil_one_sided_reads_float32_weights_right(order, accuracy, scheme):
    # float32 weights of these stencils have M_order only ~3e-6 of its scale,
    # below a 1e-5 moment threshold, which would read them as an 11th (or
    # 13th) derivative; the edges must be as accurate as the interior those
    # float32 weights give.
    import fastfd
    from fastfd import kernels
    from fastfd._kernels.simple import stencil_moments
    h = 0.25
    offsets, weights = fastfd.stencil(order, accuracy, scheme)
    w64 = weights / h ** order
    w32 = w64.astype(np.float32)
    d, p, scale = stencil_moments(offsets, w32)
    assert (d, p) == (order, accuracy)
    assert abs(scale * h ** order - 1) < 1e-2
    # u = x**order / order! on x centred at 0: the derivative is 1 everywhere
    x = (np.arange(24) - 11.5) * h
    u = x ** order / math.factorial(order)
    got = np.full_like(u, np.nan)
    kernels.apply_stencil(u, offsets, w32, got, kernels.ONE_SIDED)
    lo, hi = -min(offsets), 24 - max(offsets)
    interior = np.abs(got[lo:hi] - 1).max()
    edges = np.abs(np.r_[got[:lo], got[hi:]] - 1).max()
    assert edges < 1e-2 + 10 * interior

"""Scales of gradient entries (RMS and 2-norm) that neither overflow nor
underflow.

A float64 gradient entry above about 1.3e154 squares to inf: an RMS computed
as ``sqrt(mean(g * g))`` is then inf, and so is every tolerance scaled by it,
which would pass any discrepancy. In the ordinary range the plain formula is
used (its bits are what the tolerance model was measured with); outside it
the entries are divided by the largest one first.
"""

from __future__ import annotations

import math

import numpy as np

# |g| beyond which g * g leaves float64's normal range
_BIG = 1e150
_SMALL = 1e-150


def _scaled(g):
    m = float(np.max(np.abs(g)))
    if m == 0.0 or _SMALL < m < _BIG:
        return None
    return m, g / m


def rms(g):
    """RMS of the finite entries of `g` (0.0 when there are none)."""
    g = np.asarray(g, dtype=np.float64)
    g = g[np.isfinite(g)]
    if not g.size:
        return 0.0
    s = _scaled(g)
    if s is None:
        return math.sqrt(float(np.mean(g * g)))
    return s[0] * math.sqrt(float(np.mean(s[1] * s[1])))


def norm(g, sum_squares):
    """2-norm of `g` from ``sum_squares(g)``, the compiled sum used in the
    ordinary range (and when an entry is not finite: inf or nan)."""
    g = np.asarray(g)
    g64 = np.asarray(g, dtype=np.float64)
    s = _scaled(g64) if g.size and np.isfinite(g64).all() else None
    if s is None:
        return math.sqrt(sum_squares(g))
    return s[0] * math.sqrt(float(np.sum(s[1] * s[1])))

"""out= next to u: disjoint interleaved views are accepted, views that
share elements are refused."""

import numpy as np
import pytest

from fastfd import grid


def test_disjoint_interleaved_out_is_accepted():
    # np.may_share_memory compares address ranges only: out=z.imag for
    # u=z.real interleaves with u but shares no element
    x = np.linspace(0.0, 1.0, 12)
    z = np.exp(1j * x)
    re = z.real.copy()
    got = grid.derivative(z.real, dx=x[1], out=z.imag)
    assert got is not None
    np.testing.assert_array_equal(z.imag, grid.derivative(re, dx=x[1]))
    np.testing.assert_array_equal(z.real, re)  # input untouched
    b = np.arange(48.0) ** 2
    u = b[0::2].reshape(4, 6)
    ref = grid.laplacian(u.copy())
    out = b[1::2].reshape(4, 6)
    assert grid.laplacian(u, out=out) is out
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(b[0::2], np.arange(0, 48, 2.0) ** 2)


def test_really_overlapping_out_is_still_refused():
    b = np.arange(42.0)
    with pytest.raises(ValueError, match="out overlaps the input array"):
        grid.derivative(b[0:40:2], out=b[2:42:2])
    c = np.arange(30.0)
    with pytest.raises(ValueError, match="out overlaps the input array"):
        grid.laplacian(c[:20].reshape(4, 5), out=c[10:30].reshape(4, 5))

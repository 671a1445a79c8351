"""Bad input to the grid API that used to slip through: masked arrays, a
mapping or set as per-axis spacing, and out-of-range axes (AxisError)."""

import numpy as np
import pytest

from fastfd import grid

AxisError = getattr(np, "exceptions", np).AxisError


@pytest.mark.parametrize("dx", [{0: 1.0, 1: 1.0}, {1.0, 2.0}, frozenset({1.0, 2.0}),
                                {0: 1.0, 1: 2.0}.values(), (h for h in (1.0, 2.0))])
def test_laplacian_dx_must_be_a_sequence(dx):
    u = np.ones((5, 5))
    with pytest.raises(TypeError, match=r"dx must be a positive number or a sequence with one "
                                        r"spacing per axis, got a \w+"):
        grid.laplacian(u, dx=dx)


def test_laplacian_dx_sequences_still_work():
    x = np.arange(6.0)
    u = x[:, None] ** 2 + x[None, :] ** 2
    for dx in ([1.0, 1.0], (1.0, 1.0), np.array([1.0, 1.0]), [1, 1]):
        np.testing.assert_allclose(grid.laplacian(u, dx=dx), 4.0, rtol=1e-12)


@pytest.mark.parametrize("call, axis", [
    (lambda a: grid.gradient(a, axis=3), 3),
    (lambda a: grid.gradient(a, axis=(0, -4)), -4),
    (lambda a: grid.derivative(a, axis=3), 3),
    (lambda a: grid.derivative(a, axis=-4), -4),
    (lambda a: grid.centered_diff(a, axis=5), 5),
    (lambda a: grid.second_diff(a, axis=3), 3),
])
def test_out_of_range_axis_raises_axis_error(call, axis):
    a = np.ones((5, 5, 5))
    with pytest.raises(AxisError, match=rf"axis={axis} is out of range for an array with 3 "
                                        rf"dimension\(s\)"):
        call(a)
    # AxisError is both a ValueError and an IndexError, as in NumPy
    with pytest.raises(ValueError):
        call(a)
    with pytest.raises(IndexError):
        call(a)

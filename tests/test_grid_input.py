"""Bad input to the grid API that used to slip through: masked arrays, a
mapping or set as per-axis spacing, and out-of-range axes (AxisError)."""

import numpy as np
import pytest

from fastfd import grid

AxisError = getattr(np, "exceptions", np).AxisError

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

"""stencil_weights on offsets so close that the exact weights overflow,
and so far apart that they round to zero."""

import numpy as np
import pytest


def test_stencil_weights_overflowing_is_a_value_error():
    # exact weights ~1e600 overflow float64
    import fastfd
    with pytest.raises(ValueError, match=r"offsets are too close together for "
                                         r"order=2: .*\[0\.0, 1e-300, 2e-300\]"):
        fastfd.stencil_weights(2, [0, 1e-300, 2e-300])
    np.testing.assert_array_equal(fastfd.stencil_weights(2, [0, 1e300, 2e300]), 0.0)

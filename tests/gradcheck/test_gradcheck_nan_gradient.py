"""A NaN in the analytic gradient is found by a sampled check."""

import numpy as np
import pytest

from fastfd import gradcheck


def _sq(p):
    return float(np.sum(p * p))


@pytest.mark.parametrize("seed", range(5))
def test_sampled_check_never_skips_a_nan_analytical_gradient(seed):
    # A NaN in the hand-written gradient is a wrong gradient; the stratified
    # sample always includes the largest-|gradient| entries, and NaN must rank
    # among them rather than be dropped by argpartition.
    w = np.random.default_rng(1).standard_normal(500)
    g = 2 * w
    g[123] = np.nan
    result = gradcheck.check_gradient(_sq, w, g, coords=40, seed=seed)
    assert not result.passed
    assert 123 in result.index.tolist()

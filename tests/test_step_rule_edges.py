"""The step rule at non-finite x."""

import numpy as np


def test_step_rule_non_finite_x_as_documented():
    # infinite x gives an infinite step; NaN fails `abs(x) > 1` and gets
    # the |x| <= 1 step
    from fastfd.steps import step_base, step_rule
    base = step_base(np.finfo(np.float64).eps)
    assert step_rule(np.inf, base) == np.inf
    assert step_rule(-np.inf, base) == np.inf
    assert step_rule(np.nan, base) == step_rule(0.5, base)

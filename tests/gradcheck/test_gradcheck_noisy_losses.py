"""Losses with coarse (float16) or non-deterministic values: a wrong
gradient never passes, a correct one passes when the noise allows."""

import numpy as np
import pytest

from fastfd import gradcheck


@pytest.mark.parametrize("factor", [0.0, 3.5])
def test_float16_loss_values_do_not_pass_a_wrong_gradient(factor):
    # The loss rounds its value to float16; the default step must follow that
    # precision, or the roundoff bound swallows a gradient off by 5.
    def loss(w):
        return np.float16(np.sum(w * w))

    w = np.ones(5)
    assert gradcheck.check_gradient(loss, w, factor * 2 * w).status == "failed"
    # at the default step the noise bound of a float16 loss is ~25% of the
    # gradient; the re-check at 16h brings it under the 5% resolution limit
    good = gradcheck.check_gradient(loss, w, 2 * w)
    assert good.status == "passed"
    assert (good.resolution <= 0.05).all() and (good.steps > 1.0).all()
    np.testing.assert_allclose(good.numerical, 2 * w, rtol=0.05)


def test_nondeterministic_loss_cannot_pass_a_wrong_gradient():
    import warnings

    import fastfd

    w = np.linspace(-1.0, 1.0, 20)
    rng = np.random.default_rng(0)

    def noisy(p):
        return float(np.sum(p ** 2) + 1e-3 * rng.standard_normal())

    for g in (np.zeros_like(w), 2 * w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = fastfd.check_gradient(noisy, w, g, coords="all")
        assert r.nondeterminism > 0
        # noise of 1e-3 in the loss: neither a zero nor the correct gradient
        # can be decided
        assert not r.passed and r.status == "inconclusive"
        assert "non-deterministic loss" in {c.verdict for c in r.undecided()}
        assert "a deterministic loss" in str(r)

    # ulp-level nondeterminism (e.g. a threaded reduction) still passes a
    # correct gradient: its discrepancies stay far below tol
    flip = iter(range(10**6))

    def jitter(p):
        return float(np.sum(p ** 2)) * (1.0 + (next(flip) % 2) * 2.0 ** -52)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = fastfd.check_gradient(jitter, w, 2 * w, coords="all")
    assert r.passed

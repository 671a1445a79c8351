"""Three verdicts: passed only when verified to the stated tolerance, failed
only when the gradient is wrong, inconclusive (with the reason) otherwise."""

import warnings

import numpy as np
import pytest

from fastfd import check_gradient
from fastfd.gradcheck import STATUSES, gradient_check

W = np.array([1.0, -2.0, 0.5, 3.0])


def offset_loss(p):
    return 1e12 + np.sum(p ** 2)


def half_loss(p):
    return np.float16(np.sum(p ** 2))


def half_sin(p):
    return np.float16(np.sum(np.sin(p)))


def test_loss_without_digits_for_the_change_is_inconclusive():
    # the numerical gradient is [0, 0, 0, 8]; a zero gradient "passed"
    r = check_gradient(offset_loss, W, np.zeros(4), coords="all")
    assert r.status == "inconclusive" and not r.passed and not bool(r)
    assert set(r.verdicts.tolist()) == {"loss resolution"}
    assert set(r.statuses.tolist()) == {"inconclusive"}
    text = str(r)
    assert "inconclusive" in text and "loss offset" in text and "larger h" in text
    # the correct gradient cannot be verified either
    assert check_gradient(offset_loss, W, 2 * W, coords="all").status == "inconclusive"


def test_float16_loss_does_not_pass_a_gradient_25_to_50_percent_off():
    r = check_gradient(half_loss, W, 2 * W + 0.5, coords="all")
    assert r.status in ("failed", "inconclusive") and not r.passed
    assert "ok" not in r.verdicts.tolist()
    r = check_gradient(half_loss, W, 2 * W, coords="all")
    assert r.status in ("passed", "inconclusive")
    assert "float64" in str(r)


def test_float16_sin_over_200_coordinates_with_a_30_percent_error_does_not_pass():
    x = np.random.default_rng(0).standard_normal(200)
    r = check_gradient(half_sin, x, 1.3 * np.cos(x), coords="all")
    assert r.status != "passed"
    r = check_gradient(half_sin, x, np.cos(x), coords="all")
    assert r.status != "failed"


def test_status_values_and_per_coordinate_statuses():
    assert STATUSES == ("passed", "failed", "inconclusive")
    x = np.linspace(0.5, 2.0, 5)
    r = check_gradient(lambda v: float(np.sum(np.sin(v))), x, np.cos(x), coords="all")
    assert r.status == "passed" and r.passed and bool(r)
    assert r.statuses.tolist() == ["passed"] * 5
    g = np.cos(x)
    g[3] = -g[3]
    r = check_gradient(lambda v: float(np.sum(np.sin(v))), x, g, coords="all")
    assert r.status == "failed" and not r.passed
    assert r.statuses.tolist() == ["passed"] * 3 + ["failed", "passed"]

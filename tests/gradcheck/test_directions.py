"""Directional checks, kink diagnosis and bisection localization."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import scale_losses as L
from fastfd.gradcheck import _directions as D


def setup(n=256, seed=0):
    q = L.Quadratic(n, seed)
    x = np.random.default_rng(seed + 1).standard_normal(n)
    return q, x, q.grad(x)


def test_rademacher_reproducible_and_balanced():
    a = D.rademacher(np.random.default_rng(3), 10_000)
    b = D.rademacher(np.random.default_rng(3), 10_000)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {-1.0, 1.0}
    assert abs(a.mean()) < 0.05          # 5 sigma for 1e4 fair signs
    assert D.rademacher(np.random.default_rng(3), 8, np.float32).dtype == np.float32


def test_correct_gradient_passes_with_tight_tolerance():
    q, x, g = setup()
    f = D.Counter(q)
    f.quantized = False     # known smooth: no probes for a grid of its values
    xs = x.copy()
    f0 = f(xs)
    for j in range(20):
        v = D.rademacher(np.random.default_rng(j), x.size)
        c = D.check_segment(f, xs, g, v, 0, x.size, f0)
        assert c.verdict == D.OK
        assert c.analytical == pytest.approx(g @ v, rel=1e-12)
        # far tighter than any per-coordinate tolerance: ~1e-9 of |g.v|
        assert c.tolerance < 1e-7 * max(abs(c.analytical), np.linalg.norm(g))
    np.testing.assert_array_equal(xs, x)    # restored by assignment
    assert f.n == 1 + 20 * 4


def test_one_wrong_coordinate_fails_every_direction():
    q, x, g = setup()
    bad = g.copy()
    bad[77] += 1e-4 * np.abs(g).mean()
    f = D.Counter(q)
    f0 = f(x)
    for j in range(10):
        v = D.rademacher(np.random.default_rng(j), x.size)
        c = D._confirm(f, x, bad, v, D.check_segment(f, x, bad, v, 0, x.size, f0), f0)
        assert c.verdict == D.WRONG
        # the discrepancy is -e.v = -(error of coordinate 77) * v[77]
        assert c.discrepancy == pytest.approx(-1e-4 * np.abs(g).mean() * v[77], rel=1e-3)


@pytest.mark.parametrize("wrong", [[5], [0, 4095], [100, 101, 2000]])
def test_bisection_finds_exactly_the_wrong_coordinates(wrong):
    n = 4096
    x = np.linspace(-1, 1, n)
    g = L.sin_sum_grad(x)
    bad = g.copy()
    bad[wrong] += 0.05
    f = D.Counter(L.sin_sum)
    f.quantized = False     # known smooth: no probes for a grid of its values
    f0 = f(x)
    rep = D.check_directions(f, x, bad, [("w", 0, n, (n,))], f0, 2, np.random.default_rng(0))
    loc = rep.localized["w"]
    assert sorted(c.start for c in loc.coordinates) == wrong
    roundoff = np.finfo(float).eps * abs(f0) / 2.0**-18     # eps |f| / h, |f| ~ 1e3
    for c in loc.coordinates:
        assert c.numerical * c.sign == pytest.approx(g[c.start], abs=4 * roundoff)
        assert c.analytical * c.sign == pytest.approx(bad[c.start], abs=1e-12)
    assert not loc.unresolved and not loc.truncated
    # O(log n) per wrong coordinate: 8 per level (two halves) + confirmations
    # (8, and one value off the power-of-two steps for each of the two)
    assert loc.n_evals <= len(wrong) * (8 * math.log2(n) + 10)


def test_bisection_cost_grows_like_log_n():
    costs = []
    for n in (2**8, 2**16):
        x = np.linspace(-1, 1, n)
        bad = L.sin_sum_grad(x)
        bad[n // 3] += 0.05
        f = D.Counter(L.sin_sum)
        f.quantized = False     # known smooth: no probes for a grid of its values
        f0 = f(x)
        v = D.rademacher(np.random.default_rng(0), n)
        root = D.check_segment(f, x, bad, v, 0, n, f0)
        costs.append(D.localize(f, x, bad, v, root, f0).n_evals)
    # 8 more levels cost 8 * 8 evaluations more, not 256x more
    assert costs[1] - costs[0] == 8 * 8


def test_cap_on_localized_coordinates():
    n = 512
    x = np.linspace(-1, 1, n)
    bad = 1.01 * L.sin_sum_grad(x) + 0.01     # every coordinate wrong
    f = D.Counter(L.sin_sum)
    f0 = f(x)
    rep = D.check_directions(f, x, bad, [("w", 0, n, (n,))], f0, 1, np.random.default_rng(0),
                             max_coords=32)
    loc = rep.localized["w"]
    assert len(loc.coordinates) == 32 and loc.truncated
    assert all(c.verdict == D.WRONG for c in loc.coordinates)


def test_failure_that_cannot_be_localized_is_kept():
    # errors aligned with v so that the whole block fails while each half,
    # carrying half of the discrepancy, stays inside its tolerance
    n = 1024
    q, x, g = setup(n)
    v = D.rademacher(np.random.default_rng(5), n)
    f = D.Counter(q)
    f0 = f(x)
    tol_root = D.check_segment(f, x, g, v, 0, n, f0).tolerance
    tol_half = min(D.check_segment(f, x, g, v, 0, n // 2, f0).tolerance,
                   D.check_segment(f, x, g, v, n // 2, n, f0).tolerance)
    total = 1.5 * tol_root
    assert total / 2 < tol_half
    bad = g + (total / n) * v
    root = D._confirm(f, x, bad, v, D.check_segment(f, x, bad, v, 0, n, f0), f0)
    assert root.verdict == D.WRONG
    loc = D.localize(f, x, bad, v, root, f0)
    assert not loc.coordinates
    assert [(u.start, u.stop) for u in loc.unresolved] == [(0, n)]


def test_eval_cap_keeps_unresolved_blocks():
    n = 4096
    x = np.linspace(-1, 1, n)
    bad = L.sin_sum_grad(x)
    bad[1234] += 0.05
    f = D.Counter(L.sin_sum)
    f0 = f(x)
    v = D.rademacher(np.random.default_rng(0), n)
    root = D.check_segment(f, x, bad, v, 0, n, f0)
    loc = D.localize(f, x, bad, v, root, f0, max_evals=16)
    assert loc.truncated and loc.unresolved
    a, b = loc.unresolved[0].start, loc.unresolved[0].stop
    assert a <= 1234 < b


def relu_sum(x):
    return float(np.sum(np.maximum(x, 0.0)))


@pytest.mark.parametrize("frac", np.linspace(-2.5, 2.5, 41))
def test_kink_never_reported_as_wrong(frac):
    # relu kink at distance |frac| * h along v from x; the analytic
    # (sub)gradient is the correct one-sided one
    n = 64
    x = np.linspace(0.3, 1.0, n)
    v = np.ones(n)
    h = D._segment_step(x[:1], x.dtype, 1.0)
    x[0] = frac * h
    g = (x > 0).astype(float)
    f = D.Counter(relu_sum)
    f0 = f(x)
    c = D._confirm(f, x, g, v, D.check_segment(f, x, g, v, 0, 1, f0), f0)
    assert c.verdict in (D.OK, D.NONSMOOTH, D.NOISE)
    if abs(frac) < 0.1:
        assert c.verdict == D.NONSMOOTH


def test_kink_plus_real_bug_still_found_after_retry():
    # the kink is farther than h/8: the h/16 retry steps over it and sees the bug
    n = 8
    x = np.linspace(0.3, 1.0, n)
    v = np.ones(n)
    h = D._segment_step(x, x.dtype, 1.0)
    x[0] = -0.5 * h
    g = (x > 0).astype(float)
    g[3] += 0.1
    f = D.Counter(relu_sum)
    f0 = f(x)
    first = D.check_segment(f, x, g, v, 0, n, f0)
    assert first.verdict == D.NONSMOOTH
    assert D._confirm(f, x, g, v, first, f0).verdict == D.WRONG


def test_nonfinite_loss_fails():
    x = np.array([1.0, -1e-7, 2.0])
    f = D.Counter(lambda p: float(np.sum(np.sqrt(p + 1e-7))))
    f0 = f(x)
    with np.errstate(invalid="ignore"):
        c = D.check_segment(f, x, np.ones(3), np.ones(3), 0, 3, f0)
    assert c.verdict == D.NONFINITE and c.failed


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1.0))
def test_detection_power_at_least_half_per_direction(seed, size):
    # one coordinate with an error above the tolerance plus many random small
    # ones: each direction detects it with probability >= 1/2, so 12
    # directions all missing has probability <= 2**-12
    n = 128
    q, x, g = setup(n, seed % 7)
    rng = np.random.default_rng(seed)
    bad = g + 1e-9 * size * rng.standard_normal(n)
    i = int(rng.integers(n))
    bad[i] += size * 1e-4
    f = D.Counter(q)
    f0 = f(x)
    rep = D.check_directions(f, x, bad, [("w", 0, n, (n,))], f0, 12, rng, max_coords=1)
    assert rep.failing
    # and never silently: localized to the planted coordinate, or, for an
    # error barely above the tolerance of the halves, a failing range holding it
    loc = rep.localized["w"]
    assert ([c.start for c in loc.coordinates] == [i]
            or any(u.start <= i < u.stop for u in loc.unresolved))

"""Stratified sampling, loss timing, budgets, coverage and progress."""

import io
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastfd.gradcheck import _progress as P
from fastfd.gradcheck import _result as R
from fastfd.gradcheck import _sampling as S
from fastfd.gradcheck._arguments import check_budget
from fastfd.gradcheck import _planner
from fastfd.gradcheck._planner import time_loss


def make_blocks(sizes):
    blocks, start = [], 0
    for k, size in enumerate(sizes):
        blocks.append((f"t{k}", start, start + size, (size,)))
        start += size
    return blocks, start


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=7), st.integers(0, 2**31 - 1),
       st.floats(0.0, 1.2))
def test_stratified_invariants(sizes, seed, frac):
    blocks, n = make_blocks(sizes)
    count = max(len(sizes), int(frac * n))
    g = np.random.default_rng(seed).standard_normal(n)
    idx = S.stratified_sample(blocks, g, count, np.random.default_rng(seed))
    assert idx.size == min(count, n)
    assert np.all(np.diff(idx) > 0)                    # sorted, unique
    assert idx.min() >= 0 and idx.max() < n
    per = [int(((idx >= a) & (idx < b)).sum()) for _, a, b, _ in blocks]
    minimums = [min(s, 16) for s in sizes]
    if sum(minimums) <= count:
        assert all(p >= m for p, m in zip(per, minimums))
        # the rest is proportional to size: within one of the exact share
        rest = count - sum(minimums)
        room = np.array(sizes) - np.array(minimums)
        if room.sum() and count < n:
            share = room / room.sum() * rest
            extra = np.array(per) - np.array(minimums)
            assert np.all(np.abs(extra - share) <= 1.0 + 1e-9)
    else:
        assert all(p >= 1 for p in per)
    for (_, a, b, _), p in zip(blocks, per):   # each tensor's largest |g| is in
        if p:
            assert a + int(np.argmax(np.abs(g[a:b]))) in set(idx.tolist())


def test_stratified_reproducible_and_seed_dependent():
    blocks, n = make_blocks([50_000, 64, 768, 12])
    g = np.random.default_rng(0).standard_normal(n)
    a = S.stratified_sample(blocks, g, 500, np.random.default_rng(7))
    b = S.stratified_sample(blocks, g, 500, np.random.default_rng(7))
    c = S.stratified_sample(blocks, g, 500, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    per = [int(((a >= s) & (a < e)).sum()) for _, s, e, _ in blocks]
    assert per[3] == 12 and per[1] >= 16 and per[0] > 400


def test_stratified_all_when_count_covers():
    blocks, n = make_blocks([5, 7])
    idx = S.stratified_sample(blocks, np.ones(n), 100, np.random.default_rng(0))
    np.testing.assert_array_equal(idx, np.arange(12))


class FakeClock:
    def __init__(self, durations):
        self.now = 0.0
        self.durations = list(durations)
        self.calls = 0

    def perf_counter(self):
        return self.now

    def loss(self, x):
        self.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        return 1.5


def test_time_loss_retimes_inflated_first_call(monkeypatch):
    clock = FakeClock([0.5, 0.010, 0.012, 0.009, 0.011, 0.013])
    monkeypatch.setattr(_planner, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    t, f0 = time_loss(clock.loss, None)
    assert t == pytest.approx(0.009, abs=1e-12) and f0 == 1.5 and clock.calls == 6


def test_time_loss_fastest_of_three_when_steady(monkeypatch):
    clock = FakeClock([0.010, 0.011, 0.0105])
    monkeypatch.setattr(_planner, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    # the first call (which also gives f0) is not used for the time
    assert time_loss(clock.loss, None)[0] == pytest.approx(0.0105, abs=1e-12)
    assert clock.calls == 3


def test_coverage_line():
    assert (R.coverage_line(3072, 1_002_570, 6, 64)
            == "checked 3,072 of 1,002,570 coordinates in 6 tensors and 64 directions")
    assert R.coverage_line(3, 3, 1, 0) == "checked 3 of 3 coordinates in 1 tensor"


@pytest.mark.parametrize("value, exc, match", [
    ("fast", TypeError, r"budget must be a positive number of seconds, got 'fast'"),
    (True, TypeError, r"budget must be a positive number of seconds, got True"),
    (0, ValueError, r"budget must be a positive, finite number of seconds, got 0"),
    (-2.0, ValueError, r"got -2.0"),
    (float("inf"), ValueError, r"got inf"),
    (10**400, ValueError, r"budget must be a positive, finite number of seconds, got 1000"),
])
def test_bad_budget(value, exc, match):
    with pytest.raises(exc, match=match):
        check_budget(value)


@pytest.mark.parametrize("value", [1e308, np.float32(3e38), 10**300, 1e-3])
def test_any_finite_positive_budget_is_a_float(value):
    # the planning arithmetic clamps before int() (1e308 overflowed there)
    assert check_budget(value) == float(value)


# ------------------------------------------------------------------ progress

class TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_auto_only_on_terminal_and_long_checks():
    assert P.progress_enabled(None, 5.0, stream=TTY())
    assert not P.progress_enabled(None, 1.0, stream=TTY())
    assert not P.progress_enabled(None, 100.0, stream=io.StringIO())
    assert P.progress_enabled(True, 0.0, stream=io.StringIO())
    assert not P.progress_enabled(False, 100.0, stream=TTY())


def test_progress_tqdm_bar():
    pytest.importorskip("tqdm")
    out = TTY()
    with P.Progress(10, desc="check", stream=out) as bar:
        for _ in range(10):
            bar.update(1)
        assert bar._bar.n == 10 and bar._bar.total == 10
    assert "check:" in out.getvalue() and "eval" in out.getvalue()


def test_progress_plain_fallback_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)     # import fails
    out = io.StringIO()
    with P.Progress(4, desc="check", stream=out) as bar:
        bar.update(2)
        bar.update(2)
    assert "check: 100% (4/4 evaluations), ETA 0.0 s" in out.getvalue()


def test_progress_disabled_is_silent():
    out = TTY()
    with P.Progress(4, enabled=False, stream=out) as bar:
        bar.update(4)
    assert out.getvalue() == ""


def test_bad_progress():
    with pytest.raises(TypeError, match="progress must be None, True or False, got 'yes'"):
        P.check_progress("yes")


@pytest.mark.parametrize("seconds, text", [
    (6.49e-4, "649 µs"), (9.997e-4, "1 ms"), (0.0123, "12.3 ms"), (4.56, "4.56 s"),
    (1000.0, "16.7 min"), (2.97e5, "82.5 h"), (1e7, "2,778 h"),
])
def test_one_time_format(seconds, text):
    from fastfd.gradcheck._result import _fmt_seconds
    assert _fmt_seconds(seconds) == text

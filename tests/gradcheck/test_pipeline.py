"""check_gradient has one pipeline: every combination of options is validated
the same way and runs the same engine on the same coordinates."""

import numba
import numpy as np
import pytest

from fastfd.gradcheck import check_gradient


def cubic(p):
    return float(np.sum(p ** 3) + p[0] * p[-1])


def cubic_grad(p):
    g = 3 * p ** 2
    g[0] += p[-1]
    g[-1] += p[0]
    return g


X = np.linspace(-1.5, 2.0, 40)


@pytest.mark.parametrize("options", [
    {"coords": "all", "budget": 100.0},
    {"coords": 40},
    {"coords": 40, "budget": 100.0},
    {"coords": "auto"},
    {"coords": np.arange(40)},
])
def test_every_way_to_ask_for_all_coordinates_gives_the_same_check(options):
    g = cubic_grad(X)
    g[[3, 17]] *= 1.01
    plain = check_gradient(cubic, X, g, coords="all")
    other = check_gradient(cubic, X, g, **options)
    assert other.mode == plain.mode == "all"
    np.testing.assert_array_equal(other.index, plain.index)
    np.testing.assert_array_equal(other.numerical, plain.numerical)
    np.testing.assert_array_equal(other.noise, plain.noise)
    assert other.verdicts.tolist() == plain.verdicts.tolist()
    assert [c.name for c in other.failures()] == ["params[3]", "params[17]"]
    # every check times the loss at params, on its first two evaluations
    assert other.t_call > 0 and plain.t_call > 0


def test_explicit_coordinates_are_exactly_those_with_any_option():
    # a non-finite analytic entry joins a stratified sample (it proves the
    # gradient wrong); explicit indices are checked as given
    g = cubic_grad(X)
    g[5] = np.inf
    for options in ({}, {"directions": 0}):
        r = check_gradient(cubic, X, g, coords=[0, 1, 30], **options)
        assert r.index.tolist() == [0, 1, 30] and r.passed, options
    # directions cover every coordinate but cannot see a non-finite entry
    # (no tolerance is left to exceed): when they run, such entries are
    # checked per coordinate too
    for options in ({"directions": 2}, {"budget": 100.0}):
        r = check_gradient(cubic, X, g, coords=[0, 1, 30], **options)
        assert r.index.tolist() == [0, 1, 5, 30] and r.status == "failed", options
        assert [(c.name, c.verdict) for c in r.failures()] == [
            ("params[5]", "non-finite gradient")]
    r = check_gradient(cubic, X, g, coords=20, seed=0)
    assert 5 in r.index.tolist() and r.status == "failed"
    assert r.failures()[0].verdict == "non-finite gradient"


@pytest.mark.parametrize("options", [{"coords": "all"}, {}, {"budget": 1e-3},
                                     {"coords": 10, "budget": 5.0}])
def test_a_loss_not_finite_at_params_is_an_error_on_every_path(options):
    # with budget=1e-3 a full check does not fit, and the check would turn to
    # directions: the loss at params is checked before the plan is made
    def loss(p):
        return float("nan") if p[0] == X[0] else cubic(p)

    with pytest.raises(ValueError, match=r"loss is not finite at the unperturbed params: nan"):
        check_gradient(loss, X, cubic_grad(X), **options)


def test_vectorized_with_a_loss_that_is_not_callable():
    with pytest.raises(TypeError, match=r"loss must be callable, got 3"):
        check_gradient(3, X, cubic_grad(X), vectorized=True)


@pytest.mark.parametrize("vectorized", ["yes", 1, None])
def test_vectorized_is_checked_before_it_is_used(vectorized):
    with pytest.raises(TypeError, match=r"vectorized must be True or False, got"):
        check_gradient(cubic, X, cubic_grad(X), vectorized=vectorized)


def test_a_vectorized_loss_returning_several_values_for_one_point():
    # the directional stage evaluates one point at a time, as a batch of one
    def loss(batch):
        values = np.sum(batch ** 3, axis=-1)
        return values if batch.shape[0] > 1 else np.repeat(values, 2)

    with pytest.raises(TypeError, match=r"vectorized=True: loss must return 1 value for a "
                                        r"batch of 1 \(shape \(1,\)\), got shape \(2,\) "
                                        r"\(at the unperturbed params\)"):
        check_gradient(loss, X, cubic_grad(X), coords=0, directions=2, vectorized=True)


@pytest.mark.parametrize("h", [1e-4, [1e-4], np.full(1, 1e-4), np.float32(1e-4)])
def test_one_step_for_every_coordinate_in_any_form(h):
    one = check_gradient(cubic, X, cubic_grad(X), coords="all", h=h)
    per = check_gradient(cubic, X, cubic_grad(X), coords="all", h=np.full(X.size, float(h[0] if np.ndim(h) else h)))
    np.testing.assert_array_equal(one.steps, per.steps)
    np.testing.assert_array_equal(one.numerical, per.numerical)


@pytest.mark.parametrize("options", [{"coords": "all"}, {"coords": 0, "directions": 8}])
def test_an_absurdly_large_gradient_entry_fails(options):
    # 1e160 squares to inf in float64: scales computed that way made every
    # tolerance infinite and the check passed
    x = np.linspace(-1, 1, 50)
    g = 2 * x
    g[10] = 1e160
    r = check_gradient(lambda p: float(np.sum(p ** 2)), x, g, seed=0, **options)
    assert r.status == "failed" and [c.name for c in r.failures()] == ["params[10]"]


def test_a_full_check_cut_short_still_runs_directions_over_every_coordinate(fake_clock):
    # the loss slows down 1000x after it was timed: the full check is cut at
    # the budget after a few chunks, far before coordinate 2,900; a few
    # directions (past the budget) find it all the same
    calls = {"n": 0}

    def loss(p):
        calls["n"] += 1
        fake_clock.now += 1e-6 if calls["n"] <= 40 else 1e-3
        return float(np.sum(p ** 2))

    x = np.linspace(-1.0, 1.0, 3000)
    g = 2 * x
    g[2900] += 1.0
    r = check_gradient(loss, x, g, budget=1.0, seed=0)
    assert 2900 not in r.index.tolist() and r.n_directions == 4
    assert r.status == "failed" and [c.name for c in r.failures()] == ["params[2900]"]


@pytest.mark.parametrize("options", [{}, {"coords": 0, "directions": 2}])
def test_directions_alone_start_like_every_check(fake_clock, options):
    def slow(p):
        fake_clock.now += 0.05
        return float(np.sum(p ** 2))

    with pytest.raises(ValueError, match=r"budget=0\.01 s is too small for even one loss "
                                         r"evaluation, which takes 50 ms"):
        check_gradient(slow, X, 2 * X, budget=0.01, **options)
    with pytest.raises(ValueError, match=r"loss is not finite at the unperturbed params: inf"):
        check_gradient(lambda p: float("inf"), X, 2 * X, **options)
    def fast(p):
        fake_clock.now += 1e-6
        return float(np.sum(p ** 2))

    r = check_gradient(fast, X, 2 * X, **options)
    assert r.passed and r.t_call == pytest.approx(1e-6)
    assert r.full_check_seconds == 2 * X.size * r.t_call


def test_the_default_budget_is_named_as_such(fake_clock, monkeypatch):
    from fastfd.gradcheck import _planner
    monkeypatch.setattr(_planner, "DEFAULT_BUDGET", 0.01)

    def slow(p):
        fake_clock.now += 0.05
        return float(np.sum(p ** 2))

    with pytest.raises(ValueError, match=r"^the default budget of 0\.01 s \(coords='auto'\) is "
                                         r"too small"):
        check_gradient(slow, X, 2 * X)


@numba.njit
def _returns_an_array(p):
    return p * 2.0


@pytest.mark.parametrize("options", [{"coords": "all"}, {"coords": 0, "directions": 2}])
def test_a_jitted_loss_returning_an_array_is_a_type_error(options):
    with pytest.raises(TypeError, match=r"loss must return a real scalar, got a value of "
                                        r"Numba type array\(float64, 1d, C\)"):
        check_gradient(_returns_an_array, X, 2 * X, **options)


def test_a_negative_seed_is_named():
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer, got -1"):
        check_gradient(cubic, X, cubic_grad(X), coords=5, seed=-1)


def test_a_nan_analytic_value_has_no_relative_error_of_zero():
    x = np.array([1.0, 2.0])
    r = check_gradient(lambda p: float(p @ p), x, np.array([2.0, np.nan]), coords="all")
    assert r.status == "failed" and r.failures()[0].verdict == "non-finite gradient"
    assert r.rel_errors[0] < 1e-8 and np.isnan(r.rel_errors[1])

"""check_gradient has one pipeline: every combination of options is validated
the same way and runs the same engine on the same coordinates."""

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
    for options in ({}, {"budget": 100.0}, {"directions": 0}):
        r = check_gradient(cubic, X, g, coords=[0, 1, 30], **options)
        assert r.index.tolist() == [0, 1, 30] and r.passed, options
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
                                        r"\(in the directional checks\)"):
        check_gradient(loss, X, cubic_grad(X), coords=0, directions=2, vectorized=True)


@pytest.mark.parametrize("h", [1e-4, [1e-4], np.full(1, 1e-4), np.float32(1e-4)])
def test_one_step_for_every_coordinate_in_any_form(h):
    one = check_gradient(cubic, X, cubic_grad(X), coords="all", h=h)
    per = check_gradient(cubic, X, cubic_grad(X), coords="all", h=np.full(X.size, float(h[0] if np.ndim(h) else h)))
    np.testing.assert_array_equal(one.steps, per.steps)
    np.testing.assert_array_equal(one.numerical, per.numerical)

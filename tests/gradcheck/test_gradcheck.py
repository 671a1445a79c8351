"""Gradient checks: seed compatibility, the engine, the report, the faults."""

import re

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastfd.gradcheck._params import FlatProblem
from fastfd.demo import _mse_problem
from fastfd.gradcheck import (GradCheckResult, GradientCheckError, LossEvaluationError,
                              check_gradient, gradient_check)


# ------------------------------------------------------------------ helpers
def seed_mse():
    """The seed chapter's example 1 (np.random.seed(42), N = 20), as the demo builds it."""
    return _mse_problem()


def reference_central(loss, x, steps):
    """Slow reference: a fresh copy per evaluation, division by the realized step."""
    out = np.empty(x.size)
    for i in range(x.size):
        xp = x.copy()
        xp[i] = x[i] + steps[i]
        xm = x.copy()
        xm[i] = x[i] - steps[i]
        out[i] = (loss(xp) - loss(xm)) / (float(xp[i]) - float(xm[i]))
    return out


def mlp(dtype=np.float64, seed=0):
    """A small tanh network with a hand-written backward pass (dict params)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, 10)).astype(dtype)
    Y = rng.standard_normal((32, 3)).astype(dtype)
    params = {"W1": (0.3 * rng.standard_normal((10, 16))).astype(dtype),
              "b1": (0.1 * rng.standard_normal(16)).astype(dtype),
              "W2": (0.3 * rng.standard_normal((16, 3))).astype(dtype),
              "b2": np.zeros(3, dtype)}

    def loss(p):
        H = np.tanh(X @ p["W1"] + p["b1"])
        return np.mean((H @ p["W2"] + p["b2"] - Y) ** 2)

    def grad(p):
        H = np.tanh(X @ p["W1"] + p["b1"])
        dout = 2 * (H @ p["W2"] + p["b2"] - Y) / Y.size
        dA = (dout @ p["W2"].T) * (1 - H ** 2)
        return {"W1": X.T @ dA, "b1": dA.sum(0), "W2": H.T @ dout, "b2": dout.sum(0)}

    return loss, params, grad


@numba.njit
def sinw(w):
    s = 0.0
    for i in range(w.size):
        s += np.sin(w[i]) * w[i]
    return s


def sinw_grad(w):
    return np.cos(w) * w + np.sin(w)


def snapshot(params):
    if isinstance(params, dict):
        return {k: v.copy() for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [v.copy() for v in params]
    return params.copy()


def assert_same(params, snap):
    if isinstance(params, dict):
        for k in params:
            np.testing.assert_array_equal(params[k], snap[k])
    elif isinstance(params, (list, tuple)):
        for a, b in zip(params, snap):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(params, snap)


# ------------------------------------------------------------ seed contract
SEED_PASS = """Gradient check:
 Analytical grad: [-0.53916839  1.96213827 -2.35129187]
 Numerical grad: [-0.53916839  1.96213827 -2.35129187]
 Relative error: 8.84e-12
 Status: PASS (tol=0.0001)
"""
SEED_FAIL = """Gradient check:
 Analytical grad: [-0.26958419  0.98106914 -1.17564593]
 Numerical grad: [-0.53916839  1.96213827 -2.35129187]
 Relative error: 3.33e-01
 Status: FAIL (tol=0.0001)
"""


def _masked_noise(text):
    # the relative error of a correct gradient is finite-difference noise, a
    # few ulps of the loss over h, and those ulps depend on the BLAS kernel
    # the CPU selects (8.84e-12 here, 8.17e-12 with OpenBLAS's Sandybridge
    # kernels): checked as a bound, then masked
    m = re.search(r"Relative error: (\S+)", text)
    assert m and float(m.group(1)) < 1e-9, text
    return text.replace(m.group(1), "<noise>")


def test_seed_mse_correct_gradient_prints_the_seed_block(capsys):
    loss, grad, _, w = seed_mse()
    w_before = w.copy()
    result = gradient_check(loss, w, grad(w))
    assert _masked_noise(capsys.readouterr().out) == _masked_noise(SEED_PASS)
    assert result.rel_error < 1e-9
    assert result.passed and bool(result)
    np.testing.assert_array_equal(w, w_before)


def test_seed_mse_buggy_gradient_fails_with_one_third(capsys):
    loss, _, buggy, w = seed_mse()
    rel, numerical = gradient_check(loss, w, buggy(w))
    assert capsys.readouterr().out == SEED_FAIL
    # The seed prints (np.float64(0.3333333333266106), array([...])): 1/3
    # (the gradient is half the true one) up to finite-difference noise, whose
    # digits depend on the CPU's BLAS kernel (0.33333333332766574 with
    # OpenBLAS's Sandybridge kernels)
    assert rel == pytest.approx(1.0 / 3.0, rel=1e-9, abs=0)
    np.testing.assert_allclose(numerical, [-0.53916839, 1.96213827, -2.35129187], atol=5e-9)


def test_seed_gradient_check_quiet_and_result_fields(capsys):
    loss, grad, buggy, w = seed_mse()
    result = gradient_check(loss, w, buggy(w), verbose=False)
    assert capsys.readouterr().out == ""
    assert isinstance(result, GradCheckResult)
    assert not result.passed and result.criterion == "seed"
    # per-coordinate report names every coordinate as a wrong gradient
    assert [c.verdict for c in result.failures()] == ["gradient wrong"] * 3
    np.testing.assert_allclose(result.numerical, 2 * buggy(w), rtol=1e-9)


def test_seed_gradient_check_matches_the_seed_arithmetic():
    loss, grad, _, w = seed_mse()
    h = 1e-5
    expected = np.array([(loss(w + h * e) - loss(w - h * e)) / (2 * h) for e in np.eye(3)])
    _, numerical = gradient_check(loss, w, grad(w), verbose=False)
    np.testing.assert_array_equal(numerical, expected)


def test_seed_gradient_check_bad_arguments():
    loss, grad, _, w = seed_mse()
    with pytest.raises(ValueError, match=r"h must be positive and finite, got -1e-05"):
        gradient_check(loss, w, grad(w), h=-1e-5)
    with pytest.raises(ValueError, match=r"tol must be positive and finite, got 0"):
        gradient_check(loss, w, grad(w), tol=0)
    with pytest.raises(TypeError, match=r"verbose must be True or False, got 'yes'"):
        gradient_check(loss, w, grad(w), verbose="yes")


# --------------------------------------------------------------- the engine
def test_engine_matches_slow_reference_bitwise():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(40) * np.logspace(-3, 3, 40)

    def loss(v):
        return float(np.sum(np.sin(v) * v))

    result = check_gradient(loss, x, sinw_grad(x))
    ref = reference_central(loss, x, result.steps)
    np.testing.assert_array_equal(result.numerical, ref)
    assert result.passed, str(result)
    # roundoff eps*|f|/h plus truncation h**2 |f'''|/6 (|f'''| <= 3 + |x|)
    f = abs(loss(x))
    bound = 4 * 2.2e-16 * f / result.steps + result.steps ** 2 * (3 + np.abs(x)) / 6
    assert np.all(np.abs(result.numerical - sinw_grad(x)) <= bound)


def test_default_steps_are_optimal_step_per_coordinate():
    from fastfd.steps import optimal_step
    x = np.array([0.0, 1e-3, 1.0, 37.0, -5e4])
    result = check_gradient(lambda v: float(np.sum(v ** 3)), x, 3 * x ** 2)
    np.testing.assert_array_equal(result.steps, optimal_step(x))
    assert result.steps[4] > 1e3 * result.steps[0]     # scaled by |x_i|


def test_explicit_h_scalar_and_array():
    x = np.array([1.0, 2.0, 3.0])
    r = check_gradient(lambda v: float(v @ v), x, 2 * x, h=1e-3)
    np.testing.assert_array_equal(r.steps, [1e-3] * 3)
    r = check_gradient(lambda v: float(v @ v), x, 2 * x, h=np.array([1e-3, 2e-3, 4e-3]))
    np.testing.assert_array_equal(r.steps, [1e-3, 2e-3, 4e-3])
    assert r.passed


def test_integer_params_are_checked_as_float64():
    p = np.arange(-3, 4)
    result = check_gradient(lambda v: float(np.sum(v.astype(float) ** 2)), p, 2 * p)
    assert result.dtype == np.float64 and result.problem.x0.dtype == np.float64
    assert result.passed
    np.testing.assert_allclose(result.numerical, 2 * p, atol=1e-9)


def test_dict_params_name_the_wrong_bias():
    loss, params, grad = mlp()
    snap = snapshot(params)
    assert check_gradient(loss, params, grad).passed

    def bad(p):
        g = grad(p)
        g["b2"] = g["b2"] * 1.01
        return g

    result = check_gradient(loss, params, bad)
    assert not result.passed
    rows = {t.name: t for t in result.tensors}
    assert [rows[k].passed for k in ("W1", "b1", "W2", "b2")] == [True, True, True, False]
    assert rows["W1"].size == 160 and rows["W1"].checked == 160
    assert {c.name for c in result.failures()} == {"b2[0]", "b2[1]", "b2[2]"}
    assert all(c.verdict == "gradient wrong" for c in result.failures())
    text = str(result)
    assert re.search(r"^Gradient check FAILED: 3 of 227 coordinates in 1 of 4 tensors \(b2\)",
                     text)
    # worst rel err, then the noise bound there and the resolution of the tensor
    assert re.search(r"^  b2 +3 +3 +9\.90e-03 +\S+e-\d+ +-  FAIL$", text, re.M)
    assert re.search(r"^  W1 +160 +160 +\S+ +\S+ +\S+  pass$", text, re.M)
    assert_same(params, snap)


def test_single_wrong_entry_is_named_exactly():
    loss, params, grad = mlp()

    def bad(p):
        g = grad(p)
        g["W1"][3, 7] += np.abs(g["W1"]).mean()
        return g

    result = check_gradient(loss, params, bad)
    assert [c.name for c in result.failures()] == ["W1[3, 7]"]
    assert result.worst(1)[0].name == "W1[3, 7]"
    assert result.worst(1)[0].index == 3 * 16 + 7


def test_list_and_tuple_params_names():
    rng = np.random.default_rng(2)
    params = [rng.standard_normal((2, 3)), rng.standard_normal(4)]

    def loss(ps):
        return float(np.sum(ps[0] ** 2) + np.sum(np.sin(ps[1])))

    good = [2 * params[0], np.cos(params[1])]
    wrong = [2 * params[0].copy(), np.cos(params[1])]
    wrong[0][1, 2] *= 1.5
    result = check_gradient(loss, params, wrong)
    assert [c.name for c in result.failures()] == ["params[0][1, 2]"]
    assert check_gradient(loss, tuple(params), tuple(good)).passed
    assert check_gradient(loss, params, lambda ps: [2 * ps[0], np.cos(ps[1])]).passed


def test_nd_array_params_keep_their_shape_and_names():
    x = np.arange(12.0).reshape(3, 4) / 7

    def loss(a):
        assert a.shape == (3, 4)
        return float(np.sum(a[:, 1:] * a[:, :-1]))

    g = np.zeros_like(x)
    g[:, 1:] += x[:, :-1]
    g[:, :-1] += x[:, 1:]
    assert check_gradient(loss, x, g).passed
    g[2, 1] += 1
    assert [c.name for c in check_gradient(loss, x, g).failures()] == ["params[2, 1]"]


def test_callable_grad_gets_a_private_copy():
    x = np.array([1.0, 2.0])

    def grad(v):
        out = 2 * v
        v[:] = 99.0        # vandalism must not reach the user's array
        return out

    assert check_gradient(lambda v: float(v @ v), x, grad).passed
    np.testing.assert_array_equal(x, [1.0, 2.0])


# ----------------------------------------------------------------- coords
def test_coords_count_is_reproducible_and_distinct():
    x = np.linspace(-1, 1, 100)
    a = check_gradient(lambda v: float(v @ v), x, 2 * x, coords=10, seed=3)
    b = check_gradient(lambda v: float(v @ v), x, 2 * x, coords=10, seed=3)
    np.testing.assert_array_equal(a.index, b.index)
    assert np.unique(a.index).size == 10 and a.n_checked == 10
    # 2n + 3, and up to 4 probes off a grid: a quadratic's values at evenly
    # spaced points are an arithmetic progression, like a rounded loss's
    assert 2 * 10 + 3 <= a.n_evals <= 2 * 10 + 3 + 4
    c = check_gradient(lambda v: float(v @ v), x, 2 * x, coords=10, seed=4)
    assert not np.array_equal(a.index, c.index)
    rows = {t.name: t for t in a.tensors}
    assert rows["params"].checked == 10 and rows["params"].size == 100
    assert str(a).startswith("Gradient check passed: 10 of 100 coordinates (tol=1e-06")


def test_sampled_dict_check_reports_unchecked_tensors():
    p = {"a": np.ones((10, 10)), "b": np.ones(5)}
    g = {"a": 2 * np.ones((10, 10)), "b": np.full(5, 2.0)}
    r = check_gradient(lambda q: float(np.sum(q["a"] ** 2) + np.sum(q["b"])), p, g,
                       coords=np.arange(95, 105))
    assert [tuple(t)[:6] for t in r.tensors] == [
        ("a", 100, 5, 0.0, True, "passed"), ("b", 5, 5, pytest.approx(0.5), False, "failed")]
    assert re.search(r"^Gradient check FAILED: 5 of 10 checked coordinates \(105 in all\) "
                     r"in 1 of 2 tensors \(b\)", str(r))
    r = check_gradient(lambda q: float(np.sum(q["a"] ** 2) + np.sum(q["b"])), p, g, coords=[0])
    assert re.search(r"^  b +5 +0 +- +- +- +not checked$", str(r), re.M)


def test_coords_explicit_indices_only_those_are_checked():
    x = np.linspace(-1, 1, 50)
    g = 2 * x
    g[7] = 5.0
    r = check_gradient(lambda v: float(v @ v), x, g, coords=[3, 40, 10])
    np.testing.assert_array_equal(r.index, [3, 40, 10])
    assert r.passed               # coordinate 7 not checked
    r = check_gradient(lambda v: float(v @ v), x, g, coords=np.array([7, 8]))
    assert [c.name for c in r.failures()] == ["params[7]"]


@pytest.mark.parametrize("coords, exc, msg", [
    ("some", ValueError, r"coords must be 'auto', 'all', a number of coordinates or a 1-D "
                         r"sequence of flat indices, got 'some'"),
    (0, ValueError, r"coords=0 must be between 1 and the number of parameters \(5\)"),
    (6, ValueError, r"coords=6 must be between 1 and the number of parameters \(5\)"),
    (True, TypeError, r"coords must be 'auto', 'all', a number of coordinates or a 1-D "
                      r"sequence of flat indices, got True"),
    (2.5, TypeError, r"coords must be 'auto', 'all', a number of coordinates or a 1-D "
                     r"sequence of flat indices, got 2\.5"),
    (None, TypeError, r"coords must be 'auto', 'all', a number of coordinates or a 1-D "
                      r"sequence of flat indices, got None"),
    ([[1, 2]], TypeError, r"coords must be 'auto', 'all', a number of coordinates or a 1-D "
                          r"sequence of flat indices, got \[\[1, 2\]\]"),
    ([1, 5], ValueError, r"coords has indices out of range for 5 parameters: \[5\]"),
    ([-1], ValueError, r"coords has indices out of range for 5 parameters: \[-1\]"),
    ([1, 1], ValueError, r"coords has repeated indices: \[1, 1\]"),
    ([], ValueError, r"coords is empty \(\[\]\); pass"),
    (np.array([], dtype=int), ValueError, r"coords is empty"),
])
def test_coords_errors(coords, exc, msg):
    x = np.ones(5)
    with pytest.raises(exc, match=msg):
        check_gradient(lambda v: float(v @ v), x, 2 * x, coords=coords)


# ---------------------------------------------------------------- jit path
def test_jitted_loss_parallel_equals_serial_equals_python_bitwise():
    rng = np.random.default_rng(5)
    w = rng.standard_normal(300)
    par = check_gradient(sinw, w, sinw_grad(w), parallel=True)
    ser = check_gradient(sinw, w, sinw_grad(w), parallel=False)
    py = check_gradient(lambda v: sinw(v), w, sinw_grad(w))
    assert par.method == "parallel kernel" and ser.method == "compiled kernel"
    assert py.method == "python"
    np.testing.assert_array_equal(par.numerical, ser.numerical)
    np.testing.assert_array_equal(par.numerical, py.numerical)
    assert par.passed and par.n_evals == 2 * 300 + 3
    np.testing.assert_allclose(par.numerical, sinw_grad(w), rtol=1e-8, atol=1e-7)


def test_jitted_loss_finds_a_wrong_coordinate_and_leaves_params_alone():
    w = np.linspace(-2, 2, 64)
    g = sinw_grad(w)
    g[17] += 0.01
    snap = w.copy()
    r = check_gradient(sinw, w, g)
    assert [c.name for c in r.failures()] == ["params[17]"]
    assert r.failures()[0].verdict == "gradient wrong"
    np.testing.assert_array_equal(w, snap)


@numba.njit
def vandal(w):
    s = 0.0
    for i in range(w.size):
        s += w[i] * w[i]
    w[w.size - 1] = 0.0 if s > 1e9 else w[w.size - 1] * 0.5
    return s


def test_jitted_loss_modifying_input_is_an_error():
    w = np.ones(20)
    with pytest.raises(ValueError, match=r"loss modified its input: params\[19\] changed from "
                       r"1\.0 to 0\.5"):
        check_gradient(vandal, w, 2 * w)
    np.testing.assert_array_equal(w, np.ones(20))


# ---------------------------------------------------------------- diagnosis
def test_diagnosis_non_smooth_point_abs_and_relu():
    x = np.array([1e-7, 0.0, 1.0, -2e-6])
    r = check_gradient(lambda v: float(np.sum(np.abs(v))), x, np.where(x >= 0, 1.0, -1.0))
    # the kink at -2e-6 is inside the default step (~6e-6) but not inside
    # h/16: the re-check there verifies the coordinate; the kinks at 0 and
    # 1e-7 stay inside any step the check tries: inconclusive
    verdict = dict(zip(r.index.tolist(), r.verdicts.tolist()))
    assert verdict == {0: "non-smooth point", 1: "non-smooth point", 2: "ok", 3: "ok"}
    assert r.status == "inconclusive" and not r.passed and not r.failures()
    assert r.statuses.tolist() == ["inconclusive", "inconclusive", "passed", "passed"]
    r = check_gradient(lambda v: float(np.sum(np.maximum(v, 0.0))), x, (x >= 0) * 1.0)
    assert r.verdicts.tolist() == ["non-smooth point", "non-smooth point", "ok", "ok"]


def test_diagnosis_finite_difference_noise():
    # sin(1e9 x) * 1e-10 oscillates thousands of times inside one step: the
    # difference quotient of it is noise of size ~1e-10/h, erratic in h.
    x = np.random.default_rng(0).standard_normal(200)

    def noisy(v):
        return float(np.sum(v ** 2) + 1e-10 * np.sum(np.sin(1e9 * v)))

    r = check_gradient(noisy, x, 2 * x)
    verdicts = r.verdicts.tolist()
    assert "gradient wrong" not in verdicts
    assert verdicts.count("finite-difference noise") > 0.5 * verdicts.count("non-smooth point")
    assert verdicts.count("finite-difference noise") >= 100
    # the same loss with a step large enough to average the noise out passes
    assert check_gradient(noisy, x, 2 * x, h=1e-2).passed


def test_diagnosis_gradient_wrong_is_stable_under_h():
    x = np.linspace(0.5, 2, 8)
    g = np.cos(x)
    g[2] *= 1 + 1e-4
    r = check_gradient(lambda v: float(np.sum(np.sin(v))), x, g)
    (f,) = r.failures()
    assert f.name == "params[2]" and f.verdict == "gradient wrong"
    assert f.rel_error == pytest.approx(1e-4, rel=1e-3)


def test_tolerance_model_noise_bound_lets_tiny_gradients_pass():
    # coordinate 1 has a true derivative ~1e-12 next to |f| ~ 1e3: its
    # relative error is huge but below the roundoff bound eps*|f|/h.
    x = np.array([30.0, 1e-6])

    def loss(v):
        return float(v[0] ** 2 + v[1] ** 2 * 0.5e-6)

    r = check_gradient(loss, x, np.array([60.0, 1e-12]))
    assert r.rel_errors[1] > 1e-6
    assert r.passed
    assert r.noise[1] > r.abs_errors[1]


def test_float32_model_passes_with_defaults_and_a_bug_fails():
    loss, params, grad = mlp(np.float32)
    r = check_gradient(loss, params, grad)
    assert r.dtype == np.float32 and r.tol == 1e-3
    assert r.passed, str(r)
    assert r.max_rel_error > 1e-3      # would fail without the noise bound

    def bad(p):
        g = grad(p)
        g["b1"] = g["b1"] * 1.02
        return g

    r = check_gradient(loss, params, bad)
    assert not r.passed
    assert {c.name.split("[")[0] for c in r.failures()} == {"b1"}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_property_quadratic_correct_passes_and_one_planted_bug_is_found(n, seed, scale):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A = A @ A.T
    b = rng.standard_normal(n)
    x = rng.standard_normal(n) * scale

    def loss(v):
        return float(0.5 * v @ A @ v + b @ v)

    g = A @ x + b
    r = check_gradient(loss, x, g)
    assert r.passed, str(r)
    k = int(rng.integers(n))
    bad = g.copy()
    bad[k] += 1e-3 * max(abs(g[k]), np.abs(g).max(), 1.0)
    r = check_gradient(loss, x, bad)
    assert [c.index for c in r.failures()] == [k]


# ---------------------------------------------------------------- report
def test_worst_and_failures_are_sorted_and_named():
    x = np.linspace(1, 2, 10)
    g = 2 * x
    g[[2, 5, 8]] *= [1.1, 1.5, 1.01]
    r = check_gradient(lambda v: float(v @ v), x, g)
    assert [c.name for c in r.failures()] == ["params[5]", "params[2]", "params[8]"]
    assert [c.name for c in r.worst(4)][:3] == ["params[5]", "params[2]", "params[8]"]
    assert r.worst(4)[3].verdict == "ok"
    c = r.worst(1)[0]
    assert c.numerical == pytest.approx(2 * x[5], rel=1e-9)
    assert c.analytical == g[5]
    assert c.abs_error == pytest.approx(abs(c.numerical - c.analytical))
    assert c.rel_error == pytest.approx(c.abs_error / max(abs(c.numerical), abs(c.analytical)))
    assert r.max_rel_error == c.rel_error
    assert r.max_abs_error == pytest.approx(np.max(np.abs(r.numerical - g)))
    expected_seed = np.linalg.norm(g - r.numerical) / (
        np.linalg.norm(g) + np.linalg.norm(r.numerical) + 1e-15)
    assert r.rel_error == pytest.approx(expected_seed, rel=1e-12)
    rel, num = r
    assert rel == r.rel_error and num is r.numerical
    with pytest.raises(ValueError, match=r"k must be a non-negative integer, got -1"):
        r.worst(-1)


def test_report_text_layout():
    loss, params, grad = mlp()
    text = str(check_gradient(loss, params, grad))
    lines = text.splitlines()
    assert re.fullmatch(r"Gradient check passed: 227 coordinates \(tol=1e-06, float64\)", lines[0])
    assert re.match(r"  relative error \S+ \(seed definition\), max abs error \S+, max rel "
                    r"error \S+; 457 loss evaluations in .* \(python\)", lines[1])
    assert lines[2].split() == ["tensor", "size", "checked", "worst", "rel", "err", "noise",
                                "there", "resolution", "status"]
    assert [ln.split()[0] for ln in lines[3:7]] == ["W1", "b1", "W2", "b2"]
    assert lines[7] == "  worst coordinates:"
    assert len(lines) == 9 + 5


def test_raise_on_fail_carries_result_and_text():
    loss, grad, buggy, w = seed_mse()
    with pytest.raises(GradientCheckError, match=r"Gradient check FAILED: 3 of 3") as info:
        check_gradient(loss, w, buggy, raise_on_fail=True)
    assert isinstance(info.value.result, GradCheckResult)
    assert str(info.value) == str(info.value.result)
    assert isinstance(info.value, AssertionError)
    assert check_gradient(loss, w, grad, raise_on_fail=True).passed


def test_progress_true_reports_to_stderr(capsys):
    x = np.linspace(0, 1, 30)
    r = check_gradient(lambda v: float(v @ v), x, 2 * x, progress=True)
    assert r.passed
    assert capsys.readouterr().err != ""


# ------------------------------------------------------------------ faults
def test_structure_mismatch_shows_both():
    p = {"W": np.ones((2, 2)), "b": np.ones(2)}
    with pytest.raises(ValueError, match=r"grad must have the same keys as params: params has "
                       r"keys \['W', 'b'\], grad has keys \['W', 'c'\]"):
        check_gradient(lambda q: 0.0, p, {"W": np.ones((2, 2)), "c": np.ones(2)})
    with pytest.raises(ValueError, match=r"grad\['b'\] has shape \(3,\) but params\['b'\] "
                       r"has shape \(2,\)"):
        check_gradient(lambda q: 0.0, p, {"W": np.ones((2, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=r"grad must have the same structure as params: params "
                       r"is a dict with keys \['W', 'b'\], grad is an array of shape \(6,\)"):
        check_gradient(lambda q: 0.0, p, np.ones(6))
    with pytest.raises(ValueError, match=r"grad has shape \(4,\) but params has shape \(2, 2\)"):
        check_gradient(lambda q: 0.0, np.ones((2, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"params is a list of 2 arrays with shapes \[\(2,\), "
                       r"\(3,\)\], grad is a list of 1 array "):
        check_gradient(lambda q: 0.0, [np.ones(2), np.ones(3)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"grad\(params\) has shape \(3,\) but params has "
                       r"shape \(2,\)"):
        check_gradient(lambda q: 0.0, np.ones(2), lambda q: np.ones(3))


def test_empty_and_non_numeric_params():
    with pytest.raises(ValueError, match=r"params is empty: a dict with keys \[\]"):
        check_gradient(lambda q: 0.0, {}, {})
    with pytest.raises(ValueError, match=r"params is empty \(no coordinates to check\)"):
        check_gradient(lambda q: 0.0, np.ones((0, 3)), np.ones((0, 3)))
    with pytest.raises(TypeError, match=r"params\['w'\] must be real numbers, got dtype <U1"):
        check_gradient(lambda q: 0.0, {"w": np.array(["a"])}, {"w": np.ones(1)})
    with pytest.raises(TypeError, match=r"params\[1\] must be real numbers, got dtype complex128"):
        check_gradient(lambda q: 0.0, [np.ones(1), np.ones(2, complex)], [np.ones(1)] * 2)
    with pytest.raises(TypeError, match=r"params must be real numbers, got dtype bool"):
        check_gradient(lambda q: 0.0, np.array([True]), np.ones(1))
    with pytest.raises(TypeError, match=r"grad must be real numbers, got dtype object"):
        check_gradient(lambda q: 0.0, np.ones(2), np.array([None, 1]))
    with pytest.raises(ValueError, match=r"params must be finite; params\[1\] is "
                       r"np.float64\(nan\)"):
        check_gradient(lambda q: 0.0, np.array([1.0, np.nan]), np.ones(2))


@pytest.mark.parametrize("value, msg", [
    (np.ones(3), r"loss must return a real scalar, got an array of shape \(3,\)"),
    (np.ones(1), r"loss must return a real scalar, got an array of shape \(1,\)"),
    ("1.0", r"loss must return a real scalar, got str: '1\.0'"),
    (None, r"loss must return a real scalar, got NoneType: None"),
    (1 + 2j, r"loss must return a real scalar, got complex: \(1\+2j\)"),
    (True, r"loss must return a real scalar, got True of type bool"),
])
def test_loss_returning_a_non_scalar(value, msg):
    with pytest.raises(TypeError, match=msg):
        check_gradient(lambda q: value, np.ones(3), np.ones(3))


def test_loss_returning_a_non_scalar_only_when_perturbed_names_the_coordinate():
    x = np.zeros(4)

    def loss(v):
        return np.ones(2) if v[2] > 0 else 0.0

    with pytest.raises(TypeError, match=r"got an array of shape \(2,\).*\(at params\[2\] \+ h\)"):
        check_gradient(loss, x, np.zeros(4))


def test_loss_not_callable():
    with pytest.raises(TypeError, match=r"loss must be callable, got 3"):
        check_gradient(3, np.ones(2), np.ones(2))


def test_loss_raising_is_reraised_with_the_coordinate_name_params_untouched():
    loss, params, grad = mlp()
    snap = snapshot(params)
    calls = {"n": 0}

    def fragile(p):
        calls["n"] += 1
        if calls["n"] == 2 + 2 * 50 + 2:        # the minus side of flat coordinate 50
            raise ZeroDivisionError("boom")
        return loss(p)

    with pytest.raises(LossEvaluationError, match=r"loss raised ZeroDivisionError at W1\[3, 2\] "
                       r"- h: boom") as info:
        check_gradient(fragile, params, grad)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert_same(params, snap)

    def broken(p):
        raise KeyError("nope")

    with pytest.raises(LossEvaluationError, match=r"loss raised KeyError at the unperturbed "
                       r"params: 'nope'"):
        check_gradient(broken, params, grad)
    assert_same(params, snap)


def test_keyboard_interrupt_propagates_params_untouched():
    x = np.linspace(0, 1, 10)
    snap = x.copy()
    calls = {"n": 0}

    def loss(v):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return float(v @ v)

    with pytest.raises(KeyboardInterrupt):
        check_gradient(loss, x, 2 * x)
    np.testing.assert_array_equal(x, snap)
    assert x.flags.writeable


def test_loss_modifying_its_input_is_detected():
    x = np.ones(5)

    def always(v):
        v[0] = 3.0
        return float(v @ v)

    with pytest.raises(ValueError, match=r"loss modified its input at the unperturbed params "
                       r"\(assignment destination is read-only\)\. A loss must not write"):
        check_gradient(always, x, 2 * x)
    calls = {"n": 0}

    def sometimes(v):
        calls["n"] += 1
        if calls["n"] == 7:
            v[4] += 1.0
        return float(v @ v)

    with pytest.raises(ValueError, match=r"loss modified its input at params\[2\] \+ h "
                       r"\(assignment destination is read-only\)"):
        check_gradient(sometimes, x, 2 * x)
    np.testing.assert_array_equal(x, np.ones(5))


def test_non_deterministic_loss_is_warned_and_reported():
    rng = np.random.default_rng(0)
    x = np.linspace(1, 2, 6)

    def jitter(v):
        return float(v @ v + 1e-9 * rng.standard_normal())

    with pytest.warns(RuntimeWarning, match=r"loss is not deterministic: three evaluations at "
                      r"the same params gave"):
        r = check_gradient(jitter, x, 2 * x)
    assert r.nondeterminism > 0
    assert "loss is not deterministic" in str(r)
    assert r.noise.min() > r.nondeterminism / r.steps.max()


def test_non_finite_loss_at_a_coordinate_is_inconclusive_and_reported():
    x = np.array([1.0, 1e-7, 2.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = check_gradient(lambda v: float(np.sum(np.log(v))), x, 1 / x)
    # a loss not finite at x - h proves nothing about the gradient
    assert not r.passed and r.status == "inconclusive"
    assert r.verdicts.tolist() == ["ok", "non-finite loss", "ok"]
    assert r.undecided()[0].name == "params[1]" and not r.failures()
    assert "non-finite loss" in str(r) and "smaller h" in str(r)


def test_non_finite_analytic_gradient_fails():
    x = np.array([1.0, 2.0])
    r = check_gradient(lambda v: float(v @ v), x, np.array([2.0, np.inf]))
    assert r.verdicts.tolist() == ["ok", "non-finite gradient"]
    assert not r.passed and r.status == "failed"


def test_non_finite_loss_at_params_is_an_error():
    with pytest.raises(ValueError, match=r"loss is not finite at the unperturbed params: nan"):
        check_gradient(lambda v: float("nan"), np.ones(2), np.ones(2))


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(h=0.0), ValueError, r"h must be positive and finite, got 0\.0"),
    (dict(h=float("nan")), ValueError, r"h must be positive and finite, got nan"),
    (dict(h="big"), TypeError, r"h must be a positive real number or array, got 'big'"),
    (dict(h=np.ones(2)), ValueError, r"h must be a scalar or an array of shape \(3,\) \(one "
     r"step per flat parameter\), got shape \(2,\)"),
    (dict(h=np.array([1e-3, -1e-3, 1e-3])), ValueError, r"h must be positive and finite, got"),
    (dict(h=1e-30), ValueError, r"h=1e-30 is too small for params\[1\] = np.float64\(2.0\): "
     r"x \+ h or x - h rounds to x in float64"),
    (dict(tol=-1.0), ValueError, r"tol must be positive and finite, got -1\.0"),
    (dict(tol="x"), TypeError, r"tol must be a positive real number, got 'x'"),
    (dict(seed=1.5), TypeError, r"seed must be None, an integer or a numpy.random.Generator, got 1\.5"),
    (dict(parallel="yes"), TypeError, r"parallel must be None, True or False, got 'yes'"),
    (dict(parallel=True), ValueError, r"parallel=True needs a Numba-jitted loss of one 1-D "
     r"float array"),
    (dict(raise_on_fail=1), TypeError, r"raise_on_fail must be True or False, got 1"),
    (dict(progress="bar"), TypeError, r"progress must be None, True or False, got 'bar'"),
])
def test_bad_options(kw, exc, msg):
    x = np.array([0.0, 2.0, 3.0])
    with pytest.raises(exc, match=msg):
        check_gradient(lambda v: float(v @ v), x, 2 * x, **kw)


def test_float32_params_and_float32_loss_use_float32_eps():
    x = np.linspace(1, 2, 5).astype(np.float32)
    r = check_gradient(lambda v: np.sum(v * v), x, 2 * x)
    assert r.dtype == np.float32 and r.problem.x0.dtype == np.float32
    # float32 steps: eps32**(1/3) ~ 4.9e-3 rounded down to a power of two
    assert np.all(r.steps >= 2.0 ** -8)
    # a float64 model whose loss is computed in float32 is checked at float32 precision
    x64 = x.astype(np.float64)
    r = check_gradient(lambda v: np.sum(v.astype(np.float32) ** 2), x64, 2 * x64)
    assert r.dtype == np.float32 and r.passed


# ---------------------------------------------------------- the flat layer
def test_flat_problem_layout_and_names():
    p = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([6.0, 7.0]),
         "s": np.array(8.0)}
    fp = FlatProblem(p, {k: -v for k, v in p.items()}, lambda q: 0.0)
    np.testing.assert_array_equal(fp.x0, np.arange(9.0))
    np.testing.assert_array_equal(fp.g, -np.arange(9.0))
    assert fp.blocks == (("W1", 0, 6, (2, 3)), ("b1", 6, 8, (2,)), ("s", 8, 9, ()))
    assert [fp.name(i) for i in (0, 5, 6, 8)] == ["W1[0, 0]", "W1[1, 2]", "b1[0]", "s"]
    assert not fp.x0.flags.writeable
    with pytest.raises(IndexError, match=r"coordinate 9 is out of range for 9"):
        fp.name(9)
    v = fp.views(np.arange(9.0) * 2)
    assert v["W1"].shape == (2, 3) and v["b1"][1] == 14.0 and v["s"].shape == ()
    mixed = FlatProblem([np.ones(2, np.float32), np.ones(2)], [np.ones(2)] * 2)
    assert mixed.dtype == np.float64
    assert FlatProblem([np.ones(2, np.float32)] * 2, [np.ones(2)] * 2).dtype == np.float32
    assert FlatProblem(np.ones(3), np.ones(3), sinw).jitted
    assert not FlatProblem(np.ones((3, 1)), np.ones((3, 1)), sinw).jitted
    assert not FlatProblem(np.ones(3), np.ones(3), lambda v: 0.0).jitted


@numba.njit
def picky(w):
    if w[3] > 1.0:
        raise ValueError("w[3] out of the domain")
    return np.sum(w * w)


def test_jitted_loss_raising_inside_the_kernel_names_the_coordinate():
    w = np.linspace(0, 1, 40)
    w[3] = 1.0                         # w[3] + h leaves the domain
    with pytest.raises(LossEvaluationError, match=r"loss raised ValueError at params\[3\] \+ h: "
                       r"w\[3\] out of the domain"):
        check_gradient(picky, w, 2 * w)
    assert w[3] == 1.0


def test_jitted_progress_reports_between_pieces(capsys):
    w = np.linspace(-1, 1, 200)
    r = check_gradient(sinw, w, sinw_grad(w), progress=True)
    assert r.passed and r.method == "parallel kernel"
    assert capsys.readouterr().err != ""


def test_result_indexes_like_the_seed_tuple():
    loss, _, buggy, w = seed_mse()
    r = gradient_check(loss, w, buggy(w), verbose=False)
    assert len(r) == 2 and r[0] is r.rel_error and r[1] is r.numerical
    assert type(r[0]) is np.float64           # as the seed returns it
    assert tuple(r)[0] == r[0]


def test_blas_is_limited_to_one_thread_on_the_parallel_path(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import fastfd._kernels.gradcheck as K
    seen = []
    original = K.central_values_parallel

    def spy(*args):
        seen.append({i["num_threads"] for i in threadpoolctl.threadpool_info()
                     if i["user_api"] == "blas"})
        return original(*args)

    monkeypatch.setattr(K, "central_values_parallel", spy)
    w = np.linspace(-1, 1, 64)
    assert check_gradient(sinw, w, sinw_grad(w), parallel=True).passed
    assert seen == [{1}]


def test_non_deterministic_non_finite_loss_is_an_error():
    calls = {"n": 0}

    def flaky(v):
        calls["n"] += 1
        return float("nan") if calls["n"] == 2 else float(v @ v)

    with pytest.raises(ValueError, match=r"loss is not deterministic and not finite: three "
                       r"evaluations at the same params gave 2\.0, nan, 2\.0"):
        check_gradient(flaky, np.ones(2), 2 * np.ones(2))


def test_seed_gradient_check_with_a_jitted_loss_runs_the_kernel_and_matches_the_seed():
    w = np.linspace(-2, 2, 50)
    h = 1e-5
    expected = np.empty(50)
    for i in range(50):
        p_plus = w.copy()
        p_plus[i] += h
        p_minus = w.copy()
        p_minus[i] -= h
        expected[i] = (sinw(p_plus) - sinw(p_minus)) / (2 * h)
    r = gradient_check(sinw, w, sinw_grad(w), verbose=False)
    assert r.method == "parallel kernel"
    np.testing.assert_array_equal(r.numerical, expected)
    assert r.passed and r.rel_error < 1e-9


def test_centered_difference_converges_with_slope_two():
    x = np.linspace(0.3, 1.2, 5)
    hs = 2.0 ** -np.arange(3, 9)
    errs = [np.max(np.abs(check_gradient(lambda v: float(np.sum(np.sin(v))), x, np.cos(x),
                                         h=h, tol=1.0).numerical - np.cos(x))) for h in hs]
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - 2) < 0.2


# ---------------------------------------------------------------- package layout
def _sibling_imports():
    """``{module: (siblings imported at module top, imports of a sibling inside
    a function)}`` for the modules of fastfd.gradcheck."""
    import ast
    import pathlib

    import fastfd.gradcheck as pkg

    graph = {}
    for path in sorted(pathlib.Path(pkg.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        top, nested = set(), []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module] if node.module else [a.name for a in node.names]
                if node in tree.body:
                    top.update(name.split(".")[0] for name in names)
                else:
                    nested.append(f"{path.name}:{node.lineno}")
        graph[path.stem] = (top, nested)
    return graph


def test_gradcheck_modules_import_one_way():
    graph = _sibling_imports()
    assert [where for _, nested in graph.values() for where in nested] == []
    # an order in which every module comes after the siblings it imports
    done, order = set(), []
    while len(done) < len(graph):
        ready = sorted(m for m, (deps, _) in graph.items()
                       if m not in done and deps - {m} <= done)
        assert ready, f"import cycle among {sorted(set(graph) - done)}"
        done.update(ready)
        order += ready
    assert (order.index("__init__") > order.index("_check") > order.index("_planner")
            > order.index("_sampling"))

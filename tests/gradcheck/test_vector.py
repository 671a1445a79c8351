"""check_vjp, check_jvp and check_jacobian: planted bugs named per entry,
correct float32 and float64 functions passing, faults, and the projection's
roundoff model. References are analytic derivatives written here."""

import math
import warnings

import numpy as np
import pytest

import fastfd
from fastfd.gradcheck import EntryCheck, GradientCheckError, LossEvaluationError
from fastfd.gradcheck._params import InputWriteError, LossReturnError

SQRT2 = math.sqrt(2.0)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    x64 = np.asarray(x, dtype=np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / SQRT2))).astype(np.asarray(x).dtype)


def gelu_grad(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + _erf(x / SQRT2)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def gelu_tanh_grad(x):
    """The derivative of GELU's tanh approximation: the planted bug."""
    x = np.asarray(x, dtype=np.float64)
    c = math.sqrt(2.0 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)


def dense(p):
    """y = {"h": tanh(W x + b), "s": [sum(x**2)]}."""
    h = np.tanh(p["W"] @ p["x"] + p["b"])
    return {"h": h, "s": np.array([np.sum(p["x"] ** 2)], dtype=h.dtype)}


def dense_vjp(p, w, bug=None):
    t = np.tanh(p["W"] @ p["x"] + p["b"])
    d = w["h"] * (1 - t * t)
    gW = np.outer(d, p["x"])
    if bug == "transposed":
        gW = gW.T
    gb = d * 1.01 if bug == "bias" else d
    gx = p["W"].T @ d + 2 * p["x"] * w["s"][0]
    return {"W": gW, "x": gx, "b": gb}


def dense_params(dtype, seed, n=12):
    rng = np.random.default_rng(seed)
    return {"W": (rng.standard_normal((n, n)) / math.sqrt(n)).astype(dtype),
            "x": rng.standard_normal(n).astype(dtype),
            "b": (0.1 * rng.standard_normal(n)).astype(dtype)}


def layer_norm(p):
    x, g = p["x"], p["gamma"]
    mu = x.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    return (x - mu) / sigma * g


def layer_norm_vjp(p, w, bug=False):
    x, g = p["x"], p["gamma"]
    mu = x.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    xhat = (x - mu) / sigma
    gg = w * g
    dx = gg - (xhat * gg).mean(axis=-1, keepdims=True) * xhat
    if not bug:
        dx = dx - gg.mean(axis=-1, keepdims=True)
    return {"x": dx / sigma, "gamma": (w * xhat).sum(axis=0)}


# ------------------------------------------------------------ planted bugs
def test_gelu_with_the_tanh_approximation_backward_is_named_in_float64():
    x = np.random.default_rng(0).standard_normal(200)
    r = fastfd.check_vjp(gelu, x, lambda x, w: w * gelu_tanh_grad(x), seed=0, budget=2.0)
    assert r.status == "failed"
    assert r.entries and all(isinstance(e, EntryCheck) for e in r.entries)
    # an elementwise op: every wrong entry sits on the diagonal
    assert all(e.output == e.input for e in r.entries)
    e = r.entries[0]
    assert e.name == f"y[{e.output}] / x[{e.input}]"
    xi = x[e.input]
    assert e.numerical == pytest.approx(gelu_grad(xi), rel=1e-6)
    assert e.analytical == pytest.approx(gelu_tanh_grad(xi), rel=1e-12)


def test_gelu_tanh_backward_in_float32_is_never_passed():
    # the largest error, 8.7e-4 at x = -2.02, is at float32's resolution
    x = np.random.default_rng(1).standard_normal(200).astype(np.float32)
    r = fastfd.check_vjp(gelu, x, lambda x, w: w * gelu_tanh_grad(x), seed=0, budget=2.0)
    assert r.status != "passed"


def test_layer_norm_backward_without_the_mean_term_is_named():
    rng = np.random.default_rng(2)
    p = {"x": rng.standard_normal((4, 8)), "gamma": 1.0 + 0.1 * rng.standard_normal(8)}
    good = fastfd.check_vjp(layer_norm, p, layer_norm_vjp, seed=0, budget=2.0)
    assert good.status == "passed", good
    r = fastfd.check_vjp(layer_norm, p, lambda p, w: layer_norm_vjp(p, w, bug=True), seed=0,
                         budget=2.0)
    assert r.status == "failed"
    assert r.failures() and all(c.name.startswith('x["x"][') for c in r.failures())
    assert r.entries and all(e.name.startswith("y[") and ' / x["x"][' in e.name
                             for e in r.entries)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transposed_weight_gradient_on_a_square_matrix_is_named(dtype):
    p = dense_params(dtype, 3)
    r = fastfd.check_vjp(dense, p, lambda p, w: dense_vjp(p, w, "transposed"), seed=0,
                         budget=2.0)
    assert r.status == "failed"
    names = {c.name for c in r.failures()}
    assert names and all(n.startswith('x["W"][') for n in names)
    # the diagonal of a transposed outer product is right
    assert not any(c.index // 12 == c.index % 12 for c in r.failures())
    e = r.entries[0]
    assert e.name.startswith('y["h"][') and ' / x["W"][' in e.name
    i, (a, b) = e.output, divmod(e.input, 12)
    t = np.tanh(p["W"].astype(np.float64) @ p["x"] + p["b"])
    # d h_i / d W[a, b] = (1 - t_i**2) x_b if i == a else 0
    exact = (1 - t[i] ** 2) * p["x"][b] if i == a else 0.0
    assert e.numerical == pytest.approx(exact, abs=1e-3 if dtype == np.float32 else 1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_gradient_scaled_by_1_01_is_named(dtype):
    p = dense_params(dtype, 4)
    r = fastfd.check_vjp(dense, p, lambda p, w: dense_vjp(p, w, "bias"), seed=0, budget=2.0)
    assert r.status == "failed"
    assert {c.name[:len('x["b"]')] for c in r.failures()} == {'x["b"]'}
    e = r.entries[0]
    k = e.input - (12 * 12 + 12)            # flat layout: W, x, b
    assert e.name == f'y["h"][{k}] / x["b"][{k}]'
    assert e.analytical == pytest.approx(1.01 * e.numerical, rel=2e-3)


def test_one_wrong_entry_among_1e5_inputs_is_named():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((316, 316))
    v = rng.standard_normal(316)

    def f(p):
        return np.tanh(p["W"] @ v)

    def vjp(p, w):
        d = w * (1 - np.tanh(p["W"] @ v) ** 2)
        g = np.outer(d, v)
        g[71, 60] += 5.0 * w[71]           # dy_71 / dW[71, 60] off by 5
        return {"W": g}

    r = fastfd.check_vjp(f, {"W": W}, vjp, seed=0, budget=3.0)
    assert r.mode == "sampled"
    assert r.status == "failed"
    assert [c.name for c in r.failures()] == ['x["W"][71, 60]']
    assert [e.name for e in r.entries] == ['y[71] / x["W"][71, 60]']


def test_one_wrong_vjp_entry_among_1e6_outputs_costs_log_evaluations():
    n = 10 ** 6
    x = np.random.default_rng(6).standard_normal(n)

    def vjp(x, w):
        g = w * np.cos(x)
        g[123456] *= 1.5
        return g

    r = fastfd.check_vjp(np.sin, x, vjp, seed=0, coords=0, directions=1, projections=1)
    assert r.status == "failed"
    assert [e.name for e in r.entries] == ["y[123456] / x[123456]"]
    log2 = math.log2(n)
    # bisection over inputs (~8 log2 n evaluations of f) and over outputs
    # (~2 log2 n VJPs, none of f): nothing close to n
    assert r.n_evals < 16 * log2
    assert r.n_analytic < 4 * log2


# ------------------------------------------------------ correct functions
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_correct_functions_pass(dtype, seed):
    p = dense_params(dtype, 10 + seed)
    r = fastfd.check_vjp(dense, p, dense_vjp, seed=seed, budget=2.0)
    assert r.status == "passed", r
    x = np.random.default_rng(seed).standard_normal(300).astype(dtype)
    r = fastfd.check_vjp(gelu, x, lambda x, w: w * gelu_grad(x), seed=seed, budget=2.0)
    assert r.status == "passed", r


def test_float32_keeps_its_resolution_with_10000_outputs():
    # w . y sums 10,000 outputs; a step of one input changes one of them: the
    # roundoff bound follows that one, not the sum (which would leave 5e-2)
    x = np.random.default_rng(7).standard_normal(10_000).astype(np.float32)
    r = fastfd.check_vjp(gelu, x, lambda x, w: w * gelu_grad(x), seed=0, coords=400,
                         projections=1)
    assert r.status == "passed", r
    assert float(np.max(r.resolution)) < 5e-3


# ---------------------------------------------------------------- JVP, J
A = np.array([[1.0, 2.0, -0.5], [0.5, -1.0, 0.25], [3.0, 0.0, 1.0], [0.2, 0.4, -2.0]])
X3 = np.array([0.3, -0.2, 0.1])


def sin_a(x):
    return np.sin(A @ x)


def sin_a_jacobian(x):
    return np.cos(A @ x)[:, None] * A


def test_jacobian_matrix_and_callable():
    assert fastfd.check_jacobian(sin_a, X3, sin_a_jacobian(X3)).status == "passed"
    assert fastfd.check_jacobian(sin_a, X3, sin_a_jacobian).status == "passed"
    J = sin_a_jacobian(X3)
    J[2, 1] += 1e-4
    r = fastfd.check_jacobian(sin_a, X3, J)
    assert r.status == "failed"
    assert [e.name for e in r.entries] == ["y[2] / x[1]"]
    assert r.entries[0].analytical == J[2, 1]


def test_jacobian_of_arrays_in_their_own_shape():
    x = np.arange(6.0).reshape(2, 3) / 10
    J = np.zeros((2, 3, 2, 3))
    for i in np.ndindex(2, 3):
        J[i + i] = np.cos(x[i])
    assert fastfd.check_jacobian(np.sin, x, J).status == "passed"
    J[1, 2, 0, 1] = 0.5
    r = fastfd.check_jacobian(np.sin, x, J)
    assert [e.name for e in r.entries] == ["y[1, 2] / x[0, 1]"]


def test_jvp_checks_columns_entry_by_entry():
    def jvp(x, v):
        return np.cos(A @ x) * (A @ v)

    assert fastfd.check_jvp(sin_a, X3, jvp).status == "passed"

    def bad(x, v):
        out = jvp(x, v)
        out[3] += 1e-3 * v[1]
        return out

    r = fastfd.check_jvp(sin_a, X3, bad)
    assert r.status == "failed"
    assert [e.name for e in r.entries] == ["y[3] / x[1]"]
    assert r.n_analytic >= 3


def test_jvp_of_a_large_input_checks_a_sample():
    x = np.random.default_rng(8).standard_normal(3000)
    r = fastfd.check_jvp(np.sin, x, lambda x, v: np.cos(x) * v, coords=50, seed=0)
    assert r.status == "passed"
    assert r.n_checked == 50 and r.mode == "sampled"
    assert r.notes == ["JVP columns of 50 of 3,000 inputs only (one JVP per input); check_vjp "
                       "covers every input by directions and bisection"]
    with pytest.raises(ValueError, match="directions=3 needs every JVP column"):
        fastfd.check_jvp(np.sin, x, lambda x, v: np.cos(x) * v, coords=50, directions=3)


# ---------------------------------------------------------------- structures
def test_list_inputs_and_tuple_outputs_are_named_by_position():
    def f(xs):
        a, b = xs
        return (a * b, np.array([a.sum()]))

    def vjp(xs, w):
        a, b = xs
        return [w[0] * b + w[1][0], w[0] * a * 1.001]

    r = fastfd.check_vjp(f, [np.array([1.0, 2.0]), np.array([3.0, -1.0])], vjp)
    assert r.status == "failed"
    assert {c.name for c in r.failures()} == {"x[1][0]", "x[1][1]"}
    assert {e.name for e in r.entries} == {"y[0][0] / x[1][0]", "y[0][1] / x[1][1]"}


def test_report_names_the_check_and_the_entries():
    J = sin_a_jacobian(X3)
    J[0, 0] *= 1.1
    text = str(fastfd.check_jacobian(sin_a, X3, J))
    assert text.startswith("Jacobian check FAILED")
    assert "y[0] / x[0]" in text
    assert "1 projection of 4 outputs" in text or "projections of 4 outputs" in text


def test_raise_on_fail_carries_the_result():
    J = sin_a_jacobian(X3)
    J[1, 2] = 7.0
    with pytest.raises(GradientCheckError) as info:
        fastfd.check_jacobian(sin_a, X3, J, raise_on_fail=True)
    assert info.value.result.entries[0].name == "y[1] / x[2]"


# -------------------------------------------------------------------- faults
X6 = np.linspace(0.1, 1.0, 6)


def cos_vjp(x, w):
    return w * np.cos(x)


def test_f_raising_at_a_perturbed_point_names_the_coordinate():
    def f(x):
        if x[2] != X6[2]:
            raise ZeroDivisionError("boom")
        return np.sin(x)

    with pytest.raises(LossEvaluationError,
                       match=r"^f raised ZeroDivisionError at x\[2\] \+ h: boom"):
        fastfd.check_vjp(f, X6, cos_vjp, coords="all")


def test_f_writing_to_its_input_is_an_error():
    def f(x):
        x[0] = 5.0
        return np.sin(x)

    with pytest.raises(InputWriteError, match=r"^f modified its input .*x\[0\] changed"):
        fastfd.check_vjp(f, X6, cos_vjp)


def test_nondeterministic_f_is_reported_not_passed():
    rng = np.random.default_rng(0)

    def f(x):
        return np.sin(x) + 1e-9 * rng.standard_normal(x.size)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fastfd.check_vjp(f, X6, cos_vjp, coords="all")
    assert r.status == "inconclusive"
    assert "non-deterministic loss" in set(r.verdicts)
    assert any("not deterministic" in str(w.message) for w in caught)


def test_nonfinite_output_at_a_step_is_inconclusive_there():
    def f(x):
        y = np.sin(x)
        if x[4] != X6[4]:
            y[1] = np.nan
        return y

    r = fastfd.check_vjp(f, X6, cos_vjp, coords="all")
    assert r.status == "inconclusive"
    assert [c.name for c in r.undecided()] == ["x[4]"]
    assert r.undecided()[0].verdict == "non-finite loss"


def test_output_changing_shape_is_named():
    def f(x):
        return np.sin(x) if x[0] == X6[0] else np.sin(x)[:3]

    with pytest.raises(LossReturnError, match=r"f returned a different output: f\(x\) has "
                                              r"shape \(3,\) but y has shape \(6,\)"):
        fastfd.check_vjp(f, X6, cos_vjp, coords="all")


@pytest.mark.parametrize("f, vjp, exc, match", [
    (lambda x: np.sin(x) + 0j, cos_vjp, TypeError,
     r"y has dtype complex128: complex values are not supported"),
    (lambda x: np.arange(6), cos_vjp, TypeError,
     r"y has dtype int64: f must return floating-point outputs"),
    (lambda x: np.full(6, np.nan), cos_vjp, ValueError,
     r"f\(x\) must be finite at the unperturbed x; y\[0\] is"),
    (np.sin, lambda x, w: 1 / 0, LossEvaluationError,
     r"vjp raised ZeroDivisionError at the unperturbed x"),
    (np.sin, lambda x, w: w[:3], ValueError,
     r"vjp\(x, w\) has shape \(3,\) but x has shape \(6,\)"),
    (np.sin, lambda x, w: None, TypeError, r"vjp\(x, w\) must be real numbers"),
    (np.sin, "cos", TypeError, r"vjp must be callable, got 'cos'"),
    ("sin", cos_vjp, TypeError, r"f must be callable, got 'sin'"),
])
def test_bad_functions_are_named(f, vjp, exc, match):
    with pytest.raises(exc, match=match):
        fastfd.check_vjp(f, X6, vjp)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"projections": 0}, ValueError, r"projections must be >= 1, got 0"),
    ({"budget": -1}, ValueError, r"budget must be a positive, finite number"),
    ({"coords": "some"}, ValueError, r"coords must be 'auto', 'all'"),
    ({"seed": -3}, ValueError, r"seed must be a non-negative integer, got -3"),
])
def test_bad_options_are_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fastfd.check_vjp(np.sin, X6, cos_vjp, **kwargs)


def test_complex_or_nonfinite_inputs_and_bad_jacobians_are_refused():
    with pytest.raises(TypeError, match=r"x has dtype complex128: complex values"):
        fastfd.check_vjp(np.sin, X6 + 1j, cos_vjp)
    with pytest.raises(ValueError, match=r"x must be finite; x\[1\] is"):
        fastfd.check_vjp(np.sin, np.array([0.0, np.inf]), cos_vjp)
    with pytest.raises(ValueError, match=r"jac has shape \(5, 5\); expected \(6, 6\)"):
        fastfd.check_jacobian(np.sin, X6, np.eye(5))
    with pytest.raises(TypeError, match="jac must be one array"):
        fastfd.check_jacobian(np.sin, X6, [np.eye(6)])


def test_the_users_arrays_and_cotangents_are_not_modified():
    x = X6.copy()
    seen = []

    def vjp(x, w):
        seen.append(w.copy())
        g = w * np.cos(x)
        w[:] = 0.0                      # a VJP that scribbles on its cotangent
        return g

    r = fastfd.check_vjp(np.sin, x, vjp, coords="all")
    assert r.status == "passed"
    np.testing.assert_array_equal(x, X6)
    # each call got a fresh cotangent (a +-1 projection, or one output's
    # unit vector in the entry-by-entry check), never the zeroed one
    assert len(seen) >= 2 and all(np.any(s != 0) for s in seen)


# -------------------------------------------------------- entry by entry
def cancelling_jacobian():
    """Two errors in one column, equal and opposite: a projection whose
    weights agree on both outputs cannot see them (probability 1/2 each)."""
    J = sin_a_jacobian(X3)
    J[0, 1] += 1e-3
    J[1, 1] -= 1e-3
    return J


def test_entry_by_entry_check_finds_errors_that_cancel_in_a_sign_projection():
    J = cancelling_jacobian()
    via_entries = 0
    for seed in range(8):
        r = fastfd.check_jacobian(sin_a, X3, J, seed=seed, projections=1)
        assert r.status == "failed", seed
        assert {e.name for e in r.entries} == {"y[0] / x[1]", "y[1] / x[1]"}
        via_entries += any("entry-by-entry" in note for note in r.notes)
    # one +-1 projection cancels them on about half of the seeds
    assert via_entries >= 1


def test_a_normal_projection_sees_errors_that_cancel_for_signs():
    J = cancelling_jacobian()
    for seed in range(8):
        r = fastfd.check_jacobian(sin_a, X3, J, seed=seed)
        assert r.status == "failed", seed
        assert not any("entry-by-entry" in note for note in r.notes)


@pytest.mark.parametrize("vjp", [
    lambda x, w: np.sign(w) * np.cos(x),                # right for every +-1 weight
    lambda x, w: np.clip(w, -1.0, 1.0) * np.cos(x),     # a backward that clips its input
])
def test_a_vjp_that_is_not_linear_in_its_cotangent_fails(vjp):
    x = np.linspace(-1.0, 1.0, 7)
    for seed in range(3):
        r = fastfd.check_vjp(np.sin, x, vjp, seed=seed)
        assert r.status == "failed", str(r)


def test_a_passed_full_check_reports_its_entry_by_entry_check():
    r = fastfd.check_jacobian(sin_a, X3, sin_a_jacobian(X3))
    assert r.status == "passed"
    assert r.notes == ["all 12 Jacobian entries checked one by one"]
    r = fastfd.check_vjp(sin_a, X3, lambda x, w: sin_a_jacobian(x).T @ w)
    assert r.notes == ["all 12 Jacobian entries checked one by one"]
    # a VJP per projection, two for linearity (3.7 w, w1 + w2), one per output row
    assert r.n_analytic == 2 + 2 + 4


# ------------------------------------------------- outputs that round away
def test_an_output_whose_change_rounds_away_never_fails_a_correct_jacobian():
    # y[1] = 1e4 + 0.01 x in float32 moves by less than one ulp (9.8e-4) at
    # the step: its centered difference is 0, not 0.01; that is no evidence
    x = np.array([0.7], dtype=np.float32)

    def f(x):
        return np.concatenate([x, np.float32(1e4) + np.float32(0.01) * x])

    J = np.array([[1.0], [0.01]])
    for seed in range(3):
        r = fastfd.check_jacobian(f, x, J, seed=seed)
        assert r.status != "failed", str(r)
    r = fastfd.check_vjp(f, x, lambda x, w: J.T @ w, seed=0)
    assert r.status != "failed", str(r)
    # a real error on the output that moves is still found
    bad = J.copy()
    bad[0, 0] = 1.3
    r = fastfd.check_jacobian(f, x, bad, seed=0)
    assert r.status == "failed" and [e.name for e in r.entries] == ["y[0] / x[0]"], str(r)


def test_a_float32_output_next_to_a_float64_one_sets_the_precision():
    # the float64 output alone would ask for tol 1e-6 and float64 steps, which
    # the float32 output (slope 0.005) cannot resolve
    x = np.linspace(0.1, 0.9, 4)

    def f(x):
        return {"a": (1.0 + 0.005 * x).astype(np.float32), "b": np.cos(x)}

    def vjp(x, w):
        return 0.005 * w["a"] - np.sin(x) * w["b"]

    for seed in range(3):
        r = fastfd.check_vjp(f, x, vjp, seed=seed)
        assert r.status != "failed", str(r)
        assert r.tol == 1e-3 and r.dtype == np.float32


def test_a_jvp_that_is_not_linear_in_its_tangent_fails():
    # right at every unit tangent e_j, which is all the columns see
    r = fastfd.check_jvp(np.sin, X6, lambda x, v: np.cos(x) * v ** 3, seed=0)
    assert r.status == "failed" and not r.passed
    assert str(r).startswith("JVP check FAILED: jvp is not linear in v")
    r = fastfd.check_jvp(np.sin, X6, lambda x, v: np.cos(x) * v, seed=0)
    assert r.status == "passed", str(r)


def test_a_derivative_writing_to_its_point_is_refused():
    def vjp(x, w):
        x[0] = 5.0
        return w * np.cos(x)

    with pytest.raises(InputWriteError,
                       match=r"vjp modified its input at the unperturbed x .*x\[0\] changed"):
        fastfd.check_vjp(np.sin, X6, vjp)

    def jvp(x, v):
        x[1] = 0.0
        return np.cos(x) * v

    with pytest.raises(InputWriteError,
                       match=r"jvp modified its input at the unperturbed x .*x\[1\] changed"):
        fastfd.check_jvp(np.sin, X6, jvp)


def test_f_rebinding_a_key_of_its_input_dict_does_not_compound():
    def f(p):
        p["a"] = p["a"] * 2.0               # rebinds, does not write
        return np.sin(p["a"])

    def vjp(p, w):
        return {"a": 2.0 * w * np.cos(2.0 * p["a"])}

    r = fastfd.check_vjp(f, {"a": X6}, vjp, seed=0)
    assert r.status == "passed", str(r)


def test_a_gradient_that_is_zero_to_roundoff_passes():
    # x symmetric about 0: sum(w * sin(x)) for the scalar s cancels for +-1
    # weights; with no scale of its own the tensor takes the whole gradient's
    x = np.linspace(-2.0, 2.0, 6)

    def f(q):
        return q["s"][0] * np.sin(q["x"])

    def vjp(q, w):
        return {"x": w * q["s"][0] * np.cos(q["x"]), "s": np.array([np.sum(w * np.sin(q["x"]))])}

    for seed in range(6):
        r = fastfd.check_vjp(f, {"x": x, "s": np.array([1.5])}, vjp, seed=seed)
        assert r.status == "passed", str(r)


def test_outputs_that_never_move_at_the_probed_steps_never_fail_a_correct_vjp():
    # cumsum in float32 after 3e7: ulp 2, so a step of x[k >= 1] moves no
    # output even at 1024 h; the derivative 1 is not decidable there
    x = np.array([3e7, 0.3, -0.2, 0.7, 0.1, 0.5], dtype=np.float32)

    def vjp(x, w):
        return np.cumsum(w[::-1])[::-1]

    for seed in range(2):
        r = fastfd.check_vjp(lambda x: np.cumsum(x), x, vjp, seed=seed)
        assert r.status != "failed", str(r)
    # an output that never moves but is claimed to depend is wrong
    r = fastfd.check_jacobian(lambda x: np.sin(x[:2]), np.array([0.3, 0.4, 0.5]),
                              np.array([[np.cos(0.3), 0.0, 0.1], [0.0, np.cos(0.4), 0.0]]))
    assert [e.name for e in r.entries] == ["y[0] / x[2]"], str(r)


def test_a_vjp_computed_in_half_precision_is_not_called_nonlinear():
    x = np.linspace(-2.0, 2.0, 50).astype(np.float32)

    def f(x):
        return np.sin(x.astype(np.float16)).astype(np.float32)

    def vjp(x, w):
        return (w.astype(np.float16) * np.cos(x.astype(np.float16))).astype(np.float32)

    for seed in range(3):
        r = fastfd.check_vjp(f, x, vjp, seed=seed)
        assert r.analytic_error is None, str(r)
        assert r.status != "failed", str(r)

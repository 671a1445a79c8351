"""fastfd.jax: check_grad, check_vjp and check_jvp on JAX code, custom rules
included; names from pytree paths; float32 (JAX's default) and float64 (x64).

Every check has an explicit ``coords=`` or ``budget=``: the models are small
and the file runs in a few seconds once JAX is imported.
"""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import fastfd.jax as fj  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def x64():
    """JAX's float64 mode for a ``with`` block (never left on)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64
    return enable_x64()


# ----------------------------------------------------------------- custom ops
def make_dense(*, bias_scale=1.0, transpose=False, bad_entry=None):
    """``x @ w + b`` as a custom_vjp op, with an optional planted backward bug:
    the bias gradient scaled, the weight gradient transposed, or one weight
    entry of the VJP wrong."""
    @jax.custom_vjp
    def dense(x, w, b):
        return x @ w + b

    def fwd(x, w, b):
        return dense(x, w, b), (x, w)

    def bwd(res, g):
        x, w = res
        gw = x.T @ g
        if transpose:
            gw = gw.T
        if bad_entry is not None:
            # linear in g: d y[:, j] / d w[i, j] each off by 10
            gw = gw.at[bad_entry].add(10 * g[:, bad_entry[1]].sum())
        return g @ w.T, gw, bias_scale * g.sum(0)

    dense.defvjp(fwd, bwd)
    return dense


def mlp(dense, *, seed=0, dtype=np.float32, n_in=8, n_hidden=16, n_out=4, batch=32,
        order=("kernel", "bias")):
    """A two-layer tanh MLP with a cross-entropy loss: ``(loss, params)``.
    `order` is the insertion order of each layer's keys."""
    rng = np.random.default_rng(seed)
    shapes = {"dense": {"kernel": (n_in, n_hidden), "bias": (n_hidden,)},
              "head": {"kernel": (n_hidden, n_out), "bias": (n_out,)}}
    params = {}
    for layer, leaves in shapes.items():
        params[layer] = {}
        for key in order:
            shape = leaves[key]
            scale = 1 / np.sqrt(shape[0]) if key == "kernel" else 0.1
            params[layer][key] = jnp.asarray(scale * rng.standard_normal(shape), dtype)
    x = jnp.asarray(rng.standard_normal((batch, n_in)), dtype)
    labels = jnp.asarray(rng.integers(0, n_out, batch))

    def loss(p):
        h = jnp.tanh(dense(x, p["dense"]["kernel"], p["dense"]["bias"]))
        z = dense(h, p["head"]["kernel"], p["head"]["bias"])
        return -jnp.mean(jax.nn.log_softmax(z)[jnp.arange(batch), labels])

    return loss, params


def scaled_identity(factor):
    """The identity with a backward that multiplies by `factor`: plants a
    wrong gradient on exactly one leaf."""
    @jax.custom_vjp
    def ident(a):
        return a

    ident.defvjp(lambda a: (a, None), lambda _, g: (factor * g,))
    return ident


def failing_tensors(result):
    return sorted({t.name for t in result.tensors if t.status == "failed"})


# ------------------------------------------------------------------ check_grad
def test_check_grad_names_come_from_pytree_paths():
    Pair = collections.namedtuple("Pair", "w b")
    bad = scaled_identity(1.5)
    rng = np.random.default_rng(0)
    params = {"layers": [{"w": jnp.asarray(rng.standard_normal((3, 2)), jnp.float32)},
                         {"w": jnp.asarray(rng.standard_normal((2, 2)), jnp.float32)}],
              "pair": Pair(w=jnp.ones(2, jnp.float32), b=jnp.float32(0.5))}

    def loss(p):
        h = jnp.tanh(jnp.ones(3) @ p["layers"][0]["w"])
        h = jnp.tanh(h @ bad(p["layers"][1]["w"]))
        return jnp.sum(h * p["pair"].w) + p["pair"].b ** 2

    result = fj.check_grad(loss, params, coords="all", seed=0)
    assert [t.name for t in result.tensors] == [
        'params["layers"][0]["w"]', 'params["layers"][1]["w"]', "params[\"pair\"].w",
        "params[\"pair\"].b"]
    assert result.status == "failed"
    assert failing_tensors(result) == ['params["layers"][1]["w"]']
    assert {c.name for c in result.failures()} <= {
        f'params["layers"][1]["w"][{i}, {j}]' for i in range(2) for j in range(2)}


def test_check_grad_one_array_and_a_list():
    w = jnp.linspace(-1.0, 1.0, 4)
    result = fj.check_grad(lambda a: jnp.sum(scaled_identity(2.0)(a) ** 2), w, coords="all")
    assert result.status == "failed"
    assert {c.name for c in result.failures()} == {f"params[{i}]" for i in range(4)}
    result = fj.check_grad(lambda p: jnp.sum(p[0] * p[1]), [w, 2 * w], coords="all")
    assert result.passed
    assert [t.name for t in result.tensors] == ["params[0]", "params[1]"]


@pytest.mark.parametrize("order", [("kernel", "bias"), ("bias", "kernel")])
def test_check_grad_names_right_whatever_the_dict_order(order):
    # tree_flatten_with_path sorts dict keys; the names must follow the leaves
    loss, params = mlp(make_dense(bias_scale=2.0), order=order, n_hidden=4, batch=8)
    result = fj.check_grad(loss, params, coords="all", seed=0)
    assert result.status == "failed"
    assert failing_tensors(result) == ['params["dense"]["bias"]', 'params["head"]["bias"]']
    assert all('["bias"]' in c.name for c in result.failures())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_grad_correct_mlp_passes_float32(seed):
    loss, params = mlp(make_dense(), seed=seed)
    result = fj.check_grad(loss, params, coords="all", seed=seed)
    assert result.passed, str(result)
    assert result.dtype == np.float32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_grad_correct_mlp_passes_float64(seed):
    with x64():
        loss, params = mlp(make_dense(), seed=seed, dtype=np.float64)
        result = fj.check_grad(loss, params, coords="all", seed=seed)
    assert result.passed, str(result)
    assert result.dtype == np.float64


def test_check_grad_runs_in_float32_without_x64():
    # float64 leaves become float32, as JAX computes them; the flag is not touched
    before = jax.config.jax_enable_x64
    rng = np.random.default_rng(1)
    params = {"w": rng.standard_normal(6)}
    copy = params["w"].copy()
    result = fj.check_grad(lambda p: jnp.sum(jnp.sin(p["w"]) ** 2), params, coords="all")
    assert result.passed
    assert result.dtype == np.float32
    assert jax.config.jax_enable_x64 == before
    np.testing.assert_array_equal(params["w"], copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_grad_names_a_bias_gradient_scaled_by_1_01(dtype):
    # a 1% error: the head bias resolves ~0.1% even in float32
    with x64() if dtype == np.float64 else _nothing():
        loss, params = mlp(make_dense(bias_scale=1.01), dtype=dtype)
        result = fj.check_grad(loss, params, coords="all", seed=0)
    assert result.status == "failed"
    assert 'params["head"]["bias"]' in failing_tensors(result)
    assert set(failing_tensors(result)) <= {'params["head"]["bias"]', 'params["dense"]["bias"]'}


def test_check_grad_names_a_transposed_weight_gradient():
    loss, params = mlp(make_dense(transpose=True), n_in=6, n_hidden=6, n_out=6, batch=8)
    result = fj.check_grad(loss, params, coords="all", seed=0)
    assert result.status == "failed"
    names = {c.name for c in result.failures()}
    assert 'params["dense"]["kernel"][0, 1]' in names or 'params["dense"]["kernel"][1, 0]' in names
    # the diagonal of the transpose is right
    assert not any(f'params["dense"]["kernel"][{i}, {i}]' in names for i in range(6))


def test_check_grad_one_wrong_entry_among_1e5_float32():
    dense = make_dense(bad_entry=(71, 60))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((8, 316)), jnp.float32)
    params = {"w": jnp.asarray(rng.standard_normal((316, 316)) / np.sqrt(316), jnp.float32),
              "b": jnp.zeros(316, jnp.float32)}

    def loss(p):
        return jnp.mean(jnp.tanh(dense(x, p["w"], p["b"])) ** 2)

    result = fj.check_grad(loss, params, coords=0, directions=8, seed=0)
    assert result.status == "failed"
    assert [c.name for c in result.failures()] == ['params["w"][71, 60]']


def test_check_grad_without_jit():
    calls = []

    def loss(p):
        calls.append(1)
        return jnp.sum(p["a"] ** 3)

    result = fj.check_grad(loss, {"a": jnp.array([1.0, 2.0])}, coords="all", jit=False)
    assert result.passed
    assert len(calls) > 4       # evaluated eagerly, once per call


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_check_grad_errors():
    params = {"w": jnp.ones(3)}
    with pytest.raises(TypeError, match=r"loss must return a scalar, got an array of shape \(3,\)"):
        fj.check_grad(lambda p: p["w"] * 2, params)
    with pytest.raises(TypeError, match=r'params\["n"\] has dtype int32; fastfd.jax differentiates'):
        fj.check_grad(lambda p: jnp.sum(p["w"]) * p["n"], {"w": jnp.ones(3), "n": jnp.int32(2)})
    with pytest.raises(TypeError, match=r'params\["z"\] is complex'):
        fj.check_grad(lambda p: jnp.sum(jnp.abs(p["z"])), {"z": jnp.ones(2, jnp.complex64)})
    with pytest.raises(TypeError, match=r'params\["h"\] has dtype float16; finite differences'):
        fj.check_grad(lambda p: jnp.sum(p["h"]), {"h": jnp.ones(2, jnp.float16)})
    with pytest.raises(TypeError, match=r"params\[0\] has dtype bfloat16; finite differences"):
        fj.check_grad(lambda p: jnp.sum(p[0]), [jnp.ones(2, jnp.bfloat16)])
    with pytest.raises(TypeError, match="loss must return a floating scalar, got dtype int32"):
        fj.check_grad(lambda p: jnp.int32(1), params)
    with pytest.raises(TypeError, match="loss must be callable, got 3"):
        fj.check_grad(3, params)
    with pytest.raises(TypeError, match="jit must be True or False, got 'yes'"):
        fj.check_grad(lambda p: jnp.sum(p["w"]), params, jit="yes")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'vectorized'"):
        fj.check_grad(lambda p: jnp.sum(p["w"]), params, vectorized=True)
    with pytest.raises(ValueError, match="params has no array leaves"):
        fj.check_grad(lambda p: 0.0, {})


def test_importing_fastfd_does_not_import_jax():
    code = "import sys, fastfd, fastfd.jax; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.stdout.strip() == "False"


# ------------------------------------------------------- check_vjp, check_jvp
def exact_gelu(x):
    return 0.5 * x * (1 + jax.scipy.special.erf(x / jnp.sqrt(2.0)))


def make_gelu(*, tanh_backward):
    """Exact GELU as a custom_vjp op; the planted bug differentiates the tanh
    approximation instead (at most 8.7e-4 off, at x = -2.02)."""
    gelu = jax.custom_vjp(exact_gelu)

    def bwd(x, g):
        if tanh_backward:
            c = jnp.sqrt(2 / jnp.pi)
            t = jnp.tanh(c * (x + 0.044715 * x ** 3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * c * (1 + 3 * 0.044715 * x ** 2)
        else:
            d = (0.5 * (1 + jax.scipy.special.erf(x / jnp.sqrt(2.0)))
                 + x * jnp.exp(-x ** 2 / 2) / jnp.sqrt(2 * jnp.pi))
        return (g * d,)

    gelu.defvjp(lambda x: (gelu(x), x), bwd)
    return gelu


def make_layer_norm(*, drop_mean_term):
    """Layer norm over the last axis with a custom backward; the planted bug
    drops ``- mean(g * gamma) / sigma`` from the input gradient."""
    def stats(x):
        mu = x.mean(-1, keepdims=True)
        return mu, jnp.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5)

    @jax.custom_vjp
    def layer_norm(x, gamma):
        mu, sigma = stats(x)
        return gamma * (x - mu) / sigma

    def fwd(x, gamma):
        mu, sigma = stats(x)
        xhat = (x - mu) / sigma
        return gamma * xhat, (xhat, sigma, gamma)

    def bwd(res, g):
        xhat, sigma, gamma = res
        gg = g * gamma
        dx = (gg - xhat * (gg * xhat).mean(-1, keepdims=True)) / sigma
        if not drop_mean_term:
            dx = dx - gg.mean(-1, keepdims=True) / sigma
        return dx, (g * xhat).sum(0)

    layer_norm.defvjp(fwd, bwd)
    return layer_norm


def make_softplus(*, tangent_scale):
    """softplus with a custom_jvp rule (tangent scaled by `tangent_scale`)."""
    @jax.custom_jvp
    def softplus(x):
        return jnp.logaddexp(x, 0.0)

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return softplus(x), tangent_scale * jax.nn.sigmoid(x) * x_dot

    return softplus


def dense_args(seed, dtype, n=6, batch=8):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal((batch, n)), dtype),
            jnp.asarray(rng.standard_normal((n, n)) / np.sqrt(n), dtype),
            jnp.asarray(0.1 * rng.standard_normal(n), dtype))


def precision(dtype):
    return x64() if dtype == np.float64 else _nothing()


def test_check_vjp_gelu_tanh_backward_named_in_float64():
    rng = np.random.default_rng(0)
    with x64():
        x = jnp.asarray(rng.standard_normal(100))
        result = fj.check_vjp(make_gelu(tanh_backward=True), x, coords="all", seed=0)
    assert result.status == "failed"
    assert len(result.failures()) > 50          # wrong nearly everywhere, by up to 8.7e-4
    name = result.failures()[0].name
    assert name.startswith("x[")
    entry = [e.name for e in result.entries if e.verdict != "passed"][0]
    k = name[2:-1]
    assert entry == f"y[{k}] / x[{k}]"


def test_check_vjp_gelu_tanh_backward_float32_not_passed():
    # the error is about float32's resolution here: never "passed", named or not
    x = jnp.asarray(np.random.default_rng(0).standard_normal(100), jnp.float32)
    result = fj.check_vjp(make_gelu(tanh_backward=True), x, coords="all", seed=0)
    assert result.status != "passed"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_vjp_correct_ops_pass(dtype, seed):
    rng = np.random.default_rng(seed)
    with precision(dtype):
        x = jnp.asarray(rng.standard_normal((4, 16)), dtype)
        gamma = jnp.asarray(1 + 0.1 * rng.standard_normal(16), dtype)
        results = [
            fj.check_vjp(make_gelu(tanh_backward=False), x, coords="all", seed=seed),
            fj.check_vjp(make_layer_norm(drop_mean_term=False), x, gamma, coords="all",
                         seed=seed),
            fj.check_vjp(make_dense(), *dense_args(seed, dtype), coords="all", seed=seed),
        ]
    for result in results:
        assert result.passed, str(result)
        assert result.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_vjp_layer_norm_missing_mean_term(dtype):
    rng = np.random.default_rng(0)
    with precision(dtype):
        x = jnp.asarray(rng.standard_normal((4, 16)), dtype)
        gamma = jnp.asarray(1 + 0.1 * rng.standard_normal(16), dtype)
        result = fj.check_vjp(make_layer_norm(drop_mean_term=True), x, gamma, coords="all",
                              seed=0)
    assert result.status == "failed"
    assert failing_tensors(result) == ["x"]      # gamma's gradient is right
    assert all(c.name.startswith("x[") for c in result.failures())
    assert all(e.name.startswith("y[") and " / x[" in e.name
               for e in result.entries if e.verdict != "passed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_vjp_transposed_weight_gradient(dtype):
    with precision(dtype):
        result = fj.check_vjp(make_dense(transpose=True), *dense_args(0, dtype),
                              coords="all", seed=0)
    assert result.status == "failed"
    assert failing_tensors(result) == ["w"]
    names = {c.name for c in result.failures()}
    assert names and all(c.startswith("w[") for c in names)
    assert not any(f"w[{i}, {i}]" in names for i in range(6))    # the diagonal is right


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_vjp_bias_gradient_scaled_by_1_01(dtype):
    with precision(dtype):
        result = fj.check_vjp(make_dense(bias_scale=1.01), *dense_args(0, dtype),
                              coords="all", seed=0)
    assert result.status == "failed"
    assert failing_tensors(result) == ["b"]
    assert {c.name for c in result.failures()} <= {f"b[{j}]" for j in range(6)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_vjp_one_wrong_entry_among_1e5(dtype):
    with precision(dtype):
        x, w, b = dense_args(0, dtype, n=316, batch=4)
        result = fj.check_vjp(make_dense(bad_entry=(71, 60)), x, w, b, coords=0, directions=8,
                              seed=0)
    assert result.status == "failed"
    assert [c.name for c in result.failures()] == ["w[71, 60]"]
    wrong = {e.name for e in result.entries if e.verdict != "passed"}
    assert wrong and wrong <= {f"y[{i}, 60] / w[71, 60]" for i in range(4)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_custom_jvp_checked_by_check_jvp_and_check_vjp(dtype):
    with precision(dtype):
        x = jnp.linspace(-3.0, 3.0, 13, dtype=dtype)
        good, bad = make_softplus(tangent_scale=1.0), make_softplus(tangent_scale=1.02)
        results = {(kind, label): check(fn, x, coords="all", seed=0)
                   for kind, check in (("jvp", fj.check_jvp), ("vjp", fj.check_vjp))
                   for label, fn in (("good", good), ("bad", bad))}
    for (kind, label), result in results.items():
        if label == "good":
            assert result.passed, (kind, str(result))
        else:
            assert result.status == "failed", kind
            assert failing_tensors(result) == ["x"]
            wrong = [e.name for e in result.entries if e.verdict != "passed"]
            assert wrong and all(e.split(" / ")[0][1:] == e.split(" / ")[1][1:] for e in wrong)


def test_check_vjp_names_of_pytree_inputs_and_outputs():
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal((3, 2)), jnp.float32),
              "b": jnp.zeros(2, jnp.float32)}
    x = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
    bad = scaled_identity(1.5)

    def layer(params, x):
        z = x @ bad(params["w"]) + params["b"]
        return {"logits": z, "aux": (jnp.sum(z ** 2), jnp.tanh(z))}

    result = fj.check_vjp(layer, params, x, coords="all", seed=0)
    assert [t.name for t in result.tensors] == ['params["b"]', 'params["w"]', "x"]
    assert result.status == "failed"
    assert failing_tensors(result) == ['params["w"]']
    wrong = [e.name for e in result.entries if e.verdict != "passed"]
    assert wrong and all(' / params["w"][' in e for e in wrong)
    # a 0-d output, an output in a tuple in a dict, a dict entry
    assert {'y["aux"][0] / params["w"][0, 0]', 'y["aux"][1][2, 0] / params["w"][1, 0]',
            'y["logits"][0, 1] / params["w"][2, 1]'} <= set(wrong)


def test_check_vjp_holds_integer_leaves_fixed_and_names_args_without_signature():
    idx = jnp.array([2, 0, 1])

    def gather(*args):
        table, index = args
        return table[index] ** 2

    table = jnp.linspace(0.5, 1.5, 3)
    result = fj.check_vjp(gather, table, idx, coords="all", seed=0)
    assert result.passed
    assert [t.name for t in result.tensors] == ["args[0]"]
    result = fj.check_jvp(lambda t, i: t[i] ** 2, table, idx, coords="all", seed=0)
    assert result.passed
    assert [t.name for t in result.tensors] == ["t"]


def test_check_jvp_of_a_custom_vjp_function_says_use_check_vjp():
    x = jnp.ones(3)
    with pytest.raises(TypeError, match=r"check_jvp: f \(or a function it calls\) defines its "
                                        r"derivative with jax.custom_vjp, which has no forward"):
        fj.check_jvp(make_gelu(tanh_backward=False), x, coords="all")
    # also when the custom_vjp op is deep inside f
    with pytest.raises(TypeError, match="check its backward rule with fastfd.jax.check_vjp"):
        fj.check_jvp(lambda x: jnp.sin(make_gelu(tanh_backward=False)(x)), x, coords="all")


def test_check_vjp_errors():
    x = jnp.ones(3)
    with pytest.raises(TypeError, match="f must be callable, got 3"):
        fj.check_vjp(3, x)
    with pytest.raises(TypeError, match=r"check_vjp\(\) needs the arguments of f"):
        fj.check_vjp(jnp.sin)
    with pytest.raises(TypeError, match=r"no floating-point input to differentiate among the "
                                        r"leaves \['i'\]"):
        fj.check_vjp(lambda i: i * 1.0, jnp.arange(3))
    with pytest.raises(TypeError, match=r"f's output y\[1\] has dtype int32"):
        fj.check_vjp(lambda x: (x, jnp.argmax(x)), x)
    with pytest.raises(TypeError, match=r"f's output y is complex"):
        fj.check_jvp(lambda x: x * 1j, x)
    with pytest.raises(TypeError, match=r"x has dtype bfloat16; finite differences"):
        fj.check_vjp(lambda x: x * 2, jnp.ones(2, jnp.bfloat16))
    with pytest.raises(TypeError, match=r"x is complex \(complex64\)"):
        fj.check_vjp(lambda x: jnp.abs(x), x * 1j)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'executor'"):
        fj.check_vjp(jnp.sin, x, executor=None)


def test_example_jax_custom_vjp_runs():
    out = subprocess.run([sys.executable, os.path.join("examples", "jax_custom_vjp.py")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr
    correct, buggy = out.stdout.split("== ")[1:3]
    assert "check_grads" in correct and "passed (q passed, k passed, v passed)" in correct
    assert "FAILED" in buggy and "failed (q passed, k failed, v passed)" in buggy
    assert "/ k[" in buggy and "median 8.00" in buggy


def test_mixed_precision_leaves_are_checked_in_float32():
    # x64 on, a float32 leaf beside a float64 one: the check runs in float32
    # (a float64 step would be rounded away in the float32 leaf)
    with x64():
        params = {"a": jnp.linspace(0.5, 1.5, 4, dtype=jnp.float32),
                  "b": jnp.linspace(-1.0, 1.0, 3, dtype=jnp.float64)}

        def loss(p):
            return jnp.sum(jnp.sin(p["a"])) * jnp.sum(p["b"] ** 2)

        result = fj.check_grad(loss, params, coords="all", seed=0)
        vjp = fj.check_vjp(lambda a, b: jnp.sin(a) * jnp.sum(b ** 2), params["a"],
                           params["b"], coords="all", seed=0)
    assert result.passed, str(result)
    assert result.dtype == np.float32
    assert vjp.passed, str(vjp)
    assert vjp.dtype == np.float32


def test_loss_with_python_control_flow_needs_jit_false():
    def loss(p):
        return jnp.sum(p["w"] ** 2) if p["w"][0] > 0 else jnp.sum(p["w"] ** 3)

    params = {"w": jnp.array([1.0, 2.0])}
    with pytest.raises(TypeError, match="loss cannot be compiled by jax.jit "
                                        r"\(TracerBoolConversionError\); pass jit=False"):
        fj.check_grad(loss, params, coords="all")
    assert fj.check_grad(loss, params, coords="all", jit=False).passed
    with pytest.raises(TypeError, match=r"f cannot be compiled by jax.jit .*pass jit=False"):
        fj.check_vjp(lambda x: x ** 2 if x[0] > 0 else x, jnp.ones(2), coords="all")
    assert fj.check_vjp(lambda x: x ** 2 if x[0] > 0 else x, jnp.ones(2), coords="all",
                        jit=False).passed


def test_doctests_skip_without_jax():
    # pytest --doctest-modules collects fastfd/jax.py in every run: without
    # JAX its examples are skipped, not failed
    code = ("import sys; sys.modules['jax'] = None; import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--doctest-modules', "
            "'fastfd/jax.py']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 skipped" in out.stdout

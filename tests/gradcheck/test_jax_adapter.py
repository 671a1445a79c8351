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
    entry off by 10x the RMS of the weight gradient."""
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
            gw = gw.at[bad_entry].add(10 * jnp.sqrt(jnp.mean(gw ** 2)))
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

    result = fj.check_grad(loss, params, budget=1.0, seed=0)
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
    with pytest.raises(TypeError, match="loss must return a floating scalar, got dtype int32"):
        fj.check_grad(lambda p: jnp.int32(1), params)
    with pytest.raises(TypeError, match="loss must be callable, got 3"):
        fj.check_grad(3, params)
    with pytest.raises(TypeError, match="jit must be True or False, got 'yes'"):
        fj.check_grad(lambda p: jnp.sum(p["w"]), params, jit="yes")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['vectorized'\]"):
        fj.check_grad(lambda p: jnp.sum(p["w"]), params, vectorized=True)
    with pytest.raises(ValueError, match="params has no array leaves"):
        fj.check_grad(lambda p: 0.0, {})


def test_importing_fastfd_does_not_import_jax():
    code = "import sys, fastfd, fastfd.jax; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.stdout.strip() == "False"

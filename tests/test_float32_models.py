"""The float32 reference models (tests/float32_models.py) and the checker's verdicts on them.

First part: the hand-written reverse passes are verified against plain
float64 centered differences written here (no fastfd). Second part: the
acceptance tests of issue 8, sections 2, 2b and 3.
"""

import numpy as np
import pytest

import float32_models as M

SIZES = {"conv": 21_734, "mlp": 3_589, "lstm": 1_523, "relu_mlp": 1_344, "tanh_max": 8}
EPS64 = np.finfo(np.float64).eps


# ------------------------------------------------------- model verification
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(M.MODELS))
def test_model_dtypes_and_sizes(name, dtype):
    loss, params, grad = M.MODELS[name](0, dtype)
    assert sum(v.size for v in params.values()) == SIZES[name]
    assert list(grad) == list(params)
    for k in params:
        assert params[k].dtype == dtype and grad[k].dtype == dtype
        assert grad[k].shape == params[k].shape
        assert np.all(np.isfinite(grad[k]))
    value = loss(params)
    assert type(value) is np.dtype(dtype).type
    assert np.isfinite(value)


def _one_coordinate_loss(loss, params, name, index):
    def f(v):
        q = {k: a.copy() for k, a in params.items()}
        q[name][index] = v
        return float(loss(q))
    return f


def _richardson(f, x, h):
    """Centered difference extrapolated from h and 2h: error O(h**4) + ~eps|f|/h."""
    d1 = (f(x + h) - f(x - h)) / (2 * h)
    d2 = (f(x + 2 * h) - f(x - 2 * h)) / (4 * h)
    return (4 * d1 - d2) / 3


@pytest.mark.parametrize("name", sorted(M.MODELS))
def test_backward_matches_float64_difference(name, seed=1):
    """The float64 reverse pass agrees with centered differences to ~1e-6 relative."""
    loss, params, grad = M.MODELS[name](seed, np.float64)
    rng = np.random.default_rng(7)
    f0 = abs(float(loss(params)))
    checked = skipped = 0
    for k, p in params.items():
        scale = float(np.max(np.abs(grad[k])))
        for _ in range(min(p.size, 10)):
            index = tuple(int(rng.integers(s)) for s in p.shape)
            x = float(p[index])
            h = 1e-5 * max(1.0, abs(x))
            f = _one_coordinate_loss(loss, params, k, index)
            fx = f(x)
            # a kink inside [x - 2h, x + 2h] makes the one-sided slopes differ:
            # such coordinates are not where the reverse pass can be verified
            right, left = (f(x + 2 * h) - fx) / (2 * h), (fx - f(x - 2 * h)) / (2 * h)
            if abs(right - left) > 1e-3 * max(abs(right), abs(left)) + 1e-6:
                skipped += 1
                continue
            num = _richardson(f, x, h)
            a = float(grad[k][index])
            roundoff = 100 * EPS64 * f0 / h
            assert abs(num - a) <= 1e-6 * max(abs(a), 1e-3 * scale) + roundoff, (
                k, index, num, a)
            checked += 1
    assert skipped <= 2 and checked >= 8


@pytest.mark.parametrize("name", sorted(M.MODELS))
def test_float32_backward_close_to_float64(name):
    """The float32 pass computes the same gradient, up to float32 rounding of long sums."""
    g32 = M.MODELS[name](2, np.float32)[2]
    g64 = M.MODELS[name](2, np.float64)[2]
    for k in g64:
        diff = np.linalg.norm(g32[k].astype(np.float64) - g64[k])
        assert diff <= 1e-4 * np.linalg.norm(g64[k]), k


def test_relu_mlp_has_kinks_within_two_float32_steps():
    loss, params, _ = M.make_relu_mlp(0)
    h = M.FLOAT32_STEP_BELOW_ONE
    # biases below 2 in magnitude: their float32 default step is 2**-8 or 2**-7
    assert all(np.max(np.abs(v)) < 2 for k, v in params.items() if "bias" in k)
    near = [int(np.sum(np.abs(z) < 2 * h)) for z in loss.preactivations(params)]
    assert near[0] >= 6 and near[1] >= 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tanh_max_kink_is_at_minus_point_two_steps(seed):
    loss, params, grad = M.make_tanh_max(seed, np.float64)
    h = M.FLOAT32_STEP_BELOW_ONE
    x0 = float(params["p"][0])
    f = _one_coordinate_loss(loss, params, "p", (0,))
    slope = lambda a, b: (f(x0 + b * h) - f(x0 + a * h)) / ((b - a) * h)  # noqa: E731
    smooth = float(grad["p"][0]) - 1.5                       # derivative without the max
    # the max branch a * p[0] (slope 1.5) is active right of -0.2h, constant left of it
    assert abs(slope(-0.15, -0.05) - (smooth + 1.5)) < 1e-2
    assert abs(slope(-0.35, -0.25) - smooth) < 1e-2
    assert abs(float(M.make_tanh_max(seed)[1]["p"][0]) - x0) == 0


def test_plant():
    _, params, grad = M.make_conv(0)
    s = M.plant(grad, "scale", "conv2.bias")
    assert s.name == "conv2.bias" and s.flat_index is None
    np.testing.assert_allclose(s.grad["conv2.bias"], 1.01 * grad["conv2.bias"], rtol=1e-6)
    for kind in ("entry", "flip"):
        e = M.plant(grad, kind, "conv1.weight")
        changed = [k for k in grad if not np.array_equal(e.grad[k], grad[k])]
        assert changed == ["conv1.weight"]
        assert int(np.sum(e.grad["conv1.weight"] != grad["conv1.weight"])) == 1
        assert e.name.startswith("conv1.weight[") and e.name.count(",") == 3
        flat = np.concatenate([v.ravel() for v in e.grad.values()])
        ref = np.concatenate([v.ravel() for v in grad.values()])
        assert np.flatnonzero(flat != ref).tolist() == [e.flat_index]
    e = M.plant(grad, "entry", "conv1.weight")
    g = grad["conv1.weight"].astype(np.float64)
    rms = np.sqrt(np.mean(g * g))
    moved = float(e.grad["conv1.weight"].ravel()[e.flat_index]) - g.ravel()[e.flat_index]
    assert abs(abs(moved) - 0.5 * rms) < 1e-3 * rms
    with pytest.raises(ValueError, match="kind must be"):
        M.plant(grad, "nope", "conv1.weight")

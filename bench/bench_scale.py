"""Gradient checks at scale.

    .venv/bin/python -m pytest bench/bench_scale.py --benchmark-json=bench/results/scale.json
    .venv/bin/python bench/report.py bench/results/scale.json

* The 1,002,570-parameter MLP of examples/mlp_1m.py with default settings
  (time budget, directions, stratified sample, bisection), for the correct
  gradient and the three planted bugs: time, loss evaluations, what was
  named, and what a full per-coordinate check would cost (per-call time x 2n,
  measured in the same run).
* The seed's MSE problem with m = 64 rows and n = 1e4 parameters: a full
  check with the batched loss ``np.mean((P @ X.T - y)**2, axis=1)`` (128
  rows per call) against the seed's own ``gradient_check`` (reproduced
  below as the baseline) and against the floor of 2n plain loss calls.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

from fastfd.gradcheck import check_gradient
from seed_baseline import seed_gradient_check

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mlp_1m", ROOT / "examples" / "mlp_1m.py")
mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mlp)


@pytest.fixture(scope="module")
def model():
    m = mlp.MLP(scale=1, seed=0)
    for _ in range(3):
        m.loss(m.params)
    # compile (or load) the directional kernels outside the timed checks
    small = mlp.MLP(scale=64, seed=0)
    check_gradient(small.loss, small.params, small.grad(small.params), coords=8,
                   directions=1, seed=0)
    return m


@pytest.mark.parametrize("bug", [None, "b2_scale", "w1_entry", "w3_block"])
def test_mlp_1m(benchmark, role, model, bug):
    role("fastfd", group=f"scale: 1M MLP, {bug or 'correct gradient'}")
    grad = model.grad(model.params, bug=bug)
    t_call, t_full = mlp.full_check_seconds(model)
    result = benchmark.pedantic(check_gradient, args=(model.loss, model.params, grad),
                                kwargs={"seed": 0}, rounds=1, iterations=1)
    wrong = result.failures()
    names = sorted({c.name.split("[")[0] for c in wrong})
    benchmark.extra_info.update({
        "passed": result.passed, "evaluations": result.n_evals,
        "coverage": result.coverage, "named": ",".join(names) or "-",
        "first named": wrong[0].name if wrong else "-",
        "loss call ms": 1e3 * t_call, "full check s": t_full,
        "full/this": t_full / result.elapsed,
    })
    assert result.passed == (bug is None)


# --------------------------------------------------------------- batched MSE

M, N = 64, 10_000


@pytest.fixture(scope="module")
def mse():
    rng = np.random.default_rng(42)
    X = rng.standard_normal((M, N))
    y = rng.standard_normal(M)
    w = 0.01 * rng.standard_normal(N)

    def loss(w):
        return np.mean((X @ w - y) ** 2)

    def loss_rows(P):
        return np.mean((P @ X.T - y) ** 2, axis=1)

    grad = (2 / M) * X.T @ (X @ w - y)
    return loss, loss_rows, w, grad


GROUP = "scale: MSE full check, m=64, n=1e4"


def test_mse_batched(benchmark, role, mse):
    loss, loss_rows, w, grad = mse
    role("fastfd", group=GROUP)
    benchmark.extra_info["variant"] = "vectorized=True, 128 rows per call"
    result = benchmark.pedantic(
        check_gradient, args=(loss_rows, w, grad),
        kwargs={"coords": "all", "vectorized": True, "seed": 0}, rounds=3, iterations=1,
        warmup_rounds=1)
    benchmark.extra_info["evaluations"] = result.n_evals
    assert result.passed and result.n_checked == N


def test_mse_seed(benchmark, role, mse):
    loss, _, w, grad = mse
    role("numpy", group=GROUP)
    benchmark.extra_info["variant"] = "seed gradient_check"
    benchmark.pedantic(seed_gradient_check, args=(loss, w, grad), rounds=3, iterations=1,
                       warmup_rounds=1)


def test_mse_floor(benchmark, role, mse):
    loss, _, w, _ = mse
    role("floor", group=GROUP)
    benchmark.extra_info["variant"] = "2n plain loss calls"

    def floor():
        for _ in range(2 * N):
            loss(w)

    benchmark.pedantic(floor, rounds=3, iterations=1, warmup_rounds=1)

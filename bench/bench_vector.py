"""check_vjp on an elementwise op with 1e6 outputs and one wrong VJP entry.

A full check would take 2n = 2e6 evaluations of f. fastfd finds the wrong
input by directions and bisection (about 8 log2 n evaluations of f) and its
wrong output by bisection over outputs (about 2 log2 n VJP calls, none of
f); the counts are recorded in ``extra_info``. The ``numpy`` row is the
one-projection check a NumPy user writes by hand (the idea of
``gradcheck(fast_mode=True)``: ``w . (f(x + hv) - f(x - hv)) / 2h`` against
``vjp(w) . v``, two evaluations and one VJP), which detects the bug but
names nothing; ``roofline`` is ``np.copyto`` of one output.

    .venv/bin/python -m pytest bench/bench_vector.py --benchmark-json=/tmp/vector.json
    .venv/bin/python bench/report.py /tmp/vector.json
"""

import math

import numpy as np
import pytest

import fastfd

N = 10 ** 6
WRONG = 123_456
GROUP = "check_vjp sin, 1e6 outputs, one wrong VJP entry"


@pytest.fixture(scope="module")
def problem():
    x = np.random.default_rng(0).standard_normal(N)

    def vjp(x, w):
        g = w * np.cos(x)
        g[WRONG] *= 1.5
        return g

    return x, vjp


def test_vjp_localized(role, problem):
    x, vjp = problem
    b = role("fastfd", GROUP)
    r = b.pedantic(lambda: fastfd.check_vjp(np.sin, x, vjp, seed=0, coords=0, directions=1,
                                            projections=1), rounds=3, iterations=1)
    assert [e.name for e in r.entries] == [f"y[{WRONG}] / x[{WRONG}]"]
    b.extra_info.update({"f evaluations": r.n_evals, "vjp calls": r.n_analytic,
                         "8 log2 n": round(8 * math.log2(N)),
                         "full check evaluations": 2 * N})


def test_vjp_default_budget(role, problem):
    x, vjp = problem
    b = role("fastfd default", GROUP)
    r = b.pedantic(lambda: fastfd.check_vjp(np.sin, x, vjp, seed=0), rounds=1, iterations=1)
    assert r.status == "failed"
    assert f"y[{WRONG}] / x[{WRONG}]" in [e.name for e in r.entries]
    b.extra_info.update({"f evaluations": r.n_evals, "vjp calls": r.n_analytic})


def test_vjp_by_one_projection(role, problem):
    x, vjp = problem
    rng = np.random.default_rng(1)
    w = rng.choice([-1.0, 1.0], N)
    v = rng.choice([-1.0, 1.0], N)
    h = 1e-6

    def fast_mode():
        num = w @ (np.sin(x + h * v) - np.sin(x - h * v)) / (2 * h)
        return abs(num - vjp(x, w) @ v) > 1e-6 * abs(num)

    b = role("numpy", GROUP)
    assert b.pedantic(fast_mode, rounds=3, iterations=1)
    b.extra_info["names the entry"] = "no"


def test_vjp_copy_floor(role):
    u = np.random.default_rng(2).standard_normal(N)
    out = np.empty_like(u)
    b = role("roofline", GROUP)
    b.pedantic(lambda: np.copyto(out, u), rounds=20, iterations=1)

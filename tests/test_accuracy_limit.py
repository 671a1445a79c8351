"""The accuracy limit of fastfd.stencils.max_accuracy: every accepted accuracy
is still accurate in the working precision, the first refused one is refused
with the limit in the message, and nothing hangs."""

import math

import numpy as np
import pytest
from conftest import run_python

import fastfd
from fastfd import grid, stencils as _weights
from fastfd.stencils import max_accuracy

DTYPES = [np.float64, np.float32]
ORDERS = [1, 2, 3, 4]


def _sampled(n, h, dtype):
    x = np.arange(n) * h
    return x, np.sin(x + 0.3).astype(dtype)


def _exact(order, x):
    return np.sin(x + 0.3 + order * np.pi / 2)


def _bound(order, accuracy, rows, h, eps):
    """Error bound of the stencils in ``rows`` (unit-step offsets) on
    ``sin``: Taylor remainder ``h**(N - order) * sum|w_k| |k|**N / N!`` with
    ``N = order + accuracy`` (every derivative of sin is <= 1), plus rounding
    ``4 * eps * sum|w| / h**order`` (samples, weights and sum each rounded)."""
    n = order + accuracy
    worst = 0.0
    for offs in rows:
        w = np.abs(fastfd.stencil_weights(order, offs))
        k = np.abs(np.asarray(offs, dtype=float))
        trunc = h ** (n - order) * float(np.sum(w * k ** n)) / math.factorial(n)
        rounding = 4 * eps * float(np.sum(w)) / h ** order
        # what the limit promises: rounding costs at most half the digits
        assert rounding <= 4 * math.sqrt(eps) / h ** order
        worst = max(worst, trunc + rounding)
    return worst


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("scheme, boundary", [
    ("centered", "valid"), ("centered", "one-sided"), ("forward", "valid"),
    ("backward", "valid")])
def test_every_accepted_accuracy_is_accurate(dtype, order, scheme, boundary):
    # The limit keeps the rounding term eps * sum|w| below sqrt(eps) per unit
    # step: at every accepted accuracy the error on sin(x) stays within the
    # truncation + rounding bound, and that bound stays small.
    limit = max_accuracy(order, scheme, dtype)
    if boundary == "one-sided":
        limit = min(limit, max_accuracy(order, "forward", dtype))
    step = 2 if scheme == "centered" else 1
    assert limit >= step
    eps = float(np.finfo(dtype).eps)
    h = 0.25
    for accuracy in range(step, limit + 1, step):
        offsets = tuple(_weights.stencil_offsets(order, accuracy, scheme))
        rows = [offsets]
        if boundary == "one-sided":
            width = order + accuracy
            rows += [tuple(j - r for j in range(width)) for r in range(width)]
        bound = _bound(order, accuracy, rows, h, eps)
        x, u = _sampled(2 * (order + accuracy) + 3, h, dtype)
        d = grid.derivative(u, order, dx=h, accuracy=accuracy, scheme=scheme,
                            boundary=boundary)
        if boundary == "valid":
            x = x[-offsets[0]:len(x) - offsets[-1]]
        err = float(np.max(np.abs(d - _exact(order, x))))
        assert err <= bound, (accuracy, err, bound)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("scheme", ["centered", "forward", "backward"])
def test_first_refused_accuracy_names_the_limit(dtype, order, scheme):
    limit = max_accuracy(order, scheme, dtype)
    bad = limit + (2 if scheme == "centered" else 1)
    u = np.zeros(2 * (order + bad) + 3, dtype)
    with pytest.raises(ValueError, match=rf"accuracy={bad} is too high for order={order}, "
                                         rf"scheme='{scheme}' in {np.dtype(dtype)}: the "
                                         rf"limit is {limit} "):
        grid.derivative(u, order, accuracy=bad, scheme=scheme, boundary="valid")
    if dtype is np.float64:
        with pytest.raises(ValueError, match=rf"the limit is {limit} "):
            fastfd.stencil(order, accuracy=bad, scheme=scheme)


def test_limits_are_ordered():
    # float32 never allows more than float64; one-sided never more than centered
    for order in ORDERS:
        for scheme in ("centered", "forward"):
            assert 1 <= max_accuracy(order, scheme, np.float32) <= max_accuracy(
                order, scheme, np.float64)
        for dt in DTYPES:
            assert max_accuracy(order, "forward", dt) <= max_accuracy(order, "centered", dt)
    assert max_accuracy(1, "centered", np.complex64) == max_accuracy(1, "centered", np.float32)


def test_ones_84_accuracy_80_is_refused():
    # the one-sided edge stencils of accuracy 60 and 80 have no usable weights
    # in float64 (5e5 at the edges of np.ones(84))
    edge = max_accuracy(1, "forward", np.float64)
    for accuracy in (60, 80):
        with pytest.raises(ValueError, match=rf"accuracy={accuracy} is too high for order=1, "
                                             rf"scheme='centered' with one-sided edges in "
                                             rf"float64: the limit is {edge} "):
            grid.derivative(np.ones(84), accuracy=accuracy)
    d = grid.derivative(np.ones(84), accuracy=edge if edge % 2 == 0 else edge - 1)
    assert np.max(np.abs(d)) < 1e-6


def test_laplacian_accuracy_limit():
    edge = max_accuracy(2, "forward", np.float64)
    bad = edge + 2 - edge % 2
    with pytest.raises(ValueError, match=rf"accuracy={bad} is too high for order=2, "
                                         rf"scheme='centered' with one-sided edges in "
                                         rf"float64: the limit is {edge} "):
        grid.laplacian(np.zeros((40, 40)), accuracy=bad)


def test_high_order_has_no_stencil():
    with pytest.raises(ValueError, match=r"order=40 has no usable stencil in float64 "
                                         r"\(scheme='centered'\).*limit 0"):
        fastfd.stencil(40)
    assert max_accuracy(10**6, "centered", np.float64) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [1, 2, 4, 27, 28])
def test_limit_check_agrees_with_max_accuracy(dtype, order):
    """check_accuracy_limit scans only up to the requested accuracy; it
    accepts exactly the accuracies at or below max_accuracy (with the
    one-sided limit for edges)."""
    for scheme in ("centered", "forward", "backward"):
        for edges in (False, True):
            limit = max_accuracy(order, scheme, dtype)
            if edges and scheme == "centered":
                limit = min(limit, max_accuracy(order, "forward", dtype))
            for accuracy in range(1, 44):
                if accuracy <= limit:
                    assert _weights.check_accuracy_limit(
                        accuracy, order, scheme, dtype, edges) == accuracy
                else:
                    with pytest.raises(ValueError, match=f"limit (is {limit}|0)"):
                        _weights.check_accuracy_limit(accuracy, order, scheme, dtype, edges)


def test_huge_accuracy_returns_at_once():
    # a hang would be caught by the timeout; 100000 points of Fornberg in
    # rational arithmetic do not return in any reasonable time
    code = (
        "import fastfd, numpy as np\n"
        "from fastfd import grid\n"
        "for call in (lambda: fastfd.stencil(1, accuracy=100000),\n"
        "             lambda: grid.derivative(np.ones(10), accuracy=100000, boundary='periodic'),\n"
        "             lambda: fastfd.stencils.stencil_offsets(3, 10**9, 'forward')):\n"
        "    try:\n"
        "        call()\n"
        "    except ValueError as exc:\n"
        "        assert 'the limit is' in str(exc), exc\n"
        "    else:\n"
        "        raise SystemExit('accepted')\n"
        "print('ok')\n")
    res = run_python(code, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def _coordinate_grids():
    n = 60
    rng = np.random.default_rng(1)
    geom = np.cumsum(1.15 ** np.arange(n))
    return {"geometric": geom / geom[-1],
            "chebyshev": (1 - np.cos(np.pi * np.arange(n) / (n - 1))) / 2,
            "random": np.cumsum(rng.uniform(0.01, 1.0, n)) / n}


@pytest.mark.parametrize("kind", ["geometric", "chebyshev", "random"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("scheme", ["centered", "forward", "backward"])
def test_nonuniform_constant_has_zero_derivative_at_every_accepted_accuracy(
        kind, dtype, order, scheme):
    # Coordinate arrays have their own limit: on the geometric grid (ratio
    # 1.15) the uniform stencil's limit lets through accuracy 24, where the
    # first derivative of a constant is 2849 (0.002 at 20). Every accuracy
    # accepted gives a constant's derivative within a few sqrt(eps) /
    # spacing**order, with the spacing the smaller of the point's two
    # neighbouring gaps.
    x = _coordinate_grids()[kind].astype(dtype)
    n = x.shape[0]
    gaps = np.abs(np.diff(x.astype(np.float64)))
    h = np.minimum(np.r_[gaps[0], gaps], np.r_[gaps, gaps[-1]])
    eps = float(np.finfo(dtype).eps)
    step = 2 if scheme == "centered" else 1
    limit = min(max_accuracy(order, scheme, dtype), max_accuracy(order, "forward", dtype))
    accepted = []
    for accuracy in range(step, limit + 1, step):
        try:
            d = grid.derivative(np.ones(n, dtype), order, dx=x, accuracy=accuracy, scheme=scheme)
        except ValueError as exc:
            assert "is the highest these coordinates accept" in str(exc), exc
            continue
        accepted.append(accuracy)
        worst = float(np.max(np.abs(d.astype(np.float64)) * h ** order))
        assert worst <= 4 * math.sqrt(eps), (accuracy, worst / math.sqrt(eps))
    assert accepted and accepted[0] == step


def test_nonuniform_refusal_names_the_point_and_the_accepted_accuracy():
    x = _coordinate_grids()["geometric"]
    u = np.ones(60)
    for accuracy in (20, 24):
        with pytest.raises(ValueError, match=rf"accuracy={accuracy} is too high for order=1, "
                                             r"scheme='centered' on the coordinates dx in "
                                             r"float64: at point \d+ \(dx\[\d+\] = [0-9.e+-]+\) "
                                             r"the weights amplify rounding [0-9.e+]+ times "
                                             r"beyond sqrt\(eps\)/spacing\*\*1; accuracy=\d+ "
                                             r"is the highest these coordinates accept") as info:
            grid.derivative(u, dx=x, accuracy=accuracy)
    ok = int(str(info.value).split("; accuracy=")[1].split()[0])
    assert np.max(np.abs(grid.derivative(u, dx=x, accuracy=ok))) < 1e-6
    with pytest.raises(ValueError, match=rf"accuracy={ok + 2} is too high"):
        grid.derivative(u, dx=x, accuracy=ok + 2)
    # the same rule through the Laplacian's per-axis coordinates
    with pytest.raises(ValueError, match=r"on the coordinates dx\[1\] in float64"):
        grid.laplacian(np.ones((20, 60)), dx=[1.0, x], accuracy=ok + 2)

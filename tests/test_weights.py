"""Exact stencil weights: known tables, exact moment conditions, symmetry,
an independent Vandermonde solve, and every error message."""

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import run_python

import fastfd
from fastfd import stencils as _weights


def vandermonde_weights(order, offsets):
    """Independent reference: solve sum_k w_k o_k^j = j! [j == order] exactly
    by Gaussian elimination over the rationals (no Fornberg)."""
    n = len(offsets)
    a = [[Fraction(o) ** j for o in offsets] + [Fraction(math.factorial(order) if j == order else 0)]
         for j in range(n)]
    for col in range(n):
        piv = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
    return [a[r][n] / a[r][r] for r in range(n)]


KNOWN = [
    # (order, accuracy, scheme, weights on the stencil's offsets)
    (1, 2, "centered", [-0.5, 0.0, 0.5]),
    (1, 4, "centered", [1 / 12, -2 / 3, 0.0, 2 / 3, -1 / 12]),
    (2, 2, "centered", [1.0, -2.0, 1.0]),
    (2, 4, "centered", [-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12]),
    (3, 2, "centered", [-0.5, 1.0, 0.0, -1.0, 0.5]),
    (3, 4, "centered", [1 / 8, -1.0, 13 / 8, 0.0, -13 / 8, 1.0, -1 / 8]),
    (4, 2, "centered", [1.0, -4.0, 6.0, -4.0, 1.0]),
    (1, 1, "forward", [-1.0, 1.0]),
    (1, 2, "forward", [-1.5, 2.0, -0.5]),
    (1, 1, "backward", [-1.0, 1.0]),
    (2, 1, "forward", [1.0, -2.0, 1.0]),
    (2, 2, "forward", [2.0, -5.0, 4.0, -1.0]),
]


@pytest.mark.parametrize("order,accuracy,scheme,expected", KNOWN)
def test_known_tables(order, accuracy, scheme, expected):
    offsets, weights = fastfd.stencil(order, accuracy, scheme)
    assert len(offsets) == len(expected)
    np.testing.assert_allclose(weights, expected, rtol=1e-15, atol=0)


def test_offsets_shape():
    assert fastfd.stencil(1, 2)[0].tolist() == [-1, 0, 1]
    assert fastfd.stencil(2, 6)[0].tolist() == list(range(-3, 4))
    assert fastfd.stencil(3, 2)[0].tolist() == list(range(-2, 3))
    assert fastfd.stencil(1, 3, "forward")[0].tolist() == [0, 1, 2, 3]
    assert fastfd.stencil(2, 1, "backward")[0].tolist() == [-2, -1, 0]


ORDERS = range(1, 7)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("accuracy", range(2, 13, 2))
def test_centered_exact_moments_and_symmetry(order, accuracy):
    offs = _weights.stencil_offsets(order, accuracy, "centered")
    w = _weights.exact_weights(order, offs)
    # Exact on every monomial up to degree accuracy + order - 1.
    for j in range(accuracy + order):
        moment = sum(wk * Fraction(o) ** j for wk, o in zip(w, offs))
        assert moment == (math.factorial(order) if j == order else 0), (j, moment)
    # The leading error term is really there: the stencil is not exact at the
    # next degree, so `accuracy` is the true order.
    j = accuracy + order
    assert sum(wk * Fraction(o) ** j for wk, o in zip(w, offs)) != 0
    sign = 1 if order % 2 == 0 else -1
    assert all(w[k] == sign * w[-1 - k] for k in range(len(w)))
    _, fw = fastfd.stencil(order, accuracy)
    assert np.array_equal(fw, sign * fw[::-1])  # exact in float too


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("accuracy", [1, 2, 3, 5])
@pytest.mark.parametrize("scheme", ["forward", "backward"])
def test_one_sided_against_vandermonde(order, accuracy, scheme):
    offs = _weights.stencil_offsets(order, accuracy, scheme)
    assert _weights.exact_weights(order, offs) == tuple(vandermonde_weights(order, offs))
    _, fw = fastfd.stencil(order, accuracy, scheme)
    expected = [float(x) for x in vandermonde_weights(order, offs)]
    assert fw.tolist() == expected  # rounded once, from the exact value


def test_forward_backward_mirror():
    for order in ORDERS:
        _, f = fastfd.stencil(order, 3, "forward")
        _, b = fastfd.stencil(order, 3, "backward")
        sign = 1 if order % 2 == 0 else -1
        assert np.array_equal(b, sign * f[::-1])


def test_readonly_and_cached():
    o, w = fastfd.stencil(2, 4)
    assert not o.flags.writeable and not w.flags.writeable
    with pytest.raises(ValueError):
        w[0] = 1.0
    assert fastfd.stencil(2, 4)[1] is w
    assert not fastfd.stencil_weights(1, [0, 1]).flags.writeable


def test_stencil_weights_real_offsets_are_exact_in_the_floats():
    offs = [-0.7, 0.0, 1.3, 2.1]
    w = fastfd.stencil_weights(2, offs)
    ref = vandermonde_weights(2, [Fraction(o) for o in offs])
    assert w.tolist() == [float(x) for x in ref]
    # integer offsets reproduce stencil()
    assert fastfd.stencil_weights(3, range(-3, 4)).tolist() == fastfd.stencil(3, 4)[1].tolist()


def test_integer_form_is_exact():
    for order, accuracy in [(1, 2), (2, 8), (4, 10), (6, 12)]:
        offs = _weights.stencil_offsets(order, accuracy, "centered")
        w = _weights.exact_weights(order, offs)
        nums, den = _weights.integer_form(w)
        assert all(Fraction(n, den) == x for n, x in zip(nums, w))
        # exact in float64; in float32 too up to accuracy 10
        limit = 2 ** 24 if accuracy <= 10 else 2 ** 53
        assert max(abs(n) for n in nums) < limit and den < limit
    assert _weights.integer_form(_weights.exact_weights(1, (-1, 0, 1))) == ((-1, 0, 1), 2)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: fastfd.stencil(0), ValueError, r"order must be >= 1, got 0"),
    (lambda: fastfd.stencil(1.5), TypeError, r"order must be an integer, got 1\.5"),
    (lambda: fastfd.stencil(True), TypeError, r"order must be an integer, got True"),
    (lambda: fastfd.stencil(1, 0), ValueError, r"accuracy must be >= 1, got 0"),
    (lambda: fastfd.stencil(1, 3), ValueError, r"accuracy must be even for scheme='centered'.*got 3"),
    (lambda: fastfd.stencil(1, "2"), TypeError, r"accuracy must be an integer, got '2'"),
    (lambda: fastfd.stencil(1, 2, "upwind"), ValueError, r"scheme must be one of .*got 'upwind'"),
    (lambda: fastfd.stencil_weights(2, [0, 1]), ValueError, r"at least order \+ 1 = 3 points.*got 2"),
    (lambda: fastfd.stencil_weights(1, [0, 1, 1]), ValueError, r"offsets must be distinct, got \[0, 1, 1\]"),
    (lambda: fastfd.stencil_weights(1, [[0, 1]]), ValueError, r"offsets must be a 1-D sequence, got shape \(1, 2\)"),
    (lambda: fastfd.stencil_weights(1, [0, np.inf]), ValueError, r"offsets must be finite, got inf"),
    (lambda: fastfd.stencil_weights(1, ["a", "b"]), TypeError, r"offsets must be real numbers, got dtype <U1"),
    (lambda: fastfd.stencil_weights(1, [0j, 1j]), TypeError, r"offsets must be real numbers, got dtype complex128"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_stencil_weights_point_limit():
    # refused before any Fraction is formed: rational Fornberg on
    # np.arange(800) takes 2.4 s (sum|w| = 8.4e237), on np.arange(3000) 52 s
    limit = _weights.MAX_STENCIL_POINTS
    w = fastfd.stencil_weights(1, np.arange(limit) - limit // 2)
    assert abs(float(np.sum(w))) < 1e-12
    for n in (limit + 1, 800):
        with pytest.raises(ValueError, match=rf"offsets has {n} points; stencil_weights takes "
                                             rf"at most {limit}"):
            fastfd.stencil_weights(1, np.arange(n))


def test_stencil_weights_order_limit_is_that_of_stencil():
    # the order limit of stencil (32) holds here too:
    # stencil_weights(39, np.arange(40)) is refused
    top = _weights.MAX_ORDER
    assert fastfd.stencil_weights(top, np.arange(top + 1)).shape == (top + 1,)
    for order in (top + 1, 39):
        with pytest.raises(ValueError, match=rf"order={order} is above the limit of {top}"):
            fastfd.stencil_weights(order, np.arange(40))
        with pytest.raises(ValueError, match=rf"order={order} has no usable stencil"):
            fastfd.stencil(order)


def test_stencil_weights_huge_input_refused_at_once():
    # the point limit is checked before any Fraction is formed; a hang is
    # caught by the timeout (10**5 points of rational Fornberg never return)
    code = (
        "import numpy as np, fastfd\n"
        "for offs in (np.arange(10**5), np.linspace(0.0, 1.0, 3000)):\n"
        "    try:\n"
        "        fastfd.stencil_weights(1, offs)\n"
        "    except ValueError as exc:\n"
        "        assert 'stencil_weights takes at most' in str(exc), exc\n"
        "    else:\n"
        "        raise SystemExit('accepted')\n"
        "print('ok')\n")
    res = run_python(code, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok"


def test_basic_argument_checks_have_one_home():
    """order / accuracy / scheme checks are defined in fastfd._validation
    (which imports nothing from stencils) and used by stencils and steps."""
    import ast
    import inspect

    from fastfd import _validation, stencils, steps
    for mod in (stencils, steps):
        for name in ("check_order", "check_accuracy", "check_scheme"):
            assert getattr(mod, name) is getattr(_validation, name)
    tree = ast.parse(inspect.getsource(_validation))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m and "stencils" in m for m in imported)


def test_max_accuracy_refuses_a_non_numeric_dtype():
    with pytest.raises(TypeError, match="dtype must have a numeric dtype.*got dtype <U3"):
        fastfd.stencils.max_accuracy(1, "centered", "U3")

"""Bad input to the grid API: masked arrays, a mapping or set as per-axis
spacing, out-of-range axes (AxisError), a callable where samples belong, a
spacing where the order belongs, and too-short axes (with what fits)."""

import re

import numpy as np
import pytest
from conftest import run_python

import fastfd
from fastfd import grid

AxisError = getattr(np, "exceptions", np).AxisError

MASKED = r"u is a masked array \(numpy\.ma\.MaskedArray\).*u\.filled\(value\).*np\.asarray\(u\)"

GRID_CALLS = [
    lambda u: grid.derivative(u),
    lambda u: grid.derivative(u, 2, dx=0.5),
    lambda u: grid.forward_diff(u),
    lambda u: grid.backward_diff(u),
    lambda u: grid.centered_diff(u),
    lambda u: grid.second_diff(u),
    lambda u: grid.gradient(u),
    lambda u: grid.laplacian(u),
]


@pytest.mark.parametrize("call", GRID_CALLS)
def test_masked_array_is_refused(call):
    u = np.ma.masked_array(np.arange(8.0) ** 2, mask=[0, 0, 1, 0, 0, 0, 0, 0])
    with pytest.raises(TypeError, match=MASKED):
        call(u)
    grid.derivative(np.arange(8.0))  # after a plain call: still refused
    with pytest.raises(TypeError, match=MASKED):
        call(u)
    with pytest.raises(TypeError, match=MASKED):
        call(np.ma.arange(8.0))  # no element masked: refused all the same
    np.testing.assert_array_equal(call(u.filled(0.0)), call(np.asarray(u.filled(0.0))))


def test_masked_array_refused_in_a_fresh_process():
    # refused before Numba in the first call of a process too (which would
    # raise NumbaTypeError there, and ignore the mask after any plain call)
    code = (
        "import numpy as np\n"
        "from fastfd import grid\n"
        "try:\n"
        "    grid.gradient(np.ma.arange(5.0))\n"
        "except TypeError as exc:\n"
        "    assert type(exc) is TypeError, type(exc)\n"
        "    assert 'u is a masked array' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('accepted')\n"
        "print('ok')\n")
    res = run_python(code, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok"


@pytest.mark.parametrize("dx", [{0: 1.0, 1: 1.0}, {1.0, 2.0}, frozenset({1.0, 2.0}),
                                {0: 1.0, 1: 2.0}.values(), (h for h in (1.0, 2.0))])
def test_laplacian_dx_must_be_a_sequence(dx):
    u = np.ones((5, 5))
    with pytest.raises(TypeError, match=r"dx must be a positive number or a sequence with one "
                                        r"spacing per axis, got a \w+"):
        grid.laplacian(u, dx=dx)


def test_laplacian_dx_sequences_still_work():
    x = np.arange(6.0)
    u = x[:, None] ** 2 + x[None, :] ** 2
    for dx in ([1.0, 1.0], (1.0, 1.0), np.array([1.0, 1.0]), [1, 1]):
        np.testing.assert_allclose(grid.laplacian(u, dx=dx), 4.0, rtol=1e-12)


@pytest.mark.parametrize("call, axis", [
    (lambda a: grid.gradient(a, axis=3), 3),
    (lambda a: grid.gradient(a, axis=(0, -4)), -4),
    (lambda a: grid.derivative(a, axis=3), 3),
    (lambda a: grid.derivative(a, axis=-4), -4),
    (lambda a: grid.centered_diff(a, axis=5), 5),
    (lambda a: grid.second_diff(a, axis=3), 3),
])
def test_out_of_range_axis_raises_axis_error(call, axis):
    a = np.ones((5, 5, 5))
    with pytest.raises(AxisError, match=rf"axis={axis} is out of range for an array with 3 "
                                        rf"dimension\(s\)"):
        call(a)
    # AxisError is both a ValueError and an IndexError, as in NumPy
    with pytest.raises(ValueError):
        call(a)
    with pytest.raises(IndexError):
        call(a)


@pytest.mark.parametrize("call", [
    lambda s: fastfd.stencil(1, scheme=s),
    lambda s: grid.derivative(np.arange(8.0), scheme=s),
])
def test_array_scheme_is_refused_naming_scheme(call):
    with pytest.raises(ValueError, match=r"scheme must be one of 'centered'.*got array\(\[0\., 0\., 0\.\]\)"):
        call(np.zeros(3))


@pytest.mark.parametrize("call", [
    lambda a, ax: grid.derivative(a, axis=ax),
    lambda a, ax: grid.centered_diff(a, axis=ax),
    lambda a, ax: grid.gradient(a, axis=ax),
    lambda a, ax: grid.gradient(a, axis=(ax, 0))[0],
])
def test_zero_d_integer_array_axis_is_accepted(call):
    # NumPy takes np.array(1) as an axis (operator.index works on it)
    a = np.arange(60.0).reshape(3, 4, 5) ** 2
    for ax in (np.array(1), np.array(-2, dtype=np.int8), np.array(1, dtype=np.uint16)):
        np.testing.assert_array_equal(call(a, ax), call(a, 1))
    with pytest.raises(AxisError, match=r"axis=3 is out of range for an array with 3 "):
        call(a, np.array(3))
    for bad in (np.array(1.0), np.array([1]), np.array(True)):
        with pytest.raises(TypeError, match=r"axis must be an integer, got array\("):
            call(a, bad)


MASKED_OUT = (r"out is a masked array \(numpy\.ma\.MaskedArray\); pass a plain "
              r"numpy\.ndarray")
OUT_CALLS = [
    lambda out: grid.derivative(np.arange(8.0), out=out),
    lambda out: grid.forward_diff(np.arange(8.0), out=out),
    lambda out: grid.centered_diff(np.arange(8.0), out=out),
    lambda out: grid.second_diff(np.arange(8.0), out=out),
    lambda out: grid.laplacian(np.arange(8.0), out=out),
]


@pytest.mark.parametrize("call", OUT_CALLS)
def test_masked_out_is_refused(call):
    out = np.ma.zeros(8)
    with pytest.raises(TypeError, match=MASKED_OUT):
        call(out)
    call(np.zeros(8))  # after a plain call (fast path warm): still refused
    with pytest.raises(TypeError, match=MASKED_OUT):
        call(out)
    assert (out.data == 0).all()


def test_masked_out_refused_in_a_fresh_process():
    # refused before Numba, in the first call of a process and after a plain
    # call alike (where Numba would fill the masked out and return it)
    code = (
        "import numpy as np\n"
        "from fastfd import grid\n"
        "for k in range(2):\n"
        "    try:\n"
        "        grid.derivative(np.arange(8.0), out=np.ma.zeros(8))\n"
        "    except TypeError as exc:\n"
        "        assert type(exc) is TypeError, type(exc)\n"
        "        assert 'out is a masked array' in str(exc), exc\n"
        "    else:\n"
        "        raise SystemExit('accepted')\n"
        "    grid.derivative(np.arange(8.0), out=np.zeros(8))\n"
        "print('ok')\n")
    res = run_python(code, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok"


def _masked_dx(name):
    return (rf"{re.escape(name)} is a masked array \(numpy\.ma\.MaskedArray\), which fastfd does not "
            rf"support.*{re.escape(name)}\.filled\(value\).*np\.asarray\({re.escape(name)}\)")


@pytest.mark.parametrize("call, name", [
    (lambda x: grid.derivative(np.arange(8.0), dx=x), "dx"),
    (lambda x: grid.derivative(np.arange(8.0), 2, dx=x), "dx"),
    (lambda x: grid.forward_diff(np.arange(8.0), x), "dx"),
    (lambda x: grid.gradient(np.arange(8.0), x), "spacing"),
    (lambda x: grid.gradient(np.ones((8, 8)), x, x), "spacing[0]"),
    (lambda x: grid.laplacian(np.arange(8.0), dx=x), "dx"),
    (lambda x: grid.laplacian(np.ones((8, 8)), dx=[x, 1.0]), "dx[0]"),
])
def test_masked_coordinates_are_refused(call, name):
    # a masked coordinate is not a value to difference with
    x = np.ma.masked_array(np.arange(8.0), mask=[0, 1] + [0] * 6)
    with pytest.raises(TypeError, match=_masked_dx(name)):
        call(x)
    with pytest.raises(TypeError, match=_masked_dx(name)):
        call(np.ma.arange(8.0))  # nothing masked: refused all the same


def test_masked_per_axis_spacing_is_refused_like_coordinates():
    # the masked-array message, not "dx must be a positive real number, got masked"
    for dx in (np.ma.masked_array([1.0, 1.0], mask=[1, 0]), np.ma.masked_array([1.0, 1.0])):
        with pytest.raises(TypeError, match=_masked_dx("dx")):
            grid.laplacian(np.ones((5, 5)), dx=dx)
    with pytest.raises(TypeError, match=_masked_dx("dx[0]")):
        grid.laplacian(np.ones((5, 5)), dx=[np.ma.masked, 1.0])


# -------------------------------------------- the dx rule and its mistakes

@pytest.mark.parametrize("order", [0.1, np.float64(0.1), 2.0])
def test_float_order_asks_whether_dx_was_meant(order):
    shown = repr(float(order))
    with pytest.raises(TypeError, match=(
            rf"order must be an integer, got {re.escape(repr(order))}: did you mean "
            rf"dx={re.escape(shown)}\? .*derivative\(u, order, dx=\.\.\.\)")):
        grid.derivative(np.arange(6.0), order)


def test_coordinates_as_order_ask_whether_dx_was_meant():
    with pytest.raises(TypeError, match=r"order must be an integer, got array\(\[0\. .*\]\): "
                                        r"did you mean dx=<these coordinates>\?"):
        grid.derivative(np.arange(6.0), np.linspace(0.0, 1.0, 6))


def test_spacing_comes_second_everywhere_but_derivative():
    u = np.arange(8.0) ** 2
    ref = grid.derivative(u, dx=0.5)
    np.testing.assert_array_equal(grid.centered_diff(u, 0.5), ref)
    np.testing.assert_array_equal(grid.centered_diff(u, dx=0.5), ref)
    np.testing.assert_array_equal(grid.gradient(u, 0.5, edge_order=2), ref)
    np.testing.assert_array_equal(grid.laplacian(u, 0.5), grid.laplacian(u, dx=0.5))
    np.testing.assert_array_equal(grid.derivative(u, 2, dx=0.5), grid.second_diff(u, 0.5))


@pytest.mark.parametrize("call, hint", [
    (lambda f: grid.derivative(f, 0.1), r"fastfd\.derivative\(f, x\)"),
    (lambda f: grid.derivative(f, dx=0.1), r"fastfd\.derivative\(f, x\)"),
    (lambda f: grid.forward_diff(f, 0.1), r"fastfd\.forward_diff\(f, x\)"),
    (lambda f: grid.backward_diff(f, 0.1), r"fastfd\.backward_diff\(f, x\)"),
    (lambda f: grid.centered_diff(f, 0.1), r"fastfd\.centered_diff\(f, x\)"),
    (lambda f: grid.second_diff(f, 0.1), r"fastfd\.second_derivative\(f, x\)"),
    (lambda f: grid.gradient(f, 0.1), r"fastfd\.gradient\(f, x\)"),
    (lambda f: grid.laplacian(f, 0.1), r"fastfd\.hessian\(f, x\)"),
])
def test_callable_points_to_the_function_api(call, hint):
    with pytest.raises(TypeError, match=r"u must be an array of samples, got the callable "
                                        r"sin: fastfd\.grid\.\w+ differentiates sampled "
                                        r"arrays; for a function use .*" + hint):
        call(np.sin)


@pytest.mark.parametrize("call, match", [
    (lambda: grid.derivative(np.arange(3.0), accuracy=4),
     r"u has 3 points along axis 0, .*needs at least 5; accuracy=2 fits 3 points"),
    (lambda: grid.derivative(np.arange(2.0)),
     r"needs at least 3; scheme='forward', accuracy=1 fits 2 points"),
    (lambda: grid.derivative(np.arange(1.0)),
     r"u has 1 point along axis 0, .*no accuracy of this order and scheme fits 1 point"),
    (lambda: grid.centered_diff(np.arange(2.0)),
     r"needs at least 3; grid\.gradient\(u, dx\) takes 2 points"),
    (lambda: grid.second_diff(np.arange(3.0)),
     r"needs at least 4; grid\.derivative\(u, 2, dx=dx, boundary='valid'\) takes 3"),
    (lambda: grid.gradient(np.arange(2.0), edge_order=2),
     r"needs at least 3; edge_order=1 \(NumPy's default\) needs 2"),
    (lambda: grid.gradient(np.arange(4.0), accuracy=4),
     r"needs at least 5; accuracy=2 fits 4 points"),
    (lambda: grid.laplacian(np.ones((5, 5)), accuracy=4),
     r"u has length 5 along axis 0, .*needs at least 6 points; accuracy=2 fits 5"),
    (lambda: grid.laplacian(np.ones((3, 5))),
     r"needs at least 4 points; boundary='valid' or 'periodic' fits 3"),
])
def test_too_short_axis_says_what_fits(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_what_fits_does_fit():
    assert grid.derivative(np.arange(3.0), accuracy=2).shape == (3,)
    assert grid.derivative(np.arange(2.0), scheme="forward", accuracy=1).shape == (2,)
    assert grid.gradient(np.arange(2.0)).shape == (2,)
    assert grid.derivative(np.arange(3.0), 2, boundary="valid").shape == (1,)
    assert grid.laplacian(np.ones((5, 5)), accuracy=2).shape == (5, 5)
    assert grid.laplacian(np.ones((3, 5)), boundary="valid").shape == (1, 3)


def test_a_0d_integer_array_is_an_integer_argument_as_in_numpy():
    # the docstring's promise: NumPy takes np.array(1) for an axis, and so
    # does every integer argument here; 0-d bool and float arrays are refused
    u = np.arange(10.0) ** 2
    np.testing.assert_array_equal(grid.derivative(u, np.array(1), axis=np.array(0)),
                                  grid.derivative(u, 1, axis=0))
    with pytest.raises(TypeError, match=r"order must be an integer, got array\(True\)"):
        grid.derivative(u, np.array(True))
    with pytest.raises(TypeError, match=r"order must be an integer, got array\(1\.\): "
                                        r"did you mean dx=1\.0"):
        grid.derivative(u, np.array(1.0))

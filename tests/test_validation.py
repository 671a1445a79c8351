"""fastfd._validation: one rule, one message and one exception type per
mistake, whichever public function the argument reaches."""

import numpy as np
import pytest

import fastfd
from fastfd import _validation as V
from fastfd import grid


# ------------------------------------------------------------ the integer rule

@pytest.mark.parametrize("value, exc, match", [
    (1.5, TypeError, r"n must be an integer, got 1\.5"),
    (True, TypeError, r"n must be an integer, got True"),
    (np.bool_(False), TypeError, r"n must be an integer, got np\.False_"),
    (np.array(True), TypeError, r"n must be an integer, got array\(True\)"),
    ("2", TypeError, r"n must be an integer, got '2'"),
    (np.array([1, 2]), TypeError, r"n must be an integer, got array\(\[1, 2\]\)"),
    (0, ValueError, r"n must be >= 1, got 0"),
    (np.int8(-3), ValueError, r"n must be >= 1, got -3"),
])
def test_check_int_messages(value, exc, match):
    with pytest.raises(exc, match=match):
        V.check_int("n", value, 1)


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3), np.array(3)])
def test_check_int_takes_integers_as_numpy_does(value):
    assert V.check_int("n", value, 1) == 3
    assert type(V.check_int("n", value, 1)) is int


@pytest.mark.parametrize("check", [
    V.check_order,
    lambda v: V.check_accuracy(v, "forward"),
    lambda v: V.normalize_axis(v, 4),
])
@pytest.mark.parametrize("value, match", [
    (2.0, r"must be an integer, got 2\.0$"),
    (True, r"must be an integer, got True$"),
    (np.array(2.0), r"must be an integer, got array\(2\.\)$"),
])
def test_order_accuracy_and_axis_follow_the_integer_rule(check, value, match):
    with pytest.raises(TypeError, match=match):
        check(value)


def test_order_and_accuracy_minimum_messages():
    with pytest.raises(ValueError, match=r"^order must be >= 1, got 0$"):
        V.check_order(0)
    with pytest.raises(ValueError, match=r"^accuracy must be >= 1, got -2$"):
        V.check_accuracy(-2, "forward")
    with pytest.raises(ValueError, match=r"accuracy must be even for scheme='centered'.*got 3"):
        V.check_accuracy(3, "centered")


def test_a_0d_integer_order_is_taken_by_every_public_function():
    assert fastfd.stencil(np.array(2)) == fastfd.stencil(2)
    u = np.arange(8.0) ** 2
    np.testing.assert_array_equal(grid.derivative(u, np.array(2), accuracy=np.array(2)),
                                  grid.derivative(u, 2, accuracy=2))


def test_grid_adds_its_dx_hint_to_the_shared_order_message():
    with pytest.raises(TypeError, match=r"^order must be an integer, got 0\.1: did you mean "
                                        r"dx=0\.1\?"):
        grid.derivative(np.arange(6.0), 0.1)
    # not a spacing: the shared message alone
    with pytest.raises(TypeError, match=r"^order must be an integer, got '1'$"):
        grid.derivative(np.arange(6.0), "1")
    with pytest.raises(TypeError, match=r"^order must be an integer, got \[\[1\], \[1, 2\]\]$"):
        grid.derivative(np.arange(6.0), [[1], [1, 2]])


# ------------------------------------------------------------------ spacing

@pytest.mark.parametrize("dx, exc, match", [
    (0.0, ValueError, r"dx must be positive and finite, got 0\.0"),
    (np.nan, ValueError, r"dx must be positive and finite, got nan"),
    (True, TypeError, r"dx must be a positive real number, got True"),
    ("0.1", TypeError, r"dx must be a positive number or a 1-D coordinate array, got '0\.1'"),
    (np.ones((2, 3)), ValueError, r"dx must be a positive number or a 1-D coordinate array, "
                                  r"got an array of shape \(2, 3\)"),
    (np.arange(3) * 1j, TypeError, r"dx must hold real coordinates, got dtype complex128"),
    (np.arange(4.0), ValueError, r"dx has 4 coordinates but u has 5 points along axis 1"),
    ([0.0, 1.0, np.inf, 3.0, 4.0], ValueError, r"dx coordinates must be finite"),
    ([0.0, 1.0, 1.0, 3.0, 4.0], ValueError, r"dx coordinates must be strictly monotonic"),
    (np.ma.masked_array([1.0]), TypeError, r"dx is a masked array"),
])
def test_check_spacing_messages(dx, exc, match):
    with pytest.raises(exc, match=match):
        V.check_spacing(dx, 5, 1)


def test_check_spacing_returns_a_float_or_float64_coordinates():
    assert V.check_spacing(np.float32(0.5), 5, 0) == 0.5
    x = V.check_spacing([0, 1, 3], 3, 0)
    assert x.dtype == np.float64 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(V.check_spacing(np.arange(3.0)[::-1], 3, 0), [2.0, 1.0, 0.0])


@pytest.mark.parametrize("call", [
    lambda dx: grid.derivative(np.ones(5), 1, dx=dx),
    lambda dx: grid.gradient(np.ones(5), dx),
    lambda dx: grid.laplacian(np.ones(5), dx),
    lambda dx: grid.laplacian(np.ones((5, 5)), [dx, 1.0]),
])
def test_grid_functions_share_the_spacing_messages(call):
    with pytest.raises(ValueError, match=r"(dx|spacing|dx\[0\]) must be positive and finite, "
                                         r"got -1\.0"):
        call(-1.0)
    with pytest.raises(ValueError, match=r"coordinates must be strictly monotonic"):
        call(np.array([0.0, 1.0, 1.0, 2.0, 3.0]))


class _NeedsDetach:
    """Like a PyTorch tensor that requires grad: NumPy cannot read it."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad.")

    def detach(self):
        return np.ones(2)


@pytest.mark.parametrize("call", [
    lambda x: fastfd.centered_diff(np.sin, x),
    lambda x: fastfd.optimal_step(x),
    lambda x: fastfd.check_gradient(lambda p: float(np.sum(p)), x, np.ones(2)),
])
@pytest.mark.parametrize("x, match", [
    (True, r"must be real numbers, got True"),
    (np.array([True, False]), r"must be real numbers, got dtype bool"),
    ("1.0", r"must be real numbers, got '1.0'"),
    (np.array([1 + 1j]), r"must be real numbers, got dtype complex128"),
    (_NeedsDetach(), r"must be real numbers; it is a .*_NeedsDetach that NumPy cannot read "
                     r"\(RuntimeError: .*\)\. Pass (x|params)\.detach\(\)"),
])
def test_one_rule_for_real_numbers_in_every_api(call, x, match):
    with pytest.raises(TypeError, match=r"^(x|params) " + match):
        call(x)


def test_masked_x_and_boolean_f_are_refused():
    x = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    with pytest.raises(TypeError, match=r"x is a masked array"):
        fastfd.centered_diff(np.sin, x)
    with pytest.raises(TypeError, match=r"params is a masked array"):
        fastfd.check_gradient(lambda p: float(np.sum(p)), x, np.ones(2))
    with pytest.raises(TypeError, match=r"f must return numbers, got np\.True_"):
        fastfd.centered_diff(lambda v: v > 0, 1.0)

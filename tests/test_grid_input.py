"""Bad input to the grid API that used to slip through: masked arrays, a
mapping or set as per-axis spacing, and out-of-range axes (AxisError)."""

import subprocess
import sys

import numpy as np
import pytest

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
    # the first call in a process used to reach Numba and raise NumbaTypeError;
    # after any plain call it silently ignored the mask
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
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
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

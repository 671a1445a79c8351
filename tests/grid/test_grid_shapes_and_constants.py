"""Shapes of boundary="valid" results along coordinate axes, and which
stencils give exactly zero on a constant."""

import numpy as np

import fastfd
from fastfd import grid

RNG = np.random.default_rng(20261125)


def test_laplacian_valid_shape_along_coordinate_axes_is_as_documented():
    # a uniform axis shrinks by `accuracy`; a coordinate axis has the wider
    # (accuracy + 3)-point stencil and shrinks by accuracy + 2
    x = np.cumsum(np.linspace(1.0, 2.0, 11))
    for accuracy in (2, 4):
        got = grid.laplacian(RNG.random((9, 11)), dx=[0.5, x], accuracy=accuracy,
                             boundary="valid")
        assert got.shape == (9 - accuracy, 11 - accuracy - 2)


def test_constant_zero_as_documented():
    # on a constant, odd orders (difference pairs) give exactly 0; even
    # orders and edges give 0 to rounding
    c = np.full(30, 0.1)
    for order in (1, 3):
        for accuracy in (2, 4, 6):
            for boundary in ("periodic", "valid"):
                got = grid.derivative(c, order, dx=0.1, accuracy=accuracy,
                                      boundary=boundary)
                assert (got == 0).all()
    even = grid.derivative(c, 4, dx=0.1, accuracy=6, boundary="periodic")
    assert np.abs(even).max() > 0  # not exactly zero
    _, weights = fastfd.stencil(4, 6)
    bound = 8 * np.finfo(float).eps * 0.1 * np.abs(weights).sum() / 0.1 ** 4
    assert np.abs(even).max() < bound

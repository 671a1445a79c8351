"""Derivatives of sampled arrays along any axis.

One name, three kinds of input: ``fastfd.centered_diff(f, x, h)``
differentiates a callable ``f`` at ``x``, ``fastfd.grid.centered_diff(u, dx,
axis=...)`` a sampled array (validated, allocating), and
``fastfd.kernels.centered_diff(u, dx, out)`` is the ``@njit`` kernel that
fills ``out``; the second derivative of a callable is
``fastfd.second_derivative``, of samples ``second_diff`` (in ``grid`` and
``kernels``).

The spacing is ``dx`` everywhere (``*spacing`` in :func:`gradient`, as in
``np.gradient``): a positive number, or the coordinates of the samples along
the axis. It is the second positional argument of every function except
:func:`derivative`, whose second argument is the derivative order (as ``n``
in ``np.diff``), so there ``dx`` is keyword-only: ``centered_diff(u, 0.1)``,
``laplacian(u, 0.1)``, ``derivative(u, 2, dx=0.1)``; ``derivative(u, 0.1)``
is a TypeError that asks "did you mean dx=0.1?".

Every function here (and every operator ``op(u)``) also takes a
``dask.array.Array`` and returns one: one task per output chunk, each running
the same kernel on the chunk and a halo of neighbours, equal to the in-memory
result bit for bit (``fastfd.grid._dask``).

Every function here validates its arguments, views the data as a
C-contiguous ``(outer, n, inner)`` block with the differentiated axis in the
middle (a view for C- and Fortran-ordered input and any other layout that is
contiguous under a permutation of its axes; other strided views are copied
once), and calls one compiled kernel that fills the result.

Uniform grids use exact integer stencils: ``sum(num_k * u[i + k]) /
(den * dx**order)`` with the numerators and denominator from
:func:`fastfd.stencil`, rounded nowhere but in the data arithmetic. Symmetric
stencils are evaluated as pairs ``num_k * (u[i+k] - u[i-k])`` (or ``+``), so
an odd derivative of a constant is exactly 0 in the interior and the centered
first difference is bit for bit NumPy's ``(u[i+1] - u[i-1]) / (2*dx)``. Even
derivatives (``+`` pairs) and the one-sided edge rows give 0 for a constant
only to rounding, about ``eps * |u| * sum|num_k| / (den * dx**order)``.

Non-uniform grids (``dx`` a coordinate array) use per-point weights from
Fornberg's recurrence in float64 over the neighbouring coordinates.

Operators (:func:`Diff`, :func:`Laplacian`, :func:`Gradient`,
:func:`Divergence`, :func:`Curl`, :func:`Identity`) are the same derivatives
as objects: combined with ``+``, ``-``, numbers, coefficient arrays and
``@`` (composition), applied in one pass by one kernel, and turned into
scipy.sparse matrices (:meth:`Operator.matrix`).
"""

from ._derivatives import (
    derivative,
    forward_diff,
    backward_diff,
    centered_diff,
    second_diff,
    gradient,
)
from ._laplacian import laplacian
from ._operator import (
    Curl,
    Diff,
    DivKGrad,
    Divergence,
    Gradient,
    Identity,
    Laplacian,
    Operator,
    VectorOperator,
)
from ._fused import fuse

__all__ = [
    "derivative",
    "forward_diff",
    "backward_diff",
    "centered_diff",
    "second_diff",
    "gradient",
    "laplacian",
    "Operator",
    "VectorOperator",
    "Diff",
    "Identity",
    "Laplacian",
    "Gradient",
    "Divergence",
    "Curl",
    "DivKGrad",
    "fuse",
]

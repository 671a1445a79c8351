"""Derivatives of functions: finite differences, Richardson, complex step.

One name, three kinds of input: ``fastfd.centered_diff(f, x, h)`` (this
package) differentiates a callable ``f`` at ``x``,
``fastfd.grid.centered_diff(u, dx, axis=...)`` a sampled array, and
``fastfd.kernels.centered_diff(u, dx, out)`` is the ``@njit`` kernel that
fills ``out``; the second derivative of a callable is
:func:`second_derivative`, of samples ``second_diff`` (in ``grid`` and
``kernels``). An array passed where ``f`` belongs is a TypeError that names
the ``fastfd.grid`` function to use.

How ``f`` is evaluated (the same for every function here):

* a Numba-jitted ``f`` (an ``@numba.njit`` dispatcher) runs inside a jitted
  kernel: over the points with ``prange`` (:func:`derivative` and the seed
  functions; in parallel from ``fastfd._config.PARALLEL_MIN`` points on), or
  per coordinate (:func:`gradient`, :func:`jacobian`, :func:`hessian`: one
  chunk of coordinates per thread, each thread with a private copy of ``x``;
  an ``f`` that writes to its argument is refused with a ValueError).
  The first call with a new ``f`` compiles the kernel for it (about a second);
  kernels that take a function cannot be cached on disk. ``f`` runs on
  several threads at once, so it must not write to shared state. An
  exception raised by ``f`` reaches the caller (the failed chunk is rerun
  serially: Numba does not propagate exceptions out of ``prange`` reliably).
* a plain Python callable is called once per stencil point on whole arrays
  (NumPy-vectorized, as in the seed chapter), or, with ``vectorized=False``,
  once per point with scalars. Per-coordinate functions call a Python ``f``
  once per stencil point per coordinate on one private copy of ``x``.

Both paths run the same formula code (``fastfd._kernels.fd``).
"""

from ._derivative import (
    forward_diff,
    backward_diff,
    centered_diff,
    second_derivative,
    derivative,
)
from ._result import DerivativeResult
from ._multivariate import gradient, jacobian, hessian

__all__ = [
    "forward_diff",
    "backward_diff",
    "centered_diff",
    "second_derivative",
    "derivative",
    "DerivativeResult",
    "gradient",
    "jacobian",
    "hessian",
]

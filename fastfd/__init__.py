"""fastfd: finite differences and gradient checks on Numba-compiled kernels.

Derivatives of functions (the seed chapter's differences, made general)::

    fastfd.forward_diff, backward_diff, centered_diff, second_derivative,
    derivative, gradient, jacobian, hessian, optimal_step

Gradient checks::

    fastfd.gradient_check (the seed's call), check_gradient, GradCheckResult

Derivatives of sampled arrays live in :mod:`fastfd.grid`; the ``@njit``
stencils to call from your own Numba code live in :mod:`fastfd.kernels`.
Nothing is compiled at import: kernels compile on first use and are cached on
disk.
"""

from . import grid, kernels
from ._steps import optimal_step
from ._weights import stencil, stencil_weights
from .derivative import (
    DerivativeResult,
    backward_diff,
    centered_diff,
    derivative,
    forward_diff,
    gradient,
    hessian,
    jacobian,
    second_derivative,
)
from .gradcheck import (
    GradCheckResult,
    GradientCheckError,
    check_gradient,
    gradient_check,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "grid",
    "kernels",
    "stencil",
    "stencil_weights",
    "optimal_step",
    "forward_diff",
    "backward_diff",
    "centered_diff",
    "second_derivative",
    "derivative",
    "DerivativeResult",
    "gradient",
    "jacobian",
    "hessian",
    "gradient_check",
    "check_gradient",
    "GradCheckResult",
    "GradientCheckError",
]

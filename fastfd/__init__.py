"""fastfd: finite differences and gradient checks on Numba-compiled kernels.

Derivatives of functions (the seed chapter's differences, made general)::

    fastfd.forward_diff, backward_diff, centered_diff, second_derivative,
    derivative, gradient, jacobian, hessian, optimal_step

Gradient checks::

    fastfd.gradient_check (the seed's call), check_gradient, GradCheckResult;
    check_vjp, check_jvp, check_jacobian (vector-valued functions)

Derivatives of sampled arrays live in :mod:`fastfd.grid`; the ``@njit``
stencils to call from your own Numba code live in :mod:`fastfd.kernels`.
Nothing is compiled at import: kernels compile on first use and are cached on
disk.

The packages, each one concept: :mod:`fastfd.functions` (derivatives of
callables), :mod:`fastfd.grid` (of sampled arrays), :mod:`fastfd.gradcheck`
(gradient checks), :mod:`fastfd.stencils` (exact weights), :mod:`fastfd.steps`
(step rules) and :mod:`fastfd.kernels` (``@njit`` kernels for user code);
``fastfd._kernels`` holds the compiled loops behind them.
"""

from . import functions, grid, kernels, stencils, steps
from .functions import (
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
    LossEvaluationError,
    check_gradient,
    check_jacobian,
    check_jvp,
    check_vjp,
    gradient_check,
)
from .grid import (
    Curl,
    Diff,
    DivKGrad,
    Divergence,
    Gradient,
    Identity,
    Laplacian,
    Operator,
    VectorOperator,
    fuse,
)
from .stencils import stencil, stencil_weights
from .steps import optimal_step

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
    "check_vjp",
    "check_jvp",
    "check_jacobian",
    "GradCheckResult",
    "GradientCheckError",
    "LossEvaluationError",
    "functions",
    "stencils",
    "steps",
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

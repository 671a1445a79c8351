"""Gradient checks: compare an analytic gradient with centered differences.

:func:`gradient_check` is the seed chapter's function (same call, same
printout, same numbers). :func:`check_gradient` is the engine: per-coordinate
steps, a tolerance model that separates wrong gradients from
finite-difference noise, a diagnosis for every failing coordinate, a
parallel compiled path for Numba-jitted losses, and a report
(:class:`GradCheckResult`) that names where a gradient is wrong.
"""

from ._check import check_gradient
from ._params import LossEvaluationError
from ._result import CoordinateCheck, GradCheckResult, GradientCheckError, TensorCheck
from ._seed import gradient_check

__all__ = [
    "check_gradient",
    "gradient_check",
    "GradCheckResult",
    "GradientCheckError",
    "LossEvaluationError",
    "CoordinateCheck",
    "TensorCheck",
]

"""Gradient checks: compare an analytic gradient with centered differences.

:func:`gradient_check` is the seed chapter's function (same call, same
printout, same numbers). :func:`check_gradient` is the engine: per-coordinate
steps, a tolerance model that separates wrong gradients from
finite-difference noise, a diagnosis for every failing coordinate, a
parallel compiled path for Numba-jitted losses, and a report
(:class:`GradCheckResult`) that names where a gradient is wrong.
:func:`check_vjp`, :func:`check_jvp` and :func:`check_jacobian` run the same
engine on random output projections of a vector-valued function and name the
wrong Jacobian entries.
"""

from ._check import check_gradient
from ._params import LossEvaluationError
from ._result import (CoordinateCheck, EntryCheck, GradCheckResult, GradientCheckError,
                      TensorCheck)
from ._seed import gradient_check
from ._vector import check_jacobian, check_jvp, check_vjp

__all__ = [
    "check_gradient",
    "gradient_check",
    "check_vjp",
    "check_jvp",
    "check_jacobian",
    "GradCheckResult",
    "GradientCheckError",
    "LossEvaluationError",
    "CoordinateCheck",
    "TensorCheck",
    "EntryCheck",
]

"""The seed chapter's gradient_check: same call, same printout, same numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import warnings

import numpy as np
from numpy.typing import ArrayLike

from ._arguments import check_arguments
from ._engine import check_coordinates
from ._result import GradCheckResult
from .._validation import check_bool, check_positive_scalar

def gradient_check(loss_fn: Callable[..., Any], params: ArrayLike, analytical_grad: ArrayLike,
                   h: float = 1e-5, tol: float = 1e-4, verbose: bool = True) -> GradCheckResult:
    """Check an analytical gradient against a centered difference (the seed's call).

    Accepts the seed chapter's call unchanged and prints its block when
    `verbose`. The numerical gradient is the seed's ``(f(x + h e_i) - f(x -
    h e_i)) / (2h)`` with the absolute step `h`, evaluated by fastfd's engine
    (in place, no copies, compiled and parallel for a jitted loss); dividing
    by the nominal ``2h`` rather than the realized step keeps the seed's
    printed numbers bit for bit. For per-coordinate steps, the tolerance
    model and the diagnosis use :func:`check_gradient`.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params) -> float``.
    params : ndarray (or a dict / list of ndarrays)
        Point to check at.
    analytical_grad : same structure as `params`, or callable
        The analytic gradient at `params`.
    h : float, optional
        Absolute step (seed: 1e-5).
    tol : float, optional
        Pass when the relative error is below `tol` (seed: 1e-4).
    verbose : bool, optional
        Print the seed's block.

    Returns
    -------
    GradCheckResult
        Unpacks as the seed's ``rel_error, numerical_grad``; ``passed`` is
        ``rel_error < tol``; the per-coordinate report is ``str(result)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastfd.gradcheck import gradient_check
    >>> w = np.array([1.0, 2.0])
    >>> rel, num = gradient_check(lambda v: float(v @ v), w, 2 * w)
    Gradient check:
     Analytical grad: [2. 4.]
     Numerical grad: [2. 4.]
     Relative error: 3.28e-12
     Status: PASS (tol=0.0001)
    >>> bool(rel < 1e-4)
    True
    """
    check_bool("verbose", verbose)
    h = check_positive_scalar("h", h)
    tol = check_positive_scalar("tol", tol)
    prob = check_arguments(loss_fn, params, analytical_grad, h=h, tol=tol).problem
    # The seed divides by the nominal 2h: x +- h rounds to the parameters'
    # grid, and the step it really takes is off by up to half an ulp of x on
    # each side. Warn when that alone moves the numerical gradient by tol.
    x = np.abs(prob.x0.astype(np.float64))
    step_error = float(np.max(np.spacing(x.astype(prob.dtype)).astype(np.float64))) / (2.0 * h)
    if step_error > tol:
        warnings.warn(
            f"h={h:g} is below the resolution of the {prob.dtype} parameters: x + h rounds "
            f"by up to {step_error:.1e} of the step, which moves the seed's numerical "
            f"gradient by that much (tol={tol:g}); use float64 parameters or a larger h, "
            f"or check_gradient, which divides by the realized step",
            RuntimeWarning, stacklevel=2)
    result = check_coordinates(prob, loss_fn, np.arange(prob.n, dtype=np.intp), h, tol, None,
                               False, nominal=True)
    result.passed = bool(result.rel_error < tol)
    # status by the seed's rule when it passes; when it fails, the tolerance
    # model says whether the gradient is wrong or the check undecided
    if result.passed:
        result.status = "passed"
    elif result.status == "passed":
        result.status = "inconclusive"
    result.criterion = "seed"
    if verbose:
        shown = analytical_grad if isinstance(analytical_grad, np.ndarray) else prob.g
        print('Gradient check:')
        print(f' Analytical grad: {shown}')
        print(f' Numerical grad: {result.numerical}')
        print(f' Relative error: {result.rel_error:.2e}')
        print(f' Status: {"PASS" if result.passed else "FAIL"} (tol={tol})')
    return result

"""What ``derivative(..., full_output=True)`` returns."""

from dataclasses import dataclass

__all__ = ["DerivativeResult"]

@dataclass(frozen=True)
class DerivativeResult:
    """What ``derivative(..., full_output=True)`` returns.

    Attributes
    ----------
    value : float or ndarray
        The derivative (the same as with ``full_output=False``).
    error : float or ndarray
        Estimated absolute error of ``value``, at least ``eps * |value|``.
        ``"fd"``: the difference to the same stencil at twice the step,
        divided by ``2**accuracy - 1`` (the leading truncation term; costs a
        second set of evaluations), plus the roundoff bound ``2 eps
        sum|w_k f_k| / h**order`` (each ``f`` value allowed 2 ulps; measured
        on ndtr, exp, sin, log and ``x**99 - 1``: never below 0.57x of the
        true error, median 5-21x above it); ``"richardson"``: for the window
        returned, the largest of its truncation estimate (also from the
        change before), the changes to the following windows, the roundoff
        predicted from ``|f(x)|``, and twice the roundoff measured at the
        smallest steps and carried to the window through the stencil's and
        the extrapolation's amplification (measured on smooth functions:
        never below 0.35x of the true error, median 1.1-3.6x above it; see
        ``RICHARDSON_COVER``); ``"complex"``:
        ``eps * |value|`` (no cancellation, and the truncation error is
        ``O(h**2)`` with ``h ~ eps``).
    step : float or ndarray
        Step(s) used. For ``"richardson"`` the first (largest) step; the
        others are ``step / 2**k``, ``k < 16`` (more where the sequence was
        extended: ``(nfev - 1) / n`` steps for ``n`` stencil points).
    nfev : int
        Evaluations of ``f`` per point (calls of a vectorized ``f``), all
        of them counted: ``"fd"`` twice the stencil's nonzero weights,
        ``"richardson"`` see there, ``"complex"`` 1 (2 or 4 with the probes
        made when ``Im f`` is exactly 0 at every point).
    nonfinite : bool or ndarray of bool
        Where ``value`` is not finite (a non-finite ``f`` value, or overflow).
    method : str
    """

    value: object
    error: object
    step: object
    nfev: int
    nonfinite: object
    method: str

"""fastfd: finite differences and gradient checks on Numba-compiled kernels."""

from ._weights import stencil, stencil_weights

__version__ = "0.1.0"

__all__ = ["__version__", "stencil", "stencil_weights"]

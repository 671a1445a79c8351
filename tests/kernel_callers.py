"""Jitted callers of ``fastfd.kernels`` shared by the kernel test files:
each is compiled once per process, however many files call it."""

import numba

from fastfd import kernels


@numba.njit
def call_1d(which, u, dx, out):
    """The 1-D kernel `which` (0 forward, 1 backward, 2 centered, 3 second
    difference) with its default mode."""
    if which == 0:
        kernels.forward_diff(u, dx, out)
    elif which == 1:
        kernels.backward_diff(u, dx, out)
    elif which == 2:
        kernels.centered_diff(u, dx, out)
    else:
        kernels.second_diff(u, dx, out)

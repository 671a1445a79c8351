"""How every parallel kernel of fastfd is launched: :func:`launch`.

The prange schedule (Numba's chunk size) is set here, from Python, around the
call, and never inside a kernel: Numba's in-kernel ``set_parallel_chunksize``
is a ctypes call, a dynamic global that stops Numba from disk-caching the
kernel (the array kernels of ``stencil`` and ``laplacian`` are cached). No
parallel kernel is meant to be called from a user's jitted code (those of
``fastfd.kernels`` are serial), so this one place covers every launch.
"""

import numba


def launch(kernel, chunksize, *args):
    """``kernel(*args)`` with its prange iterations handed out to the threads
    ``chunksize`` at a time, dynamically (Numba's default, 0, splits them
    statically into one block per thread). The calling thread's previous
    setting is restored afterwards, on an exception too."""
    with numba.parallel_chunksize(chunksize):
        return kernel(*args)

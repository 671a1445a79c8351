"""Flags from the environment, read once at import.

CACHE and FASTMATH are compile options of the kernels, fixed at import.
PARALLEL_MIN is looked up as ``fastfd._config.PARALLEL_MIN`` at every call,
by every module, so setting that attribute changes it in a running process.

FASTFD_CACHE=0      disable Numba's on-disk cache of the array kernels
                    (default on: a new process's first call loads machine
                    code instead of compiling it).
FASTFD_FASTMATH=1   allow fastmath in kernels (default off: finite
                    differences live on exact cancellation, and fastmath lets
                    LLVM reassociate ``(a - b) + c``).
FASTFD_PARALLEL_MIN element count below which array kernels run serially
                    (default 1_000_000; measured on 2 cores, starting the
                    thread pool for a smaller array costs more than it saves).
"""

import os


def _flag(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


CACHE = _flag("FASTFD_CACHE", True)
FASTMATH = _flag("FASTFD_FASTMATH", False)
PARALLEL_MIN = int(os.environ.get("FASTFD_PARALLEL_MIN", "1000000"))

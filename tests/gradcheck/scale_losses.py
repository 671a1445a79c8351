"""Module-level losses for the distributed tests.

Worker processes (ProcessPoolExecutor, Dask) receive losses pickled by
reference, so they must live in an importable module, not inside a test.
"""

import numpy as np

TRAP = 10.0


def sin_sum(x):
    """sum(sin(x) * x); gradient sin(x) + x cos(x)."""
    return float(np.sum(np.sin(x) * x))


def sin_sum_grad(x):
    return np.sin(x) + x * np.cos(x)


def sin_sum_rows(P):
    """Vectorized sin_sum: one loss per row of a (k, n) array."""
    return np.sum(np.sin(P) * P, axis=1)


def trapped(x):
    """sin_sum, but raises when a coordinate is pushed above TRAP."""
    if np.any(x > TRAP):
        raise FloatingPointError(f"trapped: a coordinate exceeds {TRAP}")
    return sin_sum(x)


def scalar_for_rows(P):
    """A wrong vectorized loss: one number for the whole batch."""
    return float(np.sum(np.sin(P) * P))


class Quadratic:
    """0.5 x.A.x + b.x with a fixed random SPD A (picklable instance)."""

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        M = rng.standard_normal((n, n)) / np.sqrt(n)
        self.A = M @ M.T + np.eye(n)
        self.b = rng.standard_normal(n)

    def __call__(self, x):
        return float(0.5 * x @ self.A @ x + self.b @ x)

    def grad(self, x):
        return self.A @ x + self.b


# State set at run time in the calling process only: worker processes (a
# spawned pool, Dask workers) import this module and find it empty.
STATE = {}


def stateful(x):
    """sum(x**2) scaled by STATE["scale"] (0 where it is missing)."""
    return float(STATE.get("scale", 0.0) * np.sum(x * x))


def bumped(x):
    """sum(x**2) + STATE["bump"] * (x[7] - STATE["x7"]): the same values
    everywhere but along x[7] where the state is missing."""
    return float(np.sum(x * x) + STATE.get("bump", 0.0) * (x[7] - STATE.get("x7", 0.0)))


def writes_when_perturbed(x):
    """sum(x**2), but zeroes the last entry whenever x[0] is moved off 1.0."""
    if x[0] != 1.0:
        x[-1] = 0.0
    return float(np.sum(x * x))


def dies_in_workers(x):
    """sin_sum in the calling process; ends the process anywhere else (a
    worker that dies mid-task, as one killed for memory would)."""
    import os
    if not STATE.get("parent"):
        os._exit(3)
    return sin_sum(x)



def _off_in_workers(x, rel):
    import os
    s = float(np.sum(x * x))
    if STATE.get("pid") == os.getpid():
        return s
    return float(max(np.nextafter(s, np.inf), s * (1.0 + rel)))


def ulp_in_workers(x):
    """sum(x**2) in the process that set STATE["pid"], one ulp higher in any
    other (a worker: BLAS with another thread count rounds so)."""
    return _off_in_workers(x, 0.0)


def far_in_workers(x):
    """sum(x**2), 1e-9 relative higher in the workers: another loss."""
    return _off_in_workers(x, 1e-9)

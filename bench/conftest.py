"""Benchmark conventions (read by bench/report.py).

Each case is a pytest-benchmark group. Inside a group, every benchmark sets
``benchmark.extra_info["role"]``:

* ``"fastfd"``   the code under test (several allowed, e.g. "fastfd acc4");
* ``"numpy"``    the pure-NumPy baseline for the same computation;
* ``"roofline"`` ``np.copyto(out, u)`` on arrays of the same size: a stencil
                 that reads ``u`` once and writes ``out`` once cannot beat it;
* anything else is shown as is (e.g. "scipy.ndimage", "seed").

Kernels are warmed up (compiled) before timing, so compile time is never in a
measurement; compile and import times are measured separately in
bench_import.py.
"""

import os

import pytest

# OpenMP's worker threads (pystencils' and devito's kernels in
# bench_operators.py) spin after each kernel by default, taking the cores
# from Numba's threads (measured: a fused step went from 3.6 ms to 9.3 ms at
# 2 threads). The runtime reads this when it starts, after conftest runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_benchmark_update_machine_info(config, machine_info):
    import numba
    import numpy

    machine_info["numpy"] = numpy.__version__
    machine_info["numba"] = numba.__version__
    machine_info["numba_threads"] = numba.config.NUMBA_NUM_THREADS


@pytest.fixture
def role(benchmark):
    """``role("numpy")`` tags the current benchmark; returns the benchmark."""

    def tag(name, group=None):
        benchmark.extra_info["role"] = name
        if group is not None:
            benchmark.group = group
        return benchmark

    return tag

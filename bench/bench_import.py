"""Import time and first-call time in a fresh process.

    .venv/bin/python -m pytest bench/bench_import.py --benchmark-only -q

Each round starts a new interpreter, so these are wall-clock times of whole
subprocesses (interpreter start-up included; the ``python -c pass`` row shows
that part). Targets: ``import fastfd`` under 0.5 s with nothing compiled at
import; the first ``grid.derivative`` call of a new process loads machine code
from Numba's disk cache instead of compiling (the cache is warmed by a first,
untimed process).
"""

import subprocess
import sys

GROUP_IMPORT = "import: python -c 'import fastfd'"
GROUP_FIRST = "first call in a new process (warm disk cache)"

FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from fastfd import grid
t1 = time.perf_counter()
u = np.linspace(0.0, 1.0, 1000)
grid.derivative(u, dx=0.1)
t2 = time.perf_counter()
grid.derivative(u, dx=0.1)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

COMPILED_AT_IMPORT = """
import sys
import fastfd, fastfd.grid
from numba.core.registry import CPUDispatcher
n = 0
for name, mod in list(sys.modules.items()):
    if name.startswith("fastfd"):
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher):
                n += len(obj.signatures)
print(n)
"""


def _run(code):
    return subprocess.run([sys.executable, "-c", code], check=True,
                          capture_output=True, text=True).stdout


def test_import_fastfd(role):
    bench = role("fastfd", GROUP_IMPORT)
    _run("import fastfd")  # warm the OS file cache
    bench.extra_info["signatures_compiled_at_import"] = int(_run(COMPILED_AT_IMPORT))
    bench.pedantic(_run, args=("import fastfd",), rounds=7, iterations=1)


def test_import_fastfd_grid(role):
    # grid imports Numba (most of this time); the kernels stay uncompiled
    role("import fastfd.grid", GROUP_IMPORT).pedantic(
        _run, args=("import fastfd.grid",), rounds=7, iterations=1)


def test_import_numpy(role):
    role("numpy", GROUP_IMPORT).pedantic(_run, args=("import numpy",), rounds=7,
                                         iterations=1)


def test_import_bare_python(role):
    role("python -c pass", GROUP_IMPORT).pedantic(_run, args=("pass",), rounds=7,
                                                  iterations=1)


def test_first_call_new_process(role):
    bench = role("fastfd", GROUP_FIRST)
    _run(FIRST_CALL)  # populate Numba's disk cache
    times = []

    def once():
        times.append([float(t) for t in _run(FIRST_CALL).split()])

    bench.pedantic(once, rounds=5, iterations=1)
    best = [min(t[i] for t in times) for i in range(3)]
    bench.extra_info["import_s"] = best[0]
    bench.extra_info["first_call_s"] = best[1]
    bench.extra_info["second_call_s"] = best[2]

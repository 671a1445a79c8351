"""Import time and first-call times in a fresh process.

    .venv/bin/python -m pytest bench/bench_import.py --benchmark-only -q
    .venv/bin/python bench/bench_import.py            # the README's "First calls" table

Each round starts a new interpreter, so these are wall-clock times of whole
subprocesses or of timed regions inside them (interpreter start-up shows in
the ``python -c pass`` row). Numba's disk cache is warmed by a first, untimed
process, so a first call loads machine code instead of compiling it: these
are warm-cache figures. Targets: ``import fastfd`` under 0.3 s with nothing
compiled at import; the first ``check_gradient`` of a Python loss and the
first ``centered_diff(f, x)`` with an automatic step under 0.1 s beyond the
import; the first ``gradient`` of an already-compiled jitted ``g`` compiles
one kernel.
"""

import statistics
import subprocess
import sys

GROUP_IMPORT = "import: python -c 'import fastfd'"
GROUP_FIRST = "first call in a new process (warm disk cache)"

# Each timed script prints: import seconds, first call, second call. The
# counting script prints the kernels compiled by the first call, then by the
# second: top-level "numba:compile" events (a kernel's callees compile inside
# its event; loading from the disk cache is no compile event). It runs apart
# from the timed rounds, since registering the listener imports Numba.
TIMED = """
import time
{setup}
t0 = time.perf_counter()
import fastfd
t1 = time.perf_counter()
{call}
t2 = time.perf_counter()
{call}
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

COUNTED = """
{setup}
import fastfd
from numba.core import event


class TopLevelCompiles(event.Listener):
    def __init__(self):
        self.depth, self.names = 0, []

    def on_start(self, ev):
        self.depth += 1
        if self.depth == 1:
            self.names.append(ev.data["dispatcher"].py_func.__qualname__)

    def on_end(self, ev):
        self.depth -= 1


listener = TopLevelCompiles()
event.register("numba:compile", listener)
{call}
first = len(listener.names)
{call}
print(first, len(listener.names) - first, *listener.names)
"""

CASES = {
    "grid.derivative of 1000 points": (
        "import numpy as np\nu = np.linspace(0.0, 1.0, 1000)",
        "fastfd.grid.derivative(u, dx=0.1)"),
    "check_gradient, Python loss, 3 parameters": (
        "import numpy as np\n"
        "def loss(w):\n    return float(np.sum(w ** 3))\n"
        "def grad(w):\n    return 3 * w ** 2\n"
        "w = np.array([0.5, -1.0, 2.0])",
        "assert fastfd.check_gradient(loss, w, grad).passed"),
    "centered_diff(np.sin, 1.3), automatic h": (
        "import numpy as np",
        "fastfd.centered_diff(np.sin, 1.3)"),
    "gradient(g, [1., 1.]), g already compiled": (
        "import numba, numpy as np\n"
        "@numba.njit\n"
        "def g(x):\n    return np.sin(x[0] - x[1]) + x[1] * np.exp(x[0])\n"
        "g(np.ones(2))",
        "fastfd.gradient(g, [1.0, 1.0])"),
    "fuse(Gray-Scott) and one step, 256^2 periodic": (
        "import numba, numpy as np\n"
        "@numba.njit\n"
        "def gs(u, v, lu, lv):\n"
        "    uvv = u * v * v\n"
        "    return u + 0.16 * lu - uvv + 0.037 * (1 - u), v + 0.08 * lv + uvv - 0.1 * v\n"
        "UV, new = np.ones((2, 256, 256)), np.empty((2, 256, 256))",
        "L = fastfd.Laplacian(2)\n"
        "fastfd.fuse(gs, L.on(0), L.on(1), shape=(256, 256), boundary='periodic')(UV, new)"),
}


def script(case, template=TIMED):
    setup, call = CASES[case]
    return template.format(setup=setup, call=call)


def _run(code):
    return subprocess.run([sys.executable, "-c", code], check=True,
                          capture_output=True, text=True).stdout


def timed_rounds(case, rounds):
    """[import, first call, second call] seconds per round, after one
    untimed round that fills Numba's disk cache."""
    code = script(case)
    _run(code)
    return [[float(v) for v in _run(code).split()] for _ in range(rounds)]


def compiles(case):
    """(kernels compiled by the first call, by the second, their names)."""
    first, second, *names = _run(script(case, COUNTED)).split()
    return int(first), int(second), names


COMPILED_AT_IMPORT = """
import sys
import fastfd, fastfd.grid
from numba.core.dispatcher import Dispatcher
print(sum(len(obj.signatures) for name, mod in list(sys.modules.items())
          if name.startswith("fastfd") for obj in vars(mod).values()
          if isinstance(obj, Dispatcher)))
"""


def test_import_fastfd(role):
    bench = role("fastfd", GROUP_IMPORT)
    _run("import fastfd")  # warm the OS file cache
    bench.extra_info["signatures_compiled_at_import"] = int(_run(COMPILED_AT_IMPORT))
    bench.pedantic(_run, args=("import fastfd",), rounds=7, iterations=1)


def test_import_fastfd_grid(role):
    role("import fastfd.grid", GROUP_IMPORT).pedantic(
        _run, args=("import fastfd.grid",), rounds=7, iterations=1)


def test_import_numpy(role):
    role("numpy", GROUP_IMPORT).pedantic(_run, args=("import numpy",), rounds=7,
                                         iterations=1)


def test_import_bare_python(role):
    role("python -c pass", GROUP_IMPORT).pedantic(_run, args=("pass",), rounds=7,
                                                  iterations=1)


def _first_call(role, case, variant):
    bench = role(variant, f"{GROUP_FIRST}: {case}")
    code = script(case)
    _run(code)
    times = []

    def once():
        times.append([float(v) for v in _run(code).split()])

    bench.pedantic(once, rounds=5, iterations=1)
    for i, key in enumerate(["import_s", "first_call_s", "second_call_s"]):
        bench.extra_info[key] = min(t[i] for t in times)
    first, second, _ = compiles(case)
    bench.extra_info["kernels_compiled_first_call"] = first
    bench.extra_info["kernels_compiled_second_call"] = second


def test_first_grid_derivative(role):
    _first_call(role, "grid.derivative of 1000 points", "fastfd")


def test_first_check_gradient_python_loss(role):
    _first_call(role, "check_gradient, Python loss, 3 parameters", "fastfd")


def test_first_centered_diff_automatic_step(role):
    _first_call(role, "centered_diff(np.sin, 1.3), automatic h", "fastfd")


def test_first_gradient_of_compiled_g(role):
    _first_call(role, "gradient(g, [1., 1.]), g already compiled", "fastfd")


def test_first_fused_gray_scott(role):
    # the generated interior kernel loads from the disk cache; the step, a
    # closure over the user's function, compiles in every process
    _first_call(role, "fuse(Gray-Scott) and one step, 256^2 periodic", "fastfd")


TARGETS = {"check_gradient, Python loss, 3 parameters": "< 0.1 s",
           "centered_diff(np.sin, 1.3), automatic h": "< 0.1 s",
           "gradient(g, [1., 1.]), g already compiled": "one kernel compiled"}


def main(rounds=5):
    """Print the README's table: medians over ``rounds`` fresh processes."""
    imports = [float(_run("import time\nt0 = time.perf_counter()\nimport fastfd\n"
                          "print(time.perf_counter() - t0)")) for _ in range(rounds)]
    print(f"| first call in a fresh process (median of {rounds}) | seconds | "
          "second call, s | kernels compiled (first, second call) | target |")
    print("|---|---|---|---|---|")
    print(f"| `import fastfd` | {statistics.median(imports):.2f} | | | < 0.3 s |")
    for case in CASES:
        rows = timed_rounds(case, rounds)
        first = statistics.median(r[1] for r in rows)
        second = statistics.median(r[2] for r in rows)
        n_first, n_second, _ = compiles(case)
        print(f"| {case}, beyond import | {first:.2g} | {second:.2g} | "
              f"{n_first}, {n_second} | {TARGETS.get(case, '')} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
